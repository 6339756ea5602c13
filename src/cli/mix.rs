//! `stylenat mix`: a style-mixing grid like NVlabs `style_mixing.py` — row seeds down the left,
//! column seeds across the top, each cell the row seed's W+ with the chosen layers taken from
//! the column seed. Blank top-left corner.

use super::ModelArgs;
use super::generate::GroupEditArgs;
use crate::compose::Composer;
use crate::io::grid::tile;
use crate::io::image::{save_png, to_rgb8};
use crate::latent::recipe::Recipe;
use crate::latent::{SeedMode, mix_layers, parse_layer_list, parse_seed_list};
use crate::tensor::HostTensor;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct MixArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Seeds of the rows (the images whose other layers are kept).
    #[arg(long, value_name = "LIST")]
    pub rows: String,
    /// Seeds of the columns (the sources of the mixed layers).
    #[arg(long, value_name = "LIST")]
    pub cols: String,
    /// W+ layers taken from the column seed, e.g. `0-6` (coarse) or `8-11` (fine).
    #[arg(long, value_name = "LIST")]
    pub layers: String,
    #[arg(long, value_enum, default_value_t = SeedMode::Stylenat)]
    pub seed_mode: SeedMode,
    /// Truncation ψ applied to every latent before mixing.
    #[arg(long, value_name = "PSI")]
    pub trunc: Option<f32>,
    #[command(flatten)]
    pub groups: GroupEditArgs,
    /// Output PNG.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Enlarge the grid image N× (nearest neighbour), for small models.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub zoom: u16,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: MixArgs) -> Result<()> {
    super::refuse_overwrite(&a.out, a.force)?;
    let (rows, cols) = (parse_seed_list(&a.rows)?, parse_seed_list(&a.cols)?);
    let mut engine = a.model.engine()?;
    let layers = parse_layer_list(&a.layers, engine.config().num_ws())?;
    let recipe = Recipe {
        seed_mode: a.seed_mode,
        psi: a.trunc.unwrap_or(1.0),
        group_edits: a.groups.group_edit.clone(),
        ..Default::default()
    };
    let per = engine.config().num_ws() * engine.config().style_dim;
    // Rows, then columns: every seed mapped in one call.
    let recipes: Vec<Recipe> = rows
        .iter()
        .chain(&cols)
        .map(|&s| recipe.with_seed(s))
        .collect();
    let all = Composer::default().wplus(&mut engine, &recipes)?;
    let (row_w, col_w) = all.data.split_at(rows.len() * per);
    // Latents of the grid, row-major: [corner, columns…], then per row [row, cells…].
    let mut latents = Vec::new();
    latents.extend_from_slice(col_w);
    for r in row_w.chunks(per) {
        latents.extend_from_slice(r);
        for c in col_w.chunks(per) {
            let mut cell = r.to_vec();
            mix_layers(&mut cell, c, engine.config().style_dim, &layers);
            latents.extend(cell);
        }
    }
    let n = latents.len() / per;
    let wplus = HostTensor::new(
        vec![n, engine.config().num_ws(), engine.config().style_dim],
        latents,
    );
    let size = engine.config().size;
    let images = engine.synthesize(&wplus, 4, |_| {})?;
    let rgb: Vec<Vec<u8>> = images
        .data
        .chunks(3 * size * size)
        .map(|i| to_rgb8(i, size, size))
        .collect();
    let mut cells: Vec<Option<&[u8]>> = vec![None];
    cells.extend(rgb.iter().map(|p| Some(p.as_slice())));
    let (px, w, h) = tile(&cells, cols.len() + 1, size);
    let (px, w, h) = crate::io::grid::zoom(&px, w, h, a.zoom as usize);
    save_png(&a.out, &px, w, h, None)?;
    eprintln!(
        "wrote a {}×{} mixing grid to {}",
        rows.len() + 1,
        cols.len() + 1,
        a.out.display()
    );
    Ok(())
}
