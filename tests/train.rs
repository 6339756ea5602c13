//! The trainer: a few steps on tiny data reduce the losses, runs resume bit-identically,
//! trained generators round-trip through the official tensor layout, bad data is refused.

mod common;

use burn::tensor::Device;
use common::*;
use stylenat::checkpoint::{self, ConfigSource, native};
use stylenat::model::Generator;
use stylenat::train::classifier::Classifier;
use stylenat::train::data::Dataset;
use stylenat::train::{TrainConfig, Trainer, small_configs};

/// 24 labelled 16×16 images: a bright square whose position is the class (4 classes).
fn tiny_data() -> Dataset {
    let size = 16;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for i in 0..24u8 {
        let class = i % 4;
        let (oy, ox) = ((class / 2) as usize * 8, (class % 2) as usize * 8);
        let mut img = vec![0u8; size * size * 3];
        for y in oy + 1..oy + 7 {
            for x in ox + 1..ox + 7 {
                img[(y * size + x) * 3..][..3].fill(200 + i);
            }
        }
        pixels.extend(img);
        labels.push(class);
    }
    Dataset {
        size,
        pixels,
        labels: Some(labels),
        source: "tiny".into(),
    }
}

fn tiny_config(seed: u64) -> TrainConfig {
    TrainConfig {
        data: "tiny".into(),
        seed,
        batch: 4,
        d_width: 32,
        r1_every: 2,
        ..TrainConfig::default()
    }
}

fn tiny_trainer(seed: u64) -> Trainer {
    Trainer::new(
        tiny_config(seed),
        small_configs::small(16, 32, 32),
        &Device::flex(),
    )
    .unwrap()
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

/// Each network, trained against a frozen opponent, lowers its own loss within a few steps:
/// the gradients reach every part of both (through neighbourhood attention in G).
#[test]
fn each_network_lowers_its_loss_against_a_frozen_opponent() {
    let data = tiny_data();
    let run = |config: TrainConfig| -> Vec<stylenat::train::StepStats> {
        let mut t =
            Trainer::new(config, small_configs::small(16, 32, 32), &Device::flex()).unwrap();
        (0..12).map(|_| t.step(&data).unwrap()).collect()
    };
    let d_only = run(TrainConfig {
        g_lr: 0.0,
        ..tiny_config(1)
    });
    let d: Vec<f32> = d_only.iter().map(|s| s.d_loss).collect();
    println!("D loss, G frozen: {d:?}");
    // log(4) ≈ 1.386 is chance.
    assert!(mean(&d[9..]) < mean(&d[..3]) - 0.2, "D loss {d:?}");

    let g_only = run(TrainConfig {
        d_lr: 0.0,
        ..tiny_config(1)
    });
    let g: Vec<f32> = g_only.iter().map(|s| s.g_loss).collect();
    println!("G loss, D frozen: {g:?}");
    assert!(mean(&g[9..]) < mean(&g[..3]) - 0.1, "G loss {g:?}");
    assert!(g.iter().chain(&d).all(|l| l.is_finite()));
}

#[test]
fn classifier_cross_entropy_falls() {
    let data = tiny_data();
    let mut losses = Vec::new();
    let c = Classifier::train(&data, 30, 0, &Device::flex(), &mut |_, l| losses.push(l)).unwrap();
    println!("classifier loss: {losses:?}");
    assert!(losses[0] > 1.0, "starts near ln(4): {}", losses[0]);
    assert!(
        losses[29] < 0.5 * losses[0],
        "{} → {}",
        losses[0],
        losses[29]
    );
    let (features, classes) = c.embed(&data, &Device::flex()).unwrap();
    assert_eq!(
        features.len(),
        data.len() * stylenat::train::classifier::FEATURES
    );
    let correct = classes
        .iter()
        .zip(data.labels.as_ref().unwrap())
        .filter(|(a, b)| a == b)
        .count();
    assert!(correct >= 20, "{correct}/24 classified correctly");
}

/// All tensors of a training state (weights, EMA, D, moments), without the wall-clock metadata.
fn state_tensors(t: &Trainer) -> stylenat::tensor::WeightMap {
    native::read_tensors(&t.state_bytes().unwrap(), std::path::Path::new("state"))
        .unwrap()
        .0
}

#[test]
fn resumed_run_is_bit_identical_to_an_uninterrupted_one() {
    let data = tiny_data();
    let mut straight = tiny_trainer(7);
    for _ in 0..4 {
        straight.step(&data).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.safetensors");
    let mut first = tiny_trainer(7);
    for _ in 0..2 {
        first.step(&data).unwrap();
    }
    first.save_state(&path).unwrap();
    drop(first);
    let mut resumed = Trainer::resume(&path, &Device::flex()).unwrap();
    assert_eq!(resumed.step, 2);
    for _ in 0..2 {
        resumed.step(&data).unwrap();
    }
    let (a, b) = (state_tensors(&straight), state_tensors(&resumed));
    assert_eq!(a.len(), b.len());
    assert!(
        a.keys().any(|k| k.starts_with("g_adam.m.")),
        "moments are saved"
    );
    for (name, t) in &a {
        let u = &b[name];
        let same = t
            .data
            .iter()
            .zip(&u.data)
            .all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{name} differs after resuming");
    }
    // A different seed is a different run (the comparison above can fail).
    let mut other = tiny_trainer(8);
    for _ in 0..4 {
        other.step(&data).unwrap();
    }
    assert_ne!(state_tensors(&other)["g.input"].data, a["g.input"].data);
}

#[test]
fn resume_refuses_a_generator_file() {
    let err = Trainer::resume(&small("checkpoint.pt"), &Device::flex())
        .err()
        .expect("a .pt is not a training state");
    assert!(err.to_string().contains("safetensors"), "{err}");
}

#[test]
fn exported_weights_reload_to_the_same_generator() {
    let loaded = checkpoint::load(&small("checkpoint.pt"), &ConfigSource::Checkpoint).unwrap();
    let device = Device::flex();
    let g = loaded.build(&device).unwrap();
    let exported = g.to_weights().unwrap();
    // Same tensors (optional buffers aside), same values up to the scale round trip.
    for (name, t) in &exported {
        let orig = loaded
            .weights
            .get(name)
            .unwrap_or_else(|| panic!("exported `{name}` is not in the checkpoint"));
        assert_eq!(orig.shape, t.shape, "{name}");
        let worst = orig
            .data
            .iter()
            .zip(&t.data)
            .map(|(a, b)| (a - b).abs() / a.abs().max(1e-3))
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "{name}: relative error {worst}");
    }
    let missing: Vec<_> = loaded
        .weights
        .keys()
        .filter(|k| !exported.contains_key(*k) && !k.ends_with("relative_position_index"))
        .collect();
    assert!(missing.is_empty(), "not exported: {missing:?}");
    // And the native file of the export renders the fixture's image.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.safetensors");
    native::save(&path, &loaded.config, &exported).unwrap();
    let again = checkpoint::load(&path, &ConfigSource::Checkpoint)
        .unwrap()
        .build(&device)
        .unwrap();
    let z = npy(small("z_plain_in_z.npy"));
    let run = |g: &Generator| {
        let z = burn::tensor::Tensor::<2>::from_data(
            burn::tensor::TensorData::new(z.data.clone(), [z.shape[0], z.shape[1]]),
            &device,
        );
        let w = g.map(z);
        let wplus = w.unsqueeze_dim::<3>(1).repeat_dim(1, g.config.num_ws());
        stylenat::kernels::to_host(g.synthesize(wplus, &mut ()).unwrap()).unwrap()
    };
    let (a, b) = (run(&g), run(&again));
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-4, "max |Δ| {worst}");
}

#[test]
fn corrupt_idx_data_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // An IDX header claiming 100 images of 28×28 with only a few bytes of data.
    let mut bytes = vec![0, 0, 8, 3];
    for d in [100u32, 28, 28] {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend([0u8; 50]);
    std::fs::write(dir.path().join("train-images-idx3-ubyte"), &bytes).unwrap();
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte"),
        [0u8, 0, 8, 1, 0, 0, 0, 100],
    )
    .unwrap();
    let err = Dataset::open(dir.path().to_str().unwrap(), 32)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not match its dimensions"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = Dataset::open(empty.path().to_str().unwrap(), 32)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no .png images"), "{err}");
}

#[test]
fn train_command_writes_a_model_every_command_loads_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    for i in 0..6u8 {
        let img = image::RgbImage::from_fn(12, 12, |x, y| {
            image::Rgb([(x * 20) as u8, (y * 20) as u8, i * 40])
        });
        img.save(images.join(format!("{i}.png"))).unwrap();
    }
    let run = dir.path().join("run");
    let (data, out) = (images.to_str().unwrap(), run.to_str().unwrap());
    let common = ["--data", data, "--out", out, "--size", "8", "--width", "16"];
    let args = |extra: &[&'static str]| {
        let mut a = vec!["train"];
        a.extend(common);
        a.extend(["--style-dim", "16", "--batch", "2", "--sample-every", "2"]);
        a.extend(extra);
        a
    };
    stylenat_ok(&args(&["--steps", "2"]));
    // A second fresh run into the same folder is refused rather than overwriting it.
    let again = stylenat(&args(&["--steps", "2"]));
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
    // A run killed after its last save logged steps past it (and a torn line); the resume
    // runs those steps again, so the log must not keep the stale ones.
    let mut stale = std::fs::OpenOptions::new()
        .append(true)
        .open(run.join("log.jsonl"))
        .unwrap();
    std::io::Write::write_all(
        &mut stale,
        b"{\"step\":2,\"d_loss\":9.0}\n{\"step\":3,\"d_loss\":9.0}\n{\"step\":4,\"d_l",
    )
    .unwrap();
    drop(stale);
    stylenat_ok(&args(&["--steps", "3", "--resume"]));
    let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 3, "{log}");
    let steps: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, [0, 1, 2], "{log}");
    assert!(!log.contains("9.0"), "stale lines survived: {log}");
    assert!(run.join("samples/step-000002.png").exists());
    let model = run.join("model.safetensors");
    let info = stylenat_ok(&["info", model.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("8×8"));
    let gen_dir = dir.path().join("gen");
    stylenat_ok(&[
        "generate",
        "--ckpt",
        model.to_str().unwrap(),
        "--seeds",
        "0-1",
        "--outdir",
        gen_dir.to_str().unwrap(),
    ]);
    assert!(gen_dir.join("0.png").exists());
}
