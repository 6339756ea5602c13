//! Provenance stored inside exported PNGs: which checkpoint and latent recipe made an image,
//! so the image alone is enough to regenerate it (`stylenat info IMAGE.png` prints it).

use crate::error::{Error, Result};
use crate::latent::SeedMode;
use crate::latent::recipe::Recipe;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// PNG text keyword holding the JSON record.
const KEYWORD: &str = "stylenat";

/// How an image was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// `stylenat <version>`.
    pub app: String,
    /// Checkpoint file name (no directories: paths are private) and its SHA-256.
    pub checkpoint: Option<String>,
    pub checkpoint_sha256: Option<String>,
    pub seed_mode: SeedMode,
    pub seed: Option<u64>,
    /// Row of a W+ file the image came from, when it was not made from a seed.
    pub wplus_index: Option<usize>,
    pub psi: Option<f32>,
    pub trunc_cutoff: Option<usize>,
    pub mix_seed: Option<u64>,
    #[serde(default)]
    pub mix_layers: Vec<usize>,
    /// Direction edits applied (`FILE:COMPONENT:AMOUNT[:LAYERS]`), for reading.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<String>,
    /// The whole recipe (lattice position, loaded W+, nudge, edits), so dropping the image
    /// onto the explorer restores exactly what was shown (`explorer` in older records).
    #[serde(default, alias = "explorer", skip_serializing_if = "Option::is_none")]
    pub recipe: Option<Recipe>,
}

impl Provenance {
    pub fn app() -> String {
        format!("stylenat {}", env!("CARGO_PKG_VERSION"))
    }
}

/// SHA-256 of bytes, hex encoded.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// SHA-256 of a file, hex encoded.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Encodes RGB8 pixels as PNG, with the provenance record as an iTXt chunk.
pub fn encode_png(
    rgb: &[u8],
    width: usize,
    height: usize,
    provenance: Option<&Provenance>,
) -> Result<Vec<u8>> {
    let err = |e: &dyn std::fmt::Display| Error::Input(format!("PNG encoding failed: {e}"));
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, width as u32, height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        if let Some(p) = provenance {
            let json = serde_json::to_string(p).map_err(|e| err(&e))?;
            enc.add_text_chunk("Software".into(), p.app.clone())
                .map_err(|e| err(&e))?;
            enc.add_itxt_chunk(KEYWORD.into(), json)
                .map_err(|e| err(&e))?;
        }
        let mut w = enc.write_header().map_err(|e| err(&e))?;
        w.write_image_data(rgb).map_err(|e| err(&e))?;
        w.finish().map_err(|e| err(&e))?;
    }
    Ok(bytes)
}

/// Whether a file starts with the PNG signature.
pub fn is_png(path: &Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| head == *b"\x89PNG\r\n\x1a\n")
        .unwrap_or(false)
}

/// Reads the provenance record of a PNG written by this tool (`None` if it has none).
pub fn read_png(path: &Path) -> Result<Option<Provenance>> {
    let fmt_err = |reason: String| Error::Format {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // Only the text chunks are read; keep the decoder's buffers proportional to the file.
    let size = file.metadata().map(|m| m.len()).unwrap_or(0) as usize;
    let limits = png::Limits {
        bytes: (4 * size).clamp(1 << 16, 16 << 20),
    };
    let reader = png::Decoder::new_with_limits(std::io::BufReader::new(file), limits)
        .read_info()
        .map_err(|e| fmt_err(format!("not a readable PNG: {e}")))?;
    let Some(chunk) = reader
        .info()
        .utf8_text
        .iter()
        .find(|c| c.keyword == KEYWORD)
    else {
        return Ok(None);
    };
    let text = chunk
        .get_text()
        .map_err(|e| fmt_err(format!("unreadable provenance text: {e}")))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| fmt_err(format!("malformed provenance record: {e}")))
}
