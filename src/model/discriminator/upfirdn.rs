//! `upfirdn2d` as the official code computes it on the CPU (`upfirdn2d_native`): per channel,
//! insert `up − 1` zeros after every pixel, zero-pad by `(pad0, pad1)` on both axes, convolve
//! with the kernel (correlate with it flipped), keep every `down`-th pixel. With it, the
//! Haar wavelet transform and its inverse (kernels read from the checkpoint, where the
//! official modules keep them as buffers).

use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Tensor, TensorData};

/// A 2-D FIR kernel `[kh, kw]` (row = y) and the sampling around it.
#[derive(Debug, Clone)]
pub struct Fir {
    /// `[1, 1, kh, kw]`, already flipped (so a correlation applies the convolution).
    flipped: Tensor<4>,
    pub up: usize,
    pub down: usize,
    pub pad: (usize, usize),
}

impl Fir {
    /// `kernel`: row-major `[kh, kw]` values as stored in the checkpoint.
    pub fn new(
        kernel: &[f32],
        [kh, kw]: [usize; 2],
        up: usize,
        down: usize,
        pad: (usize, usize),
        device: &Device,
    ) -> Self {
        let k = Tensor::<4>::from_data(TensorData::new(kernel.to_vec(), [1, 1, kh, kw]), device);
        Self {
            flipped: k.flip([2, 3]),
            up,
            down,
            pad,
        }
    }

    /// `[B, C, H, W]` → `[B, C, (H·up + pad0 + pad1 − kh)/down + 1, …]`.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let x = if self.up > 1 {
            // [B·C, H, 1, W, 1] → zeros after each row and column → [B, C, H·up, W·up].
            let u = self.up;
            let x = x.reshape([b * c, h, 1, w, 1]);
            let zeros = |d: [usize; 5]| Tensor::<5>::zeros(d, &x.device());
            let x = Tensor::cat(vec![x.clone(), zeros([b * c, h, 1, w, u - 1])], 4);
            let x = Tensor::cat(vec![x.clone(), zeros([b * c, h, u - 1, w, u])], 2);
            x.reshape([b, c, h * u, w * u])
        } else {
            x
        };
        let (p0, p1) = self.pad;
        let x = x.pad((p0, p1, p0, p1), PadMode::Constant(0.0));
        let weight = self.flipped.clone().repeat_dim(0, c);
        let options = ConvOptions::new([self.down, self.down], [0, 0], [1, 1], c);
        conv2d(x, weight, None, options)
    }
}

/// The four 2×2 Haar filters (`ll`, `lh`, `hl`, `hh`), in the official channel order.
#[derive(Debug, Clone)]
pub struct Haar(pub [Fir; 4]);

impl Haar {
    /// Forward transform: `[B, C, H, W]` → `[B, 4C, H/2, W/2]` (all `ll` channels first).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(self.0.iter().map(|f| f.apply(x.clone())).collect(), 1)
    }

    /// Inverse transform (built with the inverse's own kernels): `[B, 4C, H, W]` →
    /// `[B, C, 2H, 2W]`, the sum of the four bands each upsampled by its filter.
    pub fn inverse(&self, x: Tensor<4>) -> Tensor<4> {
        let bands = x.chunk(4, 1);
        bands
            .into_iter()
            .zip(&self.0)
            .map(|(band, f)| f.apply(band))
            .reduce(|a, b| a + b)
            .expect("four bands")
    }
}
