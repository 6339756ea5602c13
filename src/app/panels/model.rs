//! Model: open a checkpoint (dialog, recent list, drag-and-drop elsewhere) and describe it.

use super::PanelCtx;
use crate::app::action::Action;
use crate::app::file_dialog::FileTask;
use crate::app::protocol::ModelInfo;
use std::path::PathBuf;

/// A load in progress, as the panel shows it.
pub struct Loading<'a> {
    pub path: &'a std::path::Path,
    pub stage: &'a str,
    pub fraction: Option<f32>,
    pub seconds: f32,
}

pub fn show(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    let loading = cx.jobs.loading.as_ref().map(|l| Loading {
        path: &l.path,
        stage: l.stage,
        fraction: l.fraction,
        seconds: l.started.elapsed().as_secs_f32(),
    });
    draw(ui, &cx.state.recent, cx.model, loading, cx.actions);
}

fn draw(
    ui: &mut egui::Ui,
    recent: &[PathBuf],
    info: Option<&ModelInfo>,
    loading: Option<Loading>,
    actions: &mut Vec<Action>,
) {
    ui.horizontal(|ui| {
        if ui.button("Open checkpoint…").clicked() {
            actions.push(Action::Choose(FileTask::OpenCheckpoint));
        }
        if ui
            .button("Built-in model")
            .on_hover_text(
                "The small Fashion-MNIST StyleNAT that ships with the app (assets/MODEL_CARD.md)",
            )
            .clicked()
        {
            actions.push(Action::Open(PathBuf::from(
                crate::checkpoint::builtin::NAME,
            )));
        }
        if !recent.is_empty() {
            egui::ComboBox::from_label("recent")
                .selected_text("choose…")
                .show_ui(ui, |ui| {
                    for p in recent {
                        if ui
                            .selectable_label(false, p.display().to_string())
                            .clicked()
                        {
                            actions.push(Action::Open(p.clone()));
                        }
                    }
                });
        }
    });
    if let Some(l) = loading {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!(
                "{} — {} ({:.1} s)",
                file_name(l.path),
                l.stage,
                l.seconds
            ));
            if ui.button("Cancel").clicked() {
                actions.push(Action::CancelLoad);
            }
        });
        if let Some(f) = l.fraction {
            ui.add(egui::ProgressBar::new(f).show_percentage());
        }
    }
    match info {
        Some(m) => {
            ui.label(egui::RichText::new(file_name(&m.path)).strong());
            // The architecture table is wide: scroll it rather than wrap it.
            egui::ScrollArea::horizontal()
                .id_salt("model_summary")
                .show(ui, |ui| {
                    ui.add(
                        egui::Label::new(egui::RichText::new(&m.summary).monospace().size(10.0))
                            .extend(),
                    );
                });
        }
        None => {
            ui.label("No model loaded. Open a StyleNAT .pt or .safetensors file, or drop one on the window.");
        }
    }
}

pub fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}
