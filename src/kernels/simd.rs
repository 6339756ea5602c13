//! Which vector instructions the CPU kernels use, chosen at run time: machines differ from
//! one run to the next (AVX-512, AVX2 or neither), so one binary carries every path.

use std::sync::OnceLock;

/// A code path of the CPU kernels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    /// Plain Rust, vectorised by the compiler for the baseline target (SSE2 on x86-64).
    Portable,
    /// AVX2 + FMA (8-wide fused multiply–add).
    Avx2,
    /// AVX-512 F/VL/DQ/BW (16-wide).
    Avx512,
}

impl Simd {
    /// Every path this CPU can execute, lowest first.
    pub fn available() -> Vec<Simd> {
        [Simd::Portable, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .filter(|s| s.supported())
            .collect()
    }

    /// Whether this CPU can execute the path.
    pub fn supported(self) -> bool {
        match self {
            Simd::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => {
                Simd::Avx2.supported()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Simd::Avx2 | Simd::Avx512 => false,
        }
    }

    /// f32 lanes per vector on this path.
    pub fn lanes(self) -> usize {
        match self {
            Simd::Portable => 4,
            Simd::Avx2 => 8,
            Simd::Avx512 => 16,
        }
    }

    /// This path if the CPU can execute it, the portable one otherwise.
    pub fn or_portable(self) -> Simd {
        if self.supported() {
            self
        } else {
            Simd::Portable
        }
    }

    /// The path the kernels use: the best available, or a lower one named by the environment
    /// variable `STYLENAT_SIMD` (`portable`, `avx2`, `avx512`) — to test or compare the lower paths.
    pub fn active() -> Simd {
        static ACTIVE: OnceLock<Simd> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            let best = *Self::available().last().unwrap_or(&Simd::Portable);
            match std::env::var("STYLENAT_SIMD").ok().as_deref() {
                None | Some("") | Some("auto") => best,
                Some(name) => match Self::parse(name) {
                    Some(s) if s.supported() => s,
                    _ => {
                        eprintln!(
                            "STYLENAT_SIMD={name}: not a path this CPU runs (it runs {:?}); \
                             using {best:?}",
                            Self::available()
                        );
                        best
                    }
                },
            }
        })
    }

    /// Runs `f` compiled for this path (or the portable one where the CPU lacks it): pass a
    /// closure marked `#[inline(always)]`, which is then inlined into a function with the
    /// path's target features, so plain loops in it — and `#[inline]` helpers it calls — are
    /// vectorised 8 or 16 wide instead of SSE2's 4.
    #[inline]
    pub fn vectorize<R>(self, f: impl FnOnce() -> R) -> R {
        #[cfg(target_arch = "x86_64")]
        match self.or_portable() {
            // SAFETY: `or_portable` checked that the CPU executes the path.
            Simd::Avx512 => return unsafe { x86::avx512(f) },
            Simd::Avx2 => return unsafe { x86::avx2(f) },
            Simd::Portable => {}
        }
        f()
    }

    fn parse(name: &str) -> Option<Simd> {
        match name.to_ascii_lowercase().as_str() {
            "portable" => Some(Simd::Portable),
            "avx2" => Some(Simd::Avx2),
            "avx512" => Some(Simd::Avx512),
            _ => None,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    /// # Safety
    /// The CPU must support the features.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
    #[inline]
    pub unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    /// # Safety
    /// The CPU must support the features.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
}
