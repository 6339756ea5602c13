//! Zero-copy access to the CPU (`flex`) backend's buffers for the host kernels in [`super::cpu`].
//! The CPU side's only place that touches burn's backend primitives (the GPU side's is
//! [`super::gpu_launch`]); a burn upgrade that changes them only touches these two files.

use crate::error::{Error, Result};
use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::{Tensor, TensorData};

/// The tensor's contiguous `flex` primitive (copied only if it was a strided view).
pub fn primitive<const D: usize>(t: Tensor<D>) -> Result<FlexTensor> {
    let ft = t
        .try_into_primitive::<Flex>()
        .map_err(|e| Error::Backend(format!("expected a CPU tensor: {e:?}")))?;
    Ok(if ft.as_slice::<f32>().is_some() {
        ft
    } else {
        ft.to_contiguous()
    })
}

/// The elements of a contiguous primitive.
pub fn slice(ft: &FlexTensor) -> Result<&[f32]> {
    ft.as_slice::<f32>()
        .ok_or_else(|| Error::Backend("CPU tensor is not contiguous f32".into()))
}

/// Wraps host data as a CPU tensor without copying it.
pub fn tensor<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(data, shape)))
}

/// Applies `f` to every element of a CPU tensor, in place when the buffer is not shared.
pub fn map_inplace<const D: usize>(t: Tensor<D>, f: impl FnOnce(&mut [f32])) -> Result<Tensor<D>> {
    let mut ft = primitive(t)?;
    let range = ft
        .layout()
        .contiguous_offsets()
        .ok_or_else(|| Error::Backend("CPU tensor is not contiguous".into()))?;
    f(&mut ft.storage_mut::<f32>()[range.0..range.1]);
    Ok(Tensor::from_primitive::<Flex>(ft))
}
