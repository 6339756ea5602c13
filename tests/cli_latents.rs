//! The recipe from the command line, with the real `stylenat` binary: provenance, grids and
//! mixing, attention maps, directions and edits, and values the model cannot take.

mod common;
use common::*;

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
        &small_arg("wplus_in_wplus.npy"),
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

/// The message both front ends give for a truncation cutoff beyond the model's layers.
const CUTOFF_ERROR: &str = "truncation cutoff 99 is larger than the model's 12 W+ layers";

/// Out-of-range values are refused by the one recipe, with the same words as the explorer
/// (tests/explorer.rs), and nothing is written.
#[test]
fn out_of_range_recipe_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.display().to_string();
    let c = ckpt();
    let base = ["generate", "--ckpt", &c, "--seeds", "1", "--outdir", &o];
    let cutoff = stylenat(&[&base[..], &["--trunc", "0.7", "--trunc-cutoff", "99"]].concat());
    assert!(!cutoff.status.success());
    assert!(String::from_utf8_lossy(&cutoff.stderr).contains(CUTOFF_ERROR));
    let mix = ["--mix-seed", "3", "--mix-layers", "10-12"];
    let layers = stylenat(&[&base[..], &mix].concat());
    assert!(!layers.status.success());
    let err = String::from_utf8_lossy(&layers.stderr);
    assert!(err.contains("W+ layer 12 does not exist"), "{err}");
    assert!(
        !out.join("1.png").exists(),
        "a refused recipe wrote an image"
    );
}
