//! Generator architectures for training from scratch, and the per-parameter learning-rate
//! multipliers that make pre-scaled `EqualLinear` weights train like the official ones.

use crate::model::{GeneratorConfig, HeadGroup, StageConfig};

/// A small StyleNAT for `size`×`size` images (`size` a power of two, 8–256): `width` channels
/// up to 16×16, halving above; the 4×4 stage uses full attention, every other stage splits its
/// heads into a local group (dilation 1) and a sparse group whose dilated window spans almost
/// the whole map — the StyleNAT idea at small scale.
pub fn small(size: usize, width: usize, style_dim: usize) -> GeneratorConfig {
    let mut stages = Vec::new();
    let mut res = 4;
    let dim_at = |r: usize| (width * 16 / r.max(16)).max(16);
    while res <= size {
        let dim = dim_at(res);
        let heads = (dim / 16).max(2);
        let groups = if res == 4 {
            vec![HeadGroup {
                heads,
                kernel: 4,
                dilation: 1,
            }]
        } else {
            let kernel = match res {
                8 => 3,
                16 | 32 => 5,
                _ => 7,
            };
            vec![
                HeadGroup {
                    heads: heads / 2,
                    kernel,
                    dilation: 1,
                },
                HeadGroup {
                    heads: heads - heads / 2,
                    kernel,
                    dilation: res / kernel,
                },
            ]
        };
        stages.push(StageConfig {
            resolution: res,
            dim,
            mlp_hidden: 2 * dim,
            qkv_bias: true,
            groups,
            out_dim: (res < size).then(|| dim_at(2 * res)),
        });
        res *= 2;
    }
    GeneratorConfig {
        size,
        style_dim,
        n_mlp: 4,
        lr_mlp: 0.01,
        qk_scale: None,
        stages,
    }
}

/// Learning-rate multiplier of generator parameter `path` (burn module path): the
/// equalised-lr scale its weights were multiplied by at load time.
pub fn lr_scale(config: &GeneratorConfig, path: &str) -> f32 {
    let (w, b) = if path.starts_with("style.layers.") {
        crate::model::state_dict::equal_scales(config.style_dim, config.lr_mlp)
    } else if path.contains(".norm1.style.") || path.contains(".norm2.style.") {
        crate::model::state_dict::equal_scales(config.style_dim, 1.0)
    } else {
        return 1.0;
    };
    if path.ends_with(".bias") { b } else { w }
}
