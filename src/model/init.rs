//! Initial weights for training from scratch, following the official initialisation: raw
//! `EqualLinear` weights ~ N(0, 1/lr_mul²) (the equalised-lr scale is applied at load), AdaIN
//! gains start at 1, transformer linears and bias tables ~ truncated N(0, 0.02²), LayerNorm
//! 1/0, biases 0, the constant input ~ N(0, 1).

use super::weight_source::ParamSource;
use crate::error::Result;
use crate::rng::Rng;
use crate::tensor::{HostTensor, WeightMap};

pub struct InitSource {
    rng: Rng,
    lr_mlp: f32,
    /// Every tensor handed out (the untrained model in checkpoint form).
    pub taken: WeightMap,
}

impl InitSource {
    pub fn new(seed: u64, lr_mlp: f32) -> Self {
        Self {
            rng: Rng::new(seed),
            lr_mlp,
            taken: WeightMap::new(),
        }
    }

    fn normal(&mut self, n: usize, std: f32) -> Vec<f32> {
        (0..n).map(|_| std * self.rng.normal()).collect()
    }

    /// N(0, std²) truncated to ±2σ by redrawing (as `timm`'s `trunc_normal_`).
    fn trunc_normal(&mut self, n: usize, std: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                loop {
                    let x = self.rng.normal();
                    if x.abs() <= 2.0 {
                        break std * x;
                    }
                }
            })
            .collect()
    }

    fn init(&mut self, name: &str, shape: &[usize]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        let is_bias = name.ends_with(".bias");
        if name.starts_with("style.") {
            return match is_bias {
                true => vec![0.0; n],
                false => self.normal(n, 1.0 / self.lr_mlp),
            };
        }
        if name.ends_with(".style.bias") {
            // [gamma, beta]: gamma starts at 1 so AdaIN is the identity around w.
            let mut b = vec![0.0; n];
            b[..n / 2].iter_mut().for_each(|x| *x = 1.0);
            return b;
        }
        if name.ends_with(".style.weight") || name == "input.input" {
            return self.normal(n, 1.0);
        }
        if name.ends_with("norm.weight") {
            return vec![1.0; n];
        }
        if is_bias || name.ends_with(".alpha") {
            return vec![0.0; n];
        }
        if name.starts_with("to_rgbs.") {
            // 1×1 conv [3, C, 1, 1]: fan-in scaled.
            return self.normal(n, 1.0 / (shape[1] as f32).sqrt());
        }
        self.trunc_normal(n, 0.02)
    }
}

impl ParamSource for InitSource {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        let t = HostTensor::new(shape.to_vec(), self.init(name, shape));
        self.taken.insert(name.to_string(), t.clone());
        Ok(t)
    }

    /// Buffers (blur kernel, position index) are computed by the modules themselves.
    fn take_optional(&mut self, _name: &str, _shape: &[usize]) -> Result<Option<HostTensor>> {
        Ok(None)
    }
}
