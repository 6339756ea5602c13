//! The real `stylenat` binary, as a user runs it.

mod common;
use common::*;
fn ckpt() -> String {
    small("checkpoint.pt").display().to_string()
}

#[test]
fn generate_writes_decodable_pngs_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let args = [
        "generate",
        "--ckpt",
        &ckpt(),
        "--seeds",
        "3,1-2",
        "--trunc",
        "0.7",
        "--mix-seed",
        "9",
        "--mix-layers",
        "6-11",
        "--naming",
        "nvlabs",
        "--outdir",
        &out,
    ];
    stylenat_ok(&args);
    for s in ["seed0001", "seed0002", "seed0003"] {
        let img = image::open(dir.path().join(format!("{s}.png")))
            .unwrap()
            .to_rgb8();
        assert_eq!(img.dimensions(), (128, 128));
        let first = img.get_pixel(0, 0);
        assert!(img.pixels().any(|p| p != first), "{s} is a flat image");
    }
    let again = stylenat(&args);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

/// Runs `stylenat synth --ckpt <ckpt> <input…>` and checks the output against `<case>_out_img`.
fn synth_matches(ckpt: &str, input: &[&str], case: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("img.npy");
    let out_arg = out.display().to_string();
    let mut args = vec!["synth", "--ckpt", ckpt];
    args.extend_from_slice(input);
    args.extend_from_slice(&["--out-npy", &out_arg]);
    stylenat_ok(&args);
    let want = npy(small(&format!("{case}_out_img.npy")));
    assert_close(&format!("synth {input:?}"), &npy(out), &want, 1e-3, 1e-4);
}

fn path(rel: &str) -> String {
    small(rel).display().to_string()
}

#[test]
fn synth_contract_reproduces_the_fixture() {
    synth_matches(&ckpt(), &["--wplus", &path("wplus_in_wplus.npy")], "wplus");
    let z = path("z_plain_in_z.npy");
    let mean = path("mean_latent.npy");
    synth_matches(
        &ckpt(),
        &["--z", &z, "--trunc", "0.7", "--trunc-mean", &mean],
        "z_trunc",
    );
}

#[test]
fn info_describes_the_architecture() {
    let r = stylenat(&["info", &ckpt()]);
    assert!(r.status.success());
    let text = String::from_utf8_lossy(&r.stdout);
    for needle in [
        "legacy",
        "645177",
        "128×128",
        "W+ layers   12",
        "2×k7/d1, 2×k7/d16",
        "full attention (4 heads)",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
}

#[test]
fn latents_write_the_interchange_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.npz");
    stylenat_ok(&[
        "latents",
        "--ckpt",
        &ckpt(),
        "--seeds",
        "0-4",
        "--space",
        "wplus",
        "--out",
        &out.display().to_string(),
    ]);
    let w = stylenat::io::npy::read_array(&out, Some("w")).unwrap();
    assert_eq!(w.shape, vec![5, 12, 64]);
}

#[test]
fn bad_checkpoint_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pt");
    std::fs::write(&bad, b"definitely not a checkpoint").unwrap();
    let r = stylenat(&["info", &bad.display().to_string()]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("not a PyTorch checkpoint"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn convert_writes_a_native_file_that_generates_the_same_image() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("small.safetensors").display().to_string();
    stylenat_ok(&["convert", "--ckpt", &ckpt(), "--out", &st]);
    synth_matches(&st, &["--wplus", &path("mix_in_wplus.npy")], "mix");
}

#[test]
fn pngs_carry_their_recipe_and_wplus_files_generate_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    stylenat_ok(&[
        "generate",
        "--ckpt",
        &ckpt(),
        "--seeds",
        "7",
        "--trunc",
        "0.6",
        "--mix-seed",
        "3",
        "--mix-layers",
        "8-11",
        "--outdir",
        &out,
    ]);
    let png = dir.path().join("7.png").display().to_string();
    let r = stylenat_ok(&["info", &png]);
    let p: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(p["seed"], 7);
    assert_eq!(p["psi"].as_f64().map(|v| (v * 10.0).round()), Some(6.0));
    assert_eq!(p["mix_seed"], 3);
    assert_eq!(p["mix_layers"], serde_json::json!([8, 9, 10, 11]));
    assert_eq!(p["checkpoint"], "checkpoint.pt");
    // The fixture manifest's sha256 of checkpoint.pt.
    assert_eq!(
        p["checkpoint_sha256"],
        "300ab99e18d5b41cae6b35d5530bdc4dcd6b805a02906dce6a18436ddae8811d"
    );

    // --wplus: the fixture's W+ gives the fixture's image (compared in pixel space).
    let wdir = dir.path().join("w");
    stylenat_ok(&[
        "generate",
        "--ckpt",
        &ckpt(),
        "--wplus",
        &path("wplus_in_wplus.npy"),
        "--outdir",
        &wdir.display().to_string(),
    ]);
    let got = image::open(wdir.join("wplus0000.png")).unwrap().to_rgb8();
    let want = npy(small("wplus_out_img.npy"));
    let want = stylenat::io::image::to_rgb8(&want.data, 128, 128);
    let worst = got
        .as_raw()
        .iter()
        .zip(&want)
        .map(|(a, b)| (*a as i32 - *b as i32).abs())
        .max();
    assert!(worst <= Some(1), "pixels differ by {worst:?}");
}

#[test]
fn seed_grid_and_style_mixing_grid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    stylenat_ok(&[
        "generate",
        "--ckpt",
        &ckpt(),
        "--seeds",
        "0-5",
        "--grid",
        "3x2",
        "--outdir",
        &out,
    ]);
    let grid = image::open(dir.path().join("grid.png")).unwrap().to_rgb8();
    assert_eq!(grid.dimensions(), (3 * 128, 2 * 128));
    let bad = stylenat(&[
        "generate",
        "--ckpt",
        &ckpt(),
        "--seeds",
        "0-4",
        "--grid",
        "3x2",
        "--outdir",
        &out,
        "--force",
    ]);
    assert!(
        !bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("needs 6 images")
    );

    let mix = dir.path().join("mix.png");
    stylenat_ok(&[
        "mix",
        "--ckpt",
        &ckpt(),
        "--rows",
        "1,2,3",
        "--cols",
        "4,5",
        "--layers",
        "0-5",
        "--out",
        &mix.display().to_string(),
    ]);
    let img = image::open(&mix).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (3 * 128, 4 * 128));
    // Blank corner; a mixed cell differs from both of its sources.
    assert!((0..128).all(|y| (0..128).all(|x| img.get_pixel(x, y).0 == [0, 0, 0])));
    let cell = |r: u32, c: u32| -> Vec<u8> {
        let img = &img;
        (0..128)
            .flat_map(|y| (0..128).flat_map(move |x| img.get_pixel(c * 128 + x, r * 128 + y).0))
            .collect()
    };
    let (row_src, col_src, mixed) = (cell(1, 0), cell(0, 1), cell(1, 1));
    assert_ne!(mixed, row_src);
    assert_ne!(mixed, col_src);
}

#[test]
fn video_writes_a_looping_gif() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loop.gif");
    let args = [
        "video",
        "--ckpt",
        &ckpt(),
        "--seeds",
        "1,2,3",
        "--loop",
        "--frames-per-transition",
        "4",
        "--fps",
        "25",
        "--interp",
        "cubic",
        "--out",
        &out.display().to_string(),
    ];
    stylenat_ok(&args);
    // Decode it independently of our writer's settings.
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut dec = opts.read_info(std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!((dec.width(), dec.height()), (128, 128));
    let mut frames = Vec::new();
    while let Some(f) = dec.read_next_frame().unwrap() {
        assert_eq!(f.delay, 4, "25 fps = 4/100 s");
        frames.push(f.buffer.to_vec());
    }
    assert_eq!(frames.len(), 12, "3 transitions × 4 frames");
    for f in &frames {
        assert!(f.chunks(4).any(|p| p != &f[..4]), "a flat frame");
    }
    assert!(
        frames.windows(2).all(|w| w[0] != w[1]),
        "consecutive frames should differ"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode & 0o044,
            0o044,
            "output should be readable by others, mode {mode:o}"
        );
    }
    // Nothing left behind but the GIF (no temporary files), and no overwrite without --force.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    assert!(!stylenat(&args).status.success());
}

#[test]
fn attention_directions_and_edits_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let maps = dir.path().join("maps.png");
    let r = stylenat_ok(&[
        "attention",
        "--ckpt",
        &ckpt(),
        "--seeds",
        "4",
        "--pixel",
        "64,20",
        "--stage",
        "4",
        "--out",
        &maps.display().to_string(),
    ]);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("kernel 7, dilation 8"), "{text}");
    // The image plus one panel per head group (stage 4 of the fixture has two).
    let img = image::open(&maps).unwrap();
    assert_eq!((img.width(), img.height()), (3 * 128, 128));

    let dirs = dir.path().join("dirs.npz");
    let r = stylenat_ok(&[
        "directions",
        "--ckpt",
        &ckpt(),
        "--components",
        "8",
        "--samples",
        "2000",
        "--out",
        &dirs.display().to_string(),
    ]);
    assert!(String::from_utf8_lossy(&r.stdout).contains("cumulative"));

    let plain = dir.path().join("plain");
    let edited = dir.path().join("edited");
    let generate = |out: &std::path::Path, extra: &[&str]| {
        let c = ckpt();
        let mut args = vec!["generate", "--ckpt", &c, "--seeds", "6"];
        let o = out.display().to_string();
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--outdir", &o]);
        stylenat_ok(&args);
        image::open(out.join("6.png")).unwrap().to_rgb8().into_raw()
    };
    let edit = format!("{}:0:+3:0-5", dirs.display());
    let (a, b) = (generate(&plain, &[]), generate(&edited, &["--edit", &edit]));
    let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert!(
        changed > a.len() / 4,
        "the edit changed only {changed} values"
    );
    // The edit is recorded in the PNG.
    let info = stylenat(&["info", &edited.join("6.png").display().to_string()]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("dirs.npz:0:+3:0-5"));
    let bad = stylenat(&[
        "generate",
        "--ckpt",
        &ckpt(),
        "--seeds",
        "6",
        "--edit",
        "dirs.npz:x",
        "--outdir",
        "x",
    ]);
    assert!(!bad.status.success());
}

/// `synth --out-npy`, `bench --json` and `quality --json` refuse to replace a file without
/// `--force`, and leave it as it was.
#[test]
fn every_writer_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("taken");
    let w = dir.path().join("w.npy");
    let ckpt = small("checkpoint.pt").display().to_string();
    stylenat_ok(&[
        "latents",
        "--ckpt",
        &ckpt,
        "--seeds",
        "1",
        "--space",
        "wplus",
        "--out",
        w.to_str().unwrap(),
    ]);
    let taken = existing.to_str().unwrap();
    let wp = w.to_str().unwrap();
    for args in [
        vec!["synth", "--ckpt", &ckpt, "--wplus", wp, "--out-npy", taken],
        vec!["bench", "--ckpt", &ckpt, "--runs", "1", "--json", taken],
        vec![
            "quality",
            "--untrained",
            "--samples",
            "10",
            "--classifier",
            "x.safetensors",
            "--json",
            taken,
        ],
    ] {
        std::fs::write(&existing, b"keep me").unwrap();
        let r = stylenat(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{args:?} replaced the file");
        assert!(
            err.contains("already exists") && err.contains("--force"),
            "{args:?}: {err}"
        );
        assert_eq!(std::fs::read(&existing).unwrap(), b"keep me", "{args:?}");
    }
    // With --force the writer does replace it.
    stylenat_ok(&[
        "synth",
        "--ckpt",
        &ckpt,
        "--wplus",
        wp,
        "--out-npy",
        taken,
        "--force",
    ]);
    assert_ne!(std::fs::read(&existing).unwrap(), b"keep me");
}

/// Nothing that works prints `error:` (wgpu probing on a machine without XDG_RUNTIME_DIR used
/// to), and a failure names each cause once.
#[test]
fn messages_say_each_thing_once_and_no_error_on_success() {
    let r = std::process::Command::new(STYLENAT)
        .args(["info", "--json"])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert!(r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!err.to_lowercase().contains("error"), "{err}");
    let g = std::process::Command::new(STYLENAT)
        .args(["generate", "--seeds", "0", "--backend", "auto", "--outdir"])
        .arg(tempfile::tempdir().unwrap().path().join("out"))
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&g.stderr);
    assert!(g.status.success(), "{err}");
    assert!(!err.contains("error:"), "{err}");
    let missing = stylenat(&["info", "/nonexistent/x.pt"]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}
