//! Reading a discriminator: an official `.pt` stores the StyleSwin-style D under `d` (legacy)
//! or `state_dicts.d` (Hydra); a training state written by `stylenat train` stores ours under
//! `d.`, its size and width in the metadata. The pickle reader never executes code.

use super::pickle::Value;
use super::{builtin, native, torch_zip};
use crate::error::{Error, Result};
use crate::model::GeneratorConfig;
use crate::model::discriminator::{Critic, native as trained, official};
use crate::tensor::WeightMap;
use burn::tensor::Device;
use std::path::{Path, PathBuf};

/// The metadata key of a training state (`stylenat train`'s `state.safetensors`).
pub const TRAIN_META_KEY: &str = "stylenat.train";

/// A discriminator's weights as read from a file.
#[derive(Debug, Clone)]
pub struct LoadedDiscriminator {
    pub kind: Kind,
    pub weights: WeightMap,
    /// The file it came from.
    pub source: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Official tensor names, architecture read from their shapes.
    Official,
    /// `stylenat train`'s, parameters by path under `d.`.
    Trained { size: usize, width: usize },
}

impl LoadedDiscriminator {
    pub fn build(&self, device: &Device) -> Result<Critic> {
        match self.kind {
            Kind::Official => Ok(Critic::Official(Box::new(
                official::OfficialDiscriminator::from_weights(&self.weights, device)?,
            ))),
            Kind::Trained { size, width } => {
                let d = trained::Discriminator::new(size, width, 0, device);
                let d = crate::model::param_paths::load_params(d, &self.weights, "d.")?;
                Ok(Critic::Native(Box::new(d)))
            }
        }
    }
}

/// The discriminator `path` carries, if any (`None` for generator-only files and the built-in
/// model); `Err` only when the file is unreadable or its discriminator is malformed.
pub fn load(path: &Path) -> Result<Option<LoadedDiscriminator>> {
    Ok(load_with_generator(path)?.map(|(d, _)| d))
}

/// Like [`load`], with the generator configuration a training state records beside its D.
fn load_with_generator(
    path: &Path,
) -> Result<Option<(LoadedDiscriminator, Option<GeneratorConfig>)>> {
    if builtin::is_builtin(path) {
        return Ok(None);
    }
    if native::is_native(path) {
        return load_training_state(path);
    }
    let mut file = torch_zip::TorchFile::open(path, &mut |_, _| true)?;
    let root = std::mem::replace(&mut file.root, Value::None);
    let state = root
        .get("state_dicts")
        .and_then(|s| s.get("d"))
        .or_else(|| root.get("d"));
    let Some(state) = state else {
        return Ok(None);
    };
    let weights = super::read_state_dict(&mut file, state, "d", &mut |_, _| true)?;
    let d = LoadedDiscriminator {
        kind: Kind::Official,
        weights,
        source: path.to_path_buf(),
    };
    Ok(Some((d, None)))
}

fn load_training_state(
    path: &Path,
) -> Result<Option<(LoadedDiscriminator, Option<GeneratorConfig>)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (weights, meta) = native::read_tensors(&bytes, path)?;
    let Some(json) = meta.get(TRAIN_META_KEY) else {
        return Ok(None); // a generator file
    };
    // The fields `train::state` writes: `config.d_width`, `generator` (the whole config).
    let bad = |reason: String| Error::Format {
        path: path.to_path_buf(),
        reason,
    };
    let meta: serde_json::Value =
        serde_json::from_str(json).map_err(|e| bad(format!("invalid training metadata: {e}")))?;
    let width = meta["config"]["d_width"]
        .as_u64()
        .ok_or_else(|| bad("training metadata has no `config.d_width`".into()))?;
    let generator: GeneratorConfig = serde_json::from_value(meta["generator"].clone())
        .map_err(|e| bad(format!("training metadata: invalid `generator`: {e}")))?;
    // Bounds keep a crafted file from asking for an enormous network before its tensors are
    // compared with it.
    if !generator.size.is_power_of_two()
        || !(8..=4096).contains(&generator.size)
        || !(4..=4096).contains(&width)
    {
        return Err(bad(format!(
            "training metadata: size {} and width {width} make no discriminator",
            generator.size
        )));
    }
    let weights: WeightMap = weights
        .into_iter()
        .filter(|(k, _)| k.starts_with("d."))
        .collect();
    let d = LoadedDiscriminator {
        kind: Kind::Trained {
            size: generator.size,
            width: width as usize,
        },
        weights,
        source: path.to_path_buf(),
    };
    Ok(Some((d, Some(generator))))
}

/// The discriminator to use with the generator in `checkpoint` (configuration `config`): the
/// file's own, else the `state.safetensors` of the same training run beside it (used only when
/// it records exactly this generator's configuration).
pub fn for_checkpoint(
    checkpoint: &Path,
    config: &GeneratorConfig,
) -> Result<Option<LoadedDiscriminator>> {
    if let Some(d) = load(checkpoint)? {
        return Ok(Some(d));
    }
    if builtin::is_builtin(checkpoint) {
        return Ok(None);
    }
    let sibling = checkpoint.with_file_name("state.safetensors");
    if sibling == checkpoint || !sibling.is_file() {
        return Ok(None);
    }
    Ok(match load_with_generator(&sibling)? {
        Some((d, Some(g))) if &g == config => Some(d),
        _ => None,
    })
}
