//! The layer inspector (like the NVlabs visualizer's layer widget): any intermediate of the
//! synthesis network — a block's output or attention output, a stage's upsample, the ToRGB
//! skip image — as a picture of one channel (or three as RGB), normalised per channel or over
//! the whole layer, with its statistics and 2-D spectrum.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{Observer, Site};
use crate::tensor::HostTensor;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

/// How channel values map to grey levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Normalise {
    /// Each shown channel's own min…max spans black…white.
    #[default]
    PerChannel,
    /// The min…max over every channel of the layer: channels compare by brightness.
    Global,
}

/// What the inspector shows of one layer for one image.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub site: Site,
    /// Channels of the layer; the map is `size × size`.
    pub layer_channels: usize,
    pub size: usize,
    /// The shown channels (one, or three as RGB).
    pub channels: Vec<usize>,
    /// `size × size` RGB pixels of the channel(s).
    pub picture: Vec<u8>,
    /// `size × size` grey pixels: log(1 + |FFT|) of the shown channels' mean, DC centred.
    pub spectrum: Vec<u8>,
    /// Per shown channel: (mean, std, max).
    pub stats: Vec<(f32, f32, f32)>,
}

/// Watches one site of a pass.
struct OneSite(Site, Option<HostTensor>);

impl Observer for OneSite {
    fn wants(&self, site: Site) -> bool {
        site == self.0
    }

    fn activation(&mut self, _site: Site, value: HostTensor) {
        self.1 = Some(value);
    }
}

/// The layer `site` of the image W+ `[1, num_ws, w_dim]` as channel planes `[C][H·W]`.
pub fn layer_planes(e: &Engine, wplus: &HostTensor, site: Site) -> Result<(usize, Vec<f32>)> {
    let stages = e.config().stages.len();
    let (stage, block) = match site {
        Site::AttnOut { stage, block } | Site::BlockOut { stage, block } => (stage, block),
        Site::UpsampleOut { stage } | Site::ToRgbSkip { stage } => (stage, 0),
    };
    let no_upsample = matches!(site, Site::UpsampleOut { .. }) && stage + 1 == stages;
    if stage >= stages || block > 1 || no_upsample {
        return Err(Error::Input(format!(
            "layer {} does not exist: the model has stages 0-{} (the last has no upsample)",
            site,
            stages - 1
        )));
    }
    let mut obs = OneSite(site, None);
    e.synthesize_traced(wplus, &mut obs)?;
    let t = obs
        .1
        .ok_or_else(|| Error::Input(format!("{} was not computed", site)))?;
    Ok(to_planes(site, &t))
}

/// `(size, [C][size²])` from the layer's own layout (tokens `[1, N, C]`, attention output
/// `[1, H, W, C]`, RGB `[1, 3, H, W]`); only the first image of a batch.
fn to_planes(site: Site, t: &HostTensor) -> (usize, Vec<f32>) {
    if let Site::ToRgbSkip { .. } = site {
        let s = t.shape[2];
        return (s, t.data[..3 * s * s].to_vec());
    }
    let c = *t.shape.last().unwrap_or(&1);
    let n: usize = t.shape[1..t.shape.len() - 1].iter().product();
    let s = (n as f64).sqrt().round() as usize;
    let mut planes = vec![0f32; c * n];
    for (p, px) in t.data[..n * c].chunks(c).enumerate() {
        for (ch, &v) in px.iter().enumerate() {
            planes[ch * n + p] = v;
        }
    }
    (s, planes)
}

/// The picture, spectrum and statistics of `channels` (1 or 3) of a layer's planes.
pub fn inspect_planes(
    site: Site,
    (size, planes): (usize, &[f32]),
    channels: &[usize],
    norm: Normalise,
) -> Result<Inspection> {
    let n = size * size;
    let layer_channels = planes.len() / n.max(1);
    if !matches!(channels.len(), 1 | 3) {
        return Err(Error::Input("show one channel, or three as RGB".into()));
    }
    if let Some(&c) = channels.iter().find(|&&c| c >= layer_channels) {
        return Err(Error::Input(format!(
            "channel {c} does not exist: {} has channels 0-{}",
            site,
            layer_channels - 1
        )));
    }
    let plane = |c: usize| &planes[c * n..(c + 1) * n];
    let range = |v: &[f32]| {
        v.iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            })
    };
    let global = range(planes);
    let grey: Vec<Vec<u8>> = channels
        .iter()
        .map(|&c| {
            let (lo, hi) = match norm {
                Normalise::PerChannel => range(plane(c)),
                Normalise::Global => global,
            };
            to_grey(plane(c), lo, hi)
        })
        .collect();
    let picture = (0..n)
        .flat_map(|p| (0..3).map(|k| grey[k % grey.len()][p]).collect::<Vec<_>>())
        .collect();
    let stats = channels
        .iter()
        .map(|&c| {
            let v = plane(c);
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
            let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
            (mean as f32, var.sqrt() as f32, range(v).1)
        })
        .collect();
    let mean_plane: Vec<f32> = (0..n)
        .map(|p| channels.iter().map(|&c| plane(c)[p]).sum::<f32>() / channels.len() as f32)
        .collect();
    let magnitude = spectrum(&mean_plane, size);
    let (lo, hi) = range(&magnitude);
    Ok(Inspection {
        site,
        layer_channels,
        size,
        channels: channels.to_vec(),
        picture,
        spectrum: to_grey(&magnitude, lo, hi),
        stats,
    })
}

fn to_grey(v: &[f32], lo: f32, hi: f32) -> Vec<u8> {
    let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
    v.iter()
        .map(|&x| ((x - lo) * scale).round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// log(1 + |F|) of the 2-D DFT of a `size × size` plane, shifted so the zero frequency is at
/// the centre (`(size/2, size/2)`).
pub fn spectrum(plane: &[f32], size: usize) -> Vec<f32> {
    let mut planner = FftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(size);
    let mut data: Vec<Complex<f32>> = plane.iter().map(|&x| Complex::new(x, 0.0)).collect();
    for row in data.chunks_mut(size) {
        fft.process(row);
    }
    let mut column = vec![Complex::new(0.0, 0.0); size];
    for x in 0..size {
        for y in 0..size {
            column[y] = data[y * size + x];
        }
        fft.process(&mut column);
        for y in 0..size {
            data[y * size + x] = column[y];
        }
    }
    let half = size / 2;
    let mut out = vec![0f32; size * size];
    for y in 0..size {
        for x in 0..size {
            let (sy, sx) = ((y + half) % size, (x + half) % size);
            out[sy * size + sx] = data[y * size + x].norm().ln_1p();
        }
    }
    out
}

/// One image's inspection: the layer `site` of W+ `[1, num_ws, w_dim]`.
pub fn inspect(
    e: &Engine,
    wplus: &HostTensor,
    site: Site,
    channels: &[usize],
    norm: Normalise,
) -> Result<Inspection> {
    let (size, planes) = layer_planes(e, wplus, site)?;
    inspect_planes(site, (size, &planes), channels, norm)
}
