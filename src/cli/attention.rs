//! `stylenat attention`: what each head group of one block attends to from one pixel, as an
//! image strip — the generated image, then one heat overlay per head group (or per head).

use super::ModelArgs;
use super::generate::LatentArgs;
use crate::analysis::attention::{attention_maps, overlay};
use crate::io::grid::tile;
use crate::io::image::{save_png, to_rgb8};
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AttentionArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// One seed (`--seed 7`) with truncation / mixing as for `generate`.
    #[command(flatten)]
    pub latent: LatentArgs,
    /// Query pixel in output-image coordinates, `X,Y`.
    #[arg(long, value_name = "X,Y", value_parser = parse_pixel)]
    pub pixel: (usize, usize),
    /// Stage (0 = 4×4); default: the stage with the most head groups' variety, the last one.
    #[arg(long)]
    pub stage: Option<usize>,
    /// Block within the stage (0 or 1).
    #[arg(long, default_value_t = 0)]
    pub block: usize,
    /// One panel per head instead of per head group.
    #[arg(long)]
    pub per_head: bool,
    /// Output PNG.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[arg(long)]
    pub force: bool,
}

fn parse_pixel(text: &str) -> std::result::Result<(usize, usize), String> {
    let (x, y) = text.split_once(',').ok_or("expected X,Y")?;
    match (x.trim().parse(), y.trim().parse()) {
        (Ok(x), Ok(y)) => Ok((x, y)),
        _ => Err(format!("`{text}` is not a pixel like 64,32")),
    }
}

pub fn run(a: AttentionArgs) -> Result<()> {
    super::refuse_overwrite(&a.out, a.force)?;
    let seeds = a.latent.seeds()?;
    let [seed] = seeds[..] else {
        bail!("attention maps are for one seed; pass e.g. --seeds 7");
    };
    let mut engine = a.model.engine()?;
    let recipe = a.latent.recipe()?.with_seed(seed);
    let wplus = crate::compose::Composer::default().wplus(&mut engine, &[recipe])?;
    let stage = a.stage.unwrap_or(engine.config().stages.len() - 1);
    let maps = attention_maps(&engine, &wplus, stage, a.block, a.pixel)?;
    let size = engine.config().size;
    let rgb = to_rgb8(&engine.synthesize(&wplus, 1, |_| {})?.data, size, size);
    let mut panels = vec![rgb.clone()];
    println!(
        "stage {stage} ({r}×{r}), block {}, query cell ({}, {}) of pixel ({}, {})",
        a.block,
        maps.query.0,
        maps.query.1,
        a.pixel.0,
        a.pixel.1,
        r = maps.resolution
    );
    println!("panel 1: the image");
    for g in &maps.groups {
        let label = format!(
            "group {}: kernel {}, dilation {}",
            g.group, g.kernel, g.dilation
        );
        if a.per_head {
            for (i, m) in g.per_head.iter().enumerate() {
                panels.push(overlay(&rgb, size, m, maps.resolution, maps.query));
                println!("panel {}: {label}, head {i}", panels.len());
            }
        } else {
            panels.push(overlay(&rgb, size, &g.mean, maps.resolution, maps.query));
            println!("panel {}: {label}, mean of {} heads", panels.len(), g.heads);
        }
    }
    let cells: Vec<Option<&[u8]>> = panels.iter().map(|p| Some(p.as_slice())).collect();
    let (px, w, h) = tile(&cells, cells.len(), size);
    save_png(&a.out, &px, w, h, None)?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
