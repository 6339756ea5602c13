//! The linear layers around neighbourhood attention, fused with the element-wise work beside
//! them so each activation is read once: `qkv(AdaIN(x))` (the normalised activation only
//! ever exists as a cached tile; the bias is the GEMM's starting value) and
//! `x + proj(a)` (the residual and bias are the GEMM's starting value). Tiles of rows run in
//! parallel, each GEMM on its own thread (the `gemm` crate, AVX-512/AVX2 chosen at run time).

use super::norm::{apply, per_image_into};
use rayon::prelude::*;

/// Rows per tile: a tile of inputs and outputs stays in L2 for the widths in use.
const ROWS: usize = 128;

/// A linear layer's `[in, out]` row-major weight and optional bias.
pub struct LinearWeights<'a> {
    pub weight: &'a [f32],
    pub bias: Option<&'a [f32]>,
    pub d_out: usize,
}

/// `AdaIN(x, style) · W + b` for `x` `[B, N, C]`, `style` `[B, 2C]` → `[B, N, d_out]`.
pub fn adain_linear(x: &[f32], style: &[f32], n: usize, c: usize, w: &LinearWeights) -> Vec<f32> {
    let d = w.d_out;
    per_image_into(x, style, n, c, d, |out, x, scale, shift| {
        out.par_chunks_mut(ROWS * d)
            .zip(x.par_chunks(ROWS * c))
            .for_each_init(
                || vec![0f32; ROWS * c],
                |h, (out, x)| {
                    let rows = x.len() / c;
                    let h = &mut h[..rows * c];
                    apply(h, x, scale, shift);
                    start_with_bias(out, None, w.bias, d);
                    matmul(out, true, h, w.weight, rows, c, d);
                },
            );
    })
}

/// `x + a · W + b` for `x` `[R, d_out]` and `a` `[R, d_in]` (all images' rows together).
pub fn linear_residual(x: &[f32], a: &[f32], d_in: usize, w: &LinearWeights) -> Vec<f32> {
    let d = w.d_out;
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(ROWS * d)
        .zip(x.par_chunks(ROWS * d))
        .zip(a.par_chunks(ROWS * d_in))
        .for_each(|((out, x), a)| {
            let rows = x.len() / d;
            start_with_bias(out, Some(x), w.bias, d);
            matmul(out, true, a, w.weight, rows, d_in, d);
        });
    out
}

/// `out` rows = `x` rows (or 0) + `bias` (or 0): the value the GEMM accumulates onto.
fn start_with_bias(out: &mut [f32], x: Option<&[f32]>, bias: Option<&[f32]>, d: usize) {
    match (x, bias) {
        (Some(x), Some(b)) => {
            for (o, x) in out.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
                for ((o, &x), &b) in o.iter_mut().zip(x).zip(b) {
                    *o = x + b;
                }
            }
        }
        (Some(x), None) => out.copy_from_slice(x),
        (None, Some(b)) => out.chunks_exact_mut(d).for_each(|o| o.copy_from_slice(b)),
        (None, None) => out.fill(0.0),
    }
}

/// `dst (+)= a · b` with `a` `[m, k]`, `b` `[k, n]`, `dst` `[m, n]`, all row-major, on this
/// thread.
pub(super) fn matmul(
    dst: &mut [f32],
    accumulate: bool,
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) {
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
    // SAFETY: the three buffers hold the row-major matrices the strides describe (checked
    // above) and `dst` does not alias the inputs (it is a `&mut`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}
