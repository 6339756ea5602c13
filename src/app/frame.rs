//! One frame of the explorer window: input, the side panel (a loop over the panel table),
//! the image with its messages, and the requests the frame's edits call for.

use super::action::Action;
use super::protocol::{AttentionRequest, Request};
use super::{ExplorerApp, canvas, panels};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

impl ExplorerApp {
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
            let overlay = match (&self.shown.attention, view.open) {
                (Some(maps), true) => Some(canvas::Overlay {
                    maps,
                    group: view.group,
                }),
                _ => None,
            };
            let events = self
                .shown
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
        let wanted = self.render_args();
        if self.model.is_some()
            && self.jobs.loading.is_none()
            && self.jobs.requested.as_ref() != Some(&wanted)
        {
            let stamp = self.worker.send(Request::Render(wanted.clone()));
            self.jobs.asked_at.insert(stamp, Instant::now());
            self.jobs.requested = Some(wanted);
        }
        self.request_attention();
        self.request_inspection();
        let jobs = &self.jobs;
        if jobs.export.is_some()
            || jobs.loading.is_some()
            || jobs.directions_progress.is_some()
            || jobs.projection.is_some()
        {
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
        let request = AttentionRequest {
            recipe: self.state.args.clone(),
            stage: view.stage.min(model.config.stages.len().saturating_sub(1)),
            block: view.block,
            pixel,
        };
        if self.jobs.loading.is_none()
            && let Some(r) = newly_asked(&mut self.jobs.attention_asked, request)
        {
            self.worker.send(Request::Attention(r));
        }
    }

    /// Asks for the layer inspector's picture when it is open and its inputs changed.
    fn request_inspection(&mut self) {
        let view = &self.state.inspector;
        let (Some(model), true) = (&self.model, view.open) else {
            return;
        };
        let request = crate::app::protocol::InspectRequest {
            recipe: self.state.args.clone(),
            site: view.site(model.config.stages.len()),
            channels: view.channels(),
            norm: view.norm,
        };
        if self.jobs.loading.is_none()
            && let Some(r) = newly_asked(&mut self.jobs.inspect_asked, request)
        {
            self.worker.send(Request::Inspect(r));
        }
    }

    fn side_panel(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
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
                    let mut cx = panels::PanelCtx {
                        state: &mut self.state,
                        model: self.model.as_ref(),
                        shown: &self.shown,
                        jobs: &self.jobs,
                        ui_ms: self.ui_ms,
                        actions,
                    };
                    for panel in panels::PANELS {
                        if panel.needs_model && cx.model.is_none() {
                            continue;
                        }
                        egui::CollapsingHeader::new(panel.title)
                            .default_open(panel.open)
                            .show(ui, |ui| (panel.show)(ui, &mut cx));
                    }
                });
            });
    }

    fn messages(&mut self, ui: &mut egui::Ui) {
        if let Some(s) = &self.messages.status {
            ui.label(egui::RichText::new(s).small());
        }
        let mut dismiss = None;
        for (i, e) in self.messages.errors.iter().enumerate() {
            ui.horizontal(|ui| {
                ui.colored_label(egui::Color32::LIGHT_RED, e);
                if ui.small_button("dismiss").clicked() {
                    dismiss = Some(i);
                }
            });
        }
        if let Some(i) = dismiss {
            self.messages.errors.remove(i);
        }
    }

    fn take_screenshot_when_ready(&mut self, ctx: &egui::Context) {
        let Some(shot) = &mut self.screenshot else {
            return;
        };
        if !self.shown.canvas.has_image() {
            return;
        }
        shot.frames_with_image += 1;
        if shot.frames_with_image == 3 {
            let path = shot.path.clone();
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
        if shot.frames_with_image == 8 {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        ctx.request_repaint();
    }
}

/// `request`, unless it is the one asked for last (then nothing: its answer is on its way).
fn newly_asked<R: Clone + PartialEq>(asked: &mut Option<R>, request: R) -> Option<R> {
    if asked.as_ref() == Some(&request) {
        return None;
    }
    *asked = Some(request.clone());
    Some(request)
}
