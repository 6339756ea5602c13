//! Interpolation videos: one or several looping paths through W+ keyframes, rendered in batches
//! and streamed into a GIF or MP4. Each frame is the recipe with the interpolated latent as its
//! source, composed like any image (truncation, nudge, edits, mixing).

use crate::compose::Composer;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::io::grid::tile;
use crate::io::image::to_rgb8;
use crate::io::video::{VideoOptions, VideoWriter};
use crate::latent::interp::{Interp, path_frame, path_len};
use crate::latent::recipe::Recipe;
use std::path::Path;
use std::time::Instant;

/// What to render (interpolation runs on the flat W+ vectors; for seed keyframes every layer
/// is the same W, so this is interpolation in W). Every cell of the grid follows its own keyframes; all cells have the same
/// number of keyframes, so their paths have the same length.
#[derive(Debug, Clone)]
pub struct VideoSpec {
    /// Per grid cell (row-major), its keyframes as flat source W+ vectors (`num_ws × w_dim`;
    /// see [`Composer::sources`]).
    pub cells: Vec<Vec<Vec<f32>>>,
    /// What every frame's latent goes through.
    pub recipe: Recipe,
    /// Grid columns (rows follow from the number of cells).
    pub cols: usize,
    pub frames_per_transition: usize,
    /// Return to the first keyframe (seamless loop).
    pub looping: bool,
    pub interp: Interp,
    pub fps: f32,
    /// Images per forward pass.
    pub batch: usize,
    pub options: VideoOptions,
}

/// What was written.
#[derive(Debug, Clone, Copy)]
pub struct VideoStats {
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    pub fps: f32,
    pub seconds: f64,
}

impl VideoSpec {
    /// Frames the video will have.
    pub fn frame_count(&self) -> usize {
        let keys = self.cells.first().map_or(0, Vec::len);
        path_len(keys, self.frames_per_transition, self.looping)
    }

    fn validate(&self, per_image: usize) -> Result<()> {
        let Some(first) = self.cells.first() else {
            return Err(Error::Input("a video needs at least one keyframe".into()));
        };
        if self.cols == 0 || !self.cells.len().is_multiple_of(self.cols) {
            return Err(Error::Input(format!(
                "{} grid cells do not fill rows of {}",
                self.cells.len(),
                self.cols
            )));
        }
        for (i, keys) in self.cells.iter().enumerate() {
            if keys.len() != first.len() || keys.is_empty() {
                return Err(Error::Input(format!(
                    "every grid cell needs the same number of keyframes (cell {i} has {}, cell 0 has {})",
                    keys.len(),
                    first.len()
                )));
            }
            if let Some(k) = keys.iter().find(|k| k.len() != per_image) {
                return Err(Error::Input(format!(
                    "a keyframe has {} values, the model's W+ has {per_image}",
                    k.len()
                )));
            }
        }
        Ok(())
    }
}

/// Renders `spec` into `out` (format from its extension). `progress(done, total)` is called after
/// every batch; returning `false` cancels, and a cancelled or failed export leaves no file.
pub fn render_video(
    engine: &mut Engine,
    composer: &mut Composer,
    spec: &VideoSpec,
    out: &Path,
    mut progress: impl FnMut(usize, usize) -> bool,
) -> Result<VideoStats> {
    let (num_ws, d, size) = (
        engine.config().num_ws(),
        engine.config().style_dim,
        engine.config().size,
    );
    spec.validate(num_ws * d)?;
    let total = spec.frame_count();
    let cells = spec.cells.len();
    let rows = cells / spec.cols;
    let (width, height) = (spec.cols * size, rows * size);
    let mut video = VideoWriter::create(out, width, height, spec.fps, spec.options)?;
    let start = Instant::now();
    // Frames per forward pass: at least one whole grid frame.
    let frames_per_pass = (spec.batch / cells).max(1);
    let mut done = 0;
    while done < total {
        let frames = frames_per_pass.min(total - done);
        let mut recipes = Vec::with_capacity(frames * cells);
        for t in done..done + frames {
            for keys in &spec.cells {
                let (fpt, looping) = (spec.frames_per_transition, spec.looping);
                let w = path_frame(keys, fpt, looping, spec.interp, t);
                recipes.push(spec.recipe.with_latent(format!("frame {t}"), num_ws, w));
            }
        }
        let wplus = composer.wplus(engine, &recipes)?;
        let images = engine.synthesize(&wplus, spec.batch.max(1), |_| {})?;
        let rgb: Vec<Vec<u8>> = images
            .data
            .chunks(3 * size * size)
            .map(|img| to_rgb8(img, size, size))
            .collect();
        for frame in rgb.chunks(cells) {
            if cells == 1 {
                video.push(&frame[0])?;
            } else {
                let refs: Vec<Option<&[u8]>> = frame.iter().map(|c| Some(c.as_slice())).collect();
                video.push(&tile(&refs, spec.cols, size).0)?;
            }
        }
        done += frames;
        if !progress(done, total) {
            return Err(Error::Cancelled);
        }
    }
    let fps = video.effective_fps();
    video.finish()?;
    Ok(VideoStats {
        frames: total,
        width,
        height,
        fps,
        seconds: start.elapsed().as_secs_f64(),
    })
}
