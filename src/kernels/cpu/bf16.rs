//! The optional reduced-precision GEMM: inputs rounded to bfloat16, products summed in f32 by
//! AVX-512 BF16's `vdpbf16ps` (two products per f32 lane per instruction, so twice the fp32
//! FMA rate). Only used when the user asks for it ([`super::precision`]); the weights are
//! rounded once per layer call, the activations once per tile.
//!
//! Layouts: the weight `[k, n]` in panels of 64 columns, each `k` pair of a column stored
//! together (`[n/64][k/2][64][2]`); the activation tile `[rows, k]` as `[rows][k/2]` pairs. A
//! register block is 6 rows × 64 columns (24 accumulators; 4 × 6 measured ~15 % faster than
//! 2 × 12 vectors × rows on AMD EPYC, fewer broadcasts per multiply).

use super::f32_panels::{column_masks, load_block, store_block};
use rayon::prelude::*;
use std::arch::x86_64::*;

/// Vectors of 16 f32 lanes per register-block row, and columns per weight panel.
const NV: usize = 4;
const NR: usize = 16 * NV;
/// Rows per register block (`MR · NV` accumulators).
const MR: usize = 6;

/// A `[k, n]` weight rounded to bf16 in the panel layout.
pub struct PackedWeight {
    data: Vec<u32>,
    k: usize,
    n: usize,
}

impl PackedWeight {
    /// Rounds and packs a row-major `[k, n]` weight (zero-padded to whole pairs and panels).
    pub fn new(b: &[f32], k: usize, n: usize) -> Self {
        assert!(b.len() >= k * n);
        let (pairs, panels) = (k.div_ceil(2), n.div_ceil(NR));
        let mut data = vec![0u32; panels * pairs * NR];
        data.par_chunks_exact_mut(pairs * NR)
            .enumerate()
            .for_each(|(p, panel)| {
                for (kp, row) in panel.chunks_exact_mut(NR).enumerate() {
                    for (j, v) in row.iter_mut().enumerate() {
                        let col = p * NR + j;
                        if col < n {
                            let lo = bf16(b[2 * kp * n + col]);
                            let hi = if 2 * kp + 1 < k {
                                bf16(b[(2 * kp + 1) * n + col])
                            } else {
                                0
                            };
                            *v = lo as u32 | (hi as u32) << 16;
                        }
                    }
                }
            });
        Self { data, k, n }
    }

    /// `dst (+)= a · W` for `a` `[m, k]` and `dst` `[m, n]`, row-major, on this thread.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512 BF16 ([`supported`]).
    pub unsafe fn matmul(&self, dst: &mut [f32], accumulate: bool, a: &[f32], m: usize) {
        let (k, n) = (self.k, self.n);
        assert!(dst.len() >= m * n && a.len() >= m * k);
        let pairs = k.div_ceil(2);
        // The activation rows as bf16 pairs, padded to whole register blocks with zeros.
        let rows = m.div_ceil(MR) * MR;
        A_TILE.with_borrow_mut(|tile| {
            if tile.len() < rows * pairs {
                tile.resize(rows * pairs, 0);
            }
            let ap = &mut tile[..rows * pairs];
            for (r, row) in ap.chunks_exact_mut(pairs).take(m).enumerate() {
                // SAFETY: AVX-512 BF16 (the caller); `row` holds `pairs ≥ k/2` pairs.
                unsafe { round_row(&a[r * k..(r + 1) * k], row) };
            }
            // Every pair of the `m` rows was written above; only the padding rows are zeroed.
            ap[m * pairs..].fill(0);
            // SAFETY: AVX-512 BF16 (the caller).
            unsafe { self.panels(dst, accumulate, ap, m) }
        })
    }

    /// The register blocks of every panel, from activation pairs `ap`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    fn panels(&self, dst: &mut [f32], accumulate: bool, ap: &[u32], m: usize) {
        let (k, n) = (self.k, self.n);
        let pairs = k.div_ceil(2);
        for (p, panel) in self.data.chunks_exact(pairs * NR).enumerate() {
            let col0 = p * NR;
            let cols = (n - col0).min(NR);
            for r0 in (0..m).step_by(MR) {
                // SAFETY: `ap` holds `rows ≥ r0 + MR` rows of `pairs`; the block writes rows
                // `r0..min(r0 + MR, m)` and columns `col0..col0 + cols` of `dst` (checked above).
                unsafe {
                    block(
                        &ap[r0 * pairs..],
                        pairs,
                        panel,
                        dst.as_mut_ptr().add(r0 * n + col0),
                        n,
                        (m - r0).min(MR),
                        cols,
                        accumulate,
                    )
                };
            }
        }
    }
}

thread_local! {
    /// The current activation tile in bf16, reused between calls.
    static A_TILE: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One activation row rounded to bf16 in natural order (which is the pair layout: element
/// `2i` in the low half of pair `i`); an odd last pair is completed with zero.
#[target_feature(enable = "avx512f,avx512bf16")]
fn round_row(src: &[f32], dst: &mut [u32]) {
    let whole = src.len() / 16 * 16;
    let out = dst.as_mut_ptr().cast::<u16>();
    for i in (0..whole).step_by(16) {
        // SAFETY: 16 floats at `i < whole`; 16 bf16 at `i` lie in `dst` (`2·pairs ≥ len`).
        unsafe {
            let v = _mm512_cvtneps_pbh(_mm512_loadu_ps(src.as_ptr().add(i)));
            _mm256_storeu_si256(
                out.add(i).cast(),
                std::mem::transmute::<__m256bh, __m256i>(v),
            );
        }
    }
    for (i, &x) in src.iter().enumerate().skip(whole) {
        // SAFETY: as above, one element.
        unsafe { *out.add(i) = bf16(x) };
    }
    if src.len() % 2 == 1 {
        // SAFETY: the high half of the last pair.
        unsafe { *out.add(src.len()) = 0 };
    }
}

/// Whether this CPU runs the bf16 kernel.
pub fn supported() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bf16")
}

/// Round to nearest even bf16 (the top 16 bits of an f32); NaN stays NaN.
pub fn bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// One `MR × NR` register block over all `pairs` of `k`: `dst` rows `0..m`, columns `0..cols`.
#[target_feature(enable = "avx512f,avx512bf16")]
#[allow(clippy::too_many_arguments)]
unsafe fn block(
    a: &[u32],
    pairs: usize,
    panel: &[u32],
    dst: *mut f32,
    ld: usize,
    m: usize,
    cols: usize,
    accumulate: bool,
) {
    let masks = column_masks::<NV>(cols);
    // SAFETY: rows `0..m` of `dst` cover the block's columns (the caller).
    let mut acc = unsafe { load_block::<MR, NV>(dst, ld, masks, m, accumulate) };
    let (a, b) = (a.as_ptr(), panel.as_ptr());
    for kp in 0..pairs {
        let mut bv = [to_bh(_mm512_setzero_si512()); NV];
        for (h, v) in bv.iter_mut().enumerate() {
            // SAFETY: the panel holds `pairs` rows of NR pairs.
            *v = to_bh(unsafe { _mm512_loadu_si512(b.add(kp * NR + 16 * h).cast()) });
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `a` holds MR rows of `pairs`.
            let av = to_bh(_mm512_set1_epi32(unsafe { *a.add(r * pairs + kp) } as i32));
            for (acc, &bv) in acc.iter_mut().zip(&bv) {
                *acc = _mm512_dpbf16_ps(*acc, av, bv);
            }
        }
    }
    // SAFETY: as for the load.
    unsafe { store_block(&acc, dst, ld, masks, m) };
}

#[inline(always)]
fn to_bh(v: __m512i) -> __m512bh {
    // SAFETY: both are 512-bit vectors; bf16 pairs are stored as the u32 lanes.
    unsafe { std::mem::transmute(v) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_nearest_even() {
        assert_eq!(bf16(1.0), 0x3f80);
        // 1 + 2⁻⁸ is halfway between bf16 neighbours 1 and 1 + 2⁻⁷: ties go to even (1).
        assert_eq!(bf16(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert!(f32::from_bits((bf16(f32::NAN) as u32) << 16).is_nan());
    }

    #[test]
    fn matches_an_f64_product_of_the_rounded_inputs() {
        if !supported() {
            println!("no AVX-512 BF16 on this CPU: the bf16 option is refused here");
            return;
        }
        let up = |x: f32| f32::from_bits((bf16(x) as u32) << 16) as f64;
        super::super::linear::assert_matches_f64_product(
            &[],
            up,
            1e-4,
            |dst, acc, a, b, m, k, n| {
                // SAFETY: support checked above.
                unsafe { PackedWeight::new(b, k, n).matmul(dst, acc, a, m) }
            },
        );
    }
}
