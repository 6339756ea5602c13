//! The render thread: owns the engine, so the UI thread never waits for the model. Requests
//! carry a stamp; the worker always serves the newest render and drops the rest. Checkpoints
//! load on a helper thread (the old model keeps rendering meanwhile, and a load can be
//! cancelled); exports run here with progress and a cancel flag.

use super::compose::{compose, latent_spread};
use super::export::{ExportJob, run as run_export};
use super::gpu_texture::GpuTextures;
use super::state::RenderArgs;
use crate::backend::{Backend, BackendKind};
use crate::checkpoint::{self, ConfigSource, HostTensor};
use crate::engine::Engine;
use crate::error::Error;
use crate::io::image::to_rgb8;
use crate::kernels::present::pack_rgba8;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Work for the render thread.
pub enum Request {
    Load(PathBuf),
    /// Forget the load in progress; the current model stays.
    CancelLoad,
    Render(RenderArgs),
    Export(ExportJob),
}

/// A loaded model, described for the UI.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub summary: String,
    pub backend: String,
    pub size: usize,
    pub num_ws: usize,
    pub w_dim: usize,
    /// Resolution of the block each W+ layer drives.
    pub layer_res: Vec<usize>,
}

/// Where a rendered image is.
pub enum Pixels {
    /// RGB8 on the host (CPU backend, tests).
    Host(Vec<u8>),
    /// Already in a texture registered with the window's renderer (wgpu backend).
    Gpu(egui::TextureId),
}

/// One rendered request: the mix, and with `compare` also A and B on their own.
pub struct Rendered {
    pub stamp: u64,
    pub args: RenderArgs,
    pub size: usize,
    /// `(label, pixels)`, the mix first.
    pub images: Vec<(&'static str, Pixels)>,
    /// The W+ that produced the mix (`num_ws × w_dim`).
    pub wplus: Vec<f32>,
    pub ms: f64,
}

/// What comes back.
pub enum Response {
    Loading {
        path: PathBuf,
        stage: &'static str,
    },
    Loaded(ModelInfo),
    LoadCancelled,
    Image(Rendered),
    Progress {
        done: usize,
        total: usize,
    },
    Exported(String),
    /// `Error::Cancelled` exports report this rather than an error.
    ExportCancelled,
    Error(String),
}

/// Messages into the render thread: the UI's requests and the loader's result.
enum Msg {
    Ui(u64, Request),
    Loaded(u64, PathBuf, Box<crate::Result<Engine>>),
}

/// Handle held by the UI.
pub struct Worker {
    tx: Sender<Msg>,
    inbox: Arc<Mutex<Vec<Response>>>,
    stamp: u64,
}

type Post = Arc<dyn Fn(Response) + Send + Sync>;

impl Worker {
    /// Starts the thread; `notify` is called whenever a response is ready (e.g. to repaint).
    /// `backend` is the device to run on; when it cannot start, the CPU is used with a notice.
    pub fn spawn(
        backend: BackendKind,
        notify: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        Self::spawn_with(move || Backend::init(backend), None, notify)
    }

    /// Like [`Worker::spawn`] with a prepared backend; with `gpu` (the window's textures on the
    /// same wgpu device as the backend) images are handed over as textures.
    pub fn spawn_with(
        backend: impl FnOnce() -> crate::Result<Backend> + Send + 'static,
        gpu: Option<GpuTextures>,
        notify: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = channel();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let out = inbox.clone();
        let post: Post = Arc::new(move |r| {
            if let Ok(mut v) = out.lock() {
                v.push(r);
            }
            notify();
        });
        let loop_tx = tx.clone();
        std::thread::Builder::new()
            .name("stylenat-render".into())
            .spawn(move || serve(backend, gpu, rx, loop_tx, post))?;
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
        let _ = self.tx.send(Msg::Ui(self.stamp, request));
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

struct Model {
    engine: Engine,
    /// Unit of the nudge slider, computed on first use.
    spread: Option<f32>,
}

fn serve(
    make_backend: impl FnOnce() -> crate::Result<Backend>,
    mut gpu: Option<GpuTextures>,
    rx: Receiver<Msg>,
    tx: Sender<Msg>,
    post: Post,
) {
    let backend = match make_backend() {
        Ok(b) => b,
        Err(e) => {
            post(Response::Error(format!("{e}; falling back to the CPU")));
            gpu = None;
            match Backend::init(BackendKind::Cpu) {
                Ok(b) => b,
                Err(e) => return post(Response::Error(e.to_string())),
            }
        }
    };
    let mut model: Option<Model> = None;
    // Stamp of the load whose result we still want.
    let mut wanted_load: Option<u64> = None;
    // The newest render not yet served (kept while a model loads).
    let mut render: Option<(u64, RenderArgs)> = None;
    while let Ok(first) = rx.recv() {
        // Newest wins: drain the queue, keep the last render; loads and exports keep order.
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            match msg {
                Msg::Ui(stamp, Request::Render(a)) => render = Some((stamp, a)),
                Msg::Ui(stamp, Request::Load(path)) => {
                    wanted_load = Some(stamp);
                    render = None; // renders queued before a load refer to the old model
                    spawn_loader(stamp, path, backend.clone(), tx.clone(), post.clone());
                }
                Msg::Ui(_, Request::CancelLoad) => {
                    if wanted_load.take().is_some() {
                        post(Response::LoadCancelled);
                    }
                }
                Msg::Loaded(stamp, path, result) => {
                    if wanted_load != Some(stamp) {
                        continue; // cancelled or superseded
                    }
                    wanted_load = None;
                    match *result {
                        Ok(engine) => {
                            post(Response::Loaded(describe(&engine, path)));
                            model = Some(Model {
                                engine,
                                spread: None,
                            });
                        }
                        // The previous model stays loaded.
                        Err(e) => post(Response::Error(format!(
                            "could not open {}: {e}",
                            path.display()
                        ))),
                    }
                }
                Msg::Ui(_, Request::Export(job)) => match model.as_mut() {
                    Some(m) => export(m, &job, &post),
                    None => post(Response::Error("open a model before exporting".into())),
                },
            }
        }
        if let Some(m) = model.as_mut()
            && let Some((stamp, args)) = render.take()
        {
            let t0 = Instant::now();
            match render_one(m, &args, gpu.as_mut()) {
                Ok((images, wplus, size)) => post(Response::Image(Rendered {
                    stamp,
                    args,
                    size,
                    images,
                    wplus,
                    ms: t0.elapsed().as_secs_f64() * 1e3,
                })),
                Err(err) => post(Response::Error(err.to_string())),
            }
        }
    }
}

fn spawn_loader(stamp: u64, path: PathBuf, backend: Backend, tx: Sender<Msg>, post: Post) {
    let run = move || {
        post(Response::Loading {
            path: path.clone(),
            stage: "reading the checkpoint",
        });
        let result = checkpoint::load(&path, &ConfigSource::Checkpoint).and_then(|loaded| {
            post(Response::Loading {
                path: path.clone(),
                stage: "building the model",
            });
            Engine::from_loaded(loaded, &path, backend)
        });
        let _ = tx.send(Msg::Loaded(stamp, path, Box::new(result)));
    };
    if let Err(e) = std::thread::Builder::new()
        .name("stylenat-load".into())
        .spawn(run)
    {
        eprintln!("could not start the loader thread: {e}");
    }
}

fn describe(e: &Engine, path: PathBuf) -> ModelInfo {
    let c = e.config();
    ModelInfo {
        summary: format!("params      {}\n{}", e.loaded.num_params(), c.describe()),
        backend: e.backend.description.clone(),
        size: c.size,
        num_ws: c.num_ws(),
        w_dim: c.style_dim,
        layer_res: (0..c.num_ws()).map(|i| c.ws_resolution(i)).collect(),
        path,
    }
}

fn spread(m: &mut Model) -> crate::Result<f32> {
    if let Some(s) = m.spread {
        return Ok(s);
    }
    let s = latent_spread(&m.engine)?;
    m.spread = Some(s);
    Ok(s)
}

type Images = Vec<(&'static str, Pixels)>;

fn render_one(
    m: &mut Model,
    a: &RenderArgs,
    gpu: Option<&mut GpuTextures>,
) -> crate::Result<(Images, Vec<f32>, usize)> {
    let spread = if a.nudge.amount != 0.0 {
        spread(m)?
    } else {
        1.0
    };
    let e = &mut m.engine;
    let (num_ws, d, size) = (e.config().num_ws(), e.config().style_dim, e.config().size);
    let c = compose(e, a, spread)?;
    let mut rows = c.mix.clone();
    let mut labels = vec!["mix"];
    if a.compare {
        rows.extend_from_slice(&c.a);
        rows.extend_from_slice(&c.b);
        labels.extend(["A", "B"]);
    }
    let n = labels.len();
    let wplus = HostTensor::new(vec![n, num_ws, d], rows);
    let images = match gpu {
        Some(textures) if !crate::backend::is_cpu(&e.backend.device) => {
            let packed = pack_rgba8(e.synthesize_on_device(&wplus)?)?;
            let ids = textures.upload(&packed);
            labels
                .into_iter()
                .zip(ids.into_iter().map(Pixels::Gpu))
                .collect()
        }
        _ => {
            let img = e.synthesize(&wplus, n, |_| {})?;
            labels
                .into_iter()
                .zip(img.data.chunks(3 * size * size))
                .map(|(l, px)| (l, Pixels::Host(to_rgb8(px, size, size))))
                .collect()
        }
    };
    Ok((images, c.mix, size))
}

fn export(m: &mut Model, job: &ExportJob, post: &Post) {
    let spread = match spread(m) {
        Ok(s) => s,
        Err(e) => return post(Response::Error(e.to_string())),
    };
    let result = run_export(&mut m.engine, job, spread, |done, total| {
        post(Response::Progress { done, total })
    });
    post(match result {
        Ok(msg) => Response::Exported(msg),
        Err(Error::Cancelled) => Response::ExportCancelled,
        Err(e) => Response::Error(format!("export failed: {e}")),
    });
}
