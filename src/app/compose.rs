//! From [`RenderArgs`] to W+ vectors: source A (seed-lattice blend or a loaded W+), source B
//! (the mixing seed), truncation, mixing and the nudge — the explorer's whole latent recipe.

use super::state::{LATTICE_ROW, RenderArgs};
use crate::analysis::directions::Directions;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::latent::wspace::{mix_layers, truncate};
use crate::tensor::HostTensor;

/// Flat W+ vectors (`num_ws × w_dim`) of one render.
#[derive(Debug, Clone)]
pub struct Composed {
    /// Source A, truncated, nudged and PCA-edited, before mixing.
    pub a: Vec<f32>,
    /// Source B (the mixing seed), truncated.
    pub b: Vec<f32>,
    /// What is shown: A (nudged, PCA-edited) with B's chosen layers.
    pub mix: Vec<f32>,
}

/// Typical distance of a mapped latent from the mean, per coordinate; the unit of the nudge.
pub fn latent_spread(e: &Engine) -> Result<f32> {
    let d = e.config().style_dim;
    let seeds: Vec<u64> = (0..256).collect();
    let w = e.map(&e.z_for_seeds(&seeds, Default::default())?)?;
    let n = seeds.len();
    let mut mean = vec![0f64; d];
    for row in w.data.chunks(d) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x as f64 / n as f64;
        }
    }
    let var: f64 = w
        .data
        .chunks(d)
        .map(|row| {
            row.iter()
                .zip(&mean)
                .map(|(&x, m)| (x as f64 - m).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / (n * d) as f64;
    Ok(var.sqrt() as f32)
}

/// W of one seed.
fn w_of(e: &Engine, seed: u64, a: &RenderArgs) -> Result<Vec<f32>> {
    Ok(e.map(&e.z_for_seeds(&[seed], a.seed_mode)?)?.data)
}

/// Source A's W: the bilinear blend of the lattice corners around `seed + drift`.
fn lattice_w(e: &Engine, a: &RenderArgs) -> Result<Vec<f32>> {
    let [fx, fy] = a.drift.map(|f| f.clamp(0.0, 1.0));
    let corners = [
        (a.seed, (1.0 - fx) * (1.0 - fy)),
        (a.seed + 1, fx * (1.0 - fy)),
        (a.seed + LATTICE_ROW, (1.0 - fx) * fy),
        (a.seed + LATTICE_ROW + 1, fx * fy),
    ];
    let mut w = vec![0f32; e.config().style_dim];
    for (seed, weight) in corners.into_iter().filter(|(_, wt)| *wt > 0.0) {
        for (acc, x) in w.iter_mut().zip(w_of(e, seed, a)?) {
            *acc += weight * x;
        }
    }
    Ok(w)
}

fn broadcast(e: &Engine, w: Vec<f32>) -> Vec<f32> {
    let d = w.len();
    e.broadcast(&HostTensor::new(vec![1, d], w)).data
}

/// What the recipe needs about a model beyond its engine.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// [`latent_spread`] (the nudge's unit), once computed.
    pub spread: Option<f32>,
    /// PCA directions, once computed or loaded (the PCA sliders need them).
    pub dirs: Option<Directions>,
}

impl Extras {
    /// The nudge unit, computed on first use.
    pub fn spread(&mut self, e: &Engine) -> Result<f32> {
        if let Some(s) = self.spread {
            return Ok(s);
        }
        let s = latent_spread(e)?;
        self.spread = Some(s);
        Ok(s)
    }
}

/// Builds the W+ vectors for `a`.
pub fn compose(e: &mut Engine, a: &RenderArgs, extras: &mut Extras) -> Result<Composed> {
    let (num_ws, d) = (e.config().num_ws(), e.config().style_dim);
    let mut src_a = match &a.custom {
        Some(c) if c.wplus.len() == num_ws * d => c.wplus.clone(),
        Some(c) => {
            return Err(Error::Input(format!(
                "the loaded latent `{}` has {} layers of {}; this model needs {num_ws} of {d}",
                c.name,
                c.num_ws,
                c.wplus.len() / c.num_ws.max(1)
            )));
        }
        None => broadcast(e, lattice_w(e, a)?),
    };
    let mut src_b = broadcast(e, w_of(e, a.mix_seed, a)?);
    if a.psi != 1.0 {
        let mean = e.mean_latent()?;
        let cutoff = a.trunc_cutoff.filter(|&c| c < num_ws);
        truncate(&mut src_a, &mean, a.psi, cutoff);
        truncate(&mut src_b, &mean, a.psi, cutoff);
    }
    if a.nudge.amount != 0.0 {
        let spread = extras.spread(e)?;
        let dir = e.z_for_seeds(&[a.nudge.direction_seed], Default::default())?;
        let norm = dir
            .data
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(1e-12);
        let step = a.nudge.amount * spread * (d as f32).sqrt() / norm;
        let last = a.nudge.last.min(num_ws - 1);
        for layer in a.nudge.first.min(last)..=last {
            for (x, u) in src_a[layer * d..(layer + 1) * d].iter_mut().zip(&dir.data) {
                *x += step * u;
            }
        }
    }
    if let Some(dirs) = &extras.dirs {
        apply_pca(&mut src_a, a, dirs, num_ws, d)?;
    }
    let layers: Vec<usize> = a
        .mix_layers
        .iter()
        .copied()
        .filter(|&l| l < num_ws)
        .collect();
    let mut mix = src_a.clone();
    mix_layers(&mut mix, &src_b, d, &layers);
    Ok(Composed {
        a: src_a,
        b: src_b,
        mix,
    })
}

/// Adds `a.pca[k]` σ along each component `k` on the chosen layers.
fn apply_pca(
    wplus: &mut [f32],
    a: &RenderArgs,
    dirs: &Directions,
    num_ws: usize,
    d: usize,
) -> Result<()> {
    let last = a.pca_layers[1].min(num_ws - 1);
    let first = a.pca_layers[0].min(last);
    for (k, &amount) in a.pca.iter().enumerate().filter(|(_, v)| **v != 0.0) {
        let (Some(dir), Some(sigma)) = (dirs.components.get(k), dirs.sigma.get(k)) else {
            continue;
        };
        if dir.len() != d {
            return Err(Error::Input(format!(
                "the directions have {} values per component; this model's w has {d}",
                dir.len()
            )));
        }
        for layer in first..=last {
            for (x, u) in wplus[layer * d..(layer + 1) * d].iter_mut().zip(dir) {
                *x += amount * sigma * u;
            }
        }
    }
    Ok(())
}
