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
        remove_stale_temporaries(dir);
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

/// Temporaries of ours older than this were left by a killed process, never by a live export.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Deletes `.stylenat-*.part` files a killed process left in `dir` (best effort), once per
/// folder and process: writing many files into one folder must not list it each time.
fn remove_stale_temporaries(dir: &Path) {
    static CLEANED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    if let Ok(mut done) = CLEANED.lock() {
        if done.iter().any(|d| d == dir) {
            return;
        }
        done.push(dir.to_path_buf());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if name.starts_with(".stylenat-") && name.ends_with(".part") && stale {
            let _ = std::fs::remove_file(e.path());
        }
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

#[cfg(test)]
mod tests {
    #[test]
    fn stale_temporaries_of_killed_exports_are_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join(".stylenat-abc.part");
        let fresh = dir.path().join(".stylenat-def.part");
        let other = dir.path().join("keep.part");
        for p in [&old, &fresh, &other] {
            std::fs::write(p, b"x").unwrap();
        }
        let two_days = std::time::SystemTime::now() - std::time::Duration::from_secs(48 * 3600);
        for p in [&old, &other] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(two_days)
                .unwrap();
        }
        super::write_atomic(&dir.path().join("out.bin"), b"data").unwrap();
        assert!(!old.exists(), "a day-old temporary of ours is removed");
        assert!(fresh.exists(), "a live export's temporary is kept");
        assert!(other.exists(), "other files are never touched");
    }
}
