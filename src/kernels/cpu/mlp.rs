//! The second half of a transformer block on host buffers, fused:
//! `x + fc2(GELU(fc1(AdaIN(x))))`, in tiles of rows that stay in cache — the hidden activation
//! (4× the block's width) is never written to memory, and every tile runs its two GEMMs
//! ([`Rhs`], prepared once per call) on one thread, tiles in parallel. Tiles are `linear.rs`'s
//! [`super::linear::ROWS`] rows; the hidden tile (`ROWS × hidden`, up to 2 MB at FFHQ-256's
//! 64²) stays in L2/L3.

use super::bias_gelu;
use super::linear::{Rhs, build_tiles, with_tile};
use super::norm::{apply, coefficients_per_image};
use crate::kernels::simd::Simd;

/// The MLP's weights, stored `[in, out]` row-major.
pub struct MlpWeights<'a> {
    pub fc1: &'a [f32],
    pub fc1_bias: &'a [f32],
    pub fc2: &'a [f32],
    pub fc2_bias: &'a [f32],
    pub hidden: usize,
}

/// `x + fc2(GELU(fc1(AdaIN(x, style))))` for `x` `[B, N, C]`, `style` `[B, 2C]`.
pub fn adain_mlp_residual(
    x: &[f32],
    style: &[f32],
    n: usize,
    c: usize,
    w: &MlpWeights,
    simd: Simd,
) -> Vec<f32> {
    let simd = simd.or_portable();
    let (fc1, fc2) = (
        Rhs::new(w.fc1, c, w.hidden, n, simd),
        Rhs::new(w.fc2, w.hidden, c, n, simd),
    );
    let coefficients = coefficients_per_image(x, style, n, c);
    // Each tile starts as `x + b2`, and `hid·fc2` is added onto it.
    build_tiles(
        coefficients.len(),
        n,
        c,
        Some(x),
        Some(w.fc2_bias),
        simd,
        |out, b, row| {
            let rows = out.len() / c;
            let x = &x[(b * n + row) * c..][..rows * c];
            let (scale, shift) = &coefficients[b];
            with_tile(rows * (c + w.hidden), |tile| {
                let (h, hid) = tile.split_at_mut(rows * c);
                simd.vectorize(
                    #[inline(always)]
                    || {
                        apply(h, x, scale, shift);
                        // hid = h·fc1, then GELU(hid + b1) in place.
                        fc1.matmul(hid, false, h, rows);
                        bias_gelu(hid, w.fc1_bias, simd);
                        fc2.matmul(out, true, hid, rows);
                    },
                )
            })
        },
    )
}
