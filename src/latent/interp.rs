//! Paths through W space between keyframes: linear, spherical (slerp) and Catmull–Rom cubic.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Interp {
    #[default]
    Linear,
    Slerp,
    Cubic,
}

fn lerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + (y - x) * t).collect()
}

fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64) * (*y as f64))
        .sum();
    let na = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let cos = (dot / (na * nb).max(1e-12)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    if omega.abs() < 1e-4 {
        return lerp(a, b, t);
    }
    let (t, s) = (t as f64, omega.sin());
    let (wa, wb) = (((1.0 - t) * omega).sin() / s, (t * omega).sin() / s);
    a.iter()
        .zip(b)
        .map(|(x, y)| (wa * *x as f64 + wb * *y as f64) as f32)
        .collect()
}

/// Catmull–Rom segment between `p1` and `p2`.
fn cubic(p0: &[f32], p1: &[f32], p2: &[f32], p3: &[f32], t: f32) -> Vec<f32> {
    let (t2, t3) = (t * t, t * t * t);
    (0..p1.len())
        .map(|i| {
            0.5 * (2.0 * p1[i]
                + (p2[i] - p0[i]) * t
                + (2.0 * p0[i] - 5.0 * p1[i] + 4.0 * p2[i] - p3[i]) * t2
                + (3.0 * p1[i] - p0[i] - 3.0 * p2[i] + p3[i]) * t3)
        })
        .collect()
}

/// Frames of a path through `keys` keyframes: `per_transition` per segment; a `closed` path
/// returns to the first key (a seamless loop, the first frame not repeated), an open one ends on
/// the last key.
pub fn path_len(keys: usize, per_transition: usize, closed: bool) -> usize {
    match keys {
        0 | 1 => keys,
        _ if per_transition == 0 => keys,
        n if closed => n * per_transition,
        n => (n - 1) * per_transition + 1,
    }
}

/// Frame `index` of that path, computed on its own (long videos never hold every frame).
pub fn path_frame(
    keys: &[Vec<f32>],
    per_transition: usize,
    closed: bool,
    how: Interp,
    index: usize,
) -> Vec<f32> {
    let n = keys.len();
    if n < 2 || per_transition == 0 {
        return keys[index].clone();
    }
    let key = |i: isize| -> &[f32] {
        if closed {
            &keys[i.rem_euclid(n as isize) as usize]
        } else {
            &keys[i.clamp(0, n as isize - 1) as usize]
        }
    };
    let (s, j) = ((index / per_transition) as isize, index % per_transition);
    if !closed && s as usize == n - 1 {
        return keys[n - 1].clone();
    }
    let t = j as f32 / per_transition as f32;
    match how {
        Interp::Linear => lerp(key(s), key(s + 1), t),
        Interp::Slerp => slerp(key(s), key(s + 1), t),
        Interp::Cubic => cubic(key(s - 1), key(s), key(s + 1), key(s + 2), t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame of a path, in order.
    fn path(keys: &[Vec<f32>], per_transition: usize, closed: bool, how: Interp) -> Vec<Vec<f32>> {
        (0..path_len(keys.len(), per_transition, closed))
            .map(|i| path_frame(keys, per_transition, closed, how, i))
            .collect()
    }

    #[test]
    fn paths_hit_their_keyframes() {
        let keys = vec![vec![0.0, 1.0], vec![1.0, 0.0], vec![2.0, 2.0]];
        for how in [Interp::Linear, Interp::Slerp, Interp::Cubic] {
            let open = path(&keys, 4, false, how);
            assert_eq!(open.len(), 9);
            assert_eq!(
                (open[0].clone(), open[4].clone(), open[8].clone()),
                (keys[0].clone(), keys[1].clone(), keys[2].clone())
            );
            let closed = path(&keys, 4, true, how);
            assert_eq!(closed.len(), 12);
            assert_eq!(closed[8], keys[2]);
        }
    }
}
