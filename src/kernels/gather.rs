//! NA from plain tensor ops: gather each query's k² keys/values and bias entries with index
//! tables built from [`AxisWindow`], then reduce. Backend-agnostic; memory grows with k², so
//! queries are processed in chunks.

use super::NaProblem;
use super::window::AxisWindow;
use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor, TensorData};

/// Most gathered elements held at once per chunk (keeps GPU buffers well under 128 MiB).
const CHUNK_ELEMENTS: usize = 8 << 20;

/// Flat key index and flat bias index of every (query, tap) pair, `[H·W·k²]` each.
pub(super) fn index_tables(
    h: usize,
    w: usize,
    kernel: usize,
    dilation: usize,
) -> (Vec<i64>, Vec<i64>) {
    let rows = AxisWindow::all(h, kernel, dilation);
    let cols = AxisWindow::all(w, kernel, dilation);
    let table = 2 * kernel - 1;
    let mut keys = Vec::with_capacity(h * w * kernel * kernel);
    let mut bias = Vec::with_capacity(keys.capacity());
    for wy in &rows {
        for wx in &cols {
            for ty in 0..kernel {
                for tx in 0..kernel {
                    keys.push((wy.key(ty) * w + wx.key(tx)) as i64);
                    bias.push(((wy.bias0 + ty) * table + wx.bias0 + tx) as i64);
                }
            }
        }
    }
    (keys, bias)
}

pub fn na2d(qkv: Tensor<4>, rpb: &[Tensor<3>], p: &NaProblem) -> Tensor<4> {
    let device = qkv.device();
    let (b, h, w, hd) = (p.batch, p.height, p.width, p.head_dim);
    let n = h * w;
    let heads = p.heads();
    // [B, N, 3, heads, hd]
    let qkv = qkv.reshape([b, n, 3, heads, hd]);
    let mut outputs = Vec::with_capacity(p.groups.len());
    let mut h0 = 0;
    for (g, group) in p.groups.iter().enumerate() {
        let gh = group.heads;
        let taps = group.kernel * group.kernel;
        let part = |which: usize| {
            qkv.clone()
                .narrow(2, which, 1)
                .narrow(3, h0, gh)
                .reshape([b, n, gh, hd])
        };
        let q = part(0) * p.scale;
        let (k, v) = (part(1), part(2));
        let table = 2 * group.kernel - 1;
        let rpb_flat = rpb[g].clone().reshape([gh, table * table]);
        let (key_idx, bias_idx) = index_tables(h, w, group.kernel, group.dilation);
        let per_query = b * taps * gh * hd;
        let chunk = (CHUNK_ELEMENTS / per_query.max(1)).clamp(1, n);
        let mut chunks = Vec::new();
        for start in (0..n).step_by(chunk) {
            let len = chunk.min(n - start);
            let range = start * taps..(start + len) * taps;
            let kidx = Tensor::<1, Int>::from_data(
                TensorData::new(key_idx[range.clone()].to_vec(), [len * taps]),
                &device,
            );
            let bidx = Tensor::<1, Int>::from_data(
                TensorData::new(bias_idx[range].to_vec(), [len * taps]),
                &device,
            );
            // [B, len, taps, gh, hd]
            let k_nb = k
                .clone()
                .select(1, kidx.clone())
                .reshape([b, len, taps, gh, hd]);
            let v_nb = v.clone().select(1, kidx).reshape([b, len, taps, gh, hd]);
            let q_c = q.clone().narrow(1, start, len).reshape([b, len, 1, gh, hd]);
            // [B, len, taps, gh]
            let logits = (q_c * k_nb).sum_dim(4).reshape([b, len, taps, gh]);
            let bias = rpb_flat
                .clone()
                .select(1, bidx)
                .reshape([gh, len, taps])
                .permute([1, 2, 0])
                .reshape([1, len, taps, gh]);
            let attn = softmax(logits + bias, 2).reshape([b, len, taps, gh, 1]);
            chunks.push((attn * v_nb).sum_dim(2).reshape([b, len, gh * hd]));
        }
        outputs.push(Tensor::cat(chunks, 1));
        h0 += gh;
    }
    Tensor::cat(outputs, 2).reshape([b, h, w, heads * hd])
}
