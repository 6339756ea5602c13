//! The real `stylenat` binary, as a user runs it.

mod common;
use common::*;

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
    let run = stylenat_ok(&args);
    // No --batch: the automatic choice is made and said.
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(said.contains("(automatic:"), "{said}");
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

#[test]
fn synth_contract_reproduces_the_fixture() {
    synth_matches(
        &ckpt(),
        &["--wplus", &small_arg("wplus_in_wplus.npy")],
        "wplus",
    );
    let z = small_arg("z_plain_in_z.npy");
    let mean = small_arg("mean_latent.npy");
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
    synth_matches(&st, &["--wplus", &small_arg("mix_in_wplus.npy")], "mix");
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
