//! The machine's measured fp32 peak: independent fused multiply–add chains on every rayon
//! thread, with the widest vectors the CPU runs. Benchmarks divide by it, so "fraction of
//! peak" means the same on every machine rather than a datasheet figure.

use super::simd::Simd;
use rayon::prelude::*;
use std::time::Instant;

/// Independent accumulators per thread: enough to cover FMA latency (4 cycles) on two ports.
const CHAINS: usize = 12;
/// FMAs per chain per call; long enough that loop overhead vanishes, short enough to repeat.
const ITERS: usize = 1 << 20;

/// GFLOP/s of fp32 FMAs (2 FLOPs each) on all threads, on the best SIMD path this CPU runs:
/// the best of a few ~50 ms repetitions (the first one warms the clocks up).
pub fn peak_gflops() -> (f64, Simd) {
    let simd = Simd::active();
    let threads = rayon::current_num_threads();
    let lanes = simd.lanes();
    let mut best = 0f64;
    for _ in 0..5 {
        let t0 = Instant::now();
        let sink: f32 = (0..threads)
            .into_par_iter()
            .map(|t| fma_chains(simd, t as f32 * 1e-9))
            .sum();
        let secs = t0.elapsed().as_secs_f64();
        std::hint::black_box(sink);
        let flops = (threads * CHAINS * ITERS * lanes * 2) as f64;
        best = best.max(flops / secs / 1e9);
    }
    (best, simd)
}

fn fma_chains(simd: Simd, seed: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    match simd {
        // SAFETY: `Simd::active` only returns paths the CPU supports.
        Simd::Avx512 => return unsafe { x86::chains_avx512(seed) },
        Simd::Avx2 => return unsafe { x86::chains_avx2(seed) },
        Simd::Portable => {}
    }
    let mut acc = [seed; CHAINS];
    for _ in 0..ITERS {
        for a in acc.iter_mut() {
            *a = *a * 0.999_999 + 1e-7;
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{CHAINS, ITERS};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub unsafe fn chains_avx512(seed: f32) -> f32 {
        let (m, c) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc = [_mm512_set1_ps(seed); CHAINS];
        for _ in 0..ITERS {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, m, c);
            }
        }
        acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn chains_avx2(seed: f32) -> f32 {
        let (m, c) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc = [_mm256_set1_ps(seed); CHAINS];
        for _ in 0..ITERS {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, m, c);
            }
        }
        let mut sum = 0f32;
        for a in acc {
            let mut lanes = [0f32; 8];
            // SAFETY: `lanes` holds exactly one 8-float vector.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), a) };
            sum += lanes.iter().sum::<f32>();
        }
        sum
    }
}
