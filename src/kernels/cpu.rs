//! Fast CPU neighbourhood attention: one fused pass per query pixel (QK + bias, softmax, AV),
//! rows in parallel with rayon, reading the qkv projection in place.

use super::NaProblem;
use super::window::AxisWindow;
use rayon::prelude::*;

/// Same contract as [`super::reference::na2d`].
pub fn na2d(p: &NaProblem, qkv: &[f32], rpb: &[Vec<f32>]) -> Vec<f32> {
    let c = p.heads() * p.head_dim;
    let hd = p.head_dim;
    let (height, width) = (p.height, p.width);
    let mut out = vec![0f32; p.batch * height * width * c];
    // Per group: head offset and the windows of every row and column.
    let mut head0 = 0;
    let plans: Vec<_> = p
        .groups
        .iter()
        .map(|g| {
            let plan = (
                head0,
                AxisWindow::all(height, g.kernel, g.dilation),
                AxisWindow::all(width, g.kernel, g.dilation),
            );
            head0 += g.heads;
            plan
        })
        .collect();
    let max_k = p.groups.iter().map(|g| g.kernel).max().unwrap_or(1);
    out.par_chunks_mut(width * c).enumerate().for_each(|(row, out_row)| {
        let (b, y) = (row / height, row % height);
        let pixel = |yy: usize, xx: usize| ((b * height + yy) * width + xx) * 3 * c;
        let mut logits = vec![0f32; max_k * max_k];
        let mut q = vec![0f32; hd];
        for (g, group) in p.groups.iter().enumerate() {
            let (h0, rows, cols) = &plans[g];
            let k = group.kernel;
            let table = 2 * k - 1;
            let wy = rows[y];
            for x in 0..width {
                let wx = cols[x];
                for gh in 0..group.heads {
                    let h = h0 + gh;
                    let qoff = pixel(y, x) + h * hd;
                    for (qe, &v) in q.iter_mut().zip(&qkv[qoff..qoff + hd]) {
                        *qe = v * p.scale;
                    }
                    let bias_base = gh * table * table;
                    let mut max = f32::NEG_INFINITY;
                    for ty in 0..k {
                        let ky = wy.key(ty);
                        let brow = &rpb[g][bias_base + (wy.bias0 + ty) * table + wx.bias0..];
                        for tx in 0..k {
                            let koff = pixel(ky, wx.key(tx)) + c + h * hd;
                            let kv = &qkv[koff..koff + hd];
                            let dot: f32 = q.iter().zip(kv).map(|(a, b)| a * b).sum();
                            let l = dot + brow[tx];
                            logits[ty * k + tx] = l;
                            max = max.max(l);
                        }
                    }
                    let mut sum = 0f32;
                    for l in &mut logits[..k * k] {
                        *l = (*l - max).exp();
                        sum += *l;
                    }
                    let inv = 1.0 / sum;
                    let acc = &mut out_row[x * c + h * hd..x * c + (h + 1) * hd];
                    acc.fill(0.0);
                    for ty in 0..k {
                        let ky = wy.key(ty);
                        for tx in 0..k {
                            let a = logits[ty * k + tx] * inv;
                            let voff = pixel(ky, wx.key(tx)) + 2 * c + h * hd;
                            for (o, &v) in acc.iter_mut().zip(&qkv[voff..voff + hd]) {
                                *o += a * v;
                            }
                        }
                    }
                }
            }
        }
    });
    out
}
