//! The central image area: the mix (or A | B | mix side by side), zoom, and dragging the image
//! to move through the seed lattice.

use super::worker::Pixels;

/// Lattice steps for a drag across the whole shown image.
const DRAG_STEPS_PER_IMAGE: f32 = 2.0;

/// One shown image: its egui texture id and, for host uploads, the handle that owns it.
struct Shown {
    label: &'static str,
    id: egui::TextureId,
    host: Option<egui::TextureHandle>,
}

#[derive(Default)]
pub struct Canvas {
    /// The mix first (as the worker sends them).
    shown: Vec<Shown>,
    size: usize,
    on_gpu: bool,
}

impl Canvas {
    /// Shows newly rendered images: GPU textures as they are, host pixels uploaded into egui
    /// textures (reused from frame to frame).
    pub fn show_images(
        &mut self,
        ctx: &egui::Context,
        size: usize,
        images: &[(&'static str, Pixels)],
    ) {
        self.shown.truncate(images.len());
        for (i, (label, px)) in images.iter().enumerate() {
            let (id, host) = match px {
                Pixels::Gpu(id) => (*id, None),
                Pixels::Host(rgb) => {
                    let image = egui::ColorImage::from_rgb([size, size], rgb);
                    match self.shown.get_mut(i).and_then(|s| s.host.take()) {
                        Some(mut t) => {
                            t.set(image, egui::TextureOptions::NEAREST);
                            (t.id(), Some(t))
                        }
                        None => {
                            let t = ctx.load_texture(
                                format!("generated-{label}"),
                                image,
                                egui::TextureOptions::NEAREST,
                            );
                            (t.id(), Some(t))
                        }
                    }
                }
            };
            let entry = Shown { label, id, host };
            match self.shown.get_mut(i) {
                Some(s) => *s = entry,
                None => self.shown.push(entry),
            }
        }
        self.on_gpu = matches!(images.first(), Some((_, Pixels::Gpu(_))));
        self.size = size;
    }

    pub fn has_image(&self) -> bool {
        !self.shown.is_empty()
    }

    /// How images reach the screen, for the performance panel.
    pub fn path_description(&self) -> &'static str {
        if self.on_gpu {
            "image: GPU texture (no host copy)"
        } else {
            "image: host pixels -> egui texture"
        }
    }

    /// Draws the images; returns the drag on the main image in lattice steps.
    pub fn ui(&mut self, ui: &mut egui::Ui, zoom: u32, model_loaded: bool) -> egui::Vec2 {
        if self.shown.is_empty() {
            if model_loaded {
                ui.centered_and_justified(|ui| ui.spinner());
            }
            return egui::Vec2::ZERO;
        }
        let n = self.shown.len() as f32;
        let avail = ui.available_size();
        let side = match zoom {
            0 => ((avail.x - 8.0 * (n - 1.0)) / n)
                .min(avail.y - 24.0)
                .max(32.0),
            z => (self.size as u32 * z) as f32,
        };
        // A | B | mix: sources first, the result last.
        let mut order: Vec<usize> = (1..self.shown.len()).collect();
        order.push(0);
        let mut drag = egui::Vec2::ZERO;
        egui::ScrollArea::both().show(ui, |ui| {
            ui.horizontal(|ui| {
                for i in order {
                    let shown = &self.shown[i];
                    ui.vertical(|ui| {
                        if n > 1.0 {
                            ui.label(shown.label);
                        }
                        let r = ui.add(
                            egui::Image::new(egui::load::SizedTexture::new(shown.id, [side, side]))
                                .alt_text(format!("generated image {}", shown.label))
                                .sense(egui::Sense::drag()),
                        );
                        if i == 0 && r.dragged() {
                            drag = r.drag_delta() / side * DRAG_STEPS_PER_IMAGE;
                        }
                        if i == 0 {
                            r.on_hover_cursor(egui::CursorIcon::Grab);
                        }
                    });
                }
            });
        });
        drag
    }
}
