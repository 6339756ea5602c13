//! The explorer's real UI driven by egui_kittest: panels, render thread and all, with the
//! model on the CPU backend and snapshots rendered by egui-wgpu on lavapipe.

mod common;
use common::ui::{app, click, crop, harness, image_shown, painted_harness, step_until};
use egui_kittest::SnapshotOptions;
use egui_kittest::kittest::Queryable;
use stylenat::app::action::Action;

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
    let before = h.state().shown.wplus.clone().unwrap();
    let slider = h.get_by_role_and_label(egui::accesskit::Role::Slider, "ψ");
    slider.set_value_accesskit(0.5);
    step_until(&mut h, "the truncated image", |a| {
        a.state.args.psi == 0.5 && image_shown(a)
    });
    let after = h.state().shown.wplus.clone().unwrap();
    assert_ne!(before, after, "ψ = 0.5 must move W+ toward the mean");
    // Truncation towards the mean shrinks the spread of W+.
    let norm = |w: &[f32]| w.iter().map(|x| x * x).sum::<f32>();
    assert!(norm(&after) < norm(&before));

    // Undo brings ψ (and the image) back.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    step_until(&mut h, "the undone image", |a| {
        a.state.args.psi == 1.0 && image_shown(a)
    });
    assert_eq!(h.state().shown.wplus.as_ref(), Some(&before));
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
    let w = app.shown.wplus.as_ref().unwrap();
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
    step_until(&mut h, "the error", |a| !a.messages.errors.is_empty());
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
    let mut h = painted_harness(app, [1100.0, 760.0]);
    step_until(&mut h, "the first image", image_shown);
    let crop = crop(&mut h, "generated image mix");
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
    step_until(&mut h, "the attention maps", |a| {
        a.shown.attention.is_some()
    });
    let app = h.state();
    let (x, y) = app.state.attention.query.unwrap();
    assert!(
        x < 20 && y < 20,
        "query ({x}, {y}) should be near the top-left"
    );
    let maps = app.shown.attention.as_ref().unwrap();
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
    click(&mut h, "Directions");
    h.get_by_label("Compute PCA").click();
    step_until(&mut h, "the directions", |a| a.shown.directions.is_some());
    let before = h.state().shown.wplus.clone().unwrap();
    h.get(
        egui_kittest::kittest::By::new()
            .role(egui::accesskit::Role::Slider)
            .label_contains("PC0 ("),
    )
    .set_value_accesskit(2.0);
    step_until(&mut h, "the edited image", |a| {
        a.state.args.edits.first().is_some_and(|e| e.amount == 2.0) && image_shown(a)
    });
    let after = h.state().shown.wplus.clone().unwrap();
    let info = h.state().shown.directions.clone().unwrap();
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
    let shown = h.state().shown.wplus.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (png, session) = (dir.path().join("found.png"), dir.path().join("s.json"));
    h.state_mut().apply(Action::SaveImage(png.clone()));
    step_until(&mut h, "the image export", |a| {
        png.exists() && a.messages.status.is_some()
    });
    h.state_mut().apply(Action::SaveSession(session.clone()));
    step_until(&mut h, "the session", |a| {
        session.exists()
            && a.messages
                .status
                .as_deref()
                .is_some_and(|s| s.contains("session"))
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
            h.state().shown.wplus.as_ref(),
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
    assert!(
        h.state()
            .messages
            .status
            .as_deref()
            .unwrap()
            .contains("cancelled")
    );
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
    let before = h.state().shown.wplus.clone().unwrap();
    {
        let n = &mut h.state_mut().state.args.nudge;
        n.amount = 2.0;
        n.first = 2;
        n.last = 5;
    }
    step_until(&mut h, "the nudged image", image_shown);
    let after = h.state().shown.wplus.clone().unwrap();
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

/// The recipe's range rules hold in the window too: an out-of-range truncation cutoff is an
/// error in the window (the same words as the CLI's, tests/cli_latents.rs), and fixing it
/// renders again.
#[test]
fn out_of_range_cutoff_shows_the_recipe_error() {
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    let state = &mut h.state_mut().state.args;
    state.psi = 0.5;
    state.trunc_cutoff = Some(99);
    step_until(&mut h, "the error", |a| !a.messages.errors.is_empty());
    let errors = h.state().messages.errors.clone();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("truncation cutoff 99 is larger than the model's 12 W+ layers")),
        "{errors:?}"
    );
    h.state_mut().state.args.trunc_cutoff = Some(4);
    step_until(&mut h, "the image after the fix", image_shown);
}
