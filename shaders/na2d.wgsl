// Fused 2-D neighbourhood attention for every head group of a layer (one dispatch).
//
// One invocation per (query pixel, head): q·scale, QK over the head group's window (NATTEN
// ≤ 0.17 rule: windows shift inwards at borders, dilation groups by i mod d), + relative
// position bias, online softmax, AV. Matches src/kernels/reference.rs.
//
// Every binding is read_write: cubecl sub-allocates tensors from shared wgpu buffers, and a
// buffer bound both read-only and read-write in one dispatch is a validation error.
//
// Bindings: qkv [B, H, W, 3, heads, HD] · rpb (all groups' tables, concatenated) ·
// out [B, H, W, heads, HD] · info (u32):
//   0 batch, 1 height, 2 width, 3 heads, 4 scale (f32 bits), 5 group count,
//   then per group: first head, heads, kernel, dilation, offset of its table in rpb.

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> rpb: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

const HD: u32 = {{ head_dim }}u;
const WG: u32 = {{ workgroup_size }}u;

// (index of the first key, bias-table index of the first key) along one axis.
fn window(i: u32, len: u32, k: u32, d: u32) -> vec2<u32> {
    let r = i % d;
    let gi = i / d;
    let group_len = (len - r + d - 1u) / d;
    let half = k / 2u;
    var start = select(0u, gi - half, gi >= half);
    start = min(start, group_len - k);
    return vec2<u32>(start * d + r, start + k - 1u - gi);
}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let batch = info[0];
    let height = info[1];
    let width = info[2];
    let heads = info[3];
    let scale = bitcast<f32>(info[4]);
    let groups = info[5];
    let c = heads * HD;

    let id = gid.x + gid.y * nwg.x * WG;
    if (id >= batch * height * width * heads) {
        return;
    }
    let h = id % heads;
    let pixel = id / heads;
    let x = pixel % width;
    let y = (pixel / width) % height;
    let b = pixel / (width * height);

    // The head's group.
    var g = 0u;
    loop {
        let base = 6u + 5u * g;
        if (g + 1u >= groups || h < info[base] + info[base + 1u]) {
            break;
        }
        g = g + 1u;
    }
    let gb = 6u + 5u * g;
    let first_head = info[gb];
    let k = info[gb + 2u];
    let d = info[gb + 3u];
    let table = 2u * k - 1u;
    let bias_base = info[gb + 4u] + (h - first_head) * table * table;
    let wy = window(y, height, k, d);
    let wx = window(x, width, k, d);

    var q: array<f32, HD>;
    var acc: array<f32, HD>;
    let qbase = ((b * height + y) * width + x) * 3u * c + h * HD;
    for (var e = 0u; e < HD; e = e + 1u) {
        q[e] = qkv[qbase + e] * scale;
        acc[e] = 0.0;
    }

    var running_max = -3.0e38;
    var denom = 0.0;
    for (var ty = 0u; ty < k; ty = ty + 1u) {
        let row = (b * height + wy.x + ty * d) * width;
        let bias_row = bias_base + (wy.y + ty) * table + wx.y;
        for (var tx = 0u; tx < k; tx = tx + 1u) {
            let kbase = (row + wx.x + tx * d) * 3u * c + c + h * HD;
            var logit = rpb[bias_row + tx];
            for (var e = 0u; e < HD; e = e + 1u) {
                logit = logit + q[e] * qkv[kbase + e];
            }
            let new_max = max(running_max, logit);
            let correction = exp(running_max - new_max);
            let p = exp(logit - new_max);
            denom = denom * correction + p;
            let vbase = kbase + c;
            for (var e = 0u; e < HD; e = e + 1u) {
                acc[e] = acc[e] * correction + p * qkv[vbase + e];
            }
            running_max = new_max;
        }
    }

    let obase = ((b * height + y) * width + x) * c + h * HD;
    let inv = 1.0 / denom;
    for (var e = 0u; e < HD; e = e + 1u) {
        out[obase + e] = acc[e] * inv;
    }
}
