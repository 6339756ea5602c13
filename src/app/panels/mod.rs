//! One file per side-panel section. Each edits the shared [`AppState`](super::state::AppState)
//! or reports [`Action`](super::action::Action)s, and never calls another panel.

pub mod attention;
pub mod directions;
pub mod export;
pub mod latent;
pub mod mixing;
pub mod model;
pub mod style;
pub mod truncation;
pub mod view;

/// A label and the widget it names (screen readers and UI tests find the widget by the label).
pub fn labelled(ui: &mut egui::Ui, text: &str, widget: impl egui::Widget) -> egui::Response {
    let label = ui.label(text);
    ui.add(widget).labelled_by(label.id)
}
