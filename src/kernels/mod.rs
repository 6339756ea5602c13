//! Neighbourhood attention (NA) for all head groups of a layer, in one call.
//!
//! The model calls [`neighborhood_attention`] and never sees how it runs: on the CPU (`flex`)
//! backend the fused Rust kernel in [`cpu`] runs on the tensor's host buffer; on wgpu the WGSL
//! kernels of `shaders/` ([`wgsl`], launched through [`gpu_launch`]); [`gather`] is the
//! plain-tensor form that runs anywhere; [`differentiable`] wraps the fused kernels as one
//! autodiff op with their own backward ([`cpu::na2d_backward`], [`wgsl_backward`]), for
//! training and projection. [`reference`] is
//! the f64 oracle all are tested against; [`window`] holds the NATTEN rule. Kernels describe
//! their problem with their own types ([`HeadGroup`], [`NaProblem`]).

pub mod attention_weights;
pub mod cpu;
pub mod differentiable;
pub mod dispatch;
pub mod gather;
pub mod gpu_launch;
pub mod host;
pub mod peak;
pub mod present;
pub mod reference;
pub mod simd;
pub mod wgsl;
pub mod wgsl_backward;
pub mod window;

use crate::error::{Error, Result};
use burn::tensor::{Device, Tensor};

/// A set of consecutive heads sharing one neighbourhood (kernel × kernel, dilated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeadGroup {
    pub heads: usize,
    pub kernel: usize,
    pub dilation: usize,
}

/// Shape of one NA call: `qkv` is `[batch, height, width, 3, heads, head_dim]`.
#[derive(Debug, Clone, PartialEq)]
pub struct NaProblem {
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    pub head_dim: usize,
    pub scale: f32,
    pub groups: Vec<HeadGroup>,
}

impl NaProblem {
    /// The window of every row and every column for head group `g` (the NATTEN rule,
    /// [`window::AxisWindow`]).
    pub fn windows(&self, g: &HeadGroup) -> (Vec<window::AxisWindow>, Vec<window::AxisWindow>) {
        (
            window::AxisWindow::all(self.height, g.kernel, g.dilation),
            window::AxisWindow::all(self.width, g.kernel, g.dilation),
        )
    }

    pub fn heads(&self) -> usize {
        self.groups.iter().map(|g| g.heads).sum()
    }

    /// Checks the NATTEN precondition `kernel · dilation ≤ size` on both axes.
    pub fn validate(&self) -> Result<()> {
        for g in &self.groups {
            let span = g.kernel * g.dilation;
            if g.heads == 0
                || g.kernel == 0
                || g.dilation == 0
                || span > self.height
                || span > self.width
            {
                return Err(Error::Input(format!(
                    "neighbourhood attention: kernel {} × dilation {} does not fit a {}×{} map",
                    g.kernel, g.dilation, self.height, self.width
                )));
            }
        }
        Ok(())
    }

    /// Bytes the WGSL backward keeps for one call: `dq` plus every (query, head)'s attention
    /// weights and logit gradients in slots of the largest kernel's taps
    /// ([`wgsl_backward`], `shaders/na2d_backward_query.wgsl`).
    pub fn gradient_scratch_bytes(&self) -> u64 {
        let queries = self.batch * self.height * self.width;
        let slots = self.heads() * self.gradient_slot();
        let floats = queries * (self.heads() * self.head_dim + 2 * slots);
        (floats * size_of::<f32>()) as u64
    }

    /// Taps per (query, head) in the WGSL backward's scratch: the largest kernel's.
    pub fn gradient_slot(&self) -> usize {
        self.groups
            .iter()
            .map(|g| g.kernel.pow(2))
            .max()
            .unwrap_or(1)
    }

    /// Multiply–adds of QK and AV, counted as 2 FLOPs each (for benchmarks).
    pub fn flops(&self) -> u64 {
        let pixels = (self.batch * self.height * self.width) as u64;
        self.groups
            .iter()
            .map(|g| {
                pixels * g.heads as u64 * (g.kernel * g.kernel) as u64 * self.head_dim as u64 * 4
            })
            .sum()
    }
}

/// Which implementation runs NA (and GELU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelPath {
    /// Fused rayon kernels on host memory (the CPU backend's default).
    Cpu,
    /// Plain burn tensor ops (gather + reductions for NA); runs on any backend.
    Tensor,
    /// For gradients: NA as one differentiable op with its own fused backward
    /// ([`differentiable`]: the CPU kernels on `flex`, WGSL on wgpu); every other op as plain
    /// tensor ops, so burn's autodiff differentiates the rest of the model.
    Differentiable,
    /// The hand-written WGSL kernel `shaders/na2d.wgsl` (wgpu devices).
    Wgsl,
    /// The workgroup-memory variant `shaders/na2d_tiled.wgsl` (wgpu devices; for measuring).
    WgslTiled,
}

impl KernelPath {
    /// The best implementation for a device.
    pub fn for_device(device: &Device) -> Self {
        if crate::backend::is_cpu(device) {
            KernelPath::Cpu
        } else {
            KernelPath::Wgsl
        }
    }
}

/// NA over `qkv` (`[B, H, W, 3·heads·head_dim]`, the raw qkv projection) with one bias table
/// per head group (`[heads_g, 2k−1, 2k−1]`). `q` is multiplied by `scale` before QK and the bias
/// is added after, as in the official code. Returns `[B, H, W, heads·head_dim]`.
pub fn neighborhood_attention(
    qkv: Tensor<4>,
    rpb: &[Tensor<3>],
    problem: &NaProblem,
    which: KernelPath,
) -> Result<Tensor<4>> {
    problem.validate()?;
    let [b, h, w, c3] = qkv.dims();
    let c = problem.heads() * problem.head_dim;
    if [b, h, w, c3] != [problem.batch, problem.height, problem.width, 3 * c]
        || rpb.len() != problem.groups.len()
    {
        return Err(Error::Input(format!(
            "neighbourhood attention got qkv {:?} and {} bias tables for {problem:?}",
            [b, h, w, c3],
            rpb.len()
        )));
    }
    match which {
        KernelPath::Tensor => Ok(gather::na2d(qkv, rpb, problem)),
        KernelPath::Differentiable => Ok(differentiable::na2d(qkv, rpb, problem)),
        KernelPath::Wgsl => wgsl::na2d(qkv, rpb, problem, wgsl::Variant::PerQuery),
        KernelPath::WgslTiled => wgsl::na2d(qkv, rpb, problem, wgsl::Variant::Tiled),
        KernelPath::Cpu => cpu_na2d(qkv, &host_tables(rpb)?, problem),
    }
}

/// The bias tables as host buffers, for the CPU kernels.
fn host_tables(rpb: &[Tensor<3>]) -> Result<Vec<Vec<f32>>> {
    rpb.iter().map(|t| to_host(t.clone())).collect()
}

/// The fused CPU kernel ([`cpu::na2d`]) on a CPU tensor, with the bias tables on the host.
fn cpu_na2d(qkv: Tensor<4>, tables: &[Vec<f32>], p: &NaProblem) -> Result<Tensor<4>> {
    let qkv = host::primitive(qkv)?;
    let out = cpu::na2d(p, host::slice(&qkv)?, tables);
    let c = p.heads() * p.head_dim;
    Ok(host::tensor(out, [p.batch, p.height, p.width, c]))
}

/// Every group's bias table flattened into one `[Σ heads_g·(2k−1)²]` (the layout the WGSL
/// kernels bind and the differentiable op carries).
fn flat_tables(rpb: &[Tensor<3>]) -> Tensor<1> {
    Tensor::cat(rpb.iter().map(|t| t.clone().flatten(0, 2)).collect(), 0)
}

/// GELU with the exact (erf) form, as `nn.GELU()`.
pub fn gelu<const D: usize>(x: Tensor<D>, path: KernelPath) -> Result<Tensor<D>> {
    match path {
        KernelPath::Cpu => host::map_inplace(x, cpu::gelu_inplace),
        _ => Ok(burn::tensor::activation::gelu(x)),
    }
}

/// AdaIN's normalisation: per image and channel, instance-normalise `x` (`[B, N, C]`) over the
/// tokens (eps 1e-5, biased variance) and apply `gamma·x + beta` from `style` (`[B, 2C]`).
pub fn adain(x: Tensor<3>, style: Tensor<2>, path: KernelPath) -> Result<Tensor<3>> {
    let [b, n, c] = x.dims();
    if path == KernelPath::Cpu {
        let (x, style) = (host::primitive(x)?, host::primitive(style)?);
        let out = cpu::adain(host::slice(&x)?, host::slice(&style)?, n, c);
        return Ok(host::tensor(out, [b, n, c]));
    }
    let gamma = style.clone().narrow(1, 0, c).unsqueeze_dim::<3>(1); // [B, 1, C]
    let beta = style.narrow(1, c, c).unsqueeze_dim::<3>(1);
    let (var, mean) = x.clone().var_mean_bias(1); // over tokens
    Ok(gamma * ((x - mean) / (var + 1e-5).sqrt()) + beta)
}

/// A linear layer's `[in, out]` weight and bias, as [`adain_mlp_residual`] takes them.
pub type LinearParams = (Tensor<2>, Tensor<1>);

/// The CPU backend's fused second half of a block: `x + fc2(GELU(fc1(AdaIN(x, style))))` for
/// `x` `[B, N, C]` and `style` `[B, 2C]`, without materialising the hidden activation
/// ([`cpu::adain_mlp_residual`]). CPU tensors only.
pub fn adain_mlp_residual(
    x: Tensor<3>,
    style: Tensor<2>,
    (fc1, fc1_bias): LinearParams,
    (fc2, fc2_bias): LinearParams,
) -> Result<Tensor<3>> {
    let [b, n, c] = x.dims();
    let hidden = fc1.dims()[1];
    let (x, style) = (host::primitive(x)?, host::primitive(style)?);
    let (fc1, fc1_bias) = (host::primitive(fc1)?, host::primitive(fc1_bias)?);
    let (fc2, fc2_bias) = (host::primitive(fc2)?, host::primitive(fc2_bias)?);
    let weights = cpu::MlpWeights {
        fc1: host::slice(&fc1)?,
        fc1_bias: host::slice(&fc1_bias)?,
        fc2: host::slice(&fc2)?,
        fc2_bias: host::slice(&fc2_bias)?,
        hidden,
    };
    let out = cpu::adain_mlp_residual(
        host::slice(&x)?,
        host::slice(&style)?,
        n,
        c,
        &weights,
        simd::Simd::active(),
    );
    Ok(host::tensor(out, [b, n, c]))
}

/// A linear layer's `[in, out]` weight and optional bias.
pub type LinearLayer = (Tensor<2>, Option<Tensor<1>>);

/// `f(first, second, weights)` on the host buffers of two CPU tensors and a linear layer.
fn with_host_linear<T, const A: usize, const B: usize>(
    first: Tensor<A>,
    second: Tensor<B>,
    (w, b): LinearLayer,
    f: impl FnOnce(&[f32], &[f32], &cpu::LinearWeights) -> T,
) -> Result<T> {
    let d_out = w.dims()[1];
    let (first, second, w) = (
        host::primitive(first)?,
        host::primitive(second)?,
        host::primitive(w)?,
    );
    let b = b.map(host::primitive).transpose()?;
    let weights = cpu::LinearWeights {
        weight: host::slice(&w)?,
        bias: b.as_ref().map(host::slice).transpose()?,
        d_out,
    };
    Ok(f(host::slice(&first)?, host::slice(&second)?, &weights))
}

/// The CPU backend's fused `AdaIN(x, style) · W + b` for `x` `[B, N, C]`, `style` `[B, 2C]`
/// ([`cpu::adain_linear`]: the normalised activation never reaches memory). CPU tensors only.
pub fn adain_linear(x: Tensor<3>, style: Tensor<2>, layer: LinearLayer) -> Result<Tensor<3>> {
    let [batch, n, c] = x.dims();
    let d_out = layer.0.dims()[1];
    let out = with_host_linear(x, style, layer, |x, style, w| {
        cpu::adain_linear(x, style, n, c, w)
    })?;
    Ok(host::tensor(out, [batch, n, d_out]))
}

/// The CPU backend's fused `NA(AdaIN(x, style) · W + b)` for `x` `[B, N, C]` and the qkv
/// layer ([`cpu::adain_qkv_na`]: q, k and v go from the GEMM's tiles straight into the NA
/// kernel's layout) → `[B, N, C]`. CPU tensors only.
pub fn adain_qkv_attention(
    x: Tensor<3>,
    style: Tensor<2>,
    layer: LinearLayer,
    rpb: &[Tensor<3>],
    problem: &NaProblem,
) -> Result<Tensor<3>> {
    problem.validate()?;
    let [batch, n, c] = x.dims();
    let d_out = layer.0.dims()[1];
    if [batch, n, d_out] != [problem.batch, problem.height * problem.width, 3 * c]
        || c != problem.heads() * problem.head_dim
        || rpb.len() != problem.groups.len()
    {
        return Err(Error::Input(format!(
            "attention got x {:?}, a qkv layer of {d_out} outputs and {} bias tables for \
             {problem:?}",
            [batch, n, c],
            rpb.len()
        )));
    }
    let tables = host_tables(rpb)?;
    let out = with_host_linear(x, style, layer, |x, style, w| {
        cpu::adain_qkv_na(x, style, c, w, problem, &tables)
    })?;
    Ok(host::tensor(out, [batch, n, c]))
}

/// The CPU backend's fused `x + a · W + b` for `x` `[B, N, D]`, `a` `[B, N, C]`
/// ([`cpu::linear_residual`]). CPU tensors only.
pub fn linear_residual(x: Tensor<3>, a: Tensor<3>, layer: LinearLayer) -> Result<Tensor<3>> {
    let [batch, n, d] = x.dims();
    let c = a.dims()[2];
    let out = with_host_linear(x, a, layer, |x, a, w| cpu::linear_residual(x, a, c, n, w))?;
    Ok(host::tensor(out, [batch, n, d]))
}

/// The CPU backend's fused `BilinearUpsample` core: `residual + LayerNorm(up2(x)) · W` for
/// `x` `[B, r², C]` (a square map), LayerNorm `(gamma, beta)`, `W` `[C, D]` without bias and
/// `residual` `[B, 4r², D]` ([`cpu::bilinear2_layernorm`], then [`cpu::linear_residual`]).
pub fn upsample_norm_linear(
    x: Tensor<3>,
    (gamma, beta): (Tensor<1>, Tensor<1>),
    weight: Tensor<2>,
    residual: Tensor<3>,
) -> Result<Tensor<3>> {
    let [batch, n, c] = x.dims();
    let r = (n as f64).sqrt().round() as usize;
    if r * r != n {
        return Err(Error::Input(format!(
            "upsample: {n} tokens are not a square map"
        )));
    }
    let (x, gamma, beta) = (
        host::primitive(x)?,
        host::primitive(gamma)?,
        host::primitive(beta)?,
    );
    let normed = cpu::bilinear2_layernorm(
        host::slice(&x)?,
        batch,
        r,
        c,
        host::slice(&gamma)?,
        host::slice(&beta)?,
    );
    let normed = host::tensor(normed, [batch, 4 * n, c]);
    linear_residual(residual, normed, (weight, None))
}

/// Reads a float tensor back to host memory as `f32`.
pub fn to_host<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.try_into_data()
        .map_err(|e| Error::Backend(format!("reading a tensor back failed: {e:?}")))?
        .try_into_vec::<f32>()
        .map_err(|e| Error::Backend(format!("unexpected tensor element type: {e:?}")))
}
