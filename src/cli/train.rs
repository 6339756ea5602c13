//! `stylenat train`: train a StyleNAT generator from scratch (or resume a run) on the CPU.

use crate::io::grid::tile;
use crate::io::image::save_png;
use crate::train::data::Dataset;
use crate::train::{TrainConfig, Trainer, small_configs};
use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training images: `fashion-mnist` (Debian package dataset-fashion-mnist), a folder of
    /// Fashion-MNIST IDX files, or a folder of PNG images.
    #[arg(long, default_value = "fashion-mnist")]
    pub data: String,
    /// Run folder: state.safetensors (resumable), model.safetensors (EMA generator, native
    /// format), samples/, log.jsonl.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Continue the run in --out from its state.safetensors (its settings win).
    #[arg(long)]
    pub resume: bool,
    /// Train until this many steps in total.
    #[arg(long, default_value_t = 10_000)]
    pub steps: u64,
    /// Stop after this many minutes (the state is saved first).
    #[arg(long, value_name = "MIN")]
    pub minutes: Option<f64>,
    /// Image size (power of two, 8–256).
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    /// Generator channels up to 16×16 (halved at each larger resolution).
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Width of z and w.
    #[arg(long, default_value_t = 128)]
    pub style_dim: usize,
    /// Images per step.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Fixes initialisation, batches and noise (runs are deterministic).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Generator learning rate (Adam, β = (0, 0.99)).
    #[arg(long, default_value_t = TrainConfig::default().g_lr)]
    pub g_lr: f32,
    /// Discriminator learning rate.
    #[arg(long, default_value_t = TrainConfig::default().d_lr)]
    pub d_lr: f32,
    /// R1 weight γ.
    #[arg(long, default_value_t = TrainConfig::default().r1_gamma)]
    pub r1_gamma: f32,
    /// Apply R1 every N steps (lazy regularisation; 0 turns it off).
    #[arg(long, default_value_t = TrainConfig::default().r1_every)]
    pub r1_every: u64,
    /// Probability of style-mixing regularisation (0 turns it off).
    #[arg(long, default_value_t = TrainConfig::default().mixing_prob)]
    pub mixing_prob: f32,
    /// Write a sample grid every N steps.
    #[arg(long, default_value_t = 250)]
    pub sample_every: u64,
    /// Save state and model every N steps.
    #[arg(long, default_value_t = 250)]
    pub save_every: u64,
}

fn write_samples(trainer: &Trainer, dir: &Path) -> Result<PathBuf> {
    let images = trainer.samples(64)?;
    let cells: Vec<Option<&[u8]>> = images.iter().map(|i| Some(i.as_slice())).collect();
    let (px, w, h) = tile(&cells, 8, trainer.generator().size);
    let path = dir.join(format!("step-{:06}.png", trainer.step));
    save_png(&path, &px, w, h, None)?;
    Ok(path)
}

fn save(trainer: &Trainer, out: &Path) -> Result<()> {
    trainer.save_state(&out.join("state.safetensors"))?;
    trainer.export(&out.join("model.safetensors"))?;
    Ok(())
}

pub fn run(a: TrainArgs) -> Result<()> {
    let device = burn::tensor::Device::flex();
    let state = a.out.join("state.safetensors");
    let mut trainer = if a.resume {
        Trainer::resume(&state, &device).with_context(|| format!("resuming {}", state.display()))?
    } else {
        if state.exists() {
            bail!(
                "{} already holds a run; pass --resume to continue it or choose another --out",
                a.out.display()
            );
        }
        let config = TrainConfig {
            data: a.data.clone(),
            seed: a.seed,
            batch: a.batch,
            g_lr: a.g_lr,
            d_lr: a.d_lr,
            r1_gamma: a.r1_gamma,
            r1_every: a.r1_every,
            mixing_prob: a.mixing_prob,
            ..TrainConfig::default()
        };
        if !a.size.is_power_of_two() || !(8..=256).contains(&a.size) {
            bail!("--size must be a power of two from 8 to 256");
        }
        Trainer::new(
            config,
            small_configs::small(a.size, a.width, a.style_dim),
            &device,
        )?
    };
    let data = Dataset::open(&trainer.config.data, trainer.generator().size)
        .with_context(|| format!("opening training data `{}`", trainer.config.data))?;
    let samples = a.out.join("samples");
    std::fs::create_dir_all(&samples).with_context(|| format!("creating {}", samples.display()))?;
    let log_path = a.out.join("log.jsonl");
    let dropped = crate::train::log::truncate_log(&log_path, trainer.step)?;
    if dropped > 0 {
        eprintln!(
            "log.jsonl: dropped {dropped} line(s) past the saved step {}",
            trainer.step
        );
    }
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .context("opening log.jsonl")?;
    eprintln!(
        "training on {} ({} images), {} generator parameters, from step {}",
        data.source,
        data.len(),
        burn::module::Module::num_params(&trainer.ema),
        trainer.step
    );
    let bar = ProgressBar::new(a.steps).with_position(trainer.step);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} step  ETA {eta}  {msg}",
        )?
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let first_step = trainer.step;
    let deadline = a
        .minutes
        .map(|m| std::time::Duration::from_secs_f64(m * 60.0));
    if trainer.step == 0 {
        write_samples(&trainer, &samples)?;
    }
    while trainer.step < a.steps {
        let stats = trainer.step(&data)?;
        bar.set_position(trainer.step);
        bar.set_message(format!(
            "D {:.3}  G {:.3}  R1 {}  D(x) {:+.2}  D(G(z)) {:+.2}",
            stats.d_loss,
            stats.g_loss,
            stats.r1.map_or("-".into(), |r| format!("{r:.3}")),
            stats.real_score,
            stats.fake_score
        ));
        let mut line = serde_json::to_value(stats)?;
        line["elapsed_s"] = trainer.elapsed_s.into();
        writeln!(log, "{line}").context("writing log.jsonl")?;
        let done = trainer.step >= a.steps || deadline.is_some_and(|d| started.elapsed() >= d);
        if trainer.step.is_multiple_of(a.sample_every) || done {
            write_samples(&trainer, &samples)?;
        }
        if trainer.step.is_multiple_of(a.save_every) || done {
            save(&trainer, &a.out)?;
        }
        if done {
            break;
        }
    }
    // The last step saved above (nothing to save when the run was already complete).
    bar.finish();
    eprintln!(
        "step {} ({:.1} s training, {:.2} s/step this session); wrote {}",
        trainer.step,
        trainer.elapsed_s,
        started.elapsed().as_secs_f64() / (trainer.step - first_step).max(1) as f64,
        a.out.join("model.safetensors").display()
    );
    Ok(())
}
