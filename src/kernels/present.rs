//! Generated images → RGBA8 texels on the GPU (`shaders/to_rgba8.wgsl`), left in a wgpu buffer
//! that the explorer copies into its textures: the image never visits the host.

use super::gpu_launch::{Launch, primitive};
use crate::error::{Error, Result};
use crate::io::image::{MEAN, STD};
use burn::backend::wgpu::{KernelSource, SourceTemplate};
use burn::tensor::Tensor;
use cubecl::prelude::KernelId;
use cubecl::wgpu::{AutoCompiler, WgpuResource, WgpuServer};

const WORKGROUP: u32 = 64;
/// wgpu's required row alignment for buffer → texture copies.
pub const ROW_ALIGN: usize = 256;

struct PackKernel;

impl KernelSource for PackKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(include_str!("../../shaders/to_rgba8.wgsl"))
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>()
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// RGBA8 images in a wgpu buffer, held alive (and in place) while this value lives.
pub struct PackedImages {
    pub resource: cubecl_runtime::storage::ManagedResource<WgpuResource>,
    pub count: usize,
    pub size: usize,
    /// Bytes per row (a multiple of [`ROW_ALIGN`]).
    pub row_bytes: usize,
}

impl PackedImages {
    pub fn buffer(&self) -> &cubecl::wgpu::wgpu::Buffer {
        &self.resource.resource().buffer
    }

    /// Byte offset of image `i` in [`Self::buffer`].
    pub fn offset(&self, i: usize) -> u64 {
        self.resource.resource().offset + (i * self.size * self.row_bytes) as u64
    }
}

/// Packs `[N, 3, S, S]` generator output (on a wgpu device) into row-padded RGBA8 and submits
/// the work, so a copy recorded afterwards on the same queue sees the finished texels.
pub fn pack_rgba8(img: Tensor<4>) -> Result<PackedImages> {
    let [n, c, h, w] = img.dims();
    if c != 3 || h != w {
        return Err(Error::Backend(format!(
            "expected [N, 3, S, S] images, got {:?}",
            img.dims()
        )));
    }
    let img = primitive(img)?;
    let row_bytes = (w * 4).next_multiple_of(ROW_ALIGN);
    let mut info = vec![n as u32, w as u32, (row_bytes / 4) as u32];
    info.extend(MEAN.iter().chain(&STD).map(|v| v.to_bits()));
    let out = Launch {
        inputs: &[&img],
        out_bytes: n * h * row_bytes,
        info: &info,
        workgroups: ((n * h * w) as u32).div_ceil(WORKGROUP),
        workgroup_size: WORKGROUP,
        limits: None,
    }
    .run(PackKernel)?;
    let client = &img.client;
    let resource = client
        .get_resource::<WgpuServer<AutoCompiler>>(out)
        .map_err(|e| Error::Backend(format!("GPU image buffer: {e:?}")))?;
    client
        .flush()
        .map_err(|e| Error::Backend(format!("GPU submit: {e:?}")))?;
    Ok(PackedImages {
        resource,
        count: n,
        size: w,
        row_bytes,
    })
}
