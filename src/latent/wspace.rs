//! W / W+ manipulation on host arrays (`[num_ws, w_dim]` per image).

use crate::error::{Error, Result};

/// Truncation trick `w' = mean + ψ (w − mean)`, applied to layers `< cutoff` (all if `None`).
/// `wplus` is `[num_ws * w_dim]`.
pub fn truncate(wplus: &mut [f32], mean: &[f32], psi: f32, cutoff: Option<usize>) {
    let dim = mean.len();
    for (layer, w) in wplus.chunks_mut(dim).enumerate() {
        if cutoff.is_some_and(|c| layer >= c) {
            continue;
        }
        for (x, &m) in w.iter_mut().zip(mean) {
            *x = m + psi * (*x - m);
        }
    }
}

/// Style mixing: copies the chosen W+ layers of `other` into `wplus`.
pub fn mix_layers(wplus: &mut [f32], other: &[f32], w_dim: usize, layers: &[usize]) {
    for &l in layers {
        let r = l * w_dim..(l + 1) * w_dim;
        wplus[r.clone()].copy_from_slice(&other[r]);
    }
}

/// Parses `8-13`, `0,2,4` or `0-3,8` into sorted, distinct W+ layer indices `< num_ws`.
pub fn parse_layer_list(text: &str, num_ws: usize) -> Result<Vec<usize>> {
    let bad = |p: &str| Error::Input(format!("`{p}` is not a layer index or range"));
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse().map_err(|_| bad(part))?,
                b.trim().parse().map_err(|_| bad(part))?,
            ),
            None => {
                let v: usize = part.parse().map_err(|_| bad(part))?;
                (v, v)
            }
        };
        if a > b || b >= num_ws {
            return Err(Error::Input(format!(
                "layer range `{part}` is outside 0-{} (the model has {num_ws} W+ layers)",
                num_ws - 1
            )));
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_cutoff() {
        let mut w = vec![2.0, 2.0, 2.0, 2.0];
        truncate(&mut w, &[0.0, 0.0], 0.5, Some(1));
        assert_eq!(w, vec![1.0, 1.0, 2.0, 2.0]);
    }

    #[test]
    fn layer_lists() {
        assert_eq!(parse_layer_list("8-9,0", 12).unwrap(), vec![0, 8, 9]);
        assert!(parse_layer_list("8-12", 12).is_err());
    }
}
