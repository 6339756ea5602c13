//! Batches on the CPU run in shares side by side: each image equals the same image rendered
//! alone, in order, whatever the split.

mod common;

use stylenat::tensor::HostTensor;

#[test]
fn shared_batches_equal_images_rendered_alone() {
    let mut e = common::fixture_engine();
    let rows: Vec<HostTensor> = (0..5).map(|s| common::seed_wplus(&mut e, 40 + s)).collect();
    let all = HostTensor::new(
        vec![rows.len(), rows[0].shape[1], rows[0].shape[2]],
        rows.iter().flat_map(|r| r.data.clone()).collect(),
    );
    let alone: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| e.synthesize_traced(r, &mut ()).unwrap().data)
        .collect();
    // Three threads: five images split 2 + 2 + 1.
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
            let (max_abs, _) = common::diff(&batched.data[i * image..][..image], want);
            assert!(
                max_abs <= 1e-5,
                "image {i}: max |Δ| {max_abs} against rendering it alone"
            );
        }
    });
}
