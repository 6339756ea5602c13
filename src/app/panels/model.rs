//! Model: open a checkpoint (dialog, recent list, drag-and-drop elsewhere) and describe it.

use crate::app::worker::ModelInfo;
use std::path::PathBuf;

/// Returns a checkpoint the user asked to open.
pub fn show(
    ui: &mut egui::Ui,
    recent: &[PathBuf],
    info: Option<&ModelInfo>,
    loading: bool,
) -> Option<PathBuf> {
    let mut open = None;
    ui.horizontal(|ui| {
        if ui.button("Open checkpoint…").clicked()
            && let Some(p) = rfd::FileDialog::new()
                .add_filter("StyleNAT checkpoint", &["pt", "pth", "safetensors"])
                .pick_file()
        {
            open = Some(p);
        }
        if loading {
            ui.spinner();
            ui.label("loading…");
        }
    });
    if !recent.is_empty() {
        egui::ComboBox::from_label("recent")
            .selected_text("choose…")
            .show_ui(ui, |ui| {
                for p in recent {
                    if ui
                        .selectable_label(false, p.display().to_string())
                        .clicked()
                    {
                        open = Some(p.clone());
                    }
                }
            });
    }
    match info {
        Some(m) => {
            ui.label(
                egui::RichText::new(
                    m.path
                        .file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default(),
                )
                .strong(),
            );
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
    open
}
