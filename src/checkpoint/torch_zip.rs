//! The `torch.save` zip container: `<archive>/data.pkl` + one `<archive>/data/<key>` per storage.

use super::pickle::{StorageDType, TensorRef, Value, unpickle_with};
use crate::error::{Error, Result};
use crate::tensor::HostTensor;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Largest pickle we accept (real checkpoints have pickles of a few hundred KiB).
const MAX_PICKLE_BYTES: u64 = 64 << 20;

/// An opened `.pt` file: the decoded pickle and lazy access to its storages.
pub struct TorchFile {
    path: PathBuf,
    zip: zip::ZipArchive<BufReader<File>>,
    prefix: String,
    /// Storage key → decoded element bytes, read on first use.
    cache: HashMap<String, Vec<u8>>,
    /// Elements in the storages read so far, and elements handed out as tensors: views that
    /// re-read one storage many times must not multiply memory and time without bound.
    stored: usize,
    converted: usize,
    pub root: Value,
}

impl TorchFile {
    /// Opens `path` and decodes its pickle with the allow-list unpickler; `keep_going(bytes
    /// read, bytes in total)` is asked now and then while the pickle decodes.
    pub fn open(path: &Path, keep_going: &mut dyn FnMut(usize, usize) -> bool) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| Error::NotAZip {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let pkl_name = zip
            .file_names()
            .find(|n| n.ends_with("data.pkl") && n.matches('/').count() <= 1)
            .map(str::to_string)
            .ok_or_else(|| Error::MissingPickle {
                path: path.to_path_buf(),
            })?;
        let prefix = pkl_name.trim_end_matches("data.pkl").to_string();
        let mut entry = zip.by_name(&pkl_name).map_err(|e| Error::NotAZip {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if entry.size() > MAX_PICKLE_BYTES {
            return Err(Error::Format {
                path: path.to_path_buf(),
                reason: format!(
                    "data.pkl is {} bytes, more than any checkpoint needs",
                    entry.size()
                ),
            });
        }
        // The declared size is the file's claim; reserve what the stored bytes can back.
        let backed = entry
            .compressed_size()
            .saturating_mul(1100)
            .min(entry.size());
        let mut pkl = Vec::with_capacity(backed.min(MAX_PICKLE_BYTES) as usize);
        entry
            .by_ref()
            .take(MAX_PICKLE_BYTES + 1)
            .read_to_end(&mut pkl)
            .map_err(|e| Error::io(path, e))?;
        drop(entry);
        if pkl.len() as u64 > MAX_PICKLE_BYTES {
            return Err(Error::Format {
                path: path.to_path_buf(),
                reason: "data.pkl expands beyond any checkpoint's size".into(),
            });
        }
        let root = unpickle_with(&pkl, keep_going)?;
        Ok(Self {
            path: path.to_path_buf(),
            zip,
            prefix,
            cache: HashMap::new(),
            stored: 0,
            converted: 0,
            root,
        })
    }

    /// Path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn storage_bytes(&mut self, key: &str, dtype: StorageDType, numel: usize) -> Result<&[u8]> {
        if !self.cache.contains_key(key) {
            let name = format!("{}data/{}", self.prefix, key);
            let storage_err = |reason: String| Error::Storage {
                key: key.to_string(),
                reason,
            };
            let mut entry = self
                .zip
                .by_name(&name)
                .map_err(|e| storage_err(format!("missing archive entry {name}: {e}")))?;
            let want = numel
                .checked_mul(dtype.size())
                .ok_or_else(|| storage_err("declared size overflows".into()))?;
            // Sizes come from the archive's directory, which a damaged or hostile file can
            // inflate: never reserve more than the stored bytes can expand to (weights barely
            // compress; torch.save does not compress at all).
            if want as u64 > entry.compressed_size().saturating_mul(8).max(1 << 16) {
                return Err(storage_err(format!(
                    "declares {want} bytes but the archive stores only {}",
                    entry.compressed_size()
                )));
            }
            if entry.size() < want as u64 {
                return Err(storage_err(format!(
                    "declares {numel} elements ({want} bytes) but the archive entry has {} bytes",
                    entry.size()
                )));
            }
            let mut buf = Vec::with_capacity(want);
            entry
                .by_ref()
                .take(want as u64)
                .read_to_end(&mut buf)
                .map_err(|e| storage_err(format!("read failed: {e}")))?;
            if buf.len() != want {
                return Err(storage_err("archive entry is truncated".into()));
            }
            self.cache.insert(key.to_string(), buf);
            self.stored += numel;
        }
        let bytes = &self.cache[key];
        // Another reference to the same storage may declare it larger (or of a wider type)
        // than the one that read it: the file contradicts itself.
        if numel.checked_mul(dtype.size()) != Some(bytes.len()) {
            return Err(Error::Storage {
                key: key.to_string(),
                reason: format!(
                    "referenced as {numel} × {dtype:?} but read as {} bytes elsewhere in the file",
                    bytes.len()
                ),
            });
        }
        Ok(bytes)
    }

    /// Reads a tensor as contiguous `f32` (any float or integer storage type is converted).
    pub fn tensor(&mut self, name: &str, t: &TensorRef) -> Result<HostTensor> {
        let s = &t.storage;
        // Reads (and checks) the storage once; its bytes are borrowed again below.
        self.storage_bytes(&s.key, s.dtype, s.numel)?;
        let numel = t
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::Storage {
                key: s.key.clone(),
                reason: format!("tensor `{name}` has an absurd shape {:?}", t.shape),
            })?;
        if t.stride.len() != t.shape.len() {
            return Err(Error::Storage {
                key: s.key.clone(),
                reason: format!(
                    "tensor `{name}` has {} dimensions but {} strides",
                    t.shape.len(),
                    t.stride.len()
                ),
            });
        }
        // Weights are never broadcast views: more elements than storage is a damaged file (and
        // would allocate without bound).
        if numel > s.numel {
            return Err(Error::Storage {
                key: s.key.clone(),
                reason: format!(
                    "tensor `{name}` has {numel} elements but its storage only {}",
                    s.numel
                ),
            });
        }
        // Largest element index the view touches must lie inside the storage.
        if numel > 0 {
            let last = t
                .shape
                .iter()
                .zip(&t.stride)
                .try_fold(t.offset, |a, (&d, &st)| {
                    a.checked_add((d - 1).checked_mul(st)?)
                });
            if last.is_none_or(|l| l >= s.numel) {
                return Err(Error::Storage {
                    key: s.key.clone(),
                    reason: format!("tensor `{name}` reads past the end of its storage"),
                });
            }
        }
        self.converted += numel;
        if self.converted > 4 * self.stored + (1 << 20) {
            return Err(Error::Storage {
                key: s.key.clone(),
                reason: format!(
                    "tensor `{name}`: the tensors re-read their storages many times over, \
                     which no checkpoint does"
                ),
            });
        }
        let bytes = &self.cache[&s.key];
        let size = s.dtype.size();
        // Row by row along the last dimension; a contiguous row converts as one run.
        let (inner, inner_stride) = match (t.shape.last(), t.stride.last()) {
            (Some(&d), Some(&st)) => (d, st),
            _ => (1, 1),
        };
        let outer = &t.shape[..t.shape.len().saturating_sub(1)];
        let mut index = vec![0usize; outer.len()];
        let mut data = Vec::with_capacity(numel);
        for _ in 0..numel.checked_div(inner).unwrap_or(0) {
            let base = t.offset
                + index
                    .iter()
                    .zip(&t.stride)
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            if inner_stride == 1 || inner == 1 {
                extend_f32(
                    &mut data,
                    &bytes[base * size..(base + inner) * size],
                    s.dtype,
                );
            } else {
                for j in 0..inner {
                    let at = base + j * inner_stride;
                    extend_f32(&mut data, &bytes[at * size..(at + 1) * size], s.dtype);
                }
            }
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < outer[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        Ok(HostTensor {
            shape: t.shape.clone(),
            data,
        })
    }
}

/// Appends the elements stored little-endian in `b` (whole elements of `dtype`) as `f32`.
fn extend_f32(out: &mut Vec<f32>, b: &[u8], dtype: StorageDType) {
    fn each<const N: usize>(out: &mut Vec<f32>, b: &[u8], f: impl Fn([u8; N]) -> f32) {
        out.extend(
            b.chunks_exact(N)
                .map(|c| f(c.try_into().expect("N-byte chunk"))),
        );
    }
    match dtype {
        StorageDType::F32 => each(out, b, f32::from_le_bytes),
        StorageDType::F64 => each(out, b, |c| f64::from_le_bytes(c) as f32),
        StorageDType::F16 => each(out, b, |c| half::f16::from_le_bytes(c).to_f32()),
        StorageDType::BF16 => each(out, b, |c| half::bf16::from_le_bytes(c).to_f32()),
        StorageDType::I64 => each(out, b, |c| i64::from_le_bytes(c) as f32),
        StorageDType::I32 => each(out, b, |c| i32::from_le_bytes(c) as f32),
        StorageDType::I16 => each(out, b, |c| i16::from_le_bytes(c) as f32),
        StorageDType::I8 => each(out, b, |[c]| c as i8 as f32),
        StorageDType::U8 | StorageDType::Bool => each(out, b, |[c]| c as f32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::pickle::StorageRef;
    use std::io::Write;

    /// Element `k` of every test storage (exact in every storage type used here).
    fn value(k: usize) -> f32 {
        k as f32 - 3.0
    }

    fn encoded(dtype: StorageDType, numel: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for k in 0..numel {
            let v = value(k);
            match dtype {
                StorageDType::F32 => out.extend(v.to_le_bytes()),
                StorageDType::F64 => out.extend((v as f64).to_le_bytes()),
                StorageDType::F16 => out.extend(half::f16::from_f32(v).to_le_bytes()),
                StorageDType::BF16 => out.extend(half::bf16::from_f32(v).to_le_bytes()),
                StorageDType::I64 => out.extend((v as i64).to_le_bytes()),
                StorageDType::I32 => out.extend((v as i32).to_le_bytes()),
                StorageDType::I16 => out.extend((v as i16).to_le_bytes()),
                StorageDType::I8 => out.push(v as i8 as u8),
                StorageDType::U8 | StorageDType::Bool => out.push(k as u8),
            }
        }
        out
    }

    /// Every storage type, read through contiguous, transposed and stepped views with an
    /// offset, equals the element-by-element definition of a strided view.
    #[test]
    fn strided_views_of_every_storage_type_read_element_by_element() {
        use StorageDType::*;
        let numel = 40;
        let types = [F32, F64, F16, BF16, I64, I32, I16, I8, U8];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("views.pt");
        let mut zw = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        zw.start_file("archive/data.pkl", opts).unwrap();
        zw.write_all(b"\x80\x02N.").unwrap();
        for (key, &dtype) in types.iter().enumerate() {
            zw.start_file(format!("archive/data/{key}"), opts).unwrap();
            zw.write_all(&encoded(dtype, numel)).unwrap();
        }
        zw.finish().unwrap();
        let mut file = TorchFile::open(&path, &mut |_, _| true).unwrap();
        // (shape, stride, offset): contiguous, transposed, stepped rows, a scalar.
        let views: [(&[usize], &[usize], usize); 4] = [
            (&[3, 4], &[4, 1], 2),
            (&[4, 3], &[1, 4], 5),
            (&[2, 3, 2], &[12, 2, 5], 1),
            (&[], &[], 7),
        ];
        for (key, &dtype) in types.iter().enumerate() {
            for (shape, stride, offset) in views {
                let t = TensorRef {
                    storage: StorageRef {
                        key: key.to_string(),
                        dtype,
                        numel,
                    },
                    offset,
                    shape: shape.to_vec(),
                    stride: stride.to_vec(),
                };
                let got = file.tensor("t", &t).unwrap();
                let mut want = Vec::new();
                let count: usize = shape.iter().product();
                for flat in 0..count {
                    let (mut rest, mut at) = (flat, offset);
                    for d in (0..shape.len()).rev() {
                        at += rest % shape[d] * stride[d];
                        rest /= shape[d];
                    }
                    want.push(if dtype == U8 { at as f32 } else { value(at) });
                }
                assert_eq!(got.shape, shape, "{dtype:?} {shape:?}");
                assert_eq!(got.data, want, "{dtype:?} {shape:?} {stride:?}");
            }
        }
    }
}
