//! File output and array interchange: atomic writes, `.npy`/`.npz` arrays, images, video.

pub mod grid;
pub mod image;
pub mod npy;
pub mod provenance;
pub mod video;

use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An output file being written: a temporary file beside the target that becomes the target
/// only on [`AtomicFile::commit`]. Dropping it (an error, a cancelled export, a panic) deletes
/// the temporary, so readers never see a half-written file and any previous file stays intact.
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<Self> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".stylenat-").suffix(".part");
        // Temporary files are private (0600) by default; outputs get ordinary permissions.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let tmp = builder
            .tempfile_in(dir)
            .map_err(|e| Error::write(path, e))?;
        Ok(Self {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Flushes to disk and renames over the target.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|e| Error::write(&path, e))?;
        self.tmp
            .persist(&path)
            .map_err(|e| Error::write(&path, e.error))?;
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically (see [`AtomicFile`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut out = AtomicFile::create(path)?;
    out.file()
        .write_all(bytes)
        .map_err(|e| Error::write(path, e))?;
    out.commit()
}
