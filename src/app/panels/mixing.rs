//! Style mixing: a second seed, one checkbox per W+ layer (labelled with its resolution),
//! coarse/middle/fine presets and the A | B | mix view.

use super::PanelCtx;
use crate::latent::recipe::Recipe;

pub fn show(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    if let Some(model) = cx.model {
        let state = &mut *cx.state;
        draw(ui, &mut state.args, &mut state.compare, &model.layer_res());
    }
}

fn draw(ui: &mut egui::Ui, args: &mut Recipe, compare: &mut bool, layer_res: &[usize]) {
    let num_ws = layer_res.len();
    ui.horizontal(|ui| {
        super::labelled(
            ui,
            "source B seed",
            egui::DragValue::new(&mut args.mix_seed)
                .range(0..=u32::MAX as u64)
                .speed(0.2),
        );
        ui.checkbox(compare, "show A | B | mix");
    });
    ui.horizontal(|ui| {
        let third = num_ws / 3;
        for (label, range) in [
            ("none", 0..0),
            ("coarse", 0..third),
            ("middle", third..2 * third),
            ("fine", 2 * third..num_ws),
        ] {
            if ui.button(label).clicked() {
                args.mix_layers = range.collect();
            }
        }
    });
    egui::Grid::new("mix_layers").num_columns(4).show(ui, |ui| {
        for (l, res) in layer_res.iter().enumerate() {
            let mut on = args.mix_layers.contains(&l);
            if ui.checkbox(&mut on, format!("{l}: {res}²")).changed() {
                if on {
                    args.mix_layers.push(l);
                    args.mix_layers.sort_unstable();
                } else {
                    args.mix_layers.retain(|&x| x != l);
                }
            }
            if l % 4 == 3 {
                ui.end_row();
            }
        }
    });
}
