//! `stylenat info`: what a checkpoint contains.

use super::ConfigArgs;
use crate::checkpoint;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Checkpoint file (.pt or .safetensors), or a PNG made by `stylenat generate` (prints the
    /// checkpoint and latent recipe stored in it); without it, the built-in model.
    #[arg(default_value = crate::checkpoint::builtin::NAME)]
    pub ckpt: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the configuration as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: InfoArgs) -> Result<()> {
    if crate::io::provenance::is_png(&a.ckpt) {
        return match crate::io::provenance::read_png(&a.ckpt)? {
            Some(p) => {
                println!("{}", serde_json::to_string_pretty(&p)?);
                Ok(())
            }
            None => anyhow::bail!("{} has no StyleNAT provenance record", a.ckpt.display()),
        };
    }
    let source = a.config.source();
    let loaded = checkpoint::load(&a.ckpt, &source)
        .with_context(|| format!("reading {}", a.ckpt.display()))?;
    let params = loaded.num_params();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&loaded.config)?);
        return Ok(());
    }
    println!("file        {}", a.ckpt.display());
    println!("format      {}", loaded.format);
    println!("params      {params}");
    print!("{}", loaded.config.describe());
    Ok(())
}
