//! The first half of StyleNAT's `BilinearUpsample` on host buffers, fused: 2× bilinear
//! interpolation (PyTorch `align_corners = False`: even outputs `¼·x[i−1] + ¾·x[i]`, odd
//! `¾·x[i] + ¼·x[i+1]`, edges clamped) and LayerNorm over channels (eps 1e-5, biased
//! variance), one output row at a time, so the 4×-sized interpolated map is written once
//! instead of through a dozen full-size temporaries.

use crate::kernels::simd::Simd;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// `x` `[B, r, r, C]` → `LayerNorm(up2(x))` `[B, 2r, 2r, C]` with `gamma`, `beta` `[C]`.
pub fn bilinear2_layernorm(
    x: &[f32],
    batch: usize,
    r: usize,
    c: usize,
    gamma: &[f32],
    beta: &[f32],
) -> Vec<f32> {
    assert!(x.len() == batch * r * r * c && gamma.len() == c && beta.len() == c && r > 0);
    let out_row = 2 * r * c;
    let len = batch * 2 * r * out_row;
    // Written pixel by pixel below, so it is never zero-filled first (at FFHQ-1024's 1024² it
    // is 256 MB).
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let simd = Simd::active();
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(out_row)
        .enumerate()
        .for_each_init(
            || vec![0f32; r * c],
            |rows, (row, dst)| {
                simd.vectorize(
                    #[inline(always)]
                    || {
                        let (b, oy) = (row / (2 * r), row % (2 * r));
                        let image = &x[b * r * r * c..][..r * r * c];
                        // Vertical pass into one source-width row.
                        let (near, far) = taps(oy, r);
                        let (near, far) = (
                            &image[near * r * c..][..r * c],
                            &image[far * r * c..][..r * c],
                        );
                        for ((v, &n), &f) in rows.iter_mut().zip(near).zip(far) {
                            *v = f * 0.25 + n * 0.75;
                        }
                        // Horizontal pass, then LayerNorm of each output pixel.
                        for (ox, px) in dst.chunks_exact_mut(c).enumerate() {
                            let (near, far) = taps(ox, r);
                            let (near, far) = (&rows[near * c..][..c], &rows[far * c..][..c]);
                            for ((p, &n), &f) in px.iter_mut().zip(near).zip(far) {
                                p.write(f * 0.25 + n * 0.75);
                            }
                            // SAFETY: all `c` values of the pixel were written just above.
                            let px = unsafe { &mut *(px as *mut [MaybeUninit<f32>] as *mut [f32]) };
                            layer_norm(px, gamma, beta);
                        }
                    },
                )
            },
        );
    // SAFETY: the rows (`2r` per image) cover `..len`, and every pixel of a row was written.
    unsafe { out.set_len(len) };
    out
}

/// For output index `o` of a doubled axis of length `r`: the nearer source index (weight ¾)
/// and the farther one (weight ¼), clamped at the edges.
fn taps(o: usize, r: usize) -> (usize, usize) {
    let i = o / 2;
    if o.is_multiple_of(2) {
        (i, i.saturating_sub(1))
    } else {
        (i, (i + 1).min(r - 1))
    }
}

#[inline(always)]
fn layer_norm(px: &mut [f32], gamma: &[f32], beta: &[f32]) {
    let n = px.len() as f32;
    let mean = lane_sum(px, |v| v) / n;
    let var = lane_sum(px, |v| (v - mean) * (v - mean)) / n;
    let inv = 1.0 / (var + 1e-5).sqrt();
    for ((p, &g), &b) in px.iter_mut().zip(gamma).zip(beta) {
        *p = (*p - mean) * inv * g + b;
    }
}

/// `Σ f(v)` with sixteen partial sums, so the loop vectorises (one running sum is a chain of
/// dependent adds, four cycles each).
#[inline(always)]
fn lane_sum(v: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 16];
    let chunks = v.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a += f(x);
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the formula written out per output pixel, in f64.
    #[test]
    fn matches_bilinear_then_layer_norm() {
        let (batch, r, c) = (2, 3, 5);
        let x: Vec<f32> = (0..batch * r * r * c)
            .map(|i| ((i * 29 % 37) as f32 - 18.0) * 0.1)
            .collect();
        let gamma: Vec<f32> = (0..c).map(|i| 0.5 + i as f32 * 0.1).collect();
        let beta: Vec<f32> = (0..c).map(|i| i as f32 * -0.2).collect();
        let got = bilinear2_layernorm(&x, batch, r, c, &gamma, &beta);
        let src = |b: usize, y: isize, xx: isize, ch: usize| {
            let (y, xx) = (
                y.clamp(0, r as isize - 1) as usize,
                xx.clamp(0, r as isize - 1) as usize,
            );
            x[((b * r + y) * r + xx) * c + ch] as f64
        };
        // align_corners = False: output o samples source (o + 0.5)/2 − 0.5.
        let weights = |o: usize| {
            let s = (o as f64 + 0.5) / 2.0 - 0.5;
            let i0 = s.floor();
            (i0 as isize, s - i0)
        };
        for b in 0..batch {
            for oy in 0..2 * r {
                for ox in 0..2 * r {
                    let ((y0, fy), (x0, fx)) = (weights(oy), weights(ox));
                    let v: Vec<f64> = (0..c)
                        .map(|ch| {
                            (1.0 - fy)
                                * ((1.0 - fx) * src(b, y0, x0, ch) + fx * src(b, y0, x0 + 1, ch))
                                + fy * ((1.0 - fx) * src(b, y0 + 1, x0, ch)
                                    + fx * src(b, y0 + 1, x0 + 1, ch))
                        })
                        .collect();
                    let mean = v.iter().sum::<f64>() / c as f64;
                    let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / c as f64;
                    for ch in 0..c {
                        let want = (v[ch] - mean) / (var + 1e-5).sqrt() * gamma[ch] as f64
                            + beta[ch] as f64;
                        let g = got[((b * 2 * r + oy) * 2 * r + ox) * c + ch] as f64;
                        assert!(
                            (g - want).abs() < 1e-5,
                            "({b},{oy},{ox},{ch}): {g} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
