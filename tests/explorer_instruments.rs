//! The instruments of the explorer: the Head groups panel (ablating a group changes the image,
//! the unedited image beside it is the image from before, undo brings the edit back off) and
//! SeFa in the Directions panel.

mod common;

use common::ui::{
    app, click, crop, harness, image_shown, painted_harness, step_until, step_until_within,
};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use stylenat::app::ExplorerApp;
use stylenat::latent::group_edit::GroupEdit;
use stylenat::latent::recipe::DirectionSource;

/// The current recipe's final image is shown (not a preview: on a loaded machine the first
/// render after an edit may be a smaller stage's).
fn final_shown(a: &ExplorerApp) -> bool {
    image_shown(a) && a.shown.canvas.preview().is_none()
}

fn differing_pixels(a: &image::RgbaImage, b: &image::RgbaImage) -> usize {
    assert_eq!(a.dimensions(), b.dimensions());
    a.pixels().zip(b.pixels()).filter(|(x, y)| x != y).count()
}

#[test]
fn ablating_a_group_changes_the_image_and_undo_restores_it() {
    let mut app = app();
    app.state.zoom = 2;
    let mut h = painted_harness(app, [1300.0, 900.0]);
    step_until(&mut h, "the first image", final_shown);
    let before = crop(&mut h, "generated image mix");
    let recipe = h.state().state.args.clone();

    click(&mut h, "Head groups");
    click(&mut h, "32²");
    click(&mut h, "ablate group 1");
    let want: Vec<GroupEdit> = vec!["3:1:scale=0".parse().unwrap()];
    step_until(&mut h, "the ablated image", |a| {
        a.state.args.group_edits == want && final_shown(a)
    });
    let ablated = crop(&mut h, "generated image mix");
    let changed = differing_pixels(&before, &ablated);
    assert!(
        changed > before.len() / 4 / 20,
        "ablating a head group changed only {changed} pixels"
    );

    // Beside it, the same latent with no head-group edit: the image from before.
    click(&mut h, "show unedited beside it");
    step_until(&mut h, "the unedited image", |a| {
        final_shown(a) && a.shown.args.as_ref().is_some_and(|r| r.unedited)
    });
    let unedited = crop(&mut h, "generated image unedited");
    assert_eq!(differing_pixels(&before, &unedited), 0);
    click(&mut h, "show unedited beside it");

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    step_until(&mut h, "the undone image", |a| {
        a.state.args.group_edits.is_empty() && final_shown(a)
    });
    assert_eq!(h.state().state.args, recipe, "undo restores the recipe");
    let undone = crop(&mut h, "generated image mix");
    assert_eq!(
        differing_pixels(&before, &undone),
        0,
        "undo restores the image"
    );
}

#[test]
fn sefa_directions_drive_the_sliders() {
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    let before = h.state().shown.wplus.clone().unwrap();
    click(&mut h, "Directions");
    click(&mut h, "Compute SeFa");
    step_until(&mut h, "the SeFa directions", |a| {
        a.shown
            .directions
            .as_ref()
            .is_some_and(|d| matches!(d.source, DirectionSource::Sefa { .. }))
    });
    let info = h.state().shown.directions.clone().unwrap();
    assert!(
        info.sigma.iter().all(|&s| s == 1.0),
        "SeFa moves raw W units"
    );
    let label = format!("SeFa0 ({:.1} %)", info.explained[0] * 100.0);
    let slider = h.get_by_role_and_label(egui::accesskit::Role::Slider, &label);
    slider.set_value_accesskit(2.0);
    step_until(&mut h, "the edited image", |a| {
        !a.state.args.edits.is_empty() && image_shown(a)
    });
    let after = h.state().shown.wplus.clone().unwrap();
    // Every layer moved by 2 along a unit direction: ‖Δ‖ = 2 per layer.
    let d = h.state().model.as_ref().unwrap().w_dim();
    for (a, b) in after.chunks(d).zip(before.chunks(d)) {
        let step: f32 = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f32>()
            .sqrt();
        assert!((step - 2.0).abs() < 1e-3, "moved {step}");
    }
}

#[test]
fn layer_inspector_shows_the_chosen_layer_of_the_shown_image() {
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    click(&mut h, "Layer inspector");
    click(&mut h, "inspect a layer");
    click(&mut h, "32²");
    click(&mut h, "attn 1");
    let want_site = stylenat::model::Site::AttnOut { stage: 3, block: 1 };
    step_until(&mut h, "the inspection", |a| {
        a.shown
            .inspection
            .as_ref()
            .is_some_and(|(i, _)| i.site == want_site)
    });
    click(&mut h, "RGB");
    step_until(&mut h, "three channels", |a| {
        a.shown
            .inspection
            .as_ref()
            .is_some_and(|(i, _)| i.channels == [0, 1, 2])
    });
    let (got, _) = h.state().shown.inspection.clone().unwrap();
    // The same layer of the same image, straight from the engine.
    let mut e = common::fixture_engine();
    let w = common::seed_wplus(&mut e, h.state().state.args.seed);
    let want = stylenat::analysis::inspect::inspect(
        &e,
        &w,
        want_site,
        &[0, 1, 2],
        stylenat::analysis::inspect::Normalise::PerChannel,
    )
    .unwrap();
    assert_eq!(got.stats, want.stats);
    assert_eq!(got.picture, want.picture);
    h.get_by_label_contains("stage3.block1.attn: 64 channels, 32×32");
}

#[test]
fn a_png_with_head_group_edits_restores_them_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let c = common::ckpt();
    let edit = "4.1:0:dilation=4";
    common::stylenat_ok(&[
        "generate",
        "--ckpt",
        &c,
        "--seeds",
        "9",
        "--group-edit",
        edit,
        "--outdir",
        &out,
    ]);
    let mut h = harness(app());
    step_until(&mut h, "the first image", image_shown);
    h.state_mut().apply(stylenat::app::action::Action::Open(
        dir.path().join("9.png"),
    ));
    let want: Vec<GroupEdit> = vec![edit.parse().unwrap()];
    step_until(&mut h, "the restored image", |a| {
        a.state.args.group_edits == want && a.state.args.seed == 9 && image_shown(a)
    });
}

/// A picture without provenance (the pixels of a generated image, saved plainly).
fn plain_picture(dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.display().to_string();
    common::stylenat_ok(&[
        "generate",
        "--ckpt",
        &common::ckpt(),
        "--seeds",
        "21",
        "--outdir",
        &out,
    ]);
    let plain = dir.join("plain.png");
    image::open(dir.join("21.png"))
        .unwrap()
        .save(&plain)
        .unwrap();
    plain
}

/// The explorer showing its first image, set to project with `steps` steps, a picture to
/// project (kept in the returned folder) and the recipe before any projection.
fn ready_to_project(
    steps: usize,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    Harness<'static, ExplorerApp>,
    stylenat::latent::recipe::Recipe,
) {
    let dir = tempfile::tempdir().unwrap();
    let plain = plain_picture(dir.path());
    let mut app = app();
    app.state.projection_steps = steps;
    let mut h = harness(app);
    step_until(&mut h, "the first image", image_shown);
    let before = h.state().state.args.clone();
    (dir, plain, h, before)
}

#[test]
fn dropping_a_picture_projects_it_and_undo_goes_back() {
    let (_dir, plain, mut h, before) = ready_to_project(12);
    h.state_mut()
        .apply(stylenat::app::action::Action::Open(plain.clone()));
    assert!(h.state().jobs.projection.is_some(), "the projection starts");
    // Projection shares two cores with the other UI tests: allow for a slow machine.
    let slow = std::time::Duration::from_secs(300);
    step_until_within(&mut h, "the projected latent", slow, |a| {
        a.state
            .args
            .custom
            .as_ref()
            .is_some_and(|c| c.name.starts_with("projection of plain.png (sha256 "))
            && image_shown(a)
    });
    assert!(h.state().jobs.projection.is_none());
    let status = h.state().messages.status.clone().unwrap_or_default();
    // The built-in model has no discriminator: the status says the loss was pixels only.
    assert!(
        status.contains("dB PSNR (pixels only: the checkpoint carries no discriminator)"),
        "{status}"
    );
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    step_until(&mut h, "the latent from before", |a| a.state.args == before);
}

#[test]
fn a_cancelled_projection_leaves_the_latent_alone() {
    let (dir, plain, mut h, before) = ready_to_project(5000);
    h.state_mut()
        .apply(stylenat::app::action::Action::Project(plain));
    let slow = std::time::Duration::from_secs(300);
    step_until_within(&mut h, "a few steps", slow, |a| {
        a.jobs.projection.as_ref().is_some_and(|p| p.step >= 3)
    });
    click(&mut h, "Cancel projection");
    step_until(&mut h, "the cancel", |a| a.jobs.projection.is_none());
    assert_eq!(h.state().state.args, before);
    let status = h.state().messages.status.clone().unwrap_or_default();
    assert!(status.contains("cancelled"), "{status}");
    // Not a picture: the error is shown and nothing changes.
    let bad = dir.path().join("bad.jpg");
    std::fs::write(&bad, b"no pixels here").unwrap();
    h.state_mut()
        .apply(stylenat::app::action::Action::Open(bad));
    step_until(&mut h, "the error", |a| !a.messages.errors.is_empty());
    assert!(
        h.state().messages.errors[0].contains("not an image"),
        "{:?}",
        h.state().messages.errors
    );
    assert_eq!(h.state().state.args, before);
}
