//! `stylenat bench --gradients`: seconds per step of the two things that differentiate the
//! generator — a projection step (batch 1, gradients to W+) on the given model, and a training
//! step at the built-in model's settings — with NA differentiated op by op
//! ([`KernelPath::Tensor`]) and with its fused backward ([`KernelPath::Differentiable`]).

use super::bench::median;
use crate::engine::Engine;
use crate::kernels::KernelPath;
use crate::project::{ProjectConfig, project};
use crate::train::data::Dataset;
use crate::train::{TrainConfig, Trainer, small_configs};
use anyhow::Result;
use serde::Serialize;
use std::time::Instant;

#[derive(Serialize)]
pub struct PathTiming {
    /// `tensor-ops` (burn differentiates gathers and reductions) or `fused` (our backward).
    na_backward: String,
    ms_per_step_median: f64,
}

#[derive(Serialize)]
pub struct GradResult {
    model: String,
    backend: String,
    runs: usize,
    /// One projection step on `model`: W+ → image → multi-scale MSE → gradient → Adam.
    projection: Vec<PathTiming>,
    /// One training step (G and D, R1 every 4th) of the built-in model's architecture
    /// (32×32, width 64, w 128) at batch 16, on random images.
    train_builtin: Vec<PathTiming>,
}

const PATHS: [(KernelPath, &str); 2] = [
    (KernelPath::Tensor, "tensor-ops"),
    (KernelPath::Differentiable, "fused"),
];

pub fn measure(engine: &mut Engine, model: &str, runs: usize) -> Result<GradResult> {
    let s = engine.config().size;
    let target: Vec<f32> = (0..3 * s * s)
        .map(|i| ((i % 17) as f32 / 8.5) - 1.0)
        .collect();
    let mut projection = Vec::new();
    for (na, name) in PATHS {
        let cfg = ProjectConfig {
            steps: runs + 1,
            na,
            ..ProjectConfig::default()
        };
        // Step times from the progress callback; the first step (warm-up) is dropped.
        let mut times = Vec::new();
        let mut last = Instant::now();
        project(engine, &target, &cfg, 0, |_| {
            times.push(last.elapsed().as_secs_f64() * 1e3);
            last = Instant::now();
            true
        })?;
        let ms = median(times[1..].to_vec());
        eprintln!("projection step, NA backward {name}: {ms:.1} ms");
        projection.push(PathTiming {
            na_backward: name.into(),
            ms_per_step_median: ms,
        });
    }
    let device = engine.backend.device.clone();
    let config = small_configs::small(32, 64, 128);
    let train = TrainConfig::default();
    let mut rng = crate::rng::Rng::new(1);
    let images = 64;
    let data = Dataset {
        size: 32,
        pixels: (0..images * 32 * 32 * 3)
            .map(|_| rng.below(256) as u8)
            .collect(),
        labels: None,
        source: "random".into(),
    };
    let mut train_builtin = Vec::new();
    for (na, name) in PATHS {
        let mut trainer = Trainer::new(train.clone(), config.clone(), &device)?;
        trainer.set_na_path(na);
        trainer.step(&data)?;
        // Four steps per run cover one R1 step.
        let mut times = Vec::new();
        for _ in 0..runs.max(1) {
            let t0 = Instant::now();
            for _ in 0..4 {
                trainer.step(&data)?;
            }
            times.push(t0.elapsed().as_secs_f64() * 1e3 / 4.0);
        }
        let ms = median(times);
        eprintln!("training step, NA backward {name}: {ms:.0} ms");
        train_builtin.push(PathTiming {
            na_backward: name.into(),
            ms_per_step_median: ms,
        });
    }
    Ok(GradResult {
        model: model.into(),
        backend: engine.backend.description.clone(),
        runs,
        projection,
        train_builtin,
    })
}

pub fn print(r: &GradResult) {
    println!("{} on {} (median of {} runs)", r.model, r.backend, r.runs);
    for (what, rows) in [
        ("projection step", &r.projection),
        (
            "training step (built-in settings, batch 16)",
            &r.train_builtin,
        ),
    ] {
        let base = rows[0].ms_per_step_median;
        for t in rows.iter() {
            println!(
                "  {what:<44} NA backward {:<10} {:>9.1} ms  ({:.2}× the tensor ops)",
                t.na_backward,
                t.ms_per_step_median,
                base / t.ms_per_step_median
            );
        }
    }
}
