//! The explorer window's side of the wgpu backend: eframe's device settings, and a generator
//! backend on the window's own device so generated images never leave the GPU.

use crate::backend::{Backend, BackendKind, GpuLimits, describe_adapter};
use crate::error::{Error, Result};
use burn::tensor::Device;
use burn::tensor::wgpu::WgpuSetup;
use std::sync::OnceLock;

/// wgpu on the explorer window's own device and queue, so generated images never leave
/// the GPU. Registered once per process (a second window reuses the first registration).
pub fn backend_from_render_state(rs: &eframe::egui_wgpu::RenderState) -> Result<Backend> {
    type Registered = (Device, String, WgpuSetup);
    static SHARED: OnceLock<std::result::Result<Registered, String>> = OnceLock::new();
    let (device, description, setup) = SHARED
        .get_or_init(|| {
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
    Ok(Backend {
        kind: BackendKind::Wgpu,
        device,
        description,
        wgpu: Some(setup),
    })
}

/// eframe's wgpu settings: the device gets every adapter feature and limit (as burn's own
/// device would), because the generator's kernels run on it too.
pub fn wgpu_options() -> eframe::egui_wgpu::WgpuConfiguration {
    use eframe::egui_wgpu::{WgpuSetup, WgpuSetupCreateNew, wgpu};
    let mut create = WgpuSetupCreateNew::without_display_handle();
    create.device_descriptor =
        std::sync::Arc::new(|adapter: &wgpu::Adapter| wgpu::DeviceDescriptor {
            label: Some("stylenat + egui"),
            required_features: adapter
                .features()
                .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
            required_limits: GpuLimits::from_env().for_adapter(adapter),
            memory_hints: wgpu::MemoryHints::MemoryUsage,
            ..Default::default()
        });
    eframe::egui_wgpu::WgpuConfiguration {
        wgpu_setup: WgpuSetup::CreateNew(create),
        ..Default::default()
    }
}
