//! `stylenat latents`: seeds → z / w / W+ arrays.

use super::generate::LatentArgs;
use super::{BackendArgs, ConfigArgs, ModelArgs};
use crate::compose::Composer;
use crate::latent::z_from_seed;
use crate::tensor::HostTensor;
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Space {
    Z,
    W,
    Wplus,
}

#[derive(Args, Debug)]
pub struct LatentsArgs {
    /// Checkpoint (needed for w / wplus; for z it only provides the dimension).
    #[arg(long, value_name = "FILE", required_unless_present = "dim")]
    pub ckpt: Option<PathBuf>,
    /// z dimension when no checkpoint is given (z space only).
    #[arg(long, value_name = "D", conflicts_with = "ckpt")]
    pub dim: Option<usize>,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub latent: LatentArgs,
    /// Which space to write.
    #[arg(long, value_enum, default_value_t = Space::Wplus)]
    pub space: Space,
    /// Output `.npy` or `.npz` (key `w`).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: LatentsArgs) -> Result<()> {
    super::refuse_overwrite(&a.out, a.force)?;
    let ext = a.out.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "npy" | "npz") {
        bail!("--out must end in .npy or .npz");
    }
    if !a.latent.groups.group_edit.is_empty() {
        bail!("head-group edits change the generator, not the latent: use them when rendering");
    }
    let array = match (a.dim, &a.ckpt) {
        (Some(dim), _) => {
            if a.space != Space::Z {
                bail!("--dim only works with --space z; pass --ckpt for w / wplus");
            }
            let seeds = a.latent.seeds()?;
            let mut data = Vec::new();
            for &s in &seeds {
                data.extend(z_from_seed(s, dim, a.latent.seed_mode)?);
            }
            HostTensor::new(vec![seeds.len(), dim], data)
        }
        (None, Some(ckpt)) => {
            let model = ModelArgs {
                ckpt: ckpt.clone(),
                config: a.config.clone(),
                backend: a.backend,
            };
            let mut engine = model.engine()?;
            let seeds = a.latent.seeds()?;
            let recipe = a.latent.recipe()?;
            match a.space {
                Space::Z => engine.z_for_seeds(&seeds, recipe.seed_mode)?,
                Space::W => {
                    if recipe.psi != 1.0 || recipe.mixes() || !recipe.edits.is_empty() {
                        bail!("truncation, mixing and edits apply per W+ layer: use --space wplus");
                    }
                    engine.map(&engine.z_for_seeds(&seeds, recipe.seed_mode)?)?
                }
                Space::Wplus => Composer::default().wplus(&mut engine, &a.latent.recipes()?)?,
            }
        }
        (None, None) => bail!("pass --ckpt or --dim"),
    };
    crate::io::npy::write_array(&a.out, "w", &array)?;
    eprintln!("wrote {:?} to {}", array.shape, a.out.display());
    Ok(())
}
