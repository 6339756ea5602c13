//! Dispatch sizes for the hand-written WGSL kernels, taken from the device's real limits (so
//! what passes on a generous software adapter also fits a GPU that offers only WebGPU's
//! guaranteed limits).

use crate::error::{Error, Result};
use cubecl::CubeCount;

/// What a kernel launch may use on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchLimits {
    /// Workgroups along one dispatch axis.
    pub max_groups_per_dim: u32,
    /// Workgroup memory, in bytes.
    pub max_shared_bytes: usize,
}

impl DispatchLimits {
    /// The limits of the device a cubecl client runs on.
    pub fn of(hw: &cubecl::ir::HardwareProperties) -> Self {
        Self {
            max_groups_per_dim: hw.max_cube_count.0.max(1),
            max_shared_bytes: hw.max_shared_memory_size,
        }
    }

    /// A grid of `groups` workgroups: along x up to the limit, then rows of those along y (the
    /// kernels rebuild the flat index as `x + y · num_workgroups.x`).
    pub fn grid(&self, groups: u32) -> Result<CubeCount> {
        let max = self.max_groups_per_dim;
        let (gx, gy) = (groups.clamp(1, max), groups.div_ceil(max).max(1));
        if gy > max {
            return Err(Error::Backend(format!(
                "a dispatch of {groups} workgroups exceeds this GPU's {max} × {max} grid"
            )));
        }
        Ok(CubeCount::Static(gx, gy, 1))
    }
}
