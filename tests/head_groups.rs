//! Head-group edits are exact: `scale=1` changes no bit, `scale=0` equals a generator whose
//! output projection ignores the group (weights edited here, independently of the edit
//! code), and dilation / kernel overrides equal a generator built from a config with that
//! value — on the CPU and on wgpu. Resuming from cached block inputs after an edit is
//! bit-identical to a full pass.

mod common;

use common::{diff, small};
use stylenat::backend::{Backend, BackendKind};
use stylenat::checkpoint::{ConfigSource, LoadedGenerator, load};
use stylenat::engine::Engine;
use stylenat::latent::group_edit::GroupEdit;
use stylenat::tensor::HostTensor;

fn loaded() -> LoadedGenerator {
    load(&small("checkpoint.pt"), &ConfigSource::Checkpoint).unwrap()
}

fn engine(l: LoadedGenerator, kind: BackendKind) -> Engine {
    let backend = Backend::init(kind).unwrap_or_else(|e| panic!("no {kind:?} backend: {e}"));
    Engine::from_loaded(l, &small("checkpoint.pt"), backend).unwrap()
}

fn edits(list: &[&str]) -> Vec<GroupEdit> {
    list.iter().map(|e| e.parse().unwrap()).collect()
}

/// Two images' W+ from fixed seeds.
fn wplus(e: &Engine) -> HostTensor {
    let w = e
        .map(&e.z_for_seeds(&[3, 11], Default::default()).unwrap())
        .unwrap();
    e.broadcast(&w)
}

fn render(e: &mut Engine, list: &[&str]) -> Vec<f32> {
    e.set_head_edits(&edits(list)).unwrap();
    let w = wplus(e);
    e.synthesize(&w, 2, |_| {}).unwrap().data
}

/// `layers.{stage}.blocks.{0,1}.attn.proj.weight` (`[out, in]`) with the input columns of
/// `group`'s heads zeroed.
fn zero_group_columns(l: &mut LoadedGenerator, stage: usize, group: usize) {
    let s = &l.config.stages[stage];
    let head_dim = s.head_dim();
    let first: usize = s.groups[..group].iter().map(|g| g.heads).sum::<usize>() * head_dim;
    let cols = first..first + s.groups[group].heads * head_dim;
    for block in 0..2 {
        let w = l
            .weights
            .get_mut(&format!("layers.{stage}.blocks.{block}.attn.proj.weight"))
            .unwrap();
        let d_in = w.shape[1];
        for row in w.data.chunks_mut(d_in) {
            row[cols.clone()].iter_mut().for_each(|x| *x = 0.0);
        }
    }
}

/// A `[heads, 2k₀−1, 2k₀−1]` table resized to `2k−1` by hand: zero border or centre.
fn resize_table(t: &HostTensor, kernel: usize) -> HostTensor {
    let (heads, t0, t1) = (t.shape[0], t.shape[1], 2 * kernel - 1);
    let mut out = vec![0f32; heads * t1 * t1];
    for h in 0..heads {
        for i in 0..t1 {
            for j in 0..t1 {
                // Offset from the centre is the same in both tables.
                let (si, sj) = (
                    i as isize + (t0 as isize - t1 as isize) / 2,
                    j as isize + (t0 as isize - t1 as isize) / 2,
                );
                if (0..t0 as isize).contains(&si) && (0..t0 as isize).contains(&sj) {
                    out[(h * t1 + i) * t1 + j] = t.data[(h * t0 + si as usize) * t0 + sj as usize];
                }
            }
        }
    }
    HostTensor::new(vec![heads, t1, t1], out)
}

fn with_kernel(l: &mut LoadedGenerator, stage: usize, group: usize, kernel: usize) {
    l.config.stages[stage].groups[group].kernel = kernel;
    for block in 0..2 {
        let name = format!("layers.{stage}.blocks.{block}.attn.rpb.{group}");
        let t = resize_table(&l.weights[&name], kernel);
        l.weights.insert(name, t);
    }
}

fn check_exactness(kind: BackendKind, tol: f32) {
    let mut plain = engine(loaded(), kind);
    let base = render(&mut plain, &[]);
    // scale = 1 is no edit, bit for bit.
    assert_eq!(render(&mut plain, &["3:1:scale=1", "2.0:0:scale=1"]), base);

    // scale = 0 ≡ the group's columns of the output projection zeroed.
    let ablated = render(&mut plain, &["3:1:scale=0"]);
    let mut l = loaded();
    zero_group_columns(&mut l, 3, 1);
    let want = render(&mut engine(l, kind), &[]);
    let (d, _) = diff(&ablated, &want);
    assert!(d <= tol, "{kind:?} scale=0 vs zeroed weights: {d}");
    assert!(
        diff(&ablated, &base).0 > 1e-2,
        "ablating a group changes the image"
    );

    // A half scale is between: linear in the group's share of the projection input.
    let half = render(&mut plain, &["3:1:scale=0.5"]);
    assert!(diff(&half, &base).0 > 1e-3 && diff(&half, &ablated).0 > 1e-3);

    // Dilation and kernel overrides ≡ a config with those values (tables resized by hand).
    let edited = render(
        &mut plain,
        &[
            "2:0:dilation=2",
            "2:1:dilation=1",
            "3:0:kernel=9",
            "2:1:kernel=5",
        ],
    );
    let mut l = loaded();
    l.config.stages[2].groups[0].dilation = 2;
    l.config.stages[2].groups[1].dilation = 1;
    with_kernel(&mut l, 3, 0, 9);
    with_kernel(&mut l, 2, 1, 5);
    let want = render(&mut engine(l, kind), &[]);
    let (d, _) = diff(&edited, &want);
    assert!(d <= tol, "{kind:?} overrides vs edited config: {d}");
    assert!(
        diff(&edited, &base).0 > 1e-2,
        "the overrides change the image"
    );
}

#[test]
fn edits_are_exact_on_the_cpu() {
    check_exactness(BackendKind::Cpu, 1e-5);
}

#[test]
fn edits_are_exact_on_wgpu() {
    check_exactness(BackendKind::Wgpu, 1e-4);
}

#[test]
fn a_block_edit_touches_only_that_block() {
    let mut e = engine(loaded(), BackendKind::Cpu);
    let both = render(&mut e, &["4:0:scale=0"]);
    let first = render(&mut e, &["4.0:0:scale=0"]);
    let split = render(&mut e, &["4.0:0:scale=0", "4.1:0:scale=0"]);
    assert_eq!(both, split);
    assert!(diff(&both, &first).0 > 1e-3);
}

#[test]
fn edits_the_model_cannot_hold_are_refused() {
    let mut e = engine(loaded(), BackendKind::Cpu);
    let base = render(&mut e, &[]);
    for (edit, says) in [
        (
            "3:1:dilation=8",
            "kernel 7 × dilation 8 does not fit the stage's 32×32 map",
        ),
        (
            "9:0:scale=0",
            "stage 9 does not exist (the model has stages 0-5)",
        ),
        ("2:2:scale=0", "stage 2 has 2 head group(s)"),
        ("0:0:dilation=2", "does not fit the stage's 4×4 map"),
    ] {
        let err = e.set_head_edits(&edits(&[edit])).unwrap_err().to_string();
        assert!(err.contains(says), "{edit}: {err}");
    }
    // A refused edit leaves the engine as it was.
    let w = wplus(&e);
    assert_eq!(e.synthesize(&w, 2, |_| {}).unwrap().data, base);
}

#[test]
fn an_edit_resumes_from_its_block_bit_identically() {
    let mut e = engine(loaded(), BackendKind::Cpu);
    let w = wplus(&e);
    e.render_incremental(&w, None).unwrap();
    for (list, first) in [
        (&["4.1:1:scale=0.3"][..], 9),
        (&["4.1:1:scale=0.3", "2:0:dilation=2"][..], 4),
        (&["4.1:1:scale=0.3"][..], 4),
        (&[][..], 9),
    ] {
        e.set_head_edits(&edits(list)).unwrap();
        let r = e.render_incremental(&w, None).unwrap();
        assert_eq!(r.first_block, first, "{list:?}");
        let got = stylenat::kernels::to_host(r.image).unwrap();
        let full = e.synthesize(&w, 2, |_| {}).unwrap().data;
        assert_eq!(got, full, "{list:?}: resumed pass equals a full one");
    }
}

#[test]
fn the_command_line_renders_records_and_refuses_edits() {
    let dir = tempfile::tempdir().unwrap();
    let (c, out) = (common::ckpt(), dir.path().display().to_string());
    let edit = [
        "--group-edit",
        "3:1:scale=0",
        "--group-edit",
        "2.0:0:dilation=2",
    ];
    let gen_args = ["generate", "--ckpt", &c, "--seeds", "5", "--outdir", &out];
    common::stylenat_ok(&[&gen_args[..], &edit].concat());
    let png = dir.path().join("5.png");
    let r = common::stylenat_ok(&["info", &png.display().to_string()]);
    let p: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(
        p["recipe"]["group_edits"],
        serde_json::json!([
            {"stage": 3, "block": null, "group": 1, "op": {"scale": 0.0}},
            {"stage": 2, "block": 0, "group": 0, "op": {"dilation": 2}},
        ]),
        "{p}"
    );
    // The PNG is the engine's image with the same edits.
    let mut e = engine(loaded(), BackendKind::Cpu);
    e.set_head_edits(&edits(&["3:1:scale=0", "2.0:0:dilation=2"]))
        .unwrap();
    let w = e.broadcast(
        &e.map(&e.z_for_seeds(&[5], Default::default()).unwrap())
            .unwrap(),
    );
    let want = e.synthesize(&w, 1, |_| {}).unwrap();
    let want = stylenat::io::image::to_rgb8(&want.data, 128, 128);
    assert_eq!(image::open(&png).unwrap().to_rgb8().into_raw(), want);

    // `synth` takes them too: its raw output is the engine's, bit for bit.
    let npy = dir.path().join("img.npy");
    let wfile = common::small_arg("wplus_in_wplus.npy");
    let synth = ["synth", "--ckpt", &c, "--wplus", &wfile, "--out-npy"];
    common::stylenat_ok(&[&synth[..], &[&npy.display().to_string()], &edit].concat());
    let w = common::npy(small("wplus_in_wplus.npy"));
    assert_eq!(
        common::npy(npy).data,
        e.synthesize(&w, 1, |_| {}).unwrap().data
    );

    // An edit the model cannot hold: a clear error and no file.
    let bad_dir = dir.path().join("bad");
    let bad = common::stylenat(&[
        "generate",
        "--ckpt",
        &c,
        "--seeds",
        "5",
        "--outdir",
        &bad_dir.display().to_string(),
        "--group-edit",
        "5:1:dilation=32",
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("kernel 7 × dilation 32 does not fit the stage's 128×128 map"),
        "{err}"
    );
    assert!(!bad_dir.join("5.png").exists());
}

/// The explorer's sequence: previews of several depths while edits come and go, an unedited
/// image in between; every final image equals a full pass with its edits.
#[test]
fn previews_and_unedited_images_keep_the_cache_true() {
    let mut e = engine(loaded(), BackendKind::Cpu);
    let w = wplus(&e);
    let steps: [(&[&str], &[usize]); 6] = [
        (&[], &[]),
        (&["3:1:scale=0"], &[1, 2, 3]),
        (&["3:1:scale=0"], &[4]),
        (&[], &[0, 3]),
        (&["3:1:scale=0"], &[2]),
        (&[], &[1]),
    ];
    for (i, (list, previews)) in steps.iter().enumerate() {
        e.set_head_edits(&edits(list)).unwrap();
        for &s in *previews {
            e.render_incremental(&w, Some(s)).unwrap();
        }
        let got =
            stylenat::kernels::to_host(e.render_incremental(&w, None).unwrap().image).unwrap();
        let unedited = e.synthesize_unedited_on_device(&w).unwrap();
        let full = e.synthesize(&w, 2, |_| {}).unwrap().data;
        assert_eq!(got, full, "step {i} {list:?}");
        if list.is_empty() {
            assert_eq!(stylenat::kernels::to_host(unedited).unwrap(), full);
        }
    }
}

/// Attention maps follow a dilation override: they equal the maps of a generator built with
/// that dilation, and their legend names it.
#[test]
fn attention_maps_follow_the_overrides() {
    use stylenat::analysis::attention::attention_maps;
    let mut e = engine(loaded(), BackendKind::Cpu);
    e.set_head_edits(&edits(&["3:1:dilation=2", "3:0:kernel=5"]))
        .unwrap();
    let w = e.broadcast(
        &e.map(&e.z_for_seeds(&[4], Default::default()).unwrap())
            .unwrap(),
    );
    let got = attention_maps(&e, &w, 3, 1, (50, 70)).unwrap();
    let mut l = loaded();
    l.config.stages[3].groups[1].dilation = 2;
    with_kernel(&mut l, 3, 0, 5);
    let want = attention_maps(&engine(l, BackendKind::Cpu), &w, 3, 1, (50, 70)).unwrap();
    for (g, h) in got.groups.iter().zip(&want.groups) {
        assert_eq!((g.kernel, g.dilation), (h.kernel, h.dilation));
        assert!(diff(&g.mean, &h.mean).0 < 1e-6);
    }
    assert_eq!((got.groups[0].kernel, got.groups[1].dilation), (5, 2));
}
