//! Rendering on the render thread: a new request shows a preview first when the full image
//! would not fit the frame budget, then refines one stage per step while nothing newer waits.

use super::{Job, Model, Post, failed, fallback};
use crate::app::gpu_texture::GpuTextures;
use crate::app::protocol::{Pixels, RenderArgs, Rendered, Reply};
use crate::engine::PREVIEW_BUDGET_MS;
use crate::error::Error;
use crate::io::image::to_rgb8;
use crate::kernels::present::pack_rgba8;
use crate::tensor::HostTensor;
use std::time::Instant;

/// A render the worker still owes: new (`next_stage` `None`: a preview may come first) or
/// being refined one stage at a time.
pub struct PendingRender {
    stamp: u64,
    args: RenderArgs,
    pub next_stage: Option<usize>,
    /// Render time already spent on this request (ms).
    spent_ms: f64,
    /// The request's W+ rows (mix, then A and B with `compare`), composed once.
    rows: Option<HostTensor>,
}

impl PendingRender {
    /// A request not started yet.
    pub fn new(stamp: u64, args: RenderArgs) -> Self {
        Self {
            stamp,
            args,
            next_stage: None,
            spent_ms: 0.0,
            rows: None,
        }
    }
}

/// What one step left to do.
pub enum Outcome {
    Done,
    /// Refine further while nothing newer waits.
    Continue(PendingRender),
    /// The GPU failed (a device error or a panic in wgpu/cubecl); retry this from the start.
    GpuFailed {
        retry: PendingRender,
        why: String,
    },
}

/// What one render step produced.
enum Step {
    /// Images to show (a preview or the final image).
    Shown(ShownImages),
    /// A stage between the preview and the final one was computed; nothing to show.
    Refining(usize),
}

struct ShownImages {
    images: Vec<(&'static str, Pixels)>,
    size: usize,
    resolution: usize,
    stage: usize,
    complete: bool,
    cache_bytes: u64,
}

/// Runs one step of `p` and posts what it shows.
pub fn step(
    m: &mut Model,
    mut p: PendingRender,
    gpu: Option<&mut GpuTextures>,
    post: &Post,
) -> Outcome {
    let t0 = Instant::now();
    // wgpu/cubecl report some device failures (a lost adapter, a shader the driver rejects)
    // by panicking: contain them here rather than lose the render thread.
    let attempt =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| render_one(m, &mut p, gpu)));
    let result = match attempt {
        Err(panic) => Err(fallback::panic_text(panic.as_ref())),
        Ok(Err(Error::Backend(e))) if !crate::backend::is_cpu(&m.engine.backend.device) => Err(e),
        Ok(r) => Ok(r),
    };
    let step = match result {
        Err(why) => {
            let retry = PendingRender::new(p.stamp, p.args);
            return Outcome::GpuFailed { retry, why };
        }
        Ok(Err(e)) => {
            post(failed(Job::Render, e.to_string()));
            return Outcome::Done;
        }
        Ok(Ok(step)) => step,
    };
    p.spent_ms += t0.elapsed().as_secs_f64() * 1e3;
    match step {
        // Deeper than the preview, not yet complete: go on while nothing newer waits.
        Step::Refining(stage) => {
            p.next_stage = Some(stage + 1);
            Outcome::Continue(p)
        }
        Step::Shown(shown) => {
            let wplus = p.rows.as_ref().map_or_else(Vec::new, |rows| {
                rows.data[..rows.shape[1] * rows.shape[2]].to_vec()
            });
            post(Reply::Image(Rendered {
                stamp: p.stamp,
                args: p.args.clone(),
                size: shown.size,
                resolution: shown.resolution,
                complete: shown.complete,
                cache_bytes: shown.cache_bytes,
                images: shown.images,
                wplus,
                ms: p.spent_ms,
            }));
            if shown.complete {
                Outcome::Done
            } else {
                p.next_stage = Some(shown.stage + 1);
                Outcome::Continue(p)
            }
        }
    }
}

/// `STYLENAT_PREVIEW_STAGE=N`: every new request first shows stage N's preview, whatever
/// the budget (to see or test the preview path on a model that renders within the budget).
fn forced_preview_stage() -> Option<usize> {
    std::env::var("STYLENAT_PREVIEW_STAGE").ok()?.parse().ok()
}

/// One step of a render: a new request shows a preview when the full image would not fit the
/// frame budget ([`PREVIEW_BUDGET_MS`]); a refine step computes stage `next_stage` (resuming
/// from the stored block inputs) and shows the final image once it gets there.
fn render_one(
    m: &mut Model,
    p: &mut PendingRender,
    gpu: Option<&mut GpuTextures>,
) -> crate::Result<Step> {
    let e = &mut m.engine;
    let (num_ws, d, size) = (e.config().num_ws(), e.config().style_dim, e.config().size);
    let last = e.config().stages.len() - 1;
    let mut labels = vec!["mix"];
    if p.args.compare {
        labels.extend(["A", "B"]);
    }
    if p.rows.is_some() {
        // A refine step: another job (attention maps, an export) may have composed a recipe
        // with other head-group edits since this render composed its own.
        e.set_head_edits(&p.args.recipe.group_edits)?;
    } else {
        let c = m
            .composer
            .compose(e, std::slice::from_ref(&p.args.recipe))?;
        let c = c
            .into_iter()
            .next()
            .expect("one recipe composes to one latent");
        let mut rows = c.mix;
        if p.args.compare {
            rows.extend_from_slice(&c.a);
            rows.extend_from_slice(&c.b);
        }
        p.rows = Some(HostTensor::new(vec![labels.len(), num_ws, d], rows));
    }
    let wplus = p.rows.as_ref().expect("composed above");
    let stage = match p.next_stage {
        Some(s) => Some(s.min(last)),
        None => forced_preview_stage()
            .map(|s| s.min(last))
            .or_else(|| e.preview_stage(wplus, PREVIEW_BUDGET_MS)),
    };
    let out = e.render_incremental(wplus, stage)?;
    if p.next_stage.is_some() && !out.complete {
        return Ok(Step::Refining(out.stage));
    }
    let r = out.resolution;
    let mut image = out.image;
    if p.args.unedited && out.complete {
        // The same W+ with every head group as loaded, beside the edited image.
        let mix = HostTensor::new(vec![1, num_ws, d], wplus.data[..num_ws * d].to_vec());
        image = burn::tensor::Tensor::cat(vec![image, e.synthesize_unedited_on_device(&mix)?], 0);
        labels.push("unedited");
        if !p.args.compare {
            labels[0] = "edited";
        }
    }
    let images = match gpu {
        Some(textures) if !crate::backend::is_cpu(&e.backend.device) => {
            let packed = pack_rgba8(image)?;
            let ids = textures.upload(&packed, !out.complete);
            labels
                .into_iter()
                .zip(ids.into_iter().map(Pixels::Gpu))
                .collect()
        }
        _ => {
            let px = crate::kernels::to_host(image)?;
            labels
                .into_iter()
                .zip(px.chunks(3 * r * r))
                .map(|(l, px)| (l, Pixels::Host(to_rgb8(px, r, r))))
                .collect()
        }
    };
    Ok(Step::Shown(ShownImages {
        images,
        size,
        resolution: r,
        stage: out.stage,
        complete: out.complete,
        cache_bytes: e.incremental_cache_bytes(),
    }))
}
