//! What the user has chosen: plain, serialisable, persisted between launches.

use crate::latent::SeedMode;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything that determines the image. The worker renders one of these; the UI compares
/// the current value with the last requested one to decide whether to ask again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderArgs {
    pub seed: u64,
    pub seed_mode: SeedMode,
    pub psi: f32,
    /// Truncate only W+ layers below this index (`None`: all).
    pub trunc_cutoff: Option<usize>,
    pub mix_seed: u64,
    /// W+ layers taken from `mix_seed` (empty: no mixing).
    pub mix_layers: Vec<usize>,
}

impl Default for RenderArgs {
    fn default() -> Self {
        Self {
            seed: 0,
            seed_mode: SeedMode::Stylenat,
            psi: 1.0,
            trunc_cutoff: None,
            mix_seed: 1,
            mix_layers: Vec::new(),
        }
    }
}

/// Persisted UI state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AppState {
    pub args: RenderArgs,
    /// Checkpoints opened before, newest first.
    pub recent: Vec<PathBuf>,
    /// Integer zoom (0 = fit to the window).
    pub zoom: u32,
}

impl AppState {
    /// Remembers `path` at the top of the recent list (at most 10 entries).
    pub fn remember(&mut self, path: PathBuf) {
        self.recent.retain(|p| p != &path);
        self.recent.insert(0, path);
        self.recent.truncate(10);
    }
}
