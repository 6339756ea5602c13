//! The generator that ships inside the binary (trained by `stylenat train`, see
//! `assets/MODEL_CARD.md`), so every command and the explorer work offline with no download.
//! It is addressed by a reserved name wherever a checkpoint path is accepted.

use super::{LoadedGenerator, native};
use crate::error::Result;
use std::path::Path;

/// The reserved path of the built-in model.
pub const NAME: &str = "builtin:fashion32";

static BYTES: &[u8] = include_bytes!("../../assets/stylenat-fashion32.safetensors");

/// Whether `path` names the built-in model.
pub fn is_builtin(path: &Path) -> bool {
    path == Path::new(NAME)
}

/// The embedded native file.
pub fn bytes() -> &'static [u8] {
    BYTES
}

/// Size of the embedded file in bytes (part of cache keys).
pub fn size() -> usize {
    BYTES.len()
}

pub fn load() -> Result<LoadedGenerator> {
    native::from_bytes(BYTES, Path::new(NAME))
}
