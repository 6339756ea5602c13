//! Fréchet distance between two sets of feature vectors (the FID formula, here in a feature
//! space of our own classifier): `‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½)`.

use nalgebra::{DMatrix, DVector};

/// Mean and covariance (unbiased) of `n` rows of width `dim`.
fn moments(rows: &[f32], dim: usize) -> (DVector<f64>, DMatrix<f64>) {
    let n = rows.len() / dim;
    let x = DMatrix::from_row_slice(n, dim, &rows.iter().map(|&v| v as f64).collect::<Vec<_>>());
    let mean = x.row_mean().transpose();
    let centred = DMatrix::from_fn(n, dim, |i, j| x[(i, j)] - mean[j]);
    let cov = centred.transpose() * &centred / (n.max(2) - 1) as f64;
    (mean, cov)
}

/// Symmetric PSD square root via eigen-decomposition (negative round-off clamped to 0).
fn sqrt_psd(m: &DMatrix<f64>) -> DMatrix<f64> {
    let e = m.clone().symmetric_eigen();
    let d = DMatrix::from_diagonal(&e.eigenvalues.map(|v| v.max(0.0).sqrt()));
    &e.eigenvectors * d * e.eigenvectors.transpose()
}

/// Fréchet distance between feature sets `a` and `b` (row-major, `dim` wide).
pub fn frechet_distance(a: &[f32], b: &[f32], dim: usize) -> f64 {
    let (m1, s1) = moments(a, dim);
    let (m2, s2) = moments(b, dim);
    // Tr((Σ₁Σ₂)^½) = Tr((√Σ₁ Σ₂ √Σ₁)^½), and the latter is symmetric PSD.
    let r = sqrt_psd(&s1);
    let inner = &r * &s2 * &r;
    let inner = (&inner + inner.transpose()) * 0.5;
    let tr_sqrt: f64 = inner
        .symmetric_eigen()
        .eigenvalues
        .iter()
        .map(|v| v.max(0.0).sqrt())
        .sum();
    (&m1 - &m2).norm_squared() + s1.trace() + s2.trace() - 2.0 * tr_sqrt
}

#[cfg(test)]
mod tests {
    use super::frechet_distance;
    use crate::rng::Rng;

    #[test]
    fn zero_for_identical_sets_and_mean_shift_for_shifted_ones() {
        let mut rng = Rng::new(3);
        let a: Vec<f32> = rng.normals(4000 * 3);
        assert!(frechet_distance(&a, &a, 3).abs() < 1e-9);
        let shifted: Vec<f32> = a.iter().map(|v| v + 2.0).collect();
        // Same covariance, means 2 apart on each of 3 axes: ‖Δμ‖² = 12.
        assert!((frechet_distance(&a, &shifted, 3) - 12.0).abs() < 1e-6);
        let scaled: Vec<f32> = a.iter().map(|v| v * 3.0).collect();
        // Σ = I vs 9I: Tr(I + 9I − 2·3I) = 3·4 = 12 (up to sampling noise).
        assert!((frechet_distance(&a, &scaled, 3) - 12.0).abs() < 0.8);
    }
}
