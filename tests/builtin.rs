//! The built-in model: embedded, small, loads without a file, and is what commands use when no
//! checkpoint is given.

mod common;

use common::*;
use stylenat::checkpoint::{self, ConfigSource, builtin};

#[test]
fn builtin_model_is_small_and_loads() {
    assert!(builtin::size() <= 10 << 20, "{} bytes", builtin::size());
    let loaded = checkpoint::load(
        std::path::Path::new(builtin::NAME),
        &ConfigSource::Checkpoint,
    )
    .unwrap();
    assert_eq!(loaded.config.size, 32);
    loaded.build(&burn::tensor::Device::flex()).unwrap();
}

#[test]
fn commands_default_to_the_builtin_model() {
    let info = stylenat_ok(&["info"]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains(builtin::NAME) && text.contains("32×32"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    stylenat_ok(&[
        "generate", "--seeds", "0-3", "--grid", "4x1", "--outdir", out,
    ]);
    let grid = image::open(dir.path().join("grid.png")).unwrap().to_rgb8();
    assert_eq!(grid.dimensions(), (128, 32));
    // Four different seeds give four different images.
    let cells: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            image::imageops::crop_imm(&grid, i * 32, 0, 32, 32)
                .to_image()
                .into_raw()
        })
        .collect();
    for i in 0..4 {
        for j in i + 1..4 {
            assert_ne!(cells[i], cells[j], "seeds {i} and {j} gave the same image");
        }
    }
}
