//! The AVX2 register blocks of the packed-panel GEMM (see the parent module): `M` rows × one
//! or two vectors of eight columns, with masked loads and stores for a last panel's columns
//! past `n`.

use super::super::vmath::first_lanes8;
use super::Tile;
use std::arch::x86_64::*;

/// The register block for `v` vectors × `rows` rows.
///
/// # Safety
/// As for [`block`].
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dispatch(v: usize, rows: usize, t: Tile) {
    register_blocks! { (v, rows, t)
        2: 1 2 3 4 5 6;
        1: 1 2 3 4 5 6 7 8 9 10 11 12;
    }
}

/// One `M × 8V` register block over the tile's `kc` rows of `k`.
///
/// # Safety
/// The tile's slices hold what [`Tile`] says, `b` `kc` rows of `8 V`; AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn block<const M: usize, const V: usize>(t: Tile) {
    // SAFETY: AVX2 is enabled here.
    let masks: [__m256i; V] =
        std::array::from_fn(|h| unsafe { first_lanes8(t.cols.saturating_sub(8 * h).min(8)) });
    let whole = t.cols >= 8 * V;
    let dst = t.dst.as_mut_ptr();
    let mut acc = [[_mm256_setzero_ps(); V]; M];
    if t.load {
        for (r, acc) in acc.iter_mut().enumerate() {
            for (h, v) in acc.iter_mut().enumerate() {
                let p = dst.wrapping_add(r * t.ld + 8 * h);
                // SAFETY: row `r` of `dst` holds the block's first `cols` columns (the
                // caller); masked-off columns are not read.
                *v = unsafe {
                    match whole {
                        true => _mm256_loadu_ps(p),
                        false => _mm256_maskload_ps(p, masks[h]),
                    }
                };
            }
        }
    }
    let (a, b) = (t.a.as_ptr(), t.b.as_ptr());
    for kk in 0..t.kc {
        // SAFETY: `b` holds `kc` rows of `8 V`.
        let bv: [__m256; V] =
            std::array::from_fn(|h| unsafe { _mm256_loadu_ps(b.add((kk * V + h) * 8)) });
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `a` holds `M` rows of `kc` values at stride `lda`.
            let av = _mm256_set1_ps(unsafe { *a.add(r * t.lda + kk) });
            for (acc, &bv) in acc.iter_mut().zip(&bv) {
                *acc = _mm256_fmadd_ps(av, bv, *acc);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (h, &v) in acc.iter().enumerate() {
            let p = dst.wrapping_add(r * t.ld + 8 * h);
            // SAFETY: as for the load.
            unsafe {
                match whole {
                    true => _mm256_storeu_ps(p, v),
                    false => _mm256_maskstore_ps(p, masks[h], v),
                }
            }
        }
    }
}
