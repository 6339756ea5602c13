use stylenat::kernels::{NaProblem, cpu};
use stylenat::model::HeadGroup;
fn main() {
    for (hd, dil) in [(4usize, 1usize), (4, 16), (16, 1), (16, 4)] {
        let p = NaProblem {
            batch: 1,
            height: 128,
            width: 128,
            head_dim: hd,
            scale: 0.5,
            groups: vec![HeadGroup {
                heads: 4,
                kernel: 7,
                dilation: dil,
            }],
        };
        let qkv = vec![0.1f32; 128 * 128 * 3 * 4 * hd];
        let rpb = vec![vec![0.0f32; 4 * 169]];
        let t = std::time::Instant::now();
        for _ in 0..5 {
            let _ = cpu::na2d(&p, &qkv, &rpb);
        }
        println!("hd {hd} dil {dil}: {:?}", t.elapsed() / 5);
    }
}
