// Fused 2-D neighbourhood attention for every head group of a layer (one dispatch).
//
// One invocation per (query pixel, head): q·scale, QK over the head group's window (NATTEN
// ≤ 0.17 rule: windows shift inwards at borders, dilation groups by i mod d), + relative
// position bias, online softmax, AV. Matches src/kernels/reference.rs.
//
// The info layout and the window rule: na2d_common.wgsl.

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> rpb: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ workgroup_size }}u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let height = info[1];
    let width = info[2];
    let heads = info[3];
    let scale = bitcast<f32>(info[4]);
    let c = heads * HD;

    let at = pixel_head(gid, nwg, WG);
    if (!at.valid) {
        return;
    }
    let b = at.b;
    let y = at.y;
    let x = at.x;
    let h = at.h;

    let grp = head_group(h);
    let k = grp.k;
    let d = grp.d;
    let table = grp.table;
    let bias_base = grp.bias_base;
    let wy = window(y, height, k, d);
    let wx = window(x, width, k, d);

    var q: array<f32, HD>;
    var acc: array<f32, HD>;
    let qbase = ((b * height + y) * width + x) * 3u * c + h * HD;
    for (var e = 0u; e < HD; e = e + 1u) {
        q[e] = qkv[qbase + e] * scale;
        acc[e] = 0.0;
    }

    var softmax = OnlineSoftmax(-3.0e38, 0.0);
    for (var ty = 0u; ty < k; ty = ty + 1u) {
        let row = (b * height + wy.x + ty * d) * width;
        let bias_row = bias_base + (wy.y + ty) * table + wx.y;
        for (var tx = 0u; tx < k; tx = tx + 1u) {
            let kbase = (row + wx.x + tx * d) * 3u * c + c + h * HD;
            var logit = rpb[bias_row + tx];
            for (var e = 0u; e < HD; e = e + 1u) {
                logit = logit + q[e] * qkv[kbase + e];
            }
            let w = softmax_tap(&softmax, logit);
            let vbase = kbase + c;
            for (var e = 0u; e < HD; e = e + 1u) {
                acc[e] = acc[e] * w.x + w.y * qkv[vbase + e];
            }
        }
    }

    let obase = ((b * height + y) * width + x) * c + h * HD;
    let inv = 1.0 / softmax.denom;
    for (var e = 0u; e < HD; e = e + 1u) {
        out[obase + e] = acc[e] * inv;
    }
}
