//! Fast CPU kernels on host buffers, used by the CPU backend.
//!
//! Neighbourhood attention runs in a lane kernel (one query per vector lane, `na_lanes/`) on
//! AVX-512, and on AVX2 at small head dims; otherwise in the per-query kernel
//! (`per_query.rs`).

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
mod per_query;
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
use rayon::prelude::*;

/// Rounds `x` to the nearest integer `k` with the 1.5·2²³ trick, biased by 127: the sum's low
/// mantissa bits hold `k + 127`, which shifted up 23 bits is the float `2^k` (the sum's own
/// exponent bits shift out), and no float→int conversion is needed.
const EXP2_MAGIC: f32 = 12_583_039.0;
/// Below this `2^x` is clamped: `2^−125` times the polynomial's least value (1/√2) is still a
/// normal float.
const EXP2_MIN: f32 = -125.0;
/// Minimax coefficients of `2^r` on [−½, ½] for relative error (7.5e-8 before rounding),
/// highest first (Horner order); Remez exchange, computed for this project.
const EXP2_POLY: [f32; 6] = [
    0.001_327_647_2,
    0.009_675_541,
    0.055_507_133,
    0.240_221_2,
    0.693_146_97,
    1.000_000_1,
];

/// `2^x` for `x ≤ 0`, relative error < 3e-7: `2^k` from the rounding trick times a degree-5
/// polynomial of the remainder in [−½, ½]. Plain float and integer ops only (no libm, no
/// `round`/`fma` calls), so the loops around it vectorise on any x86-64 / aarch64. The
/// softmaxes keep their scores in base 2 (`·log2 e` folded into the scale and bias), which
/// saves the base change and its two-part remainder.
#[inline(always)]
fn exp2_nonpositive(x: f32) -> f32 {
    let x = x.max(EXP2_MIN);
    let t = x + EXP2_MAGIC;
    let r = x - (t - EXP2_MAGIC);
    let mut p = EXP2_POLY[0];
    for c in &EXP2_POLY[1..] {
        p = p * r + c;
    }
    p * f32::from_bits(t.to_bits() << 23)
}

/// `e^x` for `x ≤ 0` as `2^(x·log2 e)`: the product's rounding adds up to `|x|·1.2e-7`
/// relative error, which matters only where `e^x` is already tiny (GELU's `e^(−a²)`, the
/// per-query softmax's small weights).
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    exp2_nonpositive(x * std::f32::consts::LOG2_E)
}

/// Same contract as [`super::reference::na2d`], on the [`Simd::active`] path.
pub fn na2d(p: &NaProblem, qkv: &[f32], rpb: &[Vec<f32>]) -> Vec<f32> {
    na2d_with(p, qkv, rpb, Simd::active())
}

/// Whether the lane kernels (`na_lanes`) run `p` on path `simd` (one the CPU has): AVX-512
/// whenever they support it, AVX2 where its eight lanes beat the per-query kernel.
pub fn lane_path(p: &NaProblem, simd: Simd) -> bool {
    match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => na_lanes::supports(p),
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => na_lanes::avx2::preferred(p),
        _ => false,
    }
}

/// [`na2d`] on a chosen path; a path the CPU lacks runs the portable code.
pub fn na2d_with(p: &NaProblem, qkv: &[f32], rpb: &[Vec<f32>], simd: Simd) -> Vec<f32> {
    let simd = simd.or_portable();
    #[cfg(target_arch = "x86_64")]
    if lane_path(p, simd) {
        // SAFETY: the CPU runs the path (`or_portable`) and the problem is supported.
        return unsafe { na_lanes::na2d(p, qkv, rpb, simd) };
    }
    per_query::na2d(p, qkv, rpb, simd)
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

    /// Where element `start` is stored: writes go through the pointer, so the buffer need not
    /// be initialised yet (no reference to it is made).
    fn at(&self, start: usize) -> *mut f32 {
        self.0.wrapping_add(start)
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
    data.par_chunks_mut(1 << 14)
        .for_each(|chunk| bias_gelu(chunk, &[], simd));
}

/// `GELU(v + bias)` in place over rows of `bias.len()` values (`bias` empty: no bias), on
/// path `simd` (one the CPU runs): the vector formulas of `vmath.rs` on AVX-512 and AVX2,
/// else the scalar loop, inlined into the caller's vectorised closure.
#[inline(always)]
pub(super) fn bias_gelu(data: &mut [f32], bias: &[f32], simd: Simd) {
    #[cfg(target_arch = "x86_64")]
    match simd {
        // SAFETY: the caller passes a path the CPU runs.
        Simd::Avx512 => return unsafe { vmath::bias_gelu16(data, bias) },
        // SAFETY: as above.
        Simd::Avx2 => return unsafe { vmath::bias_gelu8(data, bias) },
        Simd::Portable => {}
    }
    if bias.is_empty() {
        return gelu_chunk(data);
    }
    for row in data.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
        gelu_chunk(row);
    }
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
    fn fast_exp2_is_accurate() {
        let mut worst = 0f64;
        for i in 0..20_000 {
            let x = -(i as f32) * 0.00625;
            let (got, want) = (exp2_nonpositive(x), 2f64.powf(x as f64));
            worst = worst.max(((got as f64 - want) / want).abs());
        }
        println!("max relative error of 2^x: {worst:.2e}");
        assert!(worst < 3e-7, "max relative error {worst:.2e}");
    }

    /// `e^x` through `2^(x·log2 e)`: the exp2 bound plus the product's rounding (half an ulp
    /// of `x·log2 e` and the constant's own, ~1.2e-7·|x| relative).
    #[test]
    fn fast_exp_is_accurate() {
        for i in 0..10_000 {
            let x = -(i as f32) * 0.008;
            let (got, want) = (exp_nonpositive(x), (x as f64).exp());
            assert!(
                ((got as f64 - want) / want).abs() < 3e-7 + x.abs() as f64 * 1.2e-7,
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
