//! `stylenat video`: an interpolation through seed keyframes in W space, as an animated GIF.

use super::generate::LatentArgs;
use super::{ModelArgs, progress};
use crate::checkpoint::HostTensor;
use crate::io::image::to_rgb8;
use crate::io::video::GifWriter;
use crate::latent::interp::{Interp, path};
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct VideoArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Keyframes (`--seeds 1,2,3`) and the truncation / mixing applied to every frame.
    #[command(flatten)]
    pub latent: LatentArgs,
    /// Return to the first keyframe: a seamless loop.
    #[arg(long = "loop")]
    pub looping: bool,
    /// Frames between two keyframes.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub frames_per_transition: u32,
    /// Frames per second (GIF stores 1/100 s delays: 60 plays at 50).
    #[arg(long, default_value_t = 60.0)]
    pub fps: f32,
    /// Interpolation in W space.
    #[arg(long, value_enum, default_value_t = Interp::Linear)]
    pub interp: Interp,
    /// Images per forward pass.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Output `.gif`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: VideoArgs) -> Result<()> {
    match a
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("gif") => {}
        Some("mp4") => bail!("MP4 output is not implemented yet; write a .gif"),
        _ => bail!("--out must end in .gif"),
    }
    if a.out.exists() && !a.force {
        bail!(
            "{} already exists (use --force to overwrite)",
            a.out.display()
        );
    }
    let seeds = a.latent.seeds()?;
    let mut engine = a.model.engine()?;
    eprintln!("{}", engine.backend.description);
    let recipe = a.latent.recipe(&engine)?;
    let (d, size) = (engine.config().style_dim, engine.config().size);
    let keys = engine.map(&engine.z_for_seeds(&seeds, recipe.seed_mode)?)?;
    let keys: Vec<Vec<f32>> = keys.data.chunks(d).map(<[f32]>::to_vec).collect();
    let frames = path(&keys, a.frames_per_transition as usize, a.looping, a.interp);
    let mix = engine.mix_source(&recipe)?;
    let mut gif = GifWriter::new(size, size, a.fps, a.looping)?;
    let bar = progress(frames.len(), "rendering");
    for chunk in frames.chunks(a.batch.max(1)) {
        let w = HostTensor::new(vec![chunk.len(), d], chunk.concat());
        let mut wplus = engine.broadcast(&w);
        engine.apply_recipe(&mut wplus, mix.as_ref(), &recipe)?;
        let images = engine.synthesize(&wplus, a.batch.max(1), |_| {})?;
        for img in images.data.chunks(3 * size * size) {
            gif.push(&to_rgb8(img, size, size))?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let fps = gif.effective_fps();
    crate::io::write_atomic(&a.out, &gif.finish()?)?;
    eprintln!(
        "wrote {} frames at {fps} fps to {}",
        frames.len(),
        a.out.display()
    );
    Ok(())
}
