//! `stylenat inspect`: one intermediate layer of one image as a picture — one channel in grey
//! or three as RGB, beside the log-magnitude spectrum of the shown channels — with its
//! statistics on stdout.

use super::ModelArgs;
use super::generate::LatentArgs;
use crate::analysis::inspect::{Normalise, inspect};
use crate::io::grid::{tile, zoom};
use crate::io::image::save_png;
use crate::model::Site;
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// One seed (`--seeds 7`) with truncation / mixing / edits as for `generate`.
    #[command(flatten)]
    pub latent: LatentArgs,
    /// The layer: `stageS.blockB` (block output), `stageS.blockB.attn` (attention output),
    /// `stageS.upsample` or `stageS.torgb` (the RGB skip image after the stage).
    #[arg(long, value_name = "LAYER")]
    pub layer: Site,
    /// One channel, or three shown as RGB, e.g. `0,1,2`.
    #[arg(long, value_name = "LIST", default_value = "0", value_delimiter = ',')]
    pub channels: Vec<usize>,
    /// Normalise over every channel of the layer instead of per shown channel.
    #[arg(long)]
    pub global: bool,
    /// Output PNG: the channel picture, then its spectrum (each at least 256 pixels wide).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: InspectArgs) -> Result<()> {
    super::refuse_overwrite(&a.out, a.force)?;
    let seeds = a.latent.seeds()?;
    let [seed] = seeds[..] else {
        bail!("the inspector looks at one image; pass e.g. --seeds 7");
    };
    let mut engine = a.model.engine()?;
    let recipe = a.latent.recipe()?.with_seed(seed);
    let wplus = crate::compose::Composer::default().wplus(&mut engine, &[recipe])?;
    let norm = match a.global {
        true => Normalise::Global,
        false => Normalise::PerChannel,
    };
    let ins = inspect(&engine, &wplus, a.layer, &a.channels, norm)?;
    println!(
        "{}: {} channels, {}×{}",
        ins.site, ins.layer_channels, ins.size, ins.size
    );
    for (c, (mean, std, max)) in ins.channels.iter().zip(&ins.stats) {
        println!("channel {c:4}: mean {mean:+.4}  std {std:.4}  max {max:+.4}");
    }
    let s = ins.size;
    let spectrum: Vec<u8> = ins.spectrum.iter().flat_map(|&g| [g, g, g]).collect();
    let (px, w, h) = tile(&[Some(&ins.picture), Some(&spectrum)], 2, s);
    let (px, w, h) = zoom(&px, w, h, 256usize.div_ceil(s));
    save_png(&a.out, &px, w, h, None)?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
