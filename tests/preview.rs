//! The render thread's progressive path: a new request shows a stage's preview first, then the
//! final image, computed from where the preview stopped. Its own test binary, because it sets
//! `STYLENAT_PREVIEW_STAGE` for the whole process.

mod common;

use std::time::{Duration, Instant};
use stylenat::app::protocol::{Reply, Request};
use stylenat::app::state::AppState;
use stylenat::app::worker::Worker;
use stylenat::backend::BackendKind;

/// Collects responses until `stop` says so (at most a minute).
fn collect(worker: &Worker, stop: impl Fn(&[Reply]) -> bool) -> Vec<Reply> {
    let (t0, mut all) = (Instant::now(), Vec::new());
    while !stop(&all) {
        assert!(t0.elapsed() < Duration::from_secs(60), "timed out");
        all.extend(worker.take());
        std::thread::sleep(Duration::from_millis(5));
    }
    all
}

#[test]
fn a_new_request_shows_a_preview_then_the_final_image() {
    // SAFETY: set before any thread of this process reads the environment.
    unsafe { std::env::set_var("STYLENAT_PREVIEW_STAGE", "1") };
    let mut worker = Worker::spawn(BackendKind::Cpu, || {}).unwrap();
    worker.send(Request::Load(common::small("checkpoint.pt")));
    let loaded = collect(&worker, |r| {
        r.iter()
            .any(|r| matches!(r, Reply::Loaded(_) | Reply::Failed { .. }))
    });
    let config = loaded
        .iter()
        .find_map(|r| match r {
            Reply::Loaded(info) => Some(info.config.clone()),
            _ => None,
        })
        .expect("the fixture loads");
    let args = AppState::default().args;
    let stamp = worker.send(Request::Render(args.clone().into()));
    let responses = collect(&worker, |r| {
        r.iter().any(|r| {
            matches!(r, Reply::Image(i) if i.complete) || matches!(r, Reply::Failed { .. })
        })
    });
    let images: Vec<_> = responses
        .iter()
        .filter_map(|r| match r {
            Reply::Image(i) => Some(i),
            Reply::Failed { message: e, .. } => panic!("{e}"),
            _ => None,
        })
        .collect();
    assert_eq!(images.len(), 2, "a preview, then the final image");
    let (preview, full) = (images[0], images[1]);
    assert_eq!((preview.stamp, full.stamp), (stamp, stamp));
    assert!(!preview.complete && full.complete);
    // Stage 1's skip image is drawn after its upsample: stage 2's resolution.
    assert_eq!(preview.resolution, config.stages[2].resolution);
    assert_eq!(full.resolution, config.size);
    assert_eq!(preview.size, config.size);
    assert!(
        full.cache_bytes > 0,
        "block inputs are kept for the next edit"
    );
    assert_eq!(preview.wplus, full.wplus);
}
