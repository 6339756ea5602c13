//! `stylenat bench --na`: the neighbourhood-attention layer of every stage, the backend's own
//! kernel against NA from plain tensor ops (gather + reductions) on the same device.

use crate::engine::Engine;
use crate::kernels::{KernelPath, NaProblem, neighborhood_attention};
use anyhow::Result;
use burn::tensor::{Device, Distribution, Tensor};
use serde::Serialize;
use std::time::Instant;

#[derive(Serialize)]
pub struct NaStage {
    resolution: usize,
    groups: String,
    gflop: f64,
    kernel_ms: f64,
    /// The workgroup-memory WGSL variant (wgpu only).
    tiled_kernel_ms: Option<f64>,
    tensor_ops_ms: f64,
    speedup: f64,
    kernel_gflops_per_s: f64,
}

#[derive(Serialize)]
pub struct NaResult {
    model: String,
    backend: String,
    kernel: String,
    batch: usize,
    runs: usize,
    stages: Vec<NaStage>,
}

/// Median wall time (ms) of `runs` synchronised calls, after one warm-up call.
fn time(device: &Device, runs: usize, mut f: impl FnMut() -> Result<Tensor<4>>) -> Result<f64> {
    let _ = f()?;
    device.sync().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t0 = Instant::now();
        let out = f()?;
        device.sync().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
        drop(out);
    }
    Ok(super::bench::median(ms))
}

pub fn measure(engine: &Engine, model: &str, batch: usize, runs: usize) -> Result<NaResult> {
    let device = &engine.backend.device;
    let native = KernelPath::for_device(device);
    let mut stages = Vec::new();
    for stage in engine
        .config()
        .stages
        .iter()
        .filter(|s| !s.is_full_attention())
    {
        let problem = NaProblem {
            batch,
            height: stage.resolution,
            width: stage.resolution,
            head_dim: stage.head_dim(),
            scale: (stage.head_dim() as f32).powf(-0.5),
            groups: stage.groups.clone(),
        };
        let r = stage.resolution;
        let qkv = Tensor::<4>::random(
            [batch, r, r, 3 * stage.dim],
            Distribution::Normal(0.0, 1.0),
            device,
        );
        let rpb: Vec<Tensor<3>> = stage
            .groups
            .iter()
            .map(|g| {
                let t = 2 * g.kernel - 1;
                Tensor::random([g.heads, t, t], Distribution::Normal(0.0, 0.1), device)
            })
            .collect();
        let run = |path: KernelPath| {
            let (qkv, rpb, problem) = (&qkv, &rpb, &problem);
            move || Ok(neighborhood_attention(qkv.clone(), rpb, problem, path)?)
        };
        let kernel_ms = time(device, runs, run(native))?;
        let tiled_kernel_ms = match native {
            KernelPath::Wgsl => Some(time(device, runs, run(KernelPath::WgslTiled))?),
            _ => None,
        };
        let tensor_ops_ms = time(device, runs, run(KernelPath::Tensor))?;
        let gflop = problem.flops() as f64 / 1e9;
        stages.push(NaStage {
            resolution: r,
            groups: stage
                .groups
                .iter()
                .map(|g| format!("{}×k{}/d{}", g.heads, g.kernel, g.dilation))
                .collect::<Vec<_>>()
                .join(" "),
            gflop,
            kernel_ms,
            tiled_kernel_ms,
            tensor_ops_ms,
            speedup: tensor_ops_ms / kernel_ms,
            kernel_gflops_per_s: gflop / (kernel_ms / 1e3),
        });
    }
    Ok(NaResult {
        model: model.to_string(),
        backend: engine.backend.description.clone(),
        kernel: format!("{native:?}"),
        batch,
        runs,
        stages,
    })
}

pub fn print(r: &NaResult) {
    println!("model      {}", r.model);
    println!(
        "backend    {}  (kernel: {}, batch {}, median of {})",
        r.backend, r.kernel, r.batch, r.runs
    );
    println!(
        "  res  groups                     GFLOP   kernel ms  tiled ms  tensor-op ms  speed-up  kernel GFLOP/s"
    );
    for s in &r.stages {
        let tiled = s
            .tiled_kernel_ms
            .map_or("-".to_string(), |t| format!("{t:.2}"));
        println!(
            "{:>5}  {:<24} {:>7.3}  {:>10.2}  {:>8}  {:>12.2}  {:>7.1}×  {:>14.2}",
            s.resolution,
            s.groups,
            s.gflop,
            s.kernel_ms,
            tiled,
            s.tensor_ops_ms,
            s.speedup,
            s.kernel_gflops_per_s
        );
    }
}
