//! One transformer block (official `NATLayer` / `MHSARPBLayer`):
//! `x = x + attn(AdaIN1(x, w)); x = x + mlp(AdaIN2(x, w))`.

use super::attention::Attention;
use super::layers::{AdaIn, Mlp};
use super::trace::{Observer, Site, observe};
use super::weight_source::ParamSource;
use super::{GeneratorConfig, StageConfig};
use crate::error::Result;
use crate::kernels::{KernelPath, LinearParams, adain_mlp_residual};
use burn::module::Module;
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct Block {
    pub norm1: AdaIn,
    pub attn: Attention,
    pub norm2: AdaIn,
    pub mlp: Mlp,
    pub resolution: usize,
}

impl Block {
    pub fn load(
        cfg: &GeneratorConfig,
        stage: &StageConfig,
        src: &mut dyn ParamSource,
        prefix: &str,
        device: &Device,
    ) -> Result<Self> {
        let (dim, sd) = (stage.dim, cfg.style_dim);
        Ok(Self {
            norm1: AdaIn::load(src, &format!("{prefix}.norm1"), dim, sd, device)?,
            attn: Attention::load(stage, cfg.qk_scale, src, &format!("{prefix}.attn"), device)?,
            norm2: AdaIn::load(src, &format!("{prefix}.norm2"), dim, sd, device)?,
            mlp: Mlp::load(src, &format!("{prefix}.mlp"), dim, stage.mlp_hidden, device)?,
            resolution: stage.resolution,
        })
    }

    /// `x`: `[B, N, C]`, `w`: `[B, style_dim]`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        w: Tensor<2>,
        na: KernelPath,
        obs: &mut dyn Observer,
        (stage, block): (usize, usize),
    ) -> Result<Tensor<3>> {
        let attn_out = Site::AttnOut { stage, block };
        let x = if na == KernelPath::Cpu
            && !obs.wants_attention(stage, block)
            && !obs.wants(attn_out)
        {
            // One fused pass each side of NA on the CPU (nothing observes the halfway values).
            self.attn
                .forward_residual_cpu(x, self.norm1.style.forward(w.clone()))?
        } else {
            self.attention_residual(x, w.clone(), na, obs, (stage, block))?
        };
        let x = if na == KernelPath::Cpu {
            // One fused pass on the CPU: the hidden activation never reaches memory.
            let mlp = &self.mlp;
            let fc = |l: &super::layers::Linear| -> Result<LinearParams> {
                let bias = l.bias.as_ref().ok_or_else(|| {
                    crate::error::Error::Config("an MLP layer without a bias".into())
                })?;
                Ok((l.weight.val(), bias.val()))
            };
            adain_mlp_residual(x, self.norm2.style.forward(w), fc(&mlp.fc1)?, fc(&mlp.fc2)?)?
        } else {
            x.clone() + self.mlp.forward(self.norm2.forward(x, w, na)?, na)?
        };
        observe(obs, Site::BlockOut { stage, block }, &x);
        Ok(x)
    }

    /// `x + attn(AdaIN1(x, w))` op by op, handing the attention inputs and output to `obs`.
    fn attention_residual(
        &self,
        x: Tensor<3>,
        w: Tensor<2>,
        na: KernelPath,
        obs: &mut dyn Observer,
        (stage, block): (usize, usize),
    ) -> Result<Tensor<3>> {
        let [b, n, c] = x.dims();
        let r = self.resolution;
        let h = self.norm1.forward(x.clone(), w, na)?.reshape([b, r, r, c]);
        if obs.wants_attention(stage, block) {
            obs.attention(self.attn.capture(h.clone())?);
        }
        let a = self.attn.forward(h, na)?;
        observe(obs, Site::AttnOut { stage, block }, &a);
        Ok(x + a.reshape([b, n, c]))
    }
}
