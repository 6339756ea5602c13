//! The explorer: an eframe window whose side panel edits [`state::AppState`] and whose central
//! panel shows the newest images the render thread produced. The UI thread never runs the model;
//! it speaks to the render thread through [`protocol`].

pub mod action;
pub mod canvas;
pub mod file_dialog;
pub mod file_picker;
mod frame;
pub mod gpu_backend;
pub mod gpu_texture;
pub mod history;
pub mod open;
pub mod panels;
pub mod protocol;
mod receive;
pub mod session;
pub mod state;
pub mod worker;

use crate::backend::BackendKind;
use action::Action;
use history::History;
use protocol::{AttentionRequest, DirectionsInfo, RenderArgs, Request};
use state::AppState;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use worker::Worker;
use worker::save::{ExportJob, ExportKind};

const STATE_KEY: &str = "stylenat-explorer";
/// PCA settings of the Directions panel (GANSpace used 10⁶ samples for 512-d W; 20 000 gives
/// stable leading components in seconds).
const DIRECTION_SAMPLES: usize = 20_000;
pub(crate) const DIRECTION_COMPONENTS: usize = 20;

/// A checkpoint load in progress, as reported by the render thread.
pub struct LoadState {
    pub path: PathBuf,
    pub stage: &'static str,
    pub fraction: Option<f32>,
    pub started: Instant,
}

/// An export running on the render thread.
pub struct ExportRun {
    cancel: Arc<AtomicBool>,
    pub done: usize,
    pub total: usize,
    pub started: Instant,
}

/// A projection running on the render thread.
pub struct ProjectRun {
    cancel: Arc<AtomicBool>,
    pub target: PathBuf,
    pub step: usize,
    pub total: usize,
    pub loss: f32,
    /// The latest reconstruction.
    pub preview: Option<egui::TextureHandle>,
    pub started: Instant,
}

/// What the window shows: the newest image and what came with it.
#[derive(Default)]
pub struct Shown {
    pub canvas: canvas::Canvas,
    /// The W+ of the shown mix.
    pub wplus: Option<Vec<f32>>,
    /// What the shown image was rendered from.
    pub args: Option<RenderArgs>,
    pub render_ms: Option<f64>,
    /// Request → final image (ms) of the shown image.
    pub latency_ms: Option<f64>,
    /// Request → preview (ms) and the preview's resolution, with the request's stamp.
    pub preview_latency: Option<(u64, f64, usize)>,
    /// Memory of the block inputs the render thread keeps for incremental renders.
    pub cache_bytes: u64,
    /// The newest attention maps.
    pub attention: Option<Box<crate::analysis::attention::AttentionMaps>>,
    /// The newest layer inspection, with its picture and spectrum as textures.
    pub inspection: Option<(
        Box<crate::analysis::inspect::Inspection>,
        [egui::TextureHandle; 2],
    )>,
    /// The directions the edit sliders use.
    pub directions: Option<DirectionsInfo>,
}

/// Work in flight on the render thread.
#[derive(Default)]
pub struct Jobs {
    pub loading: Option<LoadState>,
    /// The last render request (to skip duplicates) and when each was asked for.
    requested: Option<RenderArgs>,
    asked_at: BTreeMap<u64, Instant>,
    pub export: Option<ExportRun>,
    pub projection: Option<ProjectRun>,
    attention_asked: Option<AttentionRequest>,
    inspect_asked: Option<protocol::InspectRequest>,
    /// `(done, total)` samples while directions are computed.
    pub directions_progress: Option<(usize, usize)>,
}

/// Lines for the user above the image.
#[derive(Default)]
pub struct Messages {
    pub errors: Vec<String>,
    pub status: Option<String>,
}

/// `STYLENAT_SCREENSHOT`: save a screenshot once an image is shown, then quit.
struct Screenshot {
    path: PathBuf,
    frames_with_image: u32,
}

pub struct ExplorerApp {
    pub state: AppState,
    pub model: Option<ModelInfo>,
    pub shown: Shown,
    pub jobs: Jobs,
    pub messages: Messages,
    /// File choosers (system dialog or the built-in picker).
    pub dialogs: file_dialog::FileDialogs,
    worker: Worker,
    history: History,
    ui_ms: f32,
    screenshot: Option<Screenshot>,
}

use protocol::ModelInfo;

impl ExplorerApp {
    /// The app on `worker`, with restored `state` (tests build it without a window).
    pub fn with_worker(state: AppState, worker: Worker) -> Self {
        Self {
            history: History::new(&state.args),
            state,
            model: None,
            shown: Shown::default(),
            jobs: Jobs::default(),
            messages: Messages::default(),
            dialogs: file_dialog::FileDialogs::default(),
            worker,
            ui_ms: 0.0,
            screenshot: None,
        }
    }

    pub fn new(
        cc: &eframe::CreationContext<'_>,
        ckpt: Option<PathBuf>,
        backend: BackendKind,
    ) -> std::io::Result<Self> {
        let saved = cc.storage.and_then(|s| s.get_string(STATE_KEY));
        let (state, notice) = AppState::restore(saved.as_deref());
        let ctx = cc.egui_ctx.clone();
        let notify = move || ctx.request_repaint();
        let worker = Worker::for_window(backend, cc.wgpu_render_state.clone(), notify)?;
        let mut app = Self::with_worker(state, worker);
        app.messages.errors.extend(notice);
        app.screenshot = std::env::var_os("STYLENAT_SCREENSHOT").map(|path| Screenshot {
            path: PathBuf::from(path),
            frames_with_image: 0,
        });
        let first = ckpt
            .or_else(|| app.state.recent.first().cloned())
            .unwrap_or_else(|| PathBuf::from(crate::checkpoint::builtin::NAME));
        app.apply(Action::Open(first));
        Ok(app)
    }

    /// Time spent building the last UI frame (without painting).
    pub fn ui_ms(&self) -> f32 {
        self.ui_ms
    }

    /// How long the last shown image took from its request to its arrival.
    pub fn latency_ms(&self) -> Option<f64> {
        self.shown.latency_ms
    }

    /// `(done, total)` frames of the export in progress.
    pub fn export_progress(&self) -> Option<(usize, usize)> {
        self.jobs.export.as_ref().map(|e| (e.done, e.total))
    }

    /// Whether the shown image (or its preview) is of the current recipe and view.
    pub fn shows_current(&self) -> bool {
        self.shown.args.as_ref() == Some(&self.render_args())
    }

    /// What the worker should render now.
    fn render_args(&self) -> RenderArgs {
        RenderArgs {
            recipe: self.state.args.clone(),
            compare: self.state.compare,
            unedited: self.state.head_groups.unedited && !self.state.args.group_edits.is_empty(),
        }
    }

    /// Carries out what a panel asked for.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Choose(task) => {
                let (chosen, notice) = self.dialogs.start(task);
                self.messages.errors.extend(notice);
                if let Some(a) = chosen {
                    self.apply(a);
                }
            }
            Action::Open(path) => open::open(self, path),
            Action::CancelLoad => {
                self.worker.send(Request::CancelLoad);
            }
            Action::SaveImage(p) => self.start_export(ExportKind::Image, p),
            Action::SaveLatent(p) => self.start_export(ExportKind::Latent, p),
            Action::SaveVideo(p) => {
                let settings = self.state.export.clone();
                self.start_export(ExportKind::Video(settings), p)
            }
            Action::SaveSession(p) => {
                let json = session::Session {
                    app: crate::io::provenance::Provenance::app(),
                    checkpoint: self.model.as_ref().map(|m| m.path.clone()),
                    args: self.state.args.clone(),
                    compare: self.state.compare,
                    zoom: self.state.zoom,
                }
                .to_json();
                self.start_export(ExportKind::Session { json }, p)
            }
            Action::CancelExport => {
                if let Some(e) = &self.jobs.export {
                    e.cancel.store(true, Ordering::Relaxed);
                }
            }
            Action::Project(path) => self.start_projection(path),
            Action::CancelProject => {
                if let Some(p) = &self.jobs.projection {
                    p.cancel.store(true, Ordering::Relaxed);
                }
            }
            Action::ClearLatent => self.state.args.custom = None,
            Action::Undo => self.history.undo(&mut self.state.args),
            Action::Redo => self.history.redo(&mut self.state.args),
            Action::ComputeDirections => {
                self.jobs.directions_progress = Some((0, DIRECTION_SAMPLES));
                self.worker
                    .send(Request::Directions(protocol::DirectionsRequest::Compute {
                        samples: DIRECTION_SAMPLES,
                        components: DIRECTION_COMPONENTS,
                    }));
            }
            Action::ComputeSefa(layers) => {
                self.worker
                    .send(Request::Directions(protocol::DirectionsRequest::Sefa(
                        layers,
                    )));
            }
            Action::LoadDirections(p) => {
                self.worker
                    .send(Request::Directions(protocol::DirectionsRequest::Load(p)));
            }
            Action::SaveDirections(p) => {
                self.worker
                    .send(Request::Directions(protocol::DirectionsRequest::Save(p)));
            }
        }
    }

    /// Asks the worker to load a checkpoint.
    fn load_checkpoint(&mut self, path: PathBuf) {
        self.jobs.loading = Some(LoadState {
            path: path.clone(),
            stage: "queued",
            fraction: None,
            started: Instant::now(),
        });
        self.jobs.requested = None;
        self.worker.send(Request::Load(path));
    }

    fn start_projection(&mut self, target: PathBuf) {
        if self.model.is_none() || self.jobs.projection.is_some() {
            let why = match self.model {
                None => "open a model before projecting",
                Some(_) => "a projection is already running",
            };
            self.messages.errors.push(why.into());
            return;
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let steps = self.state.projection_steps.max(1);
        self.jobs.projection = Some(ProjectRun {
            cancel: cancel.clone(),
            target: target.clone(),
            step: 0,
            total: steps,
            loss: f32::NAN,
            preview: None,
            started: Instant::now(),
        });
        self.worker
            .send(Request::Project(worker::project::ProjectJob {
                target,
                steps,
                cancel,
            }));
    }

    fn start_export(&mut self, kind: ExportKind, path: PathBuf) {
        if self.model.is_none() {
            self.messages
                .errors
                .push("open a model before exporting".into());
            return;
        }
        let cancel = Arc::new(AtomicBool::new(false));
        self.jobs.export = Some(ExportRun {
            cancel: cancel.clone(),
            done: 0,
            total: 0,
            started: Instant::now(),
        });
        self.worker.send(Request::Export(ExportJob {
            kind,
            path,
            recipe: self.state.args.clone(),
            cancel,
        }));
    }
}

impl eframe::App for ExplorerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if let Ok(text) = serde_json::to_string(&self.state) {
            storage.set_string(STATE_KEY, text);
        }
    }
}

/// Opens the explorer window (blocks until it is closed).
pub fn run(ckpt: Option<PathBuf>, backend: BackendKind) -> crate::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("StyleNAT Explorer")
            .with_inner_size([1100.0, 760.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: gpu_backend::wgpu_options(),
        ..Default::default()
    };
    eframe::run_native(
        "StyleNAT Explorer",
        options,
        Box::new(move |cc| Ok(Box::new(ExplorerApp::new(cc, ckpt, backend)?))),
    )
    .map_err(|e| crate::Error::Backend(format!("could not open the window: {e}")))
}
