//! The generator on wgpu (lavapipe in CI). A missing adapter is a failure, never a skip.

mod common;
use common::*;
use stylenat::backend::{Backend, BackendKind};
use stylenat::checkpoint::ConfigSource;
use stylenat::engine::Engine;

fn wgpu_backend() -> Backend {
    let b = Backend::init(BackendKind::Wgpu).unwrap_or_else(|e| {
        panic!("no wgpu adapter: {e} (install mesa-vulkan-drivers + libvulkan1 for lavapipe)")
    });
    println!("adapter: {}", b.description);
    b
}

#[test]
fn wgpu_generator_matches_the_fixture() {
    let e = Engine::load(
        &small("checkpoint.pt"),
        &ConfigSource::Checkpoint,
        wgpu_backend(),
    )
    .unwrap();
    assert_cases(&e, "wgpu", &["wplus", "mix"]);
}
