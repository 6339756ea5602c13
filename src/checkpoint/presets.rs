//! Run configurations of the official released models, and user config files of the same form.
//!
//! The official repository publishes one run config, `conf/runs/ffhq_256.yaml`; its kernel and
//! dilation lists already cover nine stages (4…1024 px). The FFHQ-1024 and LSUN-Church presets
//! assume that same schedule (no other run config is public). A checkpoint's own `args` always
//! take precedence over a preset unless the user asks for the preset explicitly.

use crate::error::{Error, Result};
use crate::model::{GeneratorConfig, HeadGroup, StageConfig};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The fields of an official `runs.generator` config that matter for inference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub size: usize,
    #[serde(default = "default_style_dim")]
    pub style_dim: usize,
    #[serde(default = "default_n_mlp")]
    pub n_mlp: usize,
    #[serde(default = "default_lr_mlp")]
    pub lr_mlp: f32,
    #[serde(default = "default_channel_multiplier")]
    pub channel_multiplier: usize,
    /// The official code hard-codes 512; smaller models scale every width by `channel_base/512`.
    #[serde(default = "default_channel_base")]
    pub channel_base: usize,
    #[serde(default = "default_mlp_ratio")]
    pub mlp_ratio: usize,
    #[serde(default = "default_min_heads")]
    pub min_heads: usize,
    #[serde(default = "default_true")]
    pub qkv_bias: bool,
    #[serde(default)]
    pub qk_scale: Option<f32>,
    pub kernels: Vec<Vec<usize>>,
    pub dilations: Vec<Vec<usize>>,
}

fn default_style_dim() -> usize {
    512
}
fn default_n_mlp() -> usize {
    8
}
fn default_lr_mlp() -> f32 {
    0.01
}
fn default_channel_multiplier() -> usize {
    2
}
fn default_channel_base() -> usize {
    512
}
fn default_mlp_ratio() -> usize {
    4
}
fn default_min_heads() -> usize {
    4
}
fn default_true() -> bool {
    true
}

/// Names accepted by [`Preset::named`].
pub const PRESET_NAMES: &[&str] = &["ffhq256", "ffhq1024", "church256"];

fn official_schedule(size: usize) -> Preset {
    Preset {
        size,
        style_dim: 512,
        n_mlp: 8,
        lr_mlp: 0.01,
        channel_multiplier: 2,
        channel_base: 512,
        mlp_ratio: 4,
        min_heads: 4,
        qkv_bias: true,
        qk_scale: None,
        kernels: vec![
            vec![3],
            vec![7],
            vec![7],
            vec![7],
            vec![7],
            vec![7],
            vec![7],
            vec![7],
            vec![7],
        ],
        dilations: vec![
            vec![1],
            vec![1],
            vec![1, 2],
            vec![1, 4],
            vec![1, 8],
            vec![1, 16],
            vec![1, 32],
            vec![1, 64],
            vec![1, 128],
        ],
    }
}

impl Preset {
    /// A built-in preset by name.
    pub fn named(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "ffhq256" | "church256" => Ok(official_schedule(256)),
            "ffhq1024" => Ok(official_schedule(1024)),
            _ => Err(Error::Config(format!(
                "unknown preset `{name}` (known: {})",
                PRESET_NAMES.join(", ")
            ))),
        }
    }

    /// Reads a JSON config file with the fields of [`Preset`].
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            reason: format!("not a valid generator config: {e}"),
        })
    }

    /// The architecture the official `Generator(args, size)` builds from this config
    /// (Hydra head split: uneven head counts go to the last groups).
    pub fn to_config(&self) -> Result<GeneratorConfig> {
        if !self.size.is_power_of_two() || self.size < 4 {
            return Err(Error::Config(format!(
                "size {} is not a power of two ≥ 4",
                self.size
            )));
        }
        let n_stages = self.size.trailing_zeros() as usize - 1;
        let cm = self.channel_multiplier;
        let base = [
            512,
            512,
            512,
            512,
            256 * cm,
            128 * cm,
            64 * cm,
            32 * cm,
            16 * cm,
        ];
        if n_stages > base.len() {
            return Err(Error::Config(format!(
                "size {} is larger than 1024",
                self.size
            )));
        }
        let width = |i: usize| base[i] * self.channel_base / 512;
        let mut stages = Vec::with_capacity(n_stages);
        for i in 0..n_stages {
            let resolution = 4usize << i;
            let dim = width(i);
            let heads = (dim / 32).max(self.min_heads);
            let groups = if i == 0 {
                vec![HeadGroup {
                    heads,
                    kernel: resolution,
                    dilation: 1,
                }]
            } else {
                let missing = || Error::Config(format!("no kernels/dilations for stage {i}"));
                let ks = self.kernels.get(i).ok_or_else(missing)?;
                let ds = self.dilations.get(i).ok_or_else(missing)?;
                let n = ks.len().max(ds.len());
                let pick = |v: &[usize], j: usize| if v.len() == 1 { v[0] } else { v[j] };
                if (ks.len() != 1 && ks.len() != n) || (ds.len() != 1 && ds.len() != n) {
                    return Err(Error::Config(format!(
                        "stage {i}: {} kernels and {} dilations",
                        ks.len(),
                        ds.len()
                    )));
                }
                let extra = heads % n;
                (0..n)
                    .map(|j| HeadGroup {
                        heads: heads / n + usize::from(j >= n - extra),
                        kernel: pick(ks, j),
                        dilation: pick(ds, j),
                    })
                    .collect()
            };
            stages.push(StageConfig {
                resolution,
                dim,
                mlp_hidden: dim * self.mlp_ratio,
                qkv_bias: self.qkv_bias,
                groups,
                out_dim: (i + 1 < n_stages).then(|| width(i + 1)),
            });
        }
        let config = GeneratorConfig {
            size: self.size,
            style_dim: self.style_dim,
            n_mlp: self.n_mlp,
            lr_mlp: self.lr_mlp,
            qk_scale: self.qk_scale,
            stages,
        };
        config.validate().map_err(Error::Config)?;
        Ok(config)
    }
}
