//! Neighbourhood attention implementations against the f64 oracle on random problems:
//! odd and non-square maps, kernels 3–13, dilations up to L/k, uneven head groups, batches.

mod common;
use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use stylenat::kernels::{KernelPath, NaProblem, neighborhood_attention, reference, to_host};
use stylenat::model::HeadGroup;

fn problems() -> Vec<NaProblem> {
    let g = |heads, kernel, dilation| HeadGroup {
        heads,
        kernel,
        dilation,
    };
    let p = |batch, height, width, head_dim, groups: Vec<HeadGroup>| NaProblem {
        batch,
        height,
        width,
        head_dim,
        scale: (head_dim as f32).powf(-0.5),
        groups,
    };
    vec![
        p(1, 7, 7, 4, vec![g(2, 7, 1)]),                           // L = k
        p(2, 9, 13, 8, vec![g(1, 3, 1), g(2, 3, 3)]),              // odd, non-square, uneven groups
        p(1, 16, 16, 4, vec![g(2, 7, 1), g(2, 7, 2)]),             // k·d = 14 < 16
        p(1, 14, 15, 5, vec![g(1, 7, 2), g(1, 5, 1), g(2, 3, 4)]), // k·d = L (rows), L not divisible by d (cols)
        p(1, 13, 13, 3, vec![g(1, 13, 1), g(1, 11, 1)]),           // large kernels, L = k
        p(3, 10, 12, 6, vec![g(3, 5, 2)]),                         // batch 3
        p(1, 4, 4, 16, vec![g(4, 4, 1)]),                          // 4×4 full attention
    ]
}

fn random_inputs(p: &NaProblem, seed: u64) -> (Vec<f32>, Vec<Vec<f32>>) {
    let c = p.heads() * p.head_dim;
    let qkv: Vec<f32> = random_vec(p.batch * p.height * p.width * 3 * c, seed)
        .iter()
        .map(|x| x * 2.0)
        .collect();
    let rpb = p
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| random_vec(g.heads * (2 * g.kernel - 1).pow(2), seed + 100 + i as u64))
        .collect();
    (qkv, rpb)
}

fn run(p: &NaProblem, qkv: &[f32], rpb: &[Vec<f32>], which: KernelPath) -> Vec<f32> {
    let device = Device::flex();
    let c = p.heads() * p.head_dim;
    let q = Tensor::<4>::from_data(
        TensorData::new(qkv.to_vec(), [p.batch, p.height, p.width, 3 * c]),
        &device,
    );
    let tables: Vec<Tensor<3>> = p
        .groups
        .iter()
        .zip(rpb)
        .map(|(g, t)| {
            let n = 2 * g.kernel - 1;
            Tensor::from_data(TensorData::new(t.clone(), [g.heads, n, n]), &device)
        })
        .collect();
    to_host(neighborhood_attention(q, &tables, p, which).unwrap()).unwrap()
}

#[test]
fn fast_cpu_kernel_equals_oracle() {
    for (i, p) in problems().iter().enumerate() {
        let (qkv, rpb) = random_inputs(p, i as u64 + 1);
        let want = reference::na2d(p, &qkv, &rpb);
        let got = run(p, &qkv, &rpb, KernelPath::Cpu);
        let (max, _) = diff(&got, &want);
        println!("problem {i}: cpu max|Δ| = {max:.2e}");
        assert!(max <= 1e-5, "problem {i} {p:?}: max|Δ| = {max}");
    }
}

#[test]
fn plain_tensor_na_equals_oracle() {
    for (i, p) in problems().iter().enumerate() {
        let (qkv, rpb) = random_inputs(p, i as u64 + 50);
        let want = reference::na2d(p, &qkv, &rpb);
        let got = run(p, &qkv, &rpb, KernelPath::Tensor);
        let (max, _) = diff(&got, &want);
        println!("problem {i}: gather max|Δ| = {max:.2e}");
        assert!(max <= 1e-5, "problem {i} {p:?}: max|Δ| = {max}");
    }
}

#[test]
fn oracle_is_a_softmax_over_the_neighbourhood() {
    // With v = 1 everywhere the output must be exactly 1 (weights sum to one); with q = 0 and no
    // bias it must be the plain mean of the neighbourhood values.
    let p = &problems()[1];
    let c = p.heads() * p.head_dim;
    let (mut qkv, rpb) = random_inputs(p, 7);
    for px in qkv.chunks_mut(3 * c) {
        px[2 * c..].fill(1.0);
    }
    let out = reference::na2d(p, &qkv, &rpb);
    assert!(out.iter().all(|x| (x - 1.0).abs() < 1e-6));
}
