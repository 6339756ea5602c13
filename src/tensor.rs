//! The ground floor: tensors on the host and maps of named weights, shared by every layer
//! above (files, kernels, models, checkpoints) without tying them to each other.

use std::collections::BTreeMap;

/// A dense row-major `f32` tensor on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data }
    }
}

/// Tensor name → tensor.
pub type WeightMap = BTreeMap<String, HostTensor>;
