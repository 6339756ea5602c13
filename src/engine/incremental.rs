//! Rendering for interactive use: each render resumes from the block inputs the previous one
//! stored (bit-identical to a full pass), and a render may stop early at a stage whose ToRGB
//! skip image is a preview of the final one.

use super::Engine;
use super::batch::on_pool;
use crate::error::Result;
use crate::model::{SynthesisCache, Trace};
use crate::tensor::HostTensor;
use burn::tensor::{Tensor, TensorData};

/// How long the explorer may take to show something while an input moves (ms): previews are
/// chosen to fit it, from the measured cost of each stage.
pub const PREVIEW_BUDGET_MS: f64 = 100.0;

/// The explorer's render state: the synthesis cache and what each stage last cost.
#[derive(Debug, Default)]
pub struct Incremental {
    cache: SynthesisCache,
    /// Wall time of each stage the last time it ran whole, for `batch` images.
    stage_ms: Vec<Option<f64>>,
    batch: usize,
}

/// One render through [`Engine::render_incremental`].
#[derive(Debug)]
pub struct StageImage {
    /// `[N, 3, r, r]`, on the device, in the official output space.
    pub image: Tensor<4>,
    /// `r`: the model's size, or a smaller stage's for a preview.
    pub resolution: usize,
    /// The last stage computed; the final image when it is the model's last.
    pub stage: usize,
    /// The first block that ran (0 = a full pass).
    pub first_block: usize,
    /// Whether this is the final image rather than a preview.
    pub complete: bool,
}

impl Incremental {
    /// Estimated milliseconds to run from block `start` to the end of stage `last`; `None`
    /// while some stage has not been timed yet.
    fn cost(&self, start: usize, last: usize) -> Option<f64> {
        (start / 2..=last)
            .map(|i| {
                let ms = (*self.stage_ms.get(i)?)?;
                Some(if i == start / 2 && start % 2 == 1 {
                    ms / 2.0
                } else {
                    ms
                })
            })
            .sum()
    }
}

impl Engine {
    /// Renders W+ `[N, num_ws, D]`, starting at the first block whose W+ layer differs from
    /// the previous render's, and stopping after `last_stage` when given (a preview).
    pub fn render_incremental(
        &mut self,
        wplus: &HostTensor,
        last_stage: Option<usize>,
    ) -> Result<StageImage> {
        self.check_wplus(wplus)?;
        let (num_ws, d) = (self.config().num_ws(), self.config().style_dim);
        let n = wplus.shape[0];
        let stages = self.config().stages.len();
        let state = &mut self.incremental;
        if state.batch != n {
            state.stage_ms = vec![None; stages];
            state.batch = n;
        }
        let t = Tensor::<3>::from_data(
            TensorData::new(wplus.data.clone(), [n, num_ws, d]),
            &self.backend.device,
        );
        let mut trace = Trace::timing();
        let (generator, cache) = (&self.generator, &mut state.cache);
        let image = on_pool(&self.backend.device, || {
            generator.synthesize_with(t, Some((cache, &wplus.data)), last_stage, &mut trace)
        })?;
        let stage = last_stage.unwrap_or(stages - 1).min(stages - 1);
        let first_block = state.cache.started_at();
        for (offset, ms) in trace.stage_ms.unwrap_or_default().into_iter().enumerate() {
            let i = first_block / 2 + offset;
            if offset == 0 && first_block % 2 == 1 {
                continue; // half a stage
            }
            if let Some(slot) = state.stage_ms.get_mut(i) {
                *slot = Some(ms);
            }
        }
        Ok(StageImage {
            resolution: image.dims()[3],
            image,
            stage,
            first_block,
            complete: stage == stages - 1,
        })
    }

    /// The deepest stage whose preview of `wplus` is estimated to take at most `budget_ms`,
    /// or `None` when the full image fits the budget, when no earlier stage does (a preview
    /// over budget would only delay the final image), or while stage costs are still unknown
    /// (the first render measures them).
    pub fn preview_stage(&self, wplus: &HostTensor, budget_ms: f64) -> Option<usize> {
        let (num_ws, d) = (self.config().num_ws(), self.config().style_dim);
        let last = self.config().stages.len() - 1;
        let state = &self.incremental;
        if state.batch != wplus.shape.first().copied().unwrap_or(0) {
            return None;
        }
        let edits = self.generator.head_edits();
        let start = state.cache.first_block(&wplus.data, num_ws, d, &edits);
        if state.cost(start, last)? <= budget_ms {
            return None;
        }
        (start / 2..last)
            .rev()
            .find(|&s| state.cost(start, s).is_some_and(|ms| ms <= budget_ms))
    }

    /// What each stage cost the last time it ran whole (ms, for the last batch size).
    pub fn stage_ms(&self) -> &[Option<f64>] {
        &self.incremental.stage_ms
    }

    /// Bytes the stored block inputs hold (reported in the explorer).
    pub fn incremental_cache_bytes(&self) -> u64 {
        self.incremental.cache.bytes()
    }

    /// Drops the stored block inputs (their memory comes back; the next render is a full pass).
    pub fn clear_incremental(&mut self) {
        self.incremental.cache.clear();
    }
}
