//! `stylenat info`: what a checkpoint contains.

use super::ConfigArgs;
use crate::checkpoint;
use crate::model::GeneratorConfig;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Checkpoint file (.pt or .safetensors), or a PNG made by `stylenat generate` (prints the
    /// checkpoint and latent recipe stored in it).
    pub ckpt: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the configuration as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: InfoArgs) -> Result<()> {
    if crate::io::provenance::is_png(&a.ckpt) {
        return match crate::io::provenance::read_png(&a.ckpt)? {
            Some(p) => {
                println!("{}", serde_json::to_string_pretty(&p)?);
                Ok(())
            }
            None => anyhow::bail!("{} has no StyleNAT provenance record", a.ckpt.display()),
        };
    }
    let source = a.config.source();
    let loaded = checkpoint::load(&a.ckpt, &source)
        .with_context(|| format!("reading {}", a.ckpt.display()))?;
    let params: usize = loaded
        .weights
        .iter()
        .filter(|(n, _)| is_parameter(n))
        .map(|(_, t)| t.data.len())
        .sum();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&loaded.config)?);
        return Ok(());
    }
    println!("file        {}", a.ckpt.display());
    println!("format      {}", loaded.format);
    print!("{}", describe(&loaded.config, params));
    Ok(())
}

/// Buffers stored beside parameters in the official state dict.
fn is_parameter(name: &str) -> bool {
    !name.ends_with("relative_position_index") && !name.ends_with("upsample.kernel")
}

/// A human-readable architecture table.
pub fn describe(c: &GeneratorConfig, params: usize) -> String {
    let mut s = String::new();
    let mut line = |t: String| {
        s.push_str(&t);
        s.push('\n');
    };
    line(format!("params      {params}"));
    line(format!("resolution  {0}×{0}", c.size));
    line(format!(
        "style_dim   {} (mapping: {} layers, lr_mlp {})",
        c.style_dim, c.n_mlp, c.lr_mlp
    ));
    line(format!("W+ layers   {}", c.num_ws()));
    line(
        "stage  res   dim  heads  head_dim  groups (heads × kernel/dilation)       W+    out"
            .into(),
    );
    for (i, st) in c.stages.iter().enumerate() {
        let groups = if st.is_full_attention() {
            format!("full attention ({} heads)", st.num_heads())
        } else {
            st.groups
                .iter()
                .map(|g| format!("{}×k{}/d{}", g.heads, g.kernel, g.dilation))
                .collect::<Vec<_>>()
                .join(", ")
        };
        line(format!(
            "{i:>5}  {:>4}  {:>4}  {:>5}  {:>8}  {groups:<38} {:>2},{:<2}  {}",
            st.resolution,
            st.dim,
            st.num_heads(),
            st.head_dim(),
            2 * i,
            2 * i + 1,
            st.out_dim.map_or("-".into(), |o| o.to_string()),
        ));
    }
    s
}
