//! Neighbourhood attention implementations against the f64 oracle on random problems:
//! odd and non-square maps, kernels 3–13, dilations up to L/k, uneven head groups, batches.

mod common;
use burn::tensor::Device;
use common::*;
use stylenat::kernels::{KernelPath, reference};

#[test]
fn fast_cpu_kernel_equals_oracle() {
    for (i, p) in na_problems().iter().enumerate() {
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
}
