//! `ToRGB`: 1×1 conv to RGB plus a bias, added to the previous stage's RGB upsampled by
//! `upfirdn2d(up=2, pad=(2,1))` with the 4×4 blur kernel (stored in the checkpoint).

use super::layers::Linear;
use super::weight_source::{ParamSource, param, tensor};
use crate::error::Result;
use crate::tensor::HostTensor;
use burn::module::{Module, Param};
use burn::tensor::module::conv_transpose2d;
use burn::tensor::ops::ConvTransposeOptions;
use burn::tensor::{Device, Tensor};

/// The official `make_kernel([1, 3, 3, 1]) · 4`: outer product normalised to sum 1, times the
/// upsampling factor squared.
fn blur_kernel() -> Vec<f32> {
    let a = [1.0f32, 3.0, 3.0, 1.0];
    let mut k = Vec::with_capacity(16);
    for y in a {
        for x in a {
            k.push(y * x / 64.0 * 4.0);
        }
    }
    k
}

#[derive(Module, Debug)]
pub struct ToRgb {
    /// The 1×1 conv as a linear layer over channels.
    pub conv: Linear,
    pub bias: Param<Tensor<1>>,
    /// `[1, 1, 4, 4]` blur for the skip upsample; `None` for the last stage.
    pub upsample: Option<Tensor<4>>,
}

impl ToRgb {
    pub fn load(
        src: &mut dyn ParamSource,
        prefix: &str,
        dim: usize,
        upsample: bool,
        device: &Device,
    ) -> Result<Self> {
        // The conv weight is [3, C, 1, 1]; view it as a linear layer.
        let w = src.take(&format!("{prefix}.conv.weight"), &[3, dim, 1, 1])?;
        let b = src.take(&format!("{prefix}.conv.bias"), &[3])?;
        let conv = Linear::from_pytorch(
            HostTensor::new(vec![3, dim], w.data),
            Some(b),
            (1.0, 1.0),
            device,
        );
        let bias = src.take(&format!("{prefix}.bias"), &[1, 3, 1, 1])?;
        let bias = param::<1>(HostTensor::new(vec![3], bias.data), device);
        let kernel = src.take_optional(&format!("{prefix}.upsample.kernel"), &[4, 4])?;
        let upsample = match (upsample, kernel) {
            (true, Some(k)) => Some(tensor(HostTensor::new(vec![1, 1, 4, 4], k.data), device)),
            (true, None) => Some(tensor(
                HostTensor::new(vec![1, 1, 4, 4], blur_kernel()),
                device,
            )),
            (false, _) => None,
        };
        Ok(Self {
            conv,
            bias,
            upsample,
        })
    }

    /// `x`: `[B, N, C]` at resolution `r` (N = r²); `skip`: `[B, 3, r/2, r/2]` or `[B, 3, r, r]`
    /// (last stage). Returns `[B, 3, r, r]`.
    pub fn forward(&self, x: Tensor<3>, skip: Option<Tensor<4>>) -> Tensor<4> {
        let [b, n, _] = x.dims();
        let r = (n as f64).sqrt() as usize;
        let rgb = (self.conv.forward(x) + self.bias.val().unsqueeze::<3>())
            .swap_dims(1, 2)
            .reshape([b, 3, r, r]);
        match (skip, &self.upsample) {
            (None, _) => rgb,
            (Some(s), None) => rgb + s,
            (Some(s), Some(k)) => rgb + upfirdn_up2(s, k.clone()),
        }
    }
}

/// `upfirdn2d(x, k, up=2, pad=(2, 1))` per channel, as a stride-2 transposed convolution with
/// padding 1: `out[y] = Σ_i x[i]·k[y + 1 − 2i]` (the flip in upfirdn2d cancels the one in the
/// transposed convolution).
fn upfirdn_up2(x: Tensor<4>, kernel: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let options = ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1);
    conv_transpose2d(x.reshape([b * c, 1, h, w]), kernel, None, options).reshape([
        b,
        c,
        2 * h,
        2 * w,
    ])
}
