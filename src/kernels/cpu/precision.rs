//! Which arithmetic the CPU GEMMs use. float32 is the default and the only one held to the
//! 1e-3 parity bound; bf16 (inputs rounded to bfloat16, f32 sums) is an explicit option for
//! CPUs with AVX-512 BF16, about twice the multiply–add rate, with its error measured and
//! printed by `stylenat bench --precision bf16`.

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// float32 throughout (default).
    F32,
    /// Transformer GEMMs with bfloat16 inputs and float32 sums (AVX-512 BF16 only).
    Bf16,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        })
    }
}

static PRECISION: AtomicU8 = AtomicU8::new(0);

/// The precision the CPU GEMMs use now.
pub fn precision() -> Precision {
    match PRECISION.load(Ordering::Relaxed) {
        1 => Precision::Bf16,
        _ => Precision::F32,
    }
}

/// Chooses the precision for the whole process; bf16 is refused on a CPU without AVX-512 BF16.
pub fn set_precision(p: Precision) -> crate::Result<()> {
    if p == Precision::Bf16 && !bf16_supported() {
        return Err(crate::Error::Input(
            "--precision bf16 needs a CPU with AVX-512 BF16 (vdpbf16ps); this one has none, \
             so the model runs in float32 only"
                .into(),
        ));
    }
    PRECISION.store(p as u8, Ordering::Relaxed);
    Ok(())
}

/// Whether this CPU runs the bf16 GEMM.
pub fn bf16_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    return super::bf16::supported();
    #[cfg(not(target_arch = "x86_64"))]
    false
}
