//! The AVX-512 register blocks of the packed-panel GEMM (see the parent module), and the
//! masked block loads and stores the bf16 GEMM shares.

use super::Tile;
use std::arch::x86_64::*;

/// The register block for `v` vectors × `rows` rows.
///
/// # Safety
/// As for [`block`].
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn dispatch(v: usize, rows: usize, t: Tile) {
    register_blocks! { (v, rows, t)
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
pub(crate) fn column_masks<const V: usize>(cols: usize) -> [u16; V] {
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
pub(crate) unsafe fn load_block<const M: usize, const V: usize>(
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
pub(crate) unsafe fn store_block<const M: usize, const V: usize>(
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
