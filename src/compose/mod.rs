//! From [`Recipe`]s to W+: the one place where seeds become latents for every front end (CLI,
//! explorer, exports, sessions). Order: source A (seed-lattice blend or a loaded W+) and
//! source B (the mixing seed) → truncation of both → nudge and direction edits on A → B's
//! chosen layers into A.

pub mod provenance;

use crate::analysis::directions::{Directions, pca};
use crate::analysis::sefa::sefa;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::latent::recipe::{DirectionEdit, DirectionSource, LATTICE_ROW, Recipe};
use crate::latent::wspace::{mix_layers, truncate};
use crate::tensor::HostTensor;
use std::collections::{BTreeMap, HashMap};

/// Flat W+ vectors (`num_ws × w_dim`) of one recipe.
#[derive(Debug, Clone)]
pub struct Composed {
    /// Source A, truncated, nudged and edited, before mixing.
    pub a: Vec<f32>,
    /// Source B (the mixing seed), truncated.
    pub b: Vec<f32>,
    /// The image's W+: A with B's chosen layers.
    pub mix: Vec<f32>,
}

/// What composing needs beyond the engine, computed or read once per model: the nudge's unit
/// and the directions edits refer to.
#[derive(Debug, Clone, Default)]
pub struct Composer {
    spread: Option<f32>,
    directions: HashMap<DirectionSource, Directions>,
    /// The directions set last (what the explorer's Save writes).
    latest: Option<DirectionSource>,
}

impl Composer {
    /// Makes `dirs` the directions `source` names (the explorer after computing or loading).
    pub fn set_directions(&mut self, source: DirectionSource, dirs: Directions) {
        self.latest = Some(source.clone());
        self.directions.insert(source, dirs);
    }

    pub fn forget_directions(&mut self, source: &DirectionSource) {
        self.directions.remove(source);
        self.latest = self.latest.take().filter(|l| l != source);
    }

    /// The directions set last, if any.
    pub fn latest_directions(&self) -> Option<&Directions> {
        self.directions.get(self.latest.as_ref()?)
    }

    /// The directions `source` names, read or computed (PCA through the engine's cache) on
    /// first use; refused when their width is not the model's.
    pub fn directions(&mut self, e: &Engine, source: &DirectionSource) -> Result<&Directions> {
        if !self.directions.contains_key(source) {
            let dirs = match source {
                DirectionSource::File(path) => Directions::load(path)?,
                DirectionSource::Pca {
                    samples,
                    components,
                } => cached_pca(e, *samples, *components, |_, _| {})?,
                DirectionSource::Sefa { layers, components } => sefa(e, layers, *components)?,
            };
            self.directions.insert(source.clone(), dirs);
        }
        let dirs = &self.directions[source];
        let width = dirs.components.first().map_or(0, Vec::len);
        if width != e.config().style_dim {
            return Err(Error::Input(format!(
                "{source} has {width}-dimensional directions; this model's w has {}",
                e.config().style_dim
            )));
        }
        Ok(dirs)
    }

    /// The nudge unit, computed on first use.
    pub fn spread(&mut self, e: &Engine) -> Result<f32> {
        if let Some(s) = self.spread {
            return Ok(s);
        }
        let s = latent_spread(e)?;
        self.spread = Some(s);
        Ok(s)
    }

    /// Source A of each recipe as W+ (the seed-lattice blend or the loaded W+), before
    /// truncation, nudge, edits and mixing: what videos interpolate between.
    pub fn sources(&mut self, e: &Engine, recipes: &[Recipe]) -> Result<Vec<Vec<f32>>> {
        for r in recipes {
            validate(e, r)?;
        }
        let w = map_seeds(e, recipes)?;
        Ok(recipes.iter().map(|r| source_a(e, r, &w)).collect())
    }

    /// The W+ vectors of each recipe; every seed involved is mapped in one batched call. The
    /// engine renders with the recipes' head-group edits from then on (one batch, one set).
    pub fn compose(&mut self, e: &mut Engine, recipes: &[Recipe]) -> Result<Vec<Composed>> {
        for r in recipes {
            validate(e, r)?;
        }
        let edits = recipes.first().map_or(&[][..], |r| &r.group_edits[..]);
        if recipes.iter().any(|r| r.group_edits != edits) {
            return Err(Error::Input(
                "the images of one batch must share their head-group edits".into(),
            ));
        }
        e.set_head_edits(edits)?;
        let w = map_seeds(e, recipes)?;
        let (num_ws, d) = (e.config().num_ws(), e.config().style_dim);
        recipes
            .iter()
            .map(|r| {
                let mut a = source_a(e, r, &w);
                let mut b = w[&(r.mix_seed, r.seed_mode)].repeat(num_ws);
                if r.psi != 1.0 {
                    let mean = match &r.trunc_mean {
                        Some(m) => m.clone(),
                        None => e.mean_latent()?,
                    };
                    truncate(&mut a, &mean, r.psi, r.trunc_cutoff);
                    truncate(&mut b, &mean, r.psi, r.trunc_cutoff);
                }
                self.nudge(e, r, &mut a)?;
                for edit in &r.edits {
                    let dirs = self.directions(e, &edit.source)?;
                    apply_edit(edit, dirs, &mut a, num_ws)?;
                }
                let mut mix = a.clone();
                mix_layers(&mut mix, &b, d, &r.mix_layers);
                Ok(Composed { a, b, mix })
            })
            .collect()
    }

    /// The images' W+ `[N, num_ws, w_dim]` (the mixes, in recipe order).
    pub fn wplus(&mut self, e: &mut Engine, recipes: &[Recipe]) -> Result<HostTensor> {
        let (num_ws, d) = (e.config().num_ws(), e.config().style_dim);
        let rows: Vec<f32> = self
            .compose(e, recipes)?
            .into_iter()
            .flat_map(|c| c.mix)
            .collect();
        Ok(HostTensor::new(vec![recipes.len(), num_ws, d], rows))
    }

    fn nudge(&mut self, e: &Engine, r: &Recipe, a: &mut [f32]) -> Result<()> {
        if r.nudge.amount == 0.0 {
            return Ok(());
        }
        let (num_ws, d) = (e.config().num_ws(), e.config().style_dim);
        let spread = self.spread(e)?;
        let dir = e.z_for_seeds(&[r.nudge.direction_seed], Default::default())?;
        let norm = dir
            .data
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(1e-12);
        let step = r.nudge.amount * spread * (d as f32).sqrt() / norm;
        let last = r.nudge.last.min(num_ws - 1);
        for layer in r.nudge.first.min(last)..=last {
            for (x, u) in a[layer * d..(layer + 1) * d].iter_mut().zip(&dir.data) {
                *x += step * u;
            }
        }
        Ok(())
    }
}

/// Rejects what does not fit the model, with the same message in every front end.
fn validate(e: &Engine, r: &Recipe) -> Result<()> {
    let (num_ws, d) = (e.config().num_ws(), e.config().style_dim);
    if let Some(k) = r.trunc_cutoff.filter(|&k| k > num_ws) {
        return Err(Error::Input(format!(
            "truncation cutoff {k} is larger than the model's {num_ws} W+ layers"
        )));
    }
    let layers = r
        .mix_layers
        .iter()
        .chain(r.edits.iter().flat_map(|e| e.layers.iter().flatten()));
    if let Some(l) = layers.copied().find(|&l| l >= num_ws) {
        return Err(Error::Input(format!(
            "W+ layer {l} does not exist: the model has layers 0-{}",
            num_ws - 1
        )));
    }
    if let Some(m) = r.trunc_mean.as_ref().filter(|m| m.len() != d) {
        return Err(Error::Input(format!(
            "the truncation mean has {} values, the model's w has {d}",
            m.len()
        )));
    }
    if let Some(c) = r.custom.as_ref().filter(|c| c.wplus.len() != num_ws * d) {
        return Err(Error::Input(format!(
            "the loaded latent `{}` has {} layers of {}; this model needs {num_ws} of {d}",
            c.name,
            c.num_ws,
            c.wplus.len() / c.num_ws.max(1)
        )));
    }
    Ok(())
}

type SeedKey = (u64, crate::latent::SeedMode);

/// The lattice corners around `seed + drift` with their bilinear weights.
fn corners(r: &Recipe) -> [(u64, f32); 4] {
    let [fx, fy] = r.drift.map(|f| f.clamp(0.0, 1.0));
    [
        (r.seed, (1.0 - fx) * (1.0 - fy)),
        (r.seed + 1, fx * (1.0 - fy)),
        (r.seed + LATTICE_ROW, (1.0 - fx) * fy),
        (r.seed + LATTICE_ROW + 1, fx * fy),
    ]
}

/// W of every seed the recipes use, from one call of the mapping network.
fn map_seeds(e: &Engine, recipes: &[Recipe]) -> Result<BTreeMap<SeedKey, Vec<f32>>> {
    let mut keys: Vec<SeedKey> = Vec::new();
    for r in recipes {
        keys.push((r.mix_seed, r.seed_mode));
        if r.custom.is_none() {
            let used = corners(r).into_iter().filter(|(_, wt)| *wt > 0.0);
            keys.extend(used.map(|(s, _)| (s, r.seed_mode)));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    let d = e.config().style_dim;
    let mut z = Vec::with_capacity(keys.len() * d);
    for &(seed, mode) in &keys {
        z.extend(crate::latent::z_from_seed(seed, d, mode)?);
    }
    let w = e.map(&HostTensor::new(vec![keys.len(), d], z))?;
    Ok(keys
        .into_iter()
        .zip(w.data.chunks(d).map(<[f32]>::to_vec))
        .collect())
}

/// Source A as W+: the loaded latent, or the lattice blend on every layer.
fn source_a(e: &Engine, r: &Recipe, w: &BTreeMap<SeedKey, Vec<f32>>) -> Vec<f32> {
    match &r.custom {
        Some(c) => c.wplus.clone(),
        None => lattice_w(r, w, e.config().style_dim).repeat(e.config().num_ws()),
    }
}

/// Source A's W: the bilinear blend of the lattice corners around `seed + drift`.
fn lattice_w(r: &Recipe, w: &BTreeMap<SeedKey, Vec<f32>>, d: usize) -> Vec<f32> {
    let mut out = vec![0f32; d];
    for (seed, weight) in corners(r).into_iter().filter(|(_, wt)| *wt > 0.0) {
        for (acc, x) in out.iter_mut().zip(&w[&(seed, r.seed_mode)]) {
            *acc += weight * x;
        }
    }
    out
}

/// Adds `edit.amount` σ along its component to one image's W+ on the edit's layers.
pub fn apply_edit(
    edit: &DirectionEdit,
    dirs: &Directions,
    wplus: &mut [f32],
    num_ws: usize,
) -> Result<()> {
    let d = wplus.len() / num_ws;
    let (Some(dir), Some(sigma)) = (
        dirs.components.get(edit.component),
        dirs.sigma.get(edit.component),
    ) else {
        return Err(Error::Input(format!(
            "{} has {} components; component {} does not exist",
            edit.source,
            dirs.components.len(),
            edit.component
        )));
    };
    if dir.len() != d {
        return Err(Error::Input(format!(
            "{} has {} values per component; this model's w has {d}",
            edit.source,
            dir.len()
        )));
    }
    let all: Vec<usize> = (0..num_ws).collect();
    for &layer in edit.layers.as_deref().unwrap_or(&all) {
        for (x, u) in wplus[layer * d..(layer + 1) * d].iter_mut().zip(dir) {
            *x += edit.amount * sigma * u;
        }
    }
    Ok(())
}

/// PCA directions of the model, read from the engine's cache when an earlier run wrote them.
pub fn cached_pca(
    e: &Engine,
    samples: usize,
    components: usize,
    progress: impl FnMut(usize, usize),
) -> Result<Directions> {
    let cache = e.cache_file(&format!("pca_{samples}x{components}"), "npz");
    if let Some(path) = &cache
        && let Ok(d) = Directions::load(path)
        && d.components.len() == components
    {
        return Ok(d);
    }
    let d = pca(e, samples, components, progress)?;
    if let Some(path) = &cache {
        let _ = std::fs::create_dir_all(path.parent().unwrap_or(path));
        let _ = d.save(path); // a cache: failing to write it is not an error
    }
    Ok(d)
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
