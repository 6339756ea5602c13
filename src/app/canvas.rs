//! The central image area: the mix (or A | B | mix side by side), zoom, and dragging the image
//! to move through the seed lattice.

use super::panels::attention::group_colour;
use super::protocol::Pixels;
use crate::analysis::attention::AttentionMaps;

/// Attention weights drawn over the main image.
pub struct Overlay<'a> {
    pub maps: &'a AttentionMaps,
    /// Only this head group (`None`: all, each in its colour).
    pub group: Option<usize>,
}

/// What the user did on the image this frame.
#[derive(Debug, Default)]
pub struct CanvasEvents {
    /// Drag on the main image, in lattice steps.
    pub drag: egui::Vec2,
    /// A click on the main image, in image pixels.
    pub clicked: Option<(usize, usize)>,
}

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
    /// The model's resolution (zoom and clicks are in its pixels).
    size: usize,
    /// The shown images' resolution when they are a preview of an earlier stage.
    preview: Option<usize>,
    on_gpu: bool,
}

impl Canvas {
    /// Shows newly rendered images at `resolution` for a model of `size`: GPU textures as they
    /// are, host pixels uploaded into egui textures (reused from frame to frame). A preview
    /// (not `complete`; the second-to-last stage's is already at full size) is sampled
    /// bilinearly when smaller, the final image nearest.
    pub fn show_images(
        &mut self,
        ctx: &egui::Context,
        (size, resolution): (usize, usize),
        complete: bool,
        images: &[(&'static str, Pixels)],
    ) {
        let options = if resolution < size {
            egui::TextureOptions::LINEAR
        } else {
            egui::TextureOptions::NEAREST
        };
        self.shown.truncate(images.len());
        for (i, (label, px)) in images.iter().enumerate() {
            let (id, host) = match px {
                Pixels::Gpu(id) => (*id, None),
                Pixels::Host(rgb) => {
                    let image = egui::ColorImage::from_rgb([resolution, resolution], rgb);
                    match self.shown.get_mut(i).and_then(|s| s.host.take()) {
                        Some(mut t) => {
                            t.set(image, options);
                            (t.id(), Some(t))
                        }
                        None => {
                            let t = ctx.load_texture(format!("generated-{label}"), image, options);
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
        self.preview = (!complete).then_some(resolution);
    }

    /// The resolution of the preview on screen, if the final image is still to come.
    pub fn preview(&self) -> Option<usize> {
        self.preview
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

    /// Draws the images (and the overlay on the main one); reports drags and clicks on it.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        zoom: u32,
        model_loaded: bool,
        overlay: Option<Overlay>,
    ) -> CanvasEvents {
        let mut events = CanvasEvents::default();
        if self.shown.is_empty() {
            if model_loaded {
                ui.centered_and_justified(|ui| ui.spinner());
            }
            return events;
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
        let size = self.size;
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
                                .sense(egui::Sense::click_and_drag()),
                        );
                        if i != 0 {
                            return;
                        }
                        if r.dragged() {
                            events.drag = r.drag_delta() / side * DRAG_STEPS_PER_IMAGE;
                        }
                        if r.clicked()
                            && let Some(pos) = r.interact_pointer_pos()
                        {
                            let rel = (pos - r.rect.min) / side * size as f32;
                            events.clicked = Some((
                                (rel.x.max(0.0) as usize).min(size - 1),
                                (rel.y.max(0.0) as usize).min(size - 1),
                            ));
                        }
                        if let Some(o) = &overlay {
                            draw_overlay(ui.painter_at(r.rect), r.rect, o);
                        }
                        if let Some(res) = self.preview {
                            preview_badge(ui.painter_at(r.rect), r.rect, res);
                        }
                        r.on_hover_cursor(egui::CursorIcon::Grab);
                    });
                }
            });
        });
        events
    }
}

/// "preview 32×32" in the image's corner while the final image is on its way.
fn preview_badge(painter: egui::Painter, rect: egui::Rect, resolution: usize) {
    let text = format!("preview {resolution}×{resolution}");
    let galley =
        painter.layout_no_wrap(text, egui::FontId::proportional(13.0), egui::Color32::WHITE);
    let pos = rect.left_top() + egui::vec2(6.0, 6.0);
    let bg = egui::Rect::from_min_size(pos, galley.size()).expand(3.0);
    painter.rect_filled(bg, 3.0, egui::Color32::from_black_alpha(160));
    painter.galley(pos, galley, egui::Color32::WHITE);
}

/// Each group's weights as translucent cells (opacity ∝ weight / the group's largest weight),
/// the query cell outlined.
fn draw_overlay(painter: egui::Painter, rect: egui::Rect, o: &Overlay) {
    let res = o.maps.resolution;
    let cell = rect.width() / res as f32;
    let cell_rect = |i: usize| {
        let (y, x) = (i / res, i % res);
        egui::Rect::from_min_size(
            rect.min + egui::vec2(x as f32 * cell, y as f32 * cell),
            egui::vec2(cell, cell),
        )
    };
    painter.rect_filled(rect, 0.0, egui::Color32::from_black_alpha(110));
    for g in o
        .maps
        .groups
        .iter()
        .filter(|g| o.group.is_none_or(|s| s == g.group))
    {
        let max = g.mean.iter().copied().fold(0f32, f32::max).max(1e-12);
        let colour = group_colour(g.group);
        for (i, &w) in g.mean.iter().enumerate().filter(|(_, w)| **w > 0.0) {
            let alpha = (w / max * 220.0) as u8;
            painter.rect_filled(
                cell_rect(i),
                0.0,
                egui::Color32::from_rgba_unmultiplied(colour.r(), colour.g(), colour.b(), alpha),
            );
        }
    }
    let (qx, qy) = o.maps.query;
    painter.rect_stroke(
        cell_rect(qy * res + qx),
        0.0,
        egui::Stroke::new(2.0, egui::Color32::WHITE),
        egui::StrokeKind::Outside,
    );
}
