//! Animated GIF frames, quantised per frame with NeuQuant.

use crate::error::{Error, Result};
use std::io::Write;

fn gif_err(e: gif::EncodingError) -> Error {
    match e {
        // The destination failed (full disk, …): the caller names the file.
        gif::EncodingError::Io(io) => Error::write(std::path::PathBuf::new(), io),
        e => Error::Input(format!("GIF encoder: {e}")),
    }
}

pub struct GifEncoder<W: Write> {
    encoder: gif::Encoder<W>,
    width: u16,
    height: u16,
    /// Frame delay in 1/100 s (GIF's unit).
    delay: u16,
}

impl<W: Write> GifEncoder<W> {
    /// `fps` is rounded to GIF's 1/100 s delays (60 fps → 50 fps; most viewers clamp below 2).
    pub fn new(out: W, width: usize, height: usize, fps: f32, looping: bool) -> Result<Self> {
        let too_big = || Error::Input("GIF frames are at most 65535 pixels wide and high".into());
        let (w, h) = (
            u16::try_from(width).map_err(|_| too_big())?,
            u16::try_from(height).map_err(|_| too_big())?,
        );
        let mut encoder = gif::Encoder::new(out, w, h, &[]).map_err(gif_err)?;
        if looping {
            encoder.set_repeat(gif::Repeat::Infinite).map_err(gif_err)?;
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

    pub fn push(&mut self, rgb: &[u8]) -> Result<()> {
        let mut frame = gif::Frame::from_rgb_speed(self.width, self.height, rgb, 10);
        frame.delay = self.delay;
        self.encoder.write_frame(&frame).map_err(gif_err)
    }

    /// Writes the trailer and hands back the sink.
    pub fn finish(self) -> Result<W> {
        self.encoder.into_inner().map_err(gif_err)
    }
}
