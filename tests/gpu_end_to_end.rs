//! The explorer's wgpu path end to end, on lavapipe: the generator on the window's own device,
//! images packed on the GPU, copied into textures registered with egui's renderer and drawn —
//! compared with the host path's drawing of the same image. Then a real device failure (the
//! device destroyed under the model) must move the model to the CPU, say so, and keep
//! rendering. One test: the second half destroys a device of this process.

mod common;
use common::ui::image_shown;
use common::*;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use egui_kittest::wgpu::{WgpuTestRenderer, create_render_state};
use std::time::Duration;
use stylenat::app::ExplorerApp;
use stylenat::app::action::Action;
use stylenat::app::state::AppState;
use stylenat::app::worker::Worker;
use stylenat::backend::{Backend, BackendKind};

/// Steps the UI until `done` holds, for at most two minutes (lavapipe compiles shaders first).
fn step_until(h: &mut Harness<'_, ExplorerApp>, what: &str, done: impl Fn(&ExplorerApp) -> bool) {
    common::ui::step_until_within(h, what, Duration::from_secs(120), done)
}

/// The app at 1:1 zoom (texels map to pixels) on `worker`, with the fixture open.
fn app(worker: Worker) -> ExplorerApp {
    let state = AppState {
        zoom: 1,
        ..AppState::default()
    };
    let mut app = ExplorerApp::with_worker(state, worker);
    app.apply(Action::Open(small("checkpoint.pt")));
    app
}

/// The drawn image, cropped from a rendered frame.
fn drawn_image(h: &mut Harness<'_, ExplorerApp>) -> image::RgbaImage {
    let rect = h.get_by_label("generated image mix").rect();
    let frame = h.render().expect("the frame renders");
    let ppp = frame.width() as f32 / 1100.0;
    let (x, y) = (
        (rect.min.x * ppp).round() as u32,
        (rect.min.y * ppp).round() as u32,
    );
    let side = (rect.width() * ppp).round() as u32;
    image::imageops::crop_imm(&frame, x, y, side, side).to_image()
}

fn harness(app: ExplorerApp, renderer: WgpuTestRenderer) -> Harness<'static, ExplorerApp> {
    Harness::builder()
        .with_size([1100.0, 760.0])
        .renderer(renderer)
        .build_ui_state(|ui, app: &mut ExplorerApp| app.show(ui), app)
}

#[test]
fn gpu_display_path_matches_the_host_path_and_survives_a_lost_device() {
    // The real window path: egui-wgpu's render state made as the explorer makes it, the
    // worker built from it by the same function the window uses.
    let options = stylenat::app::gpu_backend::wgpu_options();
    let rs = create_render_state(
        options.wgpu_setup,
        eframe::egui_wgpu::RendererOptions::PREDICTABLE,
    );
    let worker = Worker::for_window(BackendKind::Wgpu, Some(rs.clone()), || {}).unwrap();
    let mut gpu = harness(app(worker), WgpuTestRenderer::from_render_state(rs));
    step_until(&mut gpu, "the GPU image", image_shown);
    let info = gpu.state().model.clone().unwrap();
    assert!(
        info.backend.contains("shared with the window"),
        "{}",
        info.backend
    );
    assert_eq!(
        gpu.state().shown.canvas.path_description(),
        "image: GPU texture (no host copy)"
    );
    let on_gpu = drawn_image(&mut gpu);

    // The host path: CPU model, pixels uploaded as an egui texture, same renderer type.
    let worker = Worker::spawn(BackendKind::Cpu, || {}).unwrap();
    let mut host = harness(app(worker), WgpuTestRenderer::new());
    step_until(&mut host, "the host image", image_shown);
    assert_eq!(
        host.state().shown.canvas.path_description(),
        "image: host pixels -> egui texture"
    );
    let on_host = drawn_image(&mut host);

    assert_eq!(on_gpu.dimensions(), on_host.dimensions());
    assert_eq!(on_gpu.width(), info.config.size as u32, "1:1 zoom");
    let (mut off, mut worst) = (0usize, 0i32);
    for (a, b) in on_gpu.pixels().zip(on_host.pixels()) {
        for c in 0..3 {
            let d = (a[c] as i32 - b[c] as i32).abs();
            worst = worst.max(d);
            off += (d > 1) as usize;
        }
    }
    let total = (on_gpu.width() * on_gpu.height() * 3) as usize;
    println!(
        "GPU vs host drawing: {off} of {total} channel values differ by more than 1; worst {worst}"
    );
    // The two generators agree to ~1e-5; a rounding flip may move a byte by one.
    assert!(
        worst <= 2 && off * 1000 <= total,
        "{off} values off, worst {worst}"
    );
    // Not a blank or uniform image on both sides.
    let first = on_gpu.get_pixel(0, 0);
    assert!(
        on_gpu.pixels().any(|p| p != first),
        "the GPU image is uniform"
    );
    drop((gpu, host));

    // A real device failure: the worker's own wgpu device destroyed under the loaded model.
    let worker = Worker::spawn(BackendKind::Wgpu, || {}).unwrap();
    let mut h = Harness::builder()
        .with_size([1100.0, 760.0])
        .build_ui_state(|ui, app: &mut ExplorerApp| app.show(ui), app(worker));
    step_until(&mut h, "the first wgpu image", image_shown);
    assert!(
        h.state()
            .model
            .as_ref()
            .unwrap()
            .backend
            .starts_with("wgpu")
    );
    let device = Backend::init(BackendKind::Wgpu)
        .unwrap()
        .wgpu
        .unwrap()
        .device;
    device.destroy();
    h.state_mut().state.args.psi = 0.5;
    step_until(&mut h, "an image after the device was lost", |a| {
        image_shown(a) && a.state.args.psi == 0.5
    });
    let app = h.state();
    assert!(
        app.model.as_ref().unwrap().backend.starts_with("CPU"),
        "still on {}",
        app.model.as_ref().unwrap().backend
    );
    assert!(
        app.messages
            .errors
            .iter()
            .any(|e| e.contains("the GPU failed") && e.contains("continuing on the CPU")),
        "{:?}",
        app.messages.errors
    );
}
