// NA backward, pass 1 of 2: one invocation per (query pixel, head). Recomputes the attention
// weights a_t (QK·scale + bias, softmax) and, from the output gradient g, the logit gradients
// dl_t = a_t·(g·v_t − Σ_s a_s·g·v_s) and dq = scale·Σ_t dl_t·k_t. Writes, into one buffer:
//   [0, B·N·C)           dq, laid out as the forward output
//   [B·N·C, +B·N·heads·T) a_t   (slot T = info[6] taps per (query, head); unused taps stay 0)
//   [.., +B·N·heads·T)    dl_t
// Pass 2 (na2d_backward_key.wgsl) gathers dk and dv from a and dl. Matches
// src/kernels/cpu/backward.rs. The info layout and the window rule: na2d_common.wgsl.

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> rpb: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ workgroup_size }}u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let height = info[1];
    let width = info[2];
    let heads = info[3];
    let scale = bitcast<f32>(info[4]);
    let slot = info[6];
    let c = heads * HD;
    let queries = info[0] * height * width;

    let at = pixel_head(gid, nwg, WG);
    if (!at.valid) {
        return;
    }
    let b = at.b;
    let y = at.y;
    let x = at.x;
    let h = at.h;
    let pixel = at.pixel;
    let id = pixel * heads + h;

    let grp = head_group(h);
    let k = grp.k;
    let d = grp.d;
    let wy = window(y, height, k, d);
    let wx = window(x, width, k, d);
    let a_at = queries * c + id * slot;
    let dl_at = a_at + queries * heads * slot;

    var q: array<f32, HD>;
    var g: array<f32, HD>;
    let qbase = pixel * 3u * c + h * HD;
    let gbase = pixel * c + h * HD;
    for (var e = 0u; e < HD; e = e + 1u) {
        q[e] = qkv[qbase + e];
        g[e] = grad[gbase + e];
    }

    // Logits, and their maximum.
    var top = -3.0e38;
    for (var ty = 0u; ty < k; ty = ty + 1u) {
        let row = (b * height + wy.x + ty * d) * width;
        let bias_row = grp.bias_base + (wy.y + ty) * grp.table + wx.y;
        for (var tx = 0u; tx < k; tx = tx + 1u) {
            let kbase = (row + wx.x + tx * d) * 3u * c + c + h * HD;
            var dot = 0.0;
            for (var e = 0u; e < HD; e = e + 1u) {
                dot = dot + q[e] * qkv[kbase + e];
            }
            let logit = dot * scale + rpb[bias_row + tx];
            out[a_at + ty * k + tx] = logit;
            top = max(top, logit);
        }
    }
    var denom = 0.0;
    for (var t = 0u; t < k * k; t = t + 1u) {
        let p = exp(out[a_at + t] - top);
        out[a_at + t] = p;
        denom = denom + p;
    }
    // a_t and g·v_t; their weighted mean.
    var mean = 0.0;
    for (var ty = 0u; ty < k; ty = ty + 1u) {
        let row = (b * height + wy.x + ty * d) * width;
        for (var tx = 0u; tx < k; tx = tx + 1u) {
            let t = ty * k + tx;
            let vbase = (row + wx.x + tx * d) * 3u * c + 2u * c + h * HD;
            var gv = 0.0;
            for (var e = 0u; e < HD; e = e + 1u) {
                gv = gv + g[e] * qkv[vbase + e];
            }
            let a = out[a_at + t] / denom;
            out[a_at + t] = a;
            out[dl_at + t] = gv;
            mean = mean + a * gv;
        }
    }
    // dl_t and dq.
    var dq: array<f32, HD>;
    for (var e = 0u; e < HD; e = e + 1u) {
        dq[e] = 0.0;
    }
    for (var ty = 0u; ty < k; ty = ty + 1u) {
        let row = (b * height + wy.x + ty * d) * width;
        for (var tx = 0u; tx < k; tx = tx + 1u) {
            let t = ty * k + tx;
            let dl = out[a_at + t] * (out[dl_at + t] - mean);
            out[dl_at + t] = dl;
            let kbase = (row + wx.x + tx * d) * 3u * c + c + h * HD;
            for (var e = 0u; e < HD; e = e + 1u) {
                dq[e] = dq[e] + dl * scale * qkv[kbase + e];
            }
        }
    }
    for (var e = 0u; e < HD; e = e + 1u) {
        out[gbase + e] = dq[e];
    }
}
