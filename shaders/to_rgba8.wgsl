// Generator output [N, 3, S, S] (ImageNet-normalised, like the official code) → RGBA8 texels packed in u32 (r | g << 8 | b << 16 |
// 255 << 24), rows padded to `pitch` u32s so the buffer can be copied straight into a texture
// (wgpu wants 256-byte row strides). Same arithmetic as the host path (io/image.rs to_rgb8):
// clamp(x·std + mean, 0, 1) · 255 + 0.5, truncated.
//
// info: 0 images, 1 size, 2 pitch (u32 per row), 3..5 mean (f32 bits), 6..8 std (f32 bits).

@group(0) @binding(0) var<storage, read_write> img: array<f32>;
@group(0) @binding(1) var<storage, read_write> texels: array<u32>;
@group(0) @binding(2) var<storage, read_write> info: array<u32>;

fn to_byte(x: f32, c: u32) -> u32 {
    let v = clamp(x * bitcast<f32>(info[6u + c]) + bitcast<f32>(info[3u + c]), 0.0, 1.0);
    return min(u32(v * 255.0 + 0.5), 255u);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let n = info[0];
    let s = info[1];
    let pitch = info[2];
    let i = gid.x + gid.y * groups.x * 64u;
    if (i >= n * s * s) {
        return;
    }
    let plane = s * s;
    let b = i / plane;
    let p = i % plane;
    let y = p / s;
    let x = p % s;
    let base = b * 3u * plane + p;
    let r = to_byte(img[base], 0u);
    let g = to_byte(img[base + plane], 1u);
    let bl = to_byte(img[base + 2u * plane], 2u);
    texels[(b * s + y) * pitch + x] = r | (g << 8u) | (bl << 16u) | (255u << 24u);
}
