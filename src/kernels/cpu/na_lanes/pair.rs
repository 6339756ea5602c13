//! The lane kernel's work for one pair of image rows and one head: both rows' queries, block
//! by block, each key and value vector loaded once for the two rows (their windows share all
//! but one key row), which halves the loads per multiply–add of a one-row kernel.

use super::super::vmath::first_lanes16;
use super::layout::transpose;
use super::{Block, Job, exp2_nonpositive};
use std::arch::x86_64::*;

/// Largest head dimension (the AV results of a block live on the stack).
pub const MAX_HEAD_DIM: usize = 64;

/// What every block of one (row pair, head) shares. Key row `u` (`0..U`, `U = K + 1`) is the
/// `u`-th row from the first row's window start; row `r` reads key rows `first_tap[r]..+K`.
pub(super) struct PairCtx<const U: usize> {
    pub q_rows: [usize; 2],
    pub key_rows: [usize; U],
    pub first_tap: [usize; 2],
    /// From a key row to the value row of the same image row and head.
    pub value_shift: usize,
    /// Per row: bias-table row (start index) of each of its `K` taps (`U ≥ K` entries used).
    pub bias_rows: [[usize; U]; 2],
    /// Per row: output index of column 0, channel 0 of this head.
    pub out0: [usize; 2],
}

impl Job<'_> {
    /// Both rows of one pair for one head; `task` = `(b·heads + h)·pairs + pair`.
    /// `N = 2K − 1` is the number of key offsets a border block runs, `U = K + 1`.
    ///
    /// # Safety
    /// AVX-512F; `K` is the group's kernel.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn pair<const K: usize, const N: usize, const U: usize>(&self, task: usize) {
        let l = self.l;
        let height = self.p.height;
        let pairs = self.pairs.len();
        let (ya, yb) = self.pairs[task % pairs];
        let h = (task / pairs) % l.heads;
        let b = task / pairs / l.heads;
        let (wa, wb) = (self.rows[ya], self.rows[yb]);
        // Windows start at most one step apart for neighbouring rows of a phase.
        let shift = (wb.first - wa.first) / wa.step;
        debug_assert!(shift <= 1);
        let mut key_rows = [0usize; U];
        for (u, k) in key_rows.iter_mut().enumerate() {
            // Row K is read only by the second row when its window starts a step later;
            // otherwise any valid row will do (its scores are dropped).
            let y = wa.first + u * wa.step;
            let y = if y < height { y } else { wa.first };
            *k = l.at(b * height + y, 1, h);
        }
        let table = 2 * K - 1;
        let mut bias_rows = [[0usize; U]; 2];
        for (r, w) in [wa, wb].iter().enumerate() {
            for (ty, row) in bias_rows[r][..K].iter_mut().enumerate() {
                *row = (h * table + w.bias0 + ty) * table;
            }
        }
        let out0 =
            |y: usize| (b * height + y) * self.p.width * l.channels + (l.h0 + h) * l.head_dim;
        let ctx = PairCtx {
            q_rows: [l.at(b * height + ya, 0, h), l.at(b * height + yb, 0, h)],
            key_rows,
            first_tap: [0, shift],
            value_shift: l.heads * l.head_dim * l.stride,
            bias_rows,
            out0: [out0(ya), out0(yb)],
        };
        if let Some(dense) = self.dense {
            // SAFETY: the caller's contract; `dense` was built for this group.
            match dense.len {
                4 => unsafe { self.dense_blocks::<K, 4, U>(&ctx, dense) },
                _ => unsafe { self.dense_blocks::<K, 8, U>(&ctx, dense) },
            }
            return;
        }
        // Scratch for every block of the task, zeroed once here: the key row outside each
        // row's window is never written and must read as zero weights in AV.
        let mut centred = [[[_mm512_setzero_ps(); K]; U]; 2];
        let mut border = [[[_mm512_setzero_ps(); N]; U]; 2];
        let mut lanes = [[[0f32; 16]; MAX_HEAD_DIM]; 2];
        for block in self.blocks {
            match &block.masks {
                // Centred windows: offsets −K/2..=K/2, unmasked.
                None => unsafe {
                    let masks = [u16::MAX; K];
                    self.block::<K, K, U, false>(
                        &ctx,
                        block,
                        masks,
                        K / 2,
                        &mut centred,
                        &mut lanes,
                    )
                },
                Some(m) => {
                    let mut masks = [0u16; N];
                    masks.copy_from_slice(m);
                    unsafe {
                        self.block::<K, N, U, true>(
                            &ctx,
                            block,
                            masks,
                            K - 1,
                            &mut border,
                            &mut lanes,
                        )
                    }
                }
            }
        }
    }

    /// One block of sixteen queries in each of the two rows over `M` key offsets
    /// `−before..M − before` per key row, lane `i` using offset `o` where bit `i` of
    /// `masks[o]` is set.
    // Offsets index several arrays at once (keys, scores, masks, bias); ranges read clearer.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn block<const K: usize, const M: usize, const U: usize, const MASKED: bool>(
        &self,
        ctx: &PairCtx<U>,
        block: &Block,
        masks: [u16; M],
        before: usize,
        scores: &mut [[[__m512; M]; U]; 2],
        lanes: &mut [[[f32; 16]; MAX_HEAD_DIM]; 2],
    ) {
        let (l, hd) = (self.l, self.l.head_dim);
        let t = self.t.as_ptr();
        let scale = _mm512_set1_ps(self.scale);
        let table = 2 * K - 1;
        // `scores`: per row and key row, the scores (softmax numerators after the second
        // pass); the key row outside a row's window stays zero, so AV runs over all U rows.
        let mut max = [_mm512_set1_ps(f32::NEG_INFINITY); 2];
        for u in 0..U {
            let mut s = [[_mm512_setzero_ps(); M]; 2];
            for ch in 0..hd {
                let row = ch * l.stride + block.start;
                // SAFETY: positions `start − (K−1) ..= start + 15 + (K−1)` lie within the
                // row's paddings. Plain loads: a lane outside its window gets −∞ below.
                let (qa, qb, k0) = unsafe {
                    (
                        _mm512_loadu_ps(t.add(ctx.q_rows[0] + row)),
                        _mm512_loadu_ps(t.add(ctx.q_rows[1] + row)),
                        t.add(ctx.key_rows[u] + row - before),
                    )
                };
                // The next block's new cache line of this key row (strided rows defeat the
                // hardware prefetcher).
                _mm_prefetch::<_MM_HINT_T0>(k0.wrapping_add(M + 32).cast());
                for o in 0..M {
                    let kv = unsafe { _mm512_loadu_ps(k0.add(o)) };
                    s[0][o] = _mm512_fmadd_ps(qa, kv, s[0][o]);
                    s[1][o] = _mm512_fmadd_ps(qb, kv, s[1][o]);
                }
            }
            for r in 0..2 {
                let Some(ty) = u.checked_sub(ctx.first_tap[r]).filter(|&ty| ty < K) else {
                    continue;
                };
                // ·scale + bias (one value per offset); offsets outside a lane's window → −∞.
                let bias = &self.bias[ctx.bias_rows[r][ty]..][..table];
                for o in 0..M {
                    let bv = _mm512_set1_ps(bias[o + K - 1 - before]);
                    let v = _mm512_fmadd_ps(s[r][o], scale, bv);
                    let v = if MASKED {
                        _mm512_mask_blend_ps(masks[o], _mm512_set1_ps(f32::NEG_INFINITY), v)
                    } else {
                        v
                    };
                    max[r] = _mm512_max_ps(max[r], v);
                    scores[r][u][o] = v;
                }
            }
        }
        let inv = softmax::<K, M, U, MASKED>(scores, ctx.first_tap, &masks, max);
        // AV, four channels at a time (eight accumulation chains with the two rows).
        let v_rows: [usize; U] = ctx
            .key_rows
            .map(|r| r + ctx.value_shift + block.start - before);
        let mut ch = 0;
        while ch + 4 <= hd {
            let a = unsafe { self.av::<M, U, MASKED, 4>(scores, &v_rows, &masks, ch) };
            scale_into(a, inv, lanes, ch);
            ch += 4;
        }
        for ch in ch..hd {
            let a = unsafe { self.av::<M, U, MASKED, 1>(scores, &v_rows, &masks, ch) };
            scale_into(a, inv, lanes, ch);
        }
        // SAFETY: this task alone writes this head's channels of its two rows.
        unsafe { self.store(ctx, block, lanes) };
    }

    /// Writes a block's normalised results (`lanes[r][channel][lane]`) to the output, sixteen
    /// channels at a time through a register transpose (one masked store per lane).
    ///
    /// # Safety
    /// AVX-512F; this task alone writes this head's channels of the pair's two rows (a pair
    /// `(y, y)` writes the same values twice).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn store<const U: usize>(
        &self,
        ctx: &PairCtx<U>,
        block: &Block,
        lanes: &[[[f32; 16]; MAX_HEAD_DIM]; 2],
    ) {
        let (l, hd) = (self.l, self.l.head_dim);
        for (lanes, out0) in lanes.iter().zip(ctx.out0) {
            for ch0 in (0..hd).step_by(16) {
                let n = (hd - ch0).min(16);
                let mask = first_lanes16(n);
                // SAFETY: `ch0 + c < hd ≤ MAX_HEAD_DIM` for `c < n`; 16 floats per lane row.
                let per_lane = transpose(std::array::from_fn(|c| unsafe {
                    if c < n {
                        _mm512_loadu_ps(lanes[ch0 + c].as_ptr())
                    } else {
                        _mm512_setzero_ps()
                    }
                }));
                for (i, v) in per_lane.iter().enumerate().take(block.count) {
                    let x = l.col[block.start + i];
                    // SAFETY: the caller's contract; the output holds the `n` stored floats.
                    unsafe {
                        _mm512_mask_storeu_ps(self.out.at(out0 + x * l.channels + ch0), mask, *v)
                    };
                }
            }
        }
    }

    /// AV for channels `ch..ch + C` of one block and both rows, held in registers over all
    /// `U` key rows. `v_rows[u]` is where offset `−before` of the block's first lane starts.
    // `j` indexes both rows' accumulators and the value rows.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn av<const M: usize, const U: usize, const MASKED: bool, const C: usize>(
        &self,
        scores: &[[[__m512; M]; U]; 2],
        v_rows: &[usize; U],
        masks: &[u16; M],
        ch: usize,
    ) -> [[__m512; C]; 2] {
        let (t, stride) = (self.t.as_ptr(), self.l.stride);
        let mut a = [[_mm512_setzero_ps(); C]; 2];
        for u in 0..U {
            for j in 0..C {
                let v = t.wrapping_add(v_rows[u] + (ch + j) * stride + M + 32);
                _mm_prefetch::<_MM_HINT_T0>(v.cast());
            }
            for o in 0..M {
                let (wa, wb) = (scores[0][u][o], scores[1][u][o]);
                for j in 0..C {
                    // SAFETY: within the row's paddings, as for the keys (v follows k in the
                    // same image row); lanes outside their window are not read, so a NaN
                    // there stays out.
                    let vv = unsafe {
                        let v = t.add(v_rows[u] + (ch + j) * stride + o);
                        if MASKED {
                            _mm512_maskz_loadu_ps(masks[o], v)
                        } else {
                            _mm512_loadu_ps(v)
                        }
                    };
                    a[0][j] = _mm512_fmadd_ps(wa, vv, a[0][j]);
                    a[1][j] = _mm512_fmadd_ps(wb, vv, a[1][j]);
                }
            }
        }
        a
    }
}

/// Turns each row's scores (its `K` key rows from `first_tap[r]`) into softmax numerators in
/// place — exactly zero where a lane's mask is clear — and returns `1 / sum` per row.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn softmax<const K: usize, const M: usize, const U: usize, const MASKED: bool>(
    scores: &mut [[[__m512; M]; U]; 2],
    first_tap: [usize; 2],
    masks: &[u16; M],
    max: [__m512; 2],
) -> [__m512; 2] {
    let mut inv = [_mm512_setzero_ps(); 2];
    for r in 0..2 {
        let mut sum = _mm512_setzero_ps();
        for row in &mut scores[r][first_tap[r]..first_tap[r] + K] {
            for (v, &m) in row.iter_mut().zip(masks) {
                let e = exp2_nonpositive(_mm512_sub_ps(*v, max[r]));
                // Exactly zero outside the window (the exp bottoms out at 2^−125, not 0).
                *v = if MASKED { _mm512_maskz_mov_ps(m, e) } else { e };
                sum = _mm512_add_ps(sum, *v);
            }
        }
        inv[r] = _mm512_div_ps(_mm512_set1_ps(1.0), sum);
    }
    inv
}

/// `lanes[r][ch + j] = a[r][j] · inv[r]`: one block's AV results, normalised, as floats.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn scale_into<const C: usize>(
    a: [[__m512; C]; 2],
    inv: [__m512; 2],
    lanes: &mut [[[f32; 16]; MAX_HEAD_DIM]; 2],
    ch: usize,
) {
    for r in 0..2 {
        for (j, &v) in a[r].iter().enumerate() {
            // SAFETY: a store to a local array of 16 floats.
            unsafe { _mm512_storeu_ps(lanes[r][ch + j].as_mut_ptr(), _mm512_mul_ps(v, inv[r])) };
        }
    }
}
