//! Sixteen dot products at once with AVX-512 (eight with AVX2), for the QK step of
//! neighbourhood attention: each tap's products are summed lane-wise into its own vector, then
//! the vectors are reduced together by a transpose-and-add tree (15 adds for 16 taps, where
//! reducing each on its own takes 4 shuffle–add steps per tap).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// `out[t] = q · data[offsets[t]..][..hd]` for 16 taps; `hd` a multiple of 16.
///
/// # Safety
/// The CPU must support AVX-512F, and every `offsets[t] + hd` must be within `data`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub unsafe fn dots16(q: &[f32], data: &[f32], offsets: &[usize], out: &mut [f32]) {
    let hd = q.len();
    debug_assert!(hd.is_multiple_of(16) && offsets.len() >= 16 && out.len() >= 16);
    let mut acc = [_mm512_setzero_ps(); 16];
    for chunk in (0..hd).step_by(16) {
        // SAFETY: `chunk + 16 ≤ hd` and the caller guarantees the key ranges.
        let qv = unsafe { _mm512_loadu_ps(q.as_ptr().add(chunk)) };
        for (a, &off) in acc.iter_mut().zip(offsets) {
            let k = unsafe { _mm512_loadu_ps(data.as_ptr().add(off + chunk)) };
            *a = _mm512_fmadd_ps(k, qv, *a);
        }
    }
    // Level 1: pairs (2i, 2i+1) → one vector, 128-bit blocks [a0+a2, a1+a3, b0+b2, b1+b3].
    let mut l1 = [_mm512_setzero_ps(); 8];
    for i in 0..8 {
        let (a, b) = (acc[2 * i], acc[2 * i + 1]);
        l1[i] = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b01_00_01_00>(a, b),
            _mm512_shuffle_f32x4::<0b11_10_11_10>(a, b),
        );
    }
    // Level 2: blocks [u0+u1, u2+u3, v0+v1, v2+v3]: one tap per 128-bit block.
    let mut l2 = [_mm512_setzero_ps(); 4];
    for i in 0..4 {
        let (u, v) = (l1[2 * i], l1[2 * i + 1]);
        l2[i] = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b10_00_10_00>(u, v),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(u, v),
        );
    }
    // Level 3: within each block [p0+p2, p1+p3, r0+r2, r1+r3].
    let mut l3 = [_mm512_setzero_ps(); 2];
    for i in 0..2 {
        let (p, r) = (l2[2 * i], l2[2 * i + 1]);
        l3[i] = _mm512_add_ps(
            _mm512_shuffle_ps::<0b01_00_01_00>(p, r),
            _mm512_shuffle_ps::<0b11_10_11_10>(p, r),
        );
    }
    // Level 4: within each block [s0+s1, s2+s3, t0+t1, t2+t3]: one full sum per lane.
    let sums = _mm512_add_ps(
        _mm512_shuffle_ps::<0b10_00_10_00>(l3[0], l3[1]),
        _mm512_shuffle_ps::<0b11_01_11_01>(l3[0], l3[1]),
    );
    let mut lanes = [0f32; 16];
    // SAFETY: `lanes` holds 16 floats.
    unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), sums) };
    for (lane, &tap) in LANE_TAP.iter().enumerate() {
        out[tap] = lanes[lane];
    }
}

/// `out[t] = q · data[offsets[t]..][..hd]` for 8 taps; `hd` a multiple of 8.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and every `offsets[t] + hd` must be within `data`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn dots8(q: &[f32], data: &[f32], offsets: &[usize], out: &mut [f32]) {
    let hd = q.len();
    debug_assert!(hd.is_multiple_of(8) && offsets.len() >= 8 && out.len() >= 8);
    let mut acc = [_mm256_setzero_ps(); 8];
    for chunk in (0..hd).step_by(8) {
        // SAFETY: `chunk + 8 ≤ hd` and the caller guarantees the key ranges.
        let qv = unsafe { _mm256_loadu_ps(q.as_ptr().add(chunk)) };
        for (a, &off) in acc.iter_mut().zip(offsets) {
            let k = unsafe { _mm256_loadu_ps(data.as_ptr().add(off + chunk)) };
            *a = _mm256_fmadd_ps(k, qv, *a);
        }
    }
    // Two levels of pairwise horizontal adds leave, in each 128-bit half, one partial sum per
    // tap: taps 0–3 in `g[0]`, 4–7 in `g[1]`; adding the halves completes them in order.
    let h: [__m256; 4] = std::array::from_fn(|i| _mm256_hadd_ps(acc[2 * i], acc[2 * i + 1]));
    let g = [_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3])];
    let sums = _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(g[0], g[1]),
        _mm256_permute2f128_ps::<0x31>(g[0], g[1]),
    );
    let out = &mut out[..8];
    // SAFETY: `out` holds 8 floats.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sums) };
}

/// Which tap's sum each output lane holds after the tree above (lane = 4·(tap mod 4) +
/// tap div 4; the unit test checks every tap).
const LANE_TAP: [usize; 16] = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn sixteen_dots_equal_one_at_a_time() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            println!("no AVX-512 on this CPU: the path is not run here");
            return;
        }
        for hd in [16, 32, 64] {
            let data: Vec<f32> = (0..40 * hd).map(|i| (i as f32 * 0.7).sin()).collect();
            let q: Vec<f32> = (0..hd).map(|i| 1.0 + i as f32 * 0.1).collect();
            let offsets: Vec<usize> = (0..16).map(|t| (t * 7 % 23) * hd + t).collect();
            // Distinct sums, so a tap's sum in another tap's place cannot pass.
            let mut out = [0f32; 16];
            // SAFETY: AVX-512F checked above; offsets + hd stay inside `data`.
            unsafe { dots16(&q, &data, &offsets, &mut out) };
            for t in 0..16 {
                let want: f32 = (0..hd).map(|e| q[e] * data[offsets[t] + e]).sum();
                assert!((out[t] - want).abs() <= 1e-4, "hd {hd} tap {t}");
            }
        }
    }

    #[test]
    fn eight_dots_equal_one_at_a_time() {
        if !std::arch::is_x86_feature_detected!("avx2") || !is_x86_feature_detected!("fma") {
            println!("no AVX2 on this CPU: the path is not run here");
            return;
        }
        for hd in [8, 16, 32, 64] {
            let data: Vec<f32> = (0..40 * hd).map(|i| (i as f32 * 0.7).sin()).collect();
            let q: Vec<f32> = (0..hd).map(|i| 1.0 + i as f32 * 0.1).collect();
            let offsets: Vec<usize> = (0..8).map(|t| (t * 7 % 23) * hd + t).collect();
            // Distinct sums, so a tap's sum in another tap's place cannot pass.
            let mut out = [0f32; 8];
            // SAFETY: AVX2 and FMA checked above; offsets + hd stay inside `data`.
            unsafe { dots8(&q, &data, &offsets, &mut out) };
            for t in 0..8 {
                let want: f32 = (0..hd).map(|e| q[e] * data[offsets[t] + e]).sum();
                assert!((out[t] - want).abs() <= 1e-4, "hd {hd} tap {t}");
            }
        }
    }
}
