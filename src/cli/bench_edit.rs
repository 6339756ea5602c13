//! `stylenat bench --edit-latency`: how long an edit takes to show, through the engine path the
//! explorer uses (resume from the previous render, preview within the frame budget, refine).

use super::bench::median;
use crate::engine::{Engine, PREVIEW_BUDGET_MS};
use crate::kernels::to_host;
use crate::latent::group_edit::GroupEdit;
use crate::tensor::HostTensor;
use anyhow::Result;
use serde::Serialize;
use std::time::Instant;

#[derive(Serialize)]
pub struct EditLatency {
    /// `psi` (all layers move), `fine` (last third of the W+ layers), `coarse` (first third),
    /// `group` (one head group of the second-to-last stage ablated; W+ unchanged).
    edit: String,
    /// The W+ layers the edit changes.
    layers: String,
    /// Edit → preview on the host (the full image when no preview is cheaper).
    preview_ms_median: f64,
    preview_resolution: usize,
    /// Preview shown → full image, continuing from the preview's stage.
    refine_ms_median: f64,
    /// Edit → full image without a preview (resuming at the first changed layer).
    full_ms_median: f64,
}

#[derive(Serialize)]
pub struct EditResult {
    model: String,
    backend: String,
    runs: usize,
    preview_budget_ms: f64,
    /// Memory the stored block inputs hold for one image.
    cache_bytes: u64,
    edits: Vec<EditLatency>,
    /// SeFa directions of every W+ layer, 20 components (closed form), in milliseconds.
    sefa_ms: f64,
}

/// Host milliseconds of one render (read back, as the explorer does).
fn timed(engine: &mut Engine, w: &HostTensor, last: Option<usize>) -> Result<(f64, usize)> {
    let t0 = Instant::now();
    let r = engine.render_incremental(w, last)?;
    to_host(r.image)?;
    Ok((t0.elapsed().as_secs_f64() * 1e3, r.resolution))
}

pub fn measure(engine: &mut Engine, model: &str, runs: usize) -> Result<EditResult> {
    let num_ws = engine.config().num_ws();
    let d = engine.config().style_dim;
    let mean = engine.mean_latent()?;
    // Directions from seeded normals rather than other seeds' w: a model with random weights
    // maps every z to nearly the same w, and an edit must change the W+ it is applied to.
    let dirs = engine.z_for_seeds(&[1, 2], Default::default())?;
    let (away, along) = (&dirs.data[..d], &dirs.data[d..]);
    let third = (num_ws / 3).max(1);
    // The head-group edit: the last group of the second-to-last stage, ablated.
    let stage = engine.config().stages.len().saturating_sub(2);
    let last_group = engine.config().stages[stage].groups.len() - 1;
    let ablate: GroupEdit = format!("{stage}:{last_group}:scale=0")
        .parse()
        .map_err(anyhow::Error::msg)?;
    let kinds: [(&str, std::ops::Range<usize>); 4] = [
        ("psi", 0..num_ws),
        ("fine", num_ws - third..num_ws),
        ("coarse", 0..third),
        ("group", 2 * stage..2 * stage + 2),
    ];
    // The image before each edit: seed 0's w, moved off the mean, on every layer.
    let w = engine.map(&engine.z_for_seeds(&[0], Default::default())?)?;
    let w0: Vec<f32> = w.data.iter().zip(away).map(|(w, a)| w + 0.5 * a).collect();
    let base = engine.broadcast(&HostTensor::new(vec![1, d], w0));
    // The first render times every stage (previews are chosen from those times).
    timed(engine, &base, None)?;
    timed(engine, &base, None)?;
    let mut edits = Vec::new();
    for (name, layers) in kinds {
        let (mut previews, mut refines, mut fulls, mut res) = (vec![], vec![], vec![], 0);
        for r in 0..runs.max(1) {
            let step = 0.05 * (r + 1) as f32;
            let mut edited = base.clone();
            let group = name == "group";
            let edits = if group { vec![ablate] } else { Vec::new() };
            for k in layers.clone().filter(|_| !group) {
                let row = &mut edited.data[k * d..(k + 1) * d];
                if name == "psi" {
                    // Truncation ψ = 1 − step: every layer moves towards the mean.
                    for (x, &m) in row.iter_mut().zip(&mean) {
                        *x = m + (1.0 - step) * (*x - m);
                    }
                } else {
                    // A nudge along a direction on those layers (a slider drag).
                    for (x, &a) in row.iter_mut().zip(along) {
                        *x += step * a;
                    }
                }
            }
            // Explorer path: preview within the budget, then refine once the input rests.
            engine.set_head_edits(&[])?;
            timed(engine, &base, None)?;
            engine.set_head_edits(&edits)?;
            let stage = engine.preview_stage(&edited, PREVIEW_BUDGET_MS);
            let (ms, r) = timed(engine, &edited, stage)?;
            previews.push(ms);
            res = r;
            refines.push(match stage {
                Some(_) => timed(engine, &edited, None)?.0,
                None => 0.0,
            });
            // Straight to the full image.
            engine.set_head_edits(&[])?;
            timed(engine, &base, None)?;
            engine.set_head_edits(&edits)?;
            fulls.push(timed(engine, &edited, None)?.0);
            engine.set_head_edits(&[])?;
        }
        edits.push(EditLatency {
            edit: name.to_string(),
            layers: format!("{}-{}", layers.start, layers.end - 1),
            preview_ms_median: median(previews),
            preview_resolution: res,
            refine_ms_median: median(refines),
            full_ms_median: median(fulls),
        });
    }
    let t0 = Instant::now();
    crate::analysis::sefa::sefa(engine, &(0..num_ws).collect::<Vec<_>>(), 20)?;
    let sefa_ms = t0.elapsed().as_secs_f64() * 1e3;
    Ok(EditResult {
        sefa_ms,
        model: model.to_string(),
        backend: engine.backend.description.clone(),
        runs,
        preview_budget_ms: PREVIEW_BUDGET_MS,
        cache_bytes: engine.incremental_cache_bytes(),
        edits,
    })
}

pub fn print(r: &EditResult) {
    println!("model      {}", r.model);
    println!("backend    {}", r.backend);
    println!(
        "edit latency over {} runs (preview budget {:.0} ms; stored block inputs {:.1} MiB)",
        r.runs,
        r.preview_budget_ms,
        r.cache_bytes as f64 / (1 << 20) as f64
    );
    println!("SeFa of all W+ layers: {:.1} ms", r.sefa_ms);
    println!("edit    layers  preview ms   at res  refine ms   full ms");
    for e in &r.edits {
        println!(
            "{:<6}  {:>6}  {:>10.1}  {:>7}  {:>9.1}  {:>8.1}",
            e.edit,
            e.layers,
            e.preview_ms_median,
            e.preview_resolution,
            e.refine_ms_median,
            e.full_ms_median
        );
    }
}
