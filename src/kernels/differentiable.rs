//! The fused NA as one differentiable operation (a burn backend extension): forward and
//! backward are our kernels — [`super::cpu`] on the CPU (`flex`) backend, the WGSL kernels on
//! wgpu — and under autodiff the backward registers `d qkv` and `d rpb` for all head groups in
//! one pass, instead of differentiating gathers and reductions op by op.

use super::NaProblem;
use super::{cpu, host, to_host, wgsl};
use burn::backend::Dispatch;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, Backend, Flex, Wgpu, backend_extension, tensor::FloatTensor};
use burn::tensor::Tensor;

/// NA with every head group's bias table flattened into one `rpb` (`[Σ heads_g·(2k−1)²]`).
#[backend_extension(Flex, Cube, Autodiff)]
pub trait NaBackend: Backend {
    /// `qkv` `[B, H, W, 3C]` → `[B, H, W, C]`.
    fn na2d(
        qkv: FloatTensor<Self>,
        rpb: FloatTensor<Self>,
        problem: NaProblem,
    ) -> FloatTensor<Self>;

    /// The gradients of [`Self::na2d`] for its output gradient `grad`: (`d qkv`, `d rpb`).
    fn na2d_backward(
        qkv: FloatTensor<Self>,
        rpb: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        problem: NaProblem,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// NA through the extension: differentiable when `qkv` or a table is tracked by autodiff.
pub fn na2d(qkv: Tensor<4>, rpb: &[Tensor<3>], problem: &NaProblem) -> Tensor<4> {
    let flat = super::flat_tables(rpb).into_dispatch();
    let out = <Dispatch as NaBackend>::na2d(qkv.into_dispatch(), flat, problem.clone());
    Tensor::from_dispatch(out)
}

/// The per-group tables of a flat `rpb`, on the host.
fn split_tables(flat: Vec<f32>, p: &NaProblem) -> Vec<Vec<f32>> {
    let mut rest = flat.as_slice();
    p.groups
        .iter()
        .map(|g| {
            let (table, tail) = rest.split_at(g.heads * (2 * g.kernel - 1).pow(2));
            rest = tail;
            table.to_vec()
        })
        .collect()
}

/// A kernel failure inside a backend op cannot be returned (the trait has no error type);
/// the shapes were checked by [`super::neighborhood_attention`] before, so this is a bug.
fn expect<T>(r: crate::error::Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("neighbourhood attention {what}: {e}"))
}

/// The backend primitive of a tensor an impl below has just made on its own backend.
fn output<P, E: std::fmt::Debug>(r: std::result::Result<P, E>) -> P {
    r.unwrap_or_else(|e| panic!("neighbourhood attention output: {e:?}"))
}

impl NaBackend for Flex {
    fn na2d(qkv: FloatTensor<Self>, rpb: FloatTensor<Self>, p: NaProblem) -> FloatTensor<Self> {
        let tables = split_tables(expect(to_host(flex::<1>(rpb)), "bias"), &p);
        let out = expect(super::cpu_na2d(flex(qkv), &tables, &p), "forward");
        output(out.try_into_primitive::<Flex>())
    }

    fn na2d_backward(
        qkv: FloatTensor<Self>,
        rpb: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        p: NaProblem,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let tables = split_tables(expect(to_host(flex::<1>(rpb)), "bias"), &p);
        let qkv = expect(host::primitive(flex::<4>(qkv)), "input");
        let grad = expect(host::primitive(flex::<4>(grad)), "gradient");
        let (dqkv, drpb) = cpu::na2d_backward(
            &p,
            expect(host::slice(&qkv), "input"),
            &tables,
            expect(host::slice(&grad), "gradient"),
        );
        let c3 = 3 * p.heads() * p.head_dim;
        let drpb: Vec<f32> = drpb.concat();
        let n = drpb.len();
        (
            output(
                host::tensor(dqkv, [p.batch, p.height, p.width, c3]).try_into_primitive::<Flex>(),
            ),
            output(host::tensor(drpb, [n]).try_into_primitive::<Flex>()),
        )
    }
}

fn flex<const D: usize>(t: FloatTensor<Flex>) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(t)
}

impl NaBackend for Wgpu {
    fn na2d(qkv: FloatTensor<Self>, rpb: FloatTensor<Self>, p: NaProblem) -> FloatTensor<Self> {
        let out = wgsl::na2d_flat(
            Tensor::from_primitive::<Wgpu>(qkv),
            Tensor::from_primitive::<Wgpu>(rpb),
            &p,
            wgsl::Variant::PerQuery,
            None,
        );
        output(expect(out, "forward").try_into_primitive::<Wgpu>())
    }

    fn na2d_backward(
        qkv: FloatTensor<Self>,
        rpb: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        p: NaProblem,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (dqkv, drpb) = expect(
            super::wgsl_backward::na2d_backward(
                Tensor::from_primitive::<Wgpu>(qkv),
                Tensor::from_primitive::<Wgpu>(rpb),
                Tensor::from_primitive::<Wgpu>(grad),
                &p,
            ),
            "backward",
        );
        (
            output(dqkv.try_into_primitive::<Wgpu>()),
            output(drpb.try_into_primitive::<Wgpu>()),
        )
    }
}

/// The backward step autodiff records: the inputs are kept as state (NA is cheap to redo
/// from them; its attention weights are `taps×` larger than its output).
#[derive(Debug)]
struct Na2dBackward;

impl<B: Backend + NaBackend> Backward<B, 2> for Na2dBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, NaProblem);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (qkv, rpb, problem) = ops.state;
        let [node_qkv, node_rpb] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (dqkv, drpb) = B::na2d_backward(qkv, rpb, grad, problem);
        if let Some(node) = node_qkv {
            grads.register::<B>(node.id, dqkv);
        }
        if let Some(node) = node_rpb {
            grads.register::<B>(node.id, drpb);
        }
    }
}

impl<B: Backend + NaBackend, C: CheckpointStrategy> NaBackend for Autodiff<B, C> {
    fn na2d(qkv: FloatTensor<Self>, rpb: FloatTensor<Self>, p: NaProblem) -> FloatTensor<Self> {
        let nodes = [qkv.node(), rpb.node()];
        let (qkv, rpb) = (qkv.into_primitive(), rpb.into_primitive());
        match Na2dBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let out = B::na2d(qkv.clone(), rpb.clone(), p.clone());
                prep.finish((qkv, rpb, p), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::na2d(qkv, rpb, p)),
        }
    }

    fn na2d_backward(
        _qkv: FloatTensor<Self>,
        _rpb: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _p: NaProblem,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        // Second derivatives are never taken through G (the trainer's R1 penalty
        // differentiates D only), so this route is not reachable from our code.
        panic!("the neighbourhood-attention backward is not itself differentiable")
    }
}
