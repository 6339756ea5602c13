//! `stylenat bench`: warm generation speed, with FLOPs and a per-stage breakdown.

use super::BackendArgs;
use crate::backend::Backend;
use crate::checkpoint::ConfigSource;
use crate::checkpoint::presets::Preset;
use crate::engine::{Engine, on_pool};
use crate::kernels::cpu::{Precision, set_precision};
use crate::kernels::to_host;
use crate::model::Trace;
use anyhow::{Context, Result};
use burn::tensor::{Tensor, TensorData};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Checkpoint to time.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "preset",
        conflicts_with = "preset"
    )]
    pub ckpt: Option<PathBuf>,
    /// Time a released architecture with random weights instead (ffhq256, ffhq1024, church256).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Images per forward pass.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Timed runs (after one warm-up run); the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Also write the results as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Time only the neighbourhood-attention layers of the model's stages: the backend's own
    /// kernel (WGSL on wgpu, fused Rust on CPU) against NA built from plain tensor ops.
    #[arg(long)]
    pub na: bool,
    /// Time edits through the explorer's path instead: `psi` (all layers), `fine` (last third
    /// of W+ layers), `coarse` (first third), `group` (a head group ablated) — preview, refine and full-image latency; and SeFa.
    #[arg(long, conflicts_with = "na")]
    pub edit_latency: bool,
    /// Time gradients instead: a projection step on this model and a training step at the
    /// built-in model's settings, with NA differentiated op by op and with its fused backward.
    #[arg(long, conflicts_with_all = ["na", "edit_latency"])]
    pub gradients: bool,
    /// Time throughput instead: images per second at batches 1, 2 and 4 through the
    /// engine's batched path, and the fastest.
    #[arg(long, conflicts_with_all = ["na", "edit_latency", "gradients"])]
    pub throughput: bool,
    /// Replace an existing JSON file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Serialize)]
struct StageResult {
    stage: usize,
    resolution: usize,
    ms: f64,
    gflop: f64,
    gflops_per_s: f64,
    fraction_of_peak: f64,
}

#[derive(Serialize)]
struct BenchResult {
    model: String,
    backend: String,
    batch: usize,
    runs: usize,
    ms_per_image_median: f64,
    ms_per_image_min: f64,
    images_per_s: f64,
    gflop_per_image: f64,
    gflops_per_s: f64,
    /// The machine's measured fp32 FMA peak on all threads ([`crate::kernels::peak`]).
    peak_gflops: f64,
    fraction_of_peak: f64,
    simd: String,
    threads: usize,
    precision: Precision,
    /// With `--precision bf16`: the first image against the same image in float32.
    bf16_error: Option<Deviation>,
    stages: Vec<StageResult>,
}

/// How far a reduced-precision image lies from the float32 one (values in [−1, 1]).
#[derive(Serialize)]
struct Deviation {
    max_abs: f64,
    rms: f64,
    psnr_db: f64,
}

pub fn run(a: BenchArgs) -> Result<()> {
    if let Some(path) = &a.json {
        super::refuse_overwrite(path, a.force)?;
    }
    let backend = a.backend.init()?;
    let (mut engine, model) = match (&a.ckpt, &a.preset) {
        (Some(c), _) => (
            Engine::load(c, &ConfigSource::Checkpoint, backend)
                .with_context(|| format!("loading {}", c.display()))?,
            c.display().to_string(),
        ),
        (None, Some(p)) => {
            let cfg = Preset::named(p)?.to_config()?;
            (
                Engine::random(&cfg, 0, backend)?,
                format!("{p} (random weights)"),
            )
        }
        _ => anyhow::bail!("pass --ckpt or --preset"),
    };
    let text = if a.gradients {
        let result = super::bench_grad::measure(&mut engine, &model, a.runs.max(1))?;
        super::bench_grad::print(&result);
        serde_json::to_string_pretty(&result)?
    } else if a.edit_latency {
        let result = super::bench_edit::measure(&mut engine, &model, a.runs.max(1))?;
        super::bench_edit::print(&result);
        serde_json::to_string_pretty(&result)?
    } else if a.throughput {
        let result = super::bench_batch::measure(&engine, a.runs.max(1))?;
        super::bench_batch::print(&result);
        serde_json::to_string_pretty(&result)?
    } else if a.na {
        let result = super::bench_na::measure(&engine, &model, a.batch.max(1), a.runs.max(1))?;
        super::bench_na::print(&result);
        serde_json::to_string_pretty(&result)?
    } else {
        let result = measure(&engine, &model, a.batch.max(1), a.runs.max(1))?;
        print_result(&result);
        serde_json::to_string_pretty(&result)?
    };
    if let Some(path) = &a.json {
        crate::io::write_atomic(path, text.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The median of timings (the upper one of an even count).
pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure(engine: &Engine, model: &str, batch: usize, runs: usize) -> Result<BenchResult> {
    let cfg = engine.config();
    let Backend {
        device,
        description,
        ..
    } = &engine.backend;
    let (num_ws, d) = (cfg.num_ws(), cfg.style_dim);
    let z = engine.z_for_seeds(&(0..batch as u64).collect::<Vec<_>>(), Default::default())?;
    let wplus = engine.broadcast(&engine.map(&z)?);
    let input = || {
        Tensor::<3>::from_data(
            TensorData::new(wplus.data.clone(), [batch, num_ws, d]),
            device,
        )
    };
    // Warm-up (allocations, shader compilation), then timed runs, each read back to the host.
    // Every pass on a pool thread, as the engine runs them.
    let synthesize =
        |obs: &mut Trace| on_pool(device, || engine.generator.synthesize(input(), obs));
    let first = to_host(synthesize(&mut Trace::default())?)?;
    let precision = crate::kernels::cpu::precision();
    let bf16_error = match precision {
        Precision::F32 => None,
        Precision::Bf16 => {
            set_precision(Precision::F32)?;
            // Restore bf16 before `?` can return, so the timed runs below stay bf16.
            let exact = synthesize(&mut Trace::default()).and_then(to_host);
            set_precision(precision)?;
            Some(deviation(&first, &exact?))
        }
    };
    let mut totals = Vec::with_capacity(runs);
    let mut stage_runs: Vec<Vec<f64>> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut trace = Trace::timing();
        let t0 = Instant::now();
        let img = synthesize(&mut trace)?;
        to_host(img)?;
        totals.push(t0.elapsed().as_secs_f64() * 1e3 / batch as f64);
        stage_runs.push(trace.stage_ms.unwrap_or_default());
    }
    let ms = median(totals.clone());
    let (peak, simd) = crate::kernels::peak::peak_gflops();
    let flops = cfg.flops_per_stage();
    let total_flop: u64 = flops.iter().sum();
    let stages = cfg
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let ms = median(
                stage_runs
                    .iter()
                    .map(|r| r.get(i).copied().unwrap_or(0.0))
                    .collect(),
            ) / batch as f64;
            let gflop = flops[i] as f64 / 1e9;
            StageResult {
                stage: i,
                resolution: s.resolution,
                ms,
                gflop,
                gflops_per_s: gflop / (ms / 1e3),
                fraction_of_peak: gflop / (ms / 1e3) / peak,
            }
        })
        .collect();
    Ok(BenchResult {
        model: model.to_string(),
        backend: description.clone(),
        batch,
        runs,
        ms_per_image_median: ms,
        ms_per_image_min: totals.iter().copied().fold(f64::INFINITY, f64::min),
        images_per_s: 1e3 / ms,
        gflop_per_image: total_flop as f64 / 1e9,
        gflops_per_s: total_flop as f64 / 1e9 / (ms / 1e3),
        peak_gflops: peak,
        fraction_of_peak: total_flop as f64 / 1e9 / (ms / 1e3) / peak,
        simd: format!("{simd:?}"),
        threads: rayon::current_num_threads(),
        precision,
        bf16_error,
        stages,
    })
}

fn deviation(got: &[f32], want: &[f32]) -> Deviation {
    let (mut max_abs, mut sq) = (0f64, 0f64);
    for (&g, &w) in got.iter().zip(want) {
        let d = (g as f64 - w as f64).abs();
        max_abs = max_abs.max(d);
        sq += d * d;
    }
    let rms = (sq / want.len().max(1) as f64).sqrt();
    Deviation {
        max_abs,
        rms,
        // The image spans [−1, 1]: peak-to-peak 2.
        psnr_db: 20.0 * (2.0 / rms.max(1e-12)).log10(),
    }
}

fn print_result(r: &BenchResult) {
    println!("model      {}", r.model);
    println!("backend    {}", r.backend);
    println!(
        "per image  {:.2} ms median ({:.2} ms min) over {} runs of batch {}  →  {:.2} img/s",
        r.ms_per_image_median, r.ms_per_image_min, r.runs, r.batch, r.images_per_s
    );
    println!(
        "compute    {:.3} GFLOP/img  →  {:.2} GFLOP/s = {:.0} % of the measured peak \
         ({:.0} GFLOP/s fp32 FMA, {} threads, {})",
        r.gflop_per_image,
        r.gflops_per_s,
        100.0 * r.fraction_of_peak,
        r.peak_gflops,
        r.threads,
        r.simd
    );
    if let Some(e) = &r.bf16_error {
        println!(
            "precision  bf16 GEMMs (float32 sums): image vs float32 max |Δ| {:.2e}, rms {:.2e} \
             = {:.1} dB PSNR (the fp32 peak above is half the bf16 multiply rate)",
            e.max_abs, e.rms, e.psnr_db
        );
    }
    println!("stage   res        ms   GFLOP   GFLOP/s  of peak");
    for s in &r.stages {
        println!(
            "{:>5}  {:>4}  {:>8.2}  {:>6.3}  {:>8.2}  {:>6.0} %",
            s.stage,
            s.resolution,
            s.ms,
            s.gflop,
            s.gflops_per_s,
            100.0 * s.fraction_of_peak
        );
    }
}
