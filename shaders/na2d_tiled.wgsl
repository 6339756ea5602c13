// Fused 2-D neighbourhood attention, keys/values staged in workgroup memory.
//
// A workgroup handles TILE consecutive queries of one image row that share a dilation residue
// (x = rx + d·gi for consecutive gi) and one head. Their windows overlap: for each window row
// the workgroup loads the union of the columns it needs (at most TILE + k − 1 pixels) into
// workgroup memory once, then every query reads its k taps from there. Online softmax keeps
// one pass. NATTEN ≤ 0.17 neighbourhood rule, as in src/kernels/window.rs.
//
// The info layout and the window rule: na2d_common.wgsl.

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> rpb: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

const TILE: u32 = {{ tile }}u;
const BAND: u32 = {{ band }}u; // TILE + largest kernel − 1

var<workgroup> keys: array<f32, {{ band_floats }}>;
var<workgroup> values: array<f32, {{ band_floats }}>;

@compute @workgroup_size({{ tile }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let batch = info[0];
    let height = info[1];
    let width = info[2];
    let heads = info[3];
    let scale = bitcast<f32>(info[4]);
    let tiles_x = info[6];
    let c = heads * HD;

    // Workgroup → (column tile, row, head, image). All early exits are workgroup-uniform.
    var rest = wid.x + wid.y * nwg.x;
    let xt = rest % tiles_x;
    rest = rest / tiles_x;
    let y = rest % height;
    rest = rest / height;
    let h = rest % heads;
    let b = rest / heads;
    if (b >= batch) {
        return;
    }
    let grp = head_group(h);
    let k = grp.k;
    let d = grp.d;
    let table = grp.table;
    let bias_base = grp.bias_base;

    let rx = xt % d;
    let g0 = (xt / d) * TILE;
    let len_x = (width - rx + d - 1u) / d;
    if (g0 >= len_x) {
        return;
    }
    let g_last = min(g0 + TILE, len_x) - 1u;
    let band_start = start(g0, len_x, k);
    let band_len = start(g_last, len_x, k) + k - band_start;

    let gi = g0 + lid;
    let in_range = gi < len_x;
    let x = rx + gi * d;
    let sx = start(min(gi, g_last), len_x, k);
    let tap0 = sx - band_start;
    let bias_x = sx + k - 1u - min(gi, g_last);

    // Rows: the usual window of this query row.
    let ry = y % d;
    let len_y = (height - ry + d - 1u) / d;
    let sy = start(y / d, len_y, k);
    let bias_y = sy + k - 1u - y / d;

    var q: array<f32, HD>;
    var acc: array<f32, HD>;
    if (in_range) {
        let qbase = ((b * height + y) * width + x) * 3u * c + h * HD;
        for (var e = 0u; e < HD; e = e + 1u) {
            q[e] = qkv[qbase + e] * scale;
            acc[e] = 0.0;
        }
    }
    var softmax = OnlineSoftmax(-3.0e38, 0.0);

    for (var ty = 0u; ty < k; ty = ty + 1u) {
        let ky = (sy + ty) * d + ry;
        let row = (b * height + ky) * width;
        workgroupBarrier();
        for (var i = lid; i < band_len * HD; i = i + TILE) {
            let p = i / HD;
            let px = rx + (band_start + p) * d;
            let src = (row + px) * 3u * c + h * HD + i % HD;
            keys[i] = qkv[src + c];
            values[i] = qkv[src + 2u * c];
        }
        workgroupBarrier();
        if (in_range) {
            let bias_row = bias_base + (bias_y + ty) * table + bias_x;
            for (var tx = 0u; tx < k; tx = tx + 1u) {
                let slot = (tap0 + tx) * HD;
                var logit = rpb[bias_row + tx];
                for (var e = 0u; e < HD; e = e + 1u) {
                    logit = logit + q[e] * keys[slot + e];
                }
                let w = softmax_tap(&softmax, logit);
                for (var e = 0u; e < HD; e = e + 1u) {
                    acc[e] = acc[e] * w.x + w.y * values[slot + e];
                }
            }
        }
    }

    if (in_range) {
        let obase = ((b * height + y) * width + x) * c + h * HD;
        let inv = 1.0 / softmax.denom;
        for (var e = 0u; e < HD; e = e + 1u) {
            out[obase + e] = acc[e] * inv;
        }
    }
}
