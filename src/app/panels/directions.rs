//! Directions: GANSpace PCA of W (computed on request, cached per checkpoint), a slider per
//! component in σ units on a W+ layer range, and direction files.

use crate::app::action::Action;
use crate::app::file_dialog::FileTask;
use crate::app::state::RenderArgs;
use crate::app::worker::DirectionsInfo;

/// Components with a slider.
const SLIDERS: usize = 12;

pub struct DirectionsPanel<'a> {
    pub info: Option<&'a DirectionsInfo>,
    /// `(done, total)` samples while computing.
    pub progress: Option<(usize, usize)>,
    pub num_ws: usize,
}

pub fn show(
    ui: &mut egui::Ui,
    args: &mut RenderArgs,
    p: &DirectionsPanel,
    actions: &mut Vec<Action>,
) {
    ui.horizontal(|ui| {
        if ui
            .add_enabled(p.progress.is_none(), egui::Button::new("Compute PCA"))
            .on_hover_text("20 000 mapped latents, 20 components; cached per checkpoint")
            .clicked()
        {
            actions.push(Action::ComputeDirections);
        }
        if ui.button("Load…").clicked() {
            actions.push(Action::Choose(FileTask::LoadDirections));
        }
        if p.info.is_some() && ui.button("Save…").clicked() {
            actions.push(Action::Choose(FileTask::SaveDirections));
        }
    });
    if let Some((done, total)) = p.progress {
        ui.add(
            egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                .text(format!("sampling W: {done}/{total}")),
        );
    }
    let Some(info) = p.info else {
        ui.label("No directions yet.");
        return;
    };
    ui.label(egui::RichText::new(&info.source).small());
    let n = info.sigma.len().min(SLIDERS);
    if args.pca.len() < n {
        args.pca.resize(n, 0.0);
    }
    for k in 0..n {
        let explained = info.explained[k];
        let text = if explained.is_finite() {
            format!("PC{k} ({:.1} %)", explained * 100.0)
        } else {
            format!("direction {k}")
        };
        ui.add(
            egui::Slider::new(&mut args.pca[k], -5.0..=5.0)
                .suffix(" σ")
                .text(text),
        );
    }
    let last = p.num_ws.saturating_sub(1);
    args.pca_layers[1] = args.pca_layers[1].min(last);
    args.pca_layers[0] = args.pca_layers[0].min(args.pca_layers[1]);
    ui.horizontal(|ui| {
        super::labelled(
            ui,
            "layers",
            egui::DragValue::new(&mut args.pca_layers[0]).range(0..=last),
        );
        super::labelled(
            ui,
            "to",
            egui::DragValue::new(&mut args.pca_layers[1]).range(0..=last),
        );
        if ui.button("reset").clicked() {
            args.pca.iter_mut().for_each(|v| *v = 0.0);
        }
    });
}
