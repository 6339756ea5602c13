//! Blocks made of whole dilation phases of `L ≤ 8` columns. A dilated group whose phases are
//! that short (StyleNAT's are 8 wide at every resolution) has every block spanning phases, so
//! the shifted-load path scores `2k − 1` offsets per key row for each lane. Here a lane scores
//! the `L` keys of its own phase instead (13 → 8 for k = 7): the block's sixteen keys are
//! loaded once and each key `j` of every lane's phase is an in-register permute of them.

use super::layout::Layout;
use super::pair::{MAX_HEAD_DIM, PairCtx, scale_into, softmax};
use super::{AxisWindow, Block, Job};
use std::arch::x86_64::*;

/// What every block of a dense group shares: its lanes' windows repeat block after block.
/// Built for blocks of 16 lanes (AVX-512) or 8 (AVX2, `avx2/dense.rs`: only the first eight
/// entries of each lane array are used).
pub struct Dense {
    /// Phase length `L` (4 or 8).
    pub len: usize,
    /// Per key `j` of a phase: bit `i` says lane `i`'s window holds it.
    pub(super) masks: [u16; 8],
    /// Per key `j`: the block position each lane reads it from.
    pub(super) perm: [[i32; 16]; 8],
    /// Per key `j`: each lane's column in a bias-table row (0 where the window lacks it).
    pub(super) bias_col: [[i32; 16]; 8],
}

impl Dense {
    /// The tables when every block of `blocks` (of `lanes` positions) consists of whole phases
    /// of 4 or 8 columns and all blocks' lanes have the same windows; `None` otherwise (the
    /// shifted-load path runs).
    pub fn new(
        l: &Layout,
        cols: &[AxisWindow],
        kernel: usize,
        blocks: &[Block],
        lanes: usize,
    ) -> Option<Self> {
        let d = cols.first()?.step;
        let len = l.col.len() / d;
        if d < 2 || !l.col.len().is_multiple_of(d) || !matches!(len, 4 | 8) || kernel > len {
            return None;
        }
        let mut tables: Option<Self> = None;
        for block in blocks {
            let mut t = Self {
                len,
                masks: [0; 8],
                perm: [[0; 16]; 8],
                bias_col: [[0; 16]; 8],
            };
            for i in 0..lanes {
                // Lanes past a short last block read the row's zero padding; give them the
                // first phase's pattern so every block shares one table.
                let lane = if i < block.count { i } else { i % len };
                let phase_start = block.start + lane / len * len;
                let x = l.col[block.start + lane];
                // Whole phases: the lane's phase starts at its block's multiple of `len`.
                if l.col[phase_start] >= d || l.col[phase_start] != x % d {
                    return None;
                }
                let w = cols[x];
                let first = w.first / d; // index in the phase of the window's first key
                for j in 0..len {
                    t.perm[j][i] = (i / len * len + j) as i32;
                    if (first..first + kernel).contains(&j) {
                        t.masks[j] |= 1 << i;
                        t.bias_col[j][i] = (w.bias0 + j - first) as i32;
                    }
                }
            }
            match &tables {
                None => tables = Some(t),
                Some(s) if s.masks == t.masks && s.bias_col == t.bias_col => {}
                Some(_) => return None,
            }
        }
        tables
    }
}

impl Job<'_> {
    /// Every block of one (row pair, head) in dense form; `L` = the phase length.
    ///
    /// # Safety
    /// AVX-512F; `K` is the group's kernel, `dense` was built for this group.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dense_blocks<const K: usize, const L: usize, const U: usize>(
        &self,
        ctx: &PairCtx<U>,
        dense: &Dense,
    ) {
        let load = |v: &[i32; 16]| unsafe { _mm512_loadu_si512(v.as_ptr().cast()) };
        let perm: [__m512i; L] = std::array::from_fn(|j| load(&dense.perm[j]));
        let bias_col: [__m512i; L] = std::array::from_fn(|j| load(&dense.bias_col[j]));
        let masks: [u16; L] = std::array::from_fn(|j| dense.masks[j]);
        // Zeroed once: the key row outside each row's window is never written (zero weights).
        let mut scores = [[[_mm512_setzero_ps(); L]; U]; 2];
        let mut lanes = [[[0f32; 16]; MAX_HEAD_DIM]; 2];
        for block in self.blocks {
            let tables = (&perm, &bias_col, &masks);
            // SAFETY: the caller's contract.
            unsafe { self.dense_block::<K, L, U>(ctx, block, tables, &mut scores, &mut lanes) };
        }
    }

    // `j` indexes the scores, permutes and masks at once.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn dense_block<const K: usize, const L: usize, const U: usize>(
        &self,
        ctx: &PairCtx<U>,
        block: &Block,
        (perm, bias_col, masks): (&[__m512i; L], &[__m512i; L], &[u16; L]),
        scores: &mut [[[__m512; L]; U]; 2],
        lanes: &mut [[[f32; 16]; MAX_HEAD_DIM]; 2],
    ) {
        let (l, hd) = (self.l, self.l.head_dim);
        let t = self.t.as_ptr();
        let scale = _mm512_set1_ps(self.scale);
        // A bias-table row has 2K − 1 ≤ 15 entries: one masked load.
        let table_mask = ((1u32 << (2 * K - 1).min(16)) - 1) as u16;
        let mut max = [_mm512_set1_ps(f32::NEG_INFINITY); 2];
        for u in 0..U {
            let mut s = [[_mm512_setzero_ps(); L]; 2];
            for ch in 0..hd {
                let row = ch * l.stride + block.start;
                // SAFETY: a block's sixteen positions lie within the row and its padding.
                let (qa, qb, kv) = unsafe {
                    (
                        _mm512_loadu_ps(t.add(ctx.q_rows[0] + row)),
                        _mm512_loadu_ps(t.add(ctx.q_rows[1] + row)),
                        _mm512_loadu_ps(t.add(ctx.key_rows[u] + row)),
                    )
                };
                for j in 0..L {
                    let kj = _mm512_permutexvar_ps(perm[j], kv);
                    s[0][j] = _mm512_fmadd_ps(qa, kj, s[0][j]);
                    s[1][j] = _mm512_fmadd_ps(qb, kj, s[1][j]);
                }
            }
            for r in 0..2 {
                let Some(ty) = u.checked_sub(ctx.first_tap[r]).filter(|&ty| ty < K) else {
                    continue;
                };
                // SAFETY: the group's table holds row `bias_rows[r][ty]` of 2K − 1 entries.
                let bias_row = unsafe {
                    _mm512_maskz_loadu_ps(table_mask, self.bias.as_ptr().add(ctx.bias_rows[r][ty]))
                };
                for j in 0..L {
                    let bv = _mm512_permutexvar_ps(bias_col[j], bias_row);
                    let v = _mm512_fmadd_ps(s[r][j], scale, bv);
                    let v = _mm512_mask_blend_ps(masks[j], _mm512_set1_ps(f32::NEG_INFINITY), v);
                    max[r] = _mm512_max_ps(max[r], v);
                    scores[r][u][j] = v;
                }
            }
        }
        let inv = softmax::<K, L, U, true>(scores, ctx.first_tap, masks, max);
        let v_rows: [usize; U] = ctx.key_rows.map(|r| r + ctx.value_shift + block.start);
        let mut ch = 0;
        while ch + 4 <= hd {
            let a = unsafe { self.dense_av::<L, U, 4>(scores, &v_rows, perm, ch) };
            scale_into(a, inv, lanes, ch);
            ch += 4;
        }
        for ch in ch..hd {
            let a = unsafe { self.dense_av::<L, U, 1>(scores, &v_rows, perm, ch) };
            scale_into(a, inv, lanes, ch);
        }
        // SAFETY: this task alone writes this head's channels of its two rows.
        unsafe { self.store(ctx, block, lanes) };
    }

    /// AV for channels `ch..ch + C` of one dense block and both rows: each value vector is
    /// loaded once per key row and permuted per key.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn dense_av<const L: usize, const U: usize, const C: usize>(
        &self,
        scores: &[[[__m512; L]; U]; 2],
        v_rows: &[usize; U],
        perm: &[__m512i; L],
        ch: usize,
    ) -> [[__m512; C]; 2] {
        let (t, stride) = (self.t.as_ptr(), self.l.stride);
        let mut a = [[_mm512_setzero_ps(); C]; 2];
        for u in 0..U {
            // SAFETY: as for the keys (v follows k in the same image row). Weights outside a
            // lane's window are exactly zero and the values finite (row data or zero padding).
            let v: [__m512; C] = std::array::from_fn(|c| unsafe {
                _mm512_loadu_ps(t.add(v_rows[u] + (ch + c) * stride))
            });
            for j in 0..L {
                let (wa, wb) = (scores[0][u][j], scores[1][u][j]);
                for c in 0..C {
                    let vj = _mm512_permutexvar_ps(perm[j], v[c]);
                    a[0][c] = _mm512_fmadd_ps(wa, vj, a[0][c]);
                    a[1][c] = _mm512_fmadd_ps(wb, vj, a[1][c]);
                }
            }
        }
        a
    }
}
