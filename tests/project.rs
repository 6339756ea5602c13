//! Projection: a target the model generated itself (known latent) is found again.

mod common;
use stylenat::backend::{Backend, BackendKind};
use stylenat::checkpoint::{ConfigSource, builtin};
use stylenat::engine::Engine;
use stylenat::project::{ProjectConfig, Space, project, psnr};

fn builtin_engine() -> Engine {
    builtin_on(BackendKind::Cpu)
}

fn builtin_on(kind: BackendKind) -> Engine {
    Engine::load(
        std::path::Path::new(builtin::NAME),
        &ConfigSource::Checkpoint,
        Backend::init(kind).unwrap(),
    )
    .unwrap()
}

/// Projection on wgpu (lavapipe in CI; the WGSL forward and backward NA kernels under autodiff)
/// follows the CPU's optimisation step for step.
#[test]
fn projection_on_wgpu_follows_the_cpu() {
    let mut cpu = builtin_engine();
    let mut gpu = builtin_on(BackendKind::Wgpu);
    assert!(
        !stylenat::backend::is_cpu(&gpu.backend.device),
        "wgpu fell back to the CPU"
    );
    let target_w = common::seed_wplus(&mut cpu, 5);
    let target = cpu.synthesize(&target_w, 1, |_| {}).unwrap().data;
    let cfg = ProjectConfig {
        steps: 6,
        ..Default::default()
    };
    let run = |e: &mut Engine| {
        let mut losses = Vec::new();
        let w = project(e, &target, &cfg, 0, |p| {
            losses.push(p.loss);
            true
        })
        .unwrap();
        (w, losses)
    };
    let ((w_cpu, l_cpu), (w_gpu, l_gpu)) = (run(&mut cpu), run(&mut gpu));
    println!("losses cpu {l_cpu:?}\n       gpu {l_gpu:?}");
    for (a, b) in l_cpu.iter().zip(&l_gpu) {
        assert!((a - b).abs() <= 1e-3 * a.abs().max(1e-3), "loss {a} vs {b}");
    }
    let (max, _) = common::diff(&w_gpu.data, &w_cpu.data);
    assert!(max <= 1e-2, "W+ after {} steps differs by {max}", cfg.steps);
}

fn official_d(name: &str) -> String {
    format!(
        "{}/tests/data/official-d/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn a_generated_target_is_recovered() {
    recover_generated_target(None);
}

/// With the perceptual term (the 32-pixel official discriminator of `tests/data`, random
/// weights: its features still tie pixels together), the pixel fit stays as close.
#[test]
fn a_generated_target_is_recovered_with_the_perceptual_term() {
    let loaded = stylenat::checkpoint::discriminator::load(std::path::Path::new(&official_d(
        "eq32_legacy.pt",
    )))
    .unwrap()
    .unwrap();
    recover_generated_target(Some(loaded.build(&burn::tensor::Device::flex()).unwrap()));
}

fn recover_generated_target(critic: Option<stylenat::model::discriminator::Critic>) {
    let mut e = builtin_engine();
    let s = e.config().size;
    let target_w = common::seed_wplus(&mut e, 17);
    let target = e.synthesize(&target_w, 1, |_| {}).unwrap().data;
    let mean = e.mean_latent().unwrap();
    let d = e.config().style_dim;
    let start = e.broadcast(&stylenat::tensor::HostTensor::new(vec![1, d], mean));
    let before = psnr(&e.synthesize(&start, 1, |_| {}).unwrap().data, &target, s);
    let cfg = ProjectConfig {
        steps: 500,
        space: Space::Wplus,
        critic,
        ..Default::default()
    };
    let t0 = std::time::Instant::now();
    let mut losses = Vec::new();
    let w = project(&mut e, &target, &cfg, 0, |p| {
        losses.push(p.loss);
        true
    })
    .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let after = psnr(&e.synthesize(&w, 1, |_| {}).unwrap().data, &target, s);
    println!(
        "{} steps in {secs:.1} s ({:.0} ms/step); PSNR {before:.1} → {after:.1} dB; loss {:.4} → {:.4}",
        cfg.steps,
        secs * 1e3 / cfg.steps as f64,
        losses[0],
        losses[losses.len() - 1]
    );
    assert!(
        after >= 30.0,
        "PSNR {after:.1} dB (from {before:.1} dB at the mean W)"
    );
}

#[test]
fn project_command_writes_latent_and_reconstruction_and_refuses_bad_targets() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).display().to_string();
    common::stylenat_ok(&["generate", "--seeds", "5", "--outdir", &d("t")]);
    let target = dir.path().join("t/5.png");
    let out = d("w.npz");
    let r = common::stylenat_ok(&[
        "project",
        "--target",
        &d("t/5.png"),
        "--steps",
        "20",
        "--out",
        &out,
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("PSNR")
            && err.contains("resolution only (builtin:fashion32 carries no discriminator"),
        "{err}"
    );
    // A discriminator from another file makes the perceptual term, and the output says so.
    let r = common::stylenat_ok(&[
        "project",
        "--target",
        &d("t/5.png"),
        "--steps",
        "3",
        "--out",
        &d("wd.npz"),
        "--discriminator",
        &official_d("eq32_legacy.pt"),
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains(
            "+ 0.1 × perceptual distance on the features of the official StyleNAT \
             discriminator (equalised lr), 32 px from"
        ),
        "{err}"
    );
    // One for other image sizes, or a file without one: refused before anything is written.
    for (file, why) in [
        (official_d("sn64_hydra.pt"), "takes 64×64 images"),
        (common::ckpt(), "carries no discriminator"),
    ] {
        let r = common::stylenat(&[
            "project",
            "--target",
            &d("t/5.png"),
            "--out",
            &d("x.npz"),
            "--discriminator",
            &file,
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success() && err.contains(why), "{err}");
        assert!(!dir.path().join("x.npz").exists());
    }
    let w = stylenat::io::npy::read_array(std::path::Path::new(&out), Some("w")).unwrap();
    assert_eq!(w.shape, vec![1, 8, 128]);
    // The reconstruction's provenance names the target by its SHA-256.
    let info = common::stylenat_ok(&["info", &d("w.png")]);
    let digest = stylenat::io::provenance::sha256_bytes(&std::fs::read(&target).unwrap());
    assert!(String::from_utf8_lossy(&info.stdout).contains(&format!("(sha256 {digest})")));
    // --video: one frame per step, target | reconstruction (counted by ffprobe).
    let video = d("p.mp4");
    common::stylenat_ok(&[
        "project",
        "--target",
        &d("t/5.png"),
        "--steps",
        "6",
        "--out",
        &d("p.npz"),
        "--video",
        &video,
    ]);
    let probe = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=nb_read_frames,width,height",
            "-of",
            "csv=p=0",
            &video,
        ])
        .output()
        .expect("ffprobe runs (scripts/test.sh installs it)");
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "512,256,6");
    // Existing outputs are kept without --force.
    let again = common::stylenat(&["project", "--target", &d("t/5.png"), "--out", &out]);
    assert!(!again.status.success());
    // Not an image: a clear error, nothing written.
    std::fs::write(dir.path().join("bad.png"), b"not an image").unwrap();
    let bad = common::stylenat(&["project", "--target", &d("bad.png"), "--out", &d("b.npz")]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an image this tool can read"));
    assert!(!dir.path().join("b.npz").exists() && !dir.path().join("b.png").exists());
}

/// Real held-out images (Fashion-MNIST test split, installed by `scripts/test.sh`): the
/// projection beats the best of 100 random samples on each, and the figure has its three rows.
#[test]
fn projection_of_held_out_images_beats_the_best_random_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (json, figure) = (dir.path().join("eval.json"), dir.path().join("eval.png"));
    let args = |extra: &[&str]| {
        let mut v = vec![
            "project-eval",
            "--backend",
            "cpu",
            "--count",
            "2",
            "--baseline",
            "100",
            "--steps",
            "150",
            "--json",
            json.to_str().unwrap(),
            "--figure",
            figure.to_str().unwrap(),
        ];
        v.extend_from_slice(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        common::stylenat(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let images = result["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    for im in images {
        let (proj, best) = (
            im["projection_psnr_db"].as_f64().unwrap(),
            im["best_sample_psnr_db"].as_f64().unwrap(),
        );
        assert!(
            proj > best,
            "projection {proj:.2} dB vs best sample {best:.2} dB: {im}"
        );
    }
    assert_eq!(result["projection_wins"], 2);
    let png = image::open(&figure).unwrap();
    assert_eq!((png.width(), png.height()), (2 * 96, 3 * 96));
    // Existing outputs are not replaced without --force.
    let again = run(&[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}
