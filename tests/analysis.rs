//! Attention maps and PCA directions on the fixture model.

mod common;
use common::*;
use stylenat::analysis::attention::attention_maps;
use stylenat::analysis::directions::{Directions, pca};
use stylenat::kernels::KernelPath;
use stylenat::kernels::attention_weights::query_weights;
use stylenat::latent::recipe::{DirectionEdit, DirectionSource};
use stylenat::model::Trace;
use stylenat::tensor::HostTensor;

#[test]
fn attention_weights_are_softmaxes_over_the_natten_neighbourhood() {
    let mut e = fixture_engine();
    let wplus = seed_wplus(&mut e, 3);
    let size = e.config().size;
    // Every stage, both blocks; corners, edges and the centre (borders shift windows inwards).
    for stage in 0..e.config().stages.len() {
        for block in 0..2 {
            for pixel in [
                (0, 0),
                (size - 1, size / 2),
                (size / 2, size / 2),
                (5, size - 1),
            ] {
                let maps = attention_maps(&e, &wplus, stage, block, pixel).unwrap();
                let (qx, qy) = maps.query;
                for h in &maps.heads {
                    let g = &e.config().stages[stage].groups[h.group];
                    let sum: f32 = h.weights.iter().sum();
                    assert!((sum - 1.0).abs() < 1e-5, "weights sum to {sum}");
                    assert!(h.weights.iter().all(|&w| w >= 0.0));
                    assert_eq!(h.keys.len(), g.kernel * g.kernel);
                    // Keys: the query's own dilation residue, k distinct per axis spaced by d,
                    // the query itself among them.
                    let mut ys: Vec<usize> = h.keys.iter().map(|k| k.0).collect();
                    let mut xs: Vec<usize> = h.keys.iter().map(|k| k.1).collect();
                    ys.sort_unstable();
                    ys.dedup();
                    xs.sort_unstable();
                    xs.dedup();
                    assert_eq!((ys.len(), xs.len()), (g.kernel, g.kernel));
                    for (axis, q) in [(&ys, qy), (&xs, qx)] {
                        assert!(axis.contains(&q));
                        assert!(axis.iter().all(|v| v % g.dilation == q % g.dilation));
                        assert!(axis.windows(2).all(|p| p[1] - p[0] == g.dilation));
                    }
                }
                // The dense maps are zero outside the neighbourhood and sum to 1.
                for gm in &maps.groups {
                    let s: f32 = gm.mean.iter().sum();
                    assert!((s - 1.0).abs() < 1e-4);
                    let inside: std::collections::HashSet<(usize, usize)> = maps
                        .heads
                        .iter()
                        .filter(|h| h.group == gm.group)
                        .flat_map(|h| h.keys.iter().copied())
                        .collect();
                    for (i, &w) in gm.mean.iter().enumerate() {
                        let at = (i / maps.resolution, i % maps.resolution);
                        assert!(w == 0.0 || inside.contains(&at), "weight outside at {at:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn weights_reproduce_the_attention_output_of_the_kernels() {
    let mut e = fixture_engine();
    let wplus = seed_wplus(&mut e, 11);
    let stage = e.config().stages.len() - 2; // 64², two dilations
    let mut trace = Trace::attention_of(stage, 1);
    e.synthesize_traced(&wplus, &mut trace).unwrap();
    let cap = trace.attention.unwrap();
    let p = &cap.problem;
    let c = p.heads() * p.head_dim;
    let oracle = stylenat::kernels::reference::na2d(p, &cap.qkv, &cap.rpb);
    let cpu = run_na(&e.backend.device, p, &cap.qkv, &cap.rpb, KernelPath::Cpu);
    for (y, x) in [(0, 0), (17, 40), (63, 63), (31, 2)] {
        let heads = query_weights(p, &cap.qkv, &cap.rpb, 0, y, x).unwrap();
        for h in &heads {
            for e_ in 0..p.head_dim {
                let v: f32 = h
                    .keys
                    .iter()
                    .zip(&h.weights)
                    .map(|(&(ky, kx), w)| {
                        w * cap.qkv[((ky * p.width + kx) * 3 + 2) * c + h.head * p.head_dim + e_]
                    })
                    .sum();
                let at = (y * p.width + x) * c + h.head * p.head_dim + e_;
                assert!(
                    (v - oracle[at]).abs() < 1e-4,
                    "oracle: {v} vs {}",
                    oracle[at]
                );
                assert!((v - cpu[at]).abs() < 1e-4, "CPU kernel: {v} vs {}", cpu[at]);
            }
        }
    }
}

#[test]
fn pca_components_are_orthonormal_sorted_and_ordered_by_effect() {
    let mut e = fixture_engine();
    let dirs = pca(&e, 4096, 16, |_, _| {}).unwrap();
    let d = e.config().style_dim;
    for (i, a) in dirs.components.iter().enumerate() {
        assert_eq!(a.len(), d);
        for (j, b) in dirs.components.iter().enumerate() {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((dot - want).abs() < 1e-4, "<c{i}, c{j}> = {dot}");
        }
    }
    assert!(dirs.explained.windows(2).all(|p| p[0] >= p[1]));
    assert!(dirs.sigma.windows(2).all(|p| p[0] >= p[1]) && dirs.sigma[15] > 0.0);
    assert!(dirs.explained.iter().sum::<f32>() <= 1.0 + 1e-5);

    // Moving 3σ along component 0 changes the image more than along component 15.
    let base = seed_wplus(&mut e, 2);
    let image = |w: &HostTensor| e.synthesize(w, 1, |_| {}).unwrap().data;
    let shown = image(&base);
    let change = |k: usize| {
        let mut w = base.clone();
        let edit = DirectionEdit {
            source: DirectionSource::File("pca".into()),
            component: k,
            amount: 3.0,
            layers: None,
        };
        stylenat::compose::apply_edit(&edit, &dirs, &mut w.data, w.shape[1]).unwrap();
        let moved = image(&w);
        moved
            .iter()
            .zip(&shown)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / moved.len() as f32
    };
    let (first, last) = (change(0), change(15));
    println!("mean |Δpixel|: component 0 {first:.4}, component 15 {last:.4}");
    assert!(
        first > last,
        "component 0 ({first}) should move the image more than 15 ({last})"
    );

    // Round trip through both file formats.
    let dir = tempfile::tempdir().unwrap();
    let npz = dir.path().join("dirs.npz");
    dirs.save(&npz).unwrap();
    let back = Directions::load(&npz).unwrap();
    assert_eq!(
        (back.sigma.clone(), back.explained.clone()),
        (dirs.sigma.clone(), dirs.explained.clone())
    );
    let max_diff = back
        .components
        .concat()
        .iter()
        .zip(dirs.components.concat())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        max_diff < 1e-6,
        "components changed by {max_diff} on the round trip"
    );
    let npy = dir.path().join("dirs.npy");
    dirs.save(&npy).unwrap();
    let back = Directions::load(&npy).unwrap();
    assert_eq!(back.components.len(), 16);
    assert_eq!(back.sigma, vec![1.0; 16], "a bare .npy has unit σ");
    let _ = &mut e;
}
