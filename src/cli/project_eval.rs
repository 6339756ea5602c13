//! `stylenat project-eval`: how well projection reconstructs real held-out images, against the
//! best of N random samples of the model (the closest image the model makes without search).
//! Per image: the best sample's PSNR (and its seed) and the projection's; a figure with the
//! targets, the best samples and the reconstructions in three rows.

use super::ModelArgs;
use crate::io::grid::{tile, zoom};
use crate::io::image::{save_png, to_rgb8};
use crate::project::{ProjectConfig, project, psnr};
use crate::train::data::{Dataset, FASHION_MNIST_CLASSES};
use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct ProjectEvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Held-out images (a dataset spec as `train --data` takes it; the first `--count` are used).
    #[arg(long, default_value = "fashion-mnist:test")]
    pub data: String,
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub count: u64,
    /// Random samples (seeds 0…N−1, ψ = 1) the best of which each target is compared with.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub baseline: u64,
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub steps: u64,
    #[command(flatten)]
    pub perceptual: super::project::PerceptualArgs,
    /// Figure: targets, best samples and projections in three rows (PNG).
    #[arg(long, value_name = "FILE")]
    pub figure: Option<PathBuf>,
    /// Also write the results as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    #[arg(long)]
    pub force: bool,
}

#[derive(Serialize)]
struct ImageResult {
    index: usize,
    label: Option<String>,
    best_sample_seed: u64,
    best_sample_psnr_db: f64,
    projection_psnr_db: f64,
}

#[derive(Serialize)]
struct EvalResult {
    model: String,
    data: String,
    baseline_samples: u64,
    steps: u64,
    loss: String,
    seconds_per_projection: f64,
    projection_wins: usize,
    images: Vec<ImageResult>,
}

pub fn run(a: ProjectEvalArgs) -> Result<()> {
    for path in a.figure.iter().chain(&a.json) {
        super::refuse_overwrite(path, a.force)?;
    }
    let mut engine = a.model.engine()?;
    let s = engine.config().size;
    let data = Dataset::open(&a.data, s)?;
    let count = (a.count as usize).min(data.len());
    if count == 0 {
        bail!("{} holds no images", a.data);
    }
    let targets: Vec<Vec<f32>> = (0..count).map(|i| data.batch(&[i])).collect();
    // The best random sample per target, in chunks of seeds.
    let mut best = vec![(0u64, f64::NEG_INFINITY); count];
    let mut best_pixels = vec![Vec::new(); count];
    let chunk = 250u64;
    for start in (0..a.baseline).step_by(chunk as usize) {
        let seeds: Vec<u64> = (start..(start + chunk).min(a.baseline)).collect();
        let z = engine.z_for_seeds(&seeds, Default::default())?;
        let wplus = engine.broadcast(&engine.map(&z)?);
        let images = engine.synthesize(&wplus, 32, |_| {})?;
        for (j, image) in images.data.chunks(3 * s * s).enumerate() {
            for (t, target) in targets.iter().enumerate() {
                let q = psnr(image, target, s);
                if q > best[t].1 {
                    best[t] = (seeds[j], q);
                    best_pixels[t] = to_rgb8(image, s, s);
                }
            }
        }
    }
    let cfg = ProjectConfig {
        steps: a.steps as usize,
        ..Default::default()
    };
    let (cfg, loss) = a.perceptual.apply(&engine, &a.model, cfg)?;
    eprintln!("loss: {loss}");
    let mut results = Vec::new();
    let mut projections = Vec::new();
    let t0 = Instant::now();
    for (i, target) in targets.iter().enumerate() {
        let w = project(&mut engine, target, &cfg, 0, |_| true)?;
        let image = engine.synthesize(&w, 1, |_| {})?;
        let q = psnr(&image.data, target, s);
        let label = data
            .labels
            .as_ref()
            .and_then(|l| FASHION_MNIST_CLASSES.get(l[i] as usize))
            .map(|c| c.to_string());
        println!(
            "image {i:>3} {:<12} best of {}: {:>5.2} dB (seed {:>5})   projection: {q:>5.2} dB{}",
            label.clone().unwrap_or_default(),
            a.baseline,
            best[i].1,
            best[i].0,
            if q > best[i].1 { "" } else { "   (not better)" }
        );
        projections.push(to_rgb8(&image.data, s, s));
        results.push(ImageResult {
            index: i,
            label,
            best_sample_seed: best[i].0,
            best_sample_psnr_db: best[i].1,
            projection_psnr_db: q,
        });
    }
    let per = t0.elapsed().as_secs_f64() / count as f64;
    let wins = results
        .iter()
        .filter(|r| r.projection_psnr_db > r.best_sample_psnr_db)
        .count();
    let mean = |f: fn(&ImageResult) -> f64| results.iter().map(f).sum::<f64>() / count as f64;
    println!(
        "projection beats the best of {} samples on {wins}/{count} images; mean PSNR {:.2} dB \
         vs {:.2} dB; {per:.1} s per projection ({} steps)",
        a.baseline,
        mean(|r| r.projection_psnr_db),
        mean(|r| r.best_sample_psnr_db),
        a.steps
    );
    if let Some(path) = &a.figure {
        let rows: Vec<Vec<u8>> = (0..count)
            .map(|i| data.image(i).to_vec())
            .chain(best_pixels)
            .chain(projections)
            .collect();
        let cells: Vec<Option<&[u8]>> = rows.iter().map(|r| Some(r.as_slice())).collect();
        let (px, w, h) = tile(&cells, count, s);
        let factor = (96 / s).max(1);
        let (px, w, h) = zoom(&px, w, h, factor);
        save_png(path, &px, w, h, None)?;
        eprintln!(
            "wrote {} (rows: target, best of {} samples, projection)",
            path.display(),
            a.baseline
        );
    }
    if let Some(path) = &a.json {
        let result = EvalResult {
            model: a.model.ckpt.display().to_string(),
            data: a.data.clone(),
            baseline_samples: a.baseline,
            steps: a.steps,
            loss,
            seconds_per_projection: per,
            projection_wins: wins,
            images: results,
        };
        crate::io::write_atomic(path, serde_json::to_string_pretty(&result)?.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
