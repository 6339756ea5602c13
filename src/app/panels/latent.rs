//! Latent: seed, seed convention, random and step buttons, the seed-lattice position (also
//! changed by dragging the image) and its animation; projecting a picture into W+.

use super::PanelCtx;
use crate::app::action::Action;
use crate::app::file_dialog::FileTask;
use crate::app::state::AppState;
use crate::latent::SeedMode;
use crate::latent::recipe::LATTICE_ROW;

pub fn show(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    draw(ui, cx.state);
    projection(ui, cx);
}

/// "Project image…", and while a projection runs: its progress, reconstruction and Cancel.
fn projection(ui: &mut egui::Ui, cx: &mut PanelCtx) {
    let Some(run) = &cx.jobs.projection else {
        ui.horizontal(|ui| {
            if ui
                .button("Project image…")
                .on_hover_text("find the latent of a picture (or drop a picture on the window)")
                .clicked()
            {
                cx.actions.push(Action::Choose(FileTask::ProjectImage));
            }
            ui.add(
                egui::DragValue::new(&mut cx.state.projection_steps)
                    .range(10..=5000)
                    .suffix(" steps"),
            );
        });
        return;
    };
    let name = super::model::file_name(&run.target);
    let done = run.step as f32 / run.total.max(1) as f32;
    let elapsed = run.started.elapsed().as_secs_f32();
    let eta = if run.step > 0 {
        elapsed / run.step as f32 * (run.total - run.step) as f32
    } else {
        f32::NAN
    };
    ui.label(format!("projecting {name}"));
    ui.add(egui::ProgressBar::new(done).text(format!(
        "{}/{} · loss {:.4} · ETA {eta:.0} s",
        run.step, run.total, run.loss
    )));
    ui.horizontal(|ui| {
        if let Some(t) = &run.preview {
            ui.add(egui::Image::new((t.id(), egui::vec2(96.0, 96.0))).alt_text("reconstruction"));
        }
        if ui.button("Cancel projection").clicked() {
            cx.actions.push(Action::CancelProject);
        }
    });
}

fn draw(ui: &mut egui::Ui, state: &mut AppState) {
    let args = &mut state.args;
    ui.horizontal(|ui| {
        let mut seed = args.seed;
        let r = super::labelled(
            ui,
            "seed",
            egui::DragValue::new(&mut seed)
                .range(0..=u32::MAX as u64)
                .speed(0.2),
        );
        if r.changed() {
            args.seed = seed;
            args.drift = [0.0; 2];
        }
        if ui.button("−").on_hover_text("previous seed").clicked() {
            args.seed = args.seed.saturating_sub(1);
            args.drift = [0.0; 2];
        }
        if ui.button("+").on_hover_text("next seed").clicked() {
            args.seed = (args.seed + 1).min(u32::MAX as u64);
            args.drift = [0.0; 2];
        }
        if ui.button("random").clicked() {
            args.seed = random_seed();
            args.drift = [0.0; 2];
        }
    });
    ui.horizontal(|ui| {
        ui.label("convention");
        ui.selectable_value(&mut args.seed_mode, SeedMode::Stylenat, "StyleNAT (torch)");
        ui.selectable_value(&mut args.seed_mode, SeedMode::Nvlabs, "NVlabs (numpy)");
    });
    let (x, y) = (
        (args.seed % LATTICE_ROW) as f32 + args.drift[0],
        (args.seed / LATTICE_ROW) as f32 + args.drift[1],
    );
    ui.label(format!("lattice position ({x:.2}, {y:.2}) — drag the image to move"))
        .on_hover_text(format!(
            "Seed s sits at (s mod {LATTICE_ROW}, s div {LATTICE_ROW}); between seeds, W is blended bilinearly."
        ));
    ui.horizontal(|ui| {
        ui.add(
            egui::Slider::new(&mut state.animate, 0.0..=2.0)
                .suffix(" seeds/s")
                .text("animate"),
        );
        if state.animate != 0.0 && ui.button("stop").clicked() {
            state.animate = 0.0;
        }
    });
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs())
        .unwrap_or(0);
    (nanos.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % (u32::MAX as u64 + 1)
}
