//! The Hydra checkpoint layout (`state_dicts.g_ema`, `rpb.N`, dict args): the fixture's weights
//! are re-packed the way the current official training code saves them, with a small pickle
//! writer, and must load and reproduce the fixture output. A second file checks uneven head
//! splits (uneven counts go to the last groups).

mod common;
use common::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use stylenat::backend::{Backend, BackendKind};
use stylenat::checkpoint::pickle::{Value, unpickle};
use stylenat::checkpoint::{self, CheckpointFormat, ConfigSource};
use stylenat::engine::Engine;

/// Data to pickle (protocol 2, the opcodes `torch.save` emits).
enum Py {
    Dict(Vec<(String, Py)>),
    OrderedDict(Vec<(String, Py)>),
    List(Vec<Py>),
    Int(i64),
    Float(f64),
    Str(String),
    None,
    /// `_rebuild_tensor_v2` of a float storage `data/<key>`.
    Tensor {
        key: String,
        numel: usize,
        shape: Vec<usize>,
    },
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'X');
    out.extend((s.len() as u32).to_le_bytes());
    out.extend(s.as_bytes());
}

fn put_int(out: &mut Vec<u8>, i: i64) {
    out.push(b'J');
    out.extend((i as i32).to_le_bytes());
}

fn put_usizes(out: &mut Vec<u8>, v: &[usize]) {
    out.push(b'(');
    for &x in v {
        put_int(out, x as i64);
    }
    out.push(b't');
}

fn ordered_dict(out: &mut Vec<u8>) {
    out.extend(b"ccollections\nOrderedDict\n)R");
}

fn encode(v: &Py, out: &mut Vec<u8>) {
    match v {
        Py::Dict(items) | Py::OrderedDict(items) => {
            if matches!(v, Py::Dict(_)) {
                out.push(b'}');
            } else {
                ordered_dict(out);
            }
            out.push(b'(');
            for (k, x) in items {
                put_str(out, k);
                encode(x, out);
            }
            out.push(b'u');
        }
        Py::List(items) => {
            out.extend(b"](");
            for x in items {
                encode(x, out);
            }
            out.push(b'e');
        }
        Py::Int(i) => put_int(out, *i),
        Py::Float(f) => {
            out.push(b'G');
            out.extend(f.to_be_bytes());
        }
        Py::Str(s) => put_str(out, s),
        Py::None => out.push(b'N'),
        Py::Tensor { key, numel, shape } => {
            out.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
            out.push(b'(');
            put_str(out, "storage");
            out.extend(b"ctorch\nFloatStorage\n");
            put_str(out, key);
            put_str(out, "cpu");
            put_int(out, *numel as i64);
            out.extend(b"tQ");
            put_int(out, 0);
            put_usizes(out, shape);
            let mut stride = vec![1usize; shape.len()];
            for i in (0..shape.len().saturating_sub(1)).rev() {
                stride[i] = stride[i + 1] * shape[i + 1];
            }
            put_usizes(out, &stride);
            out.push(0x89);
            ordered_dict(out);
            out.extend(b"tR");
        }
    }
}

fn pickle(v: &Py) -> Vec<u8> {
    let mut out = vec![0x80, 2];
    encode(v, &mut out);
    out.push(b'.');
    out
}

fn usize_lists(v: &[&[usize]]) -> Py {
    Py::List(
        v.iter()
            .map(|l| Py::List(l.iter().map(|&x| Py::Int(x as i64)).collect()))
            .collect(),
    )
}

/// Writes a `.pt` zip with the given tensors (name → shape, data) under `state_dicts.g_ema`.
fn write_hydra(
    path: &std::path::Path,
    size: i64,
    tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    generator_args: Py,
) {
    let mut file = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut entries = Vec::new();
    for (i, (name, (shape, data))) in tensors.iter().enumerate() {
        let key = i.to_string();
        file.start_file(format!("archive/data/{key}"), opts)
            .unwrap();
        file.write_all(
            &data
                .iter()
                .flat_map(|f| f.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        entries.push((
            name.clone(),
            Py::Tensor {
                key,
                numel: data.len(),
                shape: shape.clone(),
            },
        ));
    }
    let root = Py::Dict(vec![
        (
            "state_dicts".into(),
            Py::Dict(vec![("g_ema".into(), Py::OrderedDict(entries))]),
        ),
        (
            "args".into(),
            Py::Dict(vec![(
                "runs".into(),
                Py::Dict(vec![
                    ("size".into(), Py::Int(size)),
                    ("generator".into(), generator_args),
                ]),
            )]),
        ),
        (
            "eval_info".into(),
            Py::Dict(vec![("fid".into(), Py::Float(12.5))]),
        ),
    ]);
    file.start_file("archive/data.pkl", opts).unwrap();
    file.write_all(&pickle(&root)).unwrap();
    file.start_file("archive/version", opts).unwrap();
    file.write_all(b"3\n").unwrap();
    file.finish().unwrap();
}

/// The fixture's g_ema as name → (shape, data), read through our own pickle reader.
fn fixture_tensors() -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let mut zip =
        zip::ZipArchive::new(std::fs::File::open(small("checkpoint.pt")).unwrap()).unwrap();
    let mut pkl = Vec::new();
    zip.by_name("checkpoint/data.pkl")
        .unwrap()
        .read_to_end(&mut pkl)
        .unwrap();
    let root = unpickle(&pkl).unwrap();
    let Some(Value::Dict(sd)) = root.get("g_ema") else {
        panic!("no g_ema")
    };
    let mut out = BTreeMap::new();
    for (k, v) in sd {
        let (Value::Str(name), Value::Tensor(t)) = (k, v) else {
            continue;
        };
        let mut raw = Vec::new();
        zip.by_name(&format!("checkpoint/data/{}", t.storage.key))
            .unwrap()
            .read_to_end(&mut raw)
            .unwrap();
        if t.storage.dtype != stylenat::checkpoint::pickle::StorageDType::F32 {
            continue; // the int64 relative_position_index: recomputed by the loader, optional
        }
        let all: Vec<f32> = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let n: usize = t.shape.iter().product();
        out.insert(
            name.clone(),
            (t.shape.clone(), all[t.offset..t.offset + n].to_vec()),
        );
    }
    out
}

fn fixture_generator_args() -> Py {
    Py::Dict(vec![
        ("style_dim".into(), Py::Int(64)),
        ("n_mlp".into(), Py::Int(8)),
        ("lr_mlp".into(), Py::Float(0.01)),
        ("qk_scale".into(), Py::None),
        ("block_type".into(), Py::Str("nat".into())),
        (
            "kernels".into(),
            usize_lists(&[&[3], &[7], &[7], &[7], &[7], &[7]]),
        ),
        (
            "dilations".into(),
            usize_lists(&[&[1], &[1], &[1, 2], &[1, 4], &[1, 8], &[1, 16]]),
        ),
    ])
}

#[test]
fn hydra_layout_loads_and_matches_the_fixture() {
    let mut tensors = fixture_tensors();
    // Hydra names: `rpb.N`. Stage 1 has one kernel and one dilation, so Hydra makes ONE group
    // of all 4 heads: the legacy halves are concatenated (same computation).
    let names: Vec<String> = tensors.keys().cloned().collect();
    for name in names {
        if let Some(stem) = name.strip_suffix(".attn.rpb0") {
            let (s0, d0) = tensors.remove(&name).unwrap();
            let (s1, d1) = tensors.remove(&format!("{stem}.attn.rpb1")).unwrap();
            if stem.starts_with("layers.1.") {
                let shape = vec![s0[0] + s1[0], s0[1], s0[2]];
                tensors.insert(format!("{stem}.attn.rpb.0"), (shape, [d0, d1].concat()));
            } else {
                tensors.insert(format!("{stem}.attn.rpb.0"), (s0, d0));
                tensors.insert(format!("{stem}.attn.rpb.1"), (s1, d1));
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hydra.pt");
    write_hydra(&path, 128, &tensors, fixture_generator_args());

    let loaded = checkpoint::load(&path, &ConfigSource::Checkpoint).unwrap();
    assert_eq!(loaded.format, CheckpointFormat::TorchHydra);
    let groups: Vec<usize> = loaded
        .config
        .stages
        .iter()
        .map(|s| s.groups.len())
        .collect();
    assert_eq!(groups, vec![1, 1, 2, 2, 2, 2]);
    let e = Engine::load(
        &path,
        &ConfigSource::Checkpoint,
        Backend::init(BackendKind::Cpu).unwrap(),
    )
    .unwrap();
    assert_cases(&e, "hydra", &["wplus", "mix"]);
}

#[test]
fn uneven_head_groups_follow_the_official_split() {
    // 4 heads over 3 kernels: the official Hydra code gives [1, 1, 2] (extra heads to the end).
    let cfg_json = r#"{"size": 32, "style_dim": 32, "channel_base": 128, "channel_multiplier": 1,
        "kernels": [[3],[3,5,3],[3,5,7],[3,5,7]], "dilations": [[1],[1,1,2],[1,2,1],[1,2,4]]}"#;
    let preset: stylenat::checkpoint::presets::Preset = serde_json::from_str(cfg_json).unwrap();
    let config = preset.to_config().unwrap();
    let heads: Vec<Vec<usize>> = config
        .stages
        .iter()
        .map(|s| s.groups.iter().map(|g| g.heads).collect())
        .collect();
    assert_eq!(
        heads,
        vec![vec![4], vec![1, 1, 2], vec![1, 1, 2], vec![1, 1, 2]]
    );
    // A checkpoint with that architecture (random weights) round-trips through the Hydra layout.
    let random = Engine::random(&config, 3, Backend::init(BackendKind::Cpu).unwrap()).unwrap();
    let tensors = random
        .loaded
        .weights
        .iter()
        .map(|(k, t)| (k.clone(), (t.shape.clone(), t.data.clone())))
        .collect();
    let args = Py::Dict(vec![
        (
            "kernels".into(),
            usize_lists(&[&[3], &[3, 5, 3], &[3, 5, 7], &[3, 5, 7]]),
        ),
        (
            "dilations".into(),
            usize_lists(&[&[1], &[1, 1, 2], &[1, 2, 1], &[1, 2, 4]]),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("uneven.pt");
    write_hydra(&path, 32, &tensors, args);
    let loaded = checkpoint::load(&path, &ConfigSource::Checkpoint).unwrap();
    assert_eq!(loaded.config.stages, config.stages);
}

/// Found by the long fuzz run: two references to one storage declaring different sizes used to
/// index past the bytes read for the first (a panic); now a storage error.
#[test]
fn a_storage_referenced_with_two_sizes_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two-sizes.pt");
    let mut file = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    file.start_file("archive/data/0", opts).unwrap();
    file.write_all(&[0u8; 16 * 4]).unwrap();
    let tensor = |numel: usize| Py::Tensor {
        key: "0".into(),
        numel,
        shape: vec![numel],
    };
    let root = Py::Dict(vec![(
        "g_ema".into(),
        Py::OrderedDict(vec![("a".into(), tensor(4)), ("b".into(), tensor(16))]),
    )]);
    file.start_file("archive/data.pkl", opts).unwrap();
    file.write_all(&pickle(&root)).unwrap();
    file.finish().unwrap();
    let e = checkpoint::load(&path, &ConfigSource::Preset("ffhq256".into())).unwrap_err();
    assert!(e.to_string().contains("referenced as 16"), "{e}");
}
