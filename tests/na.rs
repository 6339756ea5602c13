//! Neighbourhood attention implementations against the f64 oracle on random problems:
//! odd and non-square maps, kernels 3–13, dilations up to L/k, uneven head groups, batches.

mod common;
use burn::tensor::Device;
use common::*;
use stylenat::kernels::simd::Simd;
use stylenat::kernels::{KernelPath, cpu, reference};

/// Wide rows (24–70 columns) for the CPU kernel only: many dilation phases, long interiors
/// between the border windows, kernels 3–9, head dims 4–32.
fn wide_problems() -> Vec<stylenat::kernels::NaProblem> {
    vec![
        p(1, 11, 40, 8, vec![g(1, 7, 1), g(1, 5, 2)]),
        p(2, 10, 53, 4, vec![g(2, 3, 1), g(1, 9, 1), g(1, 3, 3)]),
        p(1, 15, 48, 32, vec![g(1, 7, 1), g(1, 7, 2)]),
        p(1, 21, 70, 16, vec![g(2, 5, 4)]),
        // Phases of 8 (and 4) whole columns: every block spans phases, the lanes score their
        // own phase's keys (StyleNAT's dilated groups). A short last block (d = 3), k < L,
        // head dims 4–16.
        p(1, 42, 48, 8, vec![g(1, 7, 1), g(2, 7, 6)]),
        p(2, 18, 24, 4, vec![g(1, 5, 3), g(1, 3, 6)]),
        p(1, 28, 32, 16, vec![g(2, 7, 4)]),
        // Head dim 32 with dense phases: the AVX2 lane kernel's wide case (FFHQ-256).
        p(1, 28, 32, 32, vec![g(1, 7, 1), g(1, 7, 4)]),
    ]
}

fn cpu_problems() -> Vec<stylenat::kernels::NaProblem> {
    na_problems().into_iter().chain(wide_problems()).collect()
}

#[test]
fn fast_cpu_kernel_equals_oracle() {
    for (i, p) in cpu_problems().iter().enumerate() {
        let (qkv, rpb) = na_inputs(p, i as u64 + 1);
        let want = reference::na2d(p, &qkv, &rpb);
        let got = run_na(&Device::flex(), p, &qkv, &rpb, KernelPath::Cpu);
        let (max, _) = diff(&got, &want);
        println!("problem {i}: cpu max|Δ| = {max:.2e}");
        assert!(max <= 1e-5, "problem {i} {p:?}: max|Δ| = {max}");
    }
}

#[test]
fn plain_tensor_na_equals_oracle() {
    for (i, p) in na_problems().iter().enumerate() {
        let (qkv, rpb) = na_inputs(p, i as u64 + 50);
        let want = reference::na2d(p, &qkv, &rpb);
        let got = run_na(&Device::flex(), p, &qkv, &rpb, KernelPath::Tensor);
        let (max, _) = diff(&got, &want);
        println!("problem {i}: gather max|Δ| = {max:.2e}");
        assert!(max <= 1e-5, "problem {i} {p:?}: max|Δ| = {max}");
    }
}

#[test]
fn oracle_is_a_softmax_over_the_neighbourhood() {
    // With v = 1 everywhere the output must be exactly 1 (weights sum to one); with q = 0 and no
    // bias it must be the plain mean of the neighbourhood values.
    let p = &na_problems()[1];
    let c = p.heads() * p.head_dim;
    let (mut qkv, rpb) = na_inputs(p, 7);
    for px in qkv.chunks_mut(3 * c) {
        px[2 * c..].fill(1.0);
    }
    let out = reference::na2d(p, &qkv, &rpb);
    assert!(out.iter().all(|x| (x - 1.0).abs() < 1e-6));

    // q = 0 and a zero bias on a map no larger than the kernel: every query's window is the
    // whole map, so every output is the plain mean of all values of its head.
    let p = &na_problems()[0];
    assert_eq!((p.height, p.width), (7, 7));
    assert!(p.groups.iter().all(|g| g.kernel == 7 && g.dilation == 1));
    let c = p.heads() * p.head_dim;
    let (mut qkv, mut rpb) = na_inputs(p, 8);
    for px in qkv.chunks_mut(3 * c) {
        px[..c].fill(0.0);
    }
    rpb.iter_mut().for_each(|t| t.fill(0.0));
    let pixels = p.height * p.width;
    let mean: Vec<f64> = (0..c)
        .map(|ch| {
            qkv.chunks(3 * c)
                .map(|px| px[2 * c + ch] as f64)
                .sum::<f64>()
                / pixels as f64
        })
        .collect();
    let out = reference::na2d(p, &qkv, &rpb);
    for px in out.chunks(c) {
        for (got, want) in px.iter().zip(&mean) {
            assert!((*got as f64 - want).abs() < 1e-5, "{got} vs mean {want}");
        }
    }
}

/// Every CPU code path this machine can execute (portable always; AVX2+FMA and AVX-512 where
/// present), called directly, so a machine with AVX-512 still tests the lower paths.
#[test]
fn every_cpu_simd_path_equals_oracle() {
    let paths = Simd::available();
    println!(
        "CPU paths on this machine: {paths:?} (active: {:?})",
        Simd::active()
    );
    assert_eq!(paths[0], Simd::Portable);
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        paths.contains(&Simd::Avx2),
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
    );
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        paths.contains(&Simd::Avx512),
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && paths.contains(&Simd::Avx2),
    );
    for &simd in &paths {
        for (i, p) in cpu_problems().iter().enumerate() {
            let (qkv, rpb) = na_inputs(p, i as u64 + 200);
            let want = reference::na2d(p, &qkv, &rpb);
            let got = cpu::na2d_with(p, &qkv, &rpb, simd);
            let (max, _) = diff(&got, &want);
            assert!(max <= 1e-5, "{simd:?} problem {i} {p:?}: max|Δ| = {max}");
        }
        // GELU against the exact form, in f64.
        let x: Vec<f32> = (-6000..6000).map(|i| i as f32 * 1e-3).collect();
        let mut y = x.clone();
        cpu::gelu_inplace_with(&mut y, simd);
        let worst = x
            .iter()
            .zip(&y)
            .map(|(&x, &y)| {
                let x = x as f64;
                let want = 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2));
                (y as f64 - want).abs()
            })
            .fold(0f64, f64::max);
        println!(
            "{simd:?}: NA ok on {} problems; GELU max|Δ| {worst:.2e}",
            cpu_problems().len()
        );
        assert!(worst < 1e-5, "{simd:?} GELU max|Δ| {worst}");
    }
}

/// erf by its Maclaurin series (|x| ≤ 4.3 here; converges in f64) or the tail limit.
fn erf(x: f64) -> f64 {
    if x.abs() > 4.3 {
        return x.signum();
    }
    let (mut sum, mut term, mut n) = (0.0, x, 0.0);
    while term.abs() > 1e-17 || n < 5.0 {
        sum += term / (2.0 * n + 1.0);
        n += 1.0;
        term *= -x * x / n;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}
