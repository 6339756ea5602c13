//! Attention maps: for one pixel, the softmax weights each head group puts on its
//! neighbourhood at a chosen block — where StyleNAT's local and dilated heads actually look.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::kernels::attention_weights::{HeadWeights, dense_map, query_weights};
use crate::model::Trace;
use crate::tensor::HostTensor;

/// One head group's view of the query.
#[derive(Debug, Clone)]
pub struct GroupMap {
    pub group: usize,
    pub heads: usize,
    pub kernel: usize,
    pub dilation: usize,
    /// Weights averaged over the group's heads, dense `res × res` (zero outside the window).
    pub mean: Vec<f32>,
    /// The same per head.
    pub per_head: Vec<Vec<f32>>,
}

#[derive(Debug, Clone)]
pub struct AttentionMaps {
    pub stage: usize,
    pub block: usize,
    /// Side of the attention map (the stage's resolution).
    pub resolution: usize,
    /// The query in map coordinates.
    pub query: (usize, usize),
    pub groups: Vec<GroupMap>,
    /// Every head's raw weights (taps and keys).
    pub heads: Vec<HeadWeights>,
}

/// Maps of the pixel `(x, y)` (in output-image coordinates) at `stage`/`block` for the single
/// image with W+ `wplus` (`[1, num_ws, w_dim]`).
pub fn attention_maps(
    engine: &Engine,
    wplus: &HostTensor,
    stage: usize,
    block: usize,
    pixel: (usize, usize),
) -> Result<AttentionMaps> {
    let cfg = engine.config();
    let Some(st) = cfg.stages.get(stage) else {
        return Err(Error::Input(format!(
            "stage {stage} does not exist (the model has {})",
            cfg.stages.len()
        )));
    };
    if block > 1 {
        return Err(Error::Input(format!("block must be 0 or 1, got {block}")));
    }
    let size = cfg.size;
    if pixel.0 >= size || pixel.1 >= size {
        return Err(Error::Input(format!(
            "pixel ({}, {}) is outside the {size}×{size} image",
            pixel.0, pixel.1
        )));
    }
    if wplus.shape.first() != Some(&1) {
        return Err(Error::Input(
            "attention maps are computed for one image".into(),
        ));
    }
    let mut trace = Trace::attention_of(stage, block);
    engine.synthesize_traced(wplus, &mut trace)?;
    let cap = trace
        .attention
        .ok_or_else(|| Error::Backend("the attention layer was not reached".into()))?;
    let res = st.resolution;
    let query = (pixel.0 * res / size, pixel.1 * res / size);
    let heads = query_weights(&cap.problem, &cap.qkv, &cap.rpb, 0, query.1, query.0)?;
    // The groups as they ran (head-group edits may override kernels and dilations).
    let groups = cap
        .problem
        .groups
        .iter()
        .enumerate()
        .map(|(g, grp)| {
            let mine: Vec<&HeadWeights> = heads.iter().filter(|h| h.group == g).collect();
            GroupMap {
                group: g,
                heads: grp.heads,
                kernel: grp.kernel,
                dilation: grp.dilation,
                mean: dense_map(&cap.problem, &mine),
                per_head: mine.iter().map(|h| dense_map(&cap.problem, &[h])).collect(),
            }
        })
        .collect();
    Ok(AttentionMaps {
        stage,
        block,
        resolution: res,
        query,
        groups,
        heads,
    })
}

/// Heat colour for a weight in `[0, 1]` (black → red → yellow → white).
fn heat(t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0) * 3.0;
    [
        t.min(1.0),
        (t - 1.0).clamp(0.0, 1.0),
        (t - 2.0).clamp(0.0, 1.0),
    ]
}

/// Overlays `map` (`res × res`, upscaled to the image) on a dimmed copy of `rgb`
/// (`size × size`), scaled so the map's maximum is full heat; outlines the query cell.
pub fn overlay(rgb: &[u8], size: usize, map: &[f32], res: usize, query: (usize, usize)) -> Vec<u8> {
    let max = map.iter().copied().fold(0f32, f32::max).max(1e-12);
    let cell = size / res.max(1);
    let mut out = vec![0u8; size * size * 3];
    for y in 0..size {
        for x in 0..size {
            let (my, mx) = (
                (y / cell.max(1)).min(res - 1),
                (x / cell.max(1)).min(res - 1),
            );
            let w = map[my * res + mx] / max;
            let h = heat(w);
            let i = (y * size + x) * 3;
            let on_query_edge = (mx, my) == query
                && (x % cell == 0 || y % cell == 0 || x % cell == cell - 1 || y % cell == cell - 1);
            for c in 0..3 {
                let base = rgb[i + c] as f32 / 255.0 * 0.35;
                let v = if on_query_edge {
                    1.0
                } else {
                    base * (1.0 - w) + h[c] * w
                };
                out[i + c] = (v * 255.0).round() as u8;
            }
        }
    }
    out
}
