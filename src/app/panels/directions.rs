//! Directions: GANSpace PCA of W (computed on request, cached per checkpoint) or SeFa's
//! closed-form directions of the chosen W+ layers, a slider per component (PCA in σ units,
//! SeFa in units of W) on that W+ layer range, and direction files. The sliders are the
//! recipe's direction edits on the shown directions.

use super::PanelCtx;
use crate::app::action::Action;
use crate::app::file_dialog::FileTask;
use crate::latent::recipe::DirectionSource;

/// Components with a slider.
const SLIDERS: usize = 12;

pub fn show(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    let Some(model) = cx.model else {
        return;
    };
    let progress = cx.jobs.directions_progress;
    let info = cx.shown.directions.as_ref();
    ui.horizontal(|ui| {
        if ui
            .add_enabled(progress.is_none(), egui::Button::new("Compute PCA"))
            .on_hover_text("20 000 mapped latents, 20 components; cached per checkpoint")
            .clicked()
        {
            cx.actions.push(Action::ComputeDirections);
        }
        if ui
            .button("Compute SeFa")
            .on_hover_text("closed form from the style weights of the layers below")
            .clicked()
        {
            let [first, last] = cx.state.edit_layers;
            let last = last.min(model.num_ws().saturating_sub(1));
            cx.actions
                .push(Action::ComputeSefa((first.min(last)..=last).collect()));
        }
        if ui.button("Load…").clicked() {
            cx.actions.push(Action::Choose(FileTask::LoadDirections));
        }
        if info.is_some() && ui.button("Save…").clicked() {
            cx.actions.push(Action::Choose(FileTask::SaveDirections));
        }
    });
    if let Some((done, total)) = progress {
        ui.add(
            egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                .text(format!("sampling W: {done}/{total}")),
        );
    }
    let Some(info) = info else {
        ui.label("No directions yet.");
        return;
    };
    ui.label(egui::RichText::new(&info.description).small());
    let (args, range) = (&mut cx.state.args, &mut cx.state.edit_layers);
    let last = model.num_ws().saturating_sub(1);
    range[1] = range[1].min(last);
    range[0] = range[0].min(range[1]);
    let layers: Vec<usize> = (range[0]..=range[1]).collect();
    for k in 0..info.sigma.len().min(SLIDERS) {
        let explained = info.explained[k];
        let name = match info.source {
            DirectionSource::Sefa { .. } => "SeFa",
            _ => "PC",
        };
        let text = if explained.is_finite() {
            format!("{name}{k} ({:.1} %)", explained * 100.0)
        } else {
            format!("direction {k}")
        };
        let mut amount = args.edit_amount(&info.source, k);
        // PCA moves in σ of W along the component; SeFa (σ = 1) in plain W units.
        let unit = match info.source {
            DirectionSource::Sefa { .. } => " w",
            _ => " σ",
        };
        let slider = egui::Slider::new(&mut amount, -5.0..=5.0)
            .suffix(unit)
            .text(text);
        if ui.add(slider).changed() {
            args.set_edit(&info.source, k, amount, &layers);
        }
    }
    let before = *range;
    ui.horizontal(|ui| {
        super::labelled(
            ui,
            "layers",
            egui::DragValue::new(&mut range[0]).range(0..=last),
        );
        super::labelled(
            ui,
            "to",
            egui::DragValue::new(&mut range[1]).range(0..=last),
        );
        if ui.button("reset").clicked() {
            args.edits.retain(|e| e.source != info.source);
        }
    });
    if *range != before {
        // The range applies to every slider of these directions.
        let layers: Vec<usize> = (range[0]..=range[1].max(range[0])).collect();
        for e in args.edits.iter_mut().filter(|e| e.source == info.source) {
            e.layers = Some(layers.clone());
        }
    }
}
