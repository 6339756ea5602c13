//! Renders the README's explorer views (attention maps, PCA sliders, A | B | mix) with the real
//! app, painted by egui-wgpu on the local adapter: `cargo run --example screenshots [CKPT]`.
//! (`docs/screenshot.png` itself is taken from the real window under Xvfb; see the README.)

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use stylenat::app::ExplorerApp;
use stylenat::app::action::Action;
use stylenat::app::state::AppState;
use stylenat::app::worker::Worker;
use stylenat::backend::BackendKind;

fn step_until(h: &mut Harness<'_, ExplorerApp>, what: &str, done: impl Fn(&ExplorerApp) -> bool) {
    let t0 = Instant::now();
    while !done(h.state()) {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "timed out waiting for {what}"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(3);
}

fn shown(a: &ExplorerApp) -> bool {
    a.shows_current()
}

fn harness(ckpt: &Path, state: AppState) -> Harness<'static, ExplorerApp> {
    let worker = Worker::spawn(BackendKind::Cpu, || {}).expect("render thread");
    let mut app = ExplorerApp::with_worker(state, worker);
    app.apply(Action::Open(ckpt.to_path_buf()));
    let mut h = Harness::builder()
        .with_size([1200.0, 820.0])
        .wgpu()
        .build_ui_state(|ui, app: &mut ExplorerApp| app.show(ui), app);
    step_until(&mut h, "the first image", shown);
    h
}

fn save(h: &mut Harness<'_, ExplorerApp>, name: &str) {
    let img = h.render().expect("render");
    let path = PathBuf::from("docs").join(name);
    img.save(&path).expect("write the screenshot");
    println!("wrote {}", path.display());
}

fn main() {
    let ckpt = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(stylenat::checkpoint::builtin::NAME));
    std::fs::create_dir_all("docs").expect("docs/");

    // Attention maps of one pixel at the last stage.
    let mut state = AppState::default();
    state.args.seed = 3;
    state.attention.open = true;
    let mut h = harness(&ckpt, state);
    h.get_by_label("Attention maps").click();
    h.run_steps(2);
    let size = h.state().model.as_ref().unwrap().config.size;
    h.state_mut().state.attention.query = Some((size * 2 / 5, size / 3));
    step_until(&mut h, "attention maps", |a| a.shown.attention.is_some());
    save(&mut h, "attention.png");

    // PCA sliders.
    let mut h = harness(&ckpt, AppState::default());
    h.get_by_label("Directions").click();
    h.run_steps(2);
    h.state_mut().apply(Action::ComputeDirections);
    step_until(&mut h, "directions", |a| a.shown.directions.is_some());
    let source = h.state().shown.directions.as_ref().unwrap().source.clone();
    let layers: Vec<usize> = (0..h.state().model.as_ref().unwrap().num_ws()).collect();
    let args = &mut h.state_mut().state.args;
    args.set_edit(&source, 0, 2.5, &layers);
    args.set_edit(&source, 1, -1.5, &layers);
    step_until(&mut h, "the edited image", shown);
    save(&mut h, "directions.png");

    // Style mixing, A | B | mix.
    let mut state = AppState::default();
    state.args.seed = 5;
    state.args.mix_seed = 9;
    state.args.mix_layers = (0..4).collect();
    state.compare = true;
    let mut h = harness(&ckpt, state);
    h.get_by_label("Style mixing").click();
    step_until(&mut h, "the three images", shown);
    save(&mut h, "mixing.png");

    // Head groups: one group of the second-to-last stage ablated, the unedited image beside it.
    let mut h = harness(&ckpt, AppState::default());
    let stage = h.state().model.as_ref().unwrap().config.stages.len() - 2;
    h.get_by_label("Head groups").click();
    h.run_steps(2);
    let state = &mut h.state_mut().state;
    state.args.seed = 2;
    state.head_groups.stage = stage;
    state.head_groups.unedited = true;
    state.args.group_edits = vec![format!("{stage}:1:scale=0").parse().unwrap()];
    step_until(&mut h, "the ablated image", shown);
    save(&mut h, "head-groups.png");

    // Layer inspector: three channels of a block output as RGB.
    let mut state = AppState::default();
    state.args.seed = 2;
    state.inspector.open = true;
    state.inspector.rgb = true;
    let mut h = harness(&ckpt, state);
    h.get_by_label("Layer inspector").click();
    h.run_steps(2);
    step_until(&mut h, "the inspection", |a| a.shown.inspection.is_some());
    save(&mut h, "inspector.png");
}
