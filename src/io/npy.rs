//! `.npy` / `.npz` float32 arrays (the interchange format of the NVlabs and StyleNAT tools).

use crate::error::{Error, Result};
use crate::tensor::HostTensor;
use npyz::WriterBuilder;
use std::io::Cursor;
use std::path::Path;

/// Largest decompressed/compressed ratio accepted for `.npz` entries (float arrays compress
/// far less than this; a higher ratio is a zip bomb).
const MAX_EXPANSION: u64 = 64;

fn fmt_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The `.npy` preamble: magic, version and a header length that fits in the file. Checked
/// before the parser sees the file, which would otherwise reserve whatever length it declares.
fn check_preamble(path: &Path, bytes: &[u8]) -> Result<()> {
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return Err(fmt_err(path, "not a .npy array (no NUMPY magic)"));
    }
    let (header_len, preamble) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(fmt_err(path, format!("unsupported .npy version {v}"))),
    };
    if preamble + header_len > bytes.len() {
        return Err(fmt_err(
            path,
            format!(
                "the .npy header claims {header_len} bytes; the array has {}",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

fn decode(path: &Path, bytes: &[u8]) -> Result<HostTensor> {
    check_preamble(path, bytes)?;
    let npy =
        npyz::NpyFile::new(bytes).map_err(|e| fmt_err(path, format!("not a .npy array: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if npy.order() != npyz::Order::C {
        return Err(fmt_err(path, "Fortran-ordered arrays are not supported"));
    }
    // The header's shape must fit in the file before anything is allocated for it.
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| fmt_err(path, format!("shape {shape:?} is too large")))?;
    let item = match npy.dtype() {
        npyz::DType::Plain(t) => (t.size_field() as usize).max(1),
        _ => 1,
    };
    if count.saturating_mul(item) > bytes.len() {
        return Err(fmt_err(
            path,
            format!(
                "shape {shape:?} needs {} bytes but the array has only {}",
                count.saturating_mul(item),
                bytes.len()
            ),
        ));
    }
    let data: Vec<f32> = match npy.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 4 => {
            npy.into_vec::<f32>()
                .map_err(|e| fmt_err(path, e.to_string()))?
        }
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 8 => {
            npy.into_vec::<f64>()
                .map_err(|e| fmt_err(path, e.to_string()))?
                .into_iter()
                .map(|x| x as f32)
                .collect()
        }
        other => {
            return Err(fmt_err(
                path,
                format!("array dtype {} is not float32/float64", other.descr()),
            ));
        }
    };
    if data.len() != shape.iter().product::<usize>() {
        return Err(fmt_err(path, "array data does not match its shape"));
    }
    Ok(HostTensor::new(shape, data))
}

/// Whether `path` is a zip archive (`.npz`) rather than a bare `.npy`.
pub fn is_npz(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == b"PK"
}

/// Reads a float array from `.npy`, or key `key` (default `w`) from `.npz`.
pub fn read_array(path: &Path, key: Option<&str>) -> Result<HostTensor> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.starts_with(b"PK") {
        let mut zip = zip::ZipArchive::new(Cursor::new(&bytes))
            .map_err(|e| fmt_err(path, format!("not a valid .npz: {e}")))?;
        let key = key.unwrap_or("w");
        let mut entry = zip
            .by_name(&format!("{key}.npy"))
            .map_err(|_| fmt_err(path, format!("the .npz has no array named `{key}`")))?;
        // Compressed entries may expand, but not without bound (zip bombs).
        let limit = (bytes.len() as u64)
            .saturating_mul(MAX_EXPANSION)
            .max(1 << 20);
        if entry.size() > limit {
            return Err(fmt_err(
                path,
                format!(
                    "`{key}` claims {} bytes, far more than the archive holds",
                    entry.size()
                ),
            ));
        }
        let mut inner = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut entry, limit + 1), &mut inner)
            .map_err(|e| fmt_err(path, format!("unreadable `{key}`: {e}")))?;
        if inner.len() as u64 > limit {
            return Err(fmt_err(
                path,
                format!("`{key}` expands beyond {limit} bytes"),
            ));
        }
        return decode(path, &inner);
    }
    decode(path, &bytes)
}

fn encode(t: &HostTensor) -> Result<Vec<u8>> {
    let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
    let mut out = Vec::new();
    {
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut out)
            .begin_nd()
            .map_err(|e| Error::Input(e.to_string()))?;
        w.extend(t.data.iter().copied())
            .map_err(|e| Error::Input(e.to_string()))?;
        w.finish().map_err(|e| Error::Input(e.to_string()))?;
    }
    Ok(out)
}

/// Writes a float32 array atomically: `.npz` (with the given key) or `.npy` by extension.
pub fn write_array(path: &Path, key: &str, t: &HostTensor) -> Result<()> {
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if is_npz {
        write_npz(path, &[(key, t)])
    } else {
        super::write_atomic(path, &encode(t)?)
    }
}

/// Writes several named float32 arrays into one `.npz`, atomically.
pub fn write_npz(path: &Path, arrays: &[(&str, &HostTensor)]) -> Result<()> {
    let mut buf = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (key, t) in arrays {
            zip.start_file(format!("{key}.npy"), opts)
                .map_err(|e| Error::Input(e.to_string()))?;
            std::io::Write::write_all(&mut zip, &encode(t)?).map_err(|e| Error::write(path, e))?;
        }
        zip.finish().map_err(|e| Error::Input(e.to_string()))?;
    }
    super::write_atomic(path, &buf.into_inner())
}
