//! Neighbourhood attention forward on AVX2 with one query per lane: the AVX-512 kernel's
//! layout and blocks (see the parent module) on eight lanes, one image row at a time, without
//! its row pairs. Against the per-query kernel it drops the horizontal sums and the per-tap
//! bookkeeping, which dominated at small head dims. Blocks that are whole dilation phases run
//! in dense form (`dense.rs`).

mod av;
mod dense;
mod memory;

use super::super::super::NaProblem;
use super::super::super::window::phase_order;
use super::super::vmath::exp2_nonpositive8;
use super::dense::Dense;
use super::{Block, Group, Layout, Plan};
use av::{Av, Values};
use memory::PREFETCH_ROWS_BYTES;
use rayon::prelude::*;
use std::arch::x86_64::*;

/// Largest head dim this kernel is used for in every problem. Measured single-threaded against
/// the per-query kernel (AMD EPYC, FFHQ-1024 and fixture layers): head dim 4 ran 1.6–2.9×
/// faster (1024²: 1 685 → 1 073 ms), 8 about 1.0–1.2×, 16 up to 1.2× slower (256²: 162 → 200
/// ms) while dilated groups ran 13 shifted offsets; the per-query kernel's eight-tap dots
/// already fill its vectors.
const MAX_PREFERRED_HEAD_DIM: usize = 8;

/// Whether the AVX2 path runs `p` here rather than in the per-query kernel: at small head dims,
/// and at any head dim where every dilated group runs in dense form (FFHQ-256, head dim 32,
/// single-threaded: 128² 70–90 → 65–79 ms, 256² 137–145 → 122–134 ms; 32² and 64² the same
/// within noise).
pub fn preferred(p: &NaProblem) -> bool {
    super::supports(p)
        && (p.head_dim <= MAX_PREFERRED_HEAD_DIM
            || (p.groups.iter().any(|g| g.dilation > 1)
                && (0..p.groups.len()).all(|g| p.groups[g].dilation == 1 || dense_group(p, g))))
}

/// Whether group `g` of `p` has whole short phases ([`Dense`]) in blocks of eight.
fn dense_group(p: &NaProblem, g: usize) -> bool {
    Plan::new(p, g, &Layout::new(p, g, 0), 8).dense.is_some()
}

/// Group `g`'s attention from its filled copy `t` into its channels of `out`: all of them, at
/// every pixel of every image, so `out` need not be initialised before.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and [`super::supports`] must hold for `p`.
pub(super) unsafe fn run_group(
    p: &NaProblem,
    g: usize,
    l: &Layout,
    t: &[f32],
    bias: &[f32],
    out: &mut [std::mem::MaybeUninit<f32>],
) {
    let group = &p.groups[g];
    // Rows in dilation-phase order, so neighbouring tasks share key rows in cache.
    let order: Vec<usize> = phase_order(p.height, group.dilation).collect();
    let plan = Plan::new(p, g, l, 8);
    let group_call = Group::new(p, l, t, bias, &plan, out);
    let lane_bias = plan
        .dense
        .as_ref()
        .map(|d| dense::lane_bias(&group_call.bias, 2 * group.kernel - 1, d));
    let job = Job {
        group: group_call,
        order: &order,
        dense: plan.dense.as_ref().zip(lane_bias.as_deref()),
        prefetch: 2 * group.kernel * l.head_dim * l.stride * 4 > PREFETCH_ROWS_BYTES,
    };
    let tasks = p.batch * l.heads * p.height;
    let wide = l.head_dim > 4;
    (0..tasks).into_par_iter().for_each(|task| {
        // SAFETY: the caller guarantees AVX2 + FMA and a supported kernel size.
        unsafe {
            match wide {
                true => job.row_of_kernel::<true>(group.kernel, task),
                false => job.row_of_kernel::<false>(group.kernel, task),
            }
        }
    });
}

/// One head group's call on AVX2.
struct Job<'a> {
    group: Group<'a>,
    /// Image rows in dilation-phase order.
    order: &'a [usize],
    /// Set when the group's blocks are whole short phases: their tables and
    /// [`dense::lane_bias`].
    dense: Option<(&'a Dense, &'a [f32])>,
    /// Whether shifted blocks prefetch the keys and values of the block after next
    /// ([`memory::PREFETCH_ROWS_BYTES`]).
    prefetch: bool,
}

impl<'a> std::ops::Deref for Job<'a> {
    type Target = Group<'a>;
    fn deref(&self) -> &Group<'a> {
        &self.group
    }
}

/// What every block of one (image row, head) shares: where its queries, its `K` key rows and
/// their bias-table rows start, and its output's column 0.
struct RowCtx<const K: usize> {
    q_row: usize,
    key_rows: [usize; K],
    bias_rows: [usize; K],
    out0: usize,
}

impl Job<'_> {
    /// [`Self::row`] for kernel size `kernel`; `WIDE`: see [`Self::block`].
    ///
    /// # Safety
    /// AVX2 + FMA; `kernel` is the group's.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row_of_kernel<const WIDE: bool>(&self, kernel: usize, task: usize) {
        // SAFETY: the caller's contract.
        unsafe {
            match kernel {
                1 => self.row::<1, 1, WIDE>(task),
                3 => self.row::<3, 5, WIDE>(task),
                5 => self.row::<5, 9, WIDE>(task),
                7 => self.row::<7, 13, WIDE>(task),
                9 => self.row::<9, 17, WIDE>(task),
                11 => self.row::<11, 21, WIDE>(task),
                _ => self.row::<13, 25, WIDE>(task),
            }
        }
    }

    /// One image row of one head; `task` = `(b·heads + h)·height + i` for the `i`-th row in
    /// phase order. `N = 2K − 1` is the number of key offsets a border block runs.
    ///
    /// # Safety
    /// AVX2 + FMA; `K` is the group's kernel.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row<const K: usize, const N: usize, const WIDE: bool>(&self, task: usize) {
        let ctx = self.row_ctx::<K>(task);
        if let Some((dense, bias)) = self.dense {
            // SAFETY: the caller's contract; `dense` was built for this group.
            return unsafe {
                match dense.len {
                    4 => self.dense_row::<K, 4, WIDE>(&ctx, dense, bias),
                    _ => self.dense_row::<K, 8, WIDE>(&ctx, dense, bias),
                }
            };
        }
        for block in self.blocks {
            // SAFETY: the caller's contract.
            unsafe {
                match &block.masks {
                    // Centred windows: offsets −K/2..=K/2, unmasked.
                    None => self.block::<K, K, false, WIDE>(&ctx, block, [u16::MAX; K], K / 2),
                    Some(m) => {
                        let mut masks = [0u16; N];
                        masks.copy_from_slice(m);
                        self.block::<K, N, true, WIDE>(&ctx, block, masks, K - 1)
                    }
                }
            }
        }
    }

    /// Where task `task`'s row (see [`Self::row`]) reads and writes.
    fn row_ctx<const K: usize>(&self, task: usize) -> RowCtx<K> {
        let (p, l) = (self.p, self.l);
        let height = p.height;
        let y = self.order[task % height];
        let h = (task / height) % l.heads;
        let b = task / height / l.heads;
        let w = self.rows[y];
        let table = 2 * K - 1;
        RowCtx {
            q_row: l.at(b * height + y, 0, h),
            key_rows: std::array::from_fn(|ty| l.at(b * height + w.key(ty), 1, h)),
            bias_rows: std::array::from_fn(|ty| (h * table + w.bias0 + ty) * table),
            out0: (b * height + y) * p.width * l.channels + (l.h0 + h) * l.head_dim,
        }
    }

    /// One block of eight queries over `M` key offsets `−before..M − before` per key row, lane
    /// `i` using offset `o` where bit `i` of `masks[o]` is set. `WIDE` (head dims above 4): AV
    /// runs eight channels at a time, else four channels in two chains each (see [`Av`]).
    // Offsets index several arrays at once (keys, scores, masks, bias); ranges read clearer.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn block<const K: usize, const M: usize, const MASKED: bool, const WIDE: bool>(
        &self,
        ctx: &RowCtx<K>,
        block: &Block,
        masks: [u16; M],
        before: usize,
    ) {
        if self.prefetch {
            self.prefetch_next(ctx, block);
        }
        let (l, hd, stride) = (self.l, self.l.head_dim, self.l.stride);
        let t = self.t.as_ptr();
        let table = 2 * K - 1;
        // Lane masks as vectors: all ones where lane `i` may use offset `o`.
        let lane_masks: [__m256; M] = std::array::from_fn(|o| lane_mask(masks[o]));
        let scale = _mm256_set1_ps(self.scale);
        let mut max = _mm256_set1_ps(f32::NEG_INFINITY);
        // Every entry is written below: zeroing the array first cost a memset of up to 3 KB
        // per block (and building it with `array::from_fn` a closure call per row).
        let mut scores = std::mem::MaybeUninit::<[[__m256; M]; K]>::uninit();
        let rows = scores.as_mut_ptr().cast::<[__m256; M]>();
        for ty in 0..K {
            let mut s = [_mm256_setzero_ps(); M];
            for ch in 0..hd {
                let row = ch * stride + block.start;
                // SAFETY: positions `start − (K−1) ..= start + 7 + (K−1)` lie within the row's
                // paddings. Plain loads: a lane outside its window gets −∞ below.
                let (qv, k0) = unsafe {
                    (
                        _mm256_loadu_ps(t.add(ctx.q_row + row)),
                        t.add(ctx.key_rows[ty] + row - before),
                    )
                };
                for o in 0..M {
                    let kv = unsafe { _mm256_loadu_ps(k0.add(o)) };
                    s[o] = _mm256_fmadd_ps(qv, kv, s[o]);
                }
            }
            // ·scale + bias (one value per offset); offsets outside a lane's window → −∞.
            let bias = &self.bias[ctx.bias_rows[ty]..][..table];
            for o in 0..M {
                let v = _mm256_fmadd_ps(s[o], scale, _mm256_set1_ps(bias[o + K - 1 - before]));
                let v = if MASKED {
                    _mm256_blendv_ps(_mm256_set1_ps(f32::NEG_INFINITY), v, lane_masks[o])
                } else {
                    v
                };
                max = _mm256_max_ps(max, v);
                s[o] = v;
            }
            // SAFETY: row `ty` of the `K` rows.
            unsafe { rows.add(ty).write(s) };
        }
        // SAFETY: all `K` rows were written.
        let scores = unsafe { scores.assume_init_mut() };
        let inv = softmax::<K, M, MASKED>(scores, max, &lane_masks);
        // AV, unrolled whole.
        let v_rows: [usize; K] = ctx
            .key_rows
            .map(|r| r + l.heads * hd * stride + block.start - before);
        let mut ch = 0;
        while ch < hd {
            let mut av = Av::<WIDE>::new(ch, hd, stride);
            for ty in 0..K {
                for o in 0..M {
                    // Lanes outside their window are zeroed, so a non-finite value there stays
                    // out.
                    let values = Values::Shifted(MASKED.then_some(lane_masks[o]));
                    // SAFETY: within the row's paddings, as for the keys.
                    unsafe { av.add(o, scores[ty][o], t.add(v_rows[ty] + o), values) };
                }
            }
            // SAFETY: this task alone writes this head's channels of its image row.
            ch = unsafe { av.store(self, ctx, block, inv) };
        }
    }
}

/// Turns a block's scores into softmax numerators in place, exactly zero outside each lane's
/// window (`MASKED`: where `masks[o]` is off; unmasked blocks have none), and returns
/// 1 / their sum per lane. `max` is the largest score of each lane.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn softmax<const K: usize, const M: usize, const MASKED: bool>(
    scores: &mut [[__m256; M]; K],
    max: __m256,
    masks: &[__m256; M],
) -> __m256 {
    let mut sum = _mm256_setzero_ps();
    for row in scores {
        for (v, &m) in row.iter_mut().zip(masks) {
            let e = exp2_nonpositive8(_mm256_sub_ps(*v, max));
            *v = if MASKED { _mm256_and_ps(e, m) } else { e };
            sum = _mm256_add_ps(sum, *v);
        }
    }
    _mm256_div_ps(_mm256_set1_ps(1.0), sum)
}

/// All ones in lane `i` where bit `i` of `bits` is set, zero elsewhere.
#[target_feature(enable = "avx2")]
fn lane_mask(bits: u16) -> __m256 {
    let lanes = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    let set = _mm256_and_si256(_mm256_set1_epi32(bits as i32), lanes);
    _mm256_castsi256_ps(_mm256_cmpeq_epi32(set, lanes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::Simd;
    use crate::kernels::{HeadGroup, reference};

    /// The kernel on head dims the dispatch does not send it (3, 6, 12, 16, 32: both AV forms,
    /// whole and partial passes; `tests/na.rs` covers 4 and 8 through the dispatch), with border
    /// blocks, blocks spanning phases and a short last block, against the reference.
    #[test]
    fn equals_the_reference_at_every_head_dim() {
        if !Simd::Avx2.supported() {
            println!("no AVX2 on this CPU: the kernel is not run here");
            return;
        }
        let g = |heads, kernel, dilation| HeadGroup {
            heads,
            kernel,
            dilation,
        };
        for (head_dim, groups) in [
            (3, vec![g(1, 5, 1), g(1, 3, 4)]),
            (6, vec![g(1, 3, 1), g(1, 5, 2)]),
            (12, vec![g(1, 5, 1), g(1, 3, 3)]),
            (16, vec![g(1, 7, 1), g(2, 7, 3)]),
            (32, vec![g(1, 13, 1), g(1, 3, 2)]),
        ] {
            let p = NaProblem {
                batch: 2,
                height: 22,
                width: 29,
                head_dim,
                scale: 0.3,
                groups,
            };
            p.validate().unwrap();
            let c = p.heads() * head_dim;
            let qkv: Vec<f32> = (0..2 * 22 * 29 * 3 * c)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.02)
                .collect();
            let rpb: Vec<Vec<f32>> = p
                .groups
                .iter()
                .map(|g| {
                    (0..g.heads * (2 * g.kernel - 1).pow(2))
                        .map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.05)
                        .collect()
                })
                .collect();
            let want = reference::na2d(&p, &qkv, &rpb);
            // SAFETY: AVX2 checked above; kernels ≤ 13 and head dims ≤ 64.
            let got = unsafe { super::super::na2d(&p, &qkv, &rpb, Simd::Avx2) };
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst <= 1e-5, "head dim {head_dim}: max |Δ| {worst}");
        }
    }
}
