//! GANSpace-style directions: principal components of W (the mapping network's output) over
//! many random z. Component `k` with its σ lets an edit move a latent "two standard deviations
//! along the k-th direction" on a chosen range of W+ layers.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::latent::{SeedMode, parse_layer_list};
use crate::tensor::HostTensor;
use std::path::Path;

/// Seed of the z samples (fixed, so directions are reproducible and cacheable).
const SAMPLE_SEED: u64 = 0x005e_edd1;

#[derive(Debug, Clone, PartialEq)]
pub struct Directions {
    /// Mean W, `[w_dim]`.
    pub mean: Vec<f32>,
    /// Unit-norm, mutually orthogonal components, `[k][w_dim]`, by decreasing variance.
    pub components: Vec<Vec<f32>>,
    /// Standard deviation of W along each component.
    pub sigma: Vec<f32>,
    /// Fraction of W's total variance along each component.
    pub explained: Vec<f32>,
}

/// PCA of W over `samples` mapped latents; `progress(done, total)` after each batch.
pub fn pca(
    engine: &Engine,
    samples: usize,
    k: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<Directions> {
    let d = engine.config().style_dim;
    if samples < 2 || k == 0 || k > d {
        return Err(Error::Input(format!(
            "PCA needs ≥ 2 samples and 1 ≤ components ≤ {d}, got {samples} samples, {k} components"
        )));
    }
    let z = crate::latent::seeds::z_from_seed(SAMPLE_SEED, samples * d, SeedMode::Stylenat)?;
    let mut sum = vec![0f64; d];
    let mut outer = nalgebra::DMatrix::<f64>::zeros(d, d);
    let mut done = 0;
    for chunk in z.chunks(1024 * d) {
        let n = chunk.len() / d;
        let w = engine.map(&HostTensor::new(vec![n, d], chunk.to_vec()))?;
        let m = nalgebra::DMatrix::<f64>::from_iterator(d, n, w.data.iter().map(|&v| v as f64));
        outer += &m * m.transpose();
        for row in w.data.chunks(d) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += v as f64;
            }
        }
        done += n;
        progress(done, samples);
    }
    let n = samples as f64;
    let mean = nalgebra::DVector::from_iterator(d, sum.iter().map(|s| s / n));
    // Sample covariance: (Σ w wᵀ − n μ μᵀ) / (n − 1).
    let cov = (outer - &mean * mean.transpose() * n) / (n - 1.0);
    let total: f64 = cov.trace();
    let eig = nalgebra::SymmetricEigen::new(cov);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let top = &order[..k];
    Ok(Directions {
        mean: mean.iter().map(|&v| v as f32).collect(),
        components: top
            .iter()
            .map(|&i| {
                eig.eigenvectors
                    .column(i)
                    .iter()
                    .map(|&v| v as f32)
                    .collect()
            })
            .collect(),
        sigma: top
            .iter()
            .map(|&i| eig.eigenvalues[i].max(0.0).sqrt() as f32)
            .collect(),
        explained: top
            .iter()
            .map(|&i| (eig.eigenvalues[i].max(0.0) / total.max(1e-30)) as f32)
            .collect(),
    })
}

impl Directions {
    /// Writes `.npz` (keys `components` `[k, w_dim]`, `sigma`, `explained`, `mean`) or, for
    /// `.npy`, only the components (each row unit-norm, InterFaceGAN's convention).
    pub fn save(&self, path: &Path) -> Result<()> {
        let (k, d) = (self.components.len(), self.mean.len());
        let comps = HostTensor::new(vec![k, d], self.components.concat());
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
        {
            return crate::io::npy::write_array(path, "components", &comps);
        }
        crate::io::npy::write_npz(
            path,
            &[
                ("components", &comps),
                ("sigma", &HostTensor::new(vec![k], self.sigma.clone())),
                (
                    "explained",
                    &HostTensor::new(vec![k], self.explained.clone()),
                ),
                ("mean", &HostTensor::new(vec![d], self.mean.clone())),
            ],
        )
    }

    /// Reads what [`Directions::save`] writes, or a `.npy` of unit directions `[k, w_dim]`
    /// (σ = 1: edits are then in raw W units, as InterFaceGAN's boundaries are used).
    pub fn load(path: &Path) -> Result<Self> {
        let comps = crate::io::npy::read_array(path, Some("components"))?;
        let (k, d) = match comps.shape[..] {
            [k, d] if k > 0 && d > 0 => (k, d),
            [d] if d > 0 => (1, d),
            _ => {
                return Err(Error::Format {
                    path: path.into(),
                    reason: format!("directions must be [k, w_dim], got {:?}", comps.shape),
                });
            }
        };
        // A `.npy` holds only the components; the other arrays exist in `.npz` files.
        let is_npz = crate::io::npy::is_npz(path);
        let optional = |key: &str, len: usize, default: f32| -> Result<Vec<f32>> {
            if !is_npz {
                return Ok(vec![default; len]);
            }
            match crate::io::npy::read_array(path, Some(key)) {
                Ok(t) if t.data.len() == len => Ok(t.data),
                Ok(t) => Err(Error::Format {
                    path: path.into(),
                    reason: format!("`{key}` has {} values, expected {len}", t.data.len()),
                }),
                Err(_) => Ok(vec![default; len]),
            }
        };
        let components: Vec<Vec<f32>> = comps
            .data
            .chunks(d)
            .map(|c| {
                let norm = c.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                c.iter().map(|v| v / norm).collect()
            })
            .collect();
        Ok(Self {
            components,
            sigma: optional("sigma", k, 1.0)?,
            explained: optional("explained", k, f32::NAN)?,
            mean: optional("mean", d, 0.0)?,
        })
    }
}

/// `FILE:COMPONENT:AMOUNT:LAYERS`, e.g. `dirs.npz:3:+2.0:0-6` — move `AMOUNT` σ along component
/// `COMPONENT` on the listed W+ layers (all layers when `LAYERS` is omitted).
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    pub file: std::path::PathBuf,
    pub component: usize,
    pub amount: f32,
    pub layers: Option<String>,
}

impl std::str::FromStr for Edit {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let bad =
            || format!("`{text}` is not FILE:COMPONENT:AMOUNT[:LAYERS], e.g. dirs.npz:3:+2.0:0-6");
        // The file name may itself contain ':'; the numbers are the last fields.
        let parts: Vec<&str> = text.rsplitn(4, ':').collect();
        let (file, component, amount, layers) = match parts[..] {
            [l, a, c, f] if c.parse::<usize>().is_ok() => (f, c, a, Some(l)),
            [a, c, f, ..] => (f, c, a, None),
            _ => return Err(bad()),
        };
        let file = match (parts.len(), layers) {
            (4, None) => format!("{}:{file}", parts[3]),
            _ => file.to_string(),
        };
        Ok(Self {
            file: file.into(),
            component: component.parse().map_err(|_| bad())?,
            amount: amount.trim_start_matches('+').parse().map_err(|_| bad())?,
            layers: layers.map(str::to_string),
        })
    }
}

impl std::fmt::Display for Edit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self
            .file
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        write!(f, "{name}:{}:{:+}", self.component, self.amount)?;
        match &self.layers {
            Some(l) => write!(f, ":{l}"),
            None => Ok(()),
        }
    }
}

impl Edit {
    /// Applies the edit to every image of W+ `[N, num_ws, w_dim]`.
    pub fn apply(&self, dirs: &Directions, wplus: &mut HostTensor) -> Result<()> {
        let (num_ws, d) = (wplus.shape[1], wplus.shape[2]);
        let Some(dir) = dirs.components.get(self.component) else {
            return Err(Error::Input(format!(
                "{} has {} components; component {} does not exist",
                self.file.display(),
                dirs.components.len(),
                self.component
            )));
        };
        if dir.len() != d {
            return Err(Error::Input(format!(
                "{}: directions have {} values, the model's w has {d}",
                self.file.display(),
                dir.len()
            )));
        }
        let layers = match &self.layers {
            Some(l) => parse_layer_list(l, num_ws)?,
            None => (0..num_ws).collect(),
        };
        let step = self.amount * dirs.sigma[self.component];
        for img in wplus.data.chunks_mut(num_ws * d) {
            for &l in &layers {
                for (x, u) in img[l * d..(l + 1) * d].iter_mut().zip(dir) {
                    *x += step * u;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Edit;

    #[test]
    fn edit_specs_parse() {
        let e: Edit = "dirs.npz:3:+2.0:0-6".parse().unwrap();
        assert_eq!(
            (e.component, e.amount, e.layers.as_deref()),
            (3, 2.0, Some("0-6"))
        );
        let e: Edit = "a/b.npy:0:-1.5".parse().unwrap();
        assert_eq!(
            (e.file.to_str(), e.component, e.amount, e.layers),
            (Some("a/b.npy"), 0, -1.5, None)
        );
        assert!("dirs.npz".parse::<Edit>().is_err());
        assert!("dirs.npz:x:1".parse::<Edit>().is_err());
    }
}
