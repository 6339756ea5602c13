//! Choosing where the generator runs: the pure-Rust CPU backend (`flex`) or wgpu.

use crate::error::{Error, Result};
use burn::tensor::Device;
use burn::tensor::wgpu::{WgpuSetup, wgpu};
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

/// Which limits a wgpu device is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuLimits {
    /// Everything the adapter offers (the default: big models need large buffers).
    Adapter,
    /// WebGPU's guaranteed defaults (128 MiB per binding, 16 KiB workgroup memory, 256
    /// invocations per workgroup): what every GPU offers. The tests run with these, so a
    /// kernel that needs more fails here rather than on a user's GPU.
    WebGpu,
}

impl GpuLimits {
    /// `STYLENAT_WGPU_LIMITS=webgpu` asks for [`GpuLimits::WebGpu`]; anything else (or unset)
    /// keeps the adapter's.
    pub fn from_env() -> Self {
        match std::env::var("STYLENAT_WGPU_LIMITS").ok().as_deref() {
            Some("webgpu") => Self::WebGpu,
            _ => Self::Adapter,
        }
    }

    /// The limits to request from `adapter`.
    pub fn for_adapter(self, adapter: &wgpu::Adapter) -> wgpu::Limits {
        match self {
            Self::Adapter => adapter.limits(),
            Self::WebGpu => wgpu::Limits::default(),
        }
    }
}

/// The wgpu device every command and test runs on, with the chosen limits.
fn create_wgpu_setup(limits: GpuLimits) -> std::result::Result<WgpuSetup, String> {
    use cubecl::future::block_on;
    // Vulkan, Metal or DX12 first; OpenGL only where none of those exists (probing GL makes
    // Mesa's EGL look for a Wayland display and print an error on headless machines).
    let mut last_error = String::new();
    let mut found = None;
    for backends in [wgpu::Backends::PRIMARY, wgpu::Backends::SECONDARY] {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        match block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })) {
            Ok(adapter) => {
                found = Some((instance, adapter));
                break;
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    let (instance, adapter) =
        found.ok_or_else(|| format!("no usable wgpu adapter: {last_error}"))?;
    let (device, queue) = block_on(
        adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("stylenat"),
            required_features: adapter
                .features()
                .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
            required_limits: limits.for_adapter(&adapter),
            memory_hints: wgpu::MemoryHints::MemoryUsage,
            ..Default::default()
        }),
    )
    .map_err(|e| format!("the wgpu adapter refused a device: {e}"))?;
    let backend = adapter.get_info().backend;
    Ok(WgpuSetup {
        instance,
        adapter,
        device,
        queue,
        backend,
    })
}

/// `wgpu: <adapter> (<API>, <device type>)`, as every command prints it.
pub fn describe_adapter(info: &wgpu::AdapterInfo) -> String {
    format!(
        "wgpu: {} ({:?}, {:?})",
        info.name, info.backend, info.device_type
    )
}

/// Whether a wgpu adapter is real hardware (not a CPU rasteriser like lavapipe).
pub fn is_hardware(info: &wgpu::AdapterInfo) -> bool {
    info.device_type != wgpu::DeviceType::Cpu
}

/// An initialised device plus a human-readable description of it.
#[derive(Debug, Clone)]
pub struct Backend {
    pub kind: BackendKind,
    pub device: Device,
    pub description: String,
    /// The wgpu handles the device runs on (wgpu only), for sharing with other wgpu users.
    pub wgpu: Option<WgpuSetup>,
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
                type Registered = (Device, String, WgpuSetup);
                static WGPU: OnceLock<std::result::Result<Registered, String>> = OnceLock::new();
                let (device, description, setup) = WGPU
                    .get_or_init(|| {
                        let limits = GpuLimits::from_env();
                        let setup = create_wgpu_setup(limits)?;
                        let device = Device::wgpu_options()
                            .setup(setup.clone())
                            .init()
                            .map_err(|e| format!("cannot run on the wgpu device: {e}"))?;
                        let mut description = describe_adapter(&setup.adapter.get_info());
                        if limits == GpuLimits::WebGpu {
                            description.push_str(", WebGPU default limits");
                        }
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
    /// The largest buffer a kernel may bind on this device (`None`: no limit, the CPU).
    pub fn max_buffer_bytes(&self) -> Option<u64> {
        let limits = self.wgpu.as_ref()?.device.limits();
        Some(
            limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size),
        )
    }

    /// Images one forward pass may hold on this device when one image's largest activation
    /// takes `per_image_bytes`: activations scale with the batch, and each must fit one binding.
    pub fn max_batch(&self, per_image_bytes: u64) -> usize {
        match self.max_buffer_bytes() {
            Some(cap) => (cap / per_image_bytes.max(1)).max(1) as usize,
            None => usize::MAX,
        }
    }

    /// Refuses a model whose largest buffer this GPU cannot bind, before anything is uploaded:
    /// the user learns what the model needs instead of meeting a device error mid-render.
    pub fn check_fits(&self, need: u64, what: &str) -> Result<()> {
        let Some(cap) = self.max_buffer_bytes() else {
            return Ok(());
        };
        if need > cap {
            let mib = |b: u64| b as f64 / (1 << 20) as f64;
            return Err(Error::Backend(format!(
                "this model needs GPU buffers of {:.0} MiB ({what}), but {} binds at most \
                 {:.0} MiB per buffer; use --backend cpu",
                mib(need),
                self.description,
                mib(cap)
            )));
        }
        Ok(())
    }
}

/// Whether a device is the CPU (`flex`) backend, where host-memory kernels apply.
pub fn is_cpu(device: &Device) -> bool {
    *device == Device::flex()
}
