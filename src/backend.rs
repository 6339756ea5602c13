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
    /// wgpu when a hardware GPU adapter exists, otherwise the CPU (a software rasteriser such
    /// as lavapipe is slower than the CPU backend on the same cores).
    #[default]
    Auto,
    /// Multi-threaded CPU (burn `flex` + our fused NA kernel).
    Cpu,
    /// wgpu: Vulkan / Metal / DX12 / GL, whichever adapter wgpu picks (software ones too).
    Wgpu,
}

/// `wgpu: <adapter> (<API>, <device type>)`, as every command prints it.
fn describe_adapter(info: &burn::tensor::wgpu::wgpu::AdapterInfo) -> String {
    format!(
        "wgpu: {} ({:?}, {:?})",
        info.name, info.backend, info.device_type
    )
}

/// Whether a wgpu adapter is real hardware (not a CPU rasteriser like lavapipe).
pub fn is_hardware(info: &burn::tensor::wgpu::wgpu::AdapterInfo) -> bool {
    info.device_type != burn::tensor::wgpu::wgpu::DeviceType::Cpu
}

/// An initialised device plus a human-readable description of it.
#[derive(Debug, Clone)]
pub struct Backend {
    pub kind: BackendKind,
    pub device: Device,
    pub description: String,
    /// The wgpu handles the device runs on (wgpu only), for sharing with other wgpu users.
    pub wgpu: Option<burn::tensor::wgpu::WgpuSetup>,
}

impl Backend {
    /// Initialises the requested backend. For wgpu, a missing adapter is an error; `Auto`
    /// never fails for want of a GPU (the CPU serves, and the description says why).
    pub fn init(kind: BackendKind) -> Result<Self> {
        match kind {
            BackendKind::Auto => match Self::init(BackendKind::Wgpu) {
                Ok(gpu)
                    if gpu
                        .wgpu
                        .as_ref()
                        .is_some_and(|s| is_hardware(&s.adapter.get_info())) =>
                {
                    Ok(gpu)
                }
                Ok(soft) => {
                    let mut cpu = Self::init(BackendKind::Cpu)?;
                    cpu.description = format!(
                        "{} — the only GPU adapter is a software one ({})",
                        cpu.description, soft.description
                    );
                    Ok(cpu)
                }
                Err(e) => {
                    let mut cpu = Self::init(BackendKind::Cpu)?;
                    cpu.description = format!("{} — {e}", cpu.description);
                    Ok(cpu)
                }
            },
            BackendKind::Cpu => Ok(Self {
                kind,
                device: Device::flex(),
                description: format!("CPU (flex, {} threads)", rayon::current_num_threads()),
                wgpu: None,
            }),
            BackendKind::Wgpu => {
                // The wgpu runtime can be registered once per process; later calls reuse it.
                type Registered = (Device, String, burn::tensor::wgpu::WgpuSetup);
                static WGPU: OnceLock<std::result::Result<Registered, String>> = OnceLock::new();
                let (device, description, setup) = WGPU
                    .get_or_init(|| {
                        let (device, setup) = Device::wgpu_options()
                            .init_with_setup()
                            .map_err(|e| format!("no usable wgpu adapter: {e}"))?;
                        let info = setup.adapter.get_info();
                        let description = describe_adapter(&info);
                        Ok((device, description, setup))
                    })
                    .clone()
                    .map_err(Error::Backend)?;
                Ok(Self {
                    kind,
                    device,
                    description,
                    wgpu: Some(setup),
                })
            }
        }
    }
}

impl Backend {
    /// wgpu on the explorer window's own device and queue, so generated images never leave
    /// the GPU. Registered once per process (a second window reuses the first registration).
    pub fn from_render_state(rs: &eframe::egui_wgpu::RenderState) -> Result<Self> {
        type Registered = (Device, String, burn::tensor::wgpu::WgpuSetup);
        static SHARED: OnceLock<std::result::Result<Registered, String>> = OnceLock::new();
        let (device, description, setup) = SHARED
            .get_or_init(|| {
                use burn::tensor::wgpu::WgpuSetup;
                let info = rs.adapter.get_info();
                let setup = WgpuSetup {
                    instance: rs.instance.clone(),
                    adapter: rs.adapter.clone(),
                    device: rs.device.clone(),
                    queue: rs.queue.clone(),
                    backend: info.backend,
                };
                let device = Device::wgpu_options()
                    .setup(setup.clone())
                    .init()
                    .map_err(|e| format!("cannot run on the window's wgpu device: {e}"))?;
                Ok((
                    device,
                    format!("{}, shared with the window", describe_adapter(&info)),
                    setup,
                ))
            })
            .clone()
            .map_err(Error::Backend)?;
        Ok(Self {
            kind: BackendKind::Wgpu,
            device,
            description,
            wgpu: Some(setup),
        })
    }
}

/// eframe's wgpu settings: the device gets every adapter feature and limit (as burn's own
/// device would), because the generator's kernels run on it too.
pub fn egui_wgpu_options() -> eframe::egui_wgpu::WgpuConfiguration {
    use eframe::egui_wgpu::{WgpuSetup, WgpuSetupCreateNew, wgpu};
    let mut create = WgpuSetupCreateNew::without_display_handle();
    create.device_descriptor =
        std::sync::Arc::new(|adapter: &wgpu::Adapter| wgpu::DeviceDescriptor {
            label: Some("stylenat + egui"),
            required_features: adapter
                .features()
                .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
            required_limits: adapter.limits(),
            memory_hints: wgpu::MemoryHints::MemoryUsage,
            ..Default::default()
        });
    eframe::egui_wgpu::WgpuConfiguration {
        wgpu_setup: WgpuSetup::CreateNew(create),
        ..Default::default()
    }
}

/// Whether a device is the CPU (`flex`) backend, where host-memory kernels apply.
pub fn is_cpu(device: &Device) -> bool {
    *device == Device::flex()
}
