//! View & performance: zoom, render time, slider-to-image latency, UI frame time, backend.

use super::PanelCtx;

pub fn show(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    let shown = cx.shown;
    let stats = Stats {
        render_ms: shown.render_ms,
        latency_ms: shown.latency_ms,
        preview: shown.preview_latency.map(|(_, ms, res)| (ms, res)),
        cache_bytes: shown.cache_bytes,
        frame_ms: ui.ctx().input(|i| i.stable_dt) * 1e3,
        ui_ms: cx.ui_ms,
        backend: cx.model.map(|m| m.backend.as_str()),
        texture_path: shown.canvas.path_description(),
        bf16: crate::kernels::cpu::precision() == crate::kernels::cpu::Precision::Bf16,
    };
    draw(ui, &mut cx.state.zoom, &stats);
}

pub struct Stats<'a> {
    pub render_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    /// Request → preview (ms) and the preview's resolution, when the last edit showed one.
    pub preview: Option<(f64, usize)>,
    pub cache_bytes: u64,
    pub frame_ms: f32,
    pub ui_ms: f32,
    pub backend: Option<&'a str>,
    pub texture_path: &'a str,
    /// The CPU GEMMs run in bf16 (`--precision bf16`).
    pub bf16: bool,
}

fn draw(ui: &mut egui::Ui, zoom: &mut u32, stats: &Stats) {
    ui.horizontal(|ui| {
        ui.label("zoom");
        ui.selectable_value(zoom, 0, "fit");
        for z in 1..=4 {
            ui.selectable_value(zoom, z, format!("{z}×"));
        }
    });
    if let Some(ms) = stats.render_ms {
        ui.label(format!("render {ms:.1} ms"));
    }
    if let Some((ms, res)) = stats.preview {
        ui.label(format!("edit to preview {ms:.1} ms ({res}×{res})"));
    }
    if let Some(ms) = stats.latency_ms {
        ui.label(format!("edit to full image {ms:.1} ms"));
    }
    if stats.cache_bytes > 0 {
        ui.label(
            egui::RichText::new(format!(
                "kept for incremental renders: {:.1} MiB",
                stats.cache_bytes as f64 / (1 << 20) as f64
            ))
            .small(),
        );
    }
    ui.label(format!(
        "UI frame {:.1} ms (building it: {:.2} ms)",
        stats.frame_ms, stats.ui_ms
    ));
    if let Some(b) = stats.backend {
        ui.label(egui::RichText::new(b).small());
    }
    if stats.bf16 {
        ui.label(
            egui::RichText::new("CPU GEMMs in bf16 (--precision bf16): not float32-exact").small(),
        );
    }
    ui.label(egui::RichText::new(stats.texture_path).small());
}
