//! Training images: a folder of PNG files, or Fashion-MNIST in the IDX format (as the Debian
//! package `dataset-fashion-mnist` installs it, gzip or raw). Images are kept as RGB8 at the
//! training size and converted to the generator's output space per batch.

use crate::error::{Error, Result};
use crate::io::image::from_rgb8;
use crate::rng::Rng;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where the Debian package puts Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The ten Fashion-MNIST classes, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Square RGB8 images of one size, with optional class labels.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub size: usize,
    pub pixels: Vec<u8>,
    pub labels: Option<Vec<u8>>,
    pub source: String,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.pixels.len() / (self.size * self.size * 3)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.size * self.size * 3;
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Images `indices` as one `[B, 3, S, S]` batch in the generator's output space.
    pub fn batch(&self, indices: &[usize]) -> Vec<f32> {
        indices
            .iter()
            .flat_map(|&i| from_rgb8(self.image(i), self.size, self.size))
            .collect()
    }

    /// `n` indices drawn uniformly with replacement.
    pub fn sample(&self, rng: &mut Rng, n: usize) -> Vec<usize> {
        (0..n).map(|_| rng.below(self.len())).collect()
    }

    /// Opens `spec`: `fashion-mnist` (the Debian package's files) or a folder holding
    /// Fashion-MNIST IDX files, either with an optional `:train` / `:test` split suffix; or a
    /// folder of PNG images.
    pub fn open(spec: &str, size: usize) -> Result<Self> {
        let (name, split) = match spec.rsplit_once(':') {
            Some((n, s)) if s == "train" || s == "test" => (n, s),
            _ => (spec, "train"),
        };
        if name == "fashion-mnist" {
            return fashion_mnist(Path::new(FASHION_MNIST_DIR), split, size).map_err(|e| {
                Error::Input(format!(
                    "{e} (install it with `apt-get install dataset-fashion-mnist`)"
                ))
            });
        }
        let dir = Path::new(name);
        if find_idx(dir, "train-images-idx3-ubyte").is_some() {
            return fashion_mnist(dir, split, size);
        }
        if spec != name {
            return Err(Error::Input(format!(
                "`{spec}`: splits exist only for Fashion-MNIST IDX folders"
            )));
        }
        image_folder(dir, size)
    }
}

fn find_idx(dir: &Path, stem: &str) -> Option<PathBuf> {
    [format!("{stem}.gz"), stem.to_string()]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Reads an IDX file (optionally gzip-compressed): magic `0x0000_08_nd`, `nd` big-endian
/// dimensions, then `u8` data.
fn read_idx(path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(1 << 30)
            .read_to_end(&mut out)
            .map_err(|e| Error::io(path, e))?;
        out
    } else {
        raw
    };
    let bad = |why: &str| Error::Format {
        path: path.to_path_buf(),
        reason: format!("not an IDX u8 file: {why}"),
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 8 {
        return Err(bad("bad magic number"));
    }
    let nd = bytes[3] as usize;
    let header = 4 + 4 * nd;
    if nd == 0 || bytes.len() < header {
        return Err(bad("truncated header"));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if n != Some(bytes.len() - header) {
        return Err(bad("data length does not match its dimensions"));
    }
    Ok((dims, bytes[header..].to_vec()))
}

fn fashion_mnist(dir: &Path, split: &str, size: usize) -> Result<Dataset> {
    let prefix = match split {
        "train" => "train",
        "test" => "t10k",
        other => {
            return Err(Error::Input(format!(
                "unknown Fashion-MNIST split `{other}` (train or test)"
            )));
        }
    };
    let find = |stem: String| {
        find_idx(dir, &stem).ok_or_else(|| {
            Error::Input(format!(
                "Fashion-MNIST file {stem}(.gz) not found in {}",
                dir.display()
            ))
        })
    };
    let (dims, images) = read_idx(&find(format!("{prefix}-images-idx3-ubyte"))?)?;
    let (ldims, labels) = read_idx(&find(format!("{prefix}-labels-idx1-ubyte"))?)?;
    if dims.len() != 3 || ldims != [dims[0]] {
        return Err(Error::Input(format!(
            "Fashion-MNIST images {dims:?} and labels {ldims:?} do not match"
        )));
    }
    let (n, h, w) = (dims[0], dims[1], dims[2]);
    let mut pixels = Vec::with_capacity(n * size * size * 3);
    for i in 0..n {
        let gray = &images[i * h * w..(i + 1) * h * w];
        pixels.extend(fit_gray(gray, h, w, size));
    }
    Ok(Dataset {
        size,
        pixels,
        labels: Some(labels),
        source: format!("Fashion-MNIST {split} ({})", dir.display()),
    })
}

/// A grey `h`×`w` image centred on a black `size`×`size` canvas (28 → 32 pads 2 pixels), or
/// resized when it does not fit; as RGB8.
fn fit_gray(gray: &[u8], h: usize, w: usize, size: usize) -> Vec<u8> {
    let img = image::GrayImage::from_raw(w as u32, h as u32, gray.to_vec()).expect("sized above");
    let img = if h > size || w > size {
        image::imageops::resize(
            &img,
            size as u32,
            size as u32,
            image::imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    let (ih, iw) = (img.height() as usize, img.width() as usize);
    let (top, left) = ((size - ih) / 2, (size - iw) / 2);
    let mut out = vec![0u8; size * size * 3];
    for y in 0..ih {
        for x in 0..iw {
            let v = img.get_pixel(x as u32, y as u32).0[0];
            out[((top + y) * size + left + x) * 3..][..3].fill(v);
        }
    }
    out
}

fn image_folder(dir: &Path, size: usize) -> Result<Dataset> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Input(format!(
            "{} holds no .png images (or Fashion-MNIST IDX files)",
            dir.display()
        )));
    }
    let mut pixels = Vec::with_capacity(files.len() * size * size * 3);
    for f in &files {
        let img = image::open(f)
            .map_err(|e| Error::Format {
                path: f.clone(),
                reason: e.to_string(),
            })?
            .to_rgb8();
        let img = image::imageops::resize(
            &img,
            size as u32,
            size as u32,
            image::imageops::FilterType::Triangle,
        );
        pixels.extend_from_slice(img.as_raw());
    }
    Ok(Dataset {
        size,
        pixels,
        labels: None,
        source: format!("{} PNG images in {}", files.len(), dir.display()),
    })
}
