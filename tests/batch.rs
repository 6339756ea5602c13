//! Batches on the CPU run in shares side by side: each image equals the same image rendered
//! alone, bit for bit and in order, whatever the split — in float32 and, where the CPU has it,
//! in bf16 (whose use is decided per image, not per call).

mod common;

use stylenat::engine::Engine;
use stylenat::kernels::cpu::{Precision, set_precision};
use stylenat::tensor::HostTensor;

/// Five images rendered as one batch (three threads: shares of 2 + 2 + 1) against each
/// rendered alone in one pass.
fn assert_shares_equal_alone(e: &Engine, rows: &[HostTensor], label: &str) {
    let all = HostTensor::new(
        vec![rows.len(), rows[0].shape[1], rows[0].shape[2]],
        rows.iter().flat_map(|r| r.data.clone()).collect(),
    );
    let alone: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| e.synthesize_traced(r, &mut ()).unwrap().data)
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    pool.install(|| {
        assert_eq!(e.image_shares(5), 3);
        assert_eq!(e.auto_batch(), 3);
        let batched = e.synthesize(&all, 5, |_| {}).unwrap();
        assert_eq!(batched.shape[0], 5);
        let image = batched.data.len() / 5;
        for (i, want) in alone.iter().enumerate() {
            let got = &batched.data[i * image..][..image];
            let (max_abs, _) = common::diff(got, want);
            assert!(
                got == &want[..],
                "{label}, image {i}: max |Δ| {max_abs} against alone"
            );
        }
    });
}

#[test]
fn shared_batches_equal_images_rendered_alone() {
    let mut e = common::fixture_engine();
    let rows: Vec<HostTensor> = (0..5).map(|s| common::seed_wplus(&mut e, 40 + s)).collect();
    assert_shares_equal_alone(&e, &rows, "float32");
    if set_precision(Precision::Bf16).is_ok() {
        // Float32 is restored even when the check fails (the precision is process-wide).
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_shares_equal_alone(&e, &rows, "bf16")
        }));
        set_precision(Precision::F32).unwrap();
        result.unwrap();
    } else {
        println!("no AVX-512 BF16 on this CPU: the bf16 case does not run here");
    }
}
