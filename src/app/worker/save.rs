//! Exports started from the app, run on the render thread with progress and cancel: the
//! current image (PNG with provenance), its W+ (`.npz`), a video through keyframes, a session.

use super::{Job, Model, Post, failed};
use crate::app::protocol::Reply;
use crate::app::state::ExportSettings;
use crate::compose::Composer;
use crate::compose::provenance::{CheckpointId, provenance};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::io::image::{save_png, to_rgb8};
use crate::io::video::VideoOptions;
use crate::keyframes::{VideoSpec, render_video};
use crate::latent::parse_seed_list;
use crate::latent::recipe::Recipe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone)]
pub enum ExportKind {
    /// The shown image at the model's resolution.
    Image,
    /// The shown W+ as `.npz` (key `w`, `[1, num_ws, w_dim]`) or `.npy`.
    Latent,
    /// A video from the shown latent through more seeds.
    Video(ExportSettings),
    /// A session: `json` is written to `path`, the W+ beside it as `.npz`.
    Session { json: String },
}

#[derive(Debug, Clone)]
pub struct ExportJob {
    pub kind: ExportKind,
    pub path: PathBuf,
    pub recipe: Recipe,
    pub cancel: Arc<AtomicBool>,
}

/// The W+ file that goes with a session file.
pub fn session_latent_path(session: &Path) -> PathBuf {
    session.with_extension("npz")
}

/// Runs `job` and posts its outcome.
pub fn export(m: &mut Model, job: &ExportJob, post: &Post) {
    let result = run(&mut m.engine, job, &mut m.composer, |done, total| {
        post(Reply::ExportProgress { done, total })
    });
    post(match result {
        Ok(msg) => Reply::Exported(msg),
        Err(Error::Cancelled) => Reply::ExportCancelled,
        Err(e) => failed(Job::Export, format!("export failed: {e}")),
    });
}

/// Runs `job`; `progress(done, total)` reports video frames. Returns a line for the status bar.
pub fn run(
    e: &mut Engine,
    job: &ExportJob,
    composer: &mut Composer,
    mut progress: impl FnMut(usize, usize),
) -> Result<String> {
    let (num_ws, d, size) = (e.config().num_ws(), e.config().style_dim, e.config().size);
    let current = composer.wplus(e, std::slice::from_ref(&job.recipe))?;
    debug_assert_eq!(current.shape, [1, num_ws, d]);
    match &job.kind {
        ExportKind::Image => {
            let img = e.synthesize(&current, 1, |_| {})?;
            let record = provenance(&CheckpointId::of(e)?, &job.recipe, None);
            save_png(
                &job.path,
                &to_rgb8(&img.data, size, size),
                size,
                size,
                Some(&record),
            )?;
            Ok(format!("saved {} ({size}×{size})", job.path.display()))
        }
        ExportKind::Latent => {
            crate::io::npy::write_array(&job.path, "w", &current)?;
            Ok(format!(
                "saved W+ [1, {num_ws}, {d}] to {}",
                job.path.display()
            ))
        }
        ExportKind::Session { json } => {
            let latent = session_latent_path(&job.path);
            // The dialog confirmed the session file only: its latent may be replaced along
            // with it, but a file of that name beside a new session is someone else's.
            if latent.exists() && !job.path.exists() {
                return Err(Error::Input(format!(
                    "{} already exists and is not part of this session; not replaced \
                     (choose another name or move it)",
                    latent.display()
                )));
            }
            crate::io::npy::write_array(&latent, "w", &current)?;
            crate::io::write_atomic(&job.path, json.as_bytes())?;
            Ok(format!("saved session {}", job.path.display()))
        }
        ExportKind::Video(v) => {
            // The shown latent's source, then each seed's; every frame goes through the recipe.
            let mut keys = vec![job.recipe.clone()];
            keys.extend(
                parse_seed_list(&v.seeds)?
                    .into_iter()
                    .map(|s| job.recipe.with_seed(s)),
            );
            let keys = composer.sources(e, &keys)?;
            let spec = VideoSpec {
                cells: vec![keys],
                recipe: job.recipe.clone(),
                cols: 1,
                frames_per_transition: v.frames_per_transition.max(1),
                looping: v.looping,
                interp: v.interp,
                fps: v.fps,
                batch: e.auto_batch(),
                options: VideoOptions {
                    looping: v.looping,
                    quality: v.quality,
                },
            };
            let stats = render_video(e, composer, &spec, &job.path, |done, total| {
                progress(done, total);
                !job.cancel.load(Ordering::Relaxed)
            })?;
            Ok(format!(
                "saved {} ({} frames at {} fps, {:.1} frames/s)",
                job.path.display(),
                stats.frames,
                stats.fps,
                stats.frames as f64 / stats.seconds.max(1e-9)
            ))
        }
    }
}
