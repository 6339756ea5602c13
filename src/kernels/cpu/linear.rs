//! The linear layers around neighbourhood attention, fused with the element-wise work beside
//! them so each activation is read once: `qkv(AdaIN(x))` (the normalised activation only
//! ever exists as a cached tile; the bias is the GEMM's starting value) and
//! `x + proj(a)` (the residual and bias are the GEMM's starting value). Tiles of rows run in
//! parallel, each GEMM on its own thread: our packed-panel kernels on AVX-512 and AVX2
//! (`f32_panels/`), the `gemm` crate on the portable path and for small maps on AVX2.

use super::norm::{apply, coefficients_per_image};
use crate::kernels::simd::Simd;
use rayon::prelude::*;
use std::cell::RefCell;
use std::mem::MaybeUninit;

/// Rows per tile. The `gemm` crate (portable path) packs the weight again for each tile, so
/// taller tiles pack it less often: with it, 256 rows ran FFHQ-256 ~5 % faster than 128 on
/// one thread (AMD EPYC), 512 no faster. Our kernels pack once per call; for the AVX-512 one
/// 64, 128 and 256 rows measured the same.
pub(super) const ROWS: usize = 256;

thread_local! {
    /// A tile's working buffer (its normalised activation, the MLP's hidden activation),
    /// kept between calls: allocated afresh it was zero-filled every time.
    static TILE: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `f` with this thread's tile buffer, at least `len` long. Not re-entrant: `f` must not
/// call it again (the GEMMs inside tiles run on their own thread and do not).
pub(super) fn with_tile<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    TILE.with_borrow_mut(|t| {
        if t.len() < len {
            t.resize(len, 0.0);
        }
        f(&mut t[..len])
    })
}

/// A linear layer's `[in, out]` row-major weight and optional bias.
pub struct LinearWeights<'a> {
    pub weight: &'a [f32],
    pub bias: Option<&'a [f32]>,
    pub d_out: usize,
}

/// `AdaIN(x, style) · W + b` for `x` `[B, N, C]`, `style` `[B, 2C]` → `[B, N, d_out]`.
pub fn adain_linear(x: &[f32], style: &[f32], n: usize, c: usize, w: &LinearWeights) -> Vec<f32> {
    let d = w.d_out;
    let simd = Simd::active();
    let rhs = Rhs::new(w.weight, c, d, n, simd);
    let coefficients = coefficients_per_image(x, style, n, c);
    build_tiles(
        coefficients.len(),
        n,
        d,
        None,
        w.bias,
        simd,
        |out, b, row| {
            let rows = out.len() / d;
            let x = &x[(b * n + row) * c..][..rows * c];
            let (scale, shift) = &coefficients[b];
            with_tile(x.len(), |h| {
                simd.vectorize(
                    #[inline(always)]
                    || {
                        apply(h, x, scale, shift);
                        rhs.matmul(out, true, h, rows);
                    },
                )
            })
        },
    )
}

/// `x + a · W + b` for `x` `[R, d_out]` and `a` `[R, d_in]` (all images' rows together, images
/// of `tokens` rows).
pub fn linear_residual(
    x: &[f32],
    a: &[f32],
    d_in: usize,
    tokens: usize,
    w: &LinearWeights,
) -> Vec<f32> {
    let d = w.d_out;
    let simd = Simd::active();
    let rhs = Rhs::new(w.weight, d_in, d, tokens, simd);
    let rows = x.len() / d.max(1);
    build_tiles(1, rows, d, Some(x), w.bias, simd, |out, _, row| {
        let rows = out.len() / d;
        let a = &a[row * d_in..][..rows * d_in];
        simd.vectorize(
            #[inline(always)]
            || rhs.matmul(out, true, a, rows),
        )
    })
}

/// A new `[images · n, d]` buffer built in tiles of up to [`ROWS`] rows that never cross an
/// image, in parallel: each tile starts as its rows of `residual` (or 0) plus `bias` (or 0),
/// then `finish(tile, image, row)` completes it in place (`row`: the tile's first row within
/// its image). The start writes every element, so the buffer is never zero-filled first (at
/// FFHQ-1024's 1024² that was an extra 128 MB written per layer call).
pub(super) fn build_tiles(
    images: usize,
    n: usize,
    d: usize,
    residual: Option<&[f32]>,
    bias: Option<&[f32]>,
    simd: Simd,
    finish: impl Fn(&mut [f32], usize, usize) + Sync,
) -> Vec<f32> {
    let len = images * n * d;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    if len == 0 {
        return out;
    }
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(n * d)
        .enumerate()
        .for_each(|(b, image)| {
            image
                .par_chunks_mut(ROWS * d)
                .enumerate()
                .for_each(|(t, tile)| {
                    let at = b * n * d + t * ROWS * d;
                    let residual = residual.map(|r| &r[at..at + tile.len()]);
                    let tile = simd.vectorize(
                        #[inline(always)]
                        || start(tile, residual, bias, d),
                    );
                    finish(tile, b, t * ROWS);
                })
        });
    // SAFETY: `start` wrote every element of every tile, and the tiles cover `..len`.
    unsafe { out.set_len(len) };
    out
}

/// `out` rows = `x` rows (or 0) + `bias` (or 0): the value the GEMM accumulates onto.
#[inline]
pub(super) fn start_with_bias(out: &mut [f32], x: Option<&[f32]>, bias: Option<&[f32]>, d: usize) {
    // SAFETY: `MaybeUninit<f32>` has `f32`'s layout, and `start` writes only initialised values.
    let out = unsafe { &mut *(out as *mut [f32] as *mut [MaybeUninit<f32>]) };
    start(out, x, bias, d);
}

/// [`start_with_bias`] into memory not yet initialised: writes every element of `out` and
/// returns it initialised.
#[inline]
fn start<'a>(
    out: &'a mut [MaybeUninit<f32>],
    x: Option<&[f32]>,
    bias: Option<&[f32]>,
    d: usize,
) -> &'a mut [f32] {
    // Whole rows and whole inputs, so each loop below reaches every element.
    assert!(d > 0 && out.len().is_multiple_of(d));
    assert!(x.is_none_or(|x| x.len() == out.len()) && bias.is_none_or(|b| b.len() == d));
    match (x, bias) {
        (Some(x), Some(b)) => {
            for (o, x) in out.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
                for ((o, &x), &b) in o.iter_mut().zip(x).zip(b) {
                    o.write(x + b);
                }
            }
        }
        (Some(x), None) => {
            for (o, &x) in out.iter_mut().zip(x) {
                o.write(x);
            }
        }
        (None, Some(b)) => {
            for o in out.chunks_exact_mut(d) {
                for (o, &b) in o.iter_mut().zip(b) {
                    o.write(b);
                }
            }
        }
        (None, None) => {
            for o in out.iter_mut() {
                o.write(0.0);
            }
        }
    }
    // SAFETY: every element was written above (the asserts make each loop cover `out`).
    unsafe { &mut *(out as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// A layer's `[k, n]` weight as the GEMMs read it, prepared once per layer call: packed into
/// panels for our AVX-512 and AVX2 kernels, rounded to bf16 when the user chose that
/// precision ([`super::precision`]), or as it is for the `gemm` crate (portable path, and
/// AVX2 below [`AVX2_PANEL_MIN_ROWS`]).
pub(super) enum Rhs<'a> {
    F32 {
        b: &'a [f32],
        k: usize,
        n: usize,
    },
    #[cfg(target_arch = "x86_64")]
    Panels(super::f32_panels::PackedF32),
    #[cfg(target_arch = "x86_64")]
    Bf16(super::bf16::PackedWeight),
}

/// Below this many rows per image (a 32² map) AVX2 leaves the GEMM to the `gemm` crate: packing
/// a wide weight for few rows cost more than it saved. FFHQ-256 one thread (AMD EPYC), three
/// rounds: 4² 11–14 → 7–8 ms, 8² 20–27 → 16–20 ms, 16² 55–77 → 51–71 ms; the fixture equal.
const AVX2_PANEL_MIN_ROWS: usize = 1024;

/// Below this many rows per image the weight's rounding costs more than bf16 saves.
const BF16_MIN_ROWS: usize = 512;

impl<'a> Rhs<'a> {
    /// The weight for a layer call over images of `tokens` rows each, for the kernels on path
    /// `simd`. The choice goes by the rows of one image, not of the call, so an image's
    /// arithmetic does not depend on the batch it is rendered in.
    pub fn new(b: &'a [f32], k: usize, n: usize, tokens: usize, simd: Simd) -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if super::precision() == super::Precision::Bf16 && tokens >= BF16_MIN_ROWS {
                return Rhs::Bf16(super::bf16::PackedWeight::new(b, k, n));
            }
            let simd = simd.or_portable();
            if simd == Simd::Avx512 || (simd == Simd::Avx2 && tokens >= AVX2_PANEL_MIN_ROWS) {
                return Rhs::Panels(super::f32_panels::PackedF32::new(b, k, n, simd));
            }
        }
        let _ = (tokens, simd);
        Rhs::F32 { b, k, n }
    }

    /// `dst (+)= a · W` with `a` `[m, k]` and `dst` `[m, n]`, row-major, on this thread.
    pub fn matmul(&self, dst: &mut [f32], accumulate: bool, a: &[f32], m: usize) {
        match self {
            &Rhs::F32 { b, k, n } => matmul(dst, accumulate, a, b, m, k, n),
            // SAFETY: chosen only for a path the CPU runs (`or_portable` checked).
            #[cfg(target_arch = "x86_64")]
            Rhs::Panels(w) => unsafe { w.matmul(dst, accumulate, a, m) },
            // SAFETY: bf16 is only chosen on CPUs that run it (`set_precision` checks).
            #[cfg(target_arch = "x86_64")]
            Rhs::Bf16(w) => unsafe { w.matmul(dst, accumulate, a, m) },
        }
    }
}

/// `dst (+)= a · b` with `a` `[m, k]`, `b` `[k, n]`, `dst` `[m, n]`, all row-major, on this
/// thread.
fn matmul(dst: &mut [f32], accumulate: bool, a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
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

/// Checks a GEMM `run(dst, accumulate, a, b, m, k, n)` against the f64 product of the inputs
/// as `up` reads them, on shapes with every edge case of `extra` plus odd `k` and `n` and `m`
/// not a multiple of any register block.
#[cfg(test)]
pub(super) fn assert_matches_f64_product(
    extra: &[(usize, usize, usize, bool)],
    up: impl Fn(f32) -> f64,
    tolerance: f64,
    run: impl Fn(&mut [f32], bool, &[f32], &[f32], usize, usize, usize),
) {
    for &(m, k, n, acc) in [(13, 37, 45, true), (5, 64, 32, false), (25, 3, 70, true)]
        .iter()
        .chain(extra)
    {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) * 0.021)
            .collect();
        let start: Vec<f32> = (0..m * n).map(|i| (i % 7) as f32 * 0.5).collect();
        // Past the product, a guard that no store may touch.
        let mut dst: Vec<f32> = start.iter().copied().chain([2.5; 16]).collect();
        run(&mut dst, acc, &a, &b, m, k, n);
        let (dst, guard) = dst.split_at(m * n);
        assert!(
            guard.iter().all(|&g| g == 2.5),
            "{m}×{k}×{n}: wrote past the end"
        );
        for (i, &got) in dst.iter().enumerate() {
            let (r, c) = (i / n, i % n);
            let mut want = if acc { start[i] as f64 } else { 0.0 };
            for j in 0..k {
                want += up(a[r * k + j]) * up(b[j * n + c]);
            }
            assert!(
                (got as f64 - want).abs() < tolerance * (1.0 + want.abs()),
                "{m}×{k}×{n} ({r},{c}): {got} vs {want}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path's weight preparation (packed panels on AVX-512, and on AVX2 from a 32² map up;
    /// the `gemm` crate otherwise) against the f64 product, over several register-block edges.
    #[test]
    fn every_path_matches_an_f64_product() {
        for simd in Simd::available() {
            assert_matches_f64_product(
                &[
                    (300, 40, 96, true),
                    (AVX2_PANEL_MIN_ROWS + 6, 20, 24, false),
                ],
                |x| x as f64,
                1e-5,
                |dst, acc, a, b, m, k, n| Rhs::new(b, k, n, m, simd).matmul(dst, acc, a, m),
            );
        }
    }
}
