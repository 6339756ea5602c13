//! Recovering the architecture: widths, head counts and kernel sizes from tensor shapes;
//! dilations, `lr_mlp` and `qk_scale` from the checkpoint's `args` (or a preset / config file).

use super::ConfigSource;
use super::pickle::Value;
use super::presets::Preset;
use crate::error::{Error, Result};
use crate::model::{GeneratorConfig, HeadGroup, StageConfig};
use crate::tensor::WeightMap;

/// Hyper-parameters that tensor shapes do not determine.
#[derive(Debug, Clone)]
pub struct HyperParams {
    pub size: Option<usize>,
    pub lr_mlp: f32,
    pub qk_scale: Option<f32>,
    pub kernels: Option<Vec<Vec<usize>>>,
    pub dilations: Vec<Vec<usize>>,
}

impl HyperParams {
    fn from_preset(p: &Preset) -> Self {
        Self {
            size: Some(p.size),
            lr_mlp: p.lr_mlp,
            qk_scale: p.qk_scale,
            kernels: Some(p.kernels.clone()),
            dilations: p.dilations.clone(),
        }
    }

    /// Chooses the source: an explicit preset or file wins over the checkpoint's args.
    pub fn resolve(args: Option<&Value>, source: &ConfigSource) -> Result<Self> {
        match source {
            ConfigSource::Preset(name) => Ok(Self::from_preset(&Preset::named(name)?)),
            ConfigSource::File(path) => Ok(Self::from_preset(&Preset::from_file(path)?)),
            ConfigSource::Checkpoint => {
                let args = args.ok_or_else(|| {
                    Error::Config(
                        "the checkpoint carries no `args`, so its dilations are unknown; pass \
                         a preset (--preset ffhq256|ffhq1024|church256) or a config file \
                         (--config FILE.json)"
                            .into(),
                    )
                })?;
                Self::from_args(args)
            }
        }
    }

    /// Legacy: `args` is a Namespace with the generator fields at top level.
    /// Hydra: `args["runs"]["generator"]` holds them, `args["runs"]["size"]` the size.
    fn from_args(args: &Value) -> Result<Self> {
        let (gen_args, size) = match args.get("runs") {
            Some(runs) => (
                runs.get("generator").ok_or_else(|| {
                    Error::Config("checkpoint args have `runs` but no `runs.generator`".into())
                })?,
                runs.get("size"),
            ),
            None => (args, args.get("size")),
        };
        let dilations = gen_args.get("dilations").ok_or_else(|| {
            Error::Config(
                "the checkpoint's args have no `dilations`; pass --preset or --config to \
                 say which dilations the model was trained with"
                    .into(),
            )
        })?;
        Ok(Self {
            size: size.and_then(Value::as_i64).map(|s| s as usize),
            lr_mlp: gen_args
                .get("lr_mlp")
                .and_then(Value::as_f64)
                .unwrap_or(0.01) as f32,
            qk_scale: gen_args
                .get("qk_scale")
                .and_then(Value::as_f64)
                .map(|s| s as f32),
            kernels: gen_args.get("kernels").map(nested_usizes).transpose()?,
            dilations: nested_usizes(dilations)?,
        })
    }
}

/// `[[3], [7], [7, 7]]` or `[3, 7, 7]` → per-stage lists.
fn nested_usizes(v: &Value) -> Result<Vec<Vec<usize>>> {
    let bad = || {
        Error::Config(format!(
            "expected a list of per-stage lists, got {}",
            v.kind()
        ))
    };
    let outer = v.as_seq().ok_or_else(bad)?;
    outer
        .iter()
        .map(|item| match item.as_seq() {
            Some(inner) => inner.iter().map(|x| as_count(x).ok_or_else(bad)).collect(),
            None => as_count(item).map(|x| vec![x]).ok_or_else(bad),
        })
        .collect()
}

fn as_count(v: &Value) -> Option<usize> {
    v.as_i64().and_then(|i| usize::try_from(i).ok())
}

/// The shape of tensor `name`, which must have `rank` dimensions.
fn dims<const R: usize>(w: &WeightMap, name: &str) -> Result<[usize; R]> {
    let t = w
        .get(name)
        .ok_or_else(|| Error::MissingTensor { name: name.into() })?;
    t.shape.as_slice().try_into().map_err(|_| {
        Error::Config(format!(
            "tensor `{name}` has shape {:?}, expected {R} dimensions",
            t.shape
        ))
    })
}

/// Expands a per-stage list to one value per head group, like the official code does
/// (a single value applies to every group).
fn per_group(list: &[usize], groups: usize, what: &str, stage: usize) -> Result<Vec<usize>> {
    match list.len() {
        1 => Ok(vec![list[0]; groups]),
        n if n == groups => Ok(list.to_vec()),
        n => Err(Error::Config(format!(
            "stage {stage}: {n} {what} given for {groups} head groups"
        ))),
    }
}

/// Builds the generator configuration from tensor shapes plus hyper-parameters.
pub fn infer_config(w: &WeightMap, hp: &HyperParams) -> Result<GeneratorConfig> {
    let [style_dim, _] = dims::<2>(w, "style.1.weight")?;
    let n_mlp = (1..)
        .take_while(|i| w.contains_key(&format!("style.{i}.weight")))
        .count();
    let n_stages = (0..)
        .take_while(|i| w.contains_key(&format!("layers.{i}.blocks.0.attn.qkv.weight")))
        .count();
    if n_stages == 0 {
        return Err(Error::MissingTensor {
            name: "layers.0.blocks.0.attn.qkv.weight".into(),
        });
    }
    let mut stages = Vec::with_capacity(n_stages);
    for i in 0..n_stages {
        let resolution = 4usize << i;
        let p = format!("layers.{i}");
        let [_, dim] = dims::<2>(w, &format!("{p}.blocks.0.attn.qkv.weight"))?;
        let [mlp_hidden, _] = dims::<2>(w, &format!("{p}.blocks.0.mlp.fc1.weight"))?;
        // Each bias table is [heads, 2k−1, 2k−1].
        let tables = (0..)
            .map(|g| format!("{p}.blocks.0.attn.rpb.{g}"))
            .take_while(|name| w.contains_key(name))
            .map(|name| dims::<3>(w, &name).map(|[heads, t, _]| (heads, t.div_ceil(2))))
            .collect::<Result<Vec<(usize, usize)>>>()?;
        if tables.is_empty() {
            return Err(Error::MissingTensor {
                name: format!("{p}.blocks.0.attn.rpb"),
            });
        }
        let groups = if i == 0 {
            // MHSARPB: full attention over the 4×4 map, config kernel ignored.
            vec![HeadGroup {
                heads: tables[0].0,
                kernel: resolution,
                dilation: 1,
            }]
        } else {
            let dil = hp.dilations.get(i).ok_or_else(|| {
                Error::Config(format!(
                    "no dilations for stage {i} ({resolution}×{resolution}): the config lists \
                     {} stages, the checkpoint has {n_stages}",
                    hp.dilations.len()
                ))
            })?;
            let dil = per_group(dil, tables.len(), "dilations", i)?;
            if let Some(kernels) = hp.kernels.as_ref().and_then(|k| k.get(i)) {
                let kernels = per_group(kernels, tables.len(), "kernel sizes", i)?;
                for (g, (&k, &(_, kt))) in kernels.iter().zip(&tables).enumerate() {
                    if k != kt {
                        return Err(Error::ShapeMismatch {
                            name: format!("{p}.blocks.0.attn.rpb.{g}"),
                            expected: vec![tables[g].0, 2 * k - 1, 2 * k - 1],
                            actual: vec![tables[g].0, 2 * kt - 1, 2 * kt - 1],
                        });
                    }
                }
            }
            tables
                .iter()
                .zip(dil)
                .map(|(&(heads, kernel), dilation)| HeadGroup {
                    heads,
                    kernel,
                    dilation,
                })
                .collect()
        };
        let reduction = format!("{p}.upsample.reduction.weight");
        let out_dim = match w.contains_key(&reduction) {
            true => Some(dims::<2>(w, &reduction)?[0]),
            false => None,
        };
        stages.push(StageConfig {
            resolution,
            dim,
            mlp_hidden,
            qkv_bias: w.contains_key(&format!("{p}.blocks.0.attn.qkv.bias")),
            groups,
            out_dim,
        });
    }
    let size = 4usize << (n_stages - 1);
    if let Some(s) = hp.size
        && s != size
    {
        return Err(Error::Config(format!(
            "the config says size {s} but the checkpoint has {n_stages} stages, i.e. size {size}"
        )));
    }
    let config = GeneratorConfig {
        size,
        style_dim,
        n_mlp,
        lr_mlp: hp.lr_mlp,
        qk_scale: hp.qk_scale,
        stages,
    };
    config.validate().map_err(Error::Config)?;
    Ok(config)
}
