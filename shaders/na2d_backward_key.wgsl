// NA backward, pass 2 of 2: one invocation per (key pixel, head). Visits every query whose
// window holds this key (along each axis: the members of the key's dilation group within
// k − 1 of it whose window covers it) and gathers
//   dk = scale·Σ dl_t(query)·q(query),   dv = Σ a_t(query)·g(query)
// from pass 1's a and dl (na2d_backward_query.wgsl). Writes out [B, H, W, 2, heads, HD]
// (dk, then dv, per pixel). The info layout and the window rule: na2d_common.wgsl.

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> pass1: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ workgroup_size }}u;

// Along one axis, the queries whose window holds key j: (first query, count). They are
// consecutive members of j's dilation group (window starts never decrease along the axis).
fn holders(j: u32, len: u32, k: u32, d: u32) -> vec2<u32> {
    let r = j % d;
    let gj = j / d;
    let group_len = (len - r + d - 1u) / d;
    let lo = select(0u, gj - (k - 1u), gj >= k - 1u);
    let hi = min(group_len - 1u, gj + k - 1u);
    var first = 0u;
    var count = 0u;
    for (var gi = lo; gi <= hi; gi = gi + 1u) {
        let s = start(gi, group_len, k);
        if (s <= gj && gj < s + k) {
            if (count == 0u) {
                first = gi;
            }
            count = count + 1u;
        }
    }
    return vec2<u32>(first * d + r, count);
}

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

    let grp = head_group(h);
    let k = grp.k;
    let d = grp.d;
    let ry = holders(y, height, k, d);
    let rx = holders(x, width, k, d);
    let a_base = queries * c;
    let dl_base = a_base + queries * heads * slot;

    var dk: array<f32, HD>;
    var dv: array<f32, HD>;
    for (var e = 0u; e < HD; e = e + 1u) {
        dk[e] = 0.0;
        dv[e] = 0.0;
    }
    for (var iy = 0u; iy < ry.y; iy = iy + 1u) {
        let qy = ry.x + iy * d;
        // The key's tap in this query's window.
        let ty = y / d - start(qy / d, (height - y % d + d - 1u) / d, k);
        for (var ix = 0u; ix < rx.y; ix = ix + 1u) {
            let qx = rx.x + ix * d;
            let tx = x / d - start(qx / d, (width - x % d + d - 1u) / d, k);
            let qpixel = (b * height + qy) * width + qx;
            let tap = (qpixel * heads + h) * slot + ty * k + tx;
            let a = pass1[a_base + tap];
            let dl = pass1[dl_base + tap] * scale;
            let qbase = qpixel * 3u * c + h * HD;
            let gbase = qpixel * c + h * HD;
            for (var e = 0u; e < HD; e = e + 1u) {
                dk[e] = dk[e] + dl * qkv[qbase + e];
                dv[e] = dv[e] + a * grad[gbase + e];
            }
        }
    }
    let obase = pixel * 2u * c + h * HD;
    for (var e = 0u; e < HD; e = e + 1u) {
        out[obase + e] = dk[e];
        out[obase + c + e] = dv[e];
    }
}
