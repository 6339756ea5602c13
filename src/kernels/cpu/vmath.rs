//! The CPU kernels' scalar math on vector lanes — `2^x` for `x ≤ 0` ([`super::exp2_nonpositive`])
//! and the exact-form GELU ([`super::gelu_chunk`]) — written once over [`Lanes`] and run on
//! sixteen AVX-512 or eight AVX2 lanes: same formulas and constants, with the fused
//! multiply-adds the scalar loops lack (Rust never fuses a multiply and an add by itself).
//! GELU's division becomes a reciprocal estimate plus one Newton step (relative error ~1e-7
//! from AVX2's 12-bit estimate, ~1e-8 from AVX-512's 14-bit one, against the erf formula's
//! 1.5e-7 absolute); the division was most of GELU's cost on AMD EPYC.

use super::{ERF_A, ERF_P, EXP2_MAGIC, EXP2_MIN, EXP2_POLY};
use std::arch::x86_64::*;

/// The vector operations the formulas below need. Every method is `unsafe`: the CPU must run
/// the type's instruction set (AVX2 + FMA for `__m256`, AVX-512F for `__m512`). They are
/// `#[inline(always)]`, so they compile into their callers' `#[target_feature]` functions.
pub trait Lanes: Copy {
    const LANES: usize;
    unsafe fn splat(v: f32) -> Self;
    unsafe fn add(self, o: Self) -> Self;
    unsafe fn sub(self, o: Self) -> Self;
    unsafe fn mul(self, o: Self) -> Self;
    unsafe fn max(self, o: Self) -> Self;
    /// `self·b + c`.
    unsafe fn fmadd(self, b: Self, c: Self) -> Self;
    /// `c − self·b`.
    unsafe fn fnmadd(self, b: Self, c: Self) -> Self;
    /// An estimate of `1/self`, 12 bits or better.
    unsafe fn rcp(self) -> Self;
    unsafe fn abs(self) -> Self;
    /// `self` (≥ 0) with the sign of `sign`.
    unsafe fn with_sign_of(self, sign: Self) -> Self;
    /// `2^k` from `t = k + `[`EXP2_MAGIC`]: `t`'s bits shifted up 23 (see
    /// [`super::exp2_nonpositive`]).
    unsafe fn pow2_from_magic(t: Self) -> Self;
    /// The first `n ≤ LANES` floats at `p`, zeros after them.
    unsafe fn load(p: *const f32, n: usize) -> Self;
    /// Stores the first `n ≤ LANES` lanes at `p`.
    unsafe fn store(self, p: *mut f32, n: usize);
}

impl Lanes for __m256 {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        unsafe { _mm256_add_ps(self, o) }
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        unsafe { _mm256_sub_ps(self, o) }
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        unsafe { _mm256_mul_ps(self, o) }
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        unsafe { _mm256_max_ps(self, o) }
    }
    #[inline(always)]
    unsafe fn fmadd(self, b: Self, c: Self) -> Self {
        unsafe { _mm256_fmadd_ps(self, b, c) }
    }
    #[inline(always)]
    unsafe fn fnmadd(self, b: Self, c: Self) -> Self {
        unsafe { _mm256_fnmadd_ps(self, b, c) }
    }
    #[inline(always)]
    unsafe fn rcp(self) -> Self {
        unsafe { _mm256_rcp_ps(self) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), self) }
    }
    #[inline(always)]
    unsafe fn with_sign_of(self, sign: Self) -> Self {
        unsafe { _mm256_or_ps(self, _mm256_and_ps(sign, _mm256_set1_ps(-0.0))) }
    }
    #[inline(always)]
    unsafe fn pow2_from_magic(t: Self) -> Self {
        unsafe { _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(t))) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, n: usize) -> Self {
        unsafe {
            match n {
                8 => _mm256_loadu_ps(p),
                _ => _mm256_maskload_ps(p, first_lanes8(n)),
            }
        }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, n: usize) {
        unsafe {
            match n {
                8 => _mm256_storeu_ps(p, self),
                _ => _mm256_maskstore_ps(p, first_lanes8(n), self),
            }
        }
    }
}

/// All ones in the lanes below `n` (≤ 8), for AVX2's masked loads and stores.
///
/// # Safety
/// The CPU must run AVX2.
#[inline(always)]
pub(super) unsafe fn first_lanes8(n: usize) -> __m256i {
    unsafe {
        let index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), index)
    }
}

/// Bit `i` set for the lanes `i` below `n` (≤ 16): AVX-512's mask for a vector's first `n`
/// floats.
#[inline(always)]
pub(super) fn first_lanes16(n: usize) -> u16 {
    debug_assert!(n <= 16);
    ((1u32 << n) - 1) as u16
}

impl Lanes for __m512 {
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        unsafe { _mm512_add_ps(self, o) }
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        unsafe { _mm512_sub_ps(self, o) }
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        unsafe { _mm512_mul_ps(self, o) }
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        unsafe { _mm512_max_ps(self, o) }
    }
    #[inline(always)]
    unsafe fn fmadd(self, b: Self, c: Self) -> Self {
        unsafe { _mm512_fmadd_ps(self, b, c) }
    }
    #[inline(always)]
    unsafe fn fnmadd(self, b: Self, c: Self) -> Self {
        unsafe { _mm512_fnmadd_ps(self, b, c) }
    }
    #[inline(always)]
    unsafe fn rcp(self) -> Self {
        unsafe { _mm512_rcp14_ps(self) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        unsafe { _mm512_abs_ps(self) }
    }
    #[inline(always)]
    unsafe fn with_sign_of(self, sign: Self) -> Self {
        unsafe {
            let bit = _mm512_and_si512(_mm512_castps_si512(sign), _mm512_set1_epi32(i32::MIN));
            _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(self), bit))
        }
    }
    #[inline(always)]
    unsafe fn pow2_from_magic(t: Self) -> Self {
        unsafe { _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_castps_si512(t))) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, n: usize) -> Self {
        unsafe { _mm512_maskz_loadu_ps(first_lanes16(n), p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, n: usize) {
        unsafe { _mm512_mask_storeu_ps(p, first_lanes16(n), self) }
    }
}

/// [`super::exp2_nonpositive`] on the lanes of `V`.
///
/// # Safety
/// The CPU must run `V`'s instruction set.
#[inline(always)]
pub unsafe fn exp2_nonpositive<V: Lanes>(x: V) -> V {
    unsafe {
        let x = x.max(V::splat(EXP2_MIN));
        let t = x.add(V::splat(EXP2_MAGIC));
        let r = x.sub(t.sub(V::splat(EXP2_MAGIC)));
        let mut poly = V::splat(EXP2_POLY[0]);
        for &c in &EXP2_POLY[1..] {
            poly = poly.fmadd(r, V::splat(c));
        }
        poly.mul(V::pow2_from_magic(t))
    }
}

/// [`exp2_nonpositive`] on sixteen AVX-512 lanes.
#[target_feature(enable = "avx512f")]
#[inline]
pub fn exp2_nonpositive16(x: __m512) -> __m512 {
    // SAFETY: AVX-512F is enabled here.
    unsafe { exp2_nonpositive(x) }
}

/// [`exp2_nonpositive`] on eight AVX2 lanes.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub fn exp2_nonpositive8(x: __m256) -> __m256 {
    // SAFETY: AVX2 and FMA are enabled here.
    unsafe { exp2_nonpositive(x) }
}

/// `GELU(x) = x · ½ (1 + erf(x/√2))`, erf by Abramowitz & Stegun 7.1.26 as [`super::erf`].
///
/// # Safety
/// The CPU must run `V`'s instruction set.
#[inline(always)]
unsafe fn gelu<V: Lanes>(x: V) -> V {
    unsafe {
        let z = x.mul(V::splat(std::f32::consts::FRAC_1_SQRT_2));
        let a = z.abs();
        // t = 1 / (1 + p·a): the estimate refined once, t·(2 − d·t).
        let d = V::splat(ERF_P).fmadd(a, V::splat(1.0));
        let t0 = d.rcp();
        let t = t0.mul(d.fnmadd(t0, V::splat(2.0)));
        let mut poly = V::splat(ERF_A[4]);
        for c in [ERF_A[3], ERF_A[2], ERF_A[1], ERF_A[0]] {
            poly = poly.fmadd(t, V::splat(c));
        }
        poly = poly.mul(t);
        // e^(−a²) = 2^(−a²·log2 e), as [`super::exp_nonpositive`].
        let e = exp2_nonpositive(a.mul(a.mul(V::splat(-std::f32::consts::LOG2_E))));
        // erf(|z|) = 1 − poly·e ≥ 0, then z's sign.
        let erf = poly.fnmadd(e, V::splat(1.0)).with_sign_of(z);
        let half_x = x.mul(V::splat(0.5));
        half_x.fmadd(erf, half_x)
    }
}

/// `GELU(v + bias)` in place over rows of `bias.len()` values (`bias` empty: no bias).
///
/// # Safety
/// The CPU must run `V`'s instruction set.
#[inline(always)]
unsafe fn bias_gelu_on<V: Lanes>(data: &mut [f32], bias: &[f32]) {
    let row = if bias.is_empty() {
        data.len()
    } else {
        bias.len()
    };
    for r in data.chunks_mut(row.max(1)) {
        for i in (0..r.len()).step_by(V::LANES) {
            let n = (r.len() - i).min(V::LANES);
            // SAFETY: `n` values are left in the row (and in `bias`); the caller's contract.
            unsafe {
                let p = r.as_mut_ptr().add(i);
                let mut v = V::load(p, n);
                if !bias.is_empty() {
                    v = v.add(V::load(bias.as_ptr().add(i), n));
                }
                gelu(v).store(p, n);
            }
        }
    }
}

/// [`bias_gelu_on`] sixteen AVX-512 lanes at a time.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn bias_gelu16(data: &mut [f32], bias: &[f32]) {
    unsafe { bias_gelu_on::<__m512>(data, bias) }
}

/// [`bias_gelu_on`] eight AVX2 lanes at a time.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn bias_gelu8(data: &mut [f32], bias: &[f32]) {
    unsafe { bias_gelu_on::<__m256>(data, bias) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight-lane `2^x` against f64 over the softmax's range (−125 clamps to 2^−125),
    /// within the scalar formula's bound of 3e-7 relative.
    #[test]
    fn eight_lane_exp2_matches_f64() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            println!("no AVX2 + FMA on this CPU: the eight-lane exp2 is not used here");
            return;
        }
        for chunk in (0..16000).collect::<Vec<i32>>().chunks(8) {
            let x: [f32; 8] = std::array::from_fn(|i| -(chunk[i] as f32) * 0.0079);
            let mut got = [0f32; 8];
            // SAFETY: AVX2 and FMA checked above; eight floats in and out.
            unsafe {
                let v = exp2_nonpositive8(_mm256_loadu_ps(x.as_ptr()));
                _mm256_storeu_ps(got.as_mut_ptr(), v);
            }
            for (&x, &g) in x.iter().zip(&got) {
                let want = 2f64.powf(x.max(-125.0) as f64);
                let rel = (g as f64 - want).abs() / want;
                assert!(rel < 3e-7, "2^{x}: {g} vs {want} (relative {rel:.1e})");
            }
        }
    }

    /// Every path's `GELU(v + bias)` ([`super::super::bias_gelu`]) against the scalar formula
    /// (itself checked against a series erf), with and without bias, on rows that are not
    /// whole vectors.
    #[test]
    fn gelu_matches_the_scalar_formula() {
        let data: Vec<f32> = (0..3 * 37).map(|i| (i as f32 - 55.0) * 0.11).collect();
        let bias: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) * 0.05).collect();
        for simd in crate::kernels::simd::Simd::available() {
            for b in [&bias[..], &[]] {
                let mut got = data.clone();
                super::super::bias_gelu(&mut got, b, simd);
                for (i, (&g, &x)) in got.iter().zip(&data).enumerate() {
                    let x = x + b.get(i % 37).copied().unwrap_or(0.0);
                    let mut want = [x];
                    super::super::gelu_chunk(&mut want);
                    assert!(
                        (g - want[0]).abs() < 2e-6 * (1.0 + x.abs()),
                        "{simd:?} GELU({x}): {g} vs {}",
                        want[0]
                    );
                }
            }
        }
    }
}
