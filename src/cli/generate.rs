//! `stylenat generate`: seeds → PNG files.

use super::{ModelArgs, parse_grid, progress};
use crate::engine::{Engine, LatentRecipe};
use crate::io::image::{save_png, to_rgb8};
use crate::io::provenance::Provenance;
use crate::latent::{SeedMode, parse_layer_list, parse_seed_list};
use crate::tensor::HostTensor;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// How seeds turn into latents; shared by `generate` and `latents`.
#[derive(Args, Debug, Clone)]
pub struct LatentArgs {
    /// Seeds, e.g. `0-9,42`.
    #[arg(long, value_name = "LIST")]
    pub seeds: Option<String>,
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
        match &self.seeds {
            Some(list) => Ok(parse_seed_list(list)?),
            None => bail!("pass --seeds (e.g. --seeds 0-9)"),
        }
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
    /// Write one `grid.png` of COLSxROWS images (row-major, in seed order) instead of one file
    /// per image, e.g. `--grid 4x2`.
    #[arg(long, value_name = "COLSxROWS", value_parser = parse_grid)]
    pub grid: Option<(usize, usize)>,
    /// Enlarge the grid image N× (nearest neighbour), for small models.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "grid", value_parser = clap::value_parser!(u16).range(1..=16))]
    pub zoom: u16,
    /// Generate from W+ latents instead of seeds: `.npz` (key `w`) or `.npy`,
    /// `[N, num_ws, w_dim]`; files are named `wplus0000.png`, … (truncation/mixing not applied).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["seeds", "trunc", "mix_seed"])]
    pub wplus: Option<PathBuf>,
    /// Move along a direction file's component: `FILE:COMPONENT:AMOUNT[:LAYERS]`, e.g.
    /// `dirs.npz:3:+2.0:0-6` (AMOUNT in σ for files from `stylenat directions`; repeatable).
    #[arg(long, value_name = "EDIT")]
    pub edit: Vec<crate::analysis::directions::Edit>,
    /// Output folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub outdir: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: GenerateArgs) -> Result<()> {
    let mut engine = a.model.engine()?;
    eprintln!("{}", engine.backend.description);
    // One entry per image: file name, W+ row source, provenance.
    let (mut wplus, names, seeds): (HostTensor, Vec<String>, Vec<Option<u64>>) = match &a.wplus {
        Some(path) => {
            let w = crate::io::npy::read_array(path, Some("w"))?;
            if w.shape.len() != 3 {
                bail!(
                    "{}: W+ must be [N, num_ws, w_dim], got {:?}",
                    path.display(),
                    w.shape
                );
            }
            let n = w.shape[0];
            let names = (0..n).map(|i| format!("wplus{i:04}.png")).collect();
            (w, names, vec![None; n])
        }
        None => {
            let seeds = a.latent.seeds()?;
            let recipe = a.latent.recipe(&engine)?;
            let w = engine.wplus_for_seeds(&seeds, &recipe)?;
            let names = seeds
                .iter()
                .map(|s| match a.naming {
                    Naming::Stylenat => format!("{s}.png"),
                    Naming::Nvlabs => format!("seed{s:04}.png"),
                })
                .collect();
            (w, names, seeds.into_iter().map(Some).collect())
        }
    };
    for edit in &a.edit {
        let dirs = crate::analysis::directions::Directions::load(&edit.file)?;
        edit.apply(&dirs, &mut wplus)?;
    }
    std::fs::create_dir_all(&a.outdir)
        .with_context(|| format!("creating {}", a.outdir.display()))?;
    let paths: Vec<PathBuf> = match a.grid {
        Some((cols, rows)) => {
            if names.len() != cols * rows {
                bail!(
                    "--grid {cols}x{rows} needs {} images, got {}",
                    cols * rows,
                    names.len()
                );
            }
            vec![a.outdir.join("grid.png")]
        }
        None => names.iter().map(|n| a.outdir.join(n)).collect(),
    };
    for p in &paths {
        super::refuse_overwrite(p, a.force)?;
    }
    let base = Provenance {
        app: Provenance::app(),
        checkpoint: a
            .model
            .ckpt
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
        checkpoint_sha256: Some(crate::checkpoint::sha256(&a.model.ckpt)?),
        seed_mode: a.latent.seed_mode,
        seed: None,
        wplus_index: None,
        psi: a.latent.trunc,
        trunc_cutoff: a.latent.trunc_cutoff,
        mix_seed: a.latent.mix_seed,
        mix_layers: match &a.latent.mix_layers {
            Some(l) => parse_layer_list(l, engine.config().num_ws())?,
            None => Vec::new(),
        },
        explorer: None,
        edits: a.edit.iter().map(|e| e.to_string()).collect(),
    };
    let size = engine.config().size;
    let per_image = wplus.shape[1..].iter().product::<usize>();
    let batch = a.batch as usize;
    let bar = progress(names.len(), "generating");
    let mut grid_cells: Vec<Vec<u8>> = Vec::new();
    // Synthesise and write batch by batch, so memory stays bounded for long seed lists.
    for (chunk_index, chunk) in wplus.data.chunks(batch * per_image).enumerate() {
        let n = chunk.len() / per_image;
        let part = HostTensor::new(vec![n, wplus.shape[1], wplus.shape[2]], chunk.to_vec());
        let images = engine.synthesize(&part, batch, |_| {})?;
        for (j, img) in images.data.chunks(3 * size * size).enumerate() {
            let i = chunk_index * batch + j;
            let provenance = Provenance {
                seed: seeds[i],
                wplus_index: seeds[i].is_none().then_some(i),
                ..base.clone()
            };
            let rgb = to_rgb8(img, size, size);
            match a.grid {
                Some(_) => grid_cells.push(rgb),
                None => save_png(&paths[i], &rgb, size, size, Some(&provenance))?,
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    if let Some((cols, _)) = a.grid {
        let cells: Vec<Option<&[u8]>> = grid_cells.iter().map(|c| Some(c.as_slice())).collect();
        let (px, w, h) = crate::io::grid::tile(&cells, cols, size);
        let (px, w, h) = crate::io::grid::zoom(&px, w, h, a.zoom as usize);
        save_png(&paths[0], &px, w, h, None)?;
    }
    eprintln!("wrote {} image(s) to {}", names.len(), a.outdir.display());
    Ok(())
}
