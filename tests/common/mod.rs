//! Shared helpers for integration tests: fixture paths, arrays, comparisons.
#![allow(dead_code)]

pub mod ui;

use burn::tensor::{Device, Tensor, TensorData};
use std::path::PathBuf;
use stylenat::kernels::{KernelPath, NaProblem, neighborhood_attention, to_host};
use stylenat::model::HeadGroup;
use stylenat::tensor::HostTensor;

/// The `stylenat` binary under test.
pub const STYLENAT: &str = env!("CARGO_BIN_EXE_stylenat");

/// Runs the real binary as a user would (with a private cache folder).
pub fn stylenat(args: &[&str]) -> std::process::Output {
    std::process::Command::new(STYLENAT)
        .args(args)
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join("stylenat-test-cache"),
        )
        .output()
        .expect("the binary runs")
}

/// [`stylenat`], which must succeed (its stderr is shown otherwise).
pub fn stylenat_ok(args: &[&str]) -> std::process::Output {
    let r = stylenat(args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    r
}

/// `../shared/fixtures/<rel>` beside the repository (as CI lays it out).
pub fn fixture(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(rel);
    assert!(
        p.exists(),
        "fixture {} is missing: ../shared must sit beside the repository",
        p.display()
    );
    p
}

/// The fixture checkpoint on the CPU backend.
pub fn fixture_engine() -> stylenat::engine::Engine {
    stylenat::engine::Engine::load(
        &small("checkpoint.pt"),
        &stylenat::checkpoint::ConfigSource::Checkpoint,
        stylenat::backend::Backend::init(stylenat::backend::BackendKind::Cpu).unwrap(),
    )
    .unwrap()
}

pub fn small(rel: &str) -> PathBuf {
    fixture(&format!("stylenat-small/{rel}"))
}

pub fn npy(path: PathBuf) -> HostTensor {
    stylenat::io::npy::read_array(&path, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (max |a − b|, ‖a − b‖ / ‖b‖)
pub fn diff(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let mut max = 0f32;
    let (mut num, mut den) = (0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        max = max.max((x - y).abs());
        num += ((x - y) as f64).powi(2);
        den += (y as f64).powi(2);
    }
    (max, (num / den.max(1e-30)).sqrt() as f32)
}

/// Asserts the fixture tolerance: max|Δ| ≤ `max_abs` and rel-L2 ≤ `rel_l2`.
pub fn assert_close(name: &str, got: &HostTensor, want: &HostTensor, max_abs: f32, rel_l2: f32) {
    assert_eq!(got.shape, want.shape, "{name}: shape");
    let (m, r) = diff(&got.data, &want.data);
    println!("{name}: max|Δ| = {m:.3e}, rel-L2 = {r:.3e}");
    assert!(
        m <= max_abs && r <= rel_l2,
        "{name}: max|Δ| = {m:.3e} (≤ {max_abs:e}), rel-L2 = {r:.3e} (≤ {rel_l2:e})"
    );
}

/// Runs the synthesis network on each fixture case's W+ and checks the official output.
pub fn assert_cases(engine: &stylenat::engine::Engine, label: &str, cases: &[&str]) {
    for case in cases {
        let wplus = npy(small(&format!("{case}_in_wplus.npy")));
        let out = engine.synthesize(&wplus, 2, |_| {}).unwrap();
        let want = npy(small(&format!("{case}_out_img.npy")));
        assert_close(&format!("{label} {case}"), &out, &want, 1e-3, 1e-4);
    }
}

/// Deterministic pseudo-random floats in [−1, 1).
pub fn random_vec(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect()
}

/// A head group of `heads` heads with one kernel and dilation.
pub fn g(heads: usize, kernel: usize, dilation: usize) -> HeadGroup {
    HeadGroup {
        heads,
        kernel,
        dilation,
    }
}

/// An NA problem with the default attention scale.
pub fn p(
    batch: usize,
    height: usize,
    width: usize,
    head_dim: usize,
    groups: Vec<HeadGroup>,
) -> NaProblem {
    NaProblem {
        batch,
        height,
        width,
        head_dim,
        scale: (head_dim as f32).powf(-0.5),
        groups,
    }
}

pub fn na_problems() -> Vec<NaProblem> {
    vec![
        p(1, 7, 7, 4, vec![g(2, 7, 1)]),                           // L = k
        p(2, 9, 13, 8, vec![g(1, 3, 1), g(2, 3, 3)]),              // odd, non-square, uneven groups
        p(1, 16, 16, 4, vec![g(2, 7, 1), g(2, 7, 2)]),             // k·d = 14 < 16
        p(1, 14, 15, 5, vec![g(1, 7, 2), g(1, 5, 1), g(2, 3, 4)]), // k·d = L (rows), L not divisible by d (cols)
        p(1, 13, 13, 3, vec![g(1, 13, 1), g(1, 11, 1)]),           // large kernels, L = k
        p(3, 10, 12, 6, vec![g(3, 5, 2)]),                         // batch 3
        p(1, 4, 4, 16, vec![g(4, 4, 1)]),                          // 4×4 full attention
        // The head sizes official checkpoints use (the CPU kernel has specialised code for
        // them; the WGSL kernel's per-thread arrays grow with them).
        p(1, 11, 9, 32, vec![g(2, 5, 1), g(1, 3, 3)]),
        p(2, 8, 10, 64, vec![g(1, 7, 1), g(1, 3, 2)]),
    ]
}

pub fn na_inputs(p: &NaProblem, seed: u64) -> (Vec<f32>, Vec<Vec<f32>>) {
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

pub fn run_na(
    device: &Device,
    p: &NaProblem,
    qkv: &[f32],
    rpb: &[Vec<f32>],
    which: KernelPath,
) -> Vec<f32> {
    let (q, tables) = na_tensors(device, p, qkv, rpb);
    to_host(neighborhood_attention(q, &tables, p, which).unwrap()).unwrap()
}

/// `qkv` (`[B, H, W, 3C]`) and the groups' bias tables (`[heads_g, 2k−1, 2k−1]`) as tensors.
pub fn na_tensors(
    device: &Device,
    p: &NaProblem,
    qkv: &[f32],
    rpb: &[Vec<f32>],
) -> (Tensor<4>, Vec<Tensor<3>>) {
    let c = p.heads() * p.head_dim;
    let q = Tensor::<4>::from_data(
        TensorData::new(qkv.to_vec(), [p.batch, p.height, p.width, 3 * c]),
        device,
    );
    let tables = p
        .groups
        .iter()
        .zip(rpb)
        .map(|(g, t)| {
            let n = 2 * g.kernel - 1;
            Tensor::from_data(TensorData::new(t.clone(), [g.heads, n, n]), device)
        })
        .collect();
    (q, tables)
}

/// W+ `[1, num_ws, w_dim]` of one seed with the default recipe (no truncation or mixing).
#[allow(dead_code)]
pub fn seed_wplus(e: &mut stylenat::engine::Engine, seed: u64) -> HostTensor {
    let recipe = stylenat::latent::recipe::Recipe::default().with_seed(seed);
    stylenat::compose::Composer::default()
        .wplus(e, &[recipe])
        .unwrap()
}

/// The fixture checkpoint's path, as a command-line argument.
pub fn ckpt() -> String {
    small("checkpoint.pt").display().to_string()
}

/// A fixture file's path, as a command-line argument.
pub fn small_arg(rel: &str) -> String {
    small(rel).display().to_string()
}
