//! GANSpace-style directions: principal components of W (the mapping network's output) over
//! many random z. Component `k` with its σ lets an edit move a latent "two standard deviations
//! along the k-th direction" on a chosen range of W+ layers.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::latent::SeedMode;
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
    let (components, eigenvalues, total) = strongest_eigenvectors(cov, k);
    Ok(Directions {
        mean: mean.iter().map(|&v| v as f32).collect(),
        components,
        sigma: eigenvalues.iter().map(|&l| l.sqrt() as f32).collect(),
        explained: eigenvalues
            .iter()
            .map(|&l| (l / total.max(1e-30)) as f32)
            .collect(),
    })
}

/// The `k` eigenvectors of a symmetric matrix with the largest eigenvalues (unit, as `f32`),
/// those eigenvalues (clamped at 0) by decreasing size, and the matrix's trace.
pub(crate) fn strongest_eigenvectors(
    m: nalgebra::DMatrix<f64>,
    k: usize,
) -> (Vec<Vec<f32>>, Vec<f64>, f64) {
    let total = m.trace();
    let eig = nalgebra::SymmetricEigen::new(m);
    let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let top = &order[..k.min(order.len())];
    let vectors = top
        .iter()
        .map(|&i| {
            eig.eigenvectors
                .column(i)
                .iter()
                .map(|&v| v as f32)
                .collect()
        })
        .collect();
    let values = top.iter().map(|&i| eig.eigenvalues[i].max(0.0)).collect();
    (vectors, values, total)
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
