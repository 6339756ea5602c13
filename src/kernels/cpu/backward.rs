//! The gradient of neighbourhood attention, fused: for every query and head it recomputes the
//! attention weights `a` (QK·scale + bias, softmax) and, from the output gradient `g`,
//!
//! - `dv_t += a_t · g`
//! - `dlogit_t = a_t · (g·v_t − Σ_s a_s · g·v_s)` (the softmax Jacobian), which is `dbias`
//! - `dq = scale · Σ_t dlogit_t · k_t`, `dk_t += scale · dlogit_t · q`.
//!
//! One task per (image, head) owns that head's channels of `dq`, `dk`, `dv` and its bias
//! table, so the scatters into keys and values need no locks and no per-thread copies.

use super::super::NaProblem;
use super::super::simd::Simd;
use super::super::window::AxisWindow;
use super::exp_nonpositive;
use super::per_query::{axpy, dot};
use rayon::prelude::*;

/// Gradients of [`super::na2d`]: `qkv` and `rpb` as there, `grad` the output's gradient
/// (`[B, H, W, heads·head_dim]`). Returns `d qkv` (`[B, H, W, 3·heads·head_dim]`) and one
/// `d rpb` per group (`[heads_g, 2k−1, 2k−1]`).
pub fn na2d_backward(
    p: &NaProblem,
    qkv: &[f32],
    rpb: &[Vec<f32>],
    grad: &[f32],
) -> (Vec<f32>, Vec<Vec<f32>>) {
    na2d_backward_with(p, qkv, rpb, grad, Simd::active())
}

/// [`na2d_backward`] on a chosen path; a path the CPU lacks runs the portable code.
pub fn na2d_backward_with(
    p: &NaProblem,
    qkv: &[f32],
    rpb: &[Vec<f32>],
    grad: &[f32],
    simd: Simd,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let simd = simd.or_portable();
    match p.head_dim {
        4 => run::<4>(p, qkv, rpb, grad, simd),
        8 => run::<8>(p, qkv, rpb, grad, simd),
        16 => run::<16>(p, qkv, rpb, grad, simd),
        32 => run::<32>(p, qkv, rpb, grad, simd),
        64 => run::<64>(p, qkv, rpb, grad, simd),
        _ => run::<0>(p, qkv, rpb, grad, simd),
    }
}

/// What every (image, head) task reads.
struct Job<'a> {
    p: &'a NaProblem,
    qkv: &'a [f32],
    rpb: &'a [Vec<f32>],
    grad: &'a [f32],
    /// Per head: its group, the group's first head, row windows, column windows.
    heads: Vec<(usize, usize, &'a [AxisWindow], &'a [AxisWindow])>,
}

fn run<const HD: usize>(
    p: &NaProblem,
    qkv: &[f32],
    rpb: &[Vec<f32>],
    grad: &[f32],
    simd: Simd,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let windows: Vec<(Vec<AxisWindow>, Vec<AxisWindow>)> =
        p.groups.iter().map(|g| p.windows(g)).collect();
    let mut heads = Vec::with_capacity(p.heads());
    let mut h0 = 0;
    for (g, group) in p.groups.iter().enumerate() {
        for _ in 0..group.heads {
            heads.push((g, h0, &windows[g].0[..], &windows[g].1[..]));
        }
        h0 += group.heads;
    }
    let job = Job {
        p,
        qkv,
        rpb,
        grad,
        heads,
    };
    let mut dqkv = vec![0f32; qkv.len()];
    let shared = Shared(dqkv.as_mut_ptr());
    let tasks: Vec<(usize, usize)> = (0..p.batch)
        .flat_map(|b| (0..p.heads()).map(move |h| (b, h)))
        .collect();
    let tables: Vec<(usize, Vec<f32>)> = tasks
        .par_iter()
        .map(|&(b, h)| {
            // SAFETY: task (b, h) writes only head h's channels of image b (see `Shared`).
            let bias = match simd {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `na2d_backward_with` only passes paths the CPU supports.
                Simd::Avx512 => unsafe { head_avx512::<HD>(&job, b, h, &shared) },
                #[cfg(target_arch = "x86_64")]
                Simd::Avx2 => unsafe { head_avx2::<HD>(&job, b, h, &shared) },
                _ => unsafe { head::<HD>(&job, b, h, &shared) },
            };
            (h, bias)
        })
        .collect();
    // Sum each head's bias gradient over the images, into its group's table.
    let mut drpb: Vec<Vec<f32>> = rpb.iter().map(|t| vec![0f32; t.len()]).collect();
    for (h, table) in tables {
        let (g, h0, ..) = job.heads[h];
        let dst = &mut drpb[g][(h - h0) * table.len()..][..table.len()];
        dst.iter_mut().zip(&table).for_each(|(d, t)| *d += t);
    }
    (dqkv, drpb)
}

/// The `d qkv` buffer, shared by the tasks. Element `((b·H + y)·W + x)·3C + part·C + h·hd + e`
/// belongs to task (b, h) alone.
struct Shared(*mut f32);
// SAFETY: tasks write disjoint elements (see above).
unsafe impl Sync for Shared {}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn head_avx2<const HD: usize>(job: &Job, b: usize, h: usize, out: &Shared) -> Vec<f32> {
    unsafe { head::<HD>(job, b, h, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
unsafe fn head_avx512<const HD: usize>(job: &Job, b: usize, h: usize, out: &Shared) -> Vec<f32> {
    unsafe { head::<HD>(job, b, h, out) }
}

/// The gradients of head `h` of image `b`: writes its `dq`, `dk`, `dv` and returns its bias
/// table's gradient (`(2k−1)²`).
///
/// # Safety
/// No other task runs with the same (b, h) meanwhile.
#[inline(always)]
unsafe fn head<const HD: usize>(job: &Job, b: usize, h: usize, out: &Shared) -> Vec<f32> {
    let p = job.p;
    let hd = if HD == 0 { p.head_dim } else { HD };
    let c = p.heads() * hd;
    let (g, h0, rows, cols) = job.heads[h];
    let k = p.groups[g].kernel;
    let (taps, table) = (k * k, 2 * k - 1);
    let bias = &job.rpb[g][(h - h0) * table * table..][..table * table];
    let mut dbias = vec![0f32; table * table];
    let pixel = |y: usize, x: usize| ((b * p.height + y) * p.width + x) * 3 * c;
    let (qo, ko, vo) = (h * hd, c + h * hd, 2 * c + h * hd);
    let mut offsets = vec![0usize; taps];
    let (mut a, mut dl) = (vec![0f32; taps], vec![0f32; taps]);
    let mut dq = vec![0f32; hd];
    // SAFETY (all `at` calls): offsets stay inside `qkv`'s length, which `dqkv` shares;
    // the ranges are this head's channels (the caller's contract).
    let at = |off: usize| unsafe { std::slice::from_raw_parts_mut(out.0.add(off), hd) };
    for (y, &wy) in rows.iter().enumerate() {
        for (x, wx) in cols.iter().enumerate() {
            for ty in 0..k {
                for tx in 0..k {
                    offsets[ty * k + tx] = pixel(wy.key(ty), wx.key(tx));
                }
            }
            let q = &job.qkv[pixel(y, x) + qo..][..hd];
            let go = ((b * p.height + y) * p.width + x) * c + h * hd;
            let gout = &job.grad[go..go + hd];
            // Attention weights, as the forward pass computed them.
            for ty in 0..k {
                let brow = &bias[(wy.bias0 + ty) * table + wx.bias0..][..k];
                for (tx, &bias) in brow.iter().enumerate() {
                    let t = ty * k + tx;
                    let key = &job.qkv[offsets[t] + ko..][..hd];
                    a[t] = dot::<HD>(q, key) * p.scale + bias;
                }
            }
            let max = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            a.iter_mut().for_each(|l| *l = exp_nonpositive(*l - max));
            let inv = 1.0 / a.iter().sum::<f32>();
            a.iter_mut().for_each(|l| *l *= inv);
            // The softmax Jacobian applied to g·v.
            let mut mean = 0f32;
            for t in 0..taps {
                dl[t] = dot::<HD>(gout, &job.qkv[offsets[t] + vo..][..hd]);
                mean += a[t] * dl[t];
            }
            dq.fill(0.0);
            for t in 0..taps {
                dl[t] = a[t] * (dl[t] - mean);
                let (ty, tx) = (t / k, t % k);
                dbias[(wy.bias0 + ty) * table + wx.bias0 + tx] += dl[t];
                let key = &job.qkv[offsets[t] + ko..][..hd];
                axpy::<HD>(&mut dq, dl[t] * p.scale, key);
                axpy::<HD>(at(offsets[t] + ko), dl[t] * p.scale, q);
                axpy::<HD>(at(offsets[t] + vo), a[t], gout);
            }
            at(pixel(y, x) + qo).copy_from_slice(&dq);
        }
    }
    dbias
}
