//! Choosing where the generator runs: the pure-Rust CPU backend (`flex`) or wgpu.

use crate::error::{Error, Result};
use burn::tensor::Device;
use std::sync::OnceLock;

/// User-facing backend choice.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Multi-threaded CPU (burn `flex` + our fused NA kernel).
    #[default]
    Cpu,
    /// wgpu: Vulkan / Metal / DX12 / GL, whichever adapter wgpu picks.
    Wgpu,
}

/// An initialised device plus a human-readable description of it.
#[derive(Debug, Clone)]
pub struct Backend {
    pub kind: BackendKind,
    pub device: Device,
    pub description: String,
}

impl Backend {
    /// Initialises the requested backend. For wgpu, a missing adapter is an error.
    pub fn init(kind: BackendKind) -> Result<Self> {
        match kind {
            BackendKind::Cpu => Ok(Self {
                kind,
                device: Device::flex(),
                description: format!("CPU (flex, {} threads)", rayon::current_num_threads()),
            }),
            BackendKind::Wgpu => {
                // The wgpu runtime can be registered once per process; later calls reuse it.
                static WGPU: OnceLock<std::result::Result<(Device, String), String>> =
                    OnceLock::new();
                let (device, description) = WGPU
                    .get_or_init(|| {
                        let (device, setup) = Device::wgpu_options()
                            .init_with_setup()
                            .map_err(|e| format!("no usable wgpu adapter: {e}"))?;
                        let info = setup.adapter.get_info();
                        let description = format!(
                            "wgpu: {} ({:?}, {:?})",
                            info.name, info.backend, info.device_type
                        );
                        Ok((device, description))
                    })
                    .clone()
                    .map_err(Error::Backend)?;
                Ok(Self {
                    kind,
                    device,
                    description,
                })
            }
        }
    }
}

/// Whether a device is the CPU (`flex`) backend, where host-memory kernels apply.
pub fn is_cpu(device: &Device) -> bool {
    *device == Device::flex()
}
