//! Checkpoint reading: the fixture's layout, our native format, and bad input of every kind
//! producing a typed error (never a panic or a hang).

mod common;
use common::*;
use std::io::Write;
use stylenat::Error;
use stylenat::backend::{Backend, BackendKind};
use stylenat::checkpoint::infer_config::HyperParams;
use stylenat::checkpoint::{self, CheckpointFormat, ConfigSource, LoadedGenerator, native};
use stylenat::engine::Engine;

fn load_fixture() -> LoadedGenerator {
    checkpoint::load(&small("checkpoint.pt"), &ConfigSource::Checkpoint).unwrap()
}

fn write_tmp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    for (name, data) in entries {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
    buf.into_inner()
}

#[test]
fn fixture_layout_is_understood() {
    let g = load_fixture();
    assert_eq!(g.format, CheckpointFormat::TorchLegacy);
    let c = &g.config;
    assert_eq!((c.size, c.style_dim, c.n_mlp, c.num_ws()), (128, 64, 8, 12));
    let dims: Vec<usize> = c.stages.iter().map(|s| s.dim).collect();
    assert_eq!(dims, vec![64, 64, 64, 64, 32, 16]);
    let dil: Vec<Vec<usize>> = c
        .stages
        .iter()
        .map(|s| s.groups.iter().map(|g| g.dilation).collect())
        .collect();
    assert_eq!(
        dil,
        vec![
            vec![1],
            vec![1, 1],
            vec![1, 2],
            vec![1, 4],
            vec![1, 8],
            vec![1, 16]
        ]
    );
    assert!(c.stages[0].is_full_attention());
    let params = g.num_params();
    assert_eq!(params, 645_177, "parameter count from the manifest");
}

#[test]
fn native_format_round_trips_exactly() {
    let g = load_fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    native::save(&path, &g.config, &g.weights).unwrap();
    let back = checkpoint::load(&path, &ConfigSource::Checkpoint).unwrap();
    assert_eq!(back.format, CheckpointFormat::Native);
    assert_eq!(back.config, g.config);
    assert_eq!(back.weights, g.weights);
    // And it generates the fixture image.
    let e = Engine::load(
        &path,
        &ConfigSource::Checkpoint,
        Backend::init(BackendKind::Cpu).unwrap(),
    )
    .unwrap();
    let out = e
        .synthesize(&npy(small("wplus_in_wplus.npy")), 1, |_| {})
        .unwrap();
    assert_close(
        "native wplus",
        &out,
        &npy(small("wplus_out_img.npy")),
        1e-3,
        1e-4,
    );
}

#[test]
fn random_bytes_are_not_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(
        &dir,
        "noise.pt",
        &random_vec(4096, 3)
            .iter()
            .map(|x| x.to_bits() as u8)
            .collect::<Vec<_>>(),
    );
    let e = checkpoint::load(&p, &ConfigSource::Checkpoint).unwrap_err();
    assert!(matches!(e, Error::NotAZip { .. }), "{e}");
    assert!(e.to_string().contains("not a PyTorch checkpoint"), "{e}");
}

#[test]
fn truncated_checkpoint_is_refused() {
    let bytes = std::fs::read(small("checkpoint.pt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(&dir, "half.pt", &bytes[..bytes.len() / 2]);
    let e = checkpoint::load(&p, &ConfigSource::Checkpoint).unwrap_err();
    assert!(matches!(e, Error::NotAZip { .. }), "{e}");
}

#[test]
fn zip_without_pickle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(&dir, "other.pt", &zip_with(&[("readme.txt", b"hello")]));
    let e = checkpoint::load(&p, &ConfigSource::Checkpoint).unwrap_err();
    assert!(matches!(e, Error::MissingPickle { .. }), "{e}");
}

#[test]
fn disallowed_class_is_refused_not_executed() {
    let marker = std::env::temp_dir().join("stylenat-pwned-marker");
    let _ = std::fs::remove_file(&marker);
    let cmd = format!("touch {}", marker.display());
    let mut pkl = b"\x80\x02cposix\nsystem\nq\x00X".to_vec();
    pkl.extend((cmd.len() as u32).to_le_bytes());
    pkl.extend(cmd.as_bytes());
    pkl.extend(b"\x85R.");
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(&dir, "evil.pt", &zip_with(&[("archive/data.pkl", &pkl)]));
    let e = checkpoint::load(&p, &ConfigSource::Checkpoint).unwrap_err();
    assert!(
        matches!(&e, Error::DisallowedClass { module, name } if module == "posix" && name == "system"),
        "{e}"
    );
    assert!(e.to_string().contains("posix.system"), "{e}");
    assert!(!marker.exists(), "the payload ran");
}

#[test]
fn wrong_tensor_shape_names_the_tensor_and_both_shapes() {
    let mut g = load_fixture();
    let name = "layers.2.blocks.1.mlp.fc1.weight";
    let t = g.weights.get_mut(name).unwrap();
    t.shape = vec![128, 128];
    t.data.truncate(128 * 128);
    let e = g.build(&burn::tensor::Device::flex()).unwrap_err();
    match &e {
        Error::ShapeMismatch {
            name: n,
            expected,
            actual,
        } => {
            assert_eq!(n, name);
            assert_eq!(
                (expected.as_slice(), actual.as_slice()),
                (&[256usize, 64][..], &[128usize, 128][..])
            );
        }
        other => panic!("expected ShapeMismatch, got {other}"),
    }
    println!("{e}");
}

#[test]
fn missing_tensor_is_named() {
    let mut g = load_fixture();
    g.weights.remove("layers.3.upsample.alpha");
    let e = g.build(&burn::tensor::Device::flex()).unwrap_err();
    assert!(
        matches!(&e, Error::MissingTensor { name } if name == "layers.3.upsample.alpha"),
        "{e}"
    );
}

#[test]
fn unexpected_tensor_is_refused() {
    let mut g = load_fixture();
    let extra = g.weights["layers.1.upsample.alpha"].clone();
    g.weights.insert("layers.1.blocks.0.gamma1".into(), extra);
    let e = g.build(&burn::tensor::Device::flex()).unwrap_err();
    assert!(e.to_string().contains("layers.1.blocks.0.gamma1"), "{e}");
}

#[test]
fn unknown_dilation_is_a_config_error() {
    // A checkpoint without args: dilations cannot be known.
    let e = HyperParams::resolve(None, &ConfigSource::Checkpoint).unwrap_err();
    assert!(
        matches!(e, Error::Config(_)) && e.to_string().contains("--preset"),
        "{e}"
    );
    // A config whose dilation does not fit the map: kernel 7 × dilation 32 > 128.
    let dir = tempfile::tempdir().unwrap();
    let cfg = r#"{"size": 128, "style_dim": 64, "channel_base": 64, "channel_multiplier": 1,
        "kernels": [[3],[7],[7],[7],[7],[7]], "dilations": [[1],[1],[1,2],[1,4],[1,8],[1,32]]}"#;
    let p = write_tmp(&dir, "cfg.json", cfg.as_bytes());
    let e = checkpoint::load(&small("checkpoint.pt"), &ConfigSource::File(p)).unwrap_err();
    assert!(
        matches!(e, Error::Config(_)) && e.to_string().contains("dilation 32"),
        "{e}"
    );
    // An unknown preset.
    let e = checkpoint::load(
        &small("checkpoint.pt"),
        &ConfigSource::Preset("ffhq-512".into()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown preset"), "{e}");
}

#[test]
fn user_config_file_reproduces_the_checkpoint_args() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = r#"{"size": 128, "style_dim": 64, "channel_base": 64, "channel_multiplier": 1,
        "kernels": [[3],[7],[7],[7],[7],[7]], "dilations": [[1],[1],[1,2],[1,4],[1,8],[1,16]]}"#;
    let p = write_tmp(&dir, "cfg.json", cfg.as_bytes());
    let from_file =
        checkpoint::load(&small("checkpoint.pt"), &ConfigSource::File(p.clone())).unwrap();
    assert_eq!(from_file.config, load_fixture().config);
    // The same file describes the architecture for random weights too (same shapes).
    let preset = stylenat::checkpoint::presets::Preset::from_file(&p)
        .unwrap()
        .to_config()
        .unwrap();
    assert_eq!(
        preset
            .stages
            .iter()
            .map(|s| (s.dim, s.num_heads(), s.out_dim))
            .collect::<Vec<_>>(),
        from_file
            .config
            .stages
            .iter()
            .map(|s| (s.dim, s.num_heads(), s.out_dim))
            .collect::<Vec<_>>()
    );
}

#[test]
fn corrupted_files_never_panic() {
    // Truncations and byte flips of the real checkpoint: every outcome is Ok or a typed error.
    let bytes = std::fs::read(small("checkpoint.pt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut errors = 0;
    let noise = random_vec(400, 11);
    for (i, r) in noise.iter().enumerate() {
        let mut b = bytes.clone();
        let at = ((r.abs() * b.len() as f32) as usize).min(b.len() - 1);
        if i % 2 == 0 {
            b.truncate(at);
        } else {
            for k in 0..8 {
                let j = (at + k * 977) % b.len();
                b[j] ^= 1 << (k % 8);
            }
        }
        let p = write_tmp(&dir, "c.pt", &b);
        let r = std::panic::catch_unwind(|| {
            checkpoint::load(&p, &ConfigSource::Checkpoint).map(|_| ())
        });
        match r {
            Ok(Ok(())) => {}
            Ok(Err(_)) => errors += 1,
            Err(_) => panic!("case {i} panicked"),
        }
    }
    println!(
        "{errors} of {} corrupted files rejected with an error",
        noise.len()
    );
    assert!(errors >= noise.len() / 2);
}

#[test]
fn tensors_of_the_wrong_rank_are_errors_not_panics() {
    let hp = HyperParams::resolve(None, &ConfigSource::Preset("ffhq256".into())).unwrap();
    for name in [
        "style.1.weight",
        "layers.0.blocks.0.attn.qkv.weight",
        "layers.1.blocks.0.attn.rpb.0",
    ] {
        let mut w = load_fixture().weights;
        w.get_mut(name).unwrap().shape = vec![7];
        let e = checkpoint::infer_config::infer_config(&w, &hp).unwrap_err();
        assert!(e.to_string().contains(name), "{e}");
    }
}

#[test]
fn loading_reports_progress_and_stops_when_cancelled() {
    let mut seen = Vec::new();
    let loaded = checkpoint::load_with_progress(
        &small("checkpoint.pt"),
        &ConfigSource::Checkpoint,
        &mut |p| {
            if let checkpoint::LoadProgress::Tensors { done, of } = p {
                seen.push((done, of));
            }
            true
        },
    )
    .unwrap();
    let total = seen[0].1;
    assert!(
        total >= loaded.weights.len(),
        "{total} entries for {} tensors",
        loaded.weights.len()
    );
    assert!(
        seen.windows(2)
            .all(|w| w[1].0 == w[0].0 + 1 && w[1].1 == total)
    );
    let mut calls = 0;
    let r = checkpoint::load_with_progress(
        &small("checkpoint.pt"),
        &ConfigSource::Checkpoint,
        &mut |_| {
            calls += 1;
            calls < 5
        },
    );
    assert!(matches!(r, Err(stylenat::Error::Cancelled)), "{r:?}");
    assert_eq!(calls, 5, "stops at the first refusal");
}
