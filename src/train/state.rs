//! Training checkpoints: one safetensors file with the generator (`g.`), its EMA (`ema.`), the
//! discriminator (`d.`), both optimisers' moments (`g_adam.`, `d_adam.`) and, in the
//! metadata, the run's configuration, step, elapsed time and random state.

use super::adam::{Adam, AdamConfig};
use super::{TrainConfig, Trainer};
use crate::checkpoint::native;
use crate::error::{Error, Result};
use crate::model::discriminator::native::Discriminator;
use crate::model::init::InitSource;
use crate::model::param_paths::{host_params, load_params};
use crate::model::{Generator, GeneratorConfig};
use crate::rng::Rng;
use crate::tensor::WeightMap;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

use crate::checkpoint::discriminator::TRAIN_META_KEY as META_KEY;

#[derive(Serialize, Deserialize)]
struct Meta {
    config: TrainConfig,
    generator: GeneratorConfig,
    step: u64,
    elapsed_s: f64,
    rng: u64,
    g_adam_steps: u64,
    d_adam_steps: u64,
}

impl Trainer {
    /// The whole training state as bytes.
    pub fn state_bytes(&self) -> Result<Vec<u8>> {
        let mut map = WeightMap::new();
        host_params(&self.g, "g.", &mut map)?;
        host_params(&self.ema, "ema.", &mut map)?;
        host_params(&self.d, "d.", &mut map)?;
        self.g_opt.save("g_adam.", &mut map)?;
        self.d_opt.save("d_adam.", &mut map)?;
        let meta = Meta {
            config: self.config.clone(),
            generator: self.generator().clone(),
            step: self.step,
            elapsed_s: self.elapsed_s,
            rng: self.rng.state,
            g_adam_steps: self.g_opt.steps,
            d_adam_steps: self.d_opt.steps,
        };
        let json = serde_json::to_string(&meta).map_err(|e| Error::Input(e.to_string()))?;
        native::write_tensors(&map, HashMap::from([(META_KEY.to_string(), json)]))
    }

    /// Writes the training state atomically.
    pub fn save_state(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, &self.state_bytes()?)
    }

    /// Continues a run from a state file written by [`save_state`](Self::save_state).
    pub fn resume(path: &Path, device: &Device) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (map, meta) = native::read_tensors(&bytes, path)?;
        let meta: Meta = meta
            .get(META_KEY)
            .ok_or_else(|| Error::Format {
                path: path.to_path_buf(),
                reason: format!("not a training checkpoint (no `{META_KEY}` metadata)"),
            })
            .and_then(|json| {
                serde_json::from_str(json).map_err(|e| Error::Format {
                    path: path.to_path_buf(),
                    reason: format!("invalid training metadata: {e}"),
                })
            })?;
        // Build the modules (any weights), then overwrite every parameter from the file.
        let fresh = || Generator::new(&meta.generator, &mut InitSource::new(0, 1.0), device);
        let g = load_params(fresh()?, &map, "g.")?;
        let ema = load_params(fresh()?, &map, "ema.")?;
        let d = Discriminator::new(meta.generator.size, meta.config.d_width, 0, device);
        let d = load_params(d, &map, "d.")?;
        let mut t = Trainer::assemble(meta.config, g, d, Some(ema), device)?;
        let adam = |lr, steps, prefix| {
            Adam::load(
                AdamConfig {
                    lr,
                    ..AdamConfig::default()
                },
                steps,
                &map,
                prefix,
                device,
            )
        };
        t.g_opt = adam(t.config.g_lr, meta.g_adam_steps, "g_adam.");
        t.d_opt = adam(t.config.d_lr, meta.d_adam_steps, "d_adam.");
        t.rng = Rng { state: meta.rng };
        t.step = meta.step;
        t.elapsed_s = meta.elapsed_s;
        Ok(t)
    }
}
