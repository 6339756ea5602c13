//! Neighbourhood attention forward with one fused pass per query pixel and head: QK + bias
//! over the window, softmax, AV, with the head dimension a compile-time constant for the
//! common sizes so the inner loops unroll. Rows run in parallel with rayon. Serves the
//! portable path, and AVX2 at head dims the lane kernel (`na_lanes/avx2/`) does not take.

use super::super::NaProblem;
use super::super::simd::Simd;
use super::super::window::{AxisWindow, phase_order};
use super::{OutRows, dots, exp_nonpositive};
use rayon::prelude::*;

/// [`super::na2d_with`] in this kernel.
pub(super) fn na2d(p: &NaProblem, qkv: &[f32], rpb: &[Vec<f32>], simd: Simd) -> Vec<f32> {
    // Specialising on the head dimension lets the compiler unroll and vectorise the small
    // per-head dot products and updates (head dims are 4–64 in practice).
    match p.head_dim {
        4 => na2d_hd::<4>(p, qkv, rpb, simd),
        8 => na2d_hd::<8>(p, qkv, rpb, simd),
        16 => na2d_hd::<16>(p, qkv, rpb, simd),
        32 => na2d_hd::<32>(p, qkv, rpb, simd),
        64 => na2d_hd::<64>(p, qkv, rpb, simd),
        _ => na2d_hd::<0>(p, qkv, rpb, simd),
    }
}

/// Everything one output row needs.
struct RowJob<'a> {
    p: &'a NaProblem,
    qkv: &'a [f32],
    rpb: &'a [Vec<f32>],
    /// Per group: first head, windows of every row, windows of every column.
    plans: Vec<(usize, Vec<AxisWindow>, Vec<AxisWindow>)>,
}

/// `HD` is the head dimension, or 0 for "read it from the problem".
fn na2d_hd<const HD: usize>(p: &NaProblem, qkv: &[f32], rpb: &[Vec<f32>], simd: Simd) -> Vec<f32> {
    let c = p.heads() * p.head_dim;
    let mut out = vec![0f32; p.batch * p.height * p.width * c];
    let mut head0 = 0;
    let plans = p
        .groups
        .iter()
        .map(|g| {
            let (rows, cols) = p.windows(g);
            head0 += g.heads;
            (head0 - g.heads, rows, cols)
        })
        .collect();
    let job = RowJob { p, qkv, rpb, plans };
    let row_len = p.width * c;
    let rows = OutRows(out.as_mut_ptr());
    for (g, group) in p.groups.iter().enumerate() {
        // Rows in dilation-phase order (y, y+d, y+2d, …): consecutive rows then share six of
        // their seven key rows, so keys come from cache rather than memory (a dilated group
        // at 256² otherwise re-reads qkv from memory for every row).
        let order: Vec<usize> = (0..p.batch)
            .flat_map(|b| phase_order(p.height, group.dilation).map(move |y| b * p.height + y))
            .collect();
        order.par_iter().for_each(|&row| {
            // SAFETY: `order` lists every row once, so no two tasks hold the same row, and
            // groups run one after another.
            let out_row = unsafe { rows.row(row, row_len) };
            match simd {
                // SAFETY: `na2d_with` only passes paths the CPU supports.
                #[cfg(target_arch = "x86_64")]
                Simd::Avx512 => unsafe { na_row_avx512::<HD>(&job, g, row, out_row) },
                #[cfg(target_arch = "x86_64")]
                Simd::Avx2 => unsafe { na_row_avx2::<HD>(&job, g, row, out_row) },
                _ => na_row::<HD, 0>(&job, g, row, out_row),
            }
        });
    }
    out
}

/// [`na_row`] compiled for AVX2 + FMA (8-wide vectors, fused multiply–add).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn na_row_avx2<const HD: usize>(job: &RowJob, g: usize, row: usize, out_row: &mut [f32]) {
    na_row::<HD, 8>(job, g, row, out_row)
}

/// [`na_row`] compiled for AVX-512 (16-wide vectors).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
fn na_row_avx512<const HD: usize>(job: &RowJob, g: usize, row: usize, out_row: &mut [f32]) {
    na_row::<HD, 16>(job, g, row, out_row)
}

/// One output row (`batch · height + y`) of head group `g`; QK runs `TAPS` taps at a time
/// (16 on AVX-512, 8 on AVX2, where the head dim is a multiple of it), one at a time for 0.
#[inline(always)]
fn na_row<const HD: usize, const TAPS: usize>(
    job: &RowJob,
    g: usize,
    row: usize,
    out_row: &mut [f32],
) {
    let p = job.p;
    let hd = if HD == 0 { p.head_dim } else { HD };
    let c = p.heads() * hd;
    let (height, width) = (p.height, p.width);
    let (b, y) = (row / height, row % height);
    let pixel = |yy: usize, xx: usize| ((b * height + yy) * width + xx) * 3 * c;
    let group = &p.groups[g];
    let (h0, rows, cols) = &job.plans[g];
    let (h0, k) = (*h0, group.kernel);
    let taps = k * k;
    let table = 2 * k - 1;
    // Per query: the qkv offset of every tap's pixel, and one head's attention weights.
    let mut offsets = vec![0usize; taps];
    let mut weights = vec![0f32; taps];
    let mut keys16 = [0usize; 16];
    let wy = rows[y];
    // Columns in dilation-phase order (x, x+d, x+2d, …), as the rows are: neighbouring
    // queries then share all but one key column, which stay in cache.
    for x in phase_order(width, group.dilation) {
        let wx = &cols[x];
        for ty in 0..k {
            let base = pixel(wy.key(ty), 0);
            for tx in 0..k {
                offsets[ty * k + tx] = base + wx.key(tx) * 3 * c;
            }
        }
        for h in h0..h0 + group.heads {
            let qoff = pixel(y, x) + h * hd;
            let q = &job.qkv[qoff..qoff + hd];
            let bias = &job.rpb[g][(h - h0) * table * table..(h - h0 + 1) * table * table];
            let (koff, voff) = (c + h * hd, 2 * c + h * hd);
            let w = &mut weights[..taps];
            // QK: several taps at a time through a transposed reduction where the path has one.
            let mut t0 = 0;
            #[cfg(target_arch = "x86_64")]
            if TAPS > 0 && hd.is_multiple_of(TAPS) {
                while t0 + TAPS <= taps {
                    for (o, &off) in keys16.iter_mut().zip(&offsets[t0..t0 + TAPS]) {
                        *o = off + koff;
                    }
                    let (keys, w) = (&keys16[..TAPS], &mut w[t0..t0 + TAPS]);
                    // SAFETY: `TAPS` is 16 only on the AVX-512 path and 8 only on the AVX2
                    // one; every key range `off + koff .. + hd` lies inside `qkv` (the window
                    // rule).
                    unsafe {
                        match TAPS {
                            16 => dots::dots16(q, job.qkv, keys, w),
                            _ => dots::dots8(q, job.qkv, keys, w),
                        }
                    };
                    t0 += TAPS;
                }
            }
            for t in t0..taps {
                let off = offsets[t] + koff;
                w[t] = dot::<HD>(q, &job.qkv[off..off + hd]);
            }
            // ·scale + bias; the bias of one window row is a contiguous run of the table.
            for ty in 0..k {
                let brow = &bias[(wy.bias0 + ty) * table + wx.bias0..][..k];
                for (l, &b) in w[ty * k..(ty + 1) * k].iter_mut().zip(brow) {
                    *l = *l * p.scale + b;
                }
            }
            // Softmax; map first, sum after, so the exp loop has no serial dependency. The max
            // and the sum run in eight lanes: one serial chain over 49 taps cost more than the
            // dot products at head dims ≤ 16.
            let max = lanes_fold(w, f32::NEG_INFINITY, |m, v| if v > m { v } else { m });
            w.iter_mut().for_each(|l| *l = exp_nonpositive(*l - max));
            let inv = 1.0 / lanes_fold(w, 0.0, |s, v| s + v);
            // AV into a local accumulator, stored once.
            let o = &mut out_row[x * c + h * hd..][..hd];
            if hd <= 64 {
                let mut acc = [0f32; 64];
                let acc = &mut acc[..hd];
                for (&a, &off) in w.iter().zip(&offsets[..taps]) {
                    axpy::<HD>(acc, a, &job.qkv[off + voff..off + voff + hd]);
                }
                o.iter_mut().zip(acc.iter()).for_each(|(o, a)| *o = a * inv);
            } else {
                o.fill(0.0);
                for (&a, &off) in w.iter().zip(&offsets[..taps]) {
                    axpy::<HD>(o, a * inv, &job.qkv[off + voff..off + voff + hd]);
                }
            }
        }
    }
}

/// `f` folded over `w` in eight independent lanes (vectorised), then across the lanes.
#[inline(always)]
fn lanes_fold(w: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [init; 8];
    let chunks = w.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (l, &v) in lanes.iter_mut().zip(chunk) {
            *l = f(*l, v);
        }
    }
    for (l, &v) in lanes.iter_mut().zip(tail) {
        *l = f(*l, v);
    }
    lanes.into_iter().fold(init, &f)
}

/// Dot product of two `HD`-long slices (`HD = 0`: any length).
#[inline(always)]
pub(super) fn dot<const HD: usize>(a: &[f32], b: &[f32]) -> f32 {
    if HD == 0 {
        return a.iter().zip(b).map(|(x, y)| x * y).sum();
    }
    let (a, b) = (&a[..HD], &b[..HD]);
    if !HD.is_multiple_of(4) {
        return a.iter().zip(b).map(|(x, y)| x * y).sum();
    }
    // Four independent partial sums: the compiler may then use one SIMD lane each.
    let mut acc = [0f32; 4];
    for (ca, cb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        for l in 0..4 {
            acc[l] += ca[l] * cb[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// `o += a · v` over `HD`-long slices (`HD = 0`: any length).
#[inline(always)]
pub(super) fn axpy<const HD: usize>(o: &mut [f32], a: f32, v: &[f32]) {
    if HD == 0 {
        o.iter_mut().zip(v).for_each(|(o, v)| *o += a * v);
        return;
    }
    let (o, v) = (&mut o[..HD], &v[..HD]);
    for e in 0..HD {
        o[e] += a * v[e];
    }
}
