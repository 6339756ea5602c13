//! AdaIN on host buffers: per-channel statistics over the tokens, then `gamma·x̂ + beta`.

use crate::kernels::simd::Simd;
use rayon::prelude::*;

/// Tokens per parallel chunk of the statistics pass.
const CHUNK_TOKENS: usize = 1024;

/// Per-channel `(scale, shift)` such that `x·scale + shift = gamma·(x − mean)/√(var + 1e-5) +
/// beta` for one image: `x` `[N, C]`, `style` `[2C]` (`gamma` first). Biased variance,
/// accumulated in f64 over token chunks in parallel.
pub fn adain_coefficients(x: &[f32], style: &[f32], n: usize, c: usize) -> (Vec<f32>, Vec<f32>) {
    let simd = Simd::active();
    let parts: Vec<(Vec<f64>, Vec<f64>)> = x
        .par_chunks(CHUNK_TOKENS * c)
        .map(|chunk| {
            simd.vectorize(
                #[inline(always)]
                || {
                    let mut sum = vec![0f64; c];
                    let mut sq = vec![0f64; c];
                    for row in chunk.chunks_exact(c) {
                        for ((s, q), &v) in sum.iter_mut().zip(sq.iter_mut()).zip(row) {
                            *s += v as f64;
                            *q += (v as f64) * (v as f64);
                        }
                    }
                    (sum, sq)
                },
            )
        })
        .collect();
    // Chunks combined in order, not as threads finish: the result must not depend on how the
    // work was split (a batch rendered in shares equals the same images rendered together).
    let (mut sum, mut sq) = (vec![0f64; c], vec![0f64; c]);
    for (s2, q2) in &parts {
        sum.iter_mut().zip(s2).for_each(|(a, b)| *a += b);
        sq.iter_mut().zip(q2).for_each(|(a, b)| *a += b);
    }
    let (gamma, beta) = style.split_at(c);
    let mut scale = vec![0f32; c];
    let mut shift = vec![0f32; c];
    for ch in 0..c {
        let mean = sum[ch] / n as f64;
        let var = (sq[ch] / n as f64 - mean * mean).max(0.0);
        let inv = 1.0 / (var + 1e-5).sqrt();
        scale[ch] = (gamma[ch] as f64 * inv) as f32;
        shift[ch] = (beta[ch] as f64 - gamma[ch] as f64 * mean * inv) as f32;
    }
    (scale, shift)
}

/// Instance norm over tokens then `gamma·x + beta`, per image and channel (AdaIN).
/// `x`: `[B, N, C]`; `style`: `[B, 2C]` (`gamma` first). Token chunks in parallel.
pub fn adain(x: &[f32], style: &[f32], n: usize, c: usize) -> Vec<f32> {
    let simd = Simd::active();
    per_image(x, style, n, c, |out, x, scale, shift| {
        out.par_chunks_mut(CHUNK_TOKENS * c)
            .zip(x.par_chunks(CHUNK_TOKENS * c))
            .for_each(|(o, x)| {
                simd.vectorize(
                    #[inline(always)]
                    || apply(o, x, scale, shift),
                )
            });
    })
}

/// A new buffer the size of `x`, filled image by image by `f(out, x, scale, shift)` with the
/// image's AdaIN coefficients ([`adain_coefficients`]).
fn per_image(
    x: &[f32],
    style: &[f32],
    n: usize,
    c: usize,
    f: impl Fn(&mut [f32], &[f32], &[f32], &[f32]),
) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    let coefficients = coefficients_per_image(x, style, n, c);
    for ((out, x), (scale, shift)) in out
        .chunks_mut(n * c)
        .zip(x.chunks(n * c))
        .zip(&coefficients)
    {
        f(out, x, scale, shift);
    }
    out
}

/// [`adain_coefficients`] of every image of `x` `[B, N, C]` with its `style` row `[B, 2C]`.
pub(super) fn coefficients_per_image(
    x: &[f32],
    style: &[f32],
    n: usize,
    c: usize,
) -> Vec<(Vec<f32>, Vec<f32>)> {
    x.chunks(n * c)
        .zip(style.chunks(2 * c))
        .map(|(x, style)| adain_coefficients(x, style, n, c))
        .collect()
}

/// `o = x·scale + shift` row by row (`x` `[rows, C]`).
#[inline]
pub(super) fn apply(o: &mut [f32], x: &[f32], scale: &[f32], shift: &[f32]) {
    let c = scale.len();
    for (o, x) in o.chunks_exact_mut(c).zip(x.chunks_exact(c)) {
        // Zipped, not indexed: indexing left one caller's copy scalar (seen in `perf`).
        for (((o, &x), &s), &t) in o.iter_mut().zip(x).zip(scale).zip(shift) {
            *o = x * s + t;
        }
    }
}
