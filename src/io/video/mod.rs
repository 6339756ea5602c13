//! Videos written in-process (no external ffmpeg): animated GIF and MP4 (H.264), streamed into
//! an [`AtomicFile`] so a failed or cancelled export leaves nothing behind.

mod gif;
mod mp4;

pub use mp4::MIN_QP;

use super::AtomicFile;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// Video container, chosen by the output's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoFormat {
    Gif,
    Mp4,
}

impl VideoFormat {
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("gif") => Ok(Self::Gif),
            Some("mp4") => Ok(Self::Mp4),
            _ => Err(Error::Input(format!(
                "{}: a video must end in .mp4 or .gif",
                path.display()
            ))),
        }
    }
}

/// Options beyond size and frame rate.
#[derive(Debug, Clone, Copy)]
pub struct VideoOptions {
    /// GIF: loop forever when played.
    pub looping: bool,
    /// MP4: H.264 constant quantiser, [`MIN_QP`] (best) … 51 (smallest).
    pub quality: u8,
}

impl Default for VideoOptions {
    fn default() -> Self {
        Self {
            looping: false,
            quality: DEFAULT_QP,
        }
    }
}

/// Visually lossless for GAN imagery at a fraction of the size of a GIF.
pub const DEFAULT_QP: u8 = 18;

enum Encoder {
    Gif(gif::GifEncoder<BufWriter<File>>),
    Mp4(Box<mp4::Mp4Encoder<BufWriter<File>>>),
}

/// A video being written frame by frame; becomes the file only on [`VideoWriter::finish`].
pub struct VideoWriter {
    out: AtomicFile,
    encoder: Encoder,
}

impl VideoWriter {
    pub fn create(
        path: &Path,
        width: usize,
        height: usize,
        fps: f32,
        options: VideoOptions,
    ) -> Result<Self> {
        let format = VideoFormat::from_path(path)?;
        let mut out = AtomicFile::create(path)?;
        // The encoder writes through its own handle on the temporary file.
        let sink = BufWriter::new(out.file().try_clone().map_err(|e| Error::write(path, e))?);
        let encoder = match format {
            VideoFormat::Gif => Encoder::Gif(gif::GifEncoder::new(
                sink,
                width,
                height,
                fps,
                options.looping,
            )?),
            VideoFormat::Mp4 => Encoder::Mp4(Box::new(mp4::Mp4Encoder::new(
                sink,
                width,
                height,
                fps,
                options.quality,
            )?)),
        };
        Ok(Self { out, encoder })
    }

    /// Frames per second as stored (GIF rounds to 1/100 s delays).
    pub fn effective_fps(&self) -> f32 {
        match &self.encoder {
            Encoder::Gif(g) => g.effective_fps(),
            Encoder::Mp4(m) => m.effective_fps(),
        }
    }

    /// Appends one RGB8 frame (`width × height × 3` bytes, row-major).
    pub fn push(&mut self, rgb: &[u8]) -> Result<()> {
        let r = match &mut self.encoder {
            Encoder::Gif(g) => g.push(rgb),
            Encoder::Mp4(m) => m.push(rgb),
        };
        r.map_err(|e| name_file(e, self.out.path()))
    }

    /// Finalises the container and moves the file into place.
    pub fn finish(self) -> Result<()> {
        let path = self.out.path().to_path_buf();
        let sink = match self.encoder {
            Encoder::Gif(g) => g.finish(),
            Encoder::Mp4(m) => m.finish(),
        }
        .map_err(|e| name_file(e, &path))?;
        sink.into_inner()
            .map_err(|e| Error::write(&path, e.into_error()))?;
        self.out.commit()
    }
}

/// Encoders report destination failures without a path; this names the file being written.
fn name_file(e: Error, file: &Path) -> Error {
    match e {
        Error::Write { path, source } if path.as_os_str().is_empty() => Error::write(file, source),
        e => e,
    }
}
