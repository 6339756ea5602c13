//! The StyleNAT generator in burn: one module per official PyTorch module, named after it so
//! checkpoint tensors map one to one.

pub mod attention;
pub mod block;
pub mod config;
pub mod export;
pub mod generator;
pub mod init;
pub mod layers;
pub mod mapping;
pub mod params;
pub mod synthesis_cache;
pub mod to_rgb;
pub mod upsample;

pub use config::{GeneratorConfig, HeadGroup, StageConfig};
pub use generator::Generator;
pub use synthesis_cache::SynthesisCache;

use crate::tensor::HostTensor;
use burn::tensor::Tensor;

/// Optional capture of intermediate activations (for parity tests and debugging). Off by
/// default; when on, each named tensor is read back to the host.
#[derive(Default)]
pub struct Trace {
    pub enabled: bool,
    pub records: Vec<(String, HostTensor)>,
    /// When set, the device is synchronised after every stage and its wall time recorded (ms).
    pub stage_ms: Option<Vec<f64>>,
    /// Block (e.g. `stage3_block1`) whose attention inputs to capture into `attention`.
    pub attention_of: Option<String>,
    pub attention: Option<AttentionCapture>,
    last: Option<std::time::Instant>,
}

/// What one attention layer saw: its problem, `qkv` `[B, H, W, 3, heads, head_dim]` and bias
/// tables, on the host (for attention maps).
#[derive(Debug, Clone)]
pub struct AttentionCapture {
    pub problem: crate::kernels::NaProblem,
    pub qkv: Vec<f32>,
    pub rpb: Vec<Vec<f32>>,
}

impl Trace {
    pub fn off() -> Self {
        Self::default()
    }

    pub fn on() -> Self {
        Self {
            enabled: true,
            ..Self::default()
        }
    }

    /// Captures the attention inputs of block `name` only.
    pub fn attention_of(name: &str) -> Self {
        Self {
            attention_of: Some(name.to_string()),
            ..Self::default()
        }
    }

    /// Per-stage timing only (benchmarks).
    pub fn timing() -> Self {
        Self {
            stage_ms: Some(Vec::new()),
            ..Self::default()
        }
    }

    pub(crate) fn start(&mut self) {
        if self.stage_ms.is_some() {
            self.last = Some(std::time::Instant::now());
        }
    }

    pub(crate) fn stage_done(&mut self, device: &burn::tensor::Device) {
        if let (Some(times), Some(last)) = (&mut self.stage_ms, self.last) {
            let _ = device.sync();
            let now = std::time::Instant::now();
            times.push((now - last).as_secs_f64() * 1e3);
            self.last = Some(now);
        }
    }

    pub fn record<const D: usize>(&mut self, name: &str, t: &Tensor<D>) {
        if !self.enabled {
            return;
        }
        let shape = t.dims().to_vec();
        if let Ok(data) = crate::kernels::to_host(t.clone()) {
            self.records
                .push((name.to_string(), HostTensor::new(shape, data)));
        }
    }

    pub fn get(&self, name: &str) -> Option<&HostTensor> {
        self.records.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}
