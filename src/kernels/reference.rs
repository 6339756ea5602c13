//! The oracle: neighbourhood attention written as literally as the official computation —
//! `q·scale`, QK over the window, `+ rpb`, softmax, AV — one query and head at a time, in f64.
//! Slow and obviously right; every faster implementation is tested against it.

use super::NaProblem;
use super::window::AxisWindow;

/// `qkv`: `[B, H, W, 3, heads, head_dim]`; `rpb[g]`: `[heads_g, 2k−1, 2k−1]`.
/// Returns `[B, H, W, heads·head_dim]`.
pub fn na2d(p: &NaProblem, qkv: &[f32], rpb: &[Vec<f32>]) -> Vec<f32> {
    let widen = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let rpb: Vec<Vec<f64>> = rpb.iter().map(|t| widen(t)).collect();
    na2d_f64(p, &widen(qkv), &rpb)
        .into_iter()
        .map(|x| x as f32)
        .collect()
}

/// [`na2d`] with inputs and output in f64 (finite differences of it check the backward
/// kernels' gradients without f32 rounding in the way).
pub fn na2d_f64(p: &NaProblem, qkv: &[f64], rpb: &[Vec<f64>]) -> Vec<f64> {
    let c = p.heads() * p.head_dim;
    let mut out = vec![0f64; p.batch * p.height * p.width * c];
    let at = |b: usize, y: usize, x: usize, which: usize, h: usize, e: usize| {
        qkv[(((b * p.height + y) * p.width + x) * 3 + which) * c + h * p.head_dim + e]
    };
    let mut head0 = 0;
    for (g, group) in p.groups.iter().enumerate() {
        let k = group.kernel;
        let table = 2 * k - 1;
        for gh in 0..group.heads {
            let h = head0 + gh;
            for b in 0..p.batch {
                for y in 0..p.height {
                    let wy = AxisWindow::new(y, p.height, k, group.dilation);
                    for x in 0..p.width {
                        let wx = AxisWindow::new(x, p.width, k, group.dilation);
                        let mut logits = Vec::with_capacity(k * k);
                        let mut keys = Vec::with_capacity(k * k);
                        for ty in 0..k {
                            for tx in 0..k {
                                let (ky, kx) = (wy.key(ty), wx.key(tx));
                                let dot: f64 = (0..p.head_dim)
                                    .map(|e| {
                                        at(b, y, x, 0, h, e)
                                            * p.scale as f64
                                            * at(b, ky, kx, 1, h, e)
                                    })
                                    .sum();
                                let bias =
                                    rpb[g][(gh * table + wy.bias0 + ty) * table + wx.bias0 + tx];
                                logits.push(dot + bias);
                                keys.push((ky, kx));
                            }
                        }
                        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
                        let sum: f64 = exps.iter().sum();
                        for e in 0..p.head_dim {
                            let v: f64 = keys
                                .iter()
                                .zip(&exps)
                                .map(|(&(ky, kx), a)| a / sum * at(b, ky, kx, 2, h, e))
                                .sum();
                            out[((b * p.height + y) * p.width + x) * c + h * p.head_dim + e] = v;
                        }
                    }
                }
            }
        }
        head0 += group.heads;
    }
    out
}
