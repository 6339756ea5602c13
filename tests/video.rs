//! Videos checked by an independent decoder (ffprobe/ffmpeg from Debian, installed by
//! `.ci/run` for the tests only; the program itself never runs them).

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use stylenat::Error;
use stylenat::compose::Composer;
use stylenat::engine::Engine;
use stylenat::io::video::VideoOptions;
use stylenat::keyframes::{VideoSpec, render_video};
use stylenat::latent::interp::Interp;

fn tool(name: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("`{name}` is needed to check videos (apt-get install ffmpeg; .ci/run does): {e}")
    });
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// (codec, width, height, frame rate, decoded frame count) as ffprobe sees them.
fn probe(path: &Path) -> (String, usize, usize, String, usize) {
    let text = tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height,r_frame_rate,nb_read_frames",
            "-of",
            "json",
            &path.display().to_string(),
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let s = &v["streams"][0];
    (
        s["codec_name"].as_str().unwrap().to_string(),
        s["width"].as_u64().unwrap() as usize,
        s["height"].as_u64().unwrap() as usize,
        s["r_frame_rate"].as_str().unwrap().to_string(),
        s["nb_read_frames"].as_str().unwrap().parse().unwrap(),
    )
}

/// Every frame decoded by ffmpeg to RGB24.
fn decode(path: &Path, w: usize, h: usize) -> Vec<Vec<u8>> {
    let raw = tool(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            &path.display().to_string(),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
    );
    assert_eq!(raw.len() % (w * h * 3), 0);
    raw.chunks(w * h * 3).map(<[u8]>::to_vec).collect()
}

fn assert_alive(frames: &[Vec<u8>]) {
    for (i, f) in frames.iter().enumerate() {
        let mean = f.iter().map(|&v| v as f64).sum::<f64>() / f.len() as f64;
        let var = f.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / f.len() as f64;
        assert!(var > 25.0, "frame {i} is flat (variance {var})");
    }
    let moving = frames.windows(2).filter(|p| p[0] != p[1]).count();
    assert!(
        moving + 1 >= frames.len() * 9 / 10,
        "only {moving} of {} frame pairs differ",
        frames.len()
    );
}

#[test]
fn mp4_loop_has_the_frames_size_and_rate_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loop.mp4");
    let ckpt = small("checkpoint.pt").display().to_string();
    stylenat_ok(&[
        "video",
        "--ckpt",
        &ckpt,
        "--seeds",
        "1,2,3",
        "--loop",
        "--frames-per-transition",
        "8",
        "--fps",
        "30",
        "--interp",
        "slerp",
        "--trunc",
        "0.8",
        "--out",
        &out.display().to_string(),
    ]);
    let (codec, w, h, rate, n) = probe(&out);
    assert_eq!(codec, "h264");
    assert_eq!((w, h), (128, 128));
    assert_eq!(rate, "30/1");
    assert_eq!(n, 24, "3 transitions × 8 frames");
    let frames = decode(&out, w, h);
    assert_eq!(frames.len(), 24);
    assert_alive(&frames);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no leftovers"
    );
}

#[test]
fn grid_of_loops_tiles_the_cells() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid.mp4");
    let ckpt = small("checkpoint.pt").display().to_string();
    stylenat_ok(&[
        "video",
        "--ckpt",
        &ckpt,
        "--seeds",
        "0-7",
        "--grid",
        "2x2",
        "--loop",
        "--frames-per-transition",
        "5",
        "--fps",
        "60",
        "--out",
        &out.display().to_string(),
    ]);
    let (_, w, h, rate, n) = probe(&out);
    assert_eq!((w, h, rate.as_str(), n), (256, 256, "60/1", 10));
    let frames = decode(&out, w, h);
    // The four cells follow different seeds: their top-left pixels' rows differ.
    let cell = |f: &[u8], c: usize| {
        let (x, y) = ((c % 2) * 128, (c / 2) * 128);
        (0..128)
            .flat_map(|dx| f[((y + 64) * 256 + x + dx) * 3..][..3].to_vec())
            .collect::<Vec<u8>>()
    };
    for c in 1..4 {
        assert_ne!(cell(&frames[0], 0), cell(&frames[0], c), "cell {c}");
    }
    assert_alive(&frames);
}

fn spec(engine: &Engine) -> VideoSpec {
    let w = engine
        .map(&engine.z_for_seeds(&[4, 5], Default::default()).unwrap())
        .unwrap();
    let wplus = engine.broadcast(&w);
    let per = wplus.data.len() / 2;
    VideoSpec {
        cells: vec![wplus.data.chunks(per).map(<[f32]>::to_vec).collect()],
        recipe: Default::default(),
        cols: 1,
        frames_per_transition: 6,
        looping: true,
        interp: Interp::Cubic,
        fps: 24.0,
        batch: 2,
        options: VideoOptions::default(),
    }
}

#[test]
fn cancelled_or_failed_exports_leave_the_old_file_and_no_temporaries() {
    let mut engine = fixture_engine();
    let spec = spec(&engine);
    assert_eq!(spec.frame_count(), 12);
    let dir = tempfile::tempdir().unwrap();
    for name in ["old.mp4", "old.gif"] {
        let out = dir.path().join(name);
        std::fs::write(&out, b"previous export").unwrap();
        let mut calls = 0;
        let r = render_video(
            &mut engine,
            &mut Composer::default(),
            &spec,
            &out,
            |done, total| {
                assert!(done <= total);
                calls += 1;
                calls < 3
            },
        );
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        assert_eq!(std::fs::read(&out).unwrap(), b"previous export");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "temporaries left behind"
    );

    // A folder that does not exist: a clear error naming the file.
    let missing = dir.path().join("no/such/folder/out.mp4");
    let e = render_video(
        &mut engine,
        &mut Composer::default(),
        &spec,
        &missing,
        |_, _| true,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("cannot write") && e.contains("out.mp4"), "{e}");

    // Finishing writes a complete file in one step.
    let out = dir.path().join("done.gif");
    let stats = render_video(
        &mut engine,
        &mut Composer::default(),
        &spec,
        &out,
        |_, _| true,
    )
    .unwrap();
    assert_eq!((stats.frames, stats.width, stats.height), (12, 128, 128));
    let (codec, _, _, _, n) = probe(&out);
    assert_eq!((codec.as_str(), n), ("gif", 12));
}
