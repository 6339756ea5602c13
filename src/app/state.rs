//! What the user has chosen: plain, serialisable, persisted between launches and in sessions.
//! The image itself is a [`Recipe`]; the rest is how the explorer shows it.

use crate::analysis::inspect::Normalise;
use crate::latent::recipe::Recipe;
use crate::model::Site;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Persisted UI state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AppState {
    /// The image being explored (undo and redo step through it).
    pub args: Recipe,
    /// Also render A and B on their own (the A | B | mix view).
    pub compare: bool,
    /// W+ layers the direction sliders move (inclusive).
    pub edit_layers: [usize; 2],
    /// Checkpoints opened before, newest first.
    pub recent: Vec<PathBuf>,
    /// Integer zoom (0 = fit to the window).
    pub zoom: u32,
    /// Seed-lattice animation speed in lattice steps per second (0 = still).
    pub animate: f32,
    /// Video export settings.
    pub export: ExportSettings,
    pub attention: AttentionView,
    pub head_groups: HeadGroupView,
    pub inspector: InspectorView,
    /// Adam steps of a projection started from the window.
    pub projection_steps: usize,
}

/// Which part of a stage the layer inspector shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerKind {
    #[default]
    Block0,
    Block1,
    Attn0,
    Attn1,
    Upsample,
    ToRgb,
}

/// The layer inspector: which layer and channels, and how they are normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InspectorView {
    pub open: bool,
    pub stage: usize,
    pub kind: LayerKind,
    /// The channel, or with `rgb` the three channels shown as red, green and blue.
    pub channels: [usize; 3],
    pub rgb: bool,
    pub norm: Normalise,
}

impl Default for InspectorView {
    fn default() -> Self {
        Self {
            open: false,
            stage: 1,
            kind: LayerKind::Block1,
            channels: [0, 1, 2],
            rgb: false,
            norm: Normalise::PerChannel,
        }
    }
}

impl InspectorView {
    /// The chosen layer of a model with `stages` stages (the last has no upsample).
    pub fn site(&self, stages: usize) -> Site {
        let stage = self.stage.min(stages.saturating_sub(1));
        match self.kind {
            LayerKind::Block0 => Site::BlockOut { stage, block: 0 },
            LayerKind::Block1 => Site::BlockOut { stage, block: 1 },
            LayerKind::Attn0 => Site::AttnOut { stage, block: 0 },
            LayerKind::Attn1 => Site::AttnOut { stage, block: 1 },
            LayerKind::Upsample if stage + 1 < stages => Site::UpsampleOut { stage },
            LayerKind::Upsample | LayerKind::ToRgb => Site::ToRgbSkip { stage },
        }
    }

    pub fn channels(&self) -> Vec<usize> {
        match self.rgb {
            true => self.channels.to_vec(),
            false => vec![self.channels[0]],
        }
    }
}

/// The head-group panel: which stage and blocks its controls address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeadGroupView {
    pub stage: usize,
    /// `None`: both blocks of the stage.
    pub block: Option<usize>,
    /// Also render the image without any head-group edit, beside the edited one.
    pub unedited: bool,
}

/// The attention-map view: which layer, and the query pixel (image coordinates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttentionView {
    pub open: bool,
    pub stage: usize,
    pub block: usize,
    /// Overlay only this head group (`None`: every group, each in its own colour).
    pub group: Option<usize>,
    pub query: Option<(usize, usize)>,
}

impl Default for AttentionView {
    fn default() -> Self {
        Self {
            open: false,
            stage: usize::MAX, // the last stage once a model is known
            block: 0,
            group: None,
            query: None,
        }
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            args: Recipe::default(),
            compare: false,
            edit_layers: [0, usize::MAX],
            recent: Vec::new(),
            zoom: 0,
            animate: 0.0,
            export: ExportSettings::default(),
            attention: AttentionView::default(),
            head_groups: HeadGroupView::default(),
            inspector: InspectorView::default(),
            projection_steps: 300,
        }
    }
}

impl AppState {
    /// The state saved by the last session; unreadable settings (corrupt, or from an
    /// incompatible version) are replaced by defaults, with a notice for the window.
    pub fn restore(saved: Option<&str>) -> (Self, Option<String>) {
        match saved.map(serde_json::from_str::<Self>) {
            None => (Self::default(), None),
            Some(Ok(state)) => (state, None),
            Some(Err(e)) => (
                Self::default(),
                Some(format!(
                    "saved settings were unreadable ({e}); starting fresh"
                )),
            ),
        }
    }

    /// Adapts the recipe to a newly loaded model: a loaded W+ of another shape goes, and layer
    /// indices the model does not have are dropped (the recipe would be refused otherwise).
    pub fn fit_to(&mut self, num_ws: usize, w_dim: usize) {
        let a = &mut self.args;
        if a.custom
            .as_ref()
            .is_some_and(|c| c.wplus.len() != num_ws * w_dim)
        {
            a.custom = None;
        }
        a.mix_layers.retain(|&l| l < num_ws);
        a.trunc_cutoff = a.trunc_cutoff.filter(|&k| k <= num_ws);
        for e in &mut a.edits {
            if let Some(layers) = &mut e.layers {
                layers.retain(|&l| l < num_ws);
            }
        }
    }

    /// Remembers `path` at the top of the recent list (at most 10 entries).
    pub fn remember(&mut self, path: PathBuf) {
        self.recent.retain(|p| p != &path);
        self.recent.insert(0, path);
        self.recent.truncate(10);
    }
}

/// The export dialog's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    /// Keyframes after the current latent, e.g. `7,12,40`.
    pub seeds: String,
    pub frames_per_transition: usize,
    pub fps: f32,
    pub looping: bool,
    pub interp: crate::latent::interp::Interp,
    pub quality: u8,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            seeds: "1,2,3".into(),
            frames_per_transition: 60,
            fps: 60.0,
            looping: true,
            interp: crate::latent::interp::Interp::Slerp,
            quality: crate::io::video::DEFAULT_QP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AppState;

    #[test]
    fn corrupt_settings_reset_with_a_notice() {
        let good = serde_json::to_string(&AppState::default()).unwrap();
        assert!(AppState::restore(Some(&good)).1.is_none());
        assert!(AppState::restore(None).1.is_none());
        for bad in ["{", "[1,2]", "{\"args\": {\"seed\": \"x\"}}", "\u{0}"] {
            let (state, notice) = AppState::restore(Some(bad));
            assert!(notice.unwrap().contains("starting fresh"), "{bad}");
            assert_eq!(state.args, AppState::default().args);
        }
    }
}
