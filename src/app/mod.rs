//! The explorer: an eframe window whose side panel edits [`state::AppState`] and whose central
//! panel shows the newest images the render thread produced. The UI thread never runs the model.

pub mod action;
pub mod canvas;
pub mod compose;
pub mod export;
pub mod file_dialog;
pub mod file_picker;
pub mod gpu_backend;
pub mod gpu_texture;
pub mod history;
pub mod open;
pub mod panels;
pub mod session;
pub mod state;
pub mod worker;

use crate::backend::BackendKind;
use action::Action;
use history::History;
use state::{AppState, RenderArgs};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use worker::{ModelInfo, Request, Response, Worker};

const STATE_KEY: &str = "stylenat-explorer";
/// PCA settings of the Directions panel (GANSpace used 10⁶ samples for 512-d W; 20 000 gives
/// stable leading components in seconds).
const DIRECTION_SAMPLES: usize = 20_000;
const DIRECTION_COMPONENTS: usize = 20;

/// A checkpoint load in progress, as reported by the render thread.
struct LoadState {
    path: PathBuf,
    stage: &'static str,
    fraction: Option<f32>,
    started: Instant,
}

/// An export running on the render thread.
struct ExportRun {
    cancel: Arc<AtomicBool>,
    done: usize,
    total: usize,
    started: Instant,
}

pub struct ExplorerApp {
    pub state: AppState,
    worker: Worker,
    pub model: Option<ModelInfo>,
    /// A checkpoint load in progress.
    loading: Option<LoadState>,
    /// Arguments of the last render request (to skip duplicates) and when each was asked for.
    requested: Option<RenderArgs>,
    asked_at: BTreeMap<u64, Instant>,
    pub canvas: canvas::Canvas,
    /// The W+ of the shown mix.
    pub shown_wplus: Option<Vec<f32>>,
    /// Arguments of the shown image.
    pub shown_args: Option<RenderArgs>,
    render_ms: Option<f64>,
    latency_ms: Option<f64>,
    /// Request → preview (ms) and the preview's resolution, with the request's stamp.
    preview_latency: Option<(u64, f64, usize)>,
    /// Memory of the block inputs the render thread keeps for incremental renders.
    cache_bytes: u64,
    ui_ms: f32,
    pub errors: Vec<String>,
    pub status: Option<String>,
    /// File choosers (system dialog or the built-in picker).
    pub dialogs: file_dialog::FileDialogs,
    export: Option<ExportRun>,
    history: History,
    /// The newest attention maps and what they were asked for.
    pub attention: Option<Box<crate::analysis::attention::AttentionMaps>>,
    attention_asked: Option<(RenderArgs, usize, usize, (usize, usize))>,
    pub directions: Option<worker::DirectionsInfo>,
    directions_progress: Option<(usize, usize)>,
    /// `STYLENAT_SCREENSHOT`: save a screenshot once an image is shown, then quit.
    screenshot: Option<PathBuf>,
    frames_with_image: u32,
}

impl ExplorerApp {
    /// The app on `worker`, with restored `state` (tests build it without a window).
    pub fn with_worker(state: AppState, worker: Worker) -> Self {
        Self {
            history: History::new(&state.args),
            state,
            worker,
            model: None,
            loading: None,
            requested: None,
            asked_at: BTreeMap::new(),
            canvas: canvas::Canvas::default(),
            shown_wplus: None,
            shown_args: None,
            render_ms: None,
            latency_ms: None,
            preview_latency: None,
            cache_bytes: 0,
            ui_ms: 0.0,
            errors: Vec::new(),
            status: None,
            dialogs: file_dialog::FileDialogs::default(),
            export: None,
            attention: None,
            attention_asked: None,
            directions: None,
            directions_progress: None,
            screenshot: None,
            frames_with_image: 0,
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
        app.errors.extend(notice);
        app.screenshot = std::env::var_os("STYLENAT_SCREENSHOT").map(PathBuf::from);
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
        self.latency_ms
    }

    /// `(done, total)` frames of the export in progress.
    pub fn export_progress(&self) -> Option<(usize, usize)> {
        self.export.as_ref().map(|e| (e.done, e.total))
    }

    fn receive(&mut self, ctx: &egui::Context) {
        for r in self.worker.take() {
            match r {
                Response::Loading {
                    path,
                    stage,
                    fraction,
                } => {
                    let started = self
                        .loading
                        .as_ref()
                        .map_or_else(Instant::now, |l| l.started);
                    self.loading = Some(LoadState {
                        path,
                        stage,
                        fraction,
                        started,
                    });
                }
                Response::LoadCancelled => {
                    self.loading = None;
                    self.status = Some("loading cancelled; the previous model stays".into());
                }
                Response::Loaded(info) => {
                    self.loading = None;
                    self.state.remember(info.path.clone());
                    if let Some(c) = &self.state.args.custom
                        && c.wplus.len() != info.num_ws() * info.w_dim()
                    {
                        self.state.args.custom = None; // a latent of another architecture
                    }
                    self.status = Some(format!("loaded {}", panels::model::file_name(&info.path)));
                    // Directions and maps belong to the previous model.
                    self.directions = None;
                    self.attention = None;
                    self.attention_asked = None;
                    self.model = Some(info);
                    self.requested = None; // render the new model
                }
                Response::BackendChanged(description) => {
                    if let Some(m) = &mut self.model {
                        m.backend = description;
                    }
                }
                Response::Image(r) => {
                    let asked = self.asked_at.get(&r.stamp).copied();
                    if let Some(t) = asked {
                        let ms = t.elapsed().as_secs_f64() * 1e3;
                        if r.complete {
                            self.latency_ms = Some(ms);
                            self.asked_at.remove(&r.stamp);
                            // Only the preview of this very request is worth showing.
                            self.preview_latency = self.preview_latency.filter(|p| p.0 == r.stamp);
                        } else {
                            self.preview_latency = Some((r.stamp, ms, r.resolution));
                        }
                    }
                    // Requests older than this one were dropped by the worker.
                    self.asked_at = self.asked_at.split_off(&r.stamp);
                    self.cache_bytes = r.cache_bytes;
                    self.canvas
                        .show_images(ctx, r.size, r.resolution, &r.images);
                    self.render_ms = Some(r.ms);
                    self.shown_wplus = Some(r.wplus);
                    self.shown_args = Some(r.args);
                }
                Response::Progress { done, total } => {
                    if let Some(e) = &mut self.export {
                        (e.done, e.total) = (done, total);
                    }
                }
                Response::Exported(msg) => {
                    self.export = None;
                    self.status = Some(msg);
                }
                Response::ExportCancelled => {
                    self.export = None;
                    self.status = Some("export cancelled; nothing was written".into());
                }
                Response::Attention(maps) => self.attention = Some(maps),
                Response::DirectionsProgress { done, total } => {
                    self.directions_progress = Some((done, total));
                }
                Response::Directions(info) => {
                    self.directions_progress = None;
                    self.status = Some(format!("directions: {}", info.source));
                    self.directions = Some(info);
                }
                Response::Error(e) => {
                    if e.starts_with("could not open") {
                        self.loading = None;
                    }
                    if e.starts_with("export failed") {
                        self.export = None;
                    }
                    if e.starts_with("directions") {
                        self.directions_progress = None;
                    }
                    self.errors.push(e);
                }
            }
        }
    }

    /// Carries out what a panel asked for.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Choose(task) => {
                let (chosen, notice) = self.dialogs.start(task);
                self.errors.extend(notice);
                if let Some(a) = chosen {
                    self.apply(a);
                }
            }
            Action::Open(path) => open::open(self, path),
            Action::CancelLoad => {
                self.worker.send(Request::CancelLoad);
            }
            Action::SaveImage(p) => self.start_export(export::ExportKind::Image, p),
            Action::SaveLatent(p) => self.start_export(export::ExportKind::Latent, p),
            Action::SaveVideo(p) => {
                let settings = self.state.export.clone();
                self.start_export(export::ExportKind::Video(settings), p)
            }
            Action::SaveSession(p) => {
                let json = session::Session {
                    app: crate::io::provenance::Provenance::app(),
                    checkpoint: self.model.as_ref().map(|m| m.path.clone()),
                    args: self.state.args.clone(),
                    zoom: self.state.zoom,
                }
                .to_json();
                self.start_export(export::ExportKind::Session { json }, p)
            }
            Action::CancelExport => {
                if let Some(e) = &self.export {
                    e.cancel.store(true, Ordering::Relaxed);
                }
            }
            Action::ClearLatent => self.state.args.custom = None,
            Action::Undo => self.history.undo(&mut self.state.args),
            Action::Redo => self.history.redo(&mut self.state.args),
            Action::ComputeDirections => {
                self.directions_progress = Some((0, DIRECTION_SAMPLES));
                self.worker
                    .send(Request::Directions(worker::DirectionsRequest::Compute {
                        samples: DIRECTION_SAMPLES,
                        components: DIRECTION_COMPONENTS,
                    }));
            }
            Action::LoadDirections(p) => {
                self.worker
                    .send(Request::Directions(worker::DirectionsRequest::Load(p)));
            }
            Action::SaveDirections(p) => {
                self.worker
                    .send(Request::Directions(worker::DirectionsRequest::Save(p)));
            }
        }
    }

    /// Asks the worker to load a checkpoint.
    fn load_checkpoint(&mut self, path: PathBuf) {
        self.loading = Some(LoadState {
            path: path.clone(),
            stage: "queued",
            fraction: None,
            started: Instant::now(),
        });
        self.requested = None;
        self.worker.send(Request::Load(path));
    }

    fn start_export(&mut self, kind: export::ExportKind, path: PathBuf) {
        if self.model.is_none() {
            self.errors.push("open a model before exporting".into());
            return;
        }
        let cancel = Arc::new(AtomicBool::new(false));
        self.export = Some(ExportRun {
            cancel: cancel.clone(),
            done: 0,
            total: 0,
            started: Instant::now(),
        });
        self.worker.send(Request::Export(export::ExportJob {
            kind,
            path,
            args: self.state.args.clone(),
            cancel,
        }));
    }

    /// One frame of the whole window.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let t0 = Instant::now();
        let ctx = ui.ctx().clone();
        self.receive(&ctx);
        let mut actions = Vec::new();
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        actions.extend(dropped.into_iter().map(Action::Open));
        ctx.input_mut(|i| {
            let undo = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::Z);
            let redo = egui::KeyboardShortcut::new(
                egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
                egui::Key::Z,
            );
            // Redo first: its shortcut contains undo's.
            if i.consume_shortcut(&redo) {
                actions.push(Action::Redo);
            } else if i.consume_shortcut(&undo) {
                actions.push(Action::Undo);
            }
        });

        self.side_panel(ui, &mut actions);
        egui::CentralPanel::default().show(ui, |ui| {
            self.messages(ui);
            let view = &self.state.attention;
            let overlay = match (&self.attention, view.open) {
                (Some(maps), true) => Some(canvas::Overlay {
                    maps,
                    group: view.group,
                }),
                _ => None,
            };
            let events = self
                .canvas
                .ui(ui, self.state.zoom, self.model.is_some(), overlay);
            if let Some(p) = events.clicked
                && self.state.attention.open
            {
                self.state.attention.query = Some(p);
            }
            let drag = events.drag;
            if drag != egui::Vec2::ZERO {
                self.state.args.move_in_lattice(drag.x, drag.y);
            }
        });
        actions.extend(self.dialogs.show(&ctx));
        for a in actions {
            self.apply(a);
        }

        if self.state.animate != 0.0 && self.model.is_some() {
            let dt = ctx.input(|i| i.stable_dt).min(0.1);
            self.state
                .args
                .move_in_lattice(self.state.animate * dt, 0.0);
            ctx.request_repaint();
        }
        let settling = ctx.input(|i| i.pointer.any_down()) || self.state.animate != 0.0;
        self.history.observe(&self.state.args, settling);

        // Ask for a new image when the arguments changed (the worker keeps only the newest).
        if self.model.is_some()
            && self.loading.is_none()
            && self.requested.as_ref() != Some(&self.state.args)
        {
            let stamp = self.worker.send(Request::Render(self.state.args.clone()));
            self.asked_at.insert(stamp, Instant::now());
            self.requested = Some(self.state.args.clone());
        }
        self.request_attention();
        if self.export.is_some() || self.loading.is_some() || self.directions_progress.is_some() {
            // Progress and elapsed time keep moving.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
        self.take_screenshot_when_ready(&ctx);
        self.ui_ms = t0.elapsed().as_secs_f32() * 1e3;
    }

    /// Asks for attention maps when the view is open and its inputs changed.
    fn request_attention(&mut self) {
        let view = &self.state.attention;
        let (Some(model), Some(pixel), true) = (&self.model, view.query, view.open) else {
            return;
        };
        let stage = view.stage.min(model.config.stages.len().saturating_sub(1));
        let key = (self.state.args.clone(), stage, view.block, pixel);
        if self.attention_asked.as_ref() == Some(&key) || self.loading.is_some() {
            return;
        }
        self.worker.send(Request::Attention {
            args: key.0.clone(),
            stage,
            block: key.2,
            pixel,
        });
        self.attention_asked = Some(key);
    }

    fn side_panel(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let ctx = ui.ctx().clone();
        egui::Panel::left("controls")
            .resizable(true)
            .default_size(340.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.heading("StyleNAT Explorer");
                        if ui
                            .add_enabled(self.history.can_undo(), egui::Button::new("Undo"))
                            .on_hover_text("Ctrl+Z")
                            .clicked()
                        {
                            actions.push(Action::Undo);
                        }
                        if ui
                            .add_enabled(self.history.can_redo(), egui::Button::new("Redo"))
                            .on_hover_text("Ctrl+Shift+Z")
                            .clicked()
                        {
                            actions.push(Action::Redo);
                        }
                    });
                    section(ui, "Model", true, |ui| {
                        let loading = self.loading.as_ref().map(|l| panels::model::Loading {
                            path: &l.path,
                            stage: l.stage,
                            fraction: l.fraction,
                            seconds: l.started.elapsed().as_secs_f32(),
                        });
                        panels::model::show(
                            ui,
                            &self.state.recent,
                            self.model.as_ref(),
                            loading,
                            actions,
                        );
                    });
                    let Some(model) = self.model.clone() else {
                        return;
                    };
                    section(ui, "Latent", true, |ui| {
                        panels::latent::show(ui, &mut self.state);
                    });
                    section(ui, "Truncation", true, |ui| {
                        panels::truncation::show(ui, &mut self.state.args, model.num_ws());
                    });
                    section(ui, "Style mixing", false, |ui| {
                        panels::mixing::show(ui, &mut self.state.args, &model.layer_res());
                    });
                    section(ui, "Style vector", false, |ui| {
                        panels::style::show(
                            ui,
                            &mut self.state.args,
                            &model,
                            self.shown_wplus.as_deref(),
                            actions,
                        );
                    });
                    section(ui, "Directions (PCA)", false, |ui| {
                        let panel = panels::directions::DirectionsPanel {
                            info: self.directions.as_ref(),
                            progress: self.directions_progress,
                            num_ws: model.num_ws(),
                        };
                        panels::directions::show(ui, &mut self.state.args, &panel, actions);
                    });
                    section(ui, "Attention maps", false, |ui| {
                        panels::attention::show(ui, &mut self.state.attention, &model);
                    });
                    section(ui, "Export", false, |ui| {
                        let progress = self.export.as_ref().map(|e| panels::export::Progress {
                            done: e.done,
                            total: e.total,
                            seconds: e.started.elapsed().as_secs_f32(),
                        });
                        panels::export::show(
                            ui,
                            &mut self.state.export,
                            progress.as_ref(),
                            actions,
                        );
                    });
                    section(ui, "View & performance", true, |ui| {
                        let stats = panels::view::Stats {
                            render_ms: self.render_ms,
                            latency_ms: self.latency_ms,
                            preview: self.preview_latency.map(|(_, ms, res)| (ms, res)),
                            cache_bytes: self.cache_bytes,
                            frame_ms: ctx.input(|i| i.stable_dt) * 1e3,
                            ui_ms: self.ui_ms,
                            backend: Some(model.backend.as_str()),
                            texture_path: self.canvas.path_description(),
                        };
                        panels::view::show(ui, &mut self.state.zoom, &stats);
                    });
                });
            });
    }

    fn messages(&mut self, ui: &mut egui::Ui) {
        if let Some(s) = &self.status {
            ui.label(egui::RichText::new(s).small());
        }
        let mut dismiss = None;
        for (i, e) in self.errors.iter().enumerate() {
            ui.horizontal(|ui| {
                ui.colored_label(egui::Color32::LIGHT_RED, e);
                if ui.small_button("dismiss").clicked() {
                    dismiss = Some(i);
                }
            });
        }
        if let Some(i) = dismiss {
            self.errors.remove(i);
        }
    }

    fn take_screenshot_when_ready(&mut self, ctx: &egui::Context) {
        let Some(path) = self.screenshot.clone() else {
            return;
        };
        if !self.canvas.has_image() {
            return;
        }
        self.frames_with_image += 1;
        if self.frames_with_image == 3 {
            ctx.request_screenshot(move |image: Arc<egui::ColorImage>| {
                let [w, h] = image.size;
                let rgb: Vec<u8> = image
                    .pixels
                    .iter()
                    .flat_map(|c| [c.r(), c.g(), c.b()])
                    .collect();
                if let Err(e) = crate::io::image::save_png(&path, &rgb, w, h, None) {
                    eprintln!("screenshot: {e}");
                }
            });
        }
        if self.frames_with_image == 8 {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        ctx.request_repaint();
    }
}

fn section(ui: &mut egui::Ui, title: &str, open: bool, body: impl FnOnce(&mut egui::Ui)) {
    egui::CollapsingHeader::new(title)
        .default_open(open)
        .show(ui, body);
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
