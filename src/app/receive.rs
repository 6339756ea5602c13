//! The UI thread's side of the protocol: each reply from the render thread updates what is
//! shown, the jobs in flight, or the messages.

use super::protocol::{Job, Reply};
use super::{ExplorerApp, LoadState, panels};
use crate::latent::recipe::Recipe;
use std::time::Instant;

impl ExplorerApp {
    /// Takes every reply that arrived since the last frame.
    pub(super) fn receive(&mut self, ctx: &egui::Context) {
        for reply in self.worker.take() {
            self.on_reply(ctx, reply);
        }
    }

    fn on_reply(&mut self, ctx: &egui::Context, reply: Reply) {
        let (jobs, shown, messages) = (&mut self.jobs, &mut self.shown, &mut self.messages);
        match reply {
            Reply::Loading {
                path,
                stage,
                fraction,
            } => {
                let started = jobs
                    .loading
                    .as_ref()
                    .map_or_else(Instant::now, |l| l.started);
                jobs.loading = Some(LoadState {
                    path,
                    stage,
                    fraction,
                    started,
                });
            }
            Reply::LoadCancelled => {
                jobs.loading = None;
                messages.status = Some("loading cancelled; the previous model stays".into());
            }
            Reply::Loaded(info) => {
                jobs.loading = None;
                self.state.remember(info.path.clone());
                self.state.fit_to(info.num_ws(), info.w_dim());
                messages.status = Some(format!("loaded {}", panels::model::file_name(&info.path)));
                // Directions and maps belong to the previous model.
                shown.directions = None;
                shown.attention = None;
                jobs.attention_asked = None;
                shown.inspection = None;
                jobs.inspect_asked = None;
                self.model = Some(info);
                jobs.requested = None; // render the new model
            }
            Reply::BackendChanged(description) => {
                if let Some(m) = &mut self.model {
                    m.backend = description;
                }
            }
            Reply::Image(r) => {
                if let Some(t) = jobs.asked_at.get(&r.stamp).copied() {
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    if r.complete {
                        shown.latency_ms = Some(ms);
                        jobs.asked_at.remove(&r.stamp);
                        // Only the preview of this very request is worth showing.
                        shown.preview_latency = shown.preview_latency.filter(|p| p.0 == r.stamp);
                    } else {
                        shown.preview_latency = Some((r.stamp, ms, r.resolution));
                    }
                }
                // Requests older than this one were dropped by the worker.
                jobs.asked_at = jobs.asked_at.split_off(&r.stamp);
                shown.cache_bytes = r.cache_bytes;
                shown
                    .canvas
                    .show_images(ctx, (r.size, r.resolution), r.complete, &r.images);
                shown.render_ms = Some(r.ms);
                shown.wplus = Some(r.wplus);
                shown.args = Some(r.args);
            }
            Reply::ExportProgress { done, total } => {
                if let Some(e) = &mut jobs.export {
                    (e.done, e.total) = (done, total);
                }
            }
            Reply::Exported(msg) => {
                jobs.export = None;
                messages.status = Some(msg);
            }
            Reply::ExportCancelled => {
                jobs.export = None;
                messages.status = Some("export cancelled; nothing was written".into());
            }
            Reply::Attention(maps) => shown.attention = Some(maps),
            Reply::ProjectProgress {
                step,
                total,
                loss,
                preview,
            } => {
                if let Some(run) = &mut jobs.projection {
                    (run.step, run.total, run.loss) = (step, total, loss);
                    if let Some(rgb) = preview {
                        let s = (rgb.len() / 3).isqrt();
                        let image = egui::ColorImage::from_rgb([s, s], &rgb);
                        let options = egui::TextureOptions::NEAREST;
                        match &mut run.preview {
                            Some(t) => t.set(image, options),
                            None => {
                                run.preview = Some(ctx.load_texture("projection", image, options))
                            }
                        }
                    }
                }
            }
            Reply::Projected {
                name,
                wplus,
                psnr,
                terms,
            } => {
                jobs.projection = None;
                if let Some(m) = &self.model {
                    // The projected W+ as it is (no truncation, mixing or edits on top), in one
                    // assignment: one undo step.
                    let plain = Recipe {
                        seed_mode: self.state.args.seed_mode,
                        ..Recipe::default()
                    };
                    self.state.args = plain.with_latent(name.clone(), m.num_ws(), wplus);
                }
                messages.status = Some(format!("{name}: {psnr:.1} dB PSNR ({terms})"));
            }
            Reply::ProjectCancelled => {
                jobs.projection = None;
                messages.status = Some("projection cancelled; the latent is unchanged".into());
            }
            Reply::Inspection(ins) => {
                let s = ins.size;
                let grey: Vec<u8> = ins.spectrum.iter().flat_map(|&g| [g, g, g]).collect();
                let texture = |name: &str, rgb: &[u8]| {
                    let image = egui::ColorImage::from_rgb([s, s], rgb);
                    ctx.load_texture(name, image, egui::TextureOptions::NEAREST)
                };
                let textures = [
                    texture("inspector", &ins.picture),
                    texture("spectrum", &grey),
                ];
                shown.inspection = Some((ins, textures));
            }
            Reply::DirectionsProgress { done, total } => {
                jobs.directions_progress = Some((done, total));
            }
            Reply::Directions(info) => {
                jobs.directions_progress = None;
                messages.status = Some(format!("directions: {}", info.description));
                shown.directions = Some(info);
            }
            Reply::Failed { job, message } => {
                match job {
                    Job::Load => jobs.loading = None,
                    Job::Export => jobs.export = None,
                    Job::Directions => jobs.directions_progress = None,
                    Job::Project => jobs.projection = None,
                    Job::Render | Job::Attention | Job::Inspect | Job::Backend => {}
                }
                messages.errors.push(message);
            }
        }
    }
}
