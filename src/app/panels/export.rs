//! Export: the shown image (PNG with provenance), its W+, a session, and a video from the shown
//! latent through more seeds, with progress and Cancel.

use super::PanelCtx;
use crate::app::action::Action;
use crate::app::file_dialog::FileTask;
use crate::app::state::ExportSettings;
use crate::latent::interp::Interp;

/// An export in progress.
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub seconds: f32,
}

pub fn show(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    let progress = cx.jobs.export.as_ref().map(|e| Progress {
        done: e.done,
        total: e.total,
        seconds: e.started.elapsed().as_secs_f32(),
    });
    draw(ui, &mut cx.state.export, progress.as_ref(), cx.actions);
}

fn draw(
    ui: &mut egui::Ui,
    settings: &mut ExportSettings,
    progress: Option<&Progress>,
    actions: &mut Vec<Action>,
) {
    ui.add_enabled_ui(progress.is_none(), |ui| {
        ui.horizontal(|ui| {
            if ui.button("Image…").clicked() {
                actions.push(Action::Choose(FileTask::SaveImage));
            }
            if ui.button("W+…").clicked() {
                actions.push(Action::Choose(FileTask::SaveLatent));
            }
            if ui.button("Session…").clicked() {
                actions.push(Action::Choose(FileTask::SaveSession));
            }
        });
        let label = ui.label("Video: from the shown latent through these seeds");
        ui.text_edit_singleline(&mut settings.seeds)
            .labelled_by(label.id);
        ui.horizontal(|ui| {
            super::labelled(
                ui,
                "frames per step",
                egui::DragValue::new(&mut settings.frames_per_transition).range(1..=1000),
            );
            super::labelled(
                ui,
                "fps",
                egui::DragValue::new(&mut settings.fps).range(1.0..=120.0),
            );
        });
        ui.horizontal(|ui| {
            ui.checkbox(&mut settings.looping, "loop");
            for (i, name) in [
                (Interp::Linear, "linear"),
                (Interp::Slerp, "slerp"),
                (Interp::Cubic, "cubic"),
            ] {
                ui.selectable_value(&mut settings.interp, i, name);
            }
        });
        if ui.button("Video…").clicked() {
            actions.push(Action::Choose(FileTask::SaveVideo));
        }
    });
    if let Some(p) = progress {
        ui.horizontal(|ui| {
            let frac = if p.total == 0 {
                0.0
            } else {
                p.done as f32 / p.total as f32
            };
            let eta = if p.done > 0 {
                p.seconds / p.done as f32 * (p.total - p.done) as f32
            } else {
                f32::NAN
            };
            ui.add(
                egui::ProgressBar::new(frac)
                    .text(format!("{}/{} frames, ETA {eta:.0} s", p.done, p.total))
                    .desired_width(200.0),
            );
            if ui.button("Cancel").clicked() {
                actions.push(Action::CancelExport);
            }
        });
    }
}
