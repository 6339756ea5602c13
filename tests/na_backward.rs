//! The fused NA backward (CPU kernels, WGSL on wgpu/lavapipe, and the autodiff op around them)
//! against finite differences of the f64 oracle, on the random problems of `tests/na.rs`
//! (odd and non-square maps, border windows, dilations, uneven head groups, batches).
//!
//! The loss is `L = Σ out · G` for a random `G`, so `dL/d out = G`; a central difference of L
//! in f64 (step 1e-4) is the reference for each checked input.

mod common;
use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use stylenat::backend::{Backend, BackendKind};
use stylenat::kernels::simd::Simd;
use stylenat::kernels::{KernelPath, NaProblem, cpu, neighborhood_attention, reference, to_host};

/// Gradients of one problem: `d qkv` and the groups' `d rpb`, concatenated.
type Grads = (Vec<f32>, Vec<f32>);

/// The output gradient `G` of a problem's loss.
fn output_grad(p: &NaProblem, seed: u64) -> Vec<f32> {
    random_vec(
        p.batch * p.height * p.width * p.heads() * p.head_dim,
        seed + 7,
    )
}

fn loss_f64(p: &NaProblem, qkv: &[f64], rpb: &[Vec<f64>], g: &[f32]) -> f64 {
    let out = reference::na2d_f64(p, qkv, rpb);
    out.iter().zip(g).map(|(o, &g)| o * g as f64).sum()
}

/// Indices to check: every element of small inputs, otherwise a spread of them that includes
/// the first and last (border pixels, last head).
fn sample(len: usize, most: usize) -> Vec<usize> {
    if len <= most {
        return (0..len).collect();
    }
    let mut idx: Vec<usize> = (0..most).map(|i| i * (len - 1) / (most - 1)).collect();
    idx.dedup();
    idx
}

/// Checks `got` against central differences of the oracle at sampled inputs; returns the
/// largest error relative to the gradient's scale.
fn check_against_finite_differences(p: &NaProblem, seed: u64, got: &Grads) -> f64 {
    let (qkv, rpb) = na_inputs(p, seed);
    let g = output_grad(p, seed);
    let mut x: Vec<f64> = qkv.iter().map(|&v| v as f64).collect();
    let mut tables: Vec<Vec<f64>> = rpb
        .iter()
        .map(|t| t.iter().map(|&v| v as f64).collect())
        .collect();
    let h = 1e-4;
    let scale = got.0.iter().chain(&got.1).fold(0f32, |m, v| m.max(v.abs())) as f64;
    let mut worst = 0f64;
    for i in sample(x.len(), 160) {
        let v = x[i];
        x[i] = v + h;
        let plus = loss_f64(p, &x, &tables, &g);
        x[i] = v - h;
        let minus = loss_f64(p, &x, &tables, &g);
        x[i] = v;
        let fd = (plus - minus) / (2.0 * h);
        worst = worst.max((got.0[i] as f64 - fd).abs() / scale);
    }
    let mut flat = 0;
    for t in 0..tables.len() {
        for i in sample(tables[t].len(), 60) {
            let v = tables[t][i];
            tables[t][i] = v + h;
            let plus = loss_f64(p, &x, &tables, &g);
            tables[t][i] = v - h;
            let minus = loss_f64(p, &x, &tables, &g);
            tables[t][i] = v;
            let fd = (plus - minus) / (2.0 * h);
            worst = worst.max((got.1[flat + i] as f64 - fd).abs() / scale);
        }
        flat += tables[t].len();
    }
    worst
}

fn cpu_grads(p: &NaProblem, seed: u64, simd: Simd) -> Grads {
    let (qkv, rpb) = na_inputs(p, seed);
    let g = output_grad(p, seed);
    let (dqkv, drpb) = cpu::na2d_backward_with(p, &qkv, &rpb, &g, simd);
    (dqkv, drpb.concat())
}

/// The gradients burn's autodiff returns for `L = Σ NA(qkv, rpb) · G` on `device` along `path`.
fn autodiff_grads(device: &Device, p: &NaProblem, seed: u64, path: KernelPath) -> Grads {
    let device = device.clone().autodiff();
    let (qkv, rpb) = na_inputs(p, seed);
    let c = p.heads() * p.head_dim;
    let g = output_grad(p, seed);
    let (x, tables) = na_tensors(&device, p, &qkv, &rpb);
    let x = x.require_grad();
    let tables: Vec<Tensor<3>> = tables.into_iter().map(|t| t.require_grad()).collect();
    let gt = Tensor::<4>::from_data(TensorData::new(g, [p.batch, p.height, p.width, c]), &device);
    let out = neighborhood_attention(x.clone(), &tables, p, path).unwrap();
    let grads = (out * gt).sum().backward();
    let dx = to_host(x.grad(&grads).expect("a gradient for qkv")).unwrap();
    let drpb = tables
        .iter()
        .flat_map(|t| to_host(t.grad(&grads).expect("a gradient for the bias")).unwrap())
        .collect();
    (dx, drpb)
}

fn assert_same(what: &str, got: &Grads, want: &Grads, tol: f32) {
    for (name, a, b) in [("d qkv", &got.0, &want.0), ("d rpb", &got.1, &want.1)] {
        assert_eq!(a.len(), b.len(), "{what}: {name} length");
        let (max, _) = diff(a, b);
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        assert!(
            max <= tol * scale,
            "{what}: {name} max|Δ| = {max:.2e} (scale {scale:.2e})"
        );
    }
}

#[test]
fn cpu_backward_matches_finite_differences_of_the_oracle() {
    for (i, p) in na_problems().iter().enumerate() {
        let seed = 300 + i as u64;
        let worst = check_against_finite_differences(p, seed, &cpu_grads(p, seed, Simd::active()));
        println!("problem {i}: max relative error {worst:.2e}");
        assert!(
            worst < 2e-4,
            "problem {i} {p:?}: gradient error {worst:.2e}"
        );
    }
}

#[test]
fn every_cpu_simd_path_gives_the_same_gradients() {
    for (i, p) in na_problems().iter().enumerate() {
        let seed = 400 + i as u64;
        let want = cpu_grads(p, seed, Simd::Portable);
        for simd in Simd::available() {
            assert_same(
                &format!("problem {i} on {simd:?}"),
                &cpu_grads(p, seed, simd),
                &want,
                1e-5,
            );
        }
    }
}

#[test]
fn the_autodiff_op_on_the_cpu_equals_differentiating_the_tensor_ops() {
    for (i, p) in na_problems().iter().enumerate() {
        let seed = 500 + i as u64;
        let fused = autodiff_grads(&Device::flex(), p, seed, KernelPath::Differentiable);
        let ops = autodiff_grads(&Device::flex(), p, seed, KernelPath::Tensor);
        assert_same(&format!("problem {i}"), &fused, &ops, 1e-4);
        assert_same(
            &format!("problem {i} (kernel)"),
            &fused,
            &cpu_grads(p, seed, Simd::active()),
            1e-6,
        );
    }
}

/// The WGSL backward through the autodiff op on a real wgpu device (lavapipe in CI; a missing
/// adapter fails): against finite differences and the CPU kernel.
#[test]
fn wgsl_backward_matches_finite_differences_and_the_cpu() {
    let backend = Backend::init(BackendKind::Wgpu).unwrap_or_else(|e| {
        panic!("no wgpu adapter: {e} (install mesa-vulkan-drivers + libvulkan1 for lavapipe)")
    });
    assert!(
        !stylenat::backend::is_cpu(&backend.device),
        "the wgpu backend fell back to the CPU"
    );
    for (i, p) in na_problems().iter().enumerate() {
        let seed = 600 + i as u64;
        let gpu = autodiff_grads(&backend.device, p, seed, KernelPath::Differentiable);
        let worst = check_against_finite_differences(p, seed, &gpu);
        println!("problem {i}: wgsl max relative error {worst:.2e}");
        assert!(
            worst < 2e-4,
            "problem {i} {p:?}: gradient error {worst:.2e}"
        );
        assert_same(
            &format!("problem {i}"),
            &gpu,
            &cpu_grads(p, seed, Simd::active()),
            1e-4,
        );
    }
}
