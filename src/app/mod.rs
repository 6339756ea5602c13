//! The explorer: an eframe window whose side panel edits a [`RenderArgs`] and whose central
//! panel shows the newest image the render thread produced. The UI thread never runs the model.

pub mod panels;
pub mod state;
pub mod worker;

use crate::backend::BackendKind;
use state::AppState;
use std::path::PathBuf;
use std::sync::Arc;
use worker::{ModelInfo, Request, Response, Worker};

const STATE_KEY: &str = "stylenat-explorer";

pub struct ExplorerApp {
    state: AppState,
    worker: Worker,
    model: Option<ModelInfo>,
    loading: bool,
    /// Arguments of the last render request (to skip duplicates).
    requested: Option<state::RenderArgs>,
    texture: Option<egui::TextureHandle>,
    image_size: usize,
    render_ms: Option<f64>,
    errors: Vec<String>,
    /// `STYLENAT_SCREENSHOT`: save a screenshot once an image is shown, then quit.
    screenshot: Option<PathBuf>,
    frames_with_image: u32,
}

impl ExplorerApp {
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        ckpt: Option<PathBuf>,
        backend: BackendKind,
    ) -> std::io::Result<Self> {
        let state: AppState = cc
            .storage
            .and_then(|s| eframe::get_value(s, STATE_KEY))
            .unwrap_or_default();
        let ctx = cc.egui_ctx.clone();
        let mut app = Self {
            state,
            worker: Worker::spawn(backend, move || ctx.request_repaint())?,
            model: None,
            loading: false,
            requested: None,
            texture: None,
            image_size: 0,
            render_ms: None,
            errors: Vec::new(),
            screenshot: std::env::var_os("STYLENAT_SCREENSHOT").map(PathBuf::from),
            frames_with_image: 0,
        };
        if let Some(p) = ckpt.or_else(|| app.state.recent.first().cloned()) {
            app.open(p);
        }
        Ok(app)
    }

    fn open(&mut self, path: PathBuf) {
        self.loading = true;
        self.requested = None;
        self.worker.send(Request::Load(path));
    }

    fn receive(&mut self, ctx: &egui::Context) {
        for r in self.worker.take() {
            match r {
                Response::Loaded(info) => {
                    self.loading = false;
                    self.state.remember(info.path.clone());
                    self.model = Some(info);
                    self.requested = None; // render the new model
                }
                Response::Image { rgb, size, ms, .. } => {
                    let image = egui::ColorImage::from_rgb([size, size], &rgb);
                    match &mut self.texture {
                        Some(t) => t.set(image, egui::TextureOptions::NEAREST),
                        None => {
                            self.texture = Some(ctx.load_texture(
                                "generated",
                                image,
                                egui::TextureOptions::NEAREST,
                            ))
                        }
                    }
                    self.image_size = size;
                    self.render_ms = Some(ms);
                }
                Response::Error(e) => {
                    self.loading = false;
                    self.errors.push(e);
                }
            }
        }
    }

    fn take_screenshot_when_ready(&mut self, ctx: &egui::Context) {
        let Some(path) = self.screenshot.clone() else {
            return;
        };
        if self.texture.is_none() {
            return;
        }
        self.frames_with_image += 1;
        if self.frames_with_image == 3 {
            ctx.request_screenshot(move |image: Arc<egui::ColorImage>| {
                let [w, h] = image.size;
                let rgba: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
                let rgb: Vec<u8> = rgba.chunks(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
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

impl eframe::App for ExplorerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.receive(&ctx);
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if let Some(p) = dropped.into_iter().next() {
            self.open(p);
        }
        let num_ws = self.model.as_ref().map_or(0, |m| m.num_ws);

        egui::Panel::left("controls")
            .resizable(true)
            .default_size(330.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    ui.heading("StyleNAT Explorer");
                    egui::CollapsingHeader::new("Model")
                        .default_open(true)
                        .show(ui, |ui| {
                            if let Some(p) = panels::model::show(
                                ui,
                                &self.state.recent,
                                self.model.as_ref(),
                                self.loading,
                            ) {
                                self.open(p);
                            }
                        });
                    ui.add_enabled_ui(self.model.is_some(), |ui| {
                        egui::CollapsingHeader::new("Latent")
                            .default_open(true)
                            .show(ui, |ui| {
                                panels::latent::show(ui, &mut self.state.args);
                            });
                        egui::CollapsingHeader::new("Truncation")
                            .default_open(true)
                            .show(ui, |ui| {
                                panels::truncation::show(ui, &mut self.state.args, num_ws);
                            });
                        egui::CollapsingHeader::new("Style mixing")
                            .default_open(false)
                            .show(ui, |ui| {
                                panels::mixing::show(ui, &mut self.state.args, num_ws);
                            });
                    });
                    egui::CollapsingHeader::new("View & performance")
                        .default_open(true)
                        .show(ui, |ui| {
                            let stats = panels::view::Stats {
                                render_ms: self.render_ms,
                                frame_ms: ctx.input(|i| i.stable_dt) * 1e3,
                                backend: self.model.as_ref().map(|m| m.backend.as_str()),
                            };
                            panels::view::show(ui, &mut self.state.zoom, &stats);
                        });
                });
            });

        egui::CentralPanel::default().show(ui, |ui| {
            for (i, e) in self.errors.clone().iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.colored_label(egui::Color32::LIGHT_RED, e);
                    if ui.small_button("✕").clicked() {
                        self.errors.remove(i);
                    }
                });
            }
            if let Some(t) = &self.texture {
                let avail = ui.available_size();
                let side = match self.state.zoom {
                    0 => avail.x.min(avail.y).max(64.0),
                    z => (self.image_size as u32 * z) as f32,
                };
                ui.centered_and_justified(|ui| {
                    ui.add(egui::Image::new(egui::load::SizedTexture::new(
                        t.id(),
                        [side, side],
                    )));
                });
            } else if self.model.is_some() {
                ui.centered_and_justified(|ui| ui.spinner());
            }
        });

        // Ask for a new image when the arguments changed (the worker keeps only the newest).
        if self.model.is_some()
            && !self.loading
            && self.requested.as_ref() != Some(&self.state.args)
        {
            self.worker.send(Request::Render(self.state.args.clone()));
            self.requested = Some(self.state.args.clone());
        }
        self.take_screenshot_when_ready(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STATE_KEY, &self.state);
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
        ..Default::default()
    };
    eframe::run_native(
        "StyleNAT Explorer",
        options,
        Box::new(move |cc| Ok(Box::new(ExplorerApp::new(cc, ckpt, backend)?))),
    )
    .map_err(|e| crate::Error::Backend(format!("could not open the window: {e}")))
}
