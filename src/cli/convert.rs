//! `stylenat convert`: any supported checkpoint → our native safetensors file.

use super::ConfigArgs;
use crate::checkpoint::{self, native};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// Checkpoint to read (.pt or .safetensors).
    #[arg(long, value_name = "FILE")]
    pub ckpt: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Output `.safetensors` (generator config in its metadata).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: ConvertArgs) -> Result<()> {
    super::refuse_overwrite(&a.out, a.force)?;
    let loaded = checkpoint::load(&a.ckpt, &a.config.source())
        .with_context(|| format!("reading {}", a.ckpt.display()))?;
    // Build it once so only a checkpoint that actually loads is written.
    loaded.build(&burn::tensor::Device::flex())?;
    native::save(&a.out, &loaded.config, &loaded.weights)?;
    eprintln!(
        "wrote {} ({} tensors)",
        a.out.display(),
        loaded.weights.len()
    );
    Ok(())
}
