//! Split-head neighbourhood attention (official `NeighborhoodAttentionSplitHead`,
//! `HydraNeighborhoodAttention` and, for the 4×4 stage, `MHSARPB`).
//!
//! All three are one computation: qkv projection, per-group NA with its own kernel, dilation
//! and bias table, heads concatenated in order, output projection. Full attention on the 4×4
//! map is NA with kernel = map size (every window covers the whole map, and the bias index
//! rule reduces to `rpb[h, kr − qr + 3, kc − qc + 3]`).

use super::StageConfig;
use super::head_edits::{AttentionEdit, resize_bias_table};
use super::layers::Linear;
use super::weight_source::{ParamSource, param};
use crate::error::{Error, Result};
use crate::kernels::{KernelPath, NaProblem, neighborhood_attention};
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

#[derive(Module, Debug)]
pub struct Attention {
    pub qkv: Linear,
    pub proj: Linear,
    /// One relative-position-bias table per head group, `[heads_g, 2k−1, 2k−1]`.
    pub rpb: Vec<Param<Tensor<3>>>,
    #[module(skip)]
    pub problem: NaProblem,
    /// Head-group edits this layer runs with (`None`: as loaded).
    #[module(skip)]
    pub edit: Option<AttentionEdit>,
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
            edit: None,
        })
    }

    /// The NA problem for `batch` images and the bias tables, as the edit (if any) has them.
    fn effective(&self, batch: usize) -> (NaProblem, Vec<Tensor<3>>) {
        let mut problem = NaProblem {
            batch,
            ..self.problem.clone()
        };
        let mut tables: Vec<Tensor<3>> = self.rpb.iter().map(|p| p.val()).collect();
        if let Some(edit) = &self.edit {
            problem.groups = edit.groups.clone();
            tables = tables
                .into_iter()
                .zip(&edit.groups)
                .map(|(t, g)| resize_bias_table(t, g.kernel))
                .collect();
        }
        (problem, tables)
    }

    /// `x`: `[B, H, W, C]` → `[B, H, W, C]`.
    pub fn forward(&self, x: Tensor<4>, na: KernelPath) -> Result<Tensor<4>> {
        let batch = x.dims()[0];
        let qkv = self.qkv.forward(x);
        let (problem, tables) = self.effective(batch);
        let mut out = neighborhood_attention(qkv, &tables, &problem, na)?;
        if let Some(edit) = self.edit.as_ref().filter(|e| e.scales()) {
            let scale = edit.channel_scale(problem.head_dim);
            let c = scale.len();
            let scale = Tensor::<4>::from_data(TensorData::new(scale, [1, 1, 1, c]), &out.device());
            out = out * scale;
        }
        Ok(self.proj.forward(out))
    }
}

impl Attention {
    /// `x + attn(AdaIN(x, style))` for `x` `[B, N, C]` on the CPU backend, fused: the qkv
    /// projection reads the normalised tiles straight from AdaIN, and the output projection
    /// starts from the residual and its bias (head-group scales folded into its weight).
    pub fn forward_residual_cpu(&self, x: Tensor<3>, style: Tensor<2>) -> Result<Tensor<3>> {
        let [b, _, c] = x.dims();
        let (problem, tables) = self.effective(b);
        let layer = |l: &Linear| (l.weight.val(), l.bias.as_ref().map(|b| b.val()));
        let out = crate::kernels::adain_qkv_attention(
            x.clone(),
            style,
            layer(&self.qkv),
            &tables,
            &problem,
        )?;
        let (mut w, bias) = layer(&self.proj);
        if let Some(edit) = self.edit.as_ref().filter(|e| e.scales()) {
            // out·diag(s)·W = out·(diag(s)·W): scale the weight's input rows.
            let scale = edit.channel_scale(problem.head_dim);
            w = w * Tensor::<2>::from_data(TensorData::new(scale, [c, 1]), &x.device());
        }
        crate::kernels::linear_residual(x, out, (w, bias))
    }

    /// The inputs of this layer's NA for `x` (`[B, H, W, C]`), copied to the host (with the
    /// neighbourhoods and tables of its head-group edit, so attention maps follow it).
    pub fn capture(&self, x: Tensor<4>) -> Result<crate::model::AttentionCapture> {
        let (problem, tables) = self.effective(x.dims()[0]);
        let qkv = crate::kernels::to_host(self.qkv.forward(x))?;
        let rpb = tables
            .into_iter()
            .map(crate::kernels::to_host)
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::model::AttentionCapture { problem, qkv, rpb })
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
