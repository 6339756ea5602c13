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
//! offset `o` is the same for every lane (table column `o + k − 1`). Where a group's blocks are
//! whole dilation phases of 4 or 8 columns, each lane scores its own phase's keys instead
//! (`dense.rs`). `avx2/` runs the same layout and blocks on eight AVX2 lanes, in a simpler
//! form (no row pairs; its own dense form, `avx2/dense.rs`).

pub mod avx2;
mod dense;
mod layout;
mod pair;

use super::super::NaProblem;
use super::super::simd::Simd;
use super::super::window::AxisWindow;
use super::OutRows;
use super::vmath::exp2_nonpositive16 as exp2_nonpositive;
use dense::Dense;
use layout::Layout;
use pair::MAX_HEAD_DIM;
use rayon::prelude::*;
use std::cell::RefCell;
use std::mem::MaybeUninit;

/// Largest kernel handled here (the dispatch in [`na2d`] instantiates odd sizes up to it).
const MAX_KERNEL: usize = 13;

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
    /// Every head group's copy at once, for [`na2d_produced`] (kept between calls likewise).
    static GROUPS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `f` with this thread's kept buffer `key`, taken out for the call and put back after it
/// (the larger one stays). Not a borrow across the call: while `f` waits on its parallel
/// work, rayon may run another image's layer on this thread, which then starts from an empty
/// buffer instead of finding this one borrowed.
fn with_kept<R>(
    key: &'static std::thread::LocalKey<RefCell<Vec<f32>>>,
    f: impl FnOnce(&mut Vec<f32>) -> R,
) -> R {
    let mut buffer = key.take();
    let result = f(&mut buffer);
    key.with_borrow_mut(|kept| {
        if buffer.len() > kept.len() {
            *kept = buffer;
        }
    });
    result
}

/// Same contract as [`super::na2d`], on sixteen AVX-512 lanes or (`simd` AVX2) eight
/// ([`avx2`]).
///
/// # Safety
/// The CPU must support `simd` (AVX-512F, or AVX2 + FMA), and [`supports`] must hold for `p`.
pub unsafe fn na2d(p: &NaProblem, qkv: &[f32], rpb: &[Vec<f32>], simd: Simd) -> Vec<f32> {
    let avx512 = simd == Simd::Avx512;
    let run_groups = |out: &mut [MaybeUninit<f32>]| {
        with_kept(&SCRATCH, |scratch| {
            for (g, layout) in layouts(p).iter().enumerate() {
                // SAFETY: the caller guarantees the instruction set and a supported problem.
                unsafe {
                    layout.fill(qkv, scratch, avx512);
                    let t = &scratch[..layout.len()];
                    match avx512 {
                        true => run_group(p, g, layout, t, &rpb[g], out),
                        false => avx2::run_group(p, g, layout, t, &rpb[g], out),
                    }
                }
            }
        })
    };
    // SAFETY: `run_groups` runs every group's kernel.
    unsafe { output(p, run_groups) }
}

/// The `[B, H, W, heads · head_dim]` output of one call, filled by `run_groups` without being
/// zero-filled first (at 1024² that was a 128 MB write per call).
///
/// # Safety
/// `run_groups` must run every head group's kernel into the buffer: each stores all of its
/// heads' channels at every pixel of every image, and the groups' heads are all the heads.
unsafe fn output(p: &NaProblem, run_groups: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let len = p.batch * p.height * p.width * p.heads() * p.head_dim;
    let mut out = Vec::with_capacity(len);
    run_groups(&mut out.spare_capacity_mut()[..len]);
    // SAFETY: every element was stored (the caller's contract).
    unsafe { out.set_len(len) };
    out
}

/// [`na2d`] of a `qkv` that is never stored whole: `produce(first, rows)` writes image rows
/// `first..first + count` of it (`[count, width, 3C]`, never crossing an image) into `rows`,
/// and each group's copy is filled from there while it is in cache. Tiles of about
/// `tile_tokens` tokens (whole image rows) run in parallel.
///
/// # Safety
/// As [`na2d`]: the CPU must support `simd`, and [`supports`] must hold for `p`.
pub unsafe fn na2d_produced(
    p: &NaProblem,
    rpb: &[Vec<f32>],
    tile_tokens: usize,
    simd: Simd,
    produce: &(dyn Fn(usize, &mut [f32]) + Sync),
) -> Vec<f32> {
    let avx512 = simd == Simd::Avx512;
    let layouts = layouts(p);
    let src_row = p.width * 3 * p.heads() * p.head_dim;
    let rows_per_tile = (tile_tokens / p.width).clamp(1, p.height);
    // Tiles of image rows that stay inside one image: (first row, rows).
    let tiles: Vec<(usize, usize)> = (0..p.batch)
        .flat_map(|b| {
            (0..p.height)
                .step_by(rows_per_tile)
                .map(move |y| (b * p.height + y, rows_per_tile.min(p.height - y)))
        })
        .collect();
    let run_groups = |out: &mut [MaybeUninit<f32>]| {
        with_kept(&GROUPS, |all| {
            let total: usize = layouts.iter().map(Layout::len).sum();
            if all.len() < total {
                all.resize(total, 0.0);
            }
            // Each tile's rows of every group's copy, carved out so tiles can fill them in
            // parallel.
            let mut parts: Vec<Vec<&mut [f32]>> = tiles.iter().map(|_| Vec::new()).collect();
            let mut rest = &mut all[..total];
            for l in &layouts {
                let (mut group, tail) = rest.split_at_mut(l.len());
                rest = tail;
                for (part, &(_, rows)) in parts.iter_mut().zip(&tiles) {
                    let (mine, later) = group.split_at_mut(rows * l.per_row());
                    part.push(mine);
                    group = later;
                }
            }
            parts.into_par_iter().zip(&tiles).for_each_init(
                Vec::new,
                |src, (mut part, &(first, rows))| {
                    src.resize(rows * src_row, 0.0);
                    produce(first, &mut src[..rows * src_row]);
                    for (l, dst) in layouts.iter().zip(part.iter_mut()) {
                        for (s, d) in src
                            .chunks_exact(src_row)
                            .zip(dst.chunks_exact_mut(l.per_row()))
                        {
                            // SAFETY: the caller guarantees the instruction set.
                            unsafe { l.fill_row_with(s, d, avx512) };
                        }
                    }
                },
            );
            let mut start = 0;
            for (g, l) in layouts.iter().enumerate() {
                let t = &all[start..start + l.len()];
                // SAFETY: the caller guarantees the instruction set and a supported problem.
                unsafe {
                    match avx512 {
                        true => run_group(p, g, l, t, &rpb[g], out),
                        false => avx2::run_group(p, g, l, t, &rpb[g], out),
                    }
                }
                start += l.len();
            }
        })
    };
    // SAFETY: `run_groups` runs every group's kernel (after filling their copies).
    unsafe { output(p, run_groups) }
}

/// Every head group's layout, in order.
fn layouts(p: &NaProblem) -> Vec<Layout> {
    let mut h0 = 0;
    (0..p.groups.len())
        .map(|g| {
            h0 += p.groups[g].heads;
            Layout::new(p, g, h0 - p.groups[g].heads)
        })
        .collect()
}

/// Group `g`'s attention from its filled copy `t` into its channels of `out`: all of them, at
/// every pixel of every image, so `out` need not be initialised before.
///
/// # Safety
/// The CPU must support AVX-512F, and [`supports`] must hold for `p`.
unsafe fn run_group(
    p: &NaProblem,
    g: usize,
    l: &Layout,
    t: &[f32],
    bias: &[f32],
    out: &mut [MaybeUninit<f32>],
) {
    let group = &p.groups[g];
    let plan = Plan::new(p, g, l, 16);
    let job = Job {
        group: Group::new(p, l, t, bias, &plan, out),
        pairs: &row_pairs(p.height, group.dilation),
        dense: plan.dense.as_ref(),
    };
    let tasks = p.batch * group.heads * job.pairs.len();
    (0..tasks).into_par_iter().for_each(|task| {
        // SAFETY: the caller guarantees AVX-512F and a supported kernel size.
        unsafe {
            match group.kernel {
                1 => job.pair::<1, 1, 2>(task),
                3 => job.pair::<3, 5, 4>(task),
                5 => job.pair::<5, 9, 6>(task),
                7 => job.pair::<7, 13, 8>(task),
                9 => job.pair::<9, 17, 10>(task),
                11 => job.pair::<11, 21, 12>(task),
                _ => job.pair::<13, 25, 14>(task),
            }
        }
    });
}

/// A block of sixteen (AVX2: eight) reordered positions and which key offsets each lane may use.
struct Block {
    start: usize,
    /// Lanes holding a query (the last block of a row may be short).
    count: usize,
    /// `Some(masks)` at borders and phase boundaries: bit `i` of `masks[o + k − 1]` says lane
    /// `i` may use offset `o`. `None`: every lane's window is centred.
    masks: Option<Vec<u16>>,
}

/// The blocks of `lanes` (16 or 8) positions of a reordered row (the same for every row,
/// head and image).
fn blocks(l: &Layout, cols: &[AxisWindow], kernel: usize, lanes: usize) -> Vec<Block> {
    let width = l.col.len();
    (0..width)
        .step_by(lanes)
        .map(|start| {
            let count = (width - start).min(lanes);
            let mut masks = vec![0u16; 2 * kernel - 1];
            let mut centred = count == lanes;
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

/// The image rows in pairs `(y, y + d)` of one dilation phase, so the two rows' key rows
/// (all but one shared) are loaded once for both; a phase with an odd number of rows ends with
/// `(y, y)`.
fn row_pairs(height: usize, dilation: usize) -> Vec<(usize, usize)> {
    let mut pairs = Vec::with_capacity(height.div_ceil(2) + dilation);
    for phase in 0..dilation.min(height) {
        let rows: Vec<usize> = (phase..height).step_by(dilation).collect();
        pairs.extend(rows.chunks(2).map(|c| (c[0], *c.last().unwrap_or(&c[0]))));
    }
    pairs
}

/// How a head group's call runs on blocks of `lanes` positions (16 or 8): its rows' windows,
/// its blocks and, where they are whole short phases, the dense tables.
struct Plan {
    rows: Vec<AxisWindow>,
    blocks: Vec<Block>,
    dense: Option<Dense>,
}

impl Plan {
    fn new(p: &NaProblem, g: usize, l: &Layout, lanes: usize) -> Self {
        let group = &p.groups[g];
        let (rows, cols) = p.windows(group);
        let blocks = blocks(l, &cols, group.kernel, lanes);
        let dense = Dense::new(l, &cols, group.kernel, &blocks, lanes);
        Self {
            rows,
            blocks,
            dense,
        }
    }
}

/// What the lane kernels (AVX-512 and `avx2/`) read of one head group's call.
struct Group<'a> {
    p: &'a NaProblem,
    l: &'a Layout,
    /// The group's filled copy.
    t: &'a [f32],
    /// The query scale and the `[heads, 2k − 1, 2k − 1]` bias table times log2 e: scores are
    /// kept in base 2, so the softmax runs [`exp2_nonpositive`] (one multiply fewer per score
    /// than `e^x`, and no two-part remainder).
    scale: f32,
    bias: Vec<f32>,
    rows: &'a [AxisWindow],
    blocks: &'a [Block],
    out: OutRows,
}

impl<'a> Group<'a> {
    fn new(
        p: &'a NaProblem,
        l: &'a Layout,
        t: &'a [f32],
        bias: &'a [f32],
        plan: &'a Plan,
        out: &mut [MaybeUninit<f32>],
    ) -> Self {
        Self {
            p,
            l,
            t,
            scale: p.scale * std::f32::consts::LOG2_E,
            bias: bias.iter().map(|b| b * std::f32::consts::LOG2_E).collect(),
            rows: &plan.rows,
            blocks: &plan.blocks,
            out: OutRows(out.as_mut_ptr().cast()),
        }
    }
}

/// One head group's call on AVX-512.
struct Job<'a> {
    group: Group<'a>,
    /// Pairs of rows one dilation step apart (see [`row_pairs`]).
    pairs: &'a [(usize, usize)],
    /// Set when the group's blocks are whole short phases ([`dense`]).
    dense: Option<&'a Dense>,
}

impl<'a> std::ops::Deref for Job<'a> {
    type Target = Group<'a>;
    fn deref(&self) -> &Group<'a> {
        &self.group
    }
}
