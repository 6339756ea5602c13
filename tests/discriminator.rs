//! Discriminators as feature extractors: the official StyleNAT D read from `.pt` files matches
//! the official PyTorch module (outputs written by `scripts/make_official_d_fixture.py` from
//! the official source), in both checkpoint layouts and both weight parameterisations; ours
//! round-trips through a training state; files without one say so.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use std::path::PathBuf;
use stylenat::checkpoint::discriminator::{self, Kind};
use stylenat::kernels::to_host;
use stylenat::model::discriminator::Critic;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/official-d")
        .join(rel)
}

fn upload(t: &stylenat::tensor::HostTensor) -> Tensor<4> {
    let s: [usize; 4] = std::array::from_fn(|i| t.shape[i]);
    Tensor::from_data(TensorData::new(t.data.clone(), s), &Device::flex())
}

fn host(t: Tensor<4>) -> stylenat::tensor::HostTensor {
    let shape = t.dims().to_vec();
    stylenat::tensor::HostTensor::new(shape, to_host(t).unwrap())
}

/// `eq32_legacy`: equalised lr, `{'d': …}`; `sn64_hydra`: spectral norm (u, v after three
/// power iterations), `{'state_dicts': {'d': …}}`, uneven channel widths.
#[test]
fn official_discriminator_matches_the_official_module() {
    for (name, size, sn) in [("eq32_legacy", 32, false), ("sn64_hydra", 64, true)] {
        let loaded = discriminator::load(&data(&format!("{name}.pt")))
            .unwrap()
            .expect("the file has a discriminator");
        assert_eq!(loaded.kind, Kind::Official);
        let critic = loaded.build(&Device::flex()).unwrap();
        assert_eq!(critic.size(), size);
        let Critic::Official(d) = &critic else {
            panic!("official")
        };
        assert_eq!(d.spectral_norm, sn, "{name}");
        let x = upload(&npy(data(&format!("{name}_in.npy"))));
        let features = critic.features(x.clone());
        let mut i = 0;
        while data(&format!("{name}_feature{i}.npy")).exists() {
            let want = npy(data(&format!("{name}_feature{i}.npy")));
            assert_close(
                &format!("{name} feature {i}"),
                &host(features[i].clone()),
                &want,
                1e-4,
                1e-5,
            );
            i += 1;
        }
        assert_eq!(features.len(), i, "{name}: number of feature maps");
        let logits = to_host(critic.logits(x)).unwrap();
        let want = npy(data(&format!("{name}_logits.npy")));
        let (m, _) = diff(&logits, &want.data);
        println!("{name} logits {logits:?} vs {:?}", want.data);
        assert!(m <= 1e-4, "{name}: logits differ by {m:e}");
    }
}

#[test]
fn a_discriminator_with_extra_or_missing_tensors_is_refused() {
    let loaded = discriminator::load(&data("eq32_legacy.pt"))
        .unwrap()
        .unwrap();
    let mut extra = loaded.clone();
    let t = extra.weights["final_conv.1.bias"].clone();
    extra.weights.insert("final_conv.1.scale".into(), t);
    let err = extra.build(&Device::flex()).unwrap_err().to_string();
    assert!(err.contains("final_conv.1.scale"), "{err}");
    let mut missing = loaded;
    missing.weights.remove("from_rgbs.1.dwt.hh");
    let err = missing.build(&Device::flex()).unwrap_err().to_string();
    assert!(err.contains("from_rgbs.1.dwt.hh"), "{err}");
}

/// Crafted shapes (a rank-1 conv weight, a 1×1 blur kernel, a block that does not chain into
/// the next, a bias of the wrong length) are refused with an error naming the problem, before
/// any convolution could meet mismatched inputs.
#[test]
fn crafted_discriminator_shapes_are_refused_without_a_panic() {
    use stylenat::tensor::HostTensor;
    let loaded = discriminator::load(&data("eq32_legacy.pt"))
        .unwrap()
        .unwrap();
    let cases: [(&str, HostTensor, &str); 4] = [
        (
            "final_conv.0.weight",
            HostTensor::new(vec![5], vec![0.0; 5]),
            "rank-4",
        ),
        (
            "convs.0.conv2.0.kernel",
            HostTensor::new(vec![1, 1], vec![1.0]),
            "blur kernel",
        ),
        (
            "convs.1.conv1.0.weight",
            HostTensor::new(vec![32, 16, 3, 3], vec![0.0; 32 * 16 * 9]),
            "do not chain",
        ),
        (
            "final_conv.1.bias",
            HostTensor::new(vec![7], vec![0.0; 7]),
            "should hold 32 values",
        ),
    ];
    for (name, t, why) in cases {
        let mut crafted = loaded.clone();
        crafted.weights.insert(name.into(), t);
        let err = crafted.build(&Device::flex()).unwrap_err().to_string();
        assert!(err.contains(why), "{name}: {err}");
    }
}

#[test]
fn generator_only_files_have_no_discriminator() {
    assert!(
        discriminator::load(&small("checkpoint.pt"))
            .unwrap()
            .is_none()
    );
    let builtin = PathBuf::from(stylenat::checkpoint::builtin::NAME);
    assert!(discriminator::load(&builtin).unwrap().is_none());
}

/// A training state's D rebuilds to the trainer's own (same logits), and a model file
/// exported beside it finds it when (and only when) the generator configurations agree.
#[test]
fn a_training_states_discriminator_round_trips_and_is_found_beside_its_model() {
    use stylenat::train::{TrainConfig, Trainer, small_configs};
    let config = TrainConfig {
        data: "none".into(),
        seed: 3,
        batch: 2,
        d_width: 32,
        ..TrainConfig::default()
    };
    let gc = small_configs::small(16, 32, 32);
    let trainer = Trainer::new(config, gc.clone(), &Device::flex()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    trainer
        .save_state(&dir.path().join("state.safetensors"))
        .unwrap();
    trainer
        .export(&dir.path().join("model.safetensors"))
        .unwrap();
    let loaded = discriminator::load(&dir.path().join("state.safetensors"))
        .unwrap()
        .unwrap();
    assert_eq!(
        loaded.kind,
        Kind::Trained {
            size: 16,
            width: 32
        }
    );
    let critic = loaded.build(&Device::flex()).unwrap();
    let x = upload(&stylenat::tensor::HostTensor::new(
        vec![2, 3, 16, 16],
        random_vec(2 * 3 * 16 * 16, 5),
    ));
    let want = to_host(trainer.discriminator().forward(x.clone())).unwrap();
    let got = to_host(critic.logits(x)).unwrap();
    assert_eq!(got, want);
    let model = dir.path().join("model.safetensors");
    let found = discriminator::for_checkpoint(&model, &gc).unwrap().unwrap();
    assert_eq!(found.source, dir.path().join("state.safetensors"));
    let other = small_configs::small(16, 32, 16);
    assert!(
        discriminator::for_checkpoint(&model, &other)
            .unwrap()
            .is_none()
    );
}

/// The perceptual distance's gradient with respect to the image (burn's autodiff through the
/// wavelets, blurs, strided convs and the unit-length scaling) agrees with central
/// differences along random directions.
#[test]
fn the_perceptual_distance_has_the_gradient_finite_differences_give() {
    use stylenat::project::perceptual::{feature_distance, unit_features};
    let critic = discriminator::load(&data("eq32_legacy.pt"))
        .unwrap()
        .unwrap()
        .build(&Device::flex())
        .unwrap();
    let n = 3 * 32 * 32;
    let image = |v: Vec<f32>| upload(&stylenat::tensor::HostTensor::new(vec![1, 3, 32, 32], v));
    let x0 = random_vec(n, 11);
    let target = unit_features(&critic, image(random_vec(n, 12)));
    let loss = |v: Vec<f32>| to_host(feature_distance(&critic, image(v), &target)).unwrap()[0];
    let x = image(x0.clone()).autodiff().require_grad();
    let grads = feature_distance(&critic, x.clone(), &target).backward();
    let g = to_host(x.grad(&grads).unwrap()).unwrap();
    for seed in 0..3 {
        // Along the gradient plus a random part, so the change stands well above f32 rounding
        // with a step small enough that few leaky-ReLU kinks are crossed.
        let rms = (g.iter().map(|v| v * v).sum::<f32>() / n as f32).sqrt();
        let noise = random_vec(n, 100 + seed);
        let dir: Vec<f32> = g.iter().zip(&noise).map(|(a, b)| a / rms + b).collect();
        let h = 1e-3f32;
        let step = |s: f32| {
            x0.iter()
                .zip(&dir)
                .map(|(a, b)| a + s * h * b)
                .collect::<Vec<_>>()
        };
        let fd = (loss(step(1.0)) as f64 - loss(step(-1.0)) as f64) / (2.0 * h as f64);
        let analytic: f64 = g.iter().zip(&dir).map(|(a, b)| *a as f64 * *b as f64).sum();
        println!("direction {seed}: autodiff {analytic:.6}, finite differences {fd:.6}");
        assert!(
            (analytic - fd).abs() <= 5e-3 * analytic.abs(),
            "autodiff {analytic} vs finite differences {fd}"
        );
    }
}
