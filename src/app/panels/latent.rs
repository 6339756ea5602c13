//! Latent: seed, seed convention, random and step buttons.

use crate::app::state::RenderArgs;
use crate::latent::SeedMode;

pub fn show(ui: &mut egui::Ui, args: &mut RenderArgs) {
    ui.horizontal(|ui| {
        ui.label("seed");
        ui.add(
            egui::DragValue::new(&mut args.seed)
                .range(0..=u32::MAX as u64)
                .speed(0.2),
        );
        if ui.button("−").on_hover_text("previous seed").clicked() {
            args.seed = args.seed.saturating_sub(1);
        }
        if ui.button("+").on_hover_text("next seed").clicked() {
            args.seed = (args.seed + 1).min(u32::MAX as u64);
        }
        if ui.button("random").clicked() {
            args.seed = random_seed();
        }
    });
    ui.horizontal(|ui| {
        ui.label("convention");
        ui.selectable_value(&mut args.seed_mode, SeedMode::Stylenat, "StyleNAT (torch)");
        ui.selectable_value(&mut args.seed_mode, SeedMode::Nvlabs, "NVlabs (numpy)");
    });
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs())
        .unwrap_or(0);
    (nanos.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % (u32::MAX as u64 + 1)
}
