//! Dense phases on eight lanes: where a group's blocks are whole dilation phases of `L` = 8
//! (or 4) columns — StyleNAT's dilated groups at every resolution — every block spans phases,
//! so the shifted-load path scores `2K − 1` offsets per key row. Here each lane scores the `L`
//! keys of its own phase instead (13 → 8 for K = 7), as the AVX-512 kernel's `dense.rs` does:
//! key `j` of every lane is one broadcast (`L` = 8: all lanes share a phase) or a permute of
//! the block's keys (`L` = 4: two phases).

use super::super::dense::Dense;
use super::{Av, Block, Job, RowCtx, Values, lane_mask, softmax};
use std::arch::x86_64::*;

/// A dense group's bias lane by lane, `[table row][key j][lane]` for every row of the group's
/// `[heads, 2K − 1, 2K − 1]` table (rows of `table` = 2K − 1 entries), so the eight biases of a
/// (key row, key) pair are one load. Zero where a lane's window lacks the key.
pub(super) fn lane_bias(bias: &[f32], table: usize, dense: &Dense) -> Vec<f32> {
    let len = dense.len;
    let mut out = vec![0f32; bias.len() / table * len * 8];
    for (row, lanes) in bias.chunks_exact(table).zip(out.chunks_exact_mut(len * 8)) {
        for (j, lanes) in lanes.chunks_exact_mut(8).enumerate() {
            for (i, b) in lanes.iter_mut().enumerate() {
                if dense.masks[j] >> i & 1 == 1 {
                    *b = row[dense.bias_col[j][i] as usize];
                }
            }
        }
    }
    out
}

impl Job<'_> {
    /// Every block of one (image row, head) in dense form; `bias` is [`lane_bias`].
    ///
    /// # Safety
    /// AVX2 + FMA; `K` is the group's kernel, `dense` was built for this group's blocks of
    /// eight and `L` is its phase length. `WIDE`: as for [`Job::block`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dense_row<const K: usize, const L: usize, const WIDE: bool>(
        &self,
        ctx: &RowCtx<K>,
        dense: &Dense,
        bias: &[f32],
    ) {
        // SAFETY: eight i32 from a 16-entry array.
        let perm: [__m256i; L] =
            std::array::from_fn(|j| unsafe { _mm256_loadu_si256(dense.perm[j].as_ptr().cast()) });
        let masks: [__m256; L] = std::array::from_fn(|j| lane_mask(dense.masks[j]));
        for block in self.blocks {
            // SAFETY: the caller's contract.
            unsafe { self.dense_block::<K, L, WIDE>(ctx, block, &perm, &masks, bias) };
        }
    }

    /// Key `j` of every lane's phase, from the block's position `at` in one channel row.
    ///
    /// # Safety
    /// AVX2; the block's eight positions from `at` are readable.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn phase_keys<const L: usize>(at: *const f32, perm: &[__m256i; L]) -> [__m256; L] {
        // SAFETY: the caller's contract.
        unsafe {
            if L == 8 {
                std::array::from_fn(|j| _mm256_broadcast_ss(&*at.add(j)))
            } else {
                let v = _mm256_loadu_ps(at);
                std::array::from_fn(|j| _mm256_permutevar8x32_ps(v, perm[j]))
            }
        }
    }

    // `j` indexes the scores, keys and masks at once.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn dense_block<const K: usize, const L: usize, const WIDE: bool>(
        &self,
        ctx: &RowCtx<K>,
        block: &Block,
        perm: &[__m256i; L],
        masks: &[__m256; L],
        bias: &[f32],
    ) {
        let (l, hd, stride) = (self.l, self.l.head_dim, self.l.stride);
        let t = self.t.as_ptr();
        let table = 2 * K - 1;
        let scale = _mm256_set1_ps(self.scale);
        let mut max = _mm256_set1_ps(f32::NEG_INFINITY);
        // Every entry is written below (see the shifted form).
        let mut scores = std::mem::MaybeUninit::<[[__m256; L]; K]>::uninit();
        let rows = scores.as_mut_ptr().cast::<[__m256; L]>();
        for ty in 0..K {
            let mut s = [_mm256_setzero_ps(); L];
            for ch in 0..hd {
                let row = ch * stride + block.start;
                // SAFETY: a block's eight positions lie within the row and its padding.
                let (qv, keys) = unsafe {
                    (
                        _mm256_loadu_ps(t.add(ctx.q_row + row)),
                        Self::phase_keys::<L>(t.add(ctx.key_rows[ty] + row), perm),
                    )
                };
                for j in 0..L {
                    s[j] = _mm256_fmadd_ps(qv, keys[j], s[j]);
                }
            }
            // ·scale + bias; keys outside a lane's window → −∞.
            let b = &bias[ctx.bias_rows[ty] / table * L * 8..][..L * 8];
            for j in 0..L {
                // SAFETY: eight floats of `b`.
                let bj = unsafe { _mm256_loadu_ps(b.as_ptr().add(j * 8)) };
                let v = _mm256_fmadd_ps(s[j], scale, bj);
                let v = _mm256_blendv_ps(_mm256_set1_ps(f32::NEG_INFINITY), v, masks[j]);
                max = _mm256_max_ps(max, v);
                s[j] = v;
            }
            // SAFETY: row `ty` of the `K` rows.
            unsafe { rows.add(ty).write(s) };
        }
        // SAFETY: all `K` rows were written.
        let scores = unsafe { scores.assume_init_mut() };
        let inv = softmax::<K, L, true>(scores, max, masks);
        // AV, unrolled whole. Values outside a lane's window are finite row data with weight
        // exactly zero.
        let v0 = l.heads * hd * stride + block.start;
        let mut ch = 0;
        while ch < hd {
            let mut av = Av::<WIDE>::new(ch, hd, stride);
            for ty in 0..K {
                let at = ctx.key_rows[ty] + v0;
                for k in 0..L {
                    // Key `k` of every lane's phase, as [`Self::phase_keys`] reads it.
                    let (at, how) = match L {
                        8 => (at + k, Values::Broadcast),
                        _ => (at, Values::Permuted(perm[k])),
                    };
                    // SAFETY: as for the keys (v follows k in the same image row).
                    unsafe { av.add(k, scores[ty][k], t.add(at), how) };
                }
            }
            // SAFETY: this task alone writes this head's channels of its image row.
            ch = unsafe { av.store(self, ctx, block, inv) };
        }
    }
}
