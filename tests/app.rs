//! The explorer's render thread, without a window: newest request wins, a bad file keeps the
//! previous model and reports an error.

mod common;
use common::*;
use std::time::{Duration, Instant};
use stylenat::app::protocol::{Reply, Request};
use stylenat::app::worker::Worker;
use stylenat::backend::BackendKind;
use stylenat::latent::recipe::Recipe;

/// Collects responses until `done` says so (or 60 s pass).
fn wait(worker: &Worker, got: &mut Vec<Reply>, done: impl Fn(&[Reply]) -> bool) {
    let t0 = Instant::now();
    while !done(got) {
        let failures: Vec<&String> = got
            .iter()
            .filter_map(|r| match r {
                Reply::Failed { message, .. } => Some(message),
                _ => None,
            })
            .collect();
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the worker did not answer (failures: {failures:?})"
        );
        got.extend(worker.take());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn images(r: &[Reply]) -> Vec<(u64, u64)> {
    r.iter()
        .filter_map(|r| match r {
            Reply::Image(r) => Some((r.stamp, r.args.recipe.seed)),
            _ => None,
        })
        .collect()
}

#[test]
fn newest_request_wins_and_bad_files_keep_the_model() {
    let mut worker = Worker::spawn(BackendKind::Cpu, || {}).unwrap();
    worker.send(Request::Load(small("checkpoint.pt")));
    // Queued while the model loads: only the last one should be rendered.
    let mut last = 0;
    for seed in 1..=5 {
        last = worker.send(Request::Render(
            Recipe {
                seed,
                ..Default::default()
            }
            .into(),
        ));
    }
    let mut got = Vec::new();
    wait(&worker, &mut got, |r| !images(r).is_empty());
    std::thread::sleep(Duration::from_millis(300));
    got.extend(worker.take());
    assert!(
        got.iter()
            .any(|r| matches!(r, Reply::Loaded(m) if m.config.size == 128 && m.num_ws() == 12))
    );
    assert_eq!(
        images(&got),
        vec![(last, 5)],
        "stale requests must be dropped"
    );

    // A corrupt file: an error, and the previous model still renders.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pt");
    std::fs::write(&bad, b"not a checkpoint").unwrap();
    worker.send(Request::Load(bad));
    let mut got = Vec::new();
    wait(&worker, &mut got, |r| {
        r.iter().any(|r| matches!(r, Reply::Failed { .. }))
    });
    let stamp = worker.send(Request::Render(
        Recipe {
            seed: 9,
            psi: 0.5,
            ..Default::default()
        }
        .into(),
    ));
    wait(&worker, &mut got, |r| !images(r).is_empty());
    assert_eq!(images(&got), vec![(stamp, 9)]);
    let error = got.iter().find_map(|r| match r {
        Reply::Failed { message: e, .. } => Some(e.clone()),
        _ => None,
    });
    assert!(error.is_some_and(|e| e.contains("bad.pt") && e.contains("not a PyTorch checkpoint")));
}
