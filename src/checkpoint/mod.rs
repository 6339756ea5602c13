//! Reading generator weights: official PyTorch `.pt` files (legacy and Hydra layouts) and our
//! native safetensors + JSON format. Output is always a [`LoadedGenerator`]: a configuration
//! plus a flat map of `f32` tensors named like the official `g_ema.state_dict()` (with the
//! relative-position-bias tables renamed to one scheme, `attn.rpb.<group>`).
//!
//! | official tensor names (`g_ema.`…)                     | our module                     |
//! |-------------------------------------------------------|--------------------------------|
//! | `style.{1..n_mlp}.weight/bias`                        | `model::mapping` (EqualLinear) |
//! | `input.input`                                         | `model::generator` (constant)  |
//! | `layers.{i}.blocks.{j}.norm{1,2}.style.weight/bias`   | `model::layers::AdaIn`         |
//! | `layers.{i}.blocks.{j}.attn.qkv/proj.weight/bias`     | `model::attention`             |
//! | `layers.{i}.blocks.{j}.attn.rpb.{g}` (+ `…_index`)    | `model::attention` (per group) |
//! | `layers.{i}.blocks.{j}.mlp.fc{1,2}.weight/bias`       | `model::layers::Mlp`           |
//! | `layers.{i}.upsample.{norm,reduction,alpha}`          | `model::upsample`              |
//! | `to_rgbs.{i}.conv.weight/bias` (+ `upsample.kernel`)  | `model::to_rgb`                |
//!
//! [`infer_config`] reads the architecture from these shapes; `model::state_dict` writes a
//! generator back under the same names.

pub mod allow_list;
pub mod builtin;
pub mod discriminator;
pub mod infer_config;
pub mod native;
pub mod pickle;
pub mod presets;
pub mod torch_zip;
pub mod value;

use crate::error::{Error, Result};
use crate::model::GeneratorConfig;
use crate::tensor::WeightMap;
use pickle::Value;
use std::path::Path;

/// Which file layout a generator came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CheckpointFormat {
    /// Released FFHQ checkpoints: top-level `g_ema`, `args` is an `argparse.Namespace`.
    TorchLegacy,
    /// Hydra-era training checkpoints: `state_dicts.g_ema`, `args` is a plain dict.
    TorchHydra,
    /// Our own safetensors + JSON config.
    Native,
}

impl std::fmt::Display for CheckpointFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TorchLegacy => "PyTorch .pt (legacy: g_ema + argparse args)",
            Self::TorchHydra => "PyTorch .pt (Hydra: state_dicts.g_ema + dict args)",
            Self::Native => "safetensors + JSON (native)",
        })
    }
}

/// A generator ready to be built: architecture plus weights.
#[derive(Debug, Clone)]
pub struct LoadedGenerator {
    pub format: CheckpointFormat,
    pub config: GeneratorConfig,
    pub weights: WeightMap,
}

impl LoadedGenerator {
    /// The generator these weights describe, on `device`; every tensor must be used.
    pub fn build(&self, device: &burn::tensor::Device) -> Result<crate::model::Generator> {
        crate::model::Generator::from_weights(&self.config, &self.weights, device)
    }

    /// Scalar parameters, not counting the buffers the official state dict stores beside them
    /// (`relative_position_index`, the ToRGB blur kernels).
    pub fn num_params(&self) -> usize {
        self.weights
            .iter()
            .filter(|(n, _)| {
                !n.ends_with("relative_position_index") && !n.ends_with("upsample.kernel")
            })
            .map(|(_, t)| t.data.len())
            .sum()
    }
}

/// Where the hyper-parameters that tensor shapes cannot tell (dilations, `lr_mlp`) come from
/// when a checkpoint does not carry them.
#[derive(Debug, Clone, Default)]
pub enum ConfigSource {
    /// Use the checkpoint's own `args`; fail if it has none.
    #[default]
    Checkpoint,
    /// A named built-in preset (see [`presets`]).
    Preset(String),
    /// A user-supplied JSON file with the same fields as a preset.
    File(std::path::PathBuf),
}

/// How far a load has come, as reported to the caller of [`load_with_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadProgress {
    /// Decoding the pickle (the file's structure).
    Structure { bytes: usize, of: usize },
    /// Reading tensors.
    Tensors { done: usize, of: usize },
}

impl LoadProgress {
    /// Done so far, 0…1, within the current stage.
    pub fn fraction(self) -> f32 {
        let (a, b) = match self {
            Self::Structure { bytes, of } => (bytes, of),
            Self::Tensors { done, of } => (done, of),
        };
        a as f32 / b.max(1) as f32
    }
}

/// SHA-256 of a generator file (the embedded model's bytes for the built-in one), for
/// provenance records.
pub fn sha256(path: &Path) -> Result<String> {
    if builtin::is_builtin(path) {
        return Ok(crate::io::provenance::sha256_bytes(builtin::bytes()));
    }
    crate::io::provenance::sha256_file(path)
}

/// Loads any supported generator file, choosing the reader by content.
pub fn load(path: &Path, source: &ConfigSource) -> Result<LoadedGenerator> {
    load_with_progress(path, source, &mut |_| true)
}

/// Like [`load`], calling `progress` while the pickle decodes and as tensors are read;
/// returning `false` stops with [`Error::Cancelled`].
pub fn load_with_progress(
    path: &Path,
    source: &ConfigSource,
    progress: &mut dyn FnMut(LoadProgress) -> bool,
) -> Result<LoadedGenerator> {
    if builtin::is_builtin(path) {
        return builtin::load();
    }
    if native::is_native(path) {
        return native::load(path);
    }
    load_torch_with_progress(path, source, progress)
}

fn load_torch_with_progress(
    path: &Path,
    source: &ConfigSource,
    progress: &mut dyn FnMut(LoadProgress) -> bool,
) -> Result<LoadedGenerator> {
    let mut file = torch_zip::TorchFile::open(path, &mut |bytes, of| {
        progress(LoadProgress::Structure { bytes, of })
    })?;
    // The unpickler bounds nesting as it builds values, so walking `root` cannot overflow.
    let root = std::mem::replace(&mut file.root, Value::None);
    let (format, state, args) = split_root(&root)?;
    let weights = read_state_dict(&mut file, state, "g_ema", &mut |i, total| {
        progress(LoadProgress::Tensors { done: i, of: total })
    })?;
    let hparams = infer_config::HyperParams::resolve(args, source)?;
    let config = infer_config::infer_config(&weights, &hparams)?;
    Ok(LoadedGenerator {
        format,
        config,
        weights,
    })
}

/// Every tensor of the state dict `state` (a dict of tensors, `what` names it in errors), the
/// generator's relative-position-bias tables renamed to one scheme ([`canonical_name`]);
/// `keep_going(done, total)` is called before each tensor and may cancel.
fn read_state_dict(
    file: &mut torch_zip::TorchFile,
    state: &Value,
    what: &str,
    keep_going: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<WeightMap> {
    let entries = match state {
        Value::Dict(d) => d,
        other => {
            return Err(Error::UnknownFormat(format!(
                "{what} should be a state dict, found a {}",
                other.kind()
            )));
        }
    };
    let mut weights = WeightMap::new();
    let total = entries.len();
    for (i, (k, v)) in entries.iter().enumerate() {
        if !keep_going(i, total) {
            return Err(Error::Cancelled);
        }
        let Value::Str(name) = k else { continue };
        if name.ends_with("._float_tensor") {
            continue; // dtype carrier of the official sinusoidal embedding, not a weight
        }
        match v {
            Value::Tensor(t) => {
                let t = file.tensor(name, t)?;
                weights.insert(canonical_name(name), t);
            }
            Value::Opaque(class) => {
                return Err(Error::UnknownFormat(format!(
                    "state-dict entry `{name}` is a {class}, not a tensor"
                )));
            }
            _ => {}
        }
    }
    Ok(weights)
}

/// Finds the EMA generator state dict and the args in a checkpoint's top-level object.
fn split_root(root: &Value) -> Result<(CheckpointFormat, &Value, Option<&Value>)> {
    if !matches!(root, Value::Dict(_)) {
        return Err(Error::UnknownFormat(format!(
            "the top-level object is a {}, expected a dict with `g_ema` or `state_dicts`",
            root.kind()
        )));
    }
    if let Some(sd) = root.get("state_dicts") {
        let g = sd
            .get("g_ema")
            .ok_or_else(|| Error::UnknownFormat("`state_dicts` has no `g_ema` entry".into()))?;
        return Ok((CheckpointFormat::TorchHydra, g, root.get("args")));
    }
    if let Some(g) = root.get("g_ema") {
        return Ok((CheckpointFormat::TorchLegacy, g, root.get("args")));
    }
    let keys: Vec<String> = match root {
        Value::Dict(d) => d
            .iter()
            .map(|(k, _)| match k {
                Value::Str(s) => s.clone(),
                other => other.kind(),
            })
            .collect(),
        _ => Vec::new(),
    };
    Err(Error::UnknownFormat(format!(
        "no `g_ema` or `state_dicts.g_ema` in the checkpoint (top-level keys: {keys:?}); \
         this does not look like a StyleNAT checkpoint"
    )))
}

/// One naming scheme for relative position bias tables: legacy `rpb0`/`rpb1` and the 4×4
/// stage's `rpb` become `rpb.0`, `rpb.1`, Hydra's `rpb.N` stays.
fn canonical_name(name: &str) -> String {
    if let Some(stem) = name.strip_suffix(".attn.rpb") {
        return format!("{stem}.attn.rpb.0");
    }
    for g in 0..2 {
        if let Some(stem) = name.strip_suffix(&format!(".attn.rpb{g}")) {
            return format!("{stem}.attn.rpb.{g}");
        }
    }
    name.to_string()
}
