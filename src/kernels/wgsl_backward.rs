//! The NA gradient on wgpu: `shaders/na2d_backward_query.wgsl` (per query: attention weights,
//! logit gradients, `dq`) then `shaders/na2d_backward_key.wgsl` (per key: `dk`, `dv` gathered
//! from the queries that see it — no atomics). The bias gradient is the logit gradients summed
//! into each table entry, done with tensor ops on the device ([`super::gather`]'s index table).

use super::NaProblem;
use super::dispatch::DispatchLimits;
use super::gather::index_tables;
use super::gpu_launch::{Launch, primitive};
use super::wgsl::{COMMON, info_header, wrap};
use crate::error::Result;
use burn::backend::wgpu::{KernelSource, SourceTemplate};
use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorData};
use cubecl::prelude::KernelId;

const WORKGROUP: u32 = 64;

/// Which of the two passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pass {
    Query,
    Key,
}

struct BackwardKernel {
    pass: Pass,
    head_dim: u32,
}

impl KernelSource for BackwardKernel {
    fn source(&self) -> SourceTemplate {
        let body = match self.pass {
            Pass::Query => include_str!("../../shaders/na2d_backward_query.wgsl"),
            Pass::Key => include_str!("../../shaders/na2d_backward_key.wgsl"),
        };
        SourceTemplate::new([COMMON, body].concat())
            .register("head_dim", self.head_dim.to_string())
            .register("workgroup_size", WORKGROUP.to_string())
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((self.pass, self.head_dim))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Gradients of [`super::wgsl::na2d_flat`] for the output gradient `grad` (`[B, H, W, C]`):
/// `d qkv` (`[B, H, W, 3C]`) and `d rpb` (flat, as `rpb`).
pub fn na2d_backward(
    qkv: Tensor<4>,
    rpb: Tensor<1>,
    grad: Tensor<4>,
    p: &NaProblem,
) -> Result<(Tensor<4>, Tensor<1>)> {
    let device = qkv.device();
    let (b, h, w, hd) = (p.batch, p.height, p.width, p.head_dim);
    let (heads, c, queries) = (p.heads(), p.heads() * hd, b * h * w);
    let slot = p.gradient_slot();
    let rpb_len = rpb.dims()[0];
    let (qkv, rpb, grad) = (primitive(qkv)?, primitive(rpb)?, primitive(grad)?);
    let limits = DispatchLimits::of(&qkv.client.properties().hardware);
    let info = info_header(p, slot as u32);
    let invocations = (queries * heads) as u32;
    let launch = |inputs: &[&_], floats: usize, pass: Pass| {
        Launch {
            inputs,
            out_bytes: floats * size_of::<f32>(),
            info: &info,
            workgroups: invocations.div_ceil(WORKGROUP),
            workgroup_size: WORKGROUP,
            limits: Some(limits),
        }
        .run(BackwardKernel {
            pass,
            head_dim: hd as u32,
        })
    };
    let scratch = queries * heads * slot;
    let pass1_len = p.gradient_scratch_bytes() as usize / size_of::<f32>();
    let pass1 = launch(&[&qkv, &rpb, &grad], pass1_len, Pass::Query)?;
    let pass1 = primitive(wrap(&qkv, pass1, [pass1_len]))?;
    let dkv = launch(&[&qkv, &grad, &pass1], queries * 2 * c, Pass::Key)?;
    let dkv: Tensor<4> = wrap(&qkv, dkv, [b, h, w, 2 * c]);
    let pass1 = Tensor::<1>::from_primitive::<burn::backend::Wgpu>(pass1);
    let dq = pass1
        .clone()
        .narrow(0, 0, queries * c)
        .reshape([b, h, w, c]);
    let dqkv = Tensor::cat(vec![dq, dkv], 3);
    // d rpb: each group's logit gradients, summed over images, scattered into its tables.
    let dl = pass1
        .narrow(0, queries * c + scratch, scratch)
        .reshape([b, h * w, heads, slot])
        .sum_dim(0)
        .reshape([h * w, heads, slot]);
    let mut tables = Vec::with_capacity(p.groups.len());
    let mut h0 = 0;
    for g in &p.groups {
        let (taps, table) = (g.kernel * g.kernel, (2 * g.kernel - 1).pow(2));
        let values = dl
            .clone()
            .narrow(1, h0, g.heads)
            .narrow(2, 0, taps)
            .permute([1, 0, 2])
            .reshape([g.heads, h * w * taps]);
        let (_, bias_index) = index_tables(h, w, g.kernel, g.dilation);
        let index =
            Tensor::<1, Int>::from_data(TensorData::new(bias_index, [h * w * taps]), &device);
        let summed = Tensor::<2>::zeros([g.heads, table], &device).select_assign(
            1,
            index,
            values,
            IndexingUpdateOp::Add,
        );
        tables.push(summed.reshape([g.heads * table]));
        h0 += g.heads;
    }
    let drpb = Tensor::cat(tables, 0);
    debug_assert_eq!(drpb.dims()[0], rpb_len);
    Ok((dqkv, drpb))
}
