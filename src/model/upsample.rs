//! `BilinearUpsample`: 2× bilinear (align_corners = False) → LayerNorm → Linear (no bias)
//! → `+ alpha · SPE`, with SPE the fixed 2-D sinusoidal embedding (official
//! `SinusoidalPositionalEmbedding.make_grid2d`, fairseq style).

use super::layers::{LayerNorm, Linear};
use super::weight_source::{ParamSource, param, tensor};
use crate::error::Result;
use crate::kernels::{KernelPath, upsample_norm_linear};
use crate::tensor::HostTensor;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct Upsample {
    pub norm: LayerNorm,
    pub reduction: Linear,
    pub alpha: Param<Tensor<1>>,
    /// `[1, 2H, 2W, out_dim]`, not a parameter.
    pub spe: Tensor<4>,
}

impl Upsample {
    pub fn load(
        src: &mut dyn ParamSource,
        prefix: &str,
        resolution: usize,
        dim: usize,
        out_dim: usize,
        device: &Device,
    ) -> Result<Self> {
        let size = 2 * resolution;
        Ok(Self {
            norm: LayerNorm::load(src, &format!("{prefix}.norm"), dim, device)?,
            reduction: Linear::load(
                src,
                &format!("{prefix}.reduction"),
                dim,
                out_dim,
                false,
                device,
            )?,
            alpha: param(src.take(&format!("{prefix}.alpha"), &[1])?, device),
            spe: tensor(sinusoidal_grid(size, size, out_dim), device),
        })
    }

    /// `x`: `[B, H·W, C]` → `[B, 4·H·W, out_dim]`.
    /// On the CPU (`path`), interpolation, LayerNorm, the reduction and the SPE term run as
    /// one fused pass plus one GEMM ([`crate::kernels::upsample_norm_linear`]).
    pub fn forward(&self, x: Tensor<3>, path: KernelPath) -> Result<Tensor<3>> {
        let [b, n, c] = x.dims();
        let r = (n as f64).sqrt() as usize;
        if path == KernelPath::Cpu {
            let out = self.reduction.out_features();
            let spe = (self.spe.clone() * self.alpha.val().reshape([1, 1, 1, 1]))
                .reshape([1, 4 * n, out])
                .repeat_dim(0, b);
            return upsample_norm_linear(
                x,
                (self.norm.weight.val(), self.norm.bias.val()),
                self.reduction.weight.val(),
                spe,
            );
        }
        let x = bilinear_up2(bilinear_up2(x.reshape([b, r, r, c]), 1), 2);
        let x = self.reduction.forward(self.norm.forward(x));
        let x = x + self.spe.clone() * self.alpha.val().reshape([1, 1, 1, 1]);
        let out = x.dims()[3];
        Ok(x.reshape([b, 4 * n, out]))
    }
}

/// 2× bilinear upsampling along `axis` of a `[B, H, W, C]` tensor with PyTorch's
/// `align_corners=False` weights: even outputs `¼·x[i−1] + ¾·x[i]`, odd `¾·x[i] + ¼·x[i+1]`,
/// edges clamped.
fn bilinear_up2(x: Tensor<4>, axis: usize) -> Tensor<4> {
    let len = x.dims()[axis];
    let first = x.clone().narrow(axis, 0, 1);
    let last = x.clone().narrow(axis, len - 1, 1);
    let prev = Tensor::cat(vec![first, x.clone().narrow(axis, 0, len - 1)], axis);
    let next = Tensor::cat(vec![x.clone().narrow(axis, 1, len - 1), last], axis);
    let even = prev * 0.25 + x.clone() * 0.75;
    let odd = x * 0.75 + next * 0.25;
    let mut dims = even.dims();
    dims[axis] *= 2;
    // Interleave: stack on a new axis right after `axis`, then merge the two.
    Tensor::stack::<5>(vec![even, odd], axis + 1).reshape(dims)
}

/// SPE grid `[1, H, W, dim]`: channels `0..dim/2` embed the column position `1..=W`,
/// channels `dim/2..` the row position `1..=H`; each half is `[sin(p·f_j), cos(p·f_j)]`,
/// `f_j = exp(−j·ln(10000)/(half − 1))`, `half = dim/4`. Computed in f32 like the original.
pub fn sinusoidal_grid(height: usize, width: usize, dim: usize) -> HostTensor {
    let emb_dim = dim / 2;
    let half = emb_dim / 2;
    let step = (10000f64.ln() / (half as f64 - 1.0)) as f32;
    let freqs: Vec<f32> = (0..half).map(|j| (j as f32 * -step).exp()).collect();
    let embed = |p: usize| -> Vec<f32> {
        let args = freqs.iter().map(|f| p as f32 * f);
        args.clone()
            .map(f32::sin)
            .chain(args.map(f32::cos))
            .collect()
    };
    let cols: Vec<Vec<f32>> = (1..=width).map(embed).collect();
    let rows: Vec<Vec<f32>> = (1..=height).map(embed).collect();
    let mut data = Vec::with_capacity(height * width * dim);
    for row in &rows {
        for col in &cols {
            data.extend_from_slice(col);
            data.extend_from_slice(row);
        }
    }
    HostTensor::new(vec![1, height, width, dim], data)
}
