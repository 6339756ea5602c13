//! The discriminator `stylenat train` trains (its state file stores it under `d.`): a
//! StyleGAN2-style residual network (equalised learning rate: raw weights ~ N(0, 1),
//! scaled by `1/√fan_in` in the forward pass), sized for small images:
//! FromRGB → residual blocks halving the resolution down to 4×4 → minibatch-stddev →
//! conv 3×3 → dense → dense → one logit per image.

use crate::rng::Rng;
use burn::module::{Module, Param};
use burn::tensor::activation::leaky_relu;
use burn::tensor::module::{avg_pool2d, conv2d, linear};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions};
use burn::tensor::{Device, Tensor, TensorData};
use std::f32::consts::SQRT_2;

/// Leaky ReLU(0.2) with StyleGAN2's √2 gain.
pub fn lrelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    leaky_relu(x, 0.2) * SQRT_2
}

fn normal_param<const D: usize>(
    rng: &mut Rng,
    shape: [usize; D],
    device: &Device,
) -> Param<Tensor<D>> {
    let n = shape.iter().product();
    Param::from_tensor(Tensor::from_data(
        TensorData::new(rng.normals(n), shape),
        device,
    ))
}

fn zeros_param(n: usize, device: &Device) -> Param<Tensor<1>> {
    Param::from_tensor(Tensor::zeros([n], device))
}

/// Equalised-lr convolution, `same` padding.
#[derive(Module, Debug)]
pub struct EqConv {
    pub weight: Param<Tensor<4>>,
    pub bias: Option<Param<Tensor<1>>>,
}

impl EqConv {
    pub fn new(
        rng: &mut Rng,
        c_in: usize,
        c_out: usize,
        k: usize,
        bias: bool,
        device: &Device,
    ) -> Self {
        Self {
            weight: normal_param(rng, [c_out, c_in, k, k], device),
            bias: bias.then(|| zeros_param(c_out, device)),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, c_in, k, _] = self.weight.val().dims();
        let scale = 1.0 / ((c_in * k * k) as f32).sqrt();
        let pad = k / 2;
        let options = ConvOptions::new([1, 1], [pad, pad], [1, 1], 1);
        conv2d(
            x,
            self.weight.val() * scale,
            self.bias.as_ref().map(|b| b.val()),
            options,
        )
    }
}

/// Equalised-lr dense layer (`[out, in]` weights like `EqualLinear`).
#[derive(Module, Debug)]
pub struct EqLinear {
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl EqLinear {
    pub fn new(rng: &mut Rng, d_in: usize, d_out: usize, device: &Device) -> Self {
        Self {
            weight: normal_param(rng, [d_out, d_in], device),
            bias: zeros_param(d_out, device),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let d_in = self.weight.val().dims()[1];
        let w = self.weight.val().transpose() * (1.0 / (d_in as f32).sqrt());
        linear(x, w, Some(self.bias.val()))
    }
}

pub fn downsample(x: Tensor<4>) -> Tensor<4> {
    avg_pool2d(x, AvgPoolOptions::new([2, 2]))
}

/// conv 3×3 → conv 3×3 → ½ resolution, plus a 1×1 skip, summed with 1/√2.
#[derive(Module, Debug)]
pub struct ResBlock {
    pub conv1: EqConv,
    pub conv2: EqConv,
    pub skip: EqConv,
}

impl ResBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let skip = self.skip.forward(downsample(x.clone()));
        let y = lrelu(self.conv1.forward(x));
        let y = lrelu(downsample(self.conv2.forward(y)));
        (y + skip) * (1.0 / SQRT_2)
    }
}

#[derive(Module, Debug)]
pub struct Discriminator {
    pub from_rgb: EqConv,
    pub blocks: Vec<ResBlock>,
    pub final_conv: EqConv,
    pub fc: EqLinear,
    pub out: EqLinear,
}

/// Channels at a resolution: wide at the bottom, narrow at the top.
fn channels(resolution: usize, width: usize) -> usize {
    (width * 8 / resolution).clamp(width / 4, width)
}

impl Discriminator {
    /// A discriminator for `size`×`size` RGB images (`size` a power of two ≥ 8); `width` is
    /// the channel count of the 4×4–8×8 layers.
    pub fn new(size: usize, width: usize, seed: u64, device: &Device) -> Self {
        let mut rng = Rng::new(seed);
        let mut res = size;
        let from_rgb = EqConv::new(&mut rng, 3, channels(res, width), 1, true, device);
        let mut blocks = Vec::new();
        while res > 4 {
            let (c_in, c_out) = (channels(res, width), channels(res / 2, width));
            blocks.push(ResBlock {
                conv1: EqConv::new(&mut rng, c_in, c_in, 3, true, device),
                conv2: EqConv::new(&mut rng, c_in, c_out, 3, true, device),
                skip: EqConv::new(&mut rng, c_in, c_out, 1, false, device),
            });
            res /= 2;
        }
        let c = channels(4, width);
        Self {
            from_rgb,
            blocks,
            final_conv: EqConv::new(&mut rng, c + 1, c, 3, true, device),
            fc: EqLinear::new(&mut rng, c * 16, c, device),
            out: EqLinear::new(&mut rng, c, 1, device),
        }
    }

    /// `x`: `[B, 3, S, S]` → logits `[B]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<1> {
        let mut x = lrelu(self.from_rgb.forward(x));
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.head(x)
    }

    /// The activation entering each residual block (`S`, `S/2`, … 8) and the 4×4 map the
    /// head reads.
    pub fn features(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = lrelu(self.from_rgb.forward(x));
        let mut out = Vec::with_capacity(self.blocks.len() + 1);
        for block in &self.blocks {
            out.push(x.clone());
            x = block.forward(x);
        }
        out.push(x);
        out
    }

    /// The 4×4 map → logits `[B]`.
    fn head(&self, x: Tensor<4>) -> Tensor<1> {
        let x = lrelu(self.final_conv.forward(minibatch_stddev(x)));
        let [b, c, h, w] = x.dims();
        let x = lrelu(self.fc.forward(x.reshape([b, c * h * w])));
        self.out.forward(x).reshape([b])
    }
}

/// Appends one channel: the standard deviation of each feature across groups of up to 4
/// images, averaged over features and pixels (lets D see a lack of variety).
pub(super) fn minibatch_stddev(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let group = (1..=4.min(b)).rev().find(|g| b % g == 0).unwrap_or(1);
    let y = x.clone().reshape([group, b / group, c, h, w]);
    let centred = y.clone() - y.mean_dim(0);
    let std = (centred.square().mean_dim(0) + 1e-8).sqrt(); // [1, b/g, c, h, w]
    let s = std.reshape([b / group, c * h * w]).mean_dim(1); // [b/g, 1]
    let s = s
        .reshape([1, b / group, 1, 1])
        .repeat_dim(0, group)
        .reshape([b, 1, 1, 1])
        .repeat_dim(2, h)
        .repeat_dim(3, w);
    Tensor::cat(vec![x, s], 1)
}
