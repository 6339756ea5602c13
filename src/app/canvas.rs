//! The central image area: the mix (or A | B | mix side by side), zoom, and dragging the image
//! to move through the seed lattice.

/// Lattice steps for a drag across the whole shown image.
const DRAG_STEPS_PER_IMAGE: f32 = 2.0;

#[derive(Default)]
pub struct Canvas {
    /// `(label, texture)`, the mix first (as the worker sends them).
    textures: Vec<(&'static str, egui::TextureHandle)>,
    size: usize,
}

impl Canvas {
    /// Uploads RGB8 images (model resolution) as egui textures, reusing the old ones.
    pub fn show_images(&mut self, ctx: &egui::Context, size: usize, images: &[(&'static str, Vec<u8>)]) {
        self.textures.truncate(images.len());
        for (i, (label, rgb)) in images.iter().enumerate() {
            let image = egui::ColorImage::from_rgb([size, size], rgb);
            match self.textures.get_mut(i) {
                Some((l, t)) => {
                    *l = label;
                    t.set(image, egui::TextureOptions::NEAREST);
                }
                None => self.textures.push((
                    label,
                    ctx.load_texture(format!("generated-{label}"), image, egui::TextureOptions::NEAREST),
                )),
            }
        }
        self.size = size;
    }

    pub fn has_image(&self) -> bool {
        !self.textures.is_empty()
    }

    /// How images reach the screen, for the performance panel.
    pub fn path_description(&self) -> &'static str {
        "image: host copy → egui texture"
    }

    /// Draws the images; returns the drag on the main image in lattice steps.
    pub fn ui(&mut self, ui: &mut egui::Ui, zoom: u32, model_loaded: bool) -> egui::Vec2 {
        if self.textures.is_empty() {
            if model_loaded {
                ui.centered_and_justified(|ui| ui.spinner());
            }
            return egui::Vec2::ZERO;
        }
        let n = self.textures.len() as f32;
        let avail = ui.available_size();
        let side = match zoom {
            0 => ((avail.x - 8.0 * (n - 1.0)) / n).min(avail.y - 24.0).max(32.0),
            z => (self.size as u32 * z) as f32,
        };
        // A | B | mix: sources first, the result last.
        let mut order: Vec<usize> = (1..self.textures.len()).collect();
        order.push(0);
        let mut drag = egui::Vec2::ZERO;
        egui::ScrollArea::both().show(ui, |ui| {
            ui.horizontal(|ui| {
                for i in order {
                    let (label, tex) = &self.textures[i];
                    ui.vertical(|ui| {
                        if n > 1.0 {
                            ui.label(*label);
                        }
                        let r = ui.add(
                            egui::Image::new(egui::load::SizedTexture::new(tex.id(), [side, side]))
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
