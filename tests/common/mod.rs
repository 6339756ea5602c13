//! Shared helpers for integration tests: fixture paths, arrays, comparisons.
#![allow(dead_code)]

use std::path::PathBuf;
use stylenat::checkpoint::HostTensor;

/// `../shared/fixtures/<rel>` beside the repository (as CI lays it out).
pub fn fixture(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(rel);
    assert!(
        p.exists(),
        "fixture {} is missing: ../shared must sit beside the repository",
        p.display()
    );
    p
}

pub fn small(rel: &str) -> PathBuf {
    fixture(&format!("stylenat-small/{rel}"))
}

pub fn npy(path: PathBuf) -> HostTensor {
    stylenat::io::npy::read_array(&path, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (max |a − b|, ‖a − b‖ / ‖b‖)
pub fn diff(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let mut max = 0f32;
    let (mut num, mut den) = (0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        max = max.max((x - y).abs());
        num += ((x - y) as f64).powi(2);
        den += (y as f64).powi(2);
    }
    (max, (num / den.max(1e-30)).sqrt() as f32)
}

/// Asserts the fixture tolerance: max|Δ| ≤ `max_abs` and rel-L2 ≤ `rel_l2`.
pub fn assert_close(name: &str, got: &HostTensor, want: &HostTensor, max_abs: f32, rel_l2: f32) {
    assert_eq!(got.shape, want.shape, "{name}: shape");
    let (m, r) = diff(&got.data, &want.data);
    println!("{name}: max|Δ| = {m:.3e}, rel-L2 = {r:.3e}");
    assert!(
        m <= max_abs && r <= rel_l2,
        "{name}: max|Δ| = {m:.3e} (≤ {max_abs:e}), rel-L2 = {r:.3e} (≤ {rel_l2:e})"
    );
}

/// Runs the synthesis network on each fixture case's W+ and checks the official output.
pub fn assert_cases(engine: &stylenat::engine::Engine, label: &str, cases: &[&str]) {
    for case in cases {
        let wplus = npy(small(&format!("{case}_in_wplus.npy")));
        let out = engine.synthesize(&wplus, 2, |_| {}).unwrap();
        let want = npy(small(&format!("{case}_out_img.npy")));
        assert_close(&format!("{label} {case}"), &out, &want, 1e-3, 1e-4);
    }
}

/// Deterministic pseudo-random floats in [−1, 1).
pub fn random_vec(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect()
}
