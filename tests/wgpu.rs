//! The generator on wgpu (lavapipe in CI). A missing adapter is a failure, never a skip.

mod common;
use common::*;
use stylenat::backend::{Backend, BackendKind};
use stylenat::checkpoint::ConfigSource;
use stylenat::engine::Engine;
use stylenat::kernels::KernelPath;

fn wgpu_backend() -> Backend {
    let b = Backend::init(BackendKind::Wgpu).unwrap_or_else(|e| {
        panic!("no wgpu adapter: {e} (install mesa-vulkan-drivers + libvulkan1 for lavapipe)")
    });
    println!("adapter: {}", b.description);
    b
}

#[test]
fn wgsl_na_kernel_equals_the_oracle() {
    let backend = wgpu_backend();
    for (i, p) in na_problems().iter().enumerate() {
        let (qkv, rpb) = na_inputs(p, i as u64 + 200);
        let want = stylenat::kernels::reference::na2d(p, &qkv, &rpb);
        for path in [KernelPath::Wgsl, KernelPath::WgslTiled] {
            let got = run_na(&backend.device, p, &qkv, &rpb, path);
            let (max, _) = diff(&got, &want);
            println!("problem {i}: {path:?} max|Δ| = {max:.2e}");
            assert!(max <= 1e-4, "{path:?}, problem {i} {p:?}: max|Δ| = {max}");
        }
    }
}

#[test]
fn wgpu_generator_matches_the_fixture() {
    let e = Engine::load(
        &small("checkpoint.pt"),
        &ConfigSource::Checkpoint,
        wgpu_backend(),
    )
    .unwrap();
    assert_cases(&e, "wgpu", &["z_trunc", "mix", "wplus"]);
    let z = npy(small("z_plain_in_z.npy"));
    let out = e
        .synthesize(&e.broadcast(&e.map(&z).unwrap()), 2, |_| {})
        .unwrap();
    assert_close(
        "wgpu z_plain",
        &out,
        &npy(small("z_plain_out_img.npy")),
        1e-3,
        1e-4,
    );
}
