//! SeFa directions (Shen & Zhou, "Closed-Form Factorization of Latent Semantics in GANs";
//! genforce/sefa `factorize_weight`): no sampling, only the weights that read W. For each
//! chosen W+ layer, the AdaIN style projections of the block it feeds (`norm1.style` and
//! `norm2.style`, `[2C, style_dim]` each) have each output row scaled to unit length and are
//! stacked into `A`; the directions are the eigenvectors of `AᵀA`, by decreasing eigenvalue —
//! the unit moves in W that change the styles most.

use super::directions::{Directions, strongest_eigenvectors};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::kernels::to_host;
use nalgebra::DMatrix;

/// The `k` strongest SeFa directions of W+ `layers`. Edits along them move raw W units
/// (`sigma` is 1, as genforce's distances); `explained` is each eigenvalue's share of the
/// trace; `mean` is zero (SeFa has none).
pub fn sefa(engine: &Engine, layers: &[usize], k: usize) -> Result<Directions> {
    let (num_ws, d) = (engine.config().num_ws(), engine.config().style_dim);
    if layers.is_empty() || k == 0 || k > d {
        return Err(Error::Input(format!(
            "SeFa needs at least one W+ layer and 1 ≤ components ≤ {d}, got {} layers, {k} \
             components",
            layers.len()
        )));
    }
    if let Some(&l) = layers.iter().find(|&&l| l >= num_ws) {
        return Err(Error::Input(format!(
            "W+ layer {l} does not exist: the model has layers 0-{}",
            num_ws - 1
        )));
    }
    let mut gram = DMatrix::<f64>::zeros(d, d);
    for &l in layers {
        let block = &engine.generator.layers[l / 2].blocks[l % 2];
        for style in [&block.norm1.style, &block.norm2.style] {
            // Stored `[style_dim, 2C]` (in, out): output row `o` is column `o`.
            let w = to_host(style.weight.val())?;
            let out = w.len() / d;
            let w: Vec<f64> = w.iter().map(|&v| v as f64).collect();
            let mut m = DMatrix::<f64>::from_row_slice(d, out, &w);
            for mut col in m.column_iter_mut() {
                let norm = col.norm();
                if norm > 0.0 {
                    col /= norm;
                }
            }
            gram += &m * m.transpose();
        }
    }
    let (components, eigenvalues, total) = strongest_eigenvectors(gram, k);
    Ok(Directions {
        mean: vec![0.0; d],
        components,
        sigma: vec![1.0; k],
        explained: eigenvalues
            .iter()
            .map(|&l| (l / total.max(1e-30)) as f32)
            .collect(),
    })
}
