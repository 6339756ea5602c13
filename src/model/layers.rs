//! Small layers: `nn.Linear`, StyleGAN2 `EqualLinear`, `nn.LayerNorm`, AdaIN, the MLP.

use super::weight_source::{ParamSource, param};
use crate::error::Result;
use crate::kernels::{KernelPath, adain, gelu};
use crate::tensor::HostTensor;
use burn::module::{Module, Param};
use burn::tensor::module::linear;
use burn::tensor::{Device, Tensor};

/// A linear layer stored as `[in, out]` (transposed from PyTorch's `[out, in]` at load time).
#[derive(Module, Debug)]
pub struct Linear {
    pub weight: Param<Tensor<2>>,
    pub bias: Option<Param<Tensor<1>>>,
}

impl Linear {
    /// From PyTorch tensors (`weight` `[out, in]`, `bias` `[out]`), multiplying weights by
    /// `weight_scale` and the bias by `bias_scale` as `F.linear(x, W·scale, b·lr_mul)` does.
    pub fn from_pytorch(
        weight: HostTensor,
        bias: Option<HostTensor>,
        (weight_scale, bias_scale): (f32, f32),
        device: &Device,
    ) -> Self {
        let (d_out, d_in) = (weight.shape[0], weight.shape[1]);
        let mut t = vec![0f32; d_in * d_out];
        for o in 0..d_out {
            for i in 0..d_in {
                t[i * d_out + o] = weight.data[o * d_in + i] * weight_scale;
            }
        }
        let bias = bias.map(|mut b| {
            b.data.iter_mut().for_each(|x| *x *= bias_scale);
            param(b, device)
        });
        Self {
            weight: param(HostTensor::new(vec![d_in, d_out], t), device),
            bias,
        }
    }

    fn load_scaled(
        src: &mut dyn ParamSource,
        prefix: &str,
        (d_in, d_out): (usize, usize),
        bias: bool,
        scales: (f32, f32),
        device: &Device,
    ) -> Result<Self> {
        let w = src.take(&format!("{prefix}.weight"), &[d_out, d_in])?;
        let b = match bias {
            true => Some(src.take(&format!("{prefix}.bias"), &[d_out])?),
            false => None,
        };
        Ok(Self::from_pytorch(w, b, scales, device))
    }

    /// `nn.Linear(d_in, d_out, bias)`.
    pub fn load(
        src: &mut dyn ParamSource,
        prefix: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
        device: &Device,
    ) -> Result<Self> {
        Self::load_scaled(src, prefix, (d_in, d_out), bias, (1.0, 1.0), device)
    }

    /// StyleGAN2 `EqualLinear`: weight × `lr_mul/√in`, bias × `lr_mul`.
    pub fn load_equal(
        src: &mut dyn ParamSource,
        prefix: &str,
        d_in: usize,
        d_out: usize,
        lr_mul: f32,
        device: &Device,
    ) -> Result<Self> {
        let scales = super::state_dict::equal_scales(d_in, lr_mul);
        Self::load_scaled(src, prefix, (d_in, d_out), true, scales, device)
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        linear(x, self.weight.val(), self.bias.as_ref().map(|b| b.val()))
    }

    pub fn out_features(&self) -> usize {
        self.weight.val().dims()[1]
    }
}

/// `nn.LayerNorm(dim)` over the last axis, eps 1e-5.
#[derive(Module, Debug)]
pub struct LayerNorm {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
}

impl LayerNorm {
    pub fn load(
        src: &mut dyn ParamSource,
        prefix: &str,
        dim: usize,
        device: &Device,
    ) -> Result<Self> {
        Ok(Self {
            weight: param(src.take(&format!("{prefix}.weight"), &[dim])?, device),
            bias: param(src.take(&format!("{prefix}.bias"), &[dim])?, device),
        })
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let (var, mean) = x.clone().var_mean_bias(D - 1);
        let norm = (x - mean) / (var + 1e-5).sqrt();
        norm * self.weight.val().unsqueeze() + self.bias.val().unsqueeze()
    }
}

/// Adaptive instance norm: instance-normalise each channel over the tokens (eps 1e-5, no
/// affine), then `gamma·x + beta` with `[gamma, beta] = EqualLinear(w)`.
#[derive(Module, Debug)]
pub struct AdaIn {
    pub style: Linear,
}

impl AdaIn {
    pub fn load(
        src: &mut dyn ParamSource,
        prefix: &str,
        dim: usize,
        style_dim: usize,
        device: &Device,
    ) -> Result<Self> {
        Ok(Self {
            style: Linear::load_equal(
                src,
                &format!("{prefix}.style"),
                style_dim,
                2 * dim,
                1.0,
                device,
            )?,
        })
    }

    /// `x`: `[B, N, C]` tokens, `w`: `[B, style_dim]`.
    pub fn forward(&self, x: Tensor<3>, w: Tensor<2>, path: KernelPath) -> Result<Tensor<3>> {
        adain(x, self.style.forward(w), path) // style: [B, 2C], gamma first
    }
}

/// `Linear → GELU(erf) → Linear`.
#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Mlp {
    pub fn load(
        src: &mut dyn ParamSource,
        prefix: &str,
        dim: usize,
        hidden: usize,
        device: &Device,
    ) -> Result<Self> {
        Ok(Self {
            fc1: Linear::load(src, &format!("{prefix}.fc1"), dim, hidden, true, device)?,
            fc2: Linear::load(src, &format!("{prefix}.fc2"), hidden, dim, true, device)?,
        })
    }

    pub fn forward(&self, x: Tensor<3>, path: KernelPath) -> Result<Tensor<3>> {
        Ok(self.fc2.forward(gelu(self.fc1.forward(x), path)?))
    }
}
