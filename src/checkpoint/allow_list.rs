//! The allow-list: which pickle globals a checkpoint may name, and what calling them yields.
//! Nothing here runs code from the file; each accepted global maps to plain data.

use super::value::{Global, StorageDType, StorageRef, TensorRef, Value};
use crate::error::{Error, Result};

pub(super) fn resolve_global(module: &str, name: &str) -> Result<Global> {
    let g = match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
            Global::RebuildTensor
        }
        ("torch._utils", "_rebuild_parameter")
        | ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameter,
        ("torch", "Size") => Global::TorchSize,
        ("argparse", "Namespace") => Global::Namespace,
        ("builtins", "set") | ("builtins", "frozenset") | ("__builtin__", "set") => Global::Set,
        ("torch", cls) if let Some(dtype) = StorageDType::from_class(cls) => {
            Global::StorageClass(dtype)
        }
        // Data-only classes found in real training checkpoints (FID floats, optimiser and RNG
        // state, OmegaConf containers). They are skipped, never constructed.
        ("numpy.core.multiarray", "scalar") | ("numpy._core.multiarray", "scalar") => {
            Global::Skipped("numpy scalar")
        }
        ("numpy.core.multiarray", "_reconstruct") | ("numpy._core.multiarray", "_reconstruct") => {
            Global::Skipped("numpy array")
        }
        ("numpy", "dtype") | ("numpy", "ndarray") => Global::Skipped("numpy dtype"),
        ("torch", "device") => Global::Skipped("torch.device"),
        (m, _) if m.starts_with("omegaconf.") => Global::Skipped("omegaconf object"),
        _ => {
            return Err(Error::DisallowedClass {
                module: module.to_string(),
                name: name.to_string(),
            });
        }
    };
    Ok(g)
}

fn usize_of(v: &Value, what: &str) -> std::result::Result<usize, String> {
    v.as_i64()
        .and_then(|i| usize::try_from(i).ok())
        .ok_or_else(|| format!("{what} must be a non-negative integer, got {}", v.kind()))
}

fn usizes(v: &Value, what: &str) -> std::result::Result<Vec<usize>, String> {
    v.as_seq()
        .ok_or_else(|| format!("{what} must be a tuple"))?
        .iter()
        .map(|x| usize_of(x, what))
        .collect()
}

/// `('storage', StorageClass, key, location, numel)` → [`Value::Storage`].
pub(super) fn persistent_load(pid: Value) -> std::result::Result<Value, String> {
    let t = match pid {
        Value::Tuple(t) => t,
        other => {
            return Err(format!(
                "persistent id must be a tuple, got {}",
                other.kind()
            ));
        }
    };
    match t.as_slice() {
        [
            Value::Str(tag),
            Value::Global(Global::StorageClass(dtype)),
            Value::Str(key),
            _loc,
            numel,
        ] if tag == "storage" => Ok(Value::Storage(StorageRef {
            key: key.clone(),
            dtype: *dtype,
            numel: usize_of(numel, "storage size")?,
        })),
        _ => Err("unsupported persistent id (expected a torch storage reference)".into()),
    }
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, ...)`.
pub(super) fn rebuild_tensor(args: Vec<Value>) -> std::result::Result<Value, String> {
    if args.len() < 4 {
        return Err("_rebuild_tensor_v2 needs at least 4 arguments".into());
    }
    let storage = match &args[0] {
        Value::Storage(s) => s.clone(),
        other => {
            return Err(format!(
                "tensor storage must be a storage, got {}",
                other.kind()
            ));
        }
    };
    let offset = usize_of(&args[1], "storage offset")?;
    let shape = usizes(&args[2], "tensor size")?;
    let stride = usizes(&args[3], "tensor stride")?;
    if shape.len() != stride.len() {
        return Err("tensor size and stride have different lengths".into());
    }
    Ok(Value::Tensor(Box::new(TensorRef {
        storage,
        offset,
        shape,
        stride,
    })))
}
