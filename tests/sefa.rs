//! SeFa directions against an independent computation from the checkpoint's tensors: the
//! components are orthonormal eigenvectors of Σ rowᵀ·row over the unit-normalised style rows
//! of the chosen layers, by decreasing eigenvalue; no sampling, so two runs are identical.

mod common;
use common::*;
use stylenat::analysis::sefa::sefa;
use stylenat::checkpoint::{ConfigSource, load};

/// `Σ rowᵀ·row` (f64) over the unit rows of `norm1.style` and `norm2.style` of the blocks the
/// W+ `layers` feed, read from the official tensors (`[2C, style_dim]`).
fn gram(layers: &[usize]) -> (Vec<f64>, usize) {
    let l = load(&small("checkpoint.pt"), &ConfigSource::Checkpoint).unwrap();
    let d = l.config.style_dim;
    let mut g = vec![0f64; d * d];
    for &k in layers {
        for norm in ["norm1", "norm2"] {
            let name = format!("layers.{}.blocks.{}.{norm}.style.weight", k / 2, k % 2);
            let w = &l.weights[&name];
            assert_eq!(w.shape[1], d);
            for row in w.data.chunks(d) {
                let n = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
                for i in 0..d {
                    for j in 0..d {
                        g[i * d + j] += row[i] as f64 * row[j] as f64 / (n * n);
                    }
                }
            }
        }
    }
    (g, d)
}

#[test]
fn sefa_directions_are_the_eigenvectors_of_the_style_weights() {
    let e = fixture_engine();
    for layers in [
        vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        vec![2, 3],
        vec![10],
    ] {
        let k = 10;
        let dirs = sefa(&e, &layers, k).unwrap();
        let (g, d) = gram(&layers);
        let trace: f64 = (0..d).map(|i| g[i * d + i]).sum();
        let mut last = f64::INFINITY;
        for (a, v) in dirs.components.iter().enumerate() {
            for (b, u) in dirs.components.iter().enumerate() {
                let dot: f32 = v.iter().zip(u).map(|(x, y)| x * y).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-4, "{layers:?}: v{a}·v{b} = {dot}");
            }
            let gv: Vec<f64> = (0..d)
                .map(|i| (0..d).map(|j| g[i * d + j] * v[j] as f64).sum())
                .collect();
            let lambda: f64 = gv.iter().zip(v).map(|(x, &y)| x * y as f64).sum();
            let residual = gv
                .iter()
                .zip(v)
                .map(|(x, &y)| (x - lambda * y as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                residual <= 1e-4 * lambda.max(1.0),
                "{layers:?} component {a}: ‖Gv − λv‖ = {residual} (λ = {lambda})"
            );
            assert!(lambda <= last * (1.0 + 1e-6), "eigenvalues decrease");
            last = lambda;
            assert!((dirs.explained[a] as f64 - lambda / trace).abs() < 1e-5);
            assert_eq!(dirs.sigma[a], 1.0);
        }
    }
    // Closed form: the same directions every time (no samples to vary).
    assert_eq!(sefa(&e, &[4, 5], 5).unwrap(), sefa(&e, &[4, 5], 5).unwrap());
    assert_ne!(
        sefa(&e, &[0, 1], 5).unwrap().components,
        sefa(&e, &[10, 11], 5).unwrap().components
    );
    assert!(sefa(&e, &[12], 5).is_err(), "layer 12 does not exist");
}

#[test]
fn directions_cli_writes_sefa_in_the_pca_layout() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sefa.npz");
    let c = ckpt();
    let o = out.display().to_string();
    let args = [
        "directions",
        "--ckpt",
        &c,
        "--method",
        "sefa",
        "--layers",
        "2-5",
    ];
    stylenat_ok(&[&args[..], &["--components", "8", "--out", &o]].concat());
    let loaded = stylenat::analysis::directions::Directions::load(&out).unwrap();
    let want = sefa(&fixture_engine(), &[2, 3, 4, 5], 8).unwrap();
    // Loading renormalises each component: equal to the last bit or two.
    let (got, want_c) = (loaded.components.concat(), want.components.concat());
    assert!(diff(&got, &want_c).0 < 1e-6);
    assert_eq!(
        (loaded.sigma, loaded.explained),
        (want.sigma, want.explained)
    );
    let pca_with_layers = stylenat(&[
        "directions",
        "--ckpt",
        &c,
        "--layers",
        "2-5",
        "--out",
        &dir.path().join("p.npz").display().to_string(),
    ]);
    assert!(!pca_with_layers.status.success());
}
