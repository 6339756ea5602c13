//! The render thread: owns the engine, so the UI thread never waits for the model. Requests
//! carry a stamp; the worker always serves the newest one and drops the rest.

use super::state::RenderArgs;
use crate::backend::{Backend, BackendKind};
use crate::checkpoint::ConfigSource;
use crate::engine::{Engine, LatentRecipe};
use crate::io::image::to_rgb8;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Work for the render thread.
pub enum Request {
    Load(PathBuf),
    Render(RenderArgs),
}

/// A loaded model, described for the UI.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub summary: String,
    pub backend: String,
    pub size: usize,
    pub num_ws: usize,
}

/// What comes back.
pub enum Response {
    Loaded(ModelInfo),
    Image {
        stamp: u64,
        args: RenderArgs,
        rgb: Vec<u8>,
        size: usize,
        ms: f64,
    },
    Error(String),
}

/// Handle held by the UI.
pub struct Worker {
    tx: Sender<(u64, Request)>,
    inbox: Arc<Mutex<Vec<Response>>>,
    stamp: u64,
}

impl Worker {
    /// Starts the thread; `notify` is called whenever a response is ready (e.g. to repaint).
    pub fn spawn(
        backend: BackendKind,
        notify: impl Fn() + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = channel();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let out = inbox.clone();
        std::thread::Builder::new()
            .name("stylenat-render".into())
            .spawn(move || serve(backend, rx, out, notify))?;
        Ok(Self {
            tx,
            inbox,
            stamp: 0,
        })
    }

    /// Queues a request; returns its stamp.
    pub fn send(&mut self, request: Request) -> u64 {
        self.stamp += 1;
        // A closed channel means the worker died; its last error is already in the inbox.
        let _ = self.tx.send((self.stamp, request));
        self.stamp
    }

    /// Responses that arrived since the last call.
    pub fn take(&self) -> Vec<Response> {
        self.inbox
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

fn serve(
    kind: BackendKind,
    rx: Receiver<(u64, Request)>,
    out: Arc<Mutex<Vec<Response>>>,
    notify: impl Fn(),
) {
    let post = |r: Response| {
        if let Ok(mut v) = out.lock() {
            v.push(r);
        }
        notify();
    };
    let backend = match Backend::init(kind) {
        Ok(b) => b,
        Err(e) => {
            post(Response::Error(format!("{e}; falling back to the CPU")));
            match Backend::init(BackendKind::Cpu) {
                Ok(b) => b,
                Err(e) => return post(Response::Error(e.to_string())),
            }
        }
    };
    let mut engine: Option<Engine> = None;
    while let Ok(first) = rx.recv() {
        // Newest wins: drain the queue, keep the last load and the last render.
        let mut load = None;
        let mut render = None;
        for (stamp, req) in std::iter::once(first).chain(rx.try_iter()) {
            match req {
                Request::Load(p) => {
                    load = Some(p);
                    render = None; // renders queued before a load refer to the old model
                }
                Request::Render(a) => render = Some((stamp, a)),
            }
        }
        if let Some(path) = load {
            match Engine::load(&path, &ConfigSource::Checkpoint, backend.clone()) {
                Ok(e) => {
                    let c = e.config();
                    post(Response::Loaded(ModelInfo {
                        summary: format!("params      {}\n{}", e.loaded.num_params(), c.describe()),
                        backend: backend.description.clone(),
                        size: c.size,
                        num_ws: c.num_ws(),
                        path,
                    }));
                    engine = Some(e);
                }
                // The previous model stays loaded.
                Err(e) => post(Response::Error(format!(
                    "could not open {}: {e}",
                    path.display()
                ))),
            }
        }
        if let (Some((stamp, args)), Some(e)) = (render, engine.as_mut()) {
            let t0 = Instant::now();
            match render_one(e, &args) {
                Ok((rgb, size)) => post(Response::Image {
                    stamp,
                    args,
                    rgb,
                    size,
                    ms: t0.elapsed().as_secs_f64() * 1e3,
                }),
                Err(err) => post(Response::Error(err.to_string())),
            }
        }
    }
}

fn render_one(e: &mut Engine, a: &RenderArgs) -> crate::Result<(Vec<u8>, usize)> {
    let num_ws = e.config().num_ws();
    let recipe = LatentRecipe {
        seed_mode: a.seed_mode,
        psi: Some(a.psi),
        trunc_cutoff: a.trunc_cutoff.filter(|&c| c < num_ws),
        trunc_mean: None,
        mix: (!a.mix_layers.is_empty()).then(|| {
            let layers = a
                .mix_layers
                .iter()
                .copied()
                .filter(|&l| l < num_ws)
                .collect();
            (a.mix_seed, layers)
        }),
    };
    let wplus = e.wplus_for_seeds(&[a.seed], &recipe)?;
    let img = e.synthesize(&wplus, 1, |_| {})?;
    let size = e.config().size;
    Ok((to_rgb8(&img.data, size, size), size))
}
