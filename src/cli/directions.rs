//! `stylenat directions`: principal components of W (GANSpace) for edits with
//! `generate --edit FILE:COMPONENT:AMOUNT:LAYERS`.

use super::{ModelArgs, progress};
use crate::analysis::directions::pca;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DirectionsArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Number of components to keep.
    #[arg(long, default_value_t = 20)]
    pub components: usize,
    /// Mapped latents to sample.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(2..=10_000_000))]
    pub samples: u64,
    /// `.npz` (components, sigma, explained, mean) or `.npy` (unit components only).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: DirectionsArgs) -> Result<()> {
    super::refuse_overwrite(&a.out, a.force)?;
    let engine = a.model.engine()?;
    let bar = progress(a.samples as usize, "sampling W");
    let dirs = pca(&engine, a.samples as usize, a.components, |done, _| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    println!("component  σ        explained");
    let mut total = 0.0;
    for (i, (s, e)) in dirs.sigma.iter().zip(&dirs.explained).enumerate() {
        total += e;
        println!(
            "{i:9}  {s:7.4}  {:5.2} % (cumulative {:5.1} %)",
            e * 100.0,
            total * 100.0
        );
    }
    dirs.save(&a.out)?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
