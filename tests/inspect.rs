//! The layer inspector against the official intermediates of the fixture (z_plain row 0), its
//! spectrum against a direct DFT, and the `inspect` command.

mod common;
use common::*;
use stylenat::analysis::inspect::{Normalise, inspect, inspect_planes, spectrum};
use stylenat::model::Site;
use stylenat::tensor::HostTensor;

/// z_plain row 0 as W+ (what the fixture's intermediates were recorded for).
fn z_plain0(e: &stylenat::engine::Engine) -> HostTensor {
    let z = npy(small("z_plain_in_z.npy"));
    let d = z.shape[1];
    let w = e
        .map(&HostTensor::new(vec![1, d], z.data[..d].to_vec()))
        .unwrap();
    e.broadcast(&w)
}

#[test]
fn channels_and_statistics_match_the_official_intermediates() {
    let e = fixture_engine();
    let w = z_plain0(&e);
    for (layer, file) in [
        ("stage4.block1", "stage4_block1_out"),
        ("stage3.block0.attn", "stage3_block0_attn_out"),
        ("stage2.upsample", "stage2_upsample_out"),
    ] {
        let want = npy(small(&format!("intermediates/z_plain0_{file}.npy")));
        let c = *want.shape.last().unwrap();
        let n = want.data.len() / c;
        let site = layer.parse::<Site>().unwrap();
        let ins = inspect(&e, &w, site, &[1], Normalise::PerChannel).unwrap();
        assert_eq!((ins.layer_channels, ins.size * ins.size), (c, n), "{layer}");
        let plane: Vec<f32> = (0..n).map(|p| want.data[p * c + 1]).collect();
        let mean = plane.iter().sum::<f32>() / n as f32;
        let std = (plane.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n as f32).sqrt();
        let max = plane.iter().copied().fold(f32::MIN, f32::max);
        let (m, s, x) = ins.stats[0];
        assert!((m - mean).abs() < 1e-3 && (s - std).abs() < 1e-3 && (x - max).abs() < 1e-3);
        // The brightest pixel of the picture is the channel's maximum (row-major tokens).
        let argmax = (0..n)
            .max_by(|&a, &b| plane[a].total_cmp(&plane[b]))
            .unwrap();
        assert_eq!(ins.picture[3 * argmax], 255, "{layer}");
    }
    // The ToRGB skip image: three channels as RGB, each its own range.
    let want = npy(small("intermediates/z_plain0_stage5_torgb_skip.npy"));
    let ins = inspect(
        &e,
        &w,
        "stage5.torgb".parse::<Site>().unwrap(),
        &[0, 1, 2],
        Normalise::Global,
    )
    .unwrap();
    assert_eq!(ins.size, 128);
    let (lo, hi) = want
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let p = 77 * 128 + 31;
    for ch in 0..3 {
        let v = want.data[ch * 128 * 128 + p];
        let grey = ((v - lo) / (hi - lo) * 255.0).round();
        assert!((ins.picture[3 * p + ch] as f32 - grey).abs() <= 1.0);
    }
    // A layer or channel that does not exist is a clear error.
    for (site, ch) in [
        ("stage6.block0", 0),
        ("stage5.upsample", 0),
        ("stage1.block0", 64),
    ] {
        let err = inspect(
            &e,
            &w,
            site.parse::<Site>().unwrap(),
            &[ch],
            Normalise::PerChannel,
        );
        assert!(
            err.unwrap_err().to_string().contains("does not exist"),
            "{site}"
        );
    }
}

#[test]
fn spectrum_is_the_centred_log_magnitude_of_the_dft() {
    for size in [6usize, 7] {
        let plane: Vec<f32> = (0..size * size)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3)
            .collect();
        let got = spectrum(&plane, size);
        let half = size / 2;
        for u in 0..size {
            for v in 0..size {
                let (mut re, mut im) = (0f64, 0f64);
                for y in 0..size {
                    for x in 0..size {
                        let a = -2.0 * std::f64::consts::PI * ((u * y) as f64 + (v * x) as f64)
                            / size as f64;
                        re += plane[y * size + x] as f64 * a.cos();
                        im += plane[y * size + x] as f64 * a.sin();
                    }
                }
                let want = (re.hypot(im)).ln_1p();
                let at = ((u + half) % size) * size + (v + half) % size;
                assert!((got[at] as f64 - want).abs() < 1e-4, "{size}: ({u},{v})");
            }
        }
    }
    // Normalising: one channel in grey, the spectrum's brightest point is DC for a positive map.
    let plane = vec![1.0f32; 16];
    let ins = inspect_planes(
        Site::BlockOut { stage: 0, block: 0 },
        (4, &plane),
        &[0],
        Normalise::PerChannel,
    )
    .unwrap();
    assert_eq!(ins.spectrum[2 * 4 + 2], 255);
}

#[test]
fn layer_names_parse_and_print() {
    for text in [
        "stage4.block1",
        "stage0.block0.attn",
        "stage2.upsample",
        "stage5.torgb",
    ] {
        assert_eq!(text.parse::<Site>().unwrap().to_string(), text);
    }
    for bad in [
        "stage4",
        "block1",
        "stage4.block1.mlp",
        "stagex.torgb",
        "stage1.block",
    ] {
        assert!(bad.parse::<Site>().is_err(), "{bad}");
    }
}

#[test]
fn inspect_command_writes_the_picture_and_refuses_bad_layers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.png");
    let o = out.display().to_string();
    let c = ckpt();
    let base = ["inspect", "--ckpt", &c, "--seeds", "3"];
    let layer = ["--layer", "stage4.block1"];
    let r = stylenat_ok(&[&base[..], &layer, &["--channels", "0,1,2", "--out", &o]].concat());
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("stage4.block1: 32 channels, 64×64"), "{text}");
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (512, 256));
    let again = stylenat(&[&base[..], &layer, &["--out", &o]].concat());
    assert!(
        !again.status.success(),
        "an existing file is not overwritten without --force"
    );
    let bad = dir.path().join("bad.png");
    let b = bad.display().to_string();
    let bad_channel = ["--layer", "stage1.block0", "--channels", "99", "--out", &b];
    let r = stylenat(&[&base[..], &bad_channel].concat());
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("channel 99 does not exist"));
    assert!(!bad.exists());
}
