//! Our own format: one `.safetensors` file whose metadata holds the generator config as JSON
//! (`stylenat.config`), so a file is self-describing and loads without Python or pickle.

use super::{CheckpointFormat, LoadedGenerator};
use crate::error::{Error, Result};
use crate::model::GeneratorConfig;
use crate::tensor::{HostTensor, WeightMap};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

const CONFIG_KEY: &str = "stylenat.config";

/// Whether `path` starts like a safetensors file (8-byte header length, then `{`).
pub fn is_native(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 9];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| head[8] == b'{')
        .unwrap_or(false)
}

/// Reads a native generator file.
pub fn load(path: &Path) -> Result<LoadedGenerator> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    from_bytes(&bytes, path)
}

/// Parses native bytes; `path` names the source in errors.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<LoadedGenerator> {
    let (weights, meta) = read_tensors(bytes, path)?;
    let config_json = meta.get(CONFIG_KEY).ok_or_else(|| {
        format_error(
            path,
            format!("safetensors metadata has no `{CONFIG_KEY}` entry"),
        )
    })?;
    let config: GeneratorConfig = serde_json::from_str(config_json)
        .map_err(|e| format_error(path, format!("invalid generator config in metadata: {e}")))?;
    config.validate().map_err(Error::Config)?;
    Ok(LoadedGenerator {
        format: CheckpointFormat::Native,
        config,
        weights,
    })
}

fn format_error(path: &Path, reason: String) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        reason,
    }
}

/// Every F32 tensor of a safetensors file and its string metadata.
pub fn read_tensors(bytes: &[u8], path: &Path) -> Result<(WeightMap, HashMap<String, String>)> {
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| format_error(path, format!("not a valid safetensors file: {e}")))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| format_error(path, format!("not a valid safetensors file: {e}")))?;
    let mut weights = WeightMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(format_error(
                path,
                format!("tensor `{name}` is {:?}, expected F32", view.dtype()),
            ));
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        weights.insert(name, HostTensor::new(view.shape().to_vec(), data));
    }
    Ok((weights, meta))
}

/// Serialises F32 tensors with string metadata as safetensors bytes.
pub fn write_tensors(weights: &WeightMap, meta: HashMap<String, String>) -> Result<Vec<u8>> {
    let raw: Vec<(String, Vec<u8>, Vec<usize>)> = weights
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                bytemuck::cast_slice(&t.data).to_vec(),
                t.shape.clone(),
            )
        })
        .collect();
    let views = raw
        .iter()
        .map(|(n, b, s)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Input(format!("tensor `{n}`: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, Some(meta)).map_err(|e| Error::Input(e.to_string()))
}

/// Serialises a generator to native bytes.
pub fn to_bytes(config: &GeneratorConfig, weights: &WeightMap) -> Result<Vec<u8>> {
    let config_json = serde_json::to_string(config).map_err(|e| Error::Input(e.to_string()))?;
    write_tensors(
        weights,
        HashMap::from([(CONFIG_KEY.to_string(), config_json)]),
    )
}

/// Writes a generator to `path` atomically.
pub fn save(path: &Path, config: &GeneratorConfig, weights: &WeightMap) -> Result<()> {
    let bytes = to_bytes(config, weights)?;
    crate::io::write_atomic(path, &bytes)
}
