//! The float32 GEMM on AVX-512: the weight is packed once per layer call into panels of 64
//! columns (`[k][64]` each; the last one 16, 32, 48 or 64 wide, zero-padded), shared by every
//! tile of rows; the activation is read in place, row-major (each register block broadcasts
//! from its rows' own streams). A register block keeps ~24 accumulators: 6 rows × 64 columns
//! (4 panel loads and 6 broadcasts per 24 FMAs), 8 × 48 or 12 × 32 on a narrow last panel.
//! On one AMD EPYC core it ran the FFHQ layer shapes at 96–114 GFLOP/s against 83–108 for the
//! `gemm` crate, which also re-packs the weight for every tile it is called on.

use rayon::prelude::*;
use std::arch::x86_64::*;

/// Columns of a full weight panel (4 vectors of 16 lanes); the last panel may be narrower.
const NR: usize = 64;
/// Rows of `k` per pass over a panel, so the panel's part (KC × 64 floats) stays in L2.
const KC: usize = 512;

/// A `[k, n]` float32 weight in the panel layout.
pub struct PackedF32 {
    data: Vec<f32>,
    k: usize,
    n: usize,
}

impl PackedF32 {
    /// Packs a row-major `[k, n]` weight.
    pub fn new(b: &[f32], k: usize, n: usize) -> Self {
        assert!(b.len() >= k * n);
        let mut data = vec![0f32; k * n.div_ceil(16) * 16];
        data.par_chunks_mut(k * NR)
            .enumerate()
            .for_each(|(p, panel)| {
                let col0 = p * NR;
                let (cols, width) = ((n - col0).min(NR), panel.len() / k);
                for (row, src) in panel.chunks_exact_mut(width).zip(b.chunks_exact(n)) {
                    row[..cols].copy_from_slice(&src[col0..col0 + cols]);
                }
            });
        Self { data, k, n }
    }

    /// `dst (+)= a · W` for `a` `[m, k]` and `dst` `[m, n]`, row-major, on this thread.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    pub unsafe fn matmul(&self, dst: &mut [f32], accumulate: bool, a: &[f32], m: usize) {
        let (k, n) = (self.k, self.n);
        assert!(dst.len() >= m * n && a.len() >= m * k);
        // SAFETY: AVX-512F (the caller); the sizes were checked above.
        unsafe { self.panels(dst, accumulate, a, m) }
    }

    #[target_feature(enable = "avx512f")]
    fn panels(&self, dst: &mut [f32], accumulate: bool, a: &[f32], m: usize) {
        let (k, n) = (self.k, self.n);
        for k0 in (0..k).step_by(KC) {
            let kc = (k - k0).min(KC);
            for (p, panel) in self.data.chunks(k * NR).enumerate() {
                let col0 = p * NR;
                let width = panel.len() / k;
                let mr = rows_per_block(width);
                for r0 in (0..m).step_by(mr) {
                    let tile = Tile {
                        a: &a[r0 * k + k0..],
                        lda: k,
                        b: &panel[k0 * width..(k0 + kc) * width],
                        kc,
                        dst: &mut dst[r0 * n + col0..],
                        ld: n,
                        cols: (n - col0).min(NR),
                        // Later passes over `k` add to what the first one stored.
                        load: accumulate || k0 > 0,
                    };
                    // SAFETY: rows `r0..r0 + rows` of `a` (`k0 + kc ≤ k` columns each) and of
                    // `dst` (`cols` columns from `col0`, below `n`) lie in the slices (checked
                    // by the caller); `b` holds `kc` rows of `width`.
                    unsafe { dispatch(width / 16, (m - r0).min(mr), tile) }
                }
            }
        }
    }
}

/// What one register block reads and writes: `M` rows of `a` (stride `lda`, `kc` values from
/// the start), `kc` panel rows of `b`, `M` rows of `dst` (stride `ld`, the first `cols`
/// columns), which it first loads (`load`) or overwrites.
struct Tile<'a> {
    a: &'a [f32],
    lda: usize,
    b: &'a [f32],
    kc: usize,
    dst: &'a mut [f32],
    ld: usize,
    cols: usize,
    load: bool,
}

/// Rows per register block for a panel `width` columns wide: about 24 accumulators.
fn rows_per_block(width: usize) -> usize {
    match width / 16 {
        4 => 6,
        3 => 8,
        _ => 12,
    }
}

/// The register block for `v` vectors × `rows` rows.
///
/// # Safety
/// As for [`block`].
#[target_feature(enable = "avx512f")]
unsafe fn dispatch(v: usize, rows: usize, t: Tile) {
    macro_rules! arms {
        ($($v:literal: $($m:literal)*;)*) => {
            match (v, rows) {
                $($(($v, $m) => unsafe { block::<$m, $v>(t) },)*)*
                _ => unreachable!("{v} vectors × {rows} rows"),
            }
        };
    }
    arms! {
        4: 1 2 3 4 5 6;
        3: 1 2 3 4 5 6 7 8;
        2: 1 2 3 4 5 6 7 8 9 10 11 12;
        1: 1 2 3 4 5 6 7 8 9 10 11 12;
    }
}

/// One `M × 16V` register block over the tile's `kc` rows of `k`.
///
/// # Safety
/// The tile's slices hold what [`Tile`] says, `b` `kc` rows of `16 V`; AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn block<const M: usize, const V: usize>(t: Tile) {
    let masks = column_masks::<V>(t.cols);
    let dst = t.dst.as_mut_ptr();
    // SAFETY: `M` rows of `dst` cover the masked columns (the caller).
    let mut acc = unsafe { load_block::<M, V>(dst, t.ld, masks, M, t.load) };
    let (a, b) = (t.a.as_ptr(), t.b.as_ptr());
    for kk in 0..t.kc {
        let mut bv = [_mm512_setzero_ps(); V];
        for (h, v) in bv.iter_mut().enumerate() {
            // SAFETY: `b` holds `kc` rows of `16 V`.
            *v = unsafe { _mm512_loadu_ps(b.add((kk * V + h) * 16)) };
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `a` holds `M` rows of `kc` values at stride `lda`.
            let av = _mm512_set1_ps(unsafe { *a.add(r * t.lda + kk) });
            for (acc, &bv) in acc.iter_mut().zip(&bv) {
                *acc = _mm512_fmadd_ps(av, bv, *acc);
            }
        }
    }
    // SAFETY: as for the load.
    unsafe { store_block(&acc, dst, t.ld, masks, M) };
}

/// Lane masks of the `V` vectors of a register-block row holding `cols` columns.
pub(super) fn column_masks<const V: usize>(cols: usize) -> [u16; V] {
    std::array::from_fn(|h| match cols.saturating_sub(16 * h) {
        c if c >= 16 => u16::MAX,
        c => (1u16 << c) - 1,
    })
}

/// A register block's `M × 16V` accumulators: the first `rows` rows of `dst` (stride `ld`, the
/// columns `masks` select) when `load`, zeros otherwise.
///
/// # Safety
/// AVX-512F; rows `0..rows` of `dst` cover the masked columns.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) unsafe fn load_block<const M: usize, const V: usize>(
    dst: *const f32,
    ld: usize,
    masks: [u16; V],
    rows: usize,
    load: bool,
) -> [[__m512; V]; M] {
    let mut acc = [[_mm512_setzero_ps(); V]; M];
    if load {
        for (r, acc) in acc.iter_mut().enumerate().take(rows) {
            for (h, v) in acc.iter_mut().enumerate() {
                // SAFETY: the caller's contract (masked-off columns are not touched).
                *v = unsafe { _mm512_maskz_loadu_ps(masks[h], dst.add(r * ld + 16 * h)) };
            }
        }
    }
    acc
}

/// Stores the first `rows` rows of a register block's accumulators, as [`load_block`] reads.
///
/// # Safety
/// As for [`load_block`].
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) unsafe fn store_block<const M: usize, const V: usize>(
    acc: &[[__m512; V]; M],
    dst: *mut f32,
    ld: usize,
    masks: [u16; V],
    rows: usize,
) {
    for (r, acc) in acc.iter().enumerate().take(rows) {
        for (h, v) in acc.iter().enumerate() {
            // SAFETY: the caller's contract.
            unsafe { _mm512_mask_storeu_ps(dst.add(r * ld + 16 * h), masks[h], *v) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_f64_product() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            println!("no AVX-512 on this CPU: the `gemm` crate serves float32 here");
            return;
        }
        // Past one KC pass, and narrow last panels (48 and 32 columns wide).
        let extra = [
            (7, KC + 9, 130, false),
            (6, 2 * KC, 64, true),
            (30, 33, 96, false),
        ];
        super::super::linear::assert_matches_f64_product(
            &extra,
            |x| x as f64,
            1e-5,
            |dst, acc, a, b, m, k, n| {
                // SAFETY: support checked above.
                unsafe { PackedF32::new(b, k, n).matmul(dst, acc, a, m) }
            },
        );
    }
}
