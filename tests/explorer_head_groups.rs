//! The Head groups panel: ablating a group changes the image, the unedited image beside it is
//! the image from before, and undo brings the edit back off.

mod common;

use common::ui::{app, click, image_shown, step_until};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use stylenat::app::ExplorerApp;
use stylenat::latent::group_edit::GroupEdit;

/// The on-screen pixels of the image labelled `label` (the canvas, as egui draws it).
fn crop(h: &mut Harness<'_, ExplorerApp>, label: &str) -> image::RgbaImage {
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

fn differing_pixels(a: &image::RgbaImage, b: &image::RgbaImage) -> usize {
    assert_eq!(a.dimensions(), b.dimensions());
    a.pixels().zip(b.pixels()).filter(|(x, y)| x != y).count()
}

#[test]
fn ablating_a_group_changes_the_image_and_undo_restores_it() {
    let mut app = app();
    app.state.zoom = 2;
    let mut h = Harness::builder()
        .with_size([1300.0, 900.0])
        .wgpu()
        .build_ui_state(|ui, app: &mut ExplorerApp| app.show(ui), app);
    step_until(&mut h, "the first image", image_shown);
    let before = crop(&mut h, "generated image mix");

    click(&mut h, "Head groups");
    click(&mut h, "32²");
    click(&mut h, "ablate group 1");
    let want: Vec<GroupEdit> = vec!["3:1:scale=0".parse().unwrap()];
    step_until(&mut h, "the ablated image", |a| {
        a.state.args.group_edits == want && image_shown(a)
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
        image_shown(a) && a.shown.args.as_ref().is_some_and(|r| r.unedited)
    });
    let unedited = crop(&mut h, "generated image unedited");
    assert_eq!(differing_pixels(&before, &unedited), 0);
    click(&mut h, "show unedited beside it");

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    step_until(&mut h, "the undone image", |a| {
        a.state.args.group_edits.is_empty() && image_shown(a)
    });
    let undone = crop(&mut h, "generated image mix");
    assert_eq!(differing_pixels(&before, &undone), 0, "undo restores the image");
}
