//! Incremental rendering: resuming from the stored block inputs gives exactly the full pass,
//! a preview is exactly the stage's ToRGB skip image, and the cache's memory is what it holds.

mod common;

use burn::tensor::{Tensor, TensorData};
use stylenat::engine::Engine;
use stylenat::kernels::to_host;

use stylenat::tensor::HostTensor;

/// W+ for two images from two seeds, each layer its own latent (so layers differ).
fn wplus_of(e: &Engine, seeds: &[u64]) -> HostTensor {
    let (num_ws, d) = (e.config().num_ws(), e.config().style_dim);
    let z = e
        .z_for_seeds(
            &seeds
                .iter()
                .flat_map(|s| (0..num_ws as u64).map(move |k| s * 100 + k))
                .collect::<Vec<_>>(),
            Default::default(),
        )
        .unwrap();
    let w = e.map(&z).unwrap();
    HostTensor::new(vec![seeds.len(), num_ws, d], w.data)
}

/// A full pass with no cache, stopping after `last_stage` when given.
fn reference(e: &Engine, wplus: &HostTensor, last_stage: Option<usize>) -> Vec<f32> {
    let t = Tensor::<3>::from_data(
        TensorData::new(wplus.data.clone(), wplus.shape.clone()),
        &e.backend.device,
    );
    let img = e
        .generator
        .synthesize_with(t, None, last_stage, &mut ())
        .unwrap();
    to_host(img).unwrap()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Moves W+ layer `k` of every image a little.
fn edit_layer(w: &mut HostTensor, k: usize) {
    let (num_ws, d) = (w.shape[1], w.shape[2]);
    for img in w.data.chunks_mut(num_ws * d) {
        for v in &mut img[k * d..(k + 1) * d] {
            *v += 0.25;
        }
    }
}

#[test]
fn resuming_at_the_first_changed_layer_is_bit_identical_to_a_full_pass() {
    let mut e = common::fixture_engine();
    let num_ws = e.config().num_ws();
    let mut w = wplus_of(&e, &[3, 4]);
    let first = e.render_incremental(&w, None).unwrap();
    assert_eq!(first.first_block, 0);
    assert!(first.complete);
    for k in [num_ws - 1, num_ws / 2, 1, 0, num_ws - 2] {
        edit_layer(&mut w, k);
        let r = e.render_incremental(&w, None).unwrap();
        assert_eq!(r.first_block, k, "edit of layer {k} starts at its block");
        assert_eq!(r.resolution, e.config().size);
        assert_eq!(
            bits(&to_host(r.image).unwrap()),
            bits(&reference(&e, &w, None)),
            "layer {k} edited"
        );
    }
    // Nothing changed: only the last block runs again, same bits.
    let r = e.render_incremental(&w, None).unwrap();
    assert_eq!(r.first_block, num_ws - 1);
    assert_eq!(
        bits(&to_host(r.image).unwrap()),
        bits(&reference(&e, &w, None))
    );
    // Another batch size is a new pass.
    let w1 = wplus_of(&e, &[9]);
    assert_eq!(e.render_incremental(&w1, None).unwrap().first_block, 0);
}

#[test]
fn a_preview_is_the_stage_skip_image_and_refining_continues_from_it() {
    let mut e = common::fixture_engine();
    let stages = e.config().stages.len();
    let mut w = wplus_of(&e, &[5]);
    e.render_incremental(&w, None).unwrap();
    edit_layer(&mut w, 0); // all blocks change
    let preview_stage = stages - 2;
    let p = e.render_incremental(&w, Some(preview_stage)).unwrap();
    assert!(!p.complete);
    assert_eq!(p.first_block, 0);
    // The stage's skip image is drawn after its upsample: the next stage's resolution.
    assert_eq!(
        p.resolution,
        e.config().stages[preview_stage + 1].resolution
    );
    assert_eq!(
        bits(&to_host(p.image).unwrap()),
        bits(&reference(&e, &w, Some(preview_stage)))
    );
    // Asking for the same preview again computes nothing new.
    let again = e.render_incremental(&w, Some(preview_stage)).unwrap();
    assert_eq!(again.first_block, 2 * (preview_stage + 1));
    assert_eq!(
        bits(&to_host(again.image).unwrap()),
        bits(&reference(&e, &w, Some(preview_stage)))
    );
    let full = e.render_incremental(&w, None).unwrap();
    assert!(full.complete);
    assert_eq!(full.first_block, 2 * (preview_stage + 1), "refine resumes");
    assert_eq!(
        bits(&to_host(full.image).unwrap()),
        bits(&reference(&e, &w, None))
    );
}

#[test]
fn the_cache_holds_one_input_per_block_and_says_how_much() {
    let mut e = common::fixture_engine();
    let w = wplus_of(&e, &[1, 2]);
    e.render_incremental(&w, None).unwrap();
    // Expected from the config: each block's input tokens plus each stage's entering skip
    // image (the previous stage's ToRGB, drawn after its upsample: this stage's resolution).
    let cfg = e.config().clone();
    let mut expect = 0u64;
    for (i, s) in cfg.stages.iter().enumerate() {
        let pixels = (s.resolution * s.resolution) as u64;
        expect += 2 * pixels * s.dim as u64;
        if i > 0 {
            expect += 3 * pixels;
        }
    }
    assert_eq!(e.incremental_cache_bytes(), 4 * 2 * expect);
    e.clear_incremental();
    assert_eq!(e.incremental_cache_bytes(), 0);
    assert_eq!(e.render_incremental(&w, None).unwrap().first_block, 0);
}

#[test]
fn previews_are_chosen_by_measured_stage_cost() {
    let mut e = common::fixture_engine();
    let mut w = wplus_of(&e, &[7]);
    assert_eq!(
        e.preview_stage(&w, 0.0),
        None,
        "costs unknown before a render"
    );
    e.render_incremental(&w, None).unwrap();
    edit_layer(&mut w, 0);
    assert_eq!(
        e.preview_stage(&w, 1e9),
        None,
        "everything fits a huge budget"
    );
    let stages = e.config().stages.len();
    assert!(stages > 2);
    // No budget: nothing fits, so no preview (it would only delay the final image).
    assert_eq!(e.preview_stage(&w, 0.0), None);
    // A budget that holds the first two stages, not the third: a preview of the second.
    let ms: Vec<f64> = e.stage_ms().iter().map(|m| m.unwrap()).collect();
    let budget = ms[0] + ms[1] + 0.5 * ms[2].min(ms[0] + ms[1]);
    let expect = (0..stages - 1)
        .rev()
        .find(|&s| ms[..=s].iter().sum::<f64>() <= budget);
    assert_eq!(e.preview_stage(&w, budget), expect);
    assert!(expect.is_some_and(|s| s >= 1));
    // An edit of the last layer only has nothing cheaper to show than the final image.
    let mut fine = w.clone();
    e.render_incremental(&w, None).unwrap();
    edit_layer(&mut fine, e.config().num_ws() - 1);
    // (a budget of a quarter of the last stage: its half is over it, yet no preview.)
    let last_ms = e.stage_ms().last().unwrap().unwrap();
    assert_eq!(e.preview_stage(&fine, 0.25 * last_ms), None);
}
