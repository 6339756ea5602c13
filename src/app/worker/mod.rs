//! The render thread: owns the engine, so the UI thread never waits for the model. Requests
//! carry a stamp; the worker always serves the newest render and drops the rest. Checkpoints
//! load on a helper thread (the old model keeps rendering meanwhile, and a load can be
//! cancelled); exports run here with progress and a cancel flag. One file per job: [`render`],
//! [`load`], [`save`], [`analysis`], [`fallback`] (GPU failures).

pub mod analysis;
pub mod fallback;
pub mod load;
pub mod project;
pub mod render;
pub mod save;

use super::gpu_texture::GpuTextures;
use super::protocol::{Job, Reply, Request};
use crate::backend::{Backend, BackendKind};
use crate::compose::Composer;
use crate::engine::Engine;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};

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
    inbox: Arc<Mutex<Vec<Reply>>>,
    stamp: u64,
}

/// Hands a reply to the UI (and wakes it).
type Post = Arc<dyn Fn(Reply) + Send + Sync>;

fn failed(job: Job, message: impl Into<String>) -> Reply {
    Reply::Failed {
        job,
        message: message.into(),
    }
}

impl Worker {
    /// Starts the thread; `notify` is called whenever a reply is ready (e.g. to repaint).
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

    /// Replies that arrived since the last call.
    pub fn take(&self) -> Vec<Reply> {
        self.inbox
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// A loaded model and what composing its recipes has computed so far.
pub struct Model {
    pub engine: Engine,
    pub composer: Composer,
}

/// The render thread's state between messages.
struct Server {
    backend: Backend,
    gpu: Option<GpuTextures>,
    model: Option<Model>,
    /// Stamp of the load whose result we still want.
    wanted_load: Option<u64>,
    /// Stops the load in progress between tensors.
    load_cancel: Arc<AtomicBool>,
    /// The newest render not yet served (kept while a model loads), and the newest attention
    /// request: both are superseded by later ones.
    render: Option<render::PendingRender>,
    attention: Option<super::protocol::AttentionRequest>,
    inspect: Option<super::protocol::InspectRequest>,
    tx: Sender<Msg>,
    post: Post,
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
            post(failed(
                Job::Backend,
                format!("{e}; falling back to the CPU"),
            ));
            gpu = None;
            match Backend::init(BackendKind::Cpu) {
                Ok(b) => b,
                Err(e) => return post(failed(Job::Backend, e.to_string())),
            }
        }
    };
    let mut s = Server {
        backend,
        gpu,
        model: None,
        wanted_load: None,
        load_cancel: Arc::new(AtomicBool::new(false)),
        render: None,
        attention: None,
        inspect: None,
        tx,
        post,
    };
    loop {
        // A render being refined continues only while no newer request waits.
        let first = match &s.render {
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
            s.receive(msg);
        }
        s.render_step();
        s.analysis_step();
    }
}

impl Server {
    fn receive(&mut self, msg: Msg) {
        match msg {
            Msg::Ui(stamp, Request::Render(args)) => {
                self.render = Some(render::PendingRender::new(stamp, args))
            }
            Msg::Ui(stamp, Request::Load(path)) => {
                self.wanted_load = Some(stamp);
                self.load_cancel.store(true, Ordering::Relaxed); // a newer load supersedes it
                self.load_cancel = Arc::new(AtomicBool::new(false));
                self.render = None; // renders queued before a load refer to the old model
                let job = load::LoadJob {
                    stamp,
                    path,
                    backend: self.backend.clone(),
                    cancel: self.load_cancel.clone(),
                };
                load::spawn_loader(job, self.tx.clone(), self.post.clone());
            }
            Msg::Ui(_, Request::CancelLoad) => {
                self.load_cancel.store(true, Ordering::Relaxed);
                if self.wanted_load.take().is_some() {
                    (self.post)(Reply::LoadCancelled);
                }
            }
            Msg::Wake => {}
            Msg::Loaded(stamp, path, result) => {
                if self.wanted_load != Some(stamp) {
                    return; // cancelled or superseded
                }
                self.wanted_load = None;
                match *result {
                    Ok(engine) => {
                        (self.post)(Reply::Loaded(load::describe(&engine, path)));
                        // Free the old model first, then hand its pages back to the device so
                        // repeated loads do not pile up GPU memory.
                        drop(self.model.take());
                        engine.backend.device.memory_cleanup();
                        self.model = Some(Model {
                            engine,
                            composer: Composer::default(),
                        });
                    }
                    // The previous model stays loaded.
                    Err(e) => (self.post)(failed(
                        Job::Load,
                        format!("could not open {}: {e}", path.display()),
                    )),
                }
            }
            Msg::Ui(_, Request::Export(job)) => match self.model.as_mut() {
                Some(m) => save::export(m, &job, &self.post),
                None => (self.post)(failed(Job::Export, "open a model before exporting")),
            },
            Msg::Ui(_, Request::Project(job)) => match self.model.as_mut() {
                Some(m) => project::run(m, &job, &self.post),
                None => (self.post)(failed(Job::Project, "open a model before projecting")),
            },
            Msg::Ui(_, Request::Attention(request)) => self.attention = Some(request),
            Msg::Ui(_, Request::Inspect(request)) => self.inspect = Some(request),
            Msg::Ui(_, Request::Directions(request)) => (self.post)(match self.model.as_mut() {
                Some(m) => analysis::directions(m, request, &self.post)
                    .unwrap_or_else(|e| failed(Job::Directions, format!("directions: {e}"))),
                None => failed(Job::Directions, "open a model first"),
            }),
        }
    }

    /// Serves (one step of) the newest render; a GPU failure moves the model to the CPU and
    /// retries there.
    fn render_step(&mut self) {
        // Kept while no model is loaded: it is rendered once one is.
        let Some(m) = self.model.as_mut() else {
            return;
        };
        let Some(pending) = self.render.take() else {
            return;
        };
        match render::step(m, pending, self.gpu.as_mut(), &self.post) {
            render::Outcome::Done => {}
            render::Outcome::Continue(next) => self.render = Some(next),
            render::Outcome::GpuFailed { retry, why } => match fallback::move_to_cpu(m) {
                Ok(cpu) => {
                    (self.post)(failed(
                        Job::Backend,
                        format!("the GPU failed ({why}); continuing on the CPU"),
                    ));
                    (self.post)(Reply::BackendChanged(cpu.description.clone()));
                    self.backend = cpu;
                    self.gpu = None;
                    self.render = Some(retry);
                    // Wake the loop so the retry runs without waiting for the next request.
                    let _ = self.tx.send(Msg::Wake);
                }
                Err(e) => (self.post)(failed(Job::Backend, format!("the GPU failed ({why}): {e}"))),
            },
        }
    }

    /// The newest attention-map and inspector requests, once no render waits.
    fn analysis_step(&mut self) {
        let Some(m) = self.model.as_mut() else {
            return;
        };
        if let Some(request) = self.attention.take() {
            (self.post)(
                analysis::attention(m, &request)
                    .unwrap_or_else(|e| failed(Job::Attention, format!("attention maps: {e}"))),
            );
        }
        if let Some(request) = self.inspect.take() {
            (self.post)(
                analysis::inspect(m, &request)
                    .unwrap_or_else(|e| failed(Job::Inspect, format!("layer inspector: {e}"))),
            );
        }
    }
}
