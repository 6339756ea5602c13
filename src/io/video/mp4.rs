//! MP4 (H.264) frames: OpenH264 encodes, mp4-rust muxes. No ffmpeg involved.
//!
//! OpenH264 emits Annex B NAL units (start-code prefixed); MP4 wants the SPS/PPS in the track
//! header and every frame's remaining NAL units length-prefixed, so the first frame's parameter
//! sets open the track and each frame becomes one sample.

use crate::error::{Error, Result};
use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, QpRange,
    RateControlMode, VuiConfig,
};
use openh264::formats::{RgbSliceU8, YUVBuffer};
use std::io::{Seek, Write};

fn h264_err(e: impl std::fmt::Display) -> Error {
    Error::Input(format!("H.264 encoder: {e}"))
}

fn mp4_err(e: mp4::Error) -> Error {
    match e {
        // The destination failed (full disk, …): the caller names the file.
        mp4::Error::IoError(io) => Error::write(std::path::PathBuf::new(), io),
        e => Error::Input(format!("MP4 writer: {e}")),
    }
}

/// Track time units per frame: the track's timescale is `fps × FRAME_TICKS`, so any frame rate
/// is exact to 1/1000 fps.
const FRAME_TICKS: u32 = 1000;

/// OpenH264's quality mode never goes below this quantiser.
pub const MIN_QP: u8 = 12;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;

pub struct Mp4Encoder<W: Write + Seek> {
    encoder: Encoder,
    yuv: YUVBuffer,
    width: usize,
    height: usize,
    /// Track time units per second.
    timescale: u32,
    /// The sink until the first frame's SPS/PPS let the track be created.
    pending: Option<W>,
    muxer: Option<mp4::Mp4Writer<W>>,
    frames: u64,
}

impl<W: Write + Seek> Mp4Encoder<W> {
    /// H.264 needs even frame sizes (4:2:0 chroma). `qp` is the constant quantiser
    /// ([`MIN_QP`] best … 51 smallest).
    pub fn new(out: W, width: usize, height: usize, fps: f32, qp: u8) -> Result<Self> {
        if !width.is_multiple_of(2) || !height.is_multiple_of(2) || width < 16 || height < 16 {
            return Err(Error::Input(format!(
                "MP4 (H.264) frames must have even sides of at least 16 pixels, got {width}×{height}"
            )));
        }
        // OpenH264 supports up to level 5.2.
        if width.max(height) > 3840 || width.min(height) > 2160 {
            return Err(Error::Input(format!(
                "MP4 (H.264) frames are at most 3840×2160 (OpenH264's limit), got {width}×{height}; \
                 write a GIF or use a smaller grid"
            )));
        }
        if !(fps.is_finite() && (0.1..=240.0).contains(&fps)) {
            return Err(Error::Input(format!("fps must be in 0.1..=240, got {fps}")));
        }
        if qp > 51 {
            return Err(Error::Input(format!(
                "H.264 quantiser must be 0..=51, got {qp}"
            )));
        }
        let config = EncoderConfig::new()
            .max_frame_rate(FrameRate::from_hz(fps))
            // Quality mode with the quantiser pinned: every frame at `qp`. The bit-rate target is
            // far above anything these frames need, so rate control never skips a frame (a skip
            // is still detected below); skipping stays "enabled" only because OpenH264 warns on
            // stderr otherwise.
            .rate_control_mode(RateControlMode::Quality)
            .bitrate(BitRate::from_bps(240_000_000))
            .qp(QpRange::new(qp, qp))
            .skip_frames(true)
            // A key frame every ~2 s so players can seek.
            .intra_frame_period(IntraFramePeriod::from_num_frames((fps * 2.0).ceil() as u32))
            // openh264's RGB→YUV conversion is BT.601 limited range; say so in the stream.
            .vui(VuiConfig::bt601());
        let encoder =
            Encoder::with_api_config(OpenH264API::from_source(), config).map_err(h264_err)?;
        let timescale = (fps * FRAME_TICKS as f32).round() as u32;
        Ok(Self {
            encoder,
            yuv: YUVBuffer::new(width, height),
            width,
            height,
            timescale,
            pending: Some(out),
            muxer: None,
            frames: 0,
        })
    }

    pub fn effective_fps(&self) -> f32 {
        self.timescale as f32 / FRAME_TICKS as f32
    }

    pub fn push(&mut self, rgb: &[u8]) -> Result<()> {
        if rgb.len() != self.width * self.height * 3 {
            return Err(Error::Input(format!(
                "frame has {} bytes, expected {}×{}×3",
                rgb.len(),
                self.width,
                self.height
            )));
        }
        self.yuv
            .read_rgb8(RgbSliceU8::new(rgb, (self.width, self.height)));
        let stream = self.encoder.encode(&self.yuv).map_err(h264_err)?;
        if matches!(stream.frame_type(), FrameType::Skip | FrameType::Invalid) {
            return Err(h264_err(format!(
                "the encoder dropped frame {} (lower the quality setting)",
                self.frames
            )));
        }
        let is_sync = matches!(stream.frame_type(), FrameType::IDR | FrameType::I);
        let (mut sps, mut pps, mut sample) = (None, None, Vec::new());
        for l in 0..stream.num_layers() {
            let layer = stream.layer(l).expect("layer index below num_layers");
            for n in 0..layer.nal_count() {
                let nal = strip_start_code(layer.nal_unit(n).expect("NAL index below count"));
                match nal.first().map(|b| b & 0x1f) {
                    None => {}
                    Some(NAL_SPS) => sps = Some(nal.to_vec()),
                    Some(NAL_PPS) => pps = Some(nal.to_vec()),
                    Some(_) => {
                        sample.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                        sample.extend_from_slice(nal);
                    }
                }
            }
        }
        if self.muxer.is_none() {
            let (Some(sps), Some(pps)) = (sps, pps) else {
                return Err(h264_err("the first frame carries no SPS/PPS"));
            };
            self.open_track(sps, pps)?;
        }
        let muxer = self.muxer.as_mut().expect("track opened above");
        muxer
            .write_sample(
                1,
                &mp4::Mp4Sample {
                    start_time: self.frames * FRAME_TICKS as u64,
                    duration: FRAME_TICKS,
                    rendering_offset: 0,
                    is_sync,
                    bytes: bytes::Bytes::from(sample),
                },
            )
            .map_err(mp4_err)?;
        self.frames += 1;
        Ok(())
    }

    fn open_track(&mut self, sps: Vec<u8>, pps: Vec<u8>) -> Result<()> {
        let out = self
            .pending
            .take()
            .expect("sink present until the track opens");
        let config = mp4::Mp4Config {
            major_brand: (*b"isom").into(),
            minor_version: 512,
            compatible_brands: vec![
                (*b"isom").into(),
                (*b"iso2").into(),
                (*b"avc1").into(),
                (*b"mp41").into(),
            ],
            timescale: self.timescale,
        };
        let mut muxer = mp4::Mp4Writer::write_start(out, &config).map_err(mp4_err)?;
        muxer
            .add_track(&mp4::TrackConfig {
                track_type: mp4::TrackType::Video,
                timescale: self.timescale,
                language: "und".into(),
                media_conf: mp4::MediaConfig::AvcConfig(mp4::AvcConfig {
                    width: self.width as u16,
                    height: self.height as u16,
                    seq_param_set: sps,
                    pic_param_set: pps,
                }),
            })
            .map_err(mp4_err)?;
        self.muxer = Some(muxer);
        Ok(())
    }

    /// Writes the index (moov) and hands back the sink.
    pub fn finish(self) -> Result<W> {
        let Some(mut muxer) = self.muxer else {
            return Err(Error::Input("a video needs at least one frame".into()));
        };
        muxer.write_end().map_err(mp4_err)?;
        Ok(muxer.into_writer())
    }
}

fn strip_start_code(nal: &[u8]) -> &[u8] {
    nal.strip_prefix(&[0, 0, 0, 1])
        .or_else(|| nal.strip_prefix(&[0, 0, 1]))
        .unwrap_or(nal)
}
