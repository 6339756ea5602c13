//! The attention half of a block up to its output projection, fused wherever a lane kernel
//! runs the attention ([`super::lane_path`]: AVX-512, and AVX2 where its kernel is preferred):
//! `NA(qkv(AdaIN(x)))` where each tile of q/k/v rows goes from the GEMM straight into the
//! lane kernel's channel-major layout while it is in cache. The row-major `qkv` (3× the
//! block's width per token) is never written to memory nor read back; at 1024² that is
//! 400 MB each way per block.

use super::linear::{LinearWeights, ROWS, Rhs, adain_linear, start_with_bias, with_tile};
use super::norm::{apply, coefficients_per_image};
use crate::kernels::NaProblem;
use crate::kernels::simd::Simd;

/// `NA(AdaIN(x, style) · W + b)` for `x` `[B, N, C]` (`N` = the problem's height × width),
/// `style` `[B, 2C]` and the qkv layer `w` (`d_out = 3C`) → `[B, N, C]`. Equal, bit for bit, to
/// [`super::na2d`] of [`adain_linear`].
pub fn adain_qkv_na(
    x: &[f32],
    style: &[f32],
    c: usize,
    w: &LinearWeights,
    p: &NaProblem,
    rpb: &[Vec<f32>],
) -> Vec<f32> {
    let n = p.height * p.width;
    let simd = Simd::active();
    #[cfg(target_arch = "x86_64")]
    if super::lane_path(p, simd) {
        let d = w.d_out;
        assert_eq!(d, 3 * p.heads() * p.head_dim, "qkv width vs the problem");
        let coefficients = coefficients_per_image(x, style, n, c);
        let rhs = Rhs::new(w.weight, c, d, n, simd);
        let produce = |first: usize, rows: &mut [f32]| {
            let tokens = rows.len() / d;
            let x = &x[first * p.width * c..][..tokens * c];
            let (scale, shift) = &coefficients[first / p.height];
            with_tile(tokens * c, |h| {
                simd.vectorize(
                    #[inline(always)]
                    || {
                        apply(h, x, scale, shift);
                        start_with_bias(rows, None, w.bias, d);
                        rhs.matmul(rows, true, h, tokens);
                    },
                )
            })
        };
        // SAFETY: the CPU runs `simd` (`Simd::active`) and the problem is supported there.
        return unsafe { super::na_lanes::na2d_produced(p, rpb, ROWS, simd, &produce) };
    }
    let qkv = adain_linear(x, style, n, c, w);
    super::na2d_with(p, &qkv, rpb, simd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::HeadGroup;

    /// Two images, two groups (one dilated, one with a short last block), rows that do not
    /// fill a tile evenly: `(problem, x, style, qkv weight, qkv bias, bias tables)`.
    #[allow(clippy::type_complexity)]
    fn case() -> (
        NaProblem,
        Vec<f32>,
        Vec<f32>,
        Vec<f32>,
        Vec<f32>,
        Vec<Vec<f32>>,
    ) {
        let (height, width, head_dim) = (11, 37, 4);
        let group = |heads, kernel, dilation| HeadGroup {
            heads,
            kernel,
            dilation,
        };
        let p = NaProblem {
            batch: 2,
            height,
            width,
            head_dim,
            scale: 0.5,
            groups: vec![group(2, 3, 1), group(1, 5, 2)],
        };
        p.validate().expect("a problem NATTEN accepts");
        let c = p.heads() * head_dim;
        let rpb = p
            .groups
            .iter()
            .map(|g| wave(g.heads * (2 * g.kernel - 1).pow(2), 3, 0.1))
            .collect();
        let x = wave(2 * height * width * c, 31, 0.02);
        let style = wave(2 * 2 * c, 7, 0.05);
        let (weight, bias) = (wave(c * 3 * c, 13, 0.01), wave(3 * c, 5, 0.01));
        (p, x, style, weight, bias, rpb)
    }

    /// `len` values of a fixed pattern scaled by `s` (`a` picks the pattern).
    fn wave(len: usize, a: usize, s: f32) -> Vec<f32> {
        (0..len).map(|i| ((i * a % 97) as f32 - 48.0) * s).collect()
    }

    /// The fused pass against its two parts run one after the other, exactly.
    #[test]
    fn equals_the_linear_layer_then_attention() {
        let (p, x, style, weight, bias, rpb) = case();
        let (c, n) = (p.heads() * p.head_dim, p.height * p.width);
        let w = LinearWeights {
            weight: &weight,
            bias: Some(&bias),
            d_out: 3 * c,
        };
        let qkv = adain_linear(&x, &style, n, c, &w);
        let want = super::super::na2d(&p, &qkv, &rpb);
        assert_eq!(adain_qkv_na(&x, &style, c, &w, &p, &rpb), want);
    }

    /// While a call waits on its parallel work, rayon may run another image's layer on the
    /// same thread: that nested call must neither find the thread's kept buffer borrowed (a
    /// panic) nor disturb the outer call. Forced here on a one-thread pool by nesting a call
    /// inside the first tile's producer.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_call_nested_on_the_same_thread_gets_its_own_buffer() {
        use super::super::{lane_path, na_lanes::na2d_produced};
        let (p, .., rpb) = case();
        let simd = Simd::active();
        if !lane_path(&p, simd) {
            println!("no lane kernel for {simd:?} here: the fused pass is not used on this CPU");
            return;
        }
        let c = p.heads() * p.head_dim;
        let qkv = wave(p.batch * p.height * p.width * 3 * c, 41, 0.03);
        let want = super::super::na2d(&p, &qkv, &rpb);
        let src_row = p.width * 3 * c;
        let copy = |first: usize, rows: &mut [f32]| {
            rows.copy_from_slice(&qkv[first * src_row..][..rows.len()]);
        };
        let nested = std::sync::Mutex::new(None);
        let produce = |first: usize, rows: &mut [f32]| {
            copy(first, rows);
            if first == 0 {
                // SAFETY: the active path and a problem it runs (checked above).
                let inner = unsafe { na2d_produced(&p, &rpb, ROWS, simd, &copy) };
                *nested.lock().unwrap() = Some(inner);
            }
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        // SAFETY: as above.
        let outer = pool.install(|| unsafe { na2d_produced(&p, &rpb, ROWS, simd, &produce) });
        assert_eq!(outer, want);
        assert_eq!(nested.into_inner().unwrap(), Some(want));
    }
}
