//! `stylenat synth`: latents in, raw float32 NCHW generator output out (`.npy`). This is the
//! contract external parity tests use; keep it stable.

use super::ModelArgs;
use super::generate::GroupEditArgs;
use crate::compose::Composer;
use crate::io::npy::{read_array, write_array};
use crate::latent::recipe::Recipe;
use crate::tensor::HostTensor;
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SynthArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// W+ input `[N, num_ws, w_dim]` (.npy, or .npz key `w`).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "z",
        required_unless_present = "z"
    )]
    pub wplus: Option<PathBuf>,
    /// z input `[N, z_dim]`; mapped, then broadcast to every W+ layer.
    #[arg(long, value_name = "FILE")]
    pub z: Option<PathBuf>,
    /// Truncation ψ for --z (w' = mean + ψ (w − mean) on all layers).
    #[arg(long, value_name = "PSI", requires = "z")]
    pub trunc: Option<f32>,
    /// Truncation centre (.npy, [w_dim]); default: the computed mean latent.
    #[arg(long, value_name = "FILE", requires = "trunc")]
    pub trunc_mean: Option<PathBuf>,
    #[command(flatten)]
    pub groups: GroupEditArgs,
    /// Output `.npy`, float32 `[N, 3, size, size]`.
    #[arg(long, value_name = "FILE")]
    pub out_npy: PathBuf,
    #[command(flatten)]
    pub batch: super::BatchArgs,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: SynthArgs) -> Result<()> {
    super::refuse_overwrite(&a.out_npy, a.force)?;
    let mut engine = a.model.engine()?;
    let wplus = match (&a.wplus, &a.z) {
        (Some(p), _) => {
            engine.set_head_edits(&a.groups.group_edit)?;
            read_array(p, Some("w"))?
        }
        (None, Some(p)) => {
            let z = read_array(p, Some("z"))?;
            let wplus = engine.broadcast(&engine.map(&z)?);
            let recipe = Recipe {
                psi: a.trunc.unwrap_or(1.0),
                trunc_mean: match &a.trunc_mean {
                    Some(m) => Some(read_array(m, Some("mean"))?.data),
                    None => None,
                },
                group_edits: a.groups.group_edit.clone(),
                ..Default::default()
            };
            let num_ws = engine.config().num_ws();
            let recipes: Vec<Recipe> = wplus
                .data
                .chunks(wplus.data.len() / wplus.shape[0].max(1))
                .enumerate()
                .map(|(i, row)| recipe.with_latent(format!("z[{i}]"), num_ws, row.to_vec()))
                .collect();
            Composer::default().wplus(&mut engine, &recipes)?
        }
        (None, None) => bail!("pass --wplus or --z"),
    };
    let out: HostTensor = engine.synthesize(&wplus, a.batch.resolve(&engine), |_| {})?;
    write_array(&a.out_npy, "img", &out)?;
    eprintln!("wrote {:?} to {}", out.shape, a.out_npy.display());
    Ok(())
}
