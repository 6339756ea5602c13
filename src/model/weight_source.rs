//! Where module weights come from: a checkpoint's tensor map (shape-checked, every tensor must
//! be used) or seeded random values (benchmarks of released architectures without weights).

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::tensor::{HostTensor, WeightMap};
use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use std::collections::BTreeSet;

/// Supplies named tensors of known shape while a generator is being built.
pub trait ParamSource {
    /// The tensor `name`, which must have `shape`.
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<HostTensor>;
    /// Like [`take`](Self::take) but `Ok(None)` when the tensor is absent.
    fn take_optional(&mut self, name: &str, shape: &[usize]) -> Result<Option<HostTensor>>;
}

/// Reads from a checkpoint's [`WeightMap`] and remembers which tensors were used.
pub struct MapSource<'a> {
    map: &'a WeightMap,
    used: BTreeSet<String>,
}

impl<'a> MapSource<'a> {
    pub fn new(map: &'a WeightMap) -> Self {
        Self {
            map,
            used: BTreeSet::new(),
        }
    }

    /// Fails if the checkpoint holds tensors the architecture has no place for: a sign that
    /// the model differs (e.g. layer-scale parameters) and the output would be silently wrong.
    pub fn finish(self) -> Result<()> {
        let unused: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.used.contains(*k))
            .collect();
        if unused.is_empty() {
            return Ok(());
        }
        let shown: Vec<_> = unused.iter().take(8).map(|s| s.as_str()).collect();
        Err(Error::Config(format!(
            "the checkpoint has {} tensor(s) this architecture does not use: {}{}",
            unused.len(),
            shown.join(", "),
            if unused.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        )))
    }
}

impl ParamSource for MapSource<'_> {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        self.take_optional(name, shape)?
            .ok_or_else(|| Error::MissingTensor { name: name.into() })
    }

    fn take_optional(&mut self, name: &str, shape: &[usize]) -> Result<Option<HostTensor>> {
        let Some(t) = self.map.get(name) else {
            return Ok(None);
        };
        if t.shape != shape {
            return Err(Error::ShapeMismatch {
                name: name.into(),
                expected: shape.to_vec(),
                actual: t.shape.clone(),
            });
        }
        self.used.insert(name.to_string());
        Ok(Some(t.clone()))
    }
}

/// Deterministic pseudo-random weights (normal, std 0.1; norm gains 1) for timing
/// architectures whose weights we do not have. Optional buffers are left to their defaults.
pub struct RandomSource {
    rng: Rng,
    /// Every tensor handed out, so a random model can be saved like a loaded one.
    pub taken: WeightMap,
}

impl RandomSource {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            taken: WeightMap::new(),
        }
    }
}

impl ParamSource for RandomSource {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = if name.ends_with("norm.weight") {
            vec![1.0; n]
        } else {
            (0..n).map(|_| 0.1 * self.rng.normal()).collect()
        };
        let t = HostTensor::new(shape.to_vec(), data);
        self.taken.insert(name.to_string(), t.clone());
        Ok(t)
    }

    fn take_optional(&mut self, _name: &str, _shape: &[usize]) -> Result<Option<HostTensor>> {
        Ok(None)
    }
}

/// Uploads a host tensor of rank `D`.
pub fn tensor<const D: usize>(t: HostTensor, device: &Device) -> Tensor<D> {
    let shape: [usize; D] = std::array::from_fn(|i| t.shape[i]);
    Tensor::from_data(TensorData::new(t.data, shape), device)
}

/// Uploads a host tensor as a parameter.
pub fn param<const D: usize>(t: HostTensor, device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(tensor(t, device))
}
