//! Split-head neighbourhood attention (official `NeighborhoodAttentionSplitHead`,
//! `HydraNeighborhoodAttention` and, for the 4×4 stage, `MHSARPB`).
//!
//! All three are one computation: qkv projection, per-group NA with its own kernel, dilation
//! and bias table, heads concatenated in order, output projection. Full attention on the 4×4
//! map is NA with kernel = map size (every window covers the whole map, and the bias index
//! rule reduces to `rpb[h, kr − qr + 3, kc − qc + 3]`).

use super::StageConfig;
use super::layers::Linear;
use super::weight_source::{ParamSource, param};
use crate::error::{Error, Result};
use crate::kernels::{KernelPath, NaProblem, neighborhood_attention};
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct Attention {
    pub qkv: Linear,
    pub proj: Linear,
    /// One relative-position-bias table per head group, `[heads_g, 2k−1, 2k−1]`.
    pub rpb: Vec<Param<Tensor<3>>>,
    #[module(skip)]
    pub problem: NaProblem,
}

impl Attention {
    pub fn load(
        stage: &StageConfig,
        qk_scale: Option<f32>,
        src: &mut dyn ParamSource,
        prefix: &str,
        device: &Device,
    ) -> Result<Self> {
        let dim = stage.dim;
        let qkv = Linear::load(
            src,
            &format!("{prefix}.qkv"),
            dim,
            3 * dim,
            stage.qkv_bias,
            device,
        )?;
        let proj = Linear::load(src, &format!("{prefix}.proj"), dim, dim, true, device)?;
        let rpb = stage
            .groups
            .iter()
            .enumerate()
            .map(|(g, grp)| {
                let t = 2 * grp.kernel - 1;
                Ok(param(
                    src.take(&format!("{prefix}.rpb.{g}"), &[grp.heads, t, t])?,
                    device,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        if stage.is_full_attention() {
            check_full_attention_index(stage, src, prefix)?;
        }
        let head_dim = stage.head_dim();
        Ok(Self {
            qkv,
            proj,
            rpb,
            problem: NaProblem {
                batch: 0,
                height: stage.resolution,
                width: stage.resolution,
                head_dim,
                scale: qk_scale.unwrap_or((head_dim as f32).powf(-0.5)),
                groups: stage.groups.clone(),
            },
        })
    }

    /// `x`: `[B, H, W, C]` → `[B, H, W, C]`.
    pub fn forward(&self, x: Tensor<4>, na: KernelPath) -> Result<Tensor<4>> {
        let batch = x.dims()[0];
        let qkv = self.qkv.forward(x);
        let problem = NaProblem {
            batch,
            ..self.problem.clone()
        };
        let tables: Vec<Tensor<3>> = self.rpb.iter().map(|p| p.val()).collect();
        let out = neighborhood_attention(qkv, &tables, &problem, na)?;
        Ok(self.proj.forward(out))
    }
}

impl Attention {
    /// The inputs of this layer's NA for `x` (`[B, H, W, C]`), copied to the host.
    pub fn capture(&self, x: Tensor<4>) -> Result<crate::model::AttentionCapture> {
        let batch = x.dims()[0];
        let qkv = crate::kernels::to_host(self.qkv.forward(x))?;
        let rpb = self
            .rpb
            .iter()
            .map(|p| crate::kernels::to_host(p.val()))
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::model::AttentionCapture {
            problem: NaProblem {
                batch,
                ..self.problem.clone()
            },
            qkv,
            rpb,
        })
    }
}

/// The 4×4 stage stores `relative_position_index`; we compute the same indexing from the
/// rule, so check the checkpoint agrees rather than trusting either silently.
fn check_full_attention_index(
    stage: &StageConfig,
    src: &mut dyn ParamSource,
    prefix: &str,
) -> Result<()> {
    let l = stage.resolution;
    let n = l * l;
    let name = format!("{prefix}.relative_position_index");
    let Some(index) = src.take_optional(&name, &[n, n])? else {
        return Ok(());
    };
    let t = 2 * l - 1;
    for q in 0..n {
        for k in 0..n {
            let (qr, qc, kr, kc) = (q / l, q % l, k / l, k % l);
            let expected = (kr + l - 1 - qr) * t + (kc + l - 1 - qc);
            if index.data[q * n + k] as usize != expected {
                return Err(Error::Config(format!(
                    "`{name}` does not follow the official MHSARPB indexing (entry [{q}, {k}])"
                )));
            }
        }
    }
    Ok(())
}
