//! Loading a checkpoint on a helper thread, with progress and cancellation; the render thread
//! keeps serving the old model until the new one is ready.

use super::{Msg, Post, fallback::panic_text};
use crate::app::protocol::{ModelInfo, Reply};
use crate::backend::Backend;
use crate::checkpoint::{self, ConfigSource, LoadProgress};
use crate::engine::Engine;
use crate::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

pub struct LoadJob {
    pub stamp: u64,
    pub path: PathBuf,
    pub backend: Backend,
    pub cancel: Arc<AtomicBool>,
}

pub(super) fn spawn_loader(job: LoadJob, tx: Sender<Msg>, post: Post) {
    let LoadJob {
        stamp,
        path,
        backend,
        cancel,
    } = job;
    let run = move || {
        let stage = |stage, fraction| {
            post(Reply::Loading {
                path: path.clone(),
                stage,
                fraction,
            })
        };
        stage("reading the checkpoint", None);
        let mut last = (false, 0.0);
        let mut progress = |p: LoadProgress| {
            let tensors = matches!(p, LoadProgress::Tensors { .. });
            let f = p.fraction();
            if tensors != last.0 || f - last.1 >= 0.05 {
                last = (tensors, f);
                let what = if tensors {
                    "reading tensors"
                } else {
                    "reading the structure"
                };
                stage(what, Some(f));
            }
            !cancel.load(Ordering::Relaxed)
        };
        // A panic (e.g. the GPU failing while weights upload) becomes an error, never a
        // load that silently never finishes.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            checkpoint::load_with_progress(&path, &ConfigSource::Checkpoint, &mut progress)
                .and_then(|loaded| {
                    stage("building the model", None);
                    Engine::from_loaded(loaded, &path, backend)
                })
        }))
        .unwrap_or_else(|panic| Err(Error::Backend(panic_text(panic.as_ref()))));
        let _ = tx.send(Msg::Loaded(stamp, path, Box::new(result)));
    };
    if let Err(e) = std::thread::Builder::new()
        .name("stylenat-load".into())
        .spawn(run)
    {
        eprintln!("could not start the loader thread: {e}");
    }
}

pub(super) fn describe(e: &Engine, path: PathBuf) -> ModelInfo {
    let c = e.config();
    ModelInfo {
        summary: format!("params      {}\n{}", e.loaded.num_params(), c.describe()),
        backend: e.backend.description.clone(),
        config: c.clone(),
        path,
    }
}
