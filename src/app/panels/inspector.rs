//! Layer inspector: any intermediate of the shown image — a block's output or attention
//! output, a stage's upsample, the ToRGB skip image — as one channel (or three as RGB), with
//! mean / std / max and the log-magnitude spectrum (computed only while it is open).

use super::PanelCtx;
use crate::analysis::inspect::Normalise;
use crate::app::state::{InspectorView, LayerKind};

pub fn show(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    let Some(model) = cx.model else {
        return;
    };
    let view = &mut cx.state.inspector;
    ui.checkbox(&mut view.open, "inspect a layer");
    if !view.open {
        return;
    }
    let stages = &model.config.stages;
    choose_layer(ui, view, stages.len());
    let site = view.site(stages.len());
    let Some((ins, [picture, spectrum])) = cx.shown.inspection.as_ref() else {
        ui.weak("computing…");
        return;
    };
    if ins.site != site || ins.channels != view.channels() {
        ui.weak("computing…");
    }
    let channels = ins.layer_channels;
    ui.horizontal(|ui| {
        let last = channels.saturating_sub(1);
        let n = if view.rgb { 3 } else { 1 };
        for (i, c) in view.channels.iter_mut().take(n).enumerate() {
            let name = ["channel", "green", "blue"][i];
            let name = if view.rgb && i == 0 { "red" } else { name };
            super::labelled(ui, name, egui::DragValue::new(c).range(0..=last));
        }
        ui.checkbox(&mut view.rgb, "RGB");
    });
    ui.horizontal(|ui| {
        ui.selectable_value(&mut view.norm, Normalise::PerChannel, "per channel");
        ui.selectable_value(&mut view.norm, Normalise::Global, "whole layer");
    });
    ui.label(format!(
        "{}: {channels} channels, {}×{}",
        ins.site, ins.size, ins.size
    ));
    for (c, (mean, std, max)) in ins.channels.iter().zip(&ins.stats) {
        ui.monospace(format!(
            "ch {c:3}  mean {mean:+.3}  std {std:.3}  max {max:+.3}"
        ));
    }
    let side = (ui.available_width() / 2.0 - 6.0).clamp(64.0, 200.0);
    ui.horizontal(|ui| {
        for (texture, alt) in [(picture, "layer channels"), (spectrum, "layer spectrum")] {
            ui.add(egui::Image::new((texture.id(), egui::vec2(side, side))).alt_text(alt));
        }
    });
    ui.weak("left: the channel(s); right: log |FFT|, zero frequency at the centre");
}

fn choose_layer(ui: &mut egui::Ui, view: &mut InspectorView, stages: usize) {
    view.stage = view.stage.min(stages.saturating_sub(1));
    ui.horizontal_wrapped(|ui| {
        ui.label("stage");
        for s in 0..stages {
            ui.selectable_value(&mut view.stage, s, format!("{}²", 4usize << s));
        }
    });
    ui.horizontal_wrapped(|ui| {
        for (kind, text) in [
            (LayerKind::Block0, "block 0"),
            (LayerKind::Block1, "block 1"),
            (LayerKind::Attn0, "attn 0"),
            (LayerKind::Attn1, "attn 1"),
            (LayerKind::Upsample, "upsample"),
            (LayerKind::ToRgb, "ToRGB"),
        ] {
            let exists = kind != LayerKind::Upsample || view.stage + 1 < stages;
            ui.add_enabled_ui(exists, |ui| ui.selectable_value(&mut view.kind, kind, text));
        }
    });
}
