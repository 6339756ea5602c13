//! The render thread: owns the engine, so the UI thread never waits for the model. Requests
//! carry a stamp; the worker always serves the newest render and drops the rest. Checkpoints
//! load on a helper thread (the old model keeps rendering meanwhile, and a load can be
//! cancelled); exports run here with progress and a cancel flag.

use super::compose::{Extras, compose};
use super::export::{ExportJob, run as run_export};
use super::gpu_texture::GpuTextures;
use super::state::RenderArgs;
use crate::backend::{Backend, BackendKind, is_cpu};
use crate::checkpoint::{self, ConfigSource};
use crate::engine::{Engine, PREVIEW_BUDGET_MS};
use crate::error::Error;
use crate::io::image::to_rgb8;
use crate::kernels::present::pack_rgba8;
use crate::model::GeneratorConfig;
use crate::tensor::HostTensor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Work for the render thread.
pub enum Request {
    Load(PathBuf),
    /// Forget the load in progress; the current model stays.
    CancelLoad,
    Render(RenderArgs),
    Export(ExportJob),
    /// Attention maps of the image `args` describes, at a block and pixel.
    Attention {
        args: RenderArgs,
        stage: usize,
        block: usize,
        pixel: (usize, usize),
    },
    Directions(DirectionsRequest),
}

/// PCA directions of the loaded model.
#[derive(Debug, Clone)]
pub enum DirectionsRequest {
    /// Sample and decompose (or read the cache of an earlier run).
    Compute {
        samples: usize,
        components: usize,
    },
    Load(PathBuf),
    Save(PathBuf),
}

/// The directions as the panel shows them.
#[derive(Debug, Clone)]
pub struct DirectionsInfo {
    pub sigma: Vec<f32>,
    pub explained: Vec<f32>,
    pub source: String,
}

/// A loaded model, described for the UI.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub summary: String,
    pub backend: String,
    pub config: GeneratorConfig,
}

impl ModelInfo {
    pub fn num_ws(&self) -> usize {
        self.config.num_ws()
    }

    pub fn w_dim(&self) -> usize {
        self.config.style_dim
    }

    /// Resolution of the block each W+ layer drives.
    pub fn layer_res(&self) -> Vec<usize> {
        (0..self.num_ws())
            .map(|i| self.config.ws_resolution(i))
            .collect()
    }
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
    /// The model's resolution.
    pub size: usize,
    /// The images' resolution: `size`, or a stage's for a preview.
    pub resolution: usize,
    /// Whether this is the final image (a preview is followed by it unless a newer request
    /// supersedes it).
    pub complete: bool,
    /// Bytes of the block inputs kept for incremental renders.
    pub cache_bytes: u64,
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
        /// Share of the stage done, where it is known.
        fraction: Option<f32>,
    },
    Loaded(ModelInfo),
    LoadCancelled,
    /// The model moved to another device (the GPU failed); the new backend's description.
    BackendChanged(String),
    Image(Rendered),
    Progress {
        done: usize,
        total: usize,
    },
    Exported(String),
    /// `Error::Cancelled` exports report this rather than an error.
    ExportCancelled,
    Attention(Box<crate::analysis::attention::AttentionMaps>),
    DirectionsProgress {
        done: usize,
        total: usize,
    },
    Directions(DirectionsInfo),
    Error(String),
}

/// Messages into the render thread: the UI's requests and the loader's result.
// A few hundred bytes moved once per request: not worth a box.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Ui(u64, Request),
    Loaded(u64, PathBuf, Box<crate::Result<Engine>>),
    /// Nothing to do but look at the pending work again.
    Wake,
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

    /// The worker of a window drawn by egui-wgpu on `rs`: the generator shares the window's
    /// device when asked to (`Wgpu`), or (`Auto`) when that device is real GPU hardware, and
    /// then hands images over as textures on it; otherwise it runs on its own device.
    pub fn for_window(
        backend: BackendKind,
        rs: Option<eframe::egui_wgpu::RenderState>,
        notify: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        match rs {
            Some(rs)
                if backend == BackendKind::Wgpu
                    || (backend == BackendKind::Auto
                        && crate::backend::is_hardware(&rs.adapter.get_info())) =>
            {
                let textures = GpuTextures::new(rs.clone());
                Self::spawn_with(
                    move || super::gpu_backend::backend_from_render_state(&rs),
                    Some(textures),
                    notify,
                )
            }
            _ => Self::spawn(backend, notify),
        }
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
    extras: Extras,
}

fn serve(
    make_backend: impl FnOnce() -> crate::Result<Backend>,
    mut gpu: Option<GpuTextures>,
    rx: Receiver<Msg>,
    tx: Sender<Msg>,
    post: Post,
) {
    let mut backend = match make_backend() {
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
    // Stops the load in progress between tensors.
    let mut load_cancel = Arc::new(AtomicBool::new(false));
    // The newest render not yet served (kept while a model loads), and the newest attention
    // request: both are superseded by later ones.
    let mut render: Option<PendingRender> = None;
    let mut attention: Option<Request> = None;
    loop {
        // A render being refined continues only while no newer request waits.
        let first = match &render {
            Some(r) if r.next_stage.is_some() => match rx.try_recv() {
                Ok(msg) => msg,
                Err(TryRecvError::Empty) => Msg::Wake,
                Err(TryRecvError::Disconnected) => return,
            },
            _ => match rx.recv() {
                Ok(msg) => msg,
                Err(_) => return,
            },
        };
        // Newest wins: drain the queue, keep the last render; loads and exports keep order.
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            match msg {
                Msg::Ui(stamp, Request::Render(args)) => {
                    render = Some(PendingRender::new(stamp, args))
                }
                Msg::Ui(stamp, Request::Load(path)) => {
                    wanted_load = Some(stamp);
                    load_cancel.store(true, Ordering::Relaxed); // a newer load supersedes it
                    load_cancel = Arc::new(AtomicBool::new(false));
                    render = None; // renders queued before a load refer to the old model
                    let job = LoadJob {
                        stamp,
                        path,
                        backend: backend.clone(),
                        cancel: load_cancel.clone(),
                    };
                    spawn_loader(job, tx.clone(), post.clone());
                }
                Msg::Ui(_, Request::CancelLoad) => {
                    load_cancel.store(true, Ordering::Relaxed);
                    if wanted_load.take().is_some() {
                        post(Response::LoadCancelled);
                    }
                }
                Msg::Wake => {}
                Msg::Loaded(stamp, path, result) => {
                    if wanted_load != Some(stamp) {
                        continue; // cancelled or superseded
                    }
                    wanted_load = None;
                    match *result {
                        Ok(engine) => {
                            post(Response::Loaded(describe(&engine, path)));
                            // Free the old model first, then hand its pages back to the
                            // device so repeated loads do not pile up GPU memory.
                            drop(model.take());
                            engine.backend.device.memory_cleanup();
                            model = Some(Model {
                                engine,
                                extras: Extras::default(),
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
                Msg::Ui(_, request @ Request::Attention { .. }) => attention = Some(request),
                Msg::Ui(_, request @ Request::Directions(_)) => match model.as_mut() {
                    Some(m) => post(match analyse(m, request, &post) {
                        Ok(r) => r,
                        Err(e) => Response::Error(format!("directions: {e}")),
                    }),
                    None => post(Response::Error("open a model first".into())),
                },
            }
        }
        if let Some(m) = model.as_mut()
            && let Some(PendingRender {
                stamp,
                args,
                next_stage,
                spent_ms,
            }) = render.take()
        {
            let t0 = Instant::now();
            // wgpu/cubecl report some device failures (a lost adapter, a shader the driver
            // rejects) by panicking: contain them here rather than lose the render thread.
            let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                render_one(m, &args, gpu.as_mut(), next_stage)
            }));
            let gpu_failure = match &attempt {
                Err(panic) => Some(panic_text(panic.as_ref())),
                Ok(Err(Error::Backend(e))) if !is_cpu(&m.engine.backend.device) => Some(e.clone()),
                _ => None,
            };
            if let Some(why) = gpu_failure {
                match move_to_cpu(m) {
                    Ok(cpu) => {
                        post(Response::Error(format!(
                            "the GPU failed ({why}); continuing on the CPU"
                        )));
                        post(Response::BackendChanged(cpu.description.clone()));
                        backend = cpu;
                        gpu = None;
                        // Retried on the CPU below, from the start.
                        render = Some(PendingRender::new(stamp, args));
                        continue_after_fallback(&tx);
                    }
                    Err(e) => post(Response::Error(format!("the GPU failed ({why}): {e}"))),
                }
                continue;
            }
            let ms = spent_ms + t0.elapsed().as_secs_f64() * 1e3;
            match attempt {
                // Deeper than the preview, not yet complete: go on while nothing newer waits.
                Ok(Ok(Step::Refining(stage))) => {
                    render = Some(PendingRender {
                        stamp,
                        args,
                        next_stage: Some(stage + 1),
                        spent_ms: ms,
                    })
                }
                Ok(Ok(Step::Shown(shown))) => {
                    if !shown.complete {
                        render = Some(PendingRender {
                            stamp,
                            args: args.clone(),
                            next_stage: Some(shown.stage + 1),
                            spent_ms: ms,
                        });
                    }
                    post(Response::Image(Rendered {
                        stamp,
                        args,
                        size: shown.size,
                        resolution: shown.resolution,
                        complete: shown.complete,
                        cache_bytes: shown.cache_bytes,
                        images: shown.images,
                        wplus: shown.wplus,
                        ms,
                    }))
                }
                Ok(Err(err)) => post(Response::Error(err.to_string())),
                Err(_) => unreachable!("panics are handled above"),
            }
        }
        if let Some(m) = model.as_mut()
            && let Some(request) = attention.take()
        {
            post(match analyse(m, request, &post) {
                Ok(r) => r,
                Err(e) => Response::Error(format!("attention maps: {e}")),
            });
        }
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown failure".into())
}

/// Rebuilds the model on the CPU from the weights it was loaded with; returns the CPU backend
/// for later loads.
fn move_to_cpu(m: &mut Model) -> crate::Result<Backend> {
    let cpu = Backend::init(BackendKind::Cpu)?;
    let path = m.engine.source_path.clone().unwrap_or_default();
    let engine = Engine::from_loaded(m.engine.loaded.clone(), &path, cpu.clone())?;
    m.engine = engine;
    Ok(cpu)
}

/// Wakes the loop so the retried render runs without waiting for the next request.
fn continue_after_fallback(tx: &Sender<Msg>) {
    let _ = tx.send(Msg::Wake);
}

struct LoadJob {
    stamp: u64,
    path: PathBuf,
    backend: Backend,
    cancel: Arc<AtomicBool>,
}

fn spawn_loader(job: LoadJob, tx: Sender<Msg>, post: Post) {
    let LoadJob {
        stamp,
        path,
        backend,
        cancel,
    } = job;
    let run = move || {
        let stage = |stage, fraction| {
            post(Response::Loading {
                path: path.clone(),
                stage,
                fraction,
            })
        };
        stage("reading the checkpoint", None);
        let mut last = (false, 0.0);
        let mut progress = |p: checkpoint::LoadProgress| {
            let tensors = matches!(p, checkpoint::LoadProgress::Tensors { .. });
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

fn describe(e: &Engine, path: PathBuf) -> ModelInfo {
    let c = e.config();
    ModelInfo {
        summary: format!("params      {}\n{}", e.loaded.num_params(), c.describe()),
        backend: e.backend.description.clone(),
        config: c.clone(),
        path,
    }
}

type Images = Vec<(&'static str, Pixels)>;

/// A render the worker still owes: new (`next_stage` `None`: a preview may come first) or
/// being refined one stage at a time.
struct PendingRender {
    stamp: u64,
    args: RenderArgs,
    next_stage: Option<usize>,
    /// Render time already spent on this request (ms).
    spent_ms: f64,
}

impl PendingRender {
    /// A request not started yet.
    fn new(stamp: u64, args: RenderArgs) -> Self {
        Self {
            stamp,
            args,
            next_stage: None,
            spent_ms: 0.0,
        }
    }
}

/// What one render step produced.
enum Step {
    /// Images to show (a preview or the final image).
    Shown(ShownImages),
    /// A stage between the preview and the final one was computed; nothing to show.
    Refining(usize),
}

struct ShownImages {
    images: Images,
    wplus: Vec<f32>,
    size: usize,
    resolution: usize,
    stage: usize,
    complete: bool,
    cache_bytes: u64,
}

/// `STYLENAT_PREVIEW_STAGE=N`: every new request first shows stage N's preview, whatever
/// the budget (to see or test the preview path on a model that renders within the budget).
fn forced_preview_stage() -> Option<usize> {
    std::env::var("STYLENAT_PREVIEW_STAGE").ok()?.parse().ok()
}

/// One step of a render: a new request shows a preview when the full image would not fit the
/// frame budget ([`PREVIEW_BUDGET_MS`]); a refine step computes stage `next_stage` (resuming
/// from the stored block inputs) and shows the final image once it gets there.
fn render_one(
    m: &mut Model,
    a: &RenderArgs,
    gpu: Option<&mut GpuTextures>,
    next_stage: Option<usize>,
) -> crate::Result<Step> {
    let e = &mut m.engine;
    let (num_ws, d, size) = (e.config().num_ws(), e.config().style_dim, e.config().size);
    let last = e.config().stages.len() - 1;
    let c = compose(e, a, &mut m.extras)?;
    let mut rows = c.mix.clone();
    let mut labels = vec!["mix"];
    if a.compare {
        rows.extend_from_slice(&c.a);
        rows.extend_from_slice(&c.b);
        labels.extend(["A", "B"]);
    }
    let n = labels.len();
    let wplus = HostTensor::new(vec![n, num_ws, d], rows);
    let stage = match next_stage {
        Some(s) => Some(s.min(last)),
        None => forced_preview_stage()
            .map(|s| s.min(last))
            .or_else(|| e.preview_stage(&wplus, PREVIEW_BUDGET_MS)),
    };
    let out = e.render_incremental(&wplus, stage)?;
    if next_stage.is_some() && !out.complete {
        return Ok(Step::Refining(out.stage));
    }
    let r = out.resolution;
    let images = match gpu {
        Some(textures) if !crate::backend::is_cpu(&e.backend.device) => {
            let packed = pack_rgba8(out.image)?;
            let ids = textures.upload(&packed, !out.complete);
            labels
                .into_iter()
                .zip(ids.into_iter().map(Pixels::Gpu))
                .collect()
        }
        _ => {
            let px = crate::kernels::to_host(out.image)?;
            labels
                .into_iter()
                .zip(px.chunks(3 * r * r))
                .map(|(l, px)| (l, Pixels::Host(to_rgb8(px, r, r))))
                .collect()
        }
    };
    Ok(Step::Shown(ShownImages {
        images,
        wplus: c.mix,
        size,
        resolution: r,
        stage: out.stage,
        complete: out.complete,
        cache_bytes: e.incremental_cache_bytes(),
    }))
}

fn export(m: &mut Model, job: &ExportJob, post: &Post) {
    let result = run_export(&mut m.engine, job, &mut m.extras, |done, total| {
        post(Response::Progress { done, total })
    });
    post(match result {
        Ok(msg) => Response::Exported(msg),
        Err(Error::Cancelled) => Response::ExportCancelled,
        Err(e) => Response::Error(format!("export failed: {e}")),
    });
}

/// Attention maps and PCA directions (only computed when their panel asks).
fn analyse(m: &mut Model, request: Request, post: &Post) -> crate::Result<Response> {
    use crate::analysis::directions::{Directions, pca};
    let info = |d: &Directions, source: String| {
        Response::Directions(DirectionsInfo {
            sigma: d.sigma.clone(),
            explained: d.explained.clone(),
            source,
        })
    };
    match request {
        Request::Attention {
            args,
            stage,
            block,
            pixel,
        } => {
            let e = &mut m.engine;
            let (num_ws, d) = (e.config().num_ws(), e.config().style_dim);
            let mix = compose(e, &args, &mut m.extras)?.mix;
            let wplus = HostTensor::new(vec![1, num_ws, d], mix);
            let maps = crate::analysis::attention::attention_maps(e, &wplus, stage, block, pixel)?;
            Ok(Response::Attention(Box::new(maps)))
        }
        Request::Directions(DirectionsRequest::Compute {
            samples,
            components,
        }) => {
            let cache = m
                .engine
                .cache_file(&format!("pca_{samples}x{components}"), "npz");
            if let Some(path) = &cache
                && let Ok(d) = Directions::load(path)
                && d.components.len() == components
            {
                let msg = format!("PCA of {samples} samples (cached)");
                let r = info(&d, msg);
                m.extras.dirs = Some(d);
                return Ok(r);
            }
            let d = pca(&m.engine, samples, components, |done, total| {
                post(Response::DirectionsProgress { done, total })
            })?;
            if let Some(path) = &cache {
                let _ = std::fs::create_dir_all(path.parent().unwrap_or(path));
                let _ = d.save(path); // a cache: failing to write it is not an error
            }
            let r = info(&d, format!("PCA of {samples} samples"));
            m.extras.dirs = Some(d);
            Ok(r)
        }
        Request::Directions(DirectionsRequest::Load(path)) => {
            let d = Directions::load(&path)?;
            if d.mean.len() != m.engine.config().style_dim {
                return Err(Error::Input(format!(
                    "{} has {}-dimensional directions; this model's w has {}",
                    path.display(),
                    d.mean.len(),
                    m.engine.config().style_dim
                )));
            }
            let r = info(&d, format!("loaded {}", path.display()));
            m.extras.dirs = Some(d);
            Ok(r)
        }
        Request::Directions(DirectionsRequest::Save(path)) => match &m.extras.dirs {
            Some(d) => {
                d.save(&path)?;
                Ok(Response::Exported(format!(
                    "saved directions to {}",
                    path.display()
                )))
            }
            None => Err(Error::Input("compute or load directions first".into())),
        },
        _ => Err(Error::Input("not an analysis request".into())),
    }
}
