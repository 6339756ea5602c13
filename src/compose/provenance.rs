//! The provenance record of an image, built from its recipe in one place (CLI and explorer
//! exports), and the recipe read back from one (a PNG dropped onto the explorer).

use crate::engine::Engine;
use crate::error::Result;
use crate::io::provenance::Provenance;
use crate::latent::recipe::Recipe;
use std::path::Path;

/// Which checkpoint made an image: its file name (no directories: paths are private) and
/// SHA-256, hashed once per export rather than once per image.
#[derive(Debug, Clone, Default)]
pub struct CheckpointId {
    pub name: Option<String>,
    pub sha256: Option<String>,
}

impl CheckpointId {
    pub fn of(e: &Engine) -> Result<Self> {
        let path = e.source_path.as_deref();
        Ok(Self {
            name: path
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned()),
            sha256: path.map(crate::checkpoint::sha256).transpose()?,
        })
    }
}

/// The record of an image made from `recipe` (`wplus_index`: its source A is that row of a
/// W+ file).
pub fn provenance(
    checkpoint: &CheckpointId,
    recipe: &Recipe,
    wplus_index: Option<usize>,
) -> Provenance {
    let r = recipe;
    Provenance {
        app: Provenance::app(),
        checkpoint: checkpoint.name.clone(),
        checkpoint_sha256: checkpoint.sha256.clone(),
        seed_mode: r.seed_mode,
        seed: r.custom.is_none().then_some(r.seed),
        wplus_index,
        psi: Some(r.psi),
        trunc_cutoff: r.trunc_cutoff,
        mix_seed: r.mixes().then_some(r.mix_seed),
        mix_layers: r.mix_layers.clone(),
        edits: r.edits.iter().map(ToString::to_string).collect(),
        recipe: Some(r.clone()),
    }
}

/// The recipe an image's provenance describes; records written before the full recipe was
/// stored give their seed, truncation and mixing.
pub fn recipe_from_provenance(p: &Provenance) -> Option<Recipe> {
    if let Some(r) = &p.recipe {
        return Some(r.clone());
    }
    Some(Recipe {
        seed: p.seed?,
        seed_mode: p.seed_mode,
        psi: p.psi.unwrap_or(1.0),
        trunc_cutoff: p.trunc_cutoff,
        mix_seed: p.mix_seed.unwrap_or(1),
        mix_layers: p.mix_layers.clone(),
        ..Recipe::default()
    })
}
