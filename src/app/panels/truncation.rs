//! Truncation: ψ and the layer cutoff.

use super::PanelCtx;
use crate::latent::recipe::Recipe;

pub fn show(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    if let Some(model) = cx.model {
        draw(ui, &mut cx.state.args, model.num_ws());
    }
}

fn draw(ui: &mut egui::Ui, args: &mut Recipe, num_ws: usize) {
    ui.add(
        egui::Slider::new(&mut args.psi, -1.0..=2.0)
            .text("ψ")
            .step_by(0.01),
    );
    let mut all = args.trunc_cutoff.is_none();
    ui.horizontal(|ui| {
        ui.checkbox(&mut all, "all layers");
        if !all {
            let mut k = args.trunc_cutoff.unwrap_or(num_ws / 2);
            // Only the user's drags are clamped: a cutoff restored from a session or PNG that
            // this model cannot honour stays visible, and the render shows the recipe error.
            ui.add(
                egui::Slider::new(&mut k, 0..=num_ws.max(1))
                    .clamping(egui::SliderClamping::Edits)
                    .text("cutoff"),
            );
            args.trunc_cutoff = Some(k);
        }
    });
    if all {
        args.trunc_cutoff = None;
    }
}
