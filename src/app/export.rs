//! Exports started from the app, run on the render thread with progress and cancel: the
//! current image (PNG with provenance), its W+ (`.npz`), a video through keyframes, a session.

use super::compose::{Composed, Extras, compose};
use super::state::{ExportSettings, RenderArgs};
use crate::engine::{Engine, LatentRecipe};
use crate::error::{Error, Result};
use crate::export::video::{VideoSpec, render_video};
use crate::io::image::{save_png, to_rgb8};
use crate::io::provenance::Provenance;
use crate::io::video::VideoOptions;
use crate::latent::parse_seed_list;
use crate::tensor::HostTensor;
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
    pub args: RenderArgs,
    pub cancel: Arc<AtomicBool>,
}

/// The W+ file that goes with a session file.
pub fn session_latent_path(session: &Path) -> PathBuf {
    session.with_extension("npz")
}

/// Runs `job`; `progress(done, total)` reports video frames. Returns a line for the status bar.
pub fn run(
    e: &mut Engine,
    job: &ExportJob,
    extras: &mut Extras,
    mut progress: impl FnMut(usize, usize),
) -> Result<String> {
    let (num_ws, d, size) = (e.config().num_ws(), e.config().style_dim, e.config().size);
    let current = compose(e, &job.args, extras)?;
    let as_wplus = |c: &Composed| HostTensor::new(vec![1, num_ws, d], c.mix.clone());
    match &job.kind {
        ExportKind::Image => {
            let img = e.synthesize(&as_wplus(&current), 1, |_| {})?;
            let provenance = provenance(e, &job.args)?;
            save_png(
                &job.path,
                &to_rgb8(&img.data, size, size),
                size,
                size,
                Some(&provenance),
            )?;
            Ok(format!("saved {} ({size}×{size})", job.path.display()))
        }
        ExportKind::Latent => {
            crate::io::npy::write_array(&job.path, "w", &as_wplus(&current))?;
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
            crate::io::npy::write_array(&latent, "w", &as_wplus(&current))?;
            crate::io::write_atomic(&job.path, json.as_bytes())?;
            Ok(format!("saved session {}", job.path.display()))
        }
        ExportKind::Video(v) => {
            let seeds = parse_seed_list(&v.seeds)?;
            let mut keys = vec![current.mix];
            for seed in seeds {
                let key = RenderArgs {
                    seed,
                    drift: [0.0; 2],
                    custom: None,
                    ..job.args.clone()
                };
                keys.push(compose(e, &key, extras)?.mix);
            }
            let spec = VideoSpec {
                cells: vec![keys],
                cols: 1,
                frames_per_transition: v.frames_per_transition.max(1),
                looping: v.looping,
                interp: v.interp,
                fps: v.fps,
                batch: 4,
                options: VideoOptions {
                    looping: v.looping,
                    quality: v.quality,
                },
            };
            // The keyframes are already truncated and mixed.
            let stats = render_video(
                e,
                &spec,
                &LatentRecipe::default(),
                &job.path,
                |done, total| {
                    progress(done, total);
                    !job.cancel.load(Ordering::Relaxed)
                },
            )?;
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

fn provenance(e: &Engine, a: &RenderArgs) -> Result<Provenance> {
    let path = e.source_path.as_deref();
    Ok(Provenance {
        app: Provenance::app(),
        checkpoint: path
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned()),
        checkpoint_sha256: path.map(crate::checkpoint::sha256).transpose()?,
        seed_mode: a.seed_mode,
        seed: a.custom.is_none().then_some(a.seed),
        wplus_index: None,
        psi: Some(a.psi),
        trunc_cutoff: a.trunc_cutoff,
        mix_seed: (!a.mix_layers.is_empty()).then_some(a.mix_seed),
        mix_layers: a.mix_layers.clone(),
        explorer: Some(
            serde_json::to_value(a).map_err(|e| Error::Input(format!("provenance: {e}")))?,
        ),
        edits: Vec::new(),
    })
}

/// The latent state an image's provenance describes (for drag-and-drop onto the app).
pub fn args_from_provenance(p: &Provenance) -> Option<RenderArgs> {
    if let Some(args) = p
        .explorer
        .as_ref()
        .and_then(|v| serde_json::from_value::<RenderArgs>(v.clone()).ok())
    {
        return Some(args);
    }
    Some(RenderArgs {
        seed: p.seed?,
        seed_mode: p.seed_mode,
        psi: p.psi.unwrap_or(1.0),
        trunc_cutoff: p.trunc_cutoff,
        mix_seed: p.mix_seed.unwrap_or(1),
        mix_layers: p.mix_layers.clone(),
        ..RenderArgs::default()
    })
}
