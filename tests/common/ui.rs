//! Helpers for tests that drive the explorer's UI with egui_kittest.

use super::small;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::time::{Duration, Instant};
use stylenat::app::ExplorerApp;
use stylenat::app::action::Action;
use stylenat::app::state::AppState;
use stylenat::app::worker::Worker;
use stylenat::backend::BackendKind;

/// Whether the shown image is the one the current arguments ask for.
pub fn image_shown(app: &ExplorerApp) -> bool {
    app.shows_current()
}

/// Steps the UI until `done` holds, for at most a minute.
pub fn step_until(
    h: &mut Harness<'_, ExplorerApp>,
    what: &str,
    done: impl Fn(&ExplorerApp) -> bool,
) {
    step_until_within(h, what, Duration::from_secs(60), done)
}

/// Steps the UI until `done` holds (the render thread works in the background), failing after
/// `limit` with what was awaited and the errors the window shows.
pub fn step_until_within(
    h: &mut Harness<'_, ExplorerApp>,
    what: &str,
    limit: Duration,
    done: impl Fn(&ExplorerApp) -> bool,
) {
    let t0 = Instant::now();
    while !done(h.state()) {
        assert!(
            t0.elapsed() < limit,
            "timed out waiting for {what} (errors: {:?})",
            h.state().messages.errors
        );
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.step();
}

/// The explorer on the CPU backend with no model open.
pub fn empty_app() -> ExplorerApp {
    let worker = Worker::spawn(BackendKind::Cpu, || {}).unwrap();
    ExplorerApp::with_worker(AppState::default(), worker)
}

pub fn app() -> ExplorerApp {
    let mut app = empty_app();
    app.apply(Action::Open(small("checkpoint.pt")));
    app
}

pub fn harness(app: ExplorerApp) -> Harness<'static, ExplorerApp> {
    Harness::builder()
        .with_size([1100.0, 760.0])
        .build_ui_state(|ui, app: &mut ExplorerApp| app.show(ui), app)
}

/// [`harness`], painted by egui-wgpu (on lavapipe without a GPU) so pixels can be checked.
pub fn painted_harness(app: ExplorerApp, size: [f32; 2]) -> Harness<'static, ExplorerApp> {
    Harness::builder()
        .with_size(size)
        .wgpu()
        .build_ui_state(|ui, app: &mut ExplorerApp| app.show(ui), app)
}

/// Clicks the widget labelled `label` and lets the UI settle.
pub fn click(h: &mut Harness<'_, ExplorerApp>, label: &str) {
    h.get_by_label(label).click();
    h.run_steps(2);
}

/// The on-screen pixels of the image labelled `label` (the canvas, as egui-wgpu draws it),
/// after the UI has settled.
pub fn crop(h: &mut Harness<'_, ExplorerApp>, label: &str) -> image::RgbaImage {
    h.run_steps(3);
    let rect = h.get_by_label(label).rect();
    let shot = h.render().expect("egui-wgpu renders on lavapipe");
    let ppp = h.ctx.pixels_per_point();
    image::imageops::crop_imm(
        &shot,
        (rect.min.x * ppp) as u32,
        (rect.min.y * ppp) as u32,
        (rect.width() * ppp) as u32,
        (rect.height() * ppp) as u32,
    )
    .to_image()
}
