//! The softmax weights of one query: what a head actually attends to. Same logits as the
//! generation kernels (`q·scale·k + rpb`, the shared NATTEN window rule), in f64, for a single
//! pixel — cheap enough to compute on demand from a captured `qkv`.

use super::NaProblem;
use super::window::AxisWindow;
use crate::error::{Error, Result};

/// One head's weights over its neighbourhood.
#[derive(Debug, Clone)]
pub struct HeadWeights {
    /// Head group index and the head's index over all heads.
    pub group: usize,
    pub head: usize,
    /// `(y, x)` of each key, in tap order (`k × k`).
    pub keys: Vec<(usize, usize)>,
    /// Softmax weight of each key (sums to 1).
    pub weights: Vec<f32>,
}

/// Weights of query `(y, x)` of image `b` for every head. `qkv`: `[B, H, W, 3, heads, head_dim]`;
/// `rpb[g]`: `[heads_g, 2k−1, 2k−1]`.
pub fn query_weights(
    p: &NaProblem,
    qkv: &[f32],
    rpb: &[Vec<f32>],
    b: usize,
    y: usize,
    x: usize,
) -> Result<Vec<HeadWeights>> {
    p.validate()?;
    let c = p.heads() * p.head_dim;
    if b >= p.batch || y >= p.height || x >= p.width {
        return Err(Error::Input(format!(
            "query ({x}, {y}) of image {b} is outside the {}×{} map of {} images",
            p.width, p.height, p.batch
        )));
    }
    if qkv.len() != p.batch * p.height * p.width * 3 * c || rpb.len() != p.groups.len() {
        return Err(Error::Input(
            "qkv / bias tables do not match the problem".into(),
        ));
    }
    let at = |yy: usize, xx: usize, which: usize, h: usize, e: usize| {
        qkv[(((b * p.height + yy) * p.width + xx) * 3 + which) * c + h * p.head_dim + e] as f64
    };
    let mut out = Vec::with_capacity(p.heads());
    let mut head0 = 0;
    for (g, group) in p.groups.iter().enumerate() {
        let (k, table) = (group.kernel, 2 * group.kernel - 1);
        let wy = AxisWindow::new(y, p.height, k, group.dilation);
        let wx = AxisWindow::new(x, p.width, k, group.dilation);
        for gh in 0..group.heads {
            let h = head0 + gh;
            let mut keys = Vec::with_capacity(k * k);
            let mut logits = Vec::with_capacity(k * k);
            for ty in 0..k {
                for tx in 0..k {
                    let (ky, kx) = (wy.key(ty), wx.key(tx));
                    let dot: f64 = (0..p.head_dim)
                        .map(|e| at(y, x, 0, h, e) * p.scale as f64 * at(ky, kx, 1, h, e))
                        .sum();
                    let bias = rpb[g][(gh * table + wy.bias0 + ty) * table + wx.bias0 + tx];
                    keys.push((ky, kx));
                    logits.push(dot + bias as f64);
                }
            }
            let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            out.push(HeadWeights {
                group: g,
                head: h,
                keys,
                weights: exps.iter().map(|e| (e / sum) as f32).collect(),
            });
        }
        head0 += group.heads;
    }
    Ok(out)
}

/// The weights of `heads` averaged into one dense `H × W` map (zero outside the
/// neighbourhoods), row-major.
pub fn dense_map(p: &NaProblem, heads: &[&HeadWeights]) -> Vec<f32> {
    let mut map = vec![0f32; p.height * p.width];
    let n = heads.len().max(1) as f32;
    for h in heads {
        for (&(ky, kx), &w) in h.keys.iter().zip(&h.weights) {
            map[ky * p.width + kx] += w / n;
        }
    }
    map
}
