// Shared by the NA kernels (na2d*.wgsl, spliced in front of each by src/kernels/wgsl*.rs):
// the info header, head groups, the NATTEN window rule and the online softmax. Each kernel
// declares its own bindings (`info` among them).
//
// Every binding is read_write: cubecl sub-allocates tensors from shared wgpu buffers, and a
// buffer bound both read-only and read-write in one dispatch is a validation error.
//
// Layouts: qkv [B, H, W, 3, heads, HD] · rpb (all groups' tables, concatenated) ·
// out [B, H, W, heads, HD] · info (u32):
//   0 batch, 1 height, 2 width, 3 heads, 4 scale (f32 bits), 5 group count,
//   6 column tiles per (row, head) (tiled kernel) or taps per query slot (backward kernels),
//   then per group: first head, heads, kernel, dilation, offset of its table in rpb.

const HD: u32 = {{ head_dim }}u;
const GROUPS_AT: u32 = 7u;

// The invocation of a kernel dispatched over (pixel, head) pairs, head fastest: image, row,
// column, head, flat pixel index, and whether it lies inside the problem (the grid is rounded
// up, and may be 2-D: src/kernels/dispatch.rs).
struct PixelHead {
    b: u32,
    y: u32,
    x: u32,
    h: u32,
    pixel: u32,
    valid: bool,
}

fn pixel_head(gid: vec3<u32>, nwg: vec3<u32>, workgroup: u32) -> PixelHead {
    let height = info[1];
    let width = info[2];
    let heads = info[3];
    let id = gid.x + gid.y * nwg.x * workgroup;
    let pixel = id / heads;
    let valid = id < info[0] * height * width * heads;
    return PixelHead(pixel / (width * height), (pixel / width) % height, pixel % width, id % heads, pixel, valid);
}

// The head group of head `h`: kernel, dilation, and where head h's bias table starts.
struct HeadGroup {
    k: u32,
    d: u32,
    table: u32,
    bias_base: u32,
}

fn head_group(h: u32) -> HeadGroup {
    let groups = info[5];
    var g = 0u;
    loop {
        let base = GROUPS_AT + 5u * g;
        if (g + 1u >= groups || h < info[base] + info[base + 1u]) {
            break;
        }
        g = g + 1u;
    }
    let gb = GROUPS_AT + 5u * g;
    let k = info[gb + 2u];
    let table = 2u * k - 1u;
    return HeadGroup(k, info[gb + 3u], table, info[gb + 4u] + (h - info[gb]) * table * table);
}

// NATTEN ≤ 0.17 rule (src/kernels/window.rs): window start of dilation-group member gi.
fn start(gi: u32, group_len: u32, k: u32) -> u32 {
    let half = k / 2u;
    let s = select(0u, gi - half, gi >= half);
    return min(s, group_len - k);
}

// (index of the first key, bias-table index of the first key) along one axis.
fn window(i: u32, len: u32, k: u32, d: u32) -> vec2<u32> {
    let r = i % d;
    let gi = i / d;
    let s = start(gi, (len - r + d - 1u) / d, k);
    return vec2<u32>(s * d + r, s + k - 1u - gi);
}

// Online softmax over a query's taps: the running maximum and denominator. `softmax_tap` folds in
// one logit and returns (factor to rescale what was accumulated so far, weight of the new tap).
struct OnlineSoftmax {
    running_max: f32,
    denom: f32,
}

fn softmax_tap(s: ptr<function, OnlineSoftmax>, logit: f32) -> vec2<f32> {
    let new_max = max((*s).running_max, logit);
    let correction = exp((*s).running_max - new_max);
    let p = exp(logit - new_max);
    (*s).denom = (*s).denom * correction + p;
    (*s).running_max = new_max;
    return vec2<f32>(correction, p);
}
