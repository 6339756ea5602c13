//! The one place that launches our WGSL kernels (`shaders/na2d*.wgsl`, `to_rgba8.wgsl`) on
//! burn-wgpu: tensors unwrapped to contiguous `CubeTensor`s, a `u32` info buffer, a fresh
//! output buffer and a dispatch grid within the device's limits, all on the tensors' own client
//! and queue, so data never leaves the GPU. A burn/cubecl upgrade that changes this glue only
//! touches this file (its CPU counterpart is [`super::host`]).

use super::dispatch::DispatchLimits;
use crate::error::{Error, Result};
use burn::backend::Wgpu;
use burn::backend::wgpu::{CubeDim, CubeTensor, KernelSource, SourceKernel, into_contiguous};
use burn::tensor::Tensor;
use cubecl::server::{Handle, KernelArguments};

/// The tensor's contiguous wgpu primitive.
pub fn primitive<const D: usize>(t: Tensor<D>) -> Result<CubeTensor> {
    t.try_into_primitive::<Wgpu>()
        .map(into_contiguous)
        .map_err(|e| Error::Backend(format!("expected a wgpu tensor: {e:?}")))
}

/// One launch: the kernel's bindings are `inputs` in order, then the output, then `info`.
pub struct Launch<'a> {
    pub inputs: &'a [&'a CubeTensor],
    pub out_bytes: usize,
    pub info: &'a [u32],
    pub workgroups: u32,
    pub workgroup_size: u32,
    /// The device's own limits unless given (tests use small ones).
    pub limits: Option<DispatchLimits>,
}

impl Launch<'_> {
    /// Queues `kernel` on the inputs' client and returns the output buffer.
    pub fn run(self, kernel: impl KernelSource + 'static) -> Result<Handle> {
        let first = self
            .inputs
            .first()
            .ok_or_else(|| Error::Backend("a kernel launch without inputs".into()))?;
        let client = &first.client;
        let limits = self
            .limits
            .unwrap_or_else(|| DispatchLimits::of(&client.properties().hardware));
        let grid = limits.grid(self.workgroups)?;
        let out = client.empty(self.out_bytes);
        let info = client.create_from_slice(bytemuck::cast_slice(self.info));
        let mut buffers: Vec<_> = self
            .inputs
            .iter()
            .map(|t| t.handle.clone().binding())
            .collect();
        buffers.extend([out.clone().binding(), info.binding()]);
        client.launch(
            Box::new(SourceKernel::new(
                kernel,
                CubeDim::new_1d(self.workgroup_size),
            )),
            grid,
            KernelArguments::new().with_buffers(buffers),
        );
        Ok(out)
    }
}

/// Live allocations and reserved bytes of a wgpu device's memory (for leak checks).
pub fn memory_usage(device: &burn::tensor::Device) -> Result<(u64, u64)> {
    let probe = primitive(Tensor::<1>::zeros([1], device))?;
    let usage = probe
        .client
        .memory_report(cubecl::MemoryScope::Device)
        .usage();
    Ok((usage.number_allocs, usage.bytes_reserved))
}
