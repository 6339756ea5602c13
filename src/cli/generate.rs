//! `stylenat generate`: seeds → PNG files.

use super::{ModelArgs, progress};
use crate::engine::{Engine, LatentRecipe};
use crate::io::image::{save_png, to_rgb8};
use crate::latent::{SeedMode, parse_layer_list, parse_seed_list};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// How seeds turn into latents; shared by `generate` and `latents`.
#[derive(Args, Debug, Clone)]
pub struct LatentArgs {
    /// Seeds, e.g. `0-9,42`.
    #[arg(long, value_name = "LIST")]
    pub seeds: String,
    /// Seed convention: StyleNAT (torch.randn) or NVlabs (numpy RandomState).
    #[arg(long, value_enum, default_value_t = SeedMode::Stylenat)]
    pub seed_mode: SeedMode,
    /// Truncation ψ: w' = mean + ψ (w − mean).
    #[arg(long, value_name = "PSI")]
    pub trunc: Option<f32>,
    /// Truncate only W+ layers below this index.
    #[arg(long, value_name = "K")]
    pub trunc_cutoff: Option<usize>,
    /// Truncation centre from a file (.npy, [w_dim]) instead of the computed mean latent.
    #[arg(long, value_name = "FILE")]
    pub trunc_mean: Option<PathBuf>,
    /// Style mixing: take some W+ layers from this seed.
    #[arg(long, value_name = "SEED", requires = "mix_layers")]
    pub mix_seed: Option<u64>,
    /// W+ layers taken from --mix-seed, e.g. `8-13`.
    #[arg(long, value_name = "LIST", requires = "mix_seed")]
    pub mix_layers: Option<String>,
}

impl LatentArgs {
    pub fn seeds(&self) -> Result<Vec<u64>> {
        Ok(parse_seed_list(&self.seeds)?)
    }

    pub fn recipe(&self, engine: &Engine) -> Result<LatentRecipe> {
        let num_ws = engine.config().num_ws();
        let mix = match (&self.mix_seed, &self.mix_layers) {
            (Some(s), Some(l)) => Some((*s, parse_layer_list(l, num_ws)?)),
            _ => None,
        };
        if let Some(k) = self.trunc_cutoff
            && k > num_ws
        {
            bail!("--trunc-cutoff {k} is larger than the model's {num_ws} W+ layers");
        }
        let trunc_mean = match &self.trunc_mean {
            Some(p) => Some(crate::io::npy::read_array(p, Some("mean"))?.data),
            None => None,
        };
        Ok(LatentRecipe {
            seed_mode: self.seed_mode,
            psi: self.trunc,
            trunc_cutoff: self.trunc_cutoff,
            trunc_mean,
            mix,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Naming {
    /// `{seed}.png`
    Stylenat,
    /// `seed{seed:04}.png`
    Nvlabs,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub latent: LatentArgs,
    /// File names: `{seed}.png` (stylenat) or `seed0042.png` (nvlabs).
    #[arg(long, value_enum, default_value_t = Naming::Stylenat)]
    pub naming: Naming,
    /// Images per forward pass.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub batch: u32,
    /// Output folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub outdir: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: GenerateArgs) -> Result<()> {
    let seeds = a.latent.seeds()?;
    std::fs::create_dir_all(&a.outdir)
        .with_context(|| format!("creating {}", a.outdir.display()))?;
    let paths: Vec<PathBuf> = seeds
        .iter()
        .map(|s| {
            a.outdir.join(match a.naming {
                Naming::Stylenat => format!("{s}.png"),
                Naming::Nvlabs => format!("seed{s:04}.png"),
            })
        })
        .collect();
    if !a.force
        && let Some(p) = paths.iter().find(|p| p.exists())
    {
        bail!("{} already exists (use --force to overwrite)", p.display());
    }
    let mut engine = a.model.engine()?;
    eprintln!("{}", engine.backend.description);
    let recipe = a.latent.recipe(&engine)?;
    let wplus = engine.wplus_for_seeds(&seeds, &recipe)?;
    let size = engine.config().size;
    let bar = progress(seeds.len(), "generating");
    let per_image = 3 * size * size;
    let batch = a.batch as usize;
    let mut done = 0;
    for chunk in wplus
        .data
        .chunks(batch * engine.config().num_ws() * engine.config().style_dim)
    {
        let n = chunk.len() / (engine.config().num_ws() * engine.config().style_dim);
        let part = crate::checkpoint::HostTensor::new(
            vec![n, wplus.shape[1], wplus.shape[2]],
            chunk.to_vec(),
        );
        let images = engine.synthesize(&part, batch, |_| {})?;
        for (img, path) in images.data.chunks(per_image).zip(&paths[done..]) {
            save_png(path, &to_rgb8(img, size, size), size, size)?;
            bar.inc(1);
        }
        done += n;
    }
    bar.finish_and_clear();
    eprintln!("wrote {} image(s) to {}", seeds.len(), a.outdir.display());
    Ok(())
}
