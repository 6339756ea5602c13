//! Helpers for tests that drive the explorer's UI with egui_kittest.

use egui_kittest::Harness;
use std::time::{Duration, Instant};
use stylenat::app::ExplorerApp;

/// Whether the shown image is the one the current arguments ask for.
pub fn image_shown(app: &ExplorerApp) -> bool {
    app.shown_args.as_ref() == Some(&app.state.args)
}

/// Steps the UI until `done` holds (the render thread works in the background), failing after
/// `limit` with what was awaited and the errors the window shows.
pub fn step_until(
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
            h.state().errors
        );
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.step();
}
