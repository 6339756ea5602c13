//! Soak: a scripted explorer session of random slider drags, seed changes, mixing toggles,
//! nudges, A | B | mix and model reloads for a bounded time, with the process's resident memory
//! sampled every second: after warm-up it must stay flat. CI runs 20 s;
//! `STYLENAT_SOAK_SECS=1800 cargo test --test soak -- --nocapture` is the long run.

mod common;
use common::*;
use egui_kittest::Harness;
use std::time::{Duration, Instant};
use stylenat::app::ExplorerApp;
use stylenat::app::action::Action;
use stylenat::app::state::AppState;
use stylenat::app::worker::Worker;
use stylenat::backend::BackendKind;

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096.0 / (1 << 20) as f64
}

fn secs() -> u64 {
    std::env::var("STYLENAT_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// CPU first, then wgpu (lavapipe in CI) also sampling the device's live GPU allocations.
/// One test: resident memory is per process, so the two sessions must not overlap.
#[test]
fn long_random_sessions_keep_memory_flat() {
    soak(BackendKind::Cpu, secs());
    soak(BackendKind::Wgpu, secs());
}

fn soak(kind: BackendKind, secs: u64) {
    // The worker registers the process's wgpu device; the same device is sampled here.
    let gpu = (kind == BackendKind::Wgpu).then(|| {
        stylenat::backend::Backend::init(kind)
            .unwrap_or_else(|e| panic!("no wgpu adapter: {e}"))
            .device
    });
    let gpu_allocs = || {
        gpu.as_ref()
            .map(|d| stylenat::kernels::gpu_launch::memory_usage(d).unwrap())
    };
    let worker = Worker::spawn(kind, || {}).unwrap();
    let mut app = ExplorerApp::with_worker(AppState::default(), worker);
    app.apply(Action::Open(small("checkpoint.pt")));
    let mut h = Harness::builder()
        .with_size([1100.0, 760.0])
        .build_ui_state(|ui, app: &mut ExplorerApp| app.show(ui), app);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let t0 = Instant::now();
    let mut samples: Vec<(f64, f64)> = Vec::new();
    // Warm-up ends at a quarter of the run, and not before 10 images (shader compilation,
    // allocator pools and the mean latent happen in the first ones).
    let mut warm_at: Option<usize> = None;
    let mut gpu_samples: Vec<(u64, u64)> = Vec::new();
    let (mut actions, mut images, mut reloads) = (0u64, 0u64, 0u64);
    let mut last_sample = Instant::now() - Duration::from_secs(1);
    let mut last_shown = None;
    // The backend each loaded model reported: a wgpu session that moved to the CPU has not
    // tested wgpu.
    let expected = match kind {
        BackendKind::Wgpu => "wgpu",
        _ => "CPU",
    };
    // Warm-up is over once every kind of request has been served (an A | B | mix image, an
    // image after a model reload: both allocate their own buffers the first time), at least
    // 10 images were shown and a quarter of the run has passed. After it, at least
    // MIN_AFTER_WARM images however slow the adapter (lavapipe on 2 cores renders the fixture
    // in ~2.5 s), so that the memory trend is measured, not guessed.
    const MIN_AFTER_WARM: u64 = 6;
    let (mut compared, mut images_at_reload, mut images_at_warm) = (false, None, 0u64);
    let hard_stop = Duration::from_secs(secs.max(240));
    while t0.elapsed() < Duration::from_secs(secs)
        || ((warm_at.is_none() || images < images_at_warm + MIN_AFTER_WARM)
            && t0.elapsed() < hard_stop)
    {
        let loaded = h.state().model.is_some();
        if loaded {
            let a = &mut h.state_mut().state.args;
            match next(10) {
                0..=3 => a.psi = (next(300) as f32 - 100.0) / 100.0,
                4 => a.seed = next(1000),
                5 => a.move_in_lattice(next(100) as f32 / 100.0, next(100) as f32 / 100.0),
                6 => {
                    let l = next(12) as usize;
                    if !a.mix_layers.contains(&l) {
                        a.mix_layers.push(l);
                    } else {
                        a.mix_layers.retain(|&x| x != l);
                    }
                }
                7 => a.nudge.amount = (next(200) as f32 - 100.0) / 40.0,
                8 => {
                    let state = &mut h.state_mut().state;
                    state.compare = !state.compare;
                }
                _ => h.state_mut().apply(Action::Undo),
            }
            actions += 1;
            if actions % 150 == 0 {
                h.state_mut().apply(Action::Open(small("checkpoint.pt")));
                reloads += 1;
                images_at_reload.get_or_insert(images);
            }
        }
        h.step();
        if let Some(m) = &h.state().model {
            assert!(
                m.backend.starts_with(expected),
                "{kind:?} session now runs on `{}` (errors: {:?})",
                m.backend,
                h.state().messages.errors
            );
        }
        assert!(
            h.state().messages.errors.is_empty(),
            "{kind:?} session: {:?}",
            h.state().messages.errors
        );
        if h.state().shown.args != last_shown {
            images += 1;
            last_shown = h.state().shown.args.clone();
            compared |= last_shown.as_ref().is_some_and(|a| a.compare);
        }
        if last_sample.elapsed() >= Duration::from_secs(1) {
            samples.push((t0.elapsed().as_secs_f64(), rss_mib()));
            let reloaded = images_at_reload.is_some_and(|at| images > at);
            if warm_at.is_none()
                && images >= 10
                && compared
                && reloaded
                && t0.elapsed().as_secs() * 4 >= secs
            {
                warm_at = Some(samples.len() - 1);
                images_at_warm = images;
            }
            gpu_samples.extend(gpu_allocs());
            last_sample = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(16));
    }
    let warm = warm_at.unwrap_or_else(|| panic!("only {images} images in {secs} s"));
    let at_warm = samples[warm].1;
    let max_after = samples[warm..].iter().map(|s| s.1).fold(0f64, f64::max);
    let end = samples.last().unwrap().1;
    if let (Some(w), Some(max), Some(last)) = (
        gpu_samples.get(warm),
        gpu_samples[warm.min(gpu_samples.len())..]
            .iter()
            .map(|g| g.1)
            .max(),
        gpu_samples.last(),
    ) {
        println!(
            "GPU: after warm-up {} allocations / {:.1} MiB reserved; max after {:.1} MiB; end {} allocations / {:.1} MiB; per second: {:?}",
            w.0,
            w.1 as f64 / (1 << 20) as f64,
            max as f64 / (1 << 20) as f64,
            last.0,
            last.1 as f64 / (1 << 20) as f64,
            gpu_samples.iter().map(|g| g.0).collect::<Vec<_>>()
        );
        // A reload holds the old model until the new one has loaded (a failed load keeps
        // it), so a sample taken mid-reload sees about two models' allocations: the peak may
        // reach twice the warm count. A leak raises the floor instead: the fewest live
        // allocations in the second half of the run must stay near the warm-up count.
        // The count swings with where a sample falls in a reload or an upload (300–900 in one
        // healthy run), so the reference is the most seen up to the end of warm-up (which
        // includes a reload), not the one sample at its end.
        let reference = gpu_samples[..=warm.min(gpu_samples.len() - 1)]
            .iter()
            .map(|g| g.0)
            .max()
            .unwrap_or(w.0);
        let after = &gpu_samples[warm..];
        let most = after.iter().map(|g| g.0).max().unwrap();
        let floor = after[after.len() / 2..].iter().map(|g| g.0).min().unwrap();
        assert!(
            floor <= reference + reference / 2 + 64,
            "live GPU allocations grew from at most {reference} in warm-up to at least {floor}"
        );
        assert!(
            most <= 2 * reference + reference / 2 + 64,
            "live GPU allocations peaked at {most} after warm-up (at most {reference} before)"
        );
    }
    println!(
        "{kind:?}, {secs} s: {actions} edits, {images} images shown, {reloads} model reloads; \
         RSS start {:.1} MiB, after warm-up {at_warm:.1} MiB, max after {max_after:.1} MiB, end {end:.1} MiB",
        samples[0].1
    );
    assert!(images > 5, "the session rendered only {images} images");
    assert!(
        max_after - at_warm < 64.0,
        "resident memory grew from {at_warm:.1} to {max_after:.1} MiB after warm-up"
    );
}
