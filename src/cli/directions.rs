//! `stylenat directions`: principal components of W (GANSpace) or SeFa's closed-form
//! directions, for edits with `generate --edit FILE:COMPONENT:AMOUNT:LAYERS`.

use super::{ModelArgs, progress};
use crate::analysis::directions::pca;
use crate::analysis::sefa::sefa;
use crate::latent::parse_layer_list;
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Principal components of sampled W (σ: W's standard deviation along each).
    Pca,
    /// Eigenvectors of the chosen layers' style weights (no sampling; σ = 1, raw W units).
    Sefa,
}

#[derive(Args, Debug)]
pub struct DirectionsArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, value_enum, default_value_t = Method::Pca)]
    pub method: Method,
    /// SeFa: the W+ layers whose style weights are factorised, e.g. `0-5` (default: all).
    #[arg(long, value_name = "LIST")]
    pub layers: Option<String>,
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
    let num_ws = engine.config().num_ws();
    let dirs = match a.method {
        Method::Pca => {
            if a.layers.is_some() {
                bail!("--layers chooses SeFa's layers: PCA samples W, which all layers share");
            }
            let bar = progress(a.samples as usize, "sampling W");
            let dirs = pca(&engine, a.samples as usize, a.components, |done, _| {
                bar.set_position(done as u64)
            })?;
            bar.finish_and_clear();
            dirs
        }
        Method::Sefa => {
            let layers = match &a.layers {
                Some(l) => parse_layer_list(l, num_ws)?,
                None => (0..num_ws).collect(),
            };
            let t0 = std::time::Instant::now();
            let dirs = sefa(&engine, &layers, a.components)?;
            eprintln!(
                "SeFa of W+ layers {} in {:.2} s",
                crate::latent::recipe::format_layer_list(&layers),
                t0.elapsed().as_secs_f64()
            );
            dirs
        }
    };
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
