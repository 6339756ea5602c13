//! How a block of the AVX2 kernel meets memory: it prefetches the key and value lines of the
//! block after next where a row's rows outgrow L2, and stores its outputs through a transpose.

use super::super::Block;
use super::{Job, RowCtx};
use std::arch::x86_64::*;

/// Above this many bytes of key and value rows per task (`2 K` rows of `head_dim` channel rows),
/// shifted blocks prefetch their next cache lines. A row task reads `2 K · head_dim` separate
/// streams, more than the hardware prefetchers follow, and at 512²–1024² (~460 KB, about all of
/// a 512 KB L2) the first loads of each line waited on L3. Single thread, AMD EPYC (AVX2),
/// minimum over 12–15 runs in each of three experiments: 1024² head dim 8, undilated group
/// 216–234 → 203–206 ms; 512² head dim 16 83 → 79 ms; 256² head dim 32 39.4 → 38.6 ms. Small
/// rows (128², head dim 4: 28 KB) ran 7 % slower with it, and dense blocks did not gain, so
/// neither prefetches.
pub(super) const PREFETCH_ROWS_BYTES: usize = 256 * 1024;

impl Job<'_> {
    /// Channels `ch0..ch0 + c` (`c` ≤ 4) of block `block`'s outputs, accumulator `acc[j]` ·
    /// `inv` for channel `ch0 + j` (lane `i` for query `i`), into its queries' pixels: the
    /// four vectors are transposed so each query's channels are one four-float store.
    ///
    /// # Safety
    /// AVX2; this task alone writes this head's channels of its image row.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn store<const K: usize>(
        &self,
        ctx: &RowCtx<K>,
        block: &Block,
        ch0: usize,
        c: usize,
        acc: &[__m256; 4],
        inv: __m256,
    ) {
        let a = acc.map(|v| _mm256_mul_ps(v, inv));
        let (lo01, hi01) = (
            _mm256_unpacklo_ps(a[0], a[1]),
            _mm256_unpackhi_ps(a[0], a[1]),
        );
        let (lo23, hi23) = (
            _mm256_unpacklo_ps(a[2], a[3]),
            _mm256_unpackhi_ps(a[2], a[3]),
        );
        // Query `i` (and `i + 4` in the upper half) of `r[i]`.
        let r = [
            _mm256_shuffle_ps::<0x44>(lo01, lo23),
            _mm256_shuffle_ps::<0xee>(lo01, lo23),
            _mm256_shuffle_ps::<0x44>(hi01, hi23),
            _mm256_shuffle_ps::<0xee>(hi01, hi23),
        ];
        let q: [__m128; 8] = std::array::from_fn(|i| match i < 4 {
            true => _mm256_castps256_ps128(r[i]),
            false => _mm256_extractf128_ps::<1>(r[i - 4]),
        });
        let l = self.l;
        for (i, q) in q.iter().enumerate().take(block.count) {
            let x = l.col[block.start + i];
            let o = self.out.at(ctx.out0 + x * l.channels + ch0);
            // SAFETY: the caller's contract: the output holds these `c` floats of this pixel.
            unsafe {
                if c == 4 {
                    _mm_storeu_ps(o, *q);
                } else {
                    let mut lanes = [0f32; 4];
                    _mm_storeu_ps(lanes.as_mut_ptr(), *q);
                    std::ptr::copy_nonoverlapping(lanes.as_ptr(), o, c);
                }
            }
        }
    }

    /// Prefetches the key and value lines the block after next reads first (once per 64-byte
    /// line: every other block).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) fn prefetch_next<const K: usize>(&self, ctx: &RowCtx<K>, block: &Block) {
        if (block.start / 8) % 2 == 1 {
            return;
        }
        let (l, hd, stride) = (self.l, self.l.head_dim, self.l.stride);
        let t = self.t.as_ptr();
        let values = l.heads * hd * stride;
        for &row in &ctx.key_rows {
            for ch in 0..hd {
                let at = row + ch * stride + block.start + 16;
                // A prefetch never faults; `wrapping_add` keeps a position past the copy's end
                // a plain address.
                _mm_prefetch::<_MM_HINT_T0>(t.wrapping_add(at).cast());
                _mm_prefetch::<_MM_HINT_T0>(t.wrapping_add(at + values).cast());
            }
        }
    }

    /// The offsets of channels `ch..ch + 4` from channel 0 of a row (`stride` apart); past the
    /// head dim `hd` the last channel again, so four-channel loops stay whole (what they
    /// compute there is not stored).
    pub(super) fn four_channels(ch: usize, hd: usize, stride: usize) -> [usize; 4] {
        std::array::from_fn(|j| (ch + j).min(hd - 1) * stride)
    }
}
