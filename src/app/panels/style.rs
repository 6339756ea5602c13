//! Style vector: where each W+ layer comes from, a nudge along a random direction on a layer
//! range, and W+ files (load / save `.npz`).

use super::PanelCtx;
use crate::app::action::Action;
use crate::app::file_dialog::FileTask;
use crate::app::protocol::ModelInfo;
use crate::latent::recipe::Recipe;

pub fn show(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    if let Some(model) = cx.model {
        let wplus = cx.shown.wplus.as_deref();
        draw(ui, &mut cx.state.args, model, wplus, cx.actions);
    }
}

fn draw(
    ui: &mut egui::Ui,
    args: &mut Recipe,
    model: &ModelInfo,
    wplus: Option<&[f32]>,
    actions: &mut Vec<Action>,
) {
    let source_a = match &args.custom {
        Some(c) => format!("file {}", c.name),
        None if args.drift == [0.0; 2] => format!("seed {}", args.seed),
        None => format!(
            "seed {} (+{:.2}, +{:.2})",
            args.seed, args.drift[0], args.drift[1]
        ),
    };
    egui::Grid::new("layer_sources")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            ui.label("layer");
            ui.label("res");
            ui.label("source");
            ui.label("|w|");
            ui.end_row();
            for (l, res) in model.layer_res().iter().enumerate() {
                ui.label(l.to_string());
                ui.label(format!("{res}²"));
                let mut src = if args.mix_layers.contains(&l) {
                    format!("B: seed {}", args.mix_seed)
                } else {
                    format!("A: {source_a}")
                };
                if args.nudge.amount != 0.0 && (args.nudge.first..=args.nudge.last).contains(&l) {
                    src.push_str(" + nudge");
                }
                ui.label(src);
                let norm = wplus
                    .and_then(|w| w.get(l * model.w_dim()..(l + 1) * model.w_dim()))
                    .map(|row| row.iter().map(|x| x * x).sum::<f32>().sqrt());
                ui.label(norm.map_or("–".into(), |n| format!("{n:.1}")));
                ui.end_row();
            }
        });
    ui.separator();
    let n = &mut args.nudge;
    ui.horizontal(|ui| {
        ui.add(
            egui::Slider::new(&mut n.amount, -5.0..=5.0)
                .suffix(" σ")
                .text("nudge"),
        );
    });
    ui.horizontal(|ui| {
        super::labelled(
            ui,
            "direction",
            egui::DragValue::new(&mut n.direction_seed).speed(0.2),
        );
        if ui
            .button("new")
            .on_hover_text("another random direction")
            .clicked()
        {
            n.direction_seed = n.direction_seed.wrapping_add(1);
        }
        if ui.button("reset").clicked() {
            n.amount = 0.0;
        }
    });
    let last_layer = model.num_ws().saturating_sub(1);
    n.last = n.last.min(last_layer);
    n.first = n.first.min(n.last);
    ui.horizontal(|ui| {
        super::labelled(
            ui,
            "layers",
            egui::DragValue::new(&mut n.first).range(0..=last_layer),
        );
        super::labelled(
            ui,
            "to",
            egui::DragValue::new(&mut n.last).range(0..=last_layer),
        );
    });
    ui.separator();
    ui.horizontal(|ui| {
        if ui.button("Load W+…").clicked() {
            actions.push(Action::Choose(FileTask::LoadLatent));
        }
        if ui.button("Save W+…").clicked() {
            actions.push(Action::Choose(FileTask::SaveLatent));
        }
        if args.custom.is_some() && ui.button("back to seed").clicked() {
            actions.push(Action::ClearLatent);
        }
    });
}
