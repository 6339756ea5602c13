//! Our own format: one `.safetensors` file whose metadata holds the generator config as JSON
//! (`stylenat.config`), so a file is self-describing and loads without Python or pickle.

use super::{CheckpointFormat, HostTensor, LoadedGenerator, WeightMap};
use crate::error::{Error, Result};
use crate::model::GeneratorConfig;
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
    let fmt_err = |reason: String| Error::Format {
        path: path.to_path_buf(),
        reason,
    };
    let (_, meta) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| fmt_err(format!("not a valid safetensors file: {e}")))?;
    let config_json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(CONFIG_KEY))
        .ok_or_else(|| fmt_err(format!("safetensors metadata has no `{CONFIG_KEY}` entry")))?;
    let config: GeneratorConfig = serde_json::from_str(config_json)
        .map_err(|e| fmt_err(format!("invalid generator config in metadata: {e}")))?;
    config.validate().map_err(Error::Config)?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| fmt_err(format!("not a valid safetensors file: {e}")))?;
    let mut weights = WeightMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(fmt_err(format!(
                "tensor `{name}` is {:?}, expected F32",
                view.dtype()
            )));
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        weights.insert(name, HostTensor::new(view.shape().to_vec(), data));
    }
    Ok(LoadedGenerator {
        format: CheckpointFormat::Native,
        config,
        weights,
    })
}

/// Serialises a generator to native bytes.
pub fn to_bytes(config: &GeneratorConfig, weights: &WeightMap) -> Result<Vec<u8>> {
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
    let config_json = serde_json::to_string(config).map_err(|e| Error::Input(e.to_string()))?;
    let meta = HashMap::from([(CONFIG_KEY.to_string(), config_json)]);
    safetensors::serialize(views, Some(meta)).map_err(|e| Error::Input(e.to_string()))
}

/// Writes a generator to `path` atomically.
pub fn save(path: &Path, config: &GeneratorConfig, weights: &WeightMap) -> Result<()> {
    let bytes = to_bytes(config, weights)?;
    crate::io::write_atomic(path, &bytes)
}
