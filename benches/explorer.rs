//! Explorer responsiveness while a slider is dragged: the real app (panels, render thread,
//! egui-wgpu painting on the local adapter) driven by egui_kittest. For each model backend it
//! drags ψ for `FRAMES` frames at 60 Hz and reports UI frame time (build + paint) and how long an edit
//! takes to reach the screen. Prints a table and writes `target/bench-explorer.json`.
//!
//! `cargo bench --profile dev --bench explorer [-- --frames 240 --ckpt FILE]`

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use stylenat::app::ExplorerApp;
use stylenat::app::action::Action;
use stylenat::app::state::AppState;
use stylenat::app::worker::Worker;
use stylenat::backend::BackendKind;

struct Report {
    backend: &'static str,
    painted: bool,
    frames: usize,
    frame_ms_median: f64,
    frame_ms_p95: f64,
    build_ms_median: f64,
    latency_ms_median: f64,
    images: usize,
    seconds: f64,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn run(kind: BackendKind, ckpt: &Path, frames: usize, paint: bool) -> Report {
    let worker = Worker::spawn(kind, || {}).expect("render thread");
    let mut app = ExplorerApp::with_worker(AppState::default(), worker);
    app.apply(Action::Open(ckpt.to_path_buf()));
    let builder = Harness::builder().with_size([1100.0, 760.0]);
    let builder = if paint {
        builder.wgpu().with_render_every_step(true)
    } else {
        builder
    };
    let mut h = builder.build_ui_state(|ui, app: &mut ExplorerApp| app.show(ui), app);
    let t0 = Instant::now();
    while !h.state().shows_current() {
        assert!(t0.elapsed() < Duration::from_secs(300), "no first image");
        h.step();
        std::thread::sleep(Duration::from_millis(2));
    }
    let (mut frame_ms, mut build_ms, mut latency) = (Vec::new(), Vec::new(), Vec::new());
    let mut images = 0;
    let mut last_shown = h.state().shown.args.clone();
    let start = Instant::now();
    for i in 0..frames {
        // A drag sweeps ψ back and forth, one new value per frame.
        let psi = 1.0 - 0.7 * ((i as f64 / 60.0 * std::f64::consts::PI).sin().abs());
        h.get_by_role_and_label(egui::accesskit::Role::Slider, "ψ")
            .set_value_accesskit(psi);
        let t = Instant::now();
        h.step();
        frame_ms.push(t.elapsed().as_secs_f64() * 1e3);
        // A drag delivers one pointer move per display refresh (60 Hz).
        if let Some(rest) = Duration::from_micros(16_667).checked_sub(t.elapsed()) {
            std::thread::sleep(rest);
        }
        build_ms.push(h.state().ui_ms() as f64);
        if h.state().shown.args != last_shown {
            images += 1;
            last_shown = h.state().shown.args.clone();
            if let Some(l) = h.state().latency_ms() {
                latency.push(l);
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Report {
        backend: match kind {
            BackendKind::Auto => "auto",
            BackendKind::Cpu => "cpu",
            BackendKind::Wgpu => "wgpu",
        },
        painted: paint,
        frames,
        frame_ms_median: percentile(&mut frame_ms.clone(), 0.5),
        frame_ms_p95: percentile(&mut frame_ms, 0.95),
        build_ms_median: percentile(&mut build_ms, 0.5),
        latency_ms_median: if latency.is_empty() {
            f64::NAN
        } else {
            percentile(&mut latency, 0.5)
        },
        images,
        seconds,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut frames = 240;
    let mut ckpt = PathBuf::from("../shared/fixtures/stylenat-small/checkpoint.pt");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--frames" => frames = args.next().and_then(|v| v.parse().ok()).unwrap_or(frames),
            "--ckpt" => ckpt = args.next().map(PathBuf::from).unwrap_or(ckpt),
            _ => {} // cargo bench passes `--bench`
        }
    }
    let mut reports = Vec::new();
    for kind in [BackendKind::Cpu, BackendKind::Wgpu] {
        for paint in [false, true] {
            reports.push(run(kind, &ckpt, frames, paint));
        }
    }
    println!(
        "model {} — {frames} frames of a ψ drag; painted = every frame rasterised by egui-wgpu on the local adapter",
        ckpt.display()
    );
    println!(
        "backend | painted | UI frame median / p95 (ms) | building the UI (ms) | edit → image median (ms) | images shown | images/s"
    );
    for r in &reports {
        println!(
            "{:7} | {:7} | {:6.1} / {:6.1} | {:5.2} | {:7.1} | {:4} | {:5.1}",
            r.backend,
            r.painted,
            r.frame_ms_median,
            r.frame_ms_p95,
            r.build_ms_median,
            r.latency_ms_median,
            r.images,
            r.images as f64 / r.seconds
        );
    }
    let json: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            serde_json::json!({
                "backend": r.backend, "painted": r.painted, "frames": r.frames,
                "ui_frame_ms_median": r.frame_ms_median, "ui_frame_ms_p95": r.frame_ms_p95,
                "ui_build_ms_median": r.build_ms_median,
                "edit_to_image_ms_median": r.latency_ms_median,
                "images_shown": r.images, "seconds": r.seconds,
            })
        })
        .collect();
    let out = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
        .join("bench-explorer.json");
    if let Err(e) = std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap()) {
        eprintln!("could not write {}: {e}", out.display());
    } else {
        println!("wrote {}", out.display());
    }
}
