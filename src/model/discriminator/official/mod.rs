//! The discriminator official StyleNAT checkpoints store under `d` (`models/discriminator.py`:
//! StyleSwin's variant of rosinality's StyleGAN2 D, with a Haar-wavelet input path and
//! optional spectral norm), read by its official tensor names; every tensor must be used.
//!
//! The image goes through a Haar transform (`[B, 12, S/2, S/2]`). Block i adds
//! `from_rgbs.i(wavelets)` to the running map and runs `convs.i` (conv 3×3 + lrelu, blur +
//! conv 3×3 stride 2 + lrelu); each `from_rgbs` after the first first takes the wavelets down
//! a level (inverse Haar → blur-downsample → Haar). At 4×4 the last `from_rgbs` is added, then
//! minibatch stddev, conv 3×3 + lrelu, dense + lrelu, dense → one logit per image.
//!
//! Weights: equalised learning rate (`weight · 1/√fan_in`) or, where the file has
//! `weight_orig`/`weight_u`/`weight_v` (`sn: True`, the FFHQ runs), spectral norm as PyTorch
//! evaluates it: `weight_orig / (u · (W v))` with the stored vectors, no power iteration.

mod load;

use super::native::lrelu;
use super::upfirdn::{Fir, Haar};
use burn::tensor::Tensor;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// Conv (with an optional blur before a stride-2 conv), then the official fused
/// `lrelu(x + bias)·√2`.
#[derive(Debug, Clone)]
struct ConvLayer {
    blur: Option<Fir>,
    weight: Tensor<4>,
    stride: usize,
    padding: usize,
    act_bias: Tensor<1>,
}

impl ConvLayer {
    /// (in, out) channels, from the weight `[out, in, k, k]`.
    fn channels(&self) -> (usize, usize) {
        let [out, c_in, _, _] = self.weight.dims();
        (c_in, out)
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = match &self.blur {
            Some(b) => b.apply(x),
            None => x,
        };
        let s = self.stride;
        let p = self.padding;
        let x = conv2d(
            x,
            self.weight.clone(),
            None,
            ConvOptions::new([s, s], [p, p], [1, 1], 1),
        );
        lrelu(x + self.act_bias.clone().reshape([1, -1, 1, 1]))
    }
}

/// Dense layer (`[in, out]` weights); `act_bias` set: the fused lrelu follows.
#[derive(Debug, Clone)]
struct Dense {
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
    act_bias: Option<Tensor<1>>,
}

impl Dense {
    /// (in, out) features.
    fn dims(&self) -> (usize, usize) {
        let [d_in, d_out] = self.weight.dims();
        (d_in, d_out)
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut x = x.matmul(self.weight.clone());
        if let Some(b) = &self.bias {
            x = x + b.clone().unsqueeze();
        }
        match &self.act_bias {
            Some(b) => lrelu(x + b.clone().unsqueeze()),
            None => x,
        }
    }
}

#[derive(Debug, Clone)]
struct FromRgb {
    /// Inverse Haar, blur-downsample, Haar: the wavelets one level down.
    down: Option<(Haar, Fir, Haar)>,
    conv: ConvLayer,
}

/// The official discriminator, frozen (used for its features and logits).
#[derive(Debug, Clone)]
pub struct OfficialDiscriminator {
    /// Image side it takes.
    pub size: usize,
    pub spectral_norm: bool,
    dwt: Haar,
    from_rgbs: Vec<FromRgb>,
    convs: Vec<(ConvLayer, ConvLayer)>,
    final_conv: ConvLayer,
    fc: Dense,
    out: Dense,
}

impl OfficialDiscriminator {
    /// The map entering each conv block (`S/2`, … 8) and the 4×4 map the head reads.
    pub fn features(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut wavelets = self.dwt.forward(x);
        let mut out: Option<Tensor<4>> = None;
        let mut features = Vec::with_capacity(self.from_rgbs.len());
        for (i, from_rgb) in self.from_rgbs.iter().enumerate() {
            if let Some((iwt, down, dwt)) = &from_rgb.down {
                wavelets = dwt.forward(down.apply(iwt.inverse(wavelets)));
            }
            let mut o = from_rgb.conv.forward(wavelets.clone());
            if let Some(prev) = out.take() {
                o = o + prev;
            }
            if let Some((conv1, conv2)) = self.convs.get(i) {
                out = Some(conv2.forward(conv1.forward(o.clone())));
            }
            features.push(o);
        }
        features
    }

    /// `[B, 3, S, S]` → logits `[B]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<1> {
        let x = self.features(x).pop().expect("at least one block");
        let x = self.final_conv.forward(super::native::minibatch_stddev(x));
        let [b, c, h, w] = x.dims();
        let x = self.out.forward(self.fc.forward(x.reshape([b, c * h * w])));
        x.reshape([b])
    }
}
