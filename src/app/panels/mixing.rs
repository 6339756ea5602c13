//! Style mixing: a second seed and one checkbox per W+ layer (labelled with its resolution).

use crate::app::state::RenderArgs;

pub fn show(ui: &mut egui::Ui, args: &mut RenderArgs, num_ws: usize) {
    ui.horizontal(|ui| {
        ui.label("source seed");
        ui.add(
            egui::DragValue::new(&mut args.mix_seed)
                .range(0..=u32::MAX as u64)
                .speed(0.2),
        );
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
        for l in 0..num_ws {
            let res = 4usize << (l / 2);
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
