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

/// The wgpu tests run on a device with WebGPU's guaranteed limits, not lavapipe's generous
/// ones, so a kernel that needs more than every GPU offers fails here.
#[test]
fn the_test_device_has_webgpu_default_limits() {
    let backend = wgpu_backend();
    let limits = backend.wgpu.as_ref().unwrap().device.limits();
    let webgpu = burn::tensor::wgpu::wgpu::Limits::default();
    assert_eq!(
        (
            limits.max_storage_buffer_binding_size,
            limits.max_buffer_size,
            limits.max_compute_workgroup_storage_size,
            limits.max_compute_invocations_per_workgroup,
        ),
        (
            webgpu.max_storage_buffer_binding_size,
            webgpu.max_buffer_size,
            webgpu.max_compute_workgroup_storage_size,
            webgpu.max_compute_invocations_per_workgroup,
        ),
        "run the tests with `bash scripts/test.sh` (it sets STYLENAT_WGPU_LIMITS=webgpu)"
    );
    // The fixture's largest buffer fits; a model needing more than one binding is refused at
    // load with what it needs.
    let mut big = stylenat::checkpoint::load(&small("checkpoint.pt"), &ConfigSource::Checkpoint)
        .unwrap()
        .config;
    big.stages.last_mut().unwrap().mlp_hidden = 1 << 16;
    let err = stylenat::engine::Engine::random(&big, 0, backend)
        .err()
        .unwrap();
    assert!(err.to_string().contains("needs GPU buffers of"), "{err}");
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

/// Small dispatch limits force what large maps and small GPUs need: a 2-D grid of workgroups
/// (more than fit along x) and tiles shrunk to the workgroup memory, down to the per-query
/// kernel when not even one query's band fits.
#[test]
fn wgsl_na_kernel_equals_the_oracle_within_small_limits() {
    use burn::tensor::{Tensor, TensorData};
    use stylenat::kernels::dispatch::DispatchLimits;
    use stylenat::kernels::wgsl::{LaunchShape, Variant, na2d_within};
    let backend = wgpu_backend();
    let device = &backend.device;
    let mut grids_2d = 0;
    for (i, p) in na_problems().iter().enumerate() {
        let (qkv, rpb) = na_inputs(p, i as u64 + 300);
        let want = stylenat::kernels::reference::na2d(p, &qkv, &rpb);
        let c = p.heads() * p.head_dim;
        let kmax = p.groups.iter().map(|g| g.kernel).max().unwrap();
        // Workgroup memory for tiles of 2, and for none at all.
        for shared in [2 * (2 + kmax - 1) * p.head_dim * 4, 8] {
            for variant in [Variant::PerQuery, Variant::Tiled] {
                let mut limits = DispatchLimits {
                    max_groups_per_dim: u32::MAX,
                    max_shared_bytes: shared,
                };
                let shape = LaunchShape::new(p, variant, &limits);
                if variant == Variant::Tiled {
                    // A tile of 2 when the band fits, the per-query kernel when nothing does.
                    let want = if shared == 8 {
                        Variant::PerQuery
                    } else {
                        Variant::Tiled
                    };
                    assert_eq!(shape.variant, want, "{shape:?}");
                    assert!(shared == 8 || shape.tile == 2, "{shape:?}");
                }
                // Half the workgroups per axis: the grid needs a second row.
                limits.max_groups_per_dim = shape.workgroups.div_ceil(2).max(2);
                let two_d = shape.workgroups > limits.max_groups_per_dim;
                let q = Tensor::<4>::from_data(
                    TensorData::new(qkv.clone(), [p.batch, p.height, p.width, 3 * c]),
                    device,
                );
                let tables: Vec<Tensor<3>> = p
                    .groups
                    .iter()
                    .zip(&rpb)
                    .map(|(g, t)| {
                        let n = 2 * g.kernel - 1;
                        Tensor::from_data(TensorData::new(t.clone(), [g.heads, n, n]), device)
                    })
                    .collect();
                let got = na2d_within(q, &tables, p, variant, Some(limits)).unwrap();
                let got = stylenat::kernels::to_host(got).unwrap();
                let (max, _) = diff(&got, &want);
                assert!(
                    max <= 1e-4,
                    "{variant:?} within {limits:?} (2-D grid: {two_d}), problem {i} {p:?}: max|Δ| = {max}"
                );
                grids_2d += two_d as usize;
            }
        }
    }
    println!("{grids_2d} launches used a 2-D grid");
    assert!(
        grids_2d >= na_problems().len(),
        "only {grids_2d} 2-D launches"
    );
    // The grid itself: 2-D beyond the axis limit, refused beyond the whole grid.
    let l = DispatchLimits {
        max_groups_per_dim: 3,
        max_shared_bytes: 0,
    };
    assert!(matches!(
        l.grid(7).unwrap(),
        cubecl::CubeCount::Static(3, 3, 1)
    ));
    assert!(l.grid(10).is_err());
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

/// The explorer's GPU display path: the packing kernel writes the same bytes as the host
/// conversion (`to_rgb8`), row-padded for a texture copy.
#[test]
fn gpu_image_packing_equals_the_host_conversion() {
    use stylenat::io::image::to_rgb8;
    use stylenat::kernels::present::{ROW_ALIGN, pack_rgba8};
    let backend = wgpu_backend();
    let setup = backend
        .wgpu
        .clone()
        .expect("wgpu backends carry their setup");
    let e = Engine::load(&small("checkpoint.pt"), &ConfigSource::Checkpoint, backend).unwrap();
    let z = npy(small("z_plain_in_z.npy"));
    let wplus = e.broadcast(&e.map(&z).unwrap());
    let host = e.synthesize(&wplus, 2, |_| {}).unwrap();
    let packed = pack_rgba8(e.synthesize_on_device(&wplus).unwrap()).unwrap();
    let (n, s) = (packed.count, packed.size);
    assert_eq!((n, s), (2, 128));
    assert_eq!(packed.row_bytes % ROW_ALIGN, 0);

    // Read the texels back through a staging buffer on the same device.
    let wgpu = &setup.device;
    let bytes = (n * s * packed.row_bytes) as u64;
    let staging = wgpu.create_buffer(&burn::tensor::wgpu::wgpu::BufferDescriptor {
        label: None,
        size: bytes,
        usage: burn::tensor::wgpu::wgpu::BufferUsages::MAP_READ
            | burn::tensor::wgpu::wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = wgpu.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(packed.buffer(), packed.offset(0), &staging, 0, bytes);
    setup.queue.submit([enc.finish()]);
    staging
        .slice(..)
        .map_async(burn::tensor::wgpu::wgpu::MapMode::Read, |r| r.unwrap());
    wgpu.poll(burn::tensor::wgpu::wgpu::PollType::wait_indefinitely())
        .unwrap();
    let texels = staging.slice(..).get_mapped_range().unwrap().to_vec();

    let mut off_by_one = 0;
    for (i, img) in host.data.chunks(3 * s * s).enumerate() {
        let want = to_rgb8(img, s, s);
        for y in 0..s {
            for x in 0..s {
                let got = &texels[(i * s + y) * packed.row_bytes + x * 4..][..4];
                let w = &want[(y * s + x) * 3..][..3];
                assert_eq!(got[3], 255);
                for c in 0..3 {
                    let d = (got[c] as i32 - w[c] as i32).abs();
                    // Both paths compute the same image; float rounding may flip a byte.
                    assert!(
                        d <= 1,
                        "image {i} ({x},{y}) channel {c}: {} vs {}",
                        got[c],
                        w[c]
                    );
                    off_by_one += d as usize;
                }
            }
        }
    }
    println!("bytes off by one: {off_by_one} of {}", n * s * s * 3);
    assert!(off_by_one < n * s * s * 3 / 100);
}

/// Attention maps captured from the generator running on wgpu agree with the CPU run.
#[test]
fn attention_maps_agree_between_wgpu_and_cpu() {
    use stylenat::analysis::attention::attention_maps;
    use stylenat::backend::BackendKind;
    let load = |b| Engine::load(&small("checkpoint.pt"), &ConfigSource::Checkpoint, b).unwrap();
    let mut cpu = load(Backend::init(BackendKind::Cpu).unwrap());
    let gpu = load(wgpu_backend());
    let wplus = seed_wplus(&mut cpu, 5);
    for (stage, pixel) in [(3, (10, 100)), (5, (127, 0))] {
        let a = attention_maps(&cpu, &wplus, stage, 1, pixel).unwrap();
        let b = attention_maps(&gpu, &wplus, stage, 1, pixel).unwrap();
        for (ga, gb) in a.groups.iter().zip(&b.groups) {
            let max = ga
                .mean
                .iter()
                .zip(&gb.mean)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            println!("stage {stage} group {}: max |Δw| = {max:.2e}", ga.group);
            assert!(max < 1e-3, "stage {stage} group {}: {max}", ga.group);
        }
    }
}
