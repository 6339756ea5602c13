//! `stylenat train`: the StyleNAT generator (the same modules as inference, NA from tensor
//! ops so burn's autodiff can differentiate it) against a StyleGAN2-style discriminator, with
//! the non-saturating logistic loss, lazy R1, style-mixing regularisation, an EMA generator
//! and Adam. One seed fixes everything; checkpoints hold every tensor, moment and the random
//! state, so a resumed run continues bit-identically.
//!
//! R1 note: burn differentiates once (no gradient of a gradient), so `‖∇ₓD(x)‖²` is estimated
//! by a finite difference along a random direction: for `n ~ N(0, I)`,
//! `E[((D(x + σn) − D(x))/σ)²] → ‖∇ₓD(x)‖²` as `σ → 0`, and the estimate's gradient with
//! respect to D's weights needs only first-order autodiff.

pub mod adam;
pub mod classifier;
pub mod data;
pub mod log;
pub mod small_configs;
pub mod state;

use crate::checkpoint::native;
use crate::error::{Error, Result};
use crate::kernels::KernelPath;
use crate::model::discriminator::native::Discriminator;
use crate::model::init::InitSource;
use crate::model::param_paths;
use crate::model::{Generator, GeneratorConfig};
use crate::rng::Rng;
use crate::tensor::WeightMap;
use adam::{Adam, AdamConfig};
use burn::module::Module;
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Tensor, TensorData};
use data::Dataset;
use serde::{Deserialize, Serialize};

/// Everything that defines a training run (saved in its checkpoints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Dataset spec (see [`Dataset::open`]).
    pub data: String,
    pub seed: u64,
    pub batch: usize,
    pub g_lr: f32,
    pub d_lr: f32,
    /// Discriminator width (channels of its 4×4–8×8 layers).
    pub d_width: usize,
    /// R1 weight γ; the penalty is `γ/2 · ‖∇D‖²`, applied every `r1_every` steps.
    pub r1_gamma: f32,
    pub r1_every: u64,
    /// Finite-difference step of the R1 estimate, in output-space units.
    pub r1_sigma: f32,
    /// Probability of mixing two latents at a random W+ layer.
    pub mixing_prob: f32,
    /// EMA half-life in images, ramped up as `min(ema_images, ema_rampup · images seen)`.
    pub ema_images: f32,
    pub ema_rampup: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            data: "fashion-mnist".into(),
            seed: 0,
            batch: 16,
            g_lr: 0.001,
            d_lr: 0.002,
            d_width: 128,
            r1_gamma: 0.1,
            r1_every: 4,
            r1_sigma: 0.01,
            mixing_prob: 0.9,
            ema_images: 5000.0,
            ema_rampup: 0.05,
        }
    }
}

/// Losses of one step.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct StepStats {
    pub step: u64,
    pub d_loss: f32,
    pub g_loss: f32,
    /// `None` on steps without R1.
    pub r1: Option<f32>,
    pub real_score: f32,
    pub fake_score: f32,
}

pub struct Trainer {
    pub config: TrainConfig,
    /// Trainable generator (autodiff parameters; NA with its fused backward).
    g: Generator,
    d: Discriminator,
    /// Exponential moving average of `g` (plain parameters): the model that is shipped.
    pub ema: Generator,
    g_opt: Adam,
    d_opt: Adam,
    rng: Rng,
    pub step: u64,
    pub elapsed_s: f64,
    device: Device,
}

fn upload<const D: usize>(device: &Device, data: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

fn scalar(t: Tensor<1>) -> Result<f32> {
    Ok(crate::kernels::to_host(t)?
        .first()
        .copied()
        .unwrap_or(f32::NAN))
}

impl Trainer {
    /// The discriminator being trained.
    pub fn discriminator(&self) -> &Discriminator {
        &self.d
    }

    /// A fresh run: generator and discriminator initialised from `config.seed`.
    pub fn new(config: TrainConfig, generator: GeneratorConfig, device: &Device) -> Result<Self> {
        generator.validate().map_err(Error::Config)?;
        let mut init = InitSource::new(config.seed, generator.lr_mlp);
        let g = Generator::new(&generator, &mut init, device)?;
        let d = Discriminator::new(generator.size, config.d_width, config.seed ^ 0xd15c, device);
        Self::assemble(config, g, d, None, device)
    }

    fn assemble(
        config: TrainConfig,
        g: Generator,
        d: Discriminator,
        ema: Option<Generator>,
        device: &Device,
    ) -> Result<Self> {
        let ema = match ema {
            Some(e) => e,
            None => g.clone(),
        };
        let mut g = param_paths::trainable(g)?;
        g.na = KernelPath::Differentiable;
        let d = param_paths::trainable(d)?;
        let adam = |lr| {
            Adam::new(AdamConfig {
                lr,
                ..AdamConfig::default()
            })
        };
        Ok(Self {
            g_opt: adam(config.g_lr),
            d_opt: adam(config.d_lr),
            rng: Rng::new(config.seed),
            config,
            g,
            d,
            ema,
            step: 0,
            elapsed_s: 0.0,
            device: device.clone(),
        })
    }

    /// W+ for a batch: `w = map(z)` on every layer, or with probability `mixing_prob` two
    /// latents crossing over at a random layer.
    fn latents(&mut self, g: &Generator, batch: usize) -> Tensor<3> {
        let (sd, nw) = (self.generator().style_dim, self.generator().num_ws());
        let z1 = upload(&self.device, self.rng.normals(batch * sd), [batch, sd]);
        let z2 = upload(&self.device, self.rng.normals(batch * sd), [batch, sd]);
        let mut mask = vec![1f32; batch * nw];
        for b in 0..batch {
            if self.rng.unit() < self.config.mixing_prob {
                let cut = 1 + self.rng.below(nw - 1);
                mask[b * nw + cut..(b + 1) * nw].fill(0.0);
            }
        }
        let mask = upload(&self.device, mask, [batch, nw, 1]);
        let w1 = g.map(z1).unsqueeze_dim::<3>(1);
        let w2 = g.map(z2).unsqueeze_dim::<3>(1);
        w1 * mask.clone() + w2 * (mask.ones_like() - mask)
    }

    /// One discriminator update (with R1 every `r1_every` steps), one generator update, one
    /// EMA update.
    pub fn step(&mut self, data: &Dataset) -> Result<StepStats> {
        let started = std::time::Instant::now();
        let (b, s) = (self.config.batch, self.generator().size);
        let mut stats = StepStats {
            step: self.step,
            ..StepStats::default()
        };

        // Discriminator: softplus(D(G(z))) + softplus(−D(x)) [+ γ/2·R1·interval].
        let real = upload(
            &self.device,
            data.batch(&data.sample(&mut self.rng, b)),
            [b, 3, s, s],
        );
        let g_frozen = self.g.valid();
        let wplus = self.latents(&g_frozen, b);
        let fake = g_frozen.synthesize(wplus, &mut ())?;
        let real_logits = self.d.forward(real.clone());
        let fake_logits = self.d.forward(fake);
        stats.real_score = scalar(real_logits.clone().mean().without_autodiff())?;
        stats.fake_score = scalar(fake_logits.clone().mean().without_autodiff())?;
        let mut d_loss =
            softplus(fake_logits, 1.0).mean() + softplus(-real_logits.clone(), 1.0).mean();
        if self.config.r1_every > 0 && self.step.is_multiple_of(self.config.r1_every) {
            let sigma = self.config.r1_sigma;
            let noise = upload(&self.device, self.rng.normals(b * 3 * s * s), [b, 3, s, s]) * sigma;
            let moved = self.d.forward(real + noise);
            let r1 = ((moved - real_logits) / sigma).square().mean();
            stats.r1 = Some(scalar(r1.clone().without_autodiff())?);
            let weight = self.config.r1_gamma / 2.0 * self.config.r1_every as f32;
            d_loss = d_loss + r1 * weight;
        }
        stats.d_loss = scalar(d_loss.clone().without_autodiff())?;
        let grads = d_loss.backward();
        self.d = self.d_opt.step(self.d.clone(), &grads, &|_| 1.0)?;

        // Generator: softplus(−D(G(z))), gradients through a frozen D into G.
        let d_frozen = self.d.valid();
        let g = self.g.clone();
        let wplus = self.latents(&g, b);
        let fake = g.synthesize(wplus, &mut ())?;
        let g_loss = softplus(-d_frozen.forward(fake), 1.0).mean();
        stats.g_loss = scalar(g_loss.clone().without_autodiff())?;
        let grads = g_loss.backward();
        let config = &self.ema.config;
        self.g = self
            .g_opt
            .step(g, &grads, &|name| small_configs::lr_scale(config, name))?;

        self.update_ema()?;
        if !(stats.d_loss.is_finite() && stats.g_loss.is_finite()) {
            return Err(Error::Backend(format!(
                "training diverged at step {}: D loss {}, G loss {}",
                self.step, stats.d_loss, stats.g_loss
            )));
        }
        self.step += 1;
        self.elapsed_s += started.elapsed().as_secs_f64();
        Ok(stats)
    }

    fn update_ema(&mut self) -> Result<()> {
        let c = &self.config;
        let images = (self.step + 1) as f32 * c.batch as f32;
        let half_life = c.ema_images.min(c.ema_rampup * images).max(1e-8);
        let beta = 0.5f32.powf(c.batch as f32 / half_life);
        let current: std::collections::HashMap<String, Tensor<1>> =
            param_paths::flat_params(&self.g).into_iter().collect();
        self.ema = param_paths::map_params(self.ema.clone(), false, &mut |name, e| {
            let g = current
                .get(name)
                .ok_or_else(|| Error::MissingTensor { name: name.into() })?;
            Ok(e * beta + g.clone() * (1.0 - beta))
        })?;
        Ok(())
    }

    /// How gradients pass through NA (the fused backward unless a benchmark compares).
    pub fn set_na_path(&mut self, path: KernelPath) {
        self.g.na = path;
    }

    /// The architecture being trained.
    pub fn generator(&self) -> &GeneratorConfig {
        &self.ema.config
    }

    /// The EMA generator under its official tensor names (the shipped model).
    pub fn export_weights(&self) -> Result<WeightMap> {
        self.ema.to_weights()
    }

    /// Writes the EMA generator in the native format.
    pub fn export(&self, path: &std::path::Path) -> Result<()> {
        native::save(path, self.generator(), &self.export_weights()?)
    }

    /// `n` images from the EMA generator for fixed latents (seeded by the run), as RGB8.
    pub fn samples(&self, n: usize) -> Result<Vec<Vec<u8>>> {
        let mut rng = Rng::new(self.config.seed ^ 0x05a3_b1e5);
        let s = self.generator().size;
        let pixels = sample_rgb8(&self.ema, &mut rng, n)?;
        Ok(pixels.chunks(3 * s * s).map(<[u8]>::to_vec).collect())
    }
}

/// `n` images of `g` for `z ~ N(0, I)` drawn from `rng` (ψ = 1), as consecutive RGB8 images;
/// generated in batches so memory stays bounded for large `n`.
pub fn sample_rgb8(g: &Generator, rng: &mut Rng, n: usize) -> Result<Vec<u8>> {
    const BATCH: usize = 250;
    let (sd, s) = (g.config.style_dim, g.config.size);
    let device = g.input.val().device();
    let mut pixels = Vec::with_capacity(n * s * s * 3);
    for start in (0..n).step_by(BATCH) {
        let b = BATCH.min(n - start);
        let z = upload(&device, rng.normals(b * sd), [b, sd]);
        for chw in crate::kernels::to_host(g.forward(z)?)?.chunks(3 * s * s) {
            pixels.extend(crate::io::image::to_rgb8(chw, s, s));
        }
    }
    Ok(pixels)
}
