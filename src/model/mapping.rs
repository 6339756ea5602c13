//! Mapping network z → w: PixelNorm, then `n_mlp` × (EqualLinear, lr_mul = `lr_mlp`,
//! fused leaky-ReLU(0.2)·√2). Official `Generator.style`.

use super::GeneratorConfig;
use super::layers::Linear;
use super::weight_source::ParamSource;
use crate::error::Result;
use burn::module::Module;
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct Mapping {
    pub layers: Vec<Linear>,
}

impl Mapping {
    pub fn load(cfg: &GeneratorConfig, src: &mut dyn ParamSource, device: &Device) -> Result<Self> {
        let d = cfg.style_dim;
        // `style.0` is the PixelNorm; the linear layers are `style.1` … `style.n_mlp`.
        let layers = (1..=cfg.n_mlp)
            .map(|i| Linear::load_equal(src, &format!("style.{i}"), d, d, cfg.lr_mlp, device))
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }

    /// `z`: `[B, style_dim]` → `w`: `[B, style_dim]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        let norm = (z.clone().square().mean_dim(1) + 1e-8).sqrt().recip();
        let mut x = z * norm;
        for layer in &self.layers {
            x = leaky_relu(layer.forward(x), 0.2) * std::f32::consts::SQRT_2;
        }
        x
    }
}
