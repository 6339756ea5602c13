//! The float32 GEMM on AVX-512 and AVX2: the weight is packed once per layer call into panels
//! of `NR` columns (`[k][NR]` each; the last one narrower, a whole number of vectors,
//! zero-padded), shared by every tile of rows; the activation is read in place, row-major
//! (each register block broadcasts from its rows' own streams). A register block keeps
//! about 24 (AVX-512) or 12 (AVX2) accumulators: on AVX-512 6 rows × 64 columns (4 panel
//! loads and 6 broadcasts per 24 FMAs), 8 × 48 or 12 × 32 on a narrow last panel
//! (`avx512.rs`); on AVX2 6 rows × 16 columns, or 12 × 8 (`avx2.rs`).
//! On one AMD EPYC core the AVX-512 form ran the FFHQ layer shapes at 96–114 GFLOP/s against
//! 83–108 for the `gemm` crate, which also re-packs the weight for every tile it is called on.
//! On AVX2 (another EPYC) the two were within 1–3 % of each other on FFHQ-256, one thread;
//! ours is kept there for one layout on both instruction sets, from 32² maps up (below,
//! `linear.rs` leaves small maps to the crate: packing cost more than it saved).

/// `match (v, rows)` calling `block::<rows, v>(tile)` for each listed count of vectors and
/// of rows (the register blocks a kernel instantiates); used by `avx2.rs` and `avx512.rs`.
macro_rules! register_blocks {
    (($v:expr, $rows:expr, $t:expr) $($vv:literal: $($m:literal)*;)*) => {
        match ($v, $rows) {
            $($(($vv, $m) => unsafe { block::<$m, $vv>($t) },)*)*
            (v, rows) => unreachable!("{v} vectors × {rows} rows"),
        }
    };
}

mod avx2;
mod avx512;

pub(super) use avx512::{column_masks, load_block, store_block};

use crate::kernels::simd::Simd;
use rayon::prelude::*;

/// Rows of `k` per pass over a panel, so the panel's part (KC × NR floats) stays in L2.
const KC: usize = 512;

/// A `[k, n]` float32 weight in the panel layout of one instruction set.
pub struct PackedF32 {
    data: Vec<f32>,
    k: usize,
    n: usize,
    simd: Simd,
}

impl PackedF32 {
    /// Packs a row-major `[k, n]` weight for the kernels of `simd` (AVX-512 or AVX2).
    pub fn new(b: &[f32], k: usize, n: usize, simd: Simd) -> Self {
        assert!(b.len() >= k * n);
        assert!(matches!(simd, Simd::Avx512 | Simd::Avx2));
        let (nr, lanes) = shape(simd);
        let mut data = vec![0f32; k * n.div_ceil(lanes) * lanes];
        data.par_chunks_mut(k * nr)
            .enumerate()
            .for_each(|(p, panel)| {
                let col0 = p * nr;
                let (cols, width) = ((n - col0).min(nr), panel.len() / k);
                for (row, src) in panel.chunks_exact_mut(width).zip(b.chunks_exact(n)) {
                    row[..cols].copy_from_slice(&src[col0..col0 + cols]);
                }
            });
        Self { data, k, n, simd }
    }

    /// `dst (+)= a · W` for `a` `[m, k]` and `dst` `[m, n]`, row-major, on this thread.
    ///
    /// # Safety
    /// The CPU must support the instruction set the weight was packed for.
    pub unsafe fn matmul(&self, dst: &mut [f32], accumulate: bool, a: &[f32], m: usize) {
        let (k, n) = (self.k, self.n);
        assert!(dst.len() >= m * n && a.len() >= m * k);
        let (nr, lanes) = shape(self.simd);
        for k0 in (0..k).step_by(KC) {
            let kc = (k - k0).min(KC);
            for (p, panel) in self.data.chunks(k * nr).enumerate() {
                let col0 = p * nr;
                let width = panel.len() / k;
                let mr = rows_per_block(self.simd, width / lanes);
                for r0 in (0..m).step_by(mr) {
                    let tile = Tile {
                        a: &a[r0 * k + k0..],
                        lda: k,
                        b: &panel[k0 * width..(k0 + kc) * width],
                        kc,
                        dst: &mut dst[r0 * n + col0..],
                        ld: n,
                        cols: (n - col0).min(nr),
                        // Later passes over `k` add to what the first one stored.
                        load: accumulate || k0 > 0,
                    };
                    let (v, rows) = (width / lanes, (m - r0).min(mr));
                    // SAFETY: the instruction set (the caller); rows `r0..r0 + rows` of `a`
                    // (`k0 + kc ≤ k` columns each) and of `dst` (`cols` columns from `col0`,
                    // below `n`) lie in the slices (checked above); `b` holds `kc` rows of
                    // `width`.
                    unsafe {
                        match self.simd {
                            Simd::Avx512 => avx512::dispatch(v, rows, tile),
                            _ => avx2::dispatch(v, rows, tile),
                        }
                    }
                }
            }
        }
    }
}

/// Columns of a full panel and of one vector, on `simd`.
fn shape(simd: Simd) -> (usize, usize) {
    match simd {
        Simd::Avx512 => (64, 16),
        _ => (16, 8),
    }
}

/// Rows per register block for a panel of `v` vectors: about 24 accumulators on AVX-512, 12
/// on AVX2 (of its 16 registers, two hold the panel's row and one a broadcast).
fn rows_per_block(simd: Simd, v: usize) -> usize {
    match (simd, v) {
        (Simd::Avx512, 4) => 6,
        (Simd::Avx512, 3) => 8,
        (Simd::Avx2, 2) => 6,
        _ => 12,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each packed kernel the CPU runs against the f64 product: past one KC pass, narrow last
    /// panels (AVX-512: 48 and 32 columns; AVX2: 8) and column tails inside a vector, which
    /// must not be stored to.
    #[test]
    fn matches_an_f64_product() {
        let extra = [
            (7, KC + 9, 130, false),
            (6, 2 * KC, 64, true),
            (30, 33, 96, false),
            (13, 16, 12, true),
            (13, 16, 12, false),
        ];
        let paths: Vec<Simd> = Simd::available()
            .into_iter()
            .filter(|s| *s != Simd::Portable)
            .collect();
        if paths.is_empty() {
            println!("no AVX2 or AVX-512 on this CPU: the `gemm` crate serves float32 here");
        }
        for simd in paths {
            super::super::linear::assert_matches_f64_product(
                &extra,
                |x| x as f64,
                1e-5,
                |dst, acc, a, b, m, k, n| {
                    // SAFETY: `simd` is a path this CPU runs.
                    unsafe { PackedF32::new(b, k, n, simd).matmul(dst, acc, a, m) }
                },
            );
        }
    }
}
