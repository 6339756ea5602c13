//! Adam (β₁ = 0, β₂ = 0.99 as in StyleGAN2) with a learning-rate multiplier per parameter and
//! moments keyed by parameter path, so they are saved in training checkpoints and resume
//! exactly. The multiplier turns pre-scaled weights back into equalised-lr training: Adam's
//! step size does not depend on the gradient's scale, so updating `c·W` with `lr·c` is the same
//! as updating `W` with `lr` (official `EqualLinear` keeps `W` and multiplies at run time).

use crate::error::Result;
use crate::kernels::to_host;
use crate::model::param_paths::{Path, map_params};
use crate::tensor::{HostTensor, WeightMap};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor, TensorData};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 0.002,
            beta1: 0.0,
            beta2: 0.99,
            eps: 1e-8,
        }
    }
}

pub struct Adam {
    pub config: AdamConfig,
    pub steps: u64,
    moments: BTreeMap<String, (Tensor<1>, Tensor<1>)>,
}

/// The gradient of every parameter that received one, flattened, keyed by path.
fn gradients<M: Module>(module: &M, grads: &Gradients) -> BTreeMap<String, Tensor<1>> {
    struct Collect<'a> {
        path: Path,
        grads: &'a Gradients,
        out: BTreeMap<String, Tensor<1>>,
    }
    impl ModuleVisitor for Collect<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = param.val().grad(self.grads) {
                let n = g.shape().num_elements();
                self.out.insert(self.path.name(), g.reshape([n]));
            }
        }
    }
    let mut c = Collect {
        path: Path::default(),
        grads,
        out: BTreeMap::new(),
    };
    module.visit(&mut c);
    c.out
}

impl Adam {
    pub fn new(config: AdamConfig) -> Self {
        Self {
            config,
            steps: 0,
            moments: BTreeMap::new(),
        }
    }

    /// One update of every parameter of `module` that has a gradient in `grads`;
    /// `lr_scale(path)` multiplies the learning rate of that parameter.
    pub fn step<M: Module>(
        &mut self,
        module: M,
        grads: &Gradients,
        lr_scale: &dyn Fn(&str) -> f32,
    ) -> Result<M> {
        let mut grads = gradients(&module, grads);
        self.steps += 1;
        let c = self.config;
        let t = self.steps as i32;
        let (bc1, bc2) = (1.0 - c.beta1.powi(t), 1.0 - c.beta2.powi(t));
        let moments = &mut self.moments;
        map_params(module, true, &mut |name, p| {
            let Some(g) = grads.remove(name) else {
                return Ok(p);
            };
            let (m, v) = match moments.remove(name) {
                Some((m, v)) => (m * c.beta1 + g.clone() * (1.0 - c.beta1), v * c.beta2),
                None => (g.clone() * (1.0 - c.beta1), g.zeros_like()),
            };
            let v = v + g.square() * (1.0 - c.beta2);
            let step = (m.clone() / bc1) / ((v.clone() / bc2).sqrt() + c.eps);
            let lr = c.lr * lr_scale(name);
            let updated = p - step * lr;
            moments.insert(name.to_string(), (m, v));
            Ok(updated)
        })
    }

    /// Moments as host tensors (`{prefix}m.{path}`, `{prefix}v.{path}`).
    pub fn save(&self, prefix: &str, out: &mut WeightMap) -> Result<()> {
        for (name, (m, v)) in &self.moments {
            for (which, t) in [("m", m), ("v", v)] {
                let data = to_host(t.clone())?;
                out.insert(
                    format!("{prefix}{which}.{name}"),
                    HostTensor::new(vec![data.len()], data),
                );
            }
        }
        Ok(())
    }

    /// Restores moments saved by [`save`](Self::save).
    pub fn load(
        config: AdamConfig,
        steps: u64,
        map: &WeightMap,
        prefix: &str,
        device: &burn::tensor::Device,
    ) -> Self {
        let mut moments = BTreeMap::new();
        let upload = |t: &HostTensor| {
            Tensor::<1>::from_data(TensorData::new(t.data.clone(), [t.data.len()]), device)
        };
        for (key, m) in map.range(format!("{prefix}m.")..) {
            let Some(name) = key.strip_prefix(&format!("{prefix}m.")) else {
                break;
            };
            if let Some(v) = map.get(&format!("{prefix}v.{name}")) {
                moments.insert(name.to_string(), (upload(m), upload(v)));
            }
        }
        Self {
            config,
            steps,
            moments,
        }
    }
}
