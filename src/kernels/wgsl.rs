//! The NA kernels of `shaders/na2d*.wgsl`: their templates (burn's `KernelSource`, compiled by
//! wgpu's WGSL front end), launch shapes within the device's limits and info headers; launched
//! through [`super::gpu_launch`].

use super::NaProblem;
use super::dispatch::DispatchLimits;
use super::gpu_launch::{Launch, primitive};
use crate::error::Result;
use burn::backend::Wgpu;
use burn::backend::wgpu::{CubeTensor, KernelSource, SourceTemplate};
use burn::tensor::{DType, Shape, Tensor};
use cubecl::prelude::KernelId;
use cubecl::server::Handle;

/// Invocations per workgroup of the per-query kernel (WebGPU guarantees 256).
const WORKGROUP: u32 = 64;
/// Most queries per workgroup of the tiled kernel; fewer where the device's workgroup memory
/// cannot hold the keys and values of that many.
const MAX_TILE: u32 = 16;

/// Bindings, info layout and the window rule, spliced in front of each kernel (WGSL has no
/// includes).
pub(super) const COMMON: &str = include_str!("../../shaders/na2d_common.wgsl");

/// Which WGSL kernel runs NA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// `shaders/na2d.wgsl`: one invocation per (query, head), keys read from global memory.
    /// Fastest on lavapipe.
    PerQuery,
    /// `shaders/na2d_tiled.wgsl`: 16 queries of a row per workgroup share each window row's
    /// keys/values through workgroup memory. ~3× slower on lavapipe (barriers are costly on a
    /// CPU); kept to be measured on GPU hardware with `stylenat bench --na`.
    Tiled,
}

struct Na2dKernel {
    variant: Variant,
    head_dim: u32,
    max_kernel: u32,
    /// Queries per workgroup of the tiled kernel.
    tile: u32,
}

/// The largest tile whose window band of keys and values fits `shared_bytes` of workgroup
/// memory, or `None` if not even one query's does.
fn tile_for(shared_bytes: usize, max_kernel: u32, head_dim: u32) -> Option<u32> {
    let bytes = |tile: u32| 2 * (tile + max_kernel - 1) as usize * head_dim as usize * 4;
    (1..=MAX_TILE).rev().find(|&t| bytes(t) <= shared_bytes)
}

impl KernelSource for Na2dKernel {
    fn source(&self) -> SourceTemplate {
        match self.variant {
            Variant::PerQuery => {
                SourceTemplate::new([COMMON, include_str!("../../shaders/na2d.wgsl")].concat())
                    .register("head_dim", self.head_dim.to_string())
                    .register("workgroup_size", WORKGROUP.to_string())
            }
            Variant::Tiled => {
                let band = self.tile + self.max_kernel - 1;
                SourceTemplate::new(
                    [COMMON, include_str!("../../shaders/na2d_tiled.wgsl")].concat(),
                )
                .register("head_dim", self.head_dim.to_string())
                .register("tile", self.tile.to_string())
                .register("band", band.to_string())
                .register("band_floats", (band * self.head_dim).to_string())
            }
        }
    }

    fn id(&self) -> KernelId {
        // Every template parameter is part of the pipeline-cache key.
        KernelId::new::<Self>().info((self.variant, self.head_dim, self.max_kernel, self.tile))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Same contract as [`super::neighborhood_attention`], on a wgpu device, within the device's
/// dispatch limits.
pub fn na2d(
    qkv: Tensor<4>,
    rpb: &[Tensor<3>],
    p: &NaProblem,
    variant: Variant,
) -> Result<Tensor<4>> {
    na2d_within(qkv, rpb, p, variant, None)
}

/// How an NA launch is shaped within `limits`: the kernel that runs (the tiled one falls back
/// to per-query when the workgroup memory cannot hold one query's band), its tile, the column
/// tiles per (row, head), workgroups and invocations per workgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchShape {
    pub variant: Variant,
    pub tile: u32,
    pub tiles_x: u32,
    pub workgroups: u32,
    pub workgroup_size: u32,
}

impl LaunchShape {
    pub fn new(p: &NaProblem, variant: Variant, limits: &DispatchLimits) -> Self {
        let max_kernel = p.groups.iter().map(|g| g.kernel).max().unwrap_or(1) as u32;
        let tile = tile_for(limits.max_shared_bytes, max_kernel, p.head_dim as u32);
        let (variant, tile) = match (variant, tile) {
            (Variant::Tiled, Some(t)) => (Variant::Tiled, t),
            _ => (Variant::PerQuery, 1),
        };
        // Tiled kernel: column tiles per (row, head); each dilation residue is tiled apart.
        let tiles_x = p
            .groups
            .iter()
            .map(|g| g.dilation * p.width.div_ceil(g.dilation).div_ceil(tile as usize))
            .max()
            .unwrap_or(1) as u32;
        let (workgroups, workgroup_size) = match variant {
            Variant::PerQuery => (
                ((p.batch * p.height * p.width * p.heads()) as u32).div_ceil(WORKGROUP),
                WORKGROUP,
            ),
            Variant::Tiled => (tiles_x * (p.height * p.heads() * p.batch) as u32, tile),
        };
        Self {
            variant,
            tile,
            tiles_x,
            workgroups,
            workgroup_size,
        }
    }
}

/// [`na2d`] within `limits` instead of the device's own (tests use small ones to exercise the
/// 2-D dispatch grid and small tiles).
pub fn na2d_within(
    qkv: Tensor<4>,
    rpb: &[Tensor<3>],
    p: &NaProblem,
    variant: Variant,
    limits: Option<DispatchLimits>,
) -> Result<Tensor<4>> {
    na2d_flat(qkv, super::flat_tables(rpb), p, variant, limits)
}

/// The info header of shaders/na2d_common.wgsl; `slot6` is its entry 6 (column tiles of the
/// tiled kernel, taps per query of the backward kernels).
pub(super) fn info_header(p: &NaProblem, slot6: u32) -> Vec<u32> {
    let mut info: Vec<u32> = [p.batch, p.height, p.width, p.heads(), 0, p.groups.len()]
        .into_iter()
        .map(|v| v as u32)
        .collect();
    info[4] = p.scale.to_bits();
    info.push(slot6);
    let (mut head0, mut offset) = (0u32, 0u32);
    for g in &p.groups {
        info.extend([
            head0,
            g.heads as u32,
            g.kernel as u32,
            g.dilation as u32,
            offset,
        ]);
        head0 += g.heads as u32;
        offset += (g.heads * (2 * g.kernel - 1).pow(2)) as u32;
    }
    info
}

/// [`na2d_within`] with every group's bias table already flattened into one `rpb`.
pub fn na2d_flat(
    qkv: Tensor<4>,
    rpb: Tensor<1>,
    p: &NaProblem,
    variant: Variant,
    limits: Option<DispatchLimits>,
) -> Result<Tensor<4>> {
    let c = p.heads() * p.head_dim;
    let qkv = primitive(qkv)?;
    let hardware = qkv.client.properties().hardware.clone();
    let limits = limits.unwrap_or_else(|| DispatchLimits::of(&hardware));
    let shape = LaunchShape::new(p, variant, &limits);
    let max_kernel = p.groups.iter().map(|g| g.kernel).max().unwrap_or(1) as u32;
    let info = info_header(p, shape.tiles_x);
    let rpb = primitive(rpb)?;
    let out_len = p.batch * p.height * p.width * c;
    let kernel = Na2dKernel {
        variant: shape.variant,
        head_dim: p.head_dim as u32,
        max_kernel,
        tile: shape.tile,
    };
    let out = Launch {
        inputs: &[&qkv, &rpb],
        out_bytes: out_len * size_of::<f32>(),
        info: &info,
        workgroups: shape.workgroups,
        workgroup_size: shape.workgroup_size,
        limits: Some(limits),
    }
    .run(kernel)?;
    Ok(wrap(&qkv, out, [p.batch, p.height, p.width, c]))
}

/// A kernel's output buffer as a tensor on `like`'s device.
pub(super) fn wrap<const D: usize>(like: &CubeTensor, out: Handle, shape: [usize; D]) -> Tensor<D> {
    let out = CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        Shape::new(shape),
        out,
        DType::F32,
    );
    Tensor::from_primitive::<Wgpu>(out)
}
