//! One file per side-panel section, all with one signature and listed in [`PANELS`], so the
//! side panel is a loop. Each edits the shared [`AppState`] or reports [`Action`]s, and never
//! calls another panel.

pub mod attention;
pub mod directions;
pub mod export;
pub mod head_groups;
pub mod inspector;
pub mod latent;
pub mod mixing;
pub mod model;
pub mod style;
pub mod truncation;
pub mod view;

use super::action::Action;
use super::protocol::ModelInfo;
use super::state::AppState;
use super::{Jobs, Shown};

/// What a panel sees and may change.
pub struct PanelCtx<'a> {
    pub state: &'a mut AppState,
    /// `None` until a model is loaded (only panels that do not need one are shown then).
    pub model: Option<&'a ModelInfo>,
    pub shown: &'a Shown,
    pub jobs: &'a Jobs,
    /// Time spent building the last UI frame.
    pub ui_ms: f32,
    pub actions: &'a mut Vec<Action>,
}

/// A section of the side panel.
pub struct Panel {
    pub title: &'static str,
    /// Expanded when the window opens.
    pub open: bool,
    /// Shown only once a model is loaded.
    pub needs_model: bool,
    pub show: fn(&mut egui::Ui, &mut PanelCtx),
}

/// The side panel, top to bottom.
pub const PANELS: &[Panel] = &[
    Panel::new("Model", true, false, model::show),
    Panel::new("Latent", true, true, latent::show),
    Panel::new("Truncation", true, true, truncation::show),
    Panel::new("Style mixing", false, true, mixing::show),
    Panel::new("Style vector", false, true, style::show),
    Panel::new("Directions", false, true, directions::show),
    Panel::new("Head groups", false, true, head_groups::show),
    Panel::new("Attention maps", false, true, attention::show),
    Panel::new("Layer inspector", false, true, inspector::show),
    Panel::new("Export", false, true, export::show),
    Panel::new("View & performance", true, true, view::show),
];

impl Panel {
    const fn new(
        title: &'static str,
        open: bool,
        needs_model: bool,
        show: fn(&mut egui::Ui, &mut PanelCtx),
    ) -> Self {
        Self {
            title,
            open,
            needs_model,
            show,
        }
    }
}

/// A label and the widget it names (screen readers and UI tests find the widget by the label).
pub fn labelled(ui: &mut egui::Ui, text: &str, widget: impl egui::Widget) -> egui::Response {
    let label = ui.label(text);
    ui.add(widget).labelled_by(label.id)
}
