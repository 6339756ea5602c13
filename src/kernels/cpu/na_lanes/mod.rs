//! Neighbourhood attention forward on AVX-512 with one query per vector lane.
//!
//! The per-query kernel in `mod.rs` spends most of its time reducing short dot products across
//! lanes. Here sixteen queries share a vector and nothing is reduced across lanes. q, k and v
//! of a head group are first copied channel-major with each row's columns reordered phase by
//! phase (`x = j·d + phase` goes to `offset[phase] + j`), so a query's keys in a row are `k`
//! consecutive positions. A block is sixteen consecutive positions (it may span phases: a
//! dilated group's phases are often only 8 wide). For a key offset `o` every lane loads the
//! position `o` after its own — one plain vector load — and a lane mask keeps the offsets
//! inside that lane's window. In the interior all lanes' windows are centred and the block
//! runs the `k` offsets `−k/2..=k/2` unmasked; at a border, or where a block spans phases, it
//! runs `−(k−1)..=k−1` and the mask follows the NATTEN rule ([`AxisWindow`]). The bias of
//! offset `o` is the same for every lane (table column `o + k − 1`).

mod layout;

use super::super::NaProblem;
use super::super::window::AxisWindow;
use super::OutRows;
use layout::Layout;
use rayon::prelude::*;
use std::arch::x86_64::*;
use std::cell::RefCell;

/// Largest kernel handled here (the score buffer is sized for it).
const MAX_KERNEL: usize = 13;
/// Largest head dimension (the AV accumulators live on the stack).
const MAX_HEAD_DIM: usize = 64;

/// Whether [`na2d`] handles this problem (odd kernels up to 13, head dims up to 64).
pub fn supports(p: &NaProblem) -> bool {
    p.head_dim <= MAX_HEAD_DIM
        && p.groups
            .iter()
            .all(|g| g.kernel <= MAX_KERNEL && g.kernel % 2 == 1)
}

thread_local! {
    /// The channel-major copy of one head group, kept between calls (it is tens of MB at
    /// 256²; allocating it afresh would page-fault every call).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Same contract as [`super::na2d`].
///
/// # Safety
/// The CPU must support AVX-512F, and [`supports`] must hold for `p`.
pub unsafe fn na2d(p: &NaProblem, qkv: &[f32], rpb: &[Vec<f32>]) -> Vec<f32> {
    let c = p.heads() * p.head_dim;
    let mut out = vec![0f32; p.batch * p.height * p.width * c];
    SCRATCH.with_borrow_mut(|scratch| {
        let mut h0 = 0;
        for (g, group) in p.groups.iter().enumerate() {
            let layout = Layout::new(p, g, h0);
            // SAFETY: the caller guarantees AVX-512F.
            unsafe { layout.fill(qkv, scratch) };
            let (rows, cols) = p.windows(group);
            let job = Job {
                p,
                l: &layout,
                t: scratch,
                bias: &rpb[g],
                rows: &rows,
                blocks: &blocks(&layout, &cols, group.kernel),
                out: OutRows(out.as_mut_ptr()),
            };
            let tasks = p.batch * group.heads * p.height;
            (0..tasks).into_par_iter().for_each(|task| {
                // SAFETY: the caller guarantees AVX-512F and a supported kernel size.
                unsafe {
                    match group.kernel {
                        1 => job.row::<1, 1>(task),
                        3 => job.row::<3, 5>(task),
                        5 => job.row::<5, 9>(task),
                        7 => job.row::<7, 13>(task),
                        9 => job.row::<9, 17>(task),
                        11 => job.row::<11, 21>(task),
                        _ => job.row::<13, 25>(task),
                    }
                }
            });
            h0 += group.heads;
        }
    });
    out
}

/// A block of sixteen reordered positions and which key offsets each lane may use.
struct Block {
    start: usize,
    /// Lanes holding a query (the last block of a row may be short).
    count: usize,
    /// `Some(masks)` at borders and phase boundaries: bit `i` of `masks[o + k − 1]` says lane
    /// `i` may use offset `o`. `None`: every lane's window is centred.
    masks: Option<Vec<u16>>,
}

/// The blocks of a reordered row (the same for every row, head and image).
fn blocks(l: &Layout, cols: &[AxisWindow], kernel: usize) -> Vec<Block> {
    let width = l.col.len();
    (0..width)
        .step_by(16)
        .map(|start| {
            let count = (width - start).min(16);
            let mut masks = vec![0u16; 2 * kernel - 1];
            let mut centred = count == 16;
            for i in 0..count {
                let x = l.col[start + i];
                let w = cols[x];
                // Index of the query inside its own window: its first key is `e` positions
                // before it in the reordered row (same phase, so the same distance).
                let e = (x - w.first) / w.step;
                centred &= e == kernel / 2;
                for t in 0..kernel {
                    masks[t + kernel - 1 - e] |= 1 << i;
                }
            }
            Block {
                start,
                count,
                masks: (!centred).then_some(masks),
            }
        })
        .collect()
}

/// One head group's call.
struct Job<'a> {
    p: &'a NaProblem,
    l: &'a Layout,
    t: &'a [f32],
    /// `[heads, 2k − 1, 2k − 1]`.
    bias: &'a [f32],
    rows: &'a [AxisWindow],
    blocks: &'a [Block],
    out: OutRows,
}

impl Job<'_> {
    /// Every query of one image row for one head; `task` = `(b·heads + h)·height + y`.
    /// `N = 2K − 1` is the number of key offsets a border block runs.
    ///
    /// # Safety
    /// AVX-512F; `K` is the group's kernel and at most [`MAX_KERNEL`].
    #[target_feature(enable = "avx512f")]
    unsafe fn row<const K: usize, const N: usize>(&self, task: usize) {
        let l = self.l;
        let height = self.p.height;
        let y = task % height;
        let h = (task / height) % l.heads;
        let b = task / height / l.heads;
        let wy = self.rows[y];
        let table = 2 * K - 1;
        // Per tap row: where its keys start and which bias-table row it reads.
        let mut key_rows = [0usize; K];
        let mut bias_rows = [0usize; K];
        for ty in 0..K {
            key_rows[ty] = l.at(b * height + wy.key(ty), 1, h);
            bias_rows[ty] = (h * table + wy.bias0 + ty) * table;
        }
        let ctx = RowCtx {
            q_row: l.at(b * height + y, 0, h),
            key_rows,
            value_shift: l.heads * l.head_dim * l.stride,
            bias_rows,
            out0: (b * height + y) * self.p.width * l.channels + (l.h0 + h) * l.head_dim,
        };
        for block in self.blocks {
            match &block.masks {
                // Centred windows: offsets −K/2..=K/2, unmasked.
                None => unsafe { self.block::<K, K, false>(&ctx, block, [u16::MAX; K], K / 2) },
                Some(m) => {
                    let mut masks = [0u16; N];
                    masks.copy_from_slice(m);
                    unsafe { self.block::<K, N, true>(&ctx, block, masks, K - 1) }
                }
            }
        }
    }

    /// One block of sixteen queries over `M` key offsets `−before..M − before` (in each of the
    /// `K` key rows), lane `i` using offset `o` where bit `i` of `masks[o + before]` is set.
    // Offsets index several arrays at once (keys, scores, masks, bias); ranges read clearer.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn block<const K: usize, const M: usize, const MASKED: bool>(
        &self,
        ctx: &RowCtx<K>,
        block: &Block,
        masks: [u16; M],
        before: usize,
    ) {
        let (l, hd) = (self.l, self.l.head_dim);
        let t = self.t.as_ptr();
        let scale = _mm512_set1_ps(self.p.scale);
        let table = 2 * K - 1;
        let mut scores = [[_mm512_setzero_ps(); M]; K];
        let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
        for ty in 0..K {
            let mut s = [_mm512_setzero_ps(); M];
            for ch in 0..hd {
                let row = ch * l.stride + block.start;
                // SAFETY: positions `start − (K−1) ..= start + 15 + (K−1)` lie within the
                // row's paddings; masked-off lanes are not read.
                // Plain loads: a lane outside its window gets −∞ below whatever it read.
                let qv = unsafe { _mm512_loadu_ps(t.add(ctx.q_row + row)) };
                let k0 = unsafe { t.add(ctx.key_rows[ty] + row - before) };
                // The next block's new cache line of this key row (strided rows defeat the
                // hardware prefetcher).
                _mm_prefetch::<_MM_HINT_T0>(k0.wrapping_add(M + 32).cast());
                for o in 0..M {
                    let kv = unsafe { _mm512_loadu_ps(k0.add(o)) };
                    s[o] = _mm512_fmadd_ps(qv, kv, s[o]);
                }
            }
            // ·scale + bias (one value per offset); offsets outside a lane's window → −∞.
            let bias = &self.bias[ctx.bias_rows[ty]..][..table];
            for o in 0..M {
                let bv = _mm512_set1_ps(bias[o + K - 1 - before]);
                let v = _mm512_fmadd_ps(s[o], scale, bv);
                let v = if MASKED {
                    _mm512_mask_blend_ps(masks[o], _mm512_set1_ps(f32::NEG_INFINITY), v)
                } else {
                    v
                };
                max = _mm512_max_ps(max, v);
                scores[ty][o] = v;
            }
        }
        let mut sum = _mm512_setzero_ps();
        for row in &mut scores {
            for (v, &m) in row.iter_mut().zip(&masks) {
                // Exactly zero outside the window (the exp bottoms out at e^−87, not 0).
                let e = exp_nonpositive(_mm512_sub_ps(*v, max));
                *v = if MASKED { _mm512_maskz_mov_ps(m, e) } else { e };
                sum = _mm512_add_ps(sum, *v);
            }
        }
        let inv = _mm512_div_ps(_mm512_set1_ps(1.0), sum);
        // AV, four channels at a time so four accumulation chains are in flight; the
        // accumulators stay in registers over all K key rows.
        let mut lanes = [[0f32; 16]; MAX_HEAD_DIM];
        let v_rows: [usize; K] = ctx
            .key_rows
            .map(|r| r + ctx.value_shift + block.start - before);
        let mut ch = 0;
        while ch + 4 <= hd {
            let a = unsafe { self.av::<K, M, MASKED, 4>(&scores, &v_rows, &masks, ch) };
            for (j, a) in a.into_iter().enumerate() {
                // SAFETY: a store to a local array of 16 floats.
                unsafe { _mm512_storeu_ps(lanes[ch + j].as_mut_ptr(), _mm512_mul_ps(a, inv)) };
            }
            ch += 4;
        }
        while ch < hd {
            let [a] = unsafe { self.av::<K, M, MASKED, 1>(&scores, &v_rows, &masks, ch) };
            // SAFETY: a store to a local array of 16 floats.
            unsafe { _mm512_storeu_ps(lanes[ch].as_mut_ptr(), _mm512_mul_ps(a, inv)) };
            ch += 1;
        }
        for i in 0..block.count {
            let x = l.col[block.start + i];
            // SAFETY: this task alone writes this head's channels of this image row.
            let o = unsafe { self.out.span(ctx.out0 + x * l.channels, hd) };
            for (o, lane) in o.iter_mut().zip(&lanes) {
                *o = lane[i];
            }
        }
    }
}

impl Job<'_> {
    /// AV for channels `ch..ch + C` of one block: `C` accumulation chains in flight, held in
    /// registers over all `K` key rows. `v_rows[ty]` is where offset `−before` of the block's
    /// first lane starts in value row `ty`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn av<const K: usize, const M: usize, const MASKED: bool, const C: usize>(
        &self,
        scores: &[[__m512; M]; K],
        v_rows: &[usize; K],
        masks: &[u16; M],
        ch: usize,
    ) -> [__m512; C] {
        let (t, stride) = (self.t.as_ptr(), self.l.stride);
        let mut a = [_mm512_setzero_ps(); C];
        for ty in 0..K {
            for o in 0..M {
                let w = scores[ty][o];
                if o == 0 {
                    for j in 0..C {
                        let v = t.wrapping_add(v_rows[ty] + (ch + j) * stride + M + 32);
                        _mm_prefetch::<_MM_HINT_T0>(v.cast());
                    }
                }
                for (j, a) in a.iter_mut().enumerate() {
                    // SAFETY: within the row's paddings, as for the keys (v follows k in the
                    // same image row); lanes outside their window are not read, so a NaN
                    // there stays out.
                    let vv = unsafe {
                        let v = t.add(v_rows[ty] + (ch + j) * stride + o);
                        if MASKED {
                            _mm512_maskz_loadu_ps(masks[o], v)
                        } else {
                            _mm512_loadu_ps(v)
                        }
                    };
                    *a = _mm512_fmadd_ps(w, vv, *a);
                }
            }
        }
        a
    }
}

/// What every block of one (image row, head) shares.
struct RowCtx<const K: usize> {
    q_row: usize,
    key_rows: [usize; K],
    /// From a key row to the value row of the same image row and head.
    value_shift: usize,
    bias_rows: [usize; K],
    /// Output index of column 0, channel 0 of this head.
    out0: usize,
}

/// [`super::exp_nonpositive`] on sixteen lanes.
#[target_feature(enable = "avx512f")]
#[inline]
fn exp_nonpositive(x: __m512) -> __m512 {
    const MAGIC: f32 = 12_582_912.0;
    let x = _mm512_max_ps(x, _mm512_set1_ps(-87.0));
    let t = _mm512_fmadd_ps(
        x,
        _mm512_set1_ps(std::f32::consts::LOG2_E),
        _mm512_set1_ps(MAGIC),
    );
    let kf = _mm512_sub_ps(t, _mm512_set1_ps(MAGIC));
    let k = _mm512_sub_epi32(
        _mm512_castps_si512(t),
        _mm512_set1_epi32(MAGIC.to_bits() as i32),
    );
    let r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(0.693_145_75), x);
    let r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(1.428_606_8e-6), r);
    let mut poly = _mm512_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(c));
    }
    let two_k = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
        k,
        _mm512_set1_epi32(127),
    )));
    _mm512_mul_ps(poly, two_k)
}
