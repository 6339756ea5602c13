//! The explorer's real UI driven by egui_kittest: panels, render thread and all, with the
//! model on the CPU backend and snapshots rendered by egui-wgpu on lavapipe.

mod common;
use common::ui::image_shown;
use common::*;
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use std::time::Duration;
use stylenat::app::ExplorerApp;
use stylenat::app::action::Action;
use stylenat::app::state::AppState;
use stylenat::app::worker::Worker;
use stylenat::backend::BackendKind;

/// The explorer on the CPU backend with no model open.
fn empty_app() -> ExplorerApp {
    let worker = Worker::spawn(BackendKind::Cpu, || {}).unwrap();
    ExplorerApp::with_worker(AppState::default(), worker)
}

fn app() -> ExplorerApp {
    let mut app = empty_app();
    app.apply(Action::Open(small("checkpoint.pt")));
    app
}

fn harness(app: ExplorerApp) -> Harness<'static, ExplorerApp> {
    Harness::builder()
        .with_size([1100.0, 760.0])
        .build_ui_state(|ui, app: &mut ExplorerApp| app.show(ui), app)
}

/// Steps the UI until `done` holds, for at most a minute.
fn step_until(h: &mut Harness<'_, ExplorerApp>, what: &str, done: impl Fn(&ExplorerApp) -> bool) {
    common::ui::step_until(h, what, Duration::from_secs(60), done)
}

/// Clicks the widget labelled `label` and lets the UI settle.
fn click(h: &mut Harness<'_, ExplorerApp>, label: &str) {
    h.get_by_label(label).click();
    h.run_steps(2);
}

/// How far W+ layer `l` (of width `d`) moved between two flat W+ vectors.
fn layer_step(before: &[f32], after: &[f32], d: usize, l: usize) -> f32 {
    before[l * d..(l + 1) * d]
        .iter()
        .zip(&after[l * d..(l + 1) * d])
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f32>()
        .sqrt()
}

#[test]
fn psi_slider_asks_for_a_new_image_and_it_arrives() {
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    let before = h.state().shown_wplus.clone().unwrap();
    let slider = h.get_by_role_and_label(egui::accesskit::Role::Slider, "ψ");
    slider.set_value_accesskit(0.5);
    step_until(&mut h, "the truncated image", |a| {
        a.state.args.psi == 0.5 && image_shown(a)
    });
    let after = h.state().shown_wplus.clone().unwrap();
    assert_ne!(before, after, "ψ = 0.5 must move W+ toward the mean");
    // Truncation towards the mean shrinks the spread of W+.
    let norm = |w: &[f32]| w.iter().map(|x| x * x).sum::<f32>();
    assert!(norm(&after) < norm(&before));

    // Undo brings ψ (and the image) back.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    step_until(&mut h, "the undone image", |a| {
        a.state.args.psi == 1.0 && image_shown(a)
    });
    assert_eq!(h.state().shown_wplus.as_ref(), Some(&before));
}

#[test]
fn toggling_a_mixing_layer_changes_the_wplus_composition() {
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    click(&mut h, "Style mixing");
    h.get_by_label("3: 8²").click();
    step_until(&mut h, "the mixed image", |a| {
        a.state.args.mix_layers == vec![3] && image_shown(a)
    });
    let app = h.state();
    let w = app.shown_wplus.as_ref().unwrap();
    let d = app.model.as_ref().unwrap().w_dim();
    let layer = |l: usize| &w[l * d..(l + 1) * d];
    // Layer 3 now comes from source B; its neighbours are still source A's W.
    assert_ne!(layer(3), layer(2));
    assert_eq!(layer(2), layer(4));
}

#[test]
fn a_corrupt_file_shows_an_error_and_keeps_the_model() {
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.pt");
    std::fs::write(&bad, b"PK\x03\x04 truncated").unwrap();
    h.state_mut().apply(Action::Open(bad));
    step_until(&mut h, "the error", |a| !a.errors.is_empty());
    // The error is in the window, naming the file.
    let shown = h.get_by_label_contains("broken.pt");
    assert!(shown.rect().width() > 0.0);
    let app = h.state();
    assert!(
        app.model.as_ref().unwrap().path.ends_with("checkpoint.pt"),
        "the previous model stays"
    );
    // …and it still renders.
    h.state_mut().state.args.seed = 7;
    step_until(&mut h, "an image after the error", image_shown);
}

#[test]
fn rendered_window_matches_the_snapshot_on_lavapipe() {
    let mut app = app();
    // 4× zoom: a fixed on-screen size whatever the surrounding layout.
    app.state.zoom = 4;
    let mut h = Harness::builder()
        .with_size([1100.0, 760.0])
        .wgpu()
        .build_ui_state(|ui, app: &mut ExplorerApp| app.show(ui), app);
    step_until(&mut h, "the first image", image_shown);
    h.run_steps(3);
    let rect = h.get_by_label("generated image mix").rect();
    let shot = h.render().expect("egui-wgpu renders on lavapipe");
    let ppp = h.ctx.pixels_per_point();
    let crop = image::imageops::crop_imm(
        &shot,
        (rect.min.x * ppp) as u32,
        (rect.min.y * ppp) as u32,
        (rect.width() * ppp) as u32,
        (rect.height() * ppp) as u32,
    )
    .to_image();
    assert_eq!((crop.width(), crop.height()), (512, 512));
    // The generated image as egui draws it (4× nearest upscaling) on lavapipe.
    egui_kittest::image_snapshot_options(
        &crop,
        "explorer_seed0",
        &SnapshotOptions::new()
            .threshold(2.0)
            .max_failed_pixels(crop.len() / 4 / 200),
    );
}

#[test]
fn attention_view_shows_the_maps_of_the_clicked_pixel() {
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    click(&mut h, "Attention maps");
    click(&mut h, "show attention maps");
    // Click the image near its top-left corner.
    let rect = h.get_by_label("generated image mix").rect();
    let at = rect.min + egui::vec2(rect.width() * 0.1, rect.height() * 0.1);
    h.hover_at(at);
    h.event(egui::Event::PointerButton {
        pos: at,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: Default::default(),
    });
    h.step();
    h.event(egui::Event::PointerButton {
        pos: at,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Default::default(),
    });
    step_until(&mut h, "the attention maps", |a| a.attention.is_some());
    let app = h.state();
    let (x, y) = app.state.attention.query.unwrap();
    assert!(
        x < 20 && y < 20,
        "query ({x}, {y}) should be near the top-left"
    );
    let maps = app.attention.as_ref().unwrap();
    let stages = &app.model.as_ref().unwrap().config.stages;
    assert_eq!(maps.stage, stages.len() - 1, "the last stage by default");
    assert_eq!(maps.groups.len(), stages[maps.stage].groups.len());
    for g in &maps.groups {
        assert!((g.mean.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
    // The legend names each group's kernel and dilation.
    h.get_by_label_contains("kernel 7, dilation 16");
}

#[test]
fn pca_sliders_move_the_latent_along_a_component() {
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    click(&mut h, "Directions (PCA)");
    h.get_by_label("Compute PCA").click();
    step_until(&mut h, "the directions", |a| a.directions.is_some());
    let before = h.state().shown_wplus.clone().unwrap();
    h.get(
        egui_kittest::kittest::By::new()
            .role(egui::accesskit::Role::Slider)
            .label_contains("PC0 ("),
    )
    .set_value_accesskit(2.0);
    step_until(&mut h, "the edited image", |a| {
        a.state.args.pca.first() == Some(&2.0) && image_shown(a)
    });
    let after = h.state().shown_wplus.clone().unwrap();
    let info = h.state().directions.clone().unwrap();
    // Every layer moved by 2σ₀ along a unit vector.
    let d = h.state().model.as_ref().unwrap().w_dim();
    let dist = |l: usize| layer_step(&before, &after, d, l);
    for l in [0, 5, 11] {
        assert!(
            (dist(l) - 2.0 * info.sigma[0]).abs() < 1e-3,
            "layer {l}: {}",
            dist(l)
        );
    }
}

#[test]
fn exported_images_and_sessions_restore_the_latent_when_dropped() {
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    // An edited latent: lattice position, truncation, mixing and a nudge.
    {
        let a = &mut h.state_mut().state.args;
        a.seed = 12;
        a.move_in_lattice(0.4, 0.25);
        a.psi = 0.6;
        a.mix_layers = vec![8, 9];
        a.nudge.amount = 1.5;
        a.nudge.last = 5;
    }
    step_until(&mut h, "the edited image", image_shown);
    let edited = h.state().state.args.clone();
    let shown = h.state().shown_wplus.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (png, session) = (dir.path().join("found.png"), dir.path().join("s.json"));
    h.state_mut().apply(Action::SaveImage(png.clone()));
    step_until(&mut h, "the image export", |a| {
        png.exists() && a.status.is_some()
    });
    h.state_mut().apply(Action::SaveSession(session.clone()));
    step_until(&mut h, "the session", |a| {
        session.exists() && a.status.as_deref().is_some_and(|s| s.contains("session"))
    });
    // The session's W+ file holds exactly what was shown.
    let w = stylenat::io::npy::read_array(&session.with_extension("npz"), Some("w")).unwrap();
    assert_eq!(w.data, shown);

    for file in [png, session] {
        h.state_mut().state.args = Default::default();
        step_until(&mut h, "the reset image", image_shown);
        h.state_mut().apply(Action::Open(file.clone()));
        step_until(&mut h, "the restored image", image_shown);
        assert_eq!(h.state().state.args, edited, "{}", file.display());
        assert_eq!(
            h.state().shown_wplus.as_ref(),
            Some(&shown),
            "{}",
            file.display()
        );
    }
}

#[test]
fn the_video_export_reports_progress_and_can_be_cancelled() {
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loop.gif");
    {
        let e = &mut h.state_mut().state.export;
        e.seeds = "3,4".into();
        e.frames_per_transition = 200;
        e.looping = true;
    }
    h.state_mut().apply(Action::SaveVideo(out.clone()));
    // The UI keeps stepping while the export runs; cancel once some frames are done.
    step_until(&mut h, "export progress", |a| {
        a.export_progress().is_some_and(|(done, _)| done >= 8)
    });
    let (_, total) = h.state().export_progress().unwrap();
    assert_eq!(total, 600, "3 keyframes × 200 frames, looping");
    h.state_mut().apply(Action::CancelExport);
    step_until(&mut h, "the cancellation", |a| {
        a.export_progress().is_none()
    });
    assert!(h.state().status.as_deref().unwrap().contains("cancelled"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );

    h.state_mut().state.export.frames_per_transition = 3;
    h.state_mut().apply(Action::SaveVideo(out.clone()));
    step_until(&mut h, "the finished export", |a| {
        a.export_progress().is_none()
    });
    let mut dec = gif::DecodeOptions::new()
        .read_info(std::fs::File::open(&out).unwrap())
        .unwrap();
    let mut frames = 0;
    while dec.read_next_frame().unwrap().is_some() {
        frames += 1;
    }
    assert_eq!(frames, 9);
}

#[test]
fn the_nudge_moves_only_its_layers_by_the_chosen_amount() {
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    let before = h.state().shown_wplus.clone().unwrap();
    {
        let n = &mut h.state_mut().state.args.nudge;
        n.amount = 2.0;
        n.first = 2;
        n.last = 5;
    }
    step_until(&mut h, "the nudged image", image_shown);
    let after = h.state().shown_wplus.clone().unwrap();
    let d = h.state().model.as_ref().unwrap().w_dim();
    let step = |l: usize| layer_step(&before, &after, d, l);
    let moved: Vec<f32> = (2..=5).map(step).collect();
    assert!(
        moved
            .iter()
            .all(|&m| m > 0.1 && (m - moved[0]).abs() < 1e-4),
        "{moved:?}"
    );
    for l in (0..2).chain(6..12) {
        assert_eq!(step(l), 0.0, "layer {l} should not move");
    }
}

#[test]
fn built_in_model_button_opens_the_shipped_generator() {
    let mut h = harness(empty_app());
    click(&mut h, "Built-in model");
    step_until(&mut h, "the built-in model's first image", |a| {
        a.model.is_some() && image_shown(a)
    });
    let model = h.state().model.clone().unwrap();
    assert_eq!(
        model.path,
        std::path::PathBuf::from(stylenat::checkpoint::builtin::NAME)
    );
    assert_eq!(model.config.size, 32);
}

/// Without a system file dialog (no XDG portal, as under Xvfb), "Open checkpoint…" opens the
/// built-in picker in the window, and choosing a file there loads it.
#[test]
fn builtin_file_picker_opens_a_checkpoint() {
    let mut app = empty_app();
    let dir = small("checkpoint.pt").parent().unwrap().to_path_buf();
    app.dialogs = stylenat::app::file_dialog::FileDialogs::builtin_in(dir);
    let mut h = harness(app);
    click(&mut h, "Open checkpoint…");
    assert!(h.state().dialogs.is_open());
    h.run_steps(2); // a window is laid out invisibly in its first frame
    // Only files the task can open are listed.
    assert!(h.query_by_label("mean_latent.npy").is_none());
    click(&mut h, "checkpoint.pt");
    click(&mut h, "Open");
    step_until(&mut h, "the model from the picker", |a| a.model.is_some());
    assert_eq!(
        h.state().model.as_ref().unwrap().path,
        small("checkpoint.pt")
    );
    assert!(!h.state().dialogs.is_open());
}

/// Saving through the built-in picker over an existing file asks first: Cancel leaves the file
/// as it was, Replace writes it.
#[test]
fn builtin_save_picker_asks_before_replacing() {
    let out = tempfile::tempdir().unwrap();
    let mut app = app();
    app.dialogs = stylenat::app::file_dialog::FileDialogs::builtin_in(out.path().to_path_buf());
    let mut h = harness(app);
    step_until(&mut h, "the first image", image_shown);
    let target = out.path().join("latent.npz");
    std::fs::write(&target, b"precious").unwrap();
    click(&mut h, "Style vector");
    for (answer, kept) in [("Cancel", true), ("Replace", false)] {
        // (the side panel is taller than the test window: click through accesskit)
        h.get_by_label("Save W+…").click_accesskit();
        h.run_steps(4); // a window is laid out invisibly in its first frame
        assert!(h.state().dialogs.is_open());
        click(&mut h, "Save");
        h.run_steps(2);
        assert!(h.query_by_label("Replace").is_some(), "no confirmation");
        click(&mut h, answer);
        if kept {
            h.run_steps(5);
            assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        } else {
            step_until(&mut h, "the saved W+", |a| {
                a.status
                    .as_deref()
                    .is_some_and(|s| s.starts_with("saved W+"))
            });
            let w = stylenat::io::npy::read_array(&target, Some("w")).unwrap();
            assert_eq!(w.shape[0], 1);
        }
    }
}
