//! Animated output written in-process (no external ffmpeg): GIF now.

use crate::error::{Error, Result};

/// Streams RGB8 frames into an animated GIF held in memory (written atomically at the end).
pub struct GifWriter {
    encoder: gif::Encoder<Vec<u8>>,
    width: u16,
    height: u16,
    /// Frame delay in 1/100 s (GIF's unit).
    delay: u16,
}

impl GifWriter {
    /// `fps` is rounded to GIF's 1/100 s delays (60 fps → 50 fps; most viewers clamp below 2).
    pub fn new(width: usize, height: usize, fps: f32, looping: bool) -> Result<Self> {
        let (w, h) = (
            u16::try_from(width)
                .map_err(|_| Error::Input("GIF frames are at most 65535 wide".into()))?,
            u16::try_from(height)
                .map_err(|_| Error::Input("GIF frames are at most 65535 high".into()))?,
        );
        let mut encoder = gif::Encoder::new(Vec::new(), w, h, &[])
            .map_err(|e| Error::Input(format!("GIF encoder: {e}")))?;
        if looping {
            encoder
                .set_repeat(gif::Repeat::Infinite)
                .map_err(|e| Error::Input(format!("GIF encoder: {e}")))?;
        }
        let delay = (100.0 / fps.max(0.01)).round().clamp(2.0, 65535.0) as u16;
        Ok(Self {
            encoder,
            width: w,
            height: h,
            delay,
        })
    }

    /// Frames per second the file will actually play at.
    pub fn effective_fps(&self) -> f32 {
        100.0 / self.delay as f32
    }

    /// Adds one frame (palette quantised per frame with NeuQuant).
    pub fn push(&mut self, rgb: &[u8]) -> Result<()> {
        let mut frame = gif::Frame::from_rgb_speed(self.width, self.height, rgb, 10);
        frame.delay = self.delay;
        self.encoder
            .write_frame(&frame)
            .map_err(|e| Error::Input(format!("GIF encoder: {e}")))
    }

    /// The finished file.
    pub fn finish(self) -> Result<Vec<u8>> {
        self.encoder
            .into_inner()
            .map_err(|e| Error::Input(format!("GIF encoder: {e}")))
    }
}
