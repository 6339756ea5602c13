//! Attention maps: pick a stage and block, click a pixel of the image, and see the softmax
//! weights of each head group around it (computed only while this view is open).

use super::PanelCtx;
use crate::app::protocol::ModelInfo;
use crate::app::state::AttentionView;
use crate::latent::group_edit::GroupEdit;
use crate::model::head_edits::groups_of;

/// Overlay colour of head group `g` (also used by the canvas).
pub fn group_colour(g: usize) -> egui::Color32 {
    const COLOURS: [egui::Color32; 6] = [
        egui::Color32::from_rgb(255, 80, 60),
        egui::Color32::from_rgb(60, 170, 255),
        egui::Color32::from_rgb(110, 230, 90),
        egui::Color32::from_rgb(250, 210, 60),
        egui::Color32::from_rgb(220, 100, 250),
        egui::Color32::from_rgb(80, 240, 220),
    ];
    COLOURS[g % COLOURS.len()]
}

/// A small square in head group `g`'s colour (legends of this panel and the head-group panel).
pub fn group_swatch(ui: &mut egui::Ui, g: usize) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    ui.painter().rect_filled(rect, 2.0, group_colour(g));
}

pub fn show(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    if let Some(model) = cx.model {
        draw(
            ui,
            &mut cx.state.attention,
            &cx.state.args.group_edits,
            model,
        );
    }
}

fn draw(ui: &mut egui::Ui, view: &mut AttentionView, edits: &[GroupEdit], model: &ModelInfo) {
    ui.checkbox(&mut view.open, "show attention maps");
    if !view.open {
        return;
    }
    let last = model.config.stages.len().saturating_sub(1);
    view.stage = view.stage.min(last);
    ui.horizontal_wrapped(|ui| {
        ui.label("stage");
        for (i, st) in model.config.stages.iter().enumerate() {
            ui.selectable_value(&mut view.stage, i, format!("{}²", st.resolution));
        }
    });
    ui.horizontal(|ui| {
        ui.label("block");
        ui.selectable_value(&mut view.block, 0, "0");
        ui.selectable_value(&mut view.block, 1, "1");
    });
    // The neighbourhoods as the head-group edits have them (the maps follow the overrides).
    let groups = &groups_of(&model.config, edits, view.stage, view.block);
    if view.group.is_some_and(|g| g >= groups.len()) {
        view.group = None;
    }
    ui.selectable_value(&mut view.group, None, "all head groups");
    for (g, grp) in groups.iter().enumerate() {
        ui.horizontal(|ui| {
            group_swatch(ui, g);
            ui.selectable_value(
                &mut view.group,
                Some(g),
                format!(
                    "group {g}: {} heads, kernel {}, dilation {}",
                    grp.heads, grp.kernel, grp.dilation
                ),
            );
        });
    }
    match view.query {
        Some((x, y)) => ui.label(format!(
            "query pixel ({x}, {y}) — click the image to move it"
        )),
        None => ui.label("click the image to choose a query pixel"),
    };
}
