//! The engine shared by every front end: a loaded generator on a backend, seeds → z → w, the
//! cached mean latent, and W+ → images (whole, batched, or resumed: [`incremental`]).

use crate::backend::Backend;
use crate::checkpoint::{self, ConfigSource, LoadedGenerator};
use crate::error::{Error, Result};
use crate::kernels::to_host;
use crate::latent::group_edit::GroupEdit;
use crate::latent::{SeedMode, z_from_seed};
use crate::model::{Generator, GeneratorConfig, Observer};
use crate::tensor::HostTensor;
use burn::tensor::{Tensor, TensorData};
use std::path::{Path, PathBuf};

mod batch;
pub use batch::on_pool;
mod incremental;
pub use incremental::{PREVIEW_BUDGET_MS, StageImage};

/// Number of mapped samples averaged for the truncation centre.
pub const MEAN_LATENT_SAMPLES: usize = 4096;

pub struct Engine {
    pub backend: Backend,
    pub generator: Generator,
    pub loaded: LoadedGenerator,
    /// The file the model came from (for cache keys and provenance); `None` for random models.
    pub source_path: Option<PathBuf>,
    mean_latent: Option<Vec<f32>>,
    /// Block inputs and stage costs of the last [`Engine::render_incremental`].
    incremental: incremental::Incremental,
}

impl Engine {
    /// Loads a checkpoint file onto a backend.
    pub fn load(path: &Path, source: &ConfigSource, backend: Backend) -> Result<Self> {
        Self::from_loaded(checkpoint::load(path, source)?, path, backend)
    }

    /// Builds the model of an already read checkpoint on a backend.
    pub fn from_loaded(loaded: LoadedGenerator, path: &Path, backend: Backend) -> Result<Self> {
        let (need, what) = loaded.config.largest_buffer();
        backend.check_fits(need, &what)?;
        let generator = loaded.build(&backend.device)?;
        Ok(Self {
            backend,
            generator,
            loaded,
            source_path: Some(path.to_path_buf()),
            mean_latent: None,
            incremental: Default::default(),
        })
    }

    /// A generator with seeded random weights (benchmarks of architectures without weights).
    pub fn random(config: &GeneratorConfig, seed: u64, backend: Backend) -> Result<Self> {
        let (need, what) = config.largest_buffer();
        backend.check_fits(need, &what)?;
        let mut src = crate::model::weight_source::RandomSource::new(seed);
        let generator = Generator::new(config, &mut src, &backend.device)?;
        let loaded = LoadedGenerator {
            format: checkpoint::CheckpointFormat::Native,
            config: config.clone(),
            weights: src.taken,
        };
        Ok(Self {
            backend,
            generator,
            loaded,
            source_path: None,
            mean_latent: None,
            incremental: Default::default(),
        })
    }

    pub fn config(&self) -> &GeneratorConfig {
        &self.loaded.config
    }

    /// z for each seed, `[N, style_dim]`.
    pub fn z_for_seeds(&self, seeds: &[u64], mode: SeedMode) -> Result<HostTensor> {
        let dim = self.config().style_dim;
        let mut data = Vec::with_capacity(seeds.len() * dim);
        for &s in seeds {
            data.extend(z_from_seed(s, dim, mode)?);
        }
        Ok(HostTensor::new(vec![seeds.len(), dim], data))
    }

    /// Mapping network on the host: `[N, style_dim]` → `[N, style_dim]`.
    pub fn map(&self, z: &HostTensor) -> Result<HostTensor> {
        let dim = self.config().style_dim;
        if z.shape.len() != 2 || z.shape[1] != dim {
            return Err(Error::Input(format!(
                "z must be [N, {dim}], got {:?}",
                z.shape
            )));
        }
        let n = z.shape[0];
        let zt = Tensor::<2>::from_data(
            TensorData::new(z.data.clone(), [n, dim]),
            &self.backend.device,
        );
        Ok(HostTensor::new(
            vec![n, dim],
            to_host(self.generator.map(zt))?,
        ))
    }

    /// Broadcasts `w` `[N, D]` to W+ `[N, num_ws, D]`.
    pub fn broadcast(&self, w: &HostTensor) -> HostTensor {
        let (n, d, num_ws) = (w.shape[0], w.shape[1], self.config().num_ws());
        let mut data = Vec::with_capacity(n * num_ws * d);
        for row in w.data.chunks(d) {
            for _ in 0..num_ws {
                data.extend_from_slice(row);
            }
        }
        HostTensor::new(vec![n, num_ws, d], data)
    }

    /// The truncation centre: mean of `map(z)` over [`MEAN_LATENT_SAMPLES`] z drawn as
    /// `torch.manual_seed(0); torch.randn(4096, style_dim)`, computed once and cached on disk.
    pub fn mean_latent(&mut self) -> Result<Vec<f32>> {
        if let Some(m) = &self.mean_latent {
            return Ok(m.clone());
        }
        let cache = self.cache_file(&format!("mean_latent_{MEAN_LATENT_SAMPLES}"), "npy");
        if let Some(path) = &cache
            && let Ok(t) = crate::io::npy::read_array(path, None)
            && t.data.len() == self.config().style_dim
        {
            self.mean_latent = Some(t.data.clone());
            return Ok(t.data);
        }
        let mean = self.compute_mean_latent()?;
        if let Some(path) = &cache {
            // A cache that cannot be written only costs time next run.
            let _ = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")));
            let dim = mean.len();
            let _ = crate::io::npy::write_array(
                path,
                "mean",
                &HostTensor::new(vec![dim], mean.clone()),
            );
        }
        self.mean_latent = Some(mean.clone());
        Ok(mean)
    }

    /// The mean latent computed now, neither read from nor written to the cache.
    pub fn compute_mean_latent(&self) -> Result<Vec<f32>> {
        let dim = self.config().style_dim;
        let z = z_from_seed(0, MEAN_LATENT_SAMPLES * dim, SeedMode::Stylenat)?;
        let mut sum = vec![0f64; dim];
        for chunk in z.chunks(512 * dim) {
            let w = self.map(&HostTensor::new(
                vec![chunk.len() / dim, dim],
                chunk.to_vec(),
            ))?;
            for row in w.data.chunks(dim) {
                for (s, &x) in sum.iter_mut().zip(row) {
                    *s += x as f64;
                }
            }
        }
        Ok(sum
            .iter()
            .map(|s| (s / MEAN_LATENT_SAMPLES as f64) as f32)
            .collect())
    }

    /// Cache file for the mean latent, keyed by the checkpoint's path, size and mtime.
    /// Where to cache something derived from this checkpoint (`{name}_{hash}.{ext}` under
    /// `$XDG_CACHE_HOME/stylenat`); the hash covers the file's path, size and mtime, so a changed
    /// checkpoint never reads a stale cache. `None` for models not loaded from a file.
    pub fn cache_file(&self, name: &str, ext: &str) -> Option<PathBuf> {
        let path = self.source_path.as_ref()?;
        let key = if checkpoint::builtin::is_builtin(path) {
            format!(
                "{}|{}|{name}",
                checkpoint::builtin::NAME,
                checkpoint::builtin::size()
            )
        } else {
            Self::file_key(path, name)?
        };
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(
            base.join("stylenat")
                .join(format!("{name}_{hash:016x}.{ext}")),
        )
    }

    fn file_key(path: &Path, name: &str) -> Option<String> {
        let meta = std::fs::metadata(path).ok()?;
        let canon = std::fs::canonicalize(path).ok()?;
        let mtime = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        Some(format!(
            "{}|{}|{}|{name}",
            canon.display(),
            meta.len(),
            mtime
        ))
    }

    /// Renders with these head-group edits from now on (checked against the model; an error
    /// leaves the current ones).
    pub fn set_head_edits(&mut self, edits: &[GroupEdit]) -> Result<()> {
        let resolved = crate::model::head_edits::resolve(self.config(), edits)?;
        self.generator.set_head_edits(resolved)
    }

    /// [`Self::synthesize_on_device`] with every head group as loaded (the explorer's
    /// unedited comparison); the current edits stay set, and the incremental cache untouched.
    pub fn synthesize_unedited_on_device(&mut self, wplus: &HostTensor) -> Result<Tensor<4>> {
        let edits = self.generator.head_edits();
        self.generator
            .set_head_edits(vec![None; self.config().num_ws()])?;
        let out = self.synthesize_on_device(wplus);
        self.generator.set_head_edits(edits)?;
        out
    }

    /// Checks that `wplus` is `[N, num_ws, w_dim]` for this model.
    pub(crate) fn check_wplus(&self, wplus: &HostTensor) -> Result<()> {
        let (num_ws, d) = (self.config().num_ws(), self.config().style_dim);
        if wplus.shape.len() != 3 || wplus.shape[1] != num_ws || wplus.shape[2] != d {
            return Err(Error::Input(format!(
                "W+ must be [N, {num_ws}, {d}] for this model, got {:?}",
                wplus.shape
            )));
        }
        Ok(())
    }

    /// One forward pass of the synthesis network over `batch` W+ rows (checked by the caller).
    pub(super) fn run_batch(
        &self,
        rows: Vec<f32>,
        batch: usize,
        obs: &mut dyn Observer,
    ) -> Result<Tensor<4>> {
        let (num_ws, d) = (self.config().num_ws(), self.config().style_dim);
        let t = Tensor::<3>::from_data(
            TensorData::new(rows, [batch, num_ws, d]),
            &self.backend.device,
        );
        self.generator.synthesize(t, obs)
    }

    /// Runs the synthesis network on W+ `[N, num_ws, D]` (one batch) with an observer.
    pub fn synthesize_traced(
        &self,
        wplus: &HostTensor,
        obs: &mut dyn Observer,
    ) -> Result<HostTensor> {
        self.check_wplus(wplus)?;
        let (n, s) = (wplus.shape[0], self.config().size);
        let img = self.run_batch(wplus.data.clone(), n, obs)?;
        Ok(HostTensor::new(vec![n, 3, s, s], to_host(img)?))
    }

    /// Runs the synthesis network on W+ `[N, num_ws, D]` in one batch and leaves the images
    /// `[N, 3, S, S]` on the device (for the GPU display path).
    pub fn synthesize_on_device(&self, wplus: &HostTensor) -> Result<Tensor<4>> {
        self.check_wplus(wplus)?;
        let row = self.config().num_ws() * self.config().style_dim;
        let per_pass = self.backend.max_batch(self.config().largest_buffer().0);
        let parts = wplus
            .data
            .chunks(per_pass.saturating_mul(row).max(row))
            .map(|c| self.run_batch_shared(c.to_vec(), c.len() / row))
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::cat(parts, 0))
    }

    /// Runs the synthesis network on W+ `[N, num_ws, D]` in batches of `batch`, returning the
    /// raw output `[N, 3, S, S]` and calling `progress` after each batch.
    pub fn synthesize(
        &self,
        wplus: &HostTensor,
        batch: usize,
        mut progress: impl FnMut(usize),
    ) -> Result<HostTensor> {
        let (n, s) = (
            wplus.shape.first().copied().unwrap_or(0),
            self.config().size,
        );
        let mut out = Vec::with_capacity(n * 3 * s * s);
        self.synthesize_each(wplus, batch, |i, image| {
            out.extend_from_slice(image);
            progress(i + 1);
            Ok(())
        })?;
        Ok(HostTensor::new(vec![n, 3, s, s], out))
    }

    /// Runs the synthesis network on W+ `[N, num_ws, D]` in batches of at most `batch` (and of
    /// what the device's buffers hold), handing each image `[3, S, S]` with its index to `each`
    /// as soon as its batch is done, so memory stays bounded for long lists.
    pub fn synthesize_each(
        &self,
        wplus: &HostTensor,
        batch: usize,
        mut each: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        self.check_wplus(wplus)?;
        let row = self.config().num_ws() * self.config().style_dim;
        let s = self.config().size;
        let batch = batch.clamp(1, self.backend.max_batch(self.config().largest_buffer().0));
        let mut index = 0;
        for chunk in wplus.data.chunks(batch * row) {
            let img = self.run_batch_shared(chunk.to_vec(), chunk.len() / row)?;
            for image in to_host(img)?.chunks(3 * s * s) {
                each(index, image)?;
                index += 1;
            }
        }
        Ok(())
    }
}
