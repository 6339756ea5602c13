//! `stylenat video`: interpolation through keyframes (seeds or W+ latents) in W space, written
//! as MP4 (H.264) or animated GIF in-process; optionally a grid of several loops.

use super::generate::LatentArgs;
use super::{ModelArgs, parse_grid, progress};
use crate::io::video::{DEFAULT_QP, VideoFormat, VideoOptions};
use crate::keyframes::{VideoSpec, render_video};
use crate::latent::interp::Interp;
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
    /// Keyframes from W+ latents instead of seeds: `.npz` (key `w`) or `.npy`,
    /// `[N, num_ws, w_dim]`.
    #[arg(long, value_name = "FILE", conflicts_with = "seeds")]
    pub keyframes: Option<PathBuf>,
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
    /// A grid of COLSxROWS loops; the keyframes are split evenly between the cells, in order
    /// (`--seeds 0-11 --grid 3x2`: two keyframes per cell).
    #[arg(long, value_name = "COLSxROWS", value_parser = parse_grid)]
    pub grid: Option<(usize, usize)>,
    /// MP4 quality: H.264 quantiser, 12 (best) … 51 (smallest file).
    #[arg(long, value_name = "QP", default_value_t = DEFAULT_QP, value_parser = clap::value_parser!(u8).range(12..=51))]
    pub quality: u8,
    #[command(flatten)]
    pub batch: super::BatchArgs,
    /// Output `.mp4` or `.gif`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: VideoArgs) -> Result<()> {
    VideoFormat::from_path(&a.out)?;
    super::refuse_overwrite(&a.out, a.force)?;
    if !(a.fps.is_finite() && a.fps > 0.0) {
        bail!("--fps must be positive");
    }
    let mut engine = a.model.engine()?;
    eprintln!("{}", engine.backend.description);
    let recipe = a.latent.recipe()?;
    let mut composer = crate::compose::Composer::default();
    let per_image = engine.config().num_ws() * engine.config().style_dim;
    let keys: Vec<Vec<f32>> = match &a.keyframes {
        Some(path) => {
            let w = crate::io::npy::read_array(path, Some("w"))?;
            if w.shape.len() != 3 || w.shape[1] * w.shape[2] != per_image {
                bail!(
                    "{}: keyframes must be [N, {}, {}], got {:?}",
                    path.display(),
                    engine.config().num_ws(),
                    engine.config().style_dim,
                    w.shape
                );
            }
            w.data.chunks(per_image).map(<[f32]>::to_vec).collect()
        }
        None => composer.sources(&engine, &a.latent.recipes()?)?,
    };
    let (cols, rows) = a.grid.unwrap_or((1, 1));
    let cells = cols * rows;
    if !keys.len().is_multiple_of(cells) {
        bail!(
            "{} keyframes cannot be split evenly over a {cols}x{rows} grid",
            keys.len()
        );
    }
    let per_cell = keys.len() / cells;
    let spec = VideoSpec {
        cells: keys.chunks(per_cell).map(<[Vec<f32>]>::to_vec).collect(),
        recipe,
        cols,
        frames_per_transition: a.frames_per_transition as usize,
        looping: a.looping,
        interp: a.interp,
        fps: a.fps,
        batch: a.batch.resolve(&engine),
        options: VideoOptions {
            looping: a.looping,
            quality: a.quality,
        },
    };
    let bar = progress(spec.frame_count(), "rendering");
    let stats = render_video(&mut engine, &mut composer, &spec, &a.out, |done, _| {
        bar.set_position(done as u64);
        true
    })?;
    bar.finish_and_clear();
    eprintln!(
        "wrote {} frames ({}×{}) at {} fps to {} in {:.1} s ({:.1} frames/s)",
        stats.frames,
        stats.width,
        stats.height,
        stats.fps,
        a.out.display(),
        stats.seconds,
        stats.frames as f64 / stats.seconds.max(1e-9)
    );
    Ok(())
}
