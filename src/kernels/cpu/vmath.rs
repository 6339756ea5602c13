//! The CPU kernels' scalar math on sixteen AVX-512 lanes (and `e^x` on eight AVX2 lanes), same
//! formulas and constants: `e^x` for `x ≤ 0` ([`super::exp_nonpositive`]) and the exact-form GELU
//! ([`super::gelu_chunk`]). GELU's division becomes `vrcp14ps` plus one Newton step (relative
//! error ~1e-8, far below the erf formula's 1e-7); the division was most of its cost on
//! AMD EPYC, where GELU took ~10 % of FFHQ-1024.

use super::{ERF_A, ERF_P, EXP_MAGIC, EXP_POLY, LN2_HI, LN2_LO};
use std::arch::x86_64::*;

/// [`super::exp_nonpositive`] on sixteen lanes.
#[target_feature(enable = "avx512f")]
#[inline]
pub fn exp_nonpositive(x: __m512) -> __m512 {
    let x = _mm512_max_ps(x, _mm512_set1_ps(-87.0));
    let t = _mm512_fmadd_ps(
        x,
        _mm512_set1_ps(std::f32::consts::LOG2_E),
        _mm512_set1_ps(EXP_MAGIC),
    );
    let kf = _mm512_sub_ps(t, _mm512_set1_ps(EXP_MAGIC));
    let k = _mm512_sub_epi32(
        _mm512_castps_si512(t),
        _mm512_set1_epi32(EXP_MAGIC.to_bits() as i32),
    );
    let r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(LN2_HI), x);
    let r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(LN2_LO), r);
    let mut poly = _mm512_set1_ps(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(c));
    }
    let two_k = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
        k,
        _mm512_set1_epi32(127),
    )));
    _mm512_mul_ps(poly, two_k)
}

/// [`super::exp_nonpositive`] on eight AVX2 lanes, with the FMAs the scalar loop lacks (Rust
/// never fuses a multiply and an add by itself).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub fn exp_nonpositive8(x: __m256) -> __m256 {
    let x = _mm256_max_ps(x, _mm256_set1_ps(-87.0));
    let t = _mm256_fmadd_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
        _mm256_set1_ps(EXP_MAGIC),
    );
    let kf = _mm256_sub_ps(t, _mm256_set1_ps(EXP_MAGIC));
    let k = _mm256_sub_epi32(
        _mm256_castps_si256(t),
        _mm256_set1_epi32(EXP_MAGIC.to_bits() as i32),
    );
    let r = _mm256_fnmadd_ps(kf, _mm256_set1_ps(LN2_HI), x);
    let r = _mm256_fnmadd_ps(kf, _mm256_set1_ps(LN2_LO), r);
    let mut poly = _mm256_set1_ps(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(c));
    }
    let two_k = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        k,
        _mm256_set1_epi32(127),
    )));
    _mm256_mul_ps(poly, two_k)
}

/// `GELU(x) = x · ½ (1 + erf(x/√2))`, erf by Abramowitz & Stegun 7.1.26 as [`super::erf`].
#[target_feature(enable = "avx512f")]
#[inline]
pub fn gelu(x: __m512) -> __m512 {
    let z = _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
    let a = _mm512_abs_ps(z);
    // t = 1 / (1 + p·a): a 14-bit reciprocal refined once, t·(2 − d·t).
    let d = _mm512_fmadd_ps(_mm512_set1_ps(ERF_P), a, _mm512_set1_ps(1.0));
    let t0 = _mm512_rcp14_ps(d);
    let t = _mm512_mul_ps(t0, _mm512_fnmadd_ps(d, t0, _mm512_set1_ps(2.0)));
    let mut poly = _mm512_set1_ps(ERF_A[4]);
    for c in [ERF_A[3], ERF_A[2], ERF_A[1], ERF_A[0]] {
        poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(c));
    }
    poly = _mm512_mul_ps(poly, t);
    let e = exp_nonpositive(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a)));
    // erf(|z|) = 1 − poly·e ≥ 0, then z's sign.
    let erf_abs = _mm512_fnmadd_ps(poly, e, _mm512_set1_ps(1.0));
    let sign = _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32(i32::MIN));
    let erf = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(erf_abs), sign));
    let half_x = _mm512_mul_ps(x, _mm512_set1_ps(0.5));
    _mm512_fmadd_ps(half_x, erf, half_x)
}

/// `GELU(v + bias)` in place over rows of `bias.len()` values (`bias` empty: no bias).
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn bias_gelu(data: &mut [f32], bias: &[f32]) {
    let row = if bias.is_empty() {
        data.len()
    } else {
        bias.len()
    };
    for r in data.chunks_mut(row.max(1)) {
        for i in (0..r.len()).step_by(16) {
            let mask = (u32::MAX >> (32 - (r.len() - i).min(16))) as u16;
            // SAFETY: masked to the `r.len() − i` values left in the row (and in `bias`).
            unsafe {
                let p = r.as_mut_ptr().add(i);
                let mut v = _mm512_maskz_loadu_ps(mask, p);
                if !bias.is_empty() {
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias.as_ptr().add(i)));
                }
                _mm512_mask_storeu_ps(p, mask, gelu(v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight-lane `e^x` against f64 `exp` over the softmax's range (−87 clamps to e^−87),
    /// within the scalar formula's bound of 3e-7 relative.
    #[test]
    fn eight_lane_exp_matches_f64() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            println!("no AVX2 + FMA on this CPU: the eight-lane exp is not used here");
            return;
        }
        for chunk in (0..8000).collect::<Vec<i32>>().chunks(8) {
            let x: [f32; 8] = std::array::from_fn(|i| -(chunk[i] as f32) * 0.011);
            let mut got = [0f32; 8];
            // SAFETY: AVX2 and FMA checked above; eight floats in and out.
            unsafe {
                let v = exp_nonpositive8(_mm256_loadu_ps(x.as_ptr()));
                _mm256_storeu_ps(got.as_mut_ptr(), v);
            }
            for (&x, &g) in x.iter().zip(&got) {
                let want = (x.max(-87.0) as f64).exp();
                let rel = (g as f64 - want).abs() / want;
                assert!(rel < 3e-7, "e^{x}: {g} vs {want} (relative {rel:.1e})");
            }
        }
    }

    /// Against the scalar GELU (itself checked against a series erf), with and without bias,
    /// rows that are not whole vectors.
    #[test]
    fn gelu_matches_the_scalar_formula() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            println!("no AVX-512 on this CPU: the scalar GELU serves here");
            return;
        }
        let data: Vec<f32> = (0..3 * 37).map(|i| (i as f32 - 55.0) * 0.11).collect();
        let bias: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) * 0.05).collect();
        for b in [&bias[..], &[]] {
            let mut got = data.clone();
            // SAFETY: AVX-512F checked above.
            unsafe { bias_gelu(&mut got, b) };
            for (i, (&g, &x)) in got.iter().zip(&data).enumerate() {
                let x = x + b.get(i % 37).copied().unwrap_or(0.0);
                let mut want = [x];
                super::super::gelu_chunk(&mut want);
                assert!(
                    (g - want[0]).abs() < 2e-6 * (1.0 + x.abs()),
                    "GELU({x}): {g} vs {}",
                    want[0]
                );
            }
        }
    }
}
