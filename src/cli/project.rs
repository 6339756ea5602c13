//! `stylenat project`: a picture in, the W+ whose image matches it out (`.npz` key `w`), with
//! the reconstruction as a PNG whose provenance names the target's SHA-256.

use super::{ModelArgs, progress};
use crate::compose::Composer;
use crate::compose::provenance::{CheckpointId, provenance};
use crate::io::grid::{tile, zoom};
use crate::io::image::{save_png, to_rgb8};
use crate::io::video::{VideoFormat, VideoOptions, VideoWriter};
use crate::latent::recipe::Recipe;
use crate::project::perceptual::{describe_loss, find_critic};
use crate::project::{ProjectConfig, Space, latent_name, load_target, project, psnr, render_rgb8};
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ProjectArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The picture to project (PNG, JPEG, …): centre-cropped to a square and resized to the
    /// model's resolution.
    #[arg(long, value_name = "IMAGE")]
    pub target: PathBuf,
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub steps: u64,
    /// Optimise one w for every layer (`w`) or each W+ layer (`wplus`).
    #[arg(long, value_enum, default_value_t = Space::Wplus)]
    pub space: Space,
    /// Seed of the noise added to W in the first steps.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub perceptual: PerceptualArgs,
    /// Also write the optimisation as a video (`.mp4` or `.gif`): target | reconstruction, one
    /// frame per step.
    #[arg(long, value_name = "FILE")]
    pub video: Option<PathBuf>,
    /// Output W+ (`.npz`, key `w`, `[1, num_ws, w_dim]`); the reconstruction goes beside it as
    /// a PNG of the same name.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[arg(long)]
    pub force: bool,
}

/// The perceptual term's options (`project`, `project-eval`).
#[derive(Args, Debug)]
pub struct PerceptualArgs {
    /// A file whose discriminator makes the perceptual term (an official `.pt` with `d`, or
    /// a training run's `state.safetensors`); by default the checkpoint's own, or the
    /// `state.safetensors` of its training run beside it.
    #[arg(long, value_name = "FILE")]
    pub discriminator: Option<PathBuf>,
    /// Weight of the perceptual term (0: pixel terms only).
    #[arg(long, default_value_t = crate::project::PERCEPTUAL_WEIGHT)]
    pub perceptual_weight: f32,
}

impl PerceptualArgs {
    /// `cfg` with the perceptual term these options ask for, and the loss in words.
    pub fn apply(
        &self,
        engine: &crate::engine::Engine,
        model: &ModelArgs,
        cfg: ProjectConfig,
    ) -> Result<(ProjectConfig, String)> {
        let w = self.perceptual_weight;
        if !(w >= 0.0 && w.is_finite()) {
            bail!("--perceptual-weight must be a finite number ≥ 0");
        }
        let (critic, source) = if w > 0.0 {
            match find_critic(engine, self.discriminator.as_deref())? {
                Some((c, what)) => (Some(c), what),
                None => (
                    None,
                    format!(
                        "{} carries no discriminator and has no training state beside it",
                        model.ckpt.display()
                    ),
                ),
            }
        } else {
            (None, "--perceptual-weight 0".to_string())
        };
        let cfg = ProjectConfig {
            critic,
            perceptual_weight: w,
            ..cfg
        };
        let loss = describe_loss(&cfg, &source);
        Ok((cfg, loss))
    }
}

pub fn run(a: ProjectArgs) -> Result<()> {
    let png = a.out.with_extension("png");
    if a.out.extension().and_then(|e| e.to_str()) != Some("npz") {
        bail!("--out must end in .npz (the reconstruction is written beside it as .png)");
    }
    super::refuse_overwrite(&a.out, a.force)?;
    super::refuse_overwrite(&png, a.force)?;
    if let Some(v) = &a.video {
        super::refuse_overwrite(v, a.force)?;
        VideoFormat::from_path(v)?;
    }
    let mut engine = a.model.engine()?;
    let size = engine.config().size;
    let t = load_target(&a.target, size)?;
    let (target, colour, (w, h), digest) = (t.image, t.colour, t.original, t.sha256);
    let cfg = ProjectConfig {
        steps: a.steps as usize,
        space: a.space,
        seed: a.seed,
        ..Default::default()
    };
    let (cfg, loss) = a.perceptual.apply(&engine, &a.model, cfg)?;
    eprintln!(
        "target {} ({w}×{h}, {}) → {size}×{size}; loss: {loss}",
        a.target.display(),
        if colour { "colour" } else { "grey" },
    );
    let bar = progress(cfg.steps, "projecting");
    let mut film = match &a.video {
        Some(v) => Some(Film::new(v, &engine, &target)?),
        None => None,
    };
    let mut film_error = None;
    let every = if film.is_some() { 1 } else { 0 };
    let wplus = project(&mut engine, &target, &cfg, every, |p| {
        bar.set_position(p.step as u64);
        bar.set_message(format!("projecting (loss {:.4})", p.loss));
        if let (Some(f), Some(w)) = (&mut film, p.wplus)
            && let Err(e) = f.push(w)
        {
            film_error = Some(e);
            return false;
        }
        true
    });
    bar.finish_and_clear();
    if let Some(e) = film_error {
        return Err(e.into());
    }
    let wplus = wplus?;
    // The reconstruction through the one recipe, so the PNG records where its latent came from.
    let (num_ws, d) = (engine.config().num_ws(), engine.config().style_dim);
    let recipe =
        Recipe::default().with_latent(latent_name(&a.target, &digest), num_ws, wplus.data.clone());
    let composed = Composer::default().wplus(&mut engine, std::slice::from_ref(&recipe))?;
    let image = engine.synthesize(&composed, 1, |_| {})?;
    let quality = psnr(&image.data, &target, size);
    crate::io::npy::write_npz(&a.out, &[("w", &wplus)])?;
    let record = provenance(&CheckpointId::of(&engine)?, &recipe, None);
    save_png(
        &png,
        &to_rgb8(&image.data, size, size),
        size,
        size,
        Some(&record),
    )?;
    if let (Some(f), Some(v)) = (film, &a.video) {
        f.finish()?;
        eprintln!("wrote {}", v.display());
    }
    eprintln!(
        "{} steps; PSNR {quality:.2} dB against the resized target; wrote {} ([1, {num_ws}, {d}]) \
         and {}",
        cfg.steps,
        a.out.display(),
        png.display()
    );
    Ok(())
}

/// The optimisation as a video: target | reconstruction per step, enlarged to ≥ 256 pixels.
struct Film {
    writer: VideoWriter,
    renderer: crate::model::Generator,
    target: Vec<u8>,
    size: usize,
    zoom: usize,
}

impl Film {
    fn new(path: &std::path::Path, e: &crate::engine::Engine, target: &[f32]) -> Result<Self> {
        let size = e.config().size;
        let zoom = 256usize.div_ceil(size).max(1);
        let options = VideoOptions::default();
        let writer = VideoWriter::create(path, 2 * size * zoom, size * zoom, 30.0, options)?;
        Ok(Self {
            writer,
            renderer: e.generator.clone(),
            target: to_rgb8(target, size, size),
            size,
            zoom,
        })
    }

    fn push(&mut self, wplus: &crate::tensor::HostTensor) -> crate::Result<()> {
        let s = self.size;
        let rgb = render_rgb8(&self.renderer, wplus)?;
        let (px, w, h) = tile(&[Some(&self.target), Some(&rgb)], 2, s);
        let (px, ..) = zoom(&px, w, h, self.zoom);
        self.writer.push(&px)
    }

    fn finish(self) -> crate::Result<()> {
        self.writer.finish()
    }
}
