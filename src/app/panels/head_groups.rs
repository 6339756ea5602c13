//! Head groups: per stage, each group of heads with its neighbourhood, and live edits — scale
//! its output (0 ablates it), or run it with another dilation or kernel size. The edits are
//! part of the recipe, so undo, sessions and PNG provenance carry them.

use super::PanelCtx;
use super::attention::group_swatch;
use crate::app::protocol::ModelInfo;
use crate::app::state::HeadGroupView;
use crate::latent::group_edit::{GroupEdit, GroupOp, set_group_edit};
use crate::latent::recipe::Recipe;
use crate::model::head_edits::groups_of;

pub fn show(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    if let Some(model) = cx.model {
        draw(ui, &mut cx.state.args, &mut cx.state.head_groups, model);
    }
}

fn draw(ui: &mut egui::Ui, args: &mut Recipe, view: &mut HeadGroupView, model: &ModelInfo) {
    let stages = &model.config.stages;
    view.stage = view.stage.min(stages.len().saturating_sub(1));
    ui.horizontal_wrapped(|ui| {
        ui.label("stage");
        for (i, st) in stages.iter().enumerate() {
            let edited = args.group_edits.iter().any(|e| e.stage == i);
            let text = format!("{}²{}", st.resolution, if edited { "•" } else { "" });
            ui.selectable_value(&mut view.stage, i, text);
        }
    });
    ui.horizontal(|ui| {
        ui.label("blocks");
        ui.selectable_value(&mut view.block, None, "both");
        ui.selectable_value(&mut view.block, Some(0), "0");
        ui.selectable_value(&mut view.block, Some(1), "1");
    });
    let (stage, block) = (view.stage, view.block);
    let stage_cfg = &stages[stage];
    let original = &stage_cfg.groups;
    // What the addressed block runs now (block 0 stands for "both").
    let current = groups_of(&model.config, &args.group_edits, stage, block.unwrap_or(0));
    let scale_of = |g: usize| {
        args.group_edits
            .iter()
            .filter(|e| e.stage == stage && e.block == block && e.group == g)
            .find_map(|e| match e.op {
                GroupOp::Scale(s) => Some(s),
                _ => None,
            })
            .unwrap_or(1.0)
    };
    let mut changes: Vec<(GroupEdit, Option<usize>)> = Vec::new();
    for (g, grp) in current.iter().enumerate() {
        let at = |op| GroupEdit {
            stage,
            block,
            group: g,
            op,
        };
        ui.horizontal(|ui| {
            group_swatch(ui, g);
            ui.label(format!("group {g}: {} heads", grp.heads));
        });
        ui.horizontal(|ui| {
            let mut scale = scale_of(g);
            let mut ablated = scale == 0.0;
            if ui
                .checkbox(&mut ablated, format!("ablate group {g}"))
                .on_hover_text("scale this group's output by 0")
                .changed()
            {
                changes.push((at(GroupOp::Scale(if ablated { 0.0 } else { 1.0 })), None));
            }
            let slider = egui::Slider::new(&mut scale, 0.0..=2.0)
                .text(format!("scale g{g}"))
                .step_by(0.05);
            if ui.add(slider).changed() {
                changes.push((at(GroupOp::Scale(scale)), None));
            }
        });
        ui.horizontal(|ui| {
            // Largest values the map holds with the other setting as it is now.
            let r = stage_cfg.resolution;
            let (mut k, mut d) = (grp.kernel, grp.dilation);
            let kernel = egui::DragValue::new(&mut k)
                .range(1..=(r / d).max(1))
                .prefix("kernel ");
            if ui.add(kernel).changed() {
                changes.push((at(GroupOp::Kernel(k)), Some(original[g].kernel)));
            }
            let dilation = egui::DragValue::new(&mut d)
                .range(1..=(r / k).max(1))
                .prefix("dilation ");
            if ui.add(dilation).changed() {
                changes.push((at(GroupOp::Dilation(d)), Some(original[g].dilation)));
            }
            if (k, d) != (original[g].kernel, original[g].dilation) {
                ui.weak(format!(
                    "(was {}, {})",
                    original[g].kernel, original[g].dilation
                ));
            }
        });
    }
    for (edit, original) in changes {
        set_group_edit(&mut args.group_edits, edit, original);
    }
    ui.weak(
        "A larger kernel zero-pads the group's bias table, a smaller one uses its centre; \
         kernel × dilation must fit the stage's map.",
    );
    ui.checkbox(&mut view.unedited, "show unedited beside it");
    ui.horizontal_wrapped(|ui| {
        if args.group_edits.is_empty() {
            ui.weak("no head-group edits");
            return;
        }
        let list: Vec<String> = args.group_edits.iter().map(|e| e.to_string()).collect();
        ui.label(format!("edits: {}", list.join("  ")));
        if ui.button("reset all").clicked() {
            args.group_edits.clear();
        }
    });
}
