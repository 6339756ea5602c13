//! The wgpu image path: generator output packed to RGBA8 on the GPU
//! ([`crate::kernels::present`]) and copied into textures registered with egui's renderer, on
//! the device the window draws with. No pixel goes through the host.

use crate::kernels::present::PackedImages;
use eframe::egui_wgpu::{RenderState, wgpu};

struct Slot {
    texture: wgpu::Texture,
    id: egui::TextureId,
    size: usize,
    filter: wgpu::FilterMode,
}

pub struct GpuTextures {
    rs: RenderState,
    slots: Vec<Slot>,
}

impl GpuTextures {
    pub fn new(rs: RenderState) -> Self {
        Self {
            rs,
            slots: Vec::new(),
        }
    }

    fn texture(device: &wgpu::Device, size: usize) -> wgpu::Texture {
        device.create_texture(&wgpu::TextureDescriptor {
            label: Some("stylenat image"),
            size: wgpu::Extent3d {
                width: size as u32,
                height: size as u32,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            // egui samples gamma-space bytes from Rgba8Unorm, like its own textures.
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        })
    }

    /// Copies the packed images into this presenter's textures (created or resized as needed)
    /// and returns their egui ids, in order. `smooth`: sampled bilinearly (a preview smaller
    /// than the model's images), otherwise nearest (pixels stay sharp when zoomed).
    pub fn upload(&mut self, packed: &PackedImages, smooth: bool) -> Vec<egui::TextureId> {
        let filter = if smooth {
            wgpu::FilterMode::Linear
        } else {
            wgpu::FilterMode::Nearest
        };
        let mut renderer = self.rs.renderer.write();
        for i in 0..packed.count {
            let view_of =
                |t: &wgpu::Texture| t.create_view(&wgpu::TextureViewDescriptor::default());
            match self.slots.get_mut(i) {
                Some(slot) if slot.size == packed.size && slot.filter == filter => {}
                Some(slot) => {
                    if slot.size != packed.size {
                        slot.texture.destroy();
                        slot.texture = Self::texture(&self.rs.device, packed.size);
                        slot.size = packed.size;
                    }
                    slot.filter = filter;
                    renderer.update_egui_texture_from_wgpu_texture(
                        &self.rs.device,
                        &view_of(&slot.texture),
                        filter,
                        slot.id,
                    );
                }
                None => {
                    let texture = Self::texture(&self.rs.device, packed.size);
                    let id = renderer.register_native_texture(
                        &self.rs.device,
                        &view_of(&texture),
                        filter,
                    );
                    self.slots.push(Slot {
                        texture,
                        id,
                        size: packed.size,
                        filter,
                    });
                }
            }
        }
        drop(renderer);
        let mut encoder = self
            .rs
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("stylenat image copy"),
            });
        for (i, slot) in self.slots.iter().take(packed.count).enumerate() {
            encoder.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer: packed.buffer(),
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: packed.offset(i),
                        bytes_per_row: Some(packed.row_bytes as u32),
                        rows_per_image: Some(packed.size as u32),
                    },
                },
                slot.texture.as_image_copy(),
                slot.texture.size(),
            );
        }
        self.rs.queue.submit([encoder.finish()]);
        self.slots.iter().take(packed.count).map(|s| s.id).collect()
    }
}
