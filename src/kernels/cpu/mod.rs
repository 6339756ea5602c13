//! Fast CPU kernels on host buffers, used by the CPU backend.
//!
//! Neighbourhood attention is one fused pass per query pixel and head: QK + bias over the
//! window, softmax, AV, with the head dimension a compile-time constant for the common sizes so
//! the inner loops unroll. Rows run in parallel with rayon.

mod attention;
mod backward;
#[cfg(target_arch = "x86_64")]
mod bf16;
mod dots;
#[cfg(target_arch = "x86_64")]
mod f32_panels;
mod linear;
mod mlp;
#[cfg(target_arch = "x86_64")]
mod na_lanes;
mod norm;
mod precision;
mod upsample;
#[cfg(target_arch = "x86_64")]
mod vmath;

pub use attention::adain_qkv_na;
pub use backward::{na2d_backward, na2d_backward_with};
pub use linear::{LinearWeights, adain_linear, linear_residual};
pub use mlp::{MlpWeights, adain_mlp_residual};
pub use norm::{adain, adain_coefficients};
pub use precision::{Precision, bf16_supported, precision, set_precision};
pub use upsample::bilinear2_layernorm;

use super::NaProblem;
use super::simd::Simd;
use super::window::AxisWindow;
use rayon::prelude::*;

/// Rounds `x·log2(e)` to the nearest integer `k` with the 1.5·2²³ trick: the sum's low
/// mantissa bits hold `k`, and no float→int conversion is needed.
const EXP_MAGIC: f32 = 12_582_912.0;
/// Cody–Waite: ln2 = 0.693145751953125 (exact in 12 bits) + 1.4286068e-6.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// Taylor coefficients of `e^r` on [−ln2/2, ln2/2], highest first (Horner order).
const EXP_POLY: [f32; 7] = [
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];

/// `e^x` for `x ≤ 0` (softmax after max subtraction), relative error < 3e-7: 2^k split plus a
/// degree-6 polynomial on [−ln2/2, ln2/2]. Plain float and integer ops only (no libm, no
/// `round`/`fma` calls), so the loops around it vectorise on any x86-64 / aarch64.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    let x = x.max(-87.0);
    let t = x * std::f32::consts::LOG2_E + EXP_MAGIC;
    let kf = t - EXP_MAGIC;
    let k = t.to_bits() as i32 - EXP_MAGIC.to_bits() as i32;
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    let mut p = EXP_POLY[0];
    for c in &EXP_POLY[1..] {
        p = p * r + c;
    }
    p * f32::from_bits(((k + 127) as u32) << 23)
}

/// Same contract as [`super::reference::na2d`], on the [`Simd::active`] path.
pub fn na2d(p: &NaProblem, qkv: &[f32], rpb: &[Vec<f32>]) -> Vec<f32> {
    na2d_with(p, qkv, rpb, Simd::active())
}

/// [`na2d`] on a chosen path; a path the CPU lacks runs the portable code.
pub fn na2d_with(p: &NaProblem, qkv: &[f32], rpb: &[Vec<f32>], simd: Simd) -> Vec<f32> {
    let simd = simd.or_portable();
    #[cfg(target_arch = "x86_64")]
    if simd == Simd::Avx512 && na_lanes::supports(p) {
        // SAFETY: the CPU runs the AVX-512 path (`or_portable`) and the problem is supported.
        return unsafe { na_lanes::na2d(p, qkv, rpb) };
    }
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
            .flat_map(|b| {
                (0..group.dilation).flat_map(move |phase| {
                    (phase..p.height)
                        .step_by(group.dilation)
                        .map(move |y| b * p.height + y)
                })
            })
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

/// The output buffer, shared by the row tasks (each writes only its own rows).
struct OutRows(*mut f32);
// SAFETY: tasks write disjoint rows (see `na2d_hd`).
unsafe impl Sync for OutRows {}

impl OutRows {
    /// # Safety
    /// Row `row` of length `len` lies in the buffer and no other task uses it meanwhile.
    #[allow(clippy::mut_from_ref)]
    unsafe fn row(&self, row: usize, len: usize) -> &mut [f32] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(row * len), len) }
    }

    /// # Safety
    /// `start..start + len` lies in the buffer and no other task uses it meanwhile.
    #[allow(clippy::mut_from_ref)]
    unsafe fn span(&self, start: usize, len: usize) -> &mut [f32] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
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
    let d = group.dilation;
    for x in (0..d.min(width)).flat_map(|phase| (phase..width).step_by(d)) {
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
fn dot<const HD: usize>(a: &[f32], b: &[f32]) -> f32 {
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
fn axpy<const HD: usize>(o: &mut [f32], a: f32, v: &[f32]) {
    if HD == 0 {
        o.iter_mut().zip(v).for_each(|(o, v)| *o += a * v);
        return;
    }
    let (o, v) = (&mut o[..HD], &v[..HD]);
    for e in 0..HD {
        o[e] += a * v[e];
    }
}

/// Abramowitz & Stegun 7.1.26: `erf(a) ≈ 1 − t·(A₀ + A₁t + … + A₄t⁴)·e^(−a²)`, `t = 1/(1 + p·a)`.
const ERF_P: f32 = 0.327_591_1;
const ERF_A: [f32; 5] = [
    0.254_829_6,
    -0.284_496_74,
    1.421_413_7,
    -1.453_152_1,
    1.061_405_4,
];

/// `erf` with absolute error below 1e-6 in f32 (Abramowitz & Stegun 7.1.26); vectorisable.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + ERF_P * a);
    let poly = t * (ERF_A[0] + t * (ERF_A[1] + t * (ERF_A[2] + t * (ERF_A[3] + t * ERF_A[4]))));
    let e = 1.0 - poly * exp_nonpositive(-a * a);
    e.copysign(x)
}

/// Exact-form GELU `x · ½ (1 + erf(x/√2))` in place, in parallel, on the active path.
pub fn gelu_inplace(data: &mut [f32]) {
    gelu_inplace_with(data, Simd::active())
}

/// [`gelu_inplace`] on a chosen path; a path the CPU lacks runs the portable code.
pub fn gelu_inplace_with(data: &mut [f32], simd: Simd) {
    let simd = simd.or_portable();
    data.par_chunks_mut(1 << 14).for_each(|chunk| {
        #[cfg(target_arch = "x86_64")]
        if simd == Simd::Avx512 {
            // SAFETY: the CPU runs the AVX-512 path (`or_portable` checked).
            return unsafe { vmath::bias_gelu(chunk, &[]) };
        }
        simd.vectorize(
            #[inline(always)]
            || gelu_chunk(chunk),
        )
    });
}

#[inline(always)]
pub(super) fn gelu_chunk(chunk: &mut [f32]) {
    for v in chunk {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate() {
        for i in 0..10_000 {
            let x = -(i as f32) * 0.008;
            let (got, want) = (exp_nonpositive(x), (x as f64).exp());
            assert!(
                ((got as f64 - want) / want).abs() < 3e-7,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn fast_erf_is_accurate() {
        // A&S 7.1.26 is within 1.5e-7 in exact arithmetic; evaluated in f32 we see ~5e-7.
        let mut worst = 0f64;
        for i in -4000..4000 {
            let x = i as f32 * 0.001;
            worst = worst.max((erf(x) as f64 - libm_erf(x as f64)).abs());
        }
        println!("max |erf error| = {worst:.2e}");
        assert!(worst < 1e-6, "max |erf error| = {worst:.2e}");
    }

    /// Reference erf by its Maclaurin series (converges fast for |x| ≤ 4 in f64).
    fn libm_erf(x: f64) -> f64 {
        let mut sum = 0.0;
        let mut term = x;
        let mut n = 0.0;
        while term.abs() > 1e-17 || n < 5.0 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
            if n > 400.0 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }
}
