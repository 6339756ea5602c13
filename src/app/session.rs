//! Session files: the checkpoint and the latent recipe as JSON, with the shown W+ beside it as
//! `.npz` (readable by NVlabs tools and `stylenat generate --wplus`).

use crate::error::{Error, Result};
use crate::latent::recipe::Recipe;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// `stylenat <version>`.
    pub app: String,
    pub checkpoint: Option<PathBuf>,
    pub args: Recipe,
    #[serde(default)]
    pub compare: bool,
    #[serde(default)]
    pub zoom: u32,
}

impl Session {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a session; refuses files that are not one (with the reason).
    pub fn read(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        // A session with an inline W+ of a 1024² model is ~1 MB; anything far larger is not ours.
        if meta.len() > 64 << 20 {
            return Err(Error::Format {
                path: path.into(),
                reason: "too large to be a session file".into(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Format {
            path: path.into(),
            reason: format!("not a StyleNAT session: {e}"),
        })
    }
}
