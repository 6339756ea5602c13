//! Faults: no GPU adapter, unwritable outputs, a full disk, a killed export.

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};
use stylenat::app::protocol::RenderArgs;
use stylenat::app::protocol::{Reply, Request};
use stylenat::app::worker::Worker;
use stylenat::backend::Backend;

#[test]
fn no_gpu_adapter_falls_back_to_the_cpu_with_a_notice() {
    let mut worker = Worker::spawn_with(
        || -> stylenat::Result<Backend> {
            Err(stylenat::Error::Backend(
                "no usable wgpu adapter: (simulated)".into(),
            ))
        },
        None,
        || {},
    )
    .unwrap();
    worker.send(Request::Load(small("checkpoint.pt")));
    worker.send(Request::Render(RenderArgs::default()));
    let (mut notice, mut backend, mut image) = (None, None, false);
    let t0 = Instant::now();
    while !image {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no image after the fallback"
        );
        for r in worker.take() {
            match r {
                Reply::Failed { message: e, .. } => notice = Some(e),
                Reply::Loaded(m) => backend = Some(m.backend),
                Reply::Image(_) => image = true,
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let notice = notice.expect("a notice about the fallback");
    assert!(
        notice.contains("no usable wgpu adapter") && notice.contains("falling back to the CPU")
    );
    assert!(backend.unwrap().starts_with("CPU"));
}

#[test]
fn unwritable_destinations_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let ckpt = small("checkpoint.pt").display().to_string();
    for args in [
        vec![
            "video",
            "--ckpt",
            &ckpt,
            "--seeds",
            "1,2",
            "--frames-per-transition",
            "2",
        ],
        vec![
            "latents",
            "--dim",
            "8",
            "--seeds",
            "1",
            "--seed-mode",
            "nvlabs",
            "--space",
            "z",
        ],
    ] {
        let out = file.join("out.mp4"); // a path *inside* a regular file
        let out = if args[0] == "latents" {
            file.join("z.npy")
        } else {
            out
        };
        let r = Command::new(STYLENAT)
            .args(&args)
            .args(["--out", &out.display().to_string()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success());
        assert!(
            err.contains("cannot write") && err.contains("a-file"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let r = Command::new(STYLENAT)
        .args(["generate", "--ckpt", &ckpt, "--seeds", "1", "--outdir"])
        .arg(file.join("sub"))
        .output()
        .unwrap();
    assert!(!r.status.success());
    assert!(!String::from_utf8_lossy(&r.stderr).contains("panicked"));
}

/// A write that fails halfway (a full disk; simulated with a file-size limit, so `write`
/// returns EFBIG like it would ENOSPC) leaves the previous file intact and no temporaries.
#[test]
fn a_full_disk_mid_export_keeps_the_previous_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loop.mp4");
    std::fs::write(&out, b"the previous export").unwrap();
    let script = format!(
        "trap '' XFSZ; exec prlimit --fsize=30000 -- {} video --ckpt {} --seeds 1,2,3 --loop \
         --frames-per-transition 30 --quality 12 --force --out {}",
        STYLENAT,
        small("checkpoint.pt").display(),
        out.display()
    );
    let r = Command::new("bash").args(["-c", &script]).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "the export should fail: {err}");
    assert!(
        err.contains("cannot write") && err.contains("loop.mp4"),
        "{err}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"the previous export");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporaries left: {names:?}");
}

/// Killing the program mid-export never leaves a partial file at the destination.
#[test]
fn a_killed_export_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("long.gif");
    let mut child = Command::new(STYLENAT)
        .args(["video", "--ckpt"])
        .arg(small("checkpoint.pt"))
        .args([
            "--seeds",
            "1,2,3",
            "--loop",
            "--frames-per-transition",
            "500",
            "--out",
        ])
        .arg(&out)
        .spawn()
        .unwrap();
    // Wait until it is writing (its temporary exists), then kill it.
    let t0 = Instant::now();
    loop {
        let writing = std::fs::read_dir(dir.path())
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".part"));
        if writing && t0.elapsed() > Duration::from_millis(1500) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the export never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "a partial file appeared at the destination");
}
