//! Generator output → 8-bit pixels → PNG, like the official `src/inference.py`.

use crate::error::Result;
use std::path::Path;

/// ImageNet normalisation the generator's output space is expressed in.
pub(crate) const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub(crate) const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Converts one CHW float image (3 channels) to interleaved RGB8: `x·std + mean`, clamp to
/// [0, 1], then `×255 + 0.5` truncated (torchvision's `save_image`).
pub fn to_rgb8(chw: &[f32], height: usize, width: usize) -> Vec<u8> {
    let plane = height * width;
    let mut out = vec![0u8; plane * 3];
    for c in 0..3 {
        for (i, &x) in chw[c * plane..(c + 1) * plane].iter().enumerate() {
            let v = (x * STD[c] + MEAN[c]).clamp(0.0, 1.0);
            out[i * 3 + c] = (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// The inverse of [`to_rgb8`]: interleaved RGB8 → one CHW float image in the generator's
/// output space (what a discriminator compares generated images with).
pub fn from_rgb8(rgb: &[u8], height: usize, width: usize) -> Vec<f32> {
    let plane = height * width;
    let mut out = vec![0f32; plane * 3];
    for c in 0..3 {
        for i in 0..plane {
            out[c * plane + i] = (rgb[i * 3 + c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
    out
}

/// Writes RGB8 pixels as a PNG file, atomically, with an optional provenance record.
pub fn save_png(
    path: &Path,
    rgb: &[u8],
    width: usize,
    height: usize,
    provenance: Option<&super::provenance::Provenance>,
) -> Result<()> {
    super::write_atomic(
        path,
        &super::provenance::encode_png(rgb, width, height, provenance)?,
    )
}
