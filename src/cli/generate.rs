//! `stylenat generate`: seeds → PNG files.

use super::{ModelArgs, parse_grid, progress};
use crate::compose::Composer;
use crate::compose::provenance::{CheckpointId, provenance};
use crate::io::image::{save_png, to_rgb8};
use crate::latent::group_edit::GroupEdit;
use crate::latent::recipe::{DirectionEdit, Recipe};
use crate::latent::{SeedMode, parse_layer_list, parse_seed_list};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// How seeds turn into latents, parsed into the one [`Recipe`]; shared by `generate`,
/// `latents`, `video` and `attention`.
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
    /// Move along a direction file's component: `FILE:COMPONENT:AMOUNT[:LAYERS]`, e.g.
    /// `dirs.npz:3:+2.0:0-6` (AMOUNT in σ for files from `stylenat directions`; repeatable).
    #[arg(long, value_name = "EDIT")]
    pub edit: Vec<DirectionEdit>,
    #[command(flatten)]
    pub groups: GroupEditArgs,
}

/// Head-group edits, shared by every command that renders.
#[derive(Args, Debug, Clone, Default)]
pub struct GroupEditArgs {
    /// Edit one head group: `STAGE[.BLOCK]:GROUP:scale=S` (0 ablates), `…:dilation=D` or
    /// `…:kernel=K`, e.g. `3:1:scale=0` (stage 0 is 4×4; both blocks unless `.BLOCK`;
    /// repeatable).
    #[arg(long = "group-edit", value_name = "EDIT")]
    pub group_edit: Vec<GroupEdit>,
}

impl LatentArgs {
    pub fn seeds(&self) -> Result<Vec<u64>> {
        match &self.seeds {
            Some(list) => Ok(parse_seed_list(list)?),
            None => bail!("pass --seeds (e.g. --seeds 0-9)"),
        }
    }

    /// The recipe these flags describe (seed 0; see [`LatentArgs::recipes`]). Values that need
    /// the model (layer indices, the centre's width) are checked when it is composed.
    pub fn recipe(&self) -> Result<Recipe> {
        Ok(Recipe {
            seed_mode: self.seed_mode,
            psi: self.trunc.unwrap_or(1.0),
            trunc_cutoff: self.trunc_cutoff,
            trunc_mean: match &self.trunc_mean {
                Some(p) => Some(crate::io::npy::read_array(p, Some("mean"))?.data),
                None => None,
            },
            mix_seed: self.mix_seed.unwrap_or(1),
            mix_layers: match &self.mix_layers {
                Some(l) => parse_layer_list(l, usize::MAX)?,
                None => Vec::new(),
            },
            edits: self.edit.clone(),
            group_edits: self.groups.group_edit.clone(),
            ..Recipe::default()
        })
    }

    /// One recipe per `--seeds` entry.
    pub fn recipes(&self) -> Result<Vec<Recipe>> {
        let base = self.recipe()?;
        Ok(self
            .seeds()?
            .into_iter()
            .map(|s| base.with_seed(s))
            .collect())
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
    #[command(flatten)]
    pub batch: super::BatchArgs,
    /// Write one `grid.png` of COLSxROWS images (row-major, in seed order) instead of one file
    /// per image, e.g. `--grid 4x2`.
    #[arg(long, value_name = "COLSxROWS", value_parser = parse_grid)]
    pub grid: Option<(usize, usize)>,
    /// Enlarge the grid image N× (nearest neighbour), for small models.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "grid", value_parser = clap::value_parser!(u16).range(1..=16))]
    pub zoom: u16,
    /// Generate from W+ latents instead of seeds: `.npz` (key `w`) or `.npy`,
    /// `[N, num_ws, w_dim]`; files are named `wplus0000.png`, … (truncation/mixing not applied;
    /// `--edit` is).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["seeds", "trunc", "mix_seed"])]
    pub wplus: Option<PathBuf>,
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
    let (num_ws, d) = (engine.config().num_ws(), engine.config().style_dim);
    // One recipe and file name per image; a W+ file's rows become recipes' source A.
    let (recipes, names): (Vec<Recipe>, Vec<String>) = match &a.wplus {
        Some(path) => {
            let w = crate::io::npy::read_array(path, Some("w"))?;
            if w.shape.len() != 3 || w.shape[1] * w.shape[2] == 0 {
                bail!(
                    "{}: W+ must be [N, num_ws, w_dim], got {:?}",
                    path.display(),
                    w.shape
                );
            }
            let base = a.latent.recipe()?;
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            w.data
                .chunks(w.shape[1] * w.shape[2])
                .enumerate()
                .map(|(i, row)| {
                    let name = format!("{file}[{i}]");
                    let r = base.with_latent(name, w.shape[1], row.to_vec());
                    (r, format!("wplus{i:04}.png"))
                })
                .unzip()
        }
        None => {
            let recipes = a.latent.recipes()?;
            let names = recipes
                .iter()
                .map(|r| match a.naming {
                    Naming::Stylenat => format!("{}.png", r.seed),
                    Naming::Nvlabs => format!("seed{:04}.png", r.seed),
                })
                .collect();
            (recipes, names)
        }
    };
    let wplus = Composer::default().wplus(&mut engine, &recipes)?;
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
    let checkpoint = CheckpointId::of(&engine)?;
    let size = engine.config().size;
    let bar = progress(names.len(), "generating");
    let mut grid_cells: Vec<Vec<u8>> = Vec::new();
    debug_assert_eq!(wplus.shape, [recipes.len(), num_ws, d]);
    let batch = a.batch.resolve(&engine);
    engine.synthesize_each(&wplus, batch, |i, img| {
        let rgb = to_rgb8(img, size, size);
        match a.grid {
            Some(_) => grid_cells.push(rgb),
            None => {
                let row = a.wplus.is_some().then_some(i);
                let record = provenance(&checkpoint, &recipes[i], row);
                save_png(&paths[i], &rgb, size, size, Some(&record))?;
            }
        }
        bar.inc(1);
        Ok(())
    })?;
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
