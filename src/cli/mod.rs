//! The `stylenat` command line: argument types shared by subcommands and the dispatcher.

mod attention;
mod bench;
mod bench_batch;
mod bench_edit;
mod bench_grad;
mod bench_na;
mod convert;
mod directions;
mod generate;
mod info;
mod inspect;
mod latents;
mod mix;
mod project;
mod project_eval;
mod quality;
mod synth;
mod train;
mod video;

use crate::backend::{Backend, BackendKind};
use crate::checkpoint::ConfigSource;
use crate::engine::Engine;
use crate::kernels::cpu::Precision;
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "stylenat",
    version,
    about = "Run and explore StyleNAT generators (burn: wgpu or CPU)"
)]
struct Cli {
    /// Without a subcommand, opens the explorer window.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Open the interactive explorer (the default).
    Explore {
        /// Checkpoint to open (otherwise the most recent one, or the built-in model).
        ckpt: Option<PathBuf>,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Generate PNG images for a list of seeds.
    Generate(generate::GenerateArgs),
    /// Write the latents (z, w or W+) for a list of seeds to .npy / .npz.
    Latents(latents::LatentsArgs),
    /// Describe a checkpoint: format, parameters, stages, head groups, W+ layers.
    Info(info::InfoArgs),
    /// Run the synthesis network on given latents and write the raw float32 NCHW output.
    Synth(synth::SynthArgs),
    /// Measure generation speed (ms/img, img/s, GFLOP/s, per-stage times).
    Bench(bench::BenchArgs),
    /// Style-mixing grid: row seeds × column seeds, chosen W+ layers from the columns.
    Mix(mix::MixArgs),
    /// MP4 or GIF interpolating through keyframes in W space (optionally a grid of loops).
    Video(video::VideoArgs),
    /// Attention maps of one pixel per head group (kernel/dilation) at a chosen block.
    Attention(attention::AttentionArgs),
    /// One intermediate layer of one image: a channel (or three as RGB), its spectrum, stats.
    Inspect(inspect::InspectArgs),
    /// Find the W+ whose image matches a picture (projection), and its reconstruction.
    Project(project::ProjectArgs),
    /// Measure projection on held-out images against the best of N random samples.
    ProjectEval(project_eval::ProjectEvalArgs),
    /// Principal directions of W (GANSpace) for `generate --edit`.
    Directions(directions::DirectionsArgs),
    /// Convert a checkpoint to the native safetensors format (config embedded).
    Convert(convert::ConvertArgs),
    /// Fréchet distances (classifier features) of generators against held-out real images.
    Quality(quality::QualityArgs),
    /// Train a StyleNAT generator from scratch on an image folder or Fashion-MNIST (CPU).
    Train(train::TrainArgs),
}

/// Where hyper-parameters a checkpoint may lack (dilations, lr_mlp) come from.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Use a built-in run config (ffhq256, ffhq1024, church256) for hyper-parameters the
    /// checkpoint does not carry (dilations, lr_mlp).
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    pub preset: Option<String>,
    /// Same as --preset, from a JSON file with the fields of an official `runs.generator`
    /// config plus `size`.
    #[arg(long, value_name = "FILE.json")]
    pub config: Option<PathBuf>,
}

impl ConfigArgs {
    pub fn source(&self) -> ConfigSource {
        match (&self.preset, &self.config) {
            (Some(p), _) => ConfigSource::Preset(p.clone()),
            (None, Some(f)) => ConfigSource::File(f.clone()),
            (None, None) => ConfigSource::Checkpoint,
        }
    }
}

/// Which checkpoint, how to interpret it, and where to run it.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Generator checkpoint: official PyTorch `.pt` or native `.safetensors`; without it, the
    /// built-in Fashion-MNIST model.
    #[arg(long, value_name = "FILE", default_value = crate::checkpoint::builtin::NAME)]
    pub ckpt: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Args, Debug, Clone, Copy)]
pub struct BackendArgs {
    /// Where to run the generator.
    #[arg(long, value_enum, default_value_t = BackendKind::Auto)]
    pub backend: BackendKind,
    /// Arithmetic of the CPU backend's transformer GEMMs: `f32` (default, held to the 1e-3
    /// parity bound) or `bf16` (bfloat16 inputs, float32 sums, about 1.5× faster on CPUs with
    /// AVX-512 BF16). `stylenat bench --precision bf16` measures and prints its error.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
}

impl BackendArgs {
    pub fn init(&self) -> Result<Backend> {
        let backend = Backend::init(self.backend).context("initialising the backend")?;
        if self.precision != Precision::F32
            && crate::kernels::KernelPath::for_device(&backend.device)
                != crate::kernels::KernelPath::Cpu
        {
            anyhow::bail!(
                "--precision {} applies to the CPU backend only (this run uses {})",
                self.precision,
                backend.description
            );
        }
        self.apply_precision()?;
        Ok(backend)
    }

    /// Sets the process-wide GEMM precision (refusing bf16 on a CPU that lacks it), and says
    /// so when it is not float32.
    pub fn apply_precision(&self) -> Result<()> {
        crate::kernels::cpu::set_precision(self.precision)?;
        if self.precision == Precision::Bf16 {
            eprintln!(
                "precision: bf16 GEMMs on the CPU (not held to the float32 parity bound; \
                 `stylenat bench --precision bf16` prints the error)"
            );
        }
        Ok(())
    }
}

#[derive(Args, Debug, Clone, Copy)]
pub struct BatchArgs {
    /// Images per forward pass. Default: automatic — on the CPU one per thread, run side by
    /// side (faster than one at a time); on a GPU four.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub batch: Option<u32>,
}

impl BatchArgs {
    /// The batch to use on `engine`, saying so when it was chosen automatically.
    pub fn resolve(&self, engine: &crate::engine::Engine) -> usize {
        match self.batch {
            Some(n) => n as usize,
            None => {
                let n = engine.auto_batch();
                eprintln!(
                    "batch {n} (automatic: {} side by side; --batch N to choose)",
                    match engine.image_shares(n) {
                        1 => "one pass".to_string(),
                        s => format!("{s} shares"),
                    }
                );
                n
            }
        }
    }
}

impl ModelArgs {
    /// Loads the checkpoint onto the chosen backend.
    pub fn engine(&self) -> Result<Engine> {
        let backend = self.backend.init()?;
        Engine::load(&self.ckpt, &self.config.source(), backend)
            .with_context(|| format!("loading {}", self.ckpt.display()))
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, ETA {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Outputs are never replaced unless the user said `--force`.
pub fn refuse_overwrite(path: &std::path::Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        anyhow::bail!(
            "{} already exists (use --force to overwrite)",
            path.display()
        );
    }
    Ok(())
}

/// Parses `COLSxROWS`, e.g. `4x2`.
pub fn parse_grid(text: &str) -> std::result::Result<(usize, usize), String> {
    let (c, r) = text
        .split_once(['x', 'X'])
        .ok_or("expected COLSxROWS, e.g. 4x2")?;
    match (c.trim().parse::<usize>(), r.trim().parse::<usize>()) {
        (Ok(c), Ok(r)) if c > 0 && r > 0 && c * r <= 10_000 => Ok((c, r)),
        _ => Err(format!("`{text}` is not a grid size like 4x2")),
    }
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        None => crate::app::run(None, BackendKind::Auto)?,
        Some(Command::Explore { ckpt, backend }) => {
            backend.apply_precision()?;
            crate::app::run(ckpt, backend.backend)?
        }
        Some(Command::Generate(a)) => generate::run(a)?,
        Some(Command::Latents(a)) => latents::run(a)?,
        Some(Command::Info(a)) => info::run(a)?,
        Some(Command::Synth(a)) => synth::run(a)?,
        Some(Command::Bench(a)) => bench::run(a)?,
        Some(Command::Convert(a)) => convert::run(a)?,
        Some(Command::Train(a)) => train::run(a)?,
        Some(Command::Quality(a)) => quality::run(a)?,
        Some(Command::Mix(a)) => mix::run(a)?,
        Some(Command::Video(a)) => video::run(a)?,
        Some(Command::Attention(a)) => attention::run(a)?,
        Some(Command::Inspect(a)) => inspect::run(a)?,
        Some(Command::Project(a)) => project::run(a)?,
        Some(Command::ProjectEval(a)) => project_eval::run(a)?,
        Some(Command::Directions(a)) => directions::run(a)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// An error and its causes on one line, each cause once: a cause whose text the message
/// already quotes (an I/O error inside "cannot read …: <error>") is not repeated.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
