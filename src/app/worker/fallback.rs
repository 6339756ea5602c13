//! When the GPU fails mid-session: the model is rebuilt on the CPU from the weights it was
//! loaded with, and the session goes on there.

use super::Model;
use crate::backend::{Backend, BackendKind};
use crate::engine::Engine;

/// The message of a caught panic.
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown failure".into())
}

/// Rebuilds the model on the CPU; returns the CPU backend for later loads.
pub fn move_to_cpu(m: &mut Model) -> crate::Result<Backend> {
    let cpu = Backend::init(BackendKind::Cpu)?;
    let path = m.engine.source_path.clone().unwrap_or_default();
    m.engine = Engine::from_loaded(m.engine.loaded.clone(), &path, cpu.clone())?;
    Ok(cpu)
}
