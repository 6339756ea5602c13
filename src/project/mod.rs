//! Projection: find the W+ whose image matches a target picture (after NVlabs `projector.py`).
//! Start from the mean W, optimise with Adam under a learning rate that ramps up over the first
//! 5 % of the steps and down (cosine) over the last 25 %, with noise on W that fades out over
//! the first 75 %. The loss is pixel MSE at the full, half and quarter resolution, plus, when
//! a discriminator of the model is at hand, a perceptual term on its features (no download:
//! the checkpoint's own D knows what the model's images look like; see [`perceptual`]).
//!
//! Gradients go through the generator with burn's autodiff; neighbourhood attention is one
//! op with its own fused backward ([`KernelPath::Differentiable`]); the generator's own
//! weights stay fixed.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::kernels::{KernelPath, to_host};
use crate::model::discriminator::Critic;
use crate::rng::Rng;
use crate::tensor::HostTensor;
use burn::tensor::{Tensor, TensorData};
use perceptual::{feature_distance, unit_features};
use std::path::Path;

pub mod perceptual;

/// What is optimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Space {
    /// One w shared by every W+ layer (more regular, like `projector.py`).
    W,
    /// Each W+ layer on its own (closer fits).
    Wplus,
}

/// The perceptual term's default weight against the pixel terms.
pub const PERCEPTUAL_WEIGHT: f32 = 0.1;

#[derive(Debug, Clone)]
pub struct ProjectConfig {
    pub steps: usize,
    pub space: Space,
    /// Peak learning rate of Adam.
    pub lr: f32,
    /// Seed of the noise added to W early on.
    pub seed: u64,
    /// How gradients pass through NA: the fused backward, or (to measure it against) the
    /// tensor-op form.
    pub na: KernelPath,
    /// The discriminator whose features make the perceptual term (`None`: pixels only).
    pub critic: Option<Critic>,
    /// Weight of the perceptual term against the pixel terms.
    pub perceptual_weight: f32,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        Self {
            steps: 500,
            space: Space::Wplus,
            lr: 0.1,
            seed: 0,
            na: KernelPath::Differentiable,
            critic: None,
            perceptual_weight: PERCEPTUAL_WEIGHT,
        }
    }
}

/// One step's report: its number (from 1), the loss, and (every `preview_every` steps and
/// at the end) the current W+ `[1, num_ws, w_dim]`.
pub struct Progress<'a> {
    pub step: usize,
    pub loss: f32,
    pub wplus: Option<&'a HostTensor>,
}

/// The learning rate at fraction `t` of the run (`projector.py`'s schedule).
fn learning_rate(base: f32, t: f32) -> f32 {
    let down = ((1.0 - t) / 0.25).min(1.0);
    let down = 0.5 - 0.5 * (down * std::f32::consts::PI).cos();
    base * down * (t / 0.05).min(1.0)
}

/// Projects `target` (`[3, S, S]` in the model's output space) into W+; `progress` is called
/// after every step and may stop the run by returning `false` (cancelled).
pub fn project(
    e: &mut Engine,
    target: &[f32],
    cfg: &ProjectConfig,
    preview_every: usize,
    mut progress: impl FnMut(Progress) -> bool,
) -> Result<HostTensor> {
    let (num_ws, d, s) = (e.config().num_ws(), e.config().style_dim, e.config().size);
    if target.len() != 3 * s * s {
        return Err(Error::Input(format!(
            "the target has {} values; the model makes [3, {s}, {s}]",
            target.len()
        )));
    }
    if cfg.steps == 0 {
        return Err(Error::Input("projection needs at least one step".into()));
    }
    if let Some(c) = &cfg.critic
        && c.size() != s
    {
        return Err(Error::Input(format!(
            "the discriminator takes {0}×{0} images; the generator makes {s}×{s}",
            c.size()
        )));
    }
    // On a GPU the NA backward keeps every query's attention weights and logit gradients
    // (`shaders/na2d_backward_query.wgsl`): refuse up front what one binding cannot hold.
    for st in &e.config().stages {
        let problem = crate::kernels::NaProblem {
            batch: 1,
            height: st.resolution,
            width: st.resolution,
            head_dim: st.head_dim(),
            scale: 1.0,
            groups: st.groups.clone(),
        };
        let what = format!("the attention gradient at {0}×{0}", st.resolution);
        e.backend
            .check_fits(problem.gradient_scratch_bytes(), &what)?;
    }
    let device = e.backend.device.clone();
    let mean = e.mean_latent()?;
    // The spread of W around its mean scales the noise (`w_std` in projector.py).
    let w_std = crate::compose::latent_spread(e)? * (d as f32).sqrt();
    let mut g = e.generator.clone();
    g.na = cfg.na;
    let rows = match cfg.space {
        Space::W => 1,
        Space::Wplus => num_ws,
    };
    let mut w: Vec<f32> = mean.repeat(rows);
    let (mut m1, mut m2) = (vec![0f32; w.len()], vec![0f32; w.len()]);
    let target_t = Tensor::<4>::from_data(TensorData::new(target.to_vec(), [1, 3, s, s]), &device);
    let target_features = cfg
        .critic
        .as_ref()
        .map(|c| unit_features(c, target_t.clone()));
    let targets: Vec<Tensor<4>> = scales(target_t, s);
    let mut rng = Rng::new(cfg.seed);
    let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let mut current = HostTensor::new(vec![1, num_ws, d], Vec::new());
    for step in 1..=cfg.steps {
        let t = (step - 1) as f32 / cfg.steps as f32;
        let lr = learning_rate(cfg.lr, t);
        let noise_scale = w_std * 0.05 * (1.0 - t / 0.75).max(0.0).powi(2);
        let noisy: Vec<f32> = w.iter().map(|&x| x + noise_scale * rng.normal()).collect();
        let var = Tensor::<2>::from_data(TensorData::new(noisy, [rows, d]), &device)
            .autodiff()
            .require_grad();
        let wplus = match cfg.space {
            Space::W => var.clone().unsqueeze_dim::<3>(0).repeat_dim(1, num_ws),
            Space::Wplus => var.clone().reshape([1, num_ws, d]),
        };
        let image = g.synthesize(wplus, &mut ())?;
        let mut loss = scales(image.clone(), s)
            .into_iter()
            .zip(&targets)
            .map(|(a, b)| (a - b.clone()).square().mean())
            .reduce(|a, b| a + b)
            .expect("three scales");
        if let (Some(c), Some(f)) = (&cfg.critic, &target_features) {
            loss = loss + feature_distance(c, image, f) * cfg.perceptual_weight;
        }
        let loss_value = to_host(loss.clone().without_autodiff())?[0];
        let grads = loss.backward();
        let grad = var
            .grad(&grads)
            .ok_or_else(|| Error::Backend("no gradient reached the latent".into()))?;
        let grad = to_host(grad)?;
        // Adam with bias correction.
        let (c1, c2) = (1.0 - beta1.powi(step as i32), 1.0 - beta2.powi(step as i32));
        for i in 0..w.len() {
            m1[i] = beta1 * m1[i] + (1.0 - beta1) * grad[i];
            m2[i] = beta2 * m2[i] + (1.0 - beta2) * grad[i] * grad[i];
            w[i] -= lr * (m1[i] / c1) / ((m2[i] / c2).sqrt() + eps);
        }
        let show = step == cfg.steps || (preview_every > 0 && step % preview_every == 0);
        if show {
            current = HostTensor::new(vec![1, num_ws, d], expand(&w, cfg.space, num_ws));
        }
        let go_on = progress(Progress {
            step,
            loss: loss_value,
            wplus: show.then_some(&current),
        });
        if !go_on {
            return Err(Error::Cancelled);
        }
    }
    Ok(current)
}

/// The image at full, half and quarter resolution (while at least 4 pixels wide).
fn scales(x: Tensor<4>, s: usize) -> Vec<Tensor<4>> {
    let mut out = vec![x.clone()];
    let mut cur = x;
    let mut size = s;
    while out.len() < 3 && size >= 8 {
        // 2×2 means: [1, 3, S, S] → [3·S/2, 2, S/2, 2] → mean over the pairs.
        let h = size / 2;
        cur = cur
            .reshape([3 * h, 2, h, 2])
            .mean_dim(1)
            .mean_dim(3)
            .reshape([1, 3, h, h]);
        size = h;
        out.push(cur.clone());
    }
    out
}

fn expand(w: &[f32], space: Space, num_ws: usize) -> Vec<f32> {
    match space {
        Space::W => w.repeat(num_ws),
        Space::Wplus => w.to_vec(),
    }
}

/// RGB8 pixels of W+ `[1, num_ws, w_dim]` through `g` (a copy of the engine's generator, for
/// showing progress while [`project`] holds the engine).
pub fn render_rgb8(g: &crate::model::Generator, wplus: &HostTensor) -> Result<Vec<u8>> {
    let t = Tensor::<3>::from_data(
        TensorData::new(wplus.data.clone(), wplus.shape.clone()),
        &g.input.device(),
    );
    let s = g.config.size;
    Ok(crate::io::image::to_rgb8(
        &to_host(g.synthesize(t, &mut ())?)?,
        s,
        s,
    ))
}

/// A target picture ready for [`project`].
pub struct Target {
    /// `[3, S, S]` in the model's output space.
    pub image: Vec<f32>,
    /// Whether its channels differ anywhere (a grey model takes colour targets and vice versa).
    pub colour: bool,
    /// Width and height of the file's picture.
    pub original: (u32, u32),
    pub sha256: String,
}

/// Reads a picture (PNG, JPEG, …), centre-crops it to a square and resizes it to `size`.
pub fn load_target(path: &Path, size: usize) -> Result<Target> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let img = image::load_from_memory(&bytes).map_err(|e| Error::Format {
        path: path.into(),
        reason: format!("not an image this tool can read ({e})"),
    })?;
    let (w, h) = (img.width(), img.height());
    let side = w.min(h);
    let square = img.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    let rgb = square
        .resize_exact(
            size as u32,
            size as u32,
            image::imageops::FilterType::Lanczos3,
        )
        .to_rgb8();
    Ok(Target {
        image: crate::io::image::from_rgb8(rgb.as_raw(), size, size),
        colour: rgb.pixels().any(|p| p[0] != p[1] || p[1] != p[2]),
        original: (w, h),
        sha256: crate::io::provenance::sha256_bytes(&bytes),
    })
}

/// The name a projected latent carries in recipes and provenance.
pub fn latent_name(target: &Path, sha256: &str) -> String {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    format!("projection of {name} (sha256 {sha256})")
}

/// PSNR (dB) between two images in the model's output space, over their 8-bit renderings.
pub fn psnr(a: &[f32], b: &[f32], size: usize) -> f64 {
    let (a, b) = (
        crate::io::image::to_rgb8(a, size, size),
        crate::io::image::to_rgb8(b, size, size),
    );
    let mse = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}
