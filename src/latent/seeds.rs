//! Seed → z, bit-exact with the two conventions people share seeds in:
//!
//! * StyleNAT: `torch.manual_seed(s); torch.randn((1, dim))` on the CPU generator.
//! * NVlabs: `np.random.RandomState(s).randn(1, dim)`, cast to float32.
//!
//! Both draw from MT19937. torch turns 24-bit uniforms into normals with Box–Muller in blocks of
//! 16 (`normal_fill`, float32); numpy uses the polar method on 53-bit doubles (`legacy_gauss`).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The seed convention.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum SeedMode {
    /// `torch.manual_seed(s); torch.randn(1, dim)` (official StyleNAT scripts).
    #[default]
    Stylenat,
    /// `np.random.RandomState(s).randn(1, dim)` (NVlabs StyleGAN tools).
    Nvlabs,
}

/// The 32-bit Mersenne Twister shared by torch's CPU generator and numpy's `RandomState`.
struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            state[i] = 1_812_433_253u32
                .wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Self { state, index: 624 }
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
}

/// torch: uniform float in [0, 1) from the low 24 bits of one draw.
fn torch_uniform_f32(mt: &mut Mt19937) -> f32 {
    (mt.next_u32() & ((1 << 24) - 1)) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// torch `normal_fill_16` as compiled for AVX2 (`normal_fill_16_AVX2`): Box–Muller on 8 pairs
/// (u1 = data[j], u2 = data[j + 8]) with the `avx_mathfun` log and sincos approximations.
fn torch_normal_fill_16(data: &mut [f32]) {
    let two_pi = (2.0f64 * std::f64::consts::PI) as f32;
    for j in 0..8 {
        let u1 = 1.0 - data[j];
        let u2 = data[j + 8];
        let radius = (-2.0 * avx_log(u1)).sqrt();
        let (sin, cos) = avx_sincos(two_pi * u2);
        data[j] = radius * cos;
        data[j + 8] = radius * sin;
    }
}

/// `log256_ps` from `avx_mathfun.h` (Cephes polynomial), one lane, with the fused
/// multiply–adds GCC forms from it when it builds torch's AVX2 kernels (`-mfma`).
#[allow(clippy::excessive_precision)] // Cephes' constants as published
fn avx_log(x: f32) -> f32 {
    const P: [f32; 9] = [
        7.037_683_6e-2,
        -1.151_461_0e-1,
        1.167_699_9e-1,
        -1.242_014_1e-1,
        1.424_932_3e-1,
        -1.666_805_8e-1,
        2.000_071_4e-1,
        -2.499_999_4e-1,
        3.333_333_1e-1,
    ];
    let x = x.max(f32::from_bits(0x0080_0000));
    let bits = x.to_bits();
    let mut e = ((bits >> 23) as i32 - 0x7f) as f32 + 1.0;
    let mut x = f32::from_bits((bits & !0x7f80_0000) | 0.5f32.to_bits());
    let below = x < std::f32::consts::FRAC_1_SQRT_2;
    let tmp = if below { x } else { 0.0 };
    x -= 1.0;
    if below {
        e -= 1.0;
    }
    x += tmp;
    let z = x * x;
    let mut y = P[0];
    for &p in &P[1..] {
        y = y.mul_add(x, p);
    }
    y *= x;
    y = y.mul_add(z, e * -2.121_944_4e-4);
    y -= z * 0.5;
    e.mul_add(0.693_359_4, x + y)
}

/// `sincos256_ps` from `avx_mathfun.h`, one lane: returns `(sin x, cos x)`.
fn avx_sincos(x: f32) -> (f32, f32) {
    let sign_sin = x.to_bits() & 0x8000_0000;
    let mut x = x.abs();
    let mut j = (x * 1.273_239_5) as i32; // 4/π, truncated
    j = (j + 1) & !1;
    let y = j as f32;
    let swap_sin = ((j & 4) as u32) << 29;
    let poly_sin = (j & 2) == 0;
    x = y.mul_add(-0.785_156_25, x);
    x = y.mul_add(-2.418_756_5e-4, x);
    x = y.mul_add(-3.774_895e-8, x);
    let sign_cos = ((!(j - 2) & 4) as u32) << 29;
    let sign_sin = sign_sin ^ swap_sin;
    let z = x * x;
    let mut c = 2.443_315_7e-5f32;
    c = c.mul_add(z, -1.388_731_6e-3);
    c = c.mul_add(z, 4.166_664_6e-2);
    c *= z;
    c = c.mul_add(z, -(z * 0.5));
    c += 1.0;
    let mut s = -1.951_529_6e-4f32;
    s = s.mul_add(z, 8.332_161e-3);
    s = s.mul_add(z, -1.666_665_5e-1);
    s *= z;
    s = s.mul_add(x, x);
    let (sin, cos) = if poly_sin { (s, c) } else { (c, s) };
    (
        f32::from_bits(sin.to_bits() ^ sign_sin),
        f32::from_bits(cos.to_bits() ^ sign_cos),
    )
}

/// torch `randn` for ≥ 16 elements: `normal_fill`, float32 on the CPU generator.
fn torch_randn(seed: u64, n: usize) -> Vec<f32> {
    // torch seeds the MT with the low 32 bits of the 64-bit seed.
    let mut mt = Mt19937::new(seed as u32);
    let mut data: Vec<f32> = (0..n).map(|_| torch_uniform_f32(&mut mt)).collect();
    let mut i = 0;
    while i + 16 <= n {
        torch_normal_fill_16(&mut data[i..i + 16]);
        i += 16;
    }
    if !n.is_multiple_of(16) {
        // torch redraws the last 16 values and transforms them again.
        let tail = &mut data[n - 16..];
        for v in tail.iter_mut() {
            *v = torch_uniform_f32(&mut mt);
        }
        torch_normal_fill_16(tail);
    }
    data
}

/// numpy `RandomState(seed).randn(n)` (legacy polar Box–Muller), cast to float32.
fn numpy_randn(seed: u32, n: usize) -> Vec<f32> {
    let mut mt = Mt19937::new(seed);
    let mut next_double = || {
        let a = (mt.next_u32() >> 5) as f64;
        let b = (mt.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    };
    let mut out = Vec::with_capacity(n);
    let mut cached: Option<f64> = None;
    while out.len() < n {
        if let Some(g) = cached.take() {
            out.push(g as f32);
            continue;
        }
        let (x1, x2, r2) = loop {
            let x1 = 2.0 * next_double() - 1.0;
            let x2 = 2.0 * next_double() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                break (x1, x2, r2);
            }
        };
        let f = (-2.0 * r2.ln() / r2).sqrt();
        cached = Some(f * x1);
        out.push((f * x2) as f32);
    }
    out
}

/// z for one seed: `dim` standard normal floats.
pub fn z_from_seed(seed: u64, dim: usize, mode: SeedMode) -> Result<Vec<f32>> {
    match mode {
        // Below 16 elements torch takes a different (double, cached) path we do not reproduce.
        SeedMode::Stylenat if dim < 16 => Err(Error::Input(format!(
            "the StyleNAT seed convention is implemented for z of at least 16 values, not {dim}"
        ))),
        SeedMode::Stylenat => Ok(torch_randn(seed, dim)),
        SeedMode::Nvlabs => {
            let s = u32::try_from(seed).map_err(|_| {
                Error::Input(format!("NVlabs seeds must be below 2^32, got {seed}"))
            })?;
            Ok(numpy_randn(s, dim))
        }
    }
}

/// Parses `0-9,42,100-102` into seeds (ranges inclusive, order kept).
pub fn parse_seed_list(text: &str) -> Result<Vec<u64>> {
    let bad = |part: &str| Error::Input(format!("`{part}` is not a seed or a range like 0-9"));
    let mut seeds = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u64 = a.trim().parse().map_err(|_| bad(part))?;
                let b: u64 = b.trim().parse().map_err(|_| bad(part))?;
                if b < a || b - a >= 1_000_000 {
                    return Err(Error::Input(format!(
                        "seed range `{part}` is empty or too long"
                    )));
                }
                seeds.extend(a..=b);
            }
            None => seeds.push(part.parse().map_err(|_| bad(part))?),
        }
    }
    if seeds.is_empty() {
        return Err(Error::Input("no seeds given".into()));
    }
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_reference_sequence() {
        // First outputs of the reference mt19937 with the default seed 5489.
        let mut mt = Mt19937::new(5489);
        assert_eq!(mt.next_u32(), 3_499_211_612);
        assert_eq!(mt.next_u32(), 581_869_302);
    }

    #[test]
    fn seed_lists() {
        assert_eq!(parse_seed_list("0-2,42").unwrap(), vec![0, 1, 2, 42]);
        assert!(parse_seed_list("3-1").is_err());
        assert!(parse_seed_list("x").is_err());
    }
}
