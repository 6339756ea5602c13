//! What the user has chosen: plain, serialisable, persisted between launches and in sessions.

use crate::latent::SeedMode;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Seeds of the 2-D seed lattice: moving one step down adds this to the seed.
pub const LATTICE_ROW: u64 = 1000;

/// Everything that determines the image. The worker renders one of these; the UI compares
/// the current value with the last requested one to decide whether to ask again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RenderArgs {
    pub seed: u64,
    pub seed_mode: SeedMode,
    /// Fractional position in the seed lattice, each in [0, 1): W is the bilinear blend of
    /// `seed`, `seed + 1`, `seed + LATTICE_ROW` and `seed + LATTICE_ROW + 1`.
    pub drift: [f32; 2],
    /// A W+ loaded from a file replaces the seed as source A.
    pub custom: Option<CustomLatent>,
    pub psi: f32,
    /// Truncate only W+ layers below this index (`None`: all).
    pub trunc_cutoff: Option<usize>,
    pub mix_seed: u64,
    /// W+ layers taken from `mix_seed` (empty: no mixing).
    pub mix_layers: Vec<usize>,
    /// A step along a direction in W, after truncation and mixing.
    pub nudge: Nudge,
    /// Also render A and B on their own (the A | B | mix view).
    pub compare: bool,
    /// Steps along the model's PCA directions, in σ, one per component (missing = 0).
    pub pca: Vec<f32>,
    /// W+ layers the PCA steps apply to (inclusive).
    pub pca_layers: [usize; 2],
}

impl Default for RenderArgs {
    fn default() -> Self {
        Self {
            seed: 0,
            seed_mode: SeedMode::Stylenat,
            drift: [0.0; 2],
            custom: None,
            psi: 1.0,
            trunc_cutoff: None,
            mix_seed: 1,
            mix_layers: Vec::new(),
            nudge: Nudge::default(),
            compare: false,
            pca: Vec::new(),
            pca_layers: [0, usize::MAX],
        }
    }
}

impl RenderArgs {
    /// Moves through the seed lattice by `(dx, dy)` lattice steps, carrying whole steps into the
    /// seed (seeds stay within `0..=u32::MAX`).
    pub fn move_in_lattice(&mut self, dx: f32, dy: f32) {
        let max = u32::MAX as i64;
        let (mut x, mut y) = (
            (self.seed % LATTICE_ROW) as f64 + self.drift[0] as f64 + dx as f64,
            (self.seed / LATTICE_ROW) as f64 + self.drift[1] as f64 + dy as f64,
        );
        x = x.clamp(0.0, (LATTICE_ROW - 1) as f64 - 1e-3);
        y = y.clamp(0.0, (max / LATTICE_ROW as i64) as f64 - 1.0);
        self.seed = y.floor() as u64 * LATTICE_ROW + x.floor() as u64;
        self.drift = [x.fract() as f32, y.fract() as f32];
    }
}

/// A W+ from a file: `[num_ws, w_dim]` values, row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomLatent {
    pub name: String,
    pub num_ws: usize,
    pub wplus: Vec<f32>,
}

/// A step of `amount` (in units of the typical ‖w − w̄‖/√w_dim spread, i.e. per-coordinate σ)
/// along a random unit direction chosen by `direction_seed`, on W+ layers `first..=last`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Nudge {
    pub direction_seed: u64,
    pub amount: f32,
    pub first: usize,
    pub last: usize,
}

impl Default for Nudge {
    fn default() -> Self {
        Self {
            direction_seed: 1,
            amount: 0.0,
            first: 0,
            last: usize::MAX,
        }
    }
}

/// Persisted UI state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AppState {
    pub args: RenderArgs,
    /// Checkpoints opened before, newest first.
    pub recent: Vec<PathBuf>,
    /// Integer zoom (0 = fit to the window).
    pub zoom: u32,
    /// Seed-lattice animation speed in lattice steps per second (0 = still).
    pub animate: f32,
    /// Video export settings.
    pub export: ExportSettings,
    pub attention: AttentionView,
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
            args: RenderArgs::default(),
            recent: Vec::new(),
            zoom: 0,
            animate: 0.0,
            export: ExportSettings::default(),
            attention: AttentionView::default(),
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
