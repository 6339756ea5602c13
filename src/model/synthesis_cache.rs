//! What one synthesis leaves behind so the next one recomputes only what changed.
//!
//! W+ layer `k` feeds block `k` (stage `k / 2`, block `k % 2`) and nothing before it, so an edit
//! whose first changed layer is `k` can start at block `k` from the stored input of that block
//! and the RGB skip image entering its stage. The same operations then run on the same values,
//! so the result is bit-identical to a full pass. Head-group edits work the same way: an
//! edit of block `k`'s attention changes nothing before block `k`.

use super::head_edits::AttentionEdit;
use burn::tensor::Tensor;

/// Block inputs of the last synthesis, keyed by the W+ it used.
#[derive(Debug, Default)]
pub struct SynthesisCache {
    /// The W+ of the stored pass, `[batch, num_ws, style_dim]` flattened.
    wplus: Vec<f32>,
    /// The head-group edits of the stored pass, per block.
    edits: Vec<Option<AttentionEdit>>,
    /// For each block from the first on, while valid: its input tokens and the RGB skip image
    /// entering its stage (`None` in the first stage).
    inputs: Vec<(Tensor<3>, Option<Tensor<4>>)>,
    bytes: u64,
    /// The block the last pass started at.
    started_at: usize,
}

impl SynthesisCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The first block that must run for `wplus` (`[batch, num_ws, d]` flattened) with head-group
    /// `edits` (per block): the first W+ layer that differs from the stored pass in any image
    /// or whose block's edit differs, capped at the last stored input (a pass recomputes at
    /// least one block). A different shape starts from block 0.
    pub fn first_block(
        &self,
        wplus: &[f32],
        num_ws: usize,
        d: usize,
        edits: &[Option<AttentionEdit>],
    ) -> usize {
        if self.wplus.len() != wplus.len() || self.inputs.is_empty() {
            return 0;
        }
        let edited = (0..num_ws)
            .find(|&k| edits.get(k) != self.edits.get(k))
            .unwrap_or(num_ws);
        let per_image = num_ws * d;
        let changed = (0..num_ws)
            .find(|&k| {
                wplus
                    .chunks(per_image)
                    .zip(self.wplus.chunks(per_image))
                    .any(|(a, b)| {
                        // Bitwise: −0.0 vs 0.0 or NaN payloads count as changes.
                        a[k * d..(k + 1) * d]
                            .iter()
                            .zip(&b[k * d..(k + 1) * d])
                            .any(|(x, y)| x.to_bits() != y.to_bits())
                    })
            })
            .unwrap_or(num_ws);
        changed.min(edited).min(self.inputs.len() - 1)
    }

    /// The stored input of `block`, if there is one.
    pub(crate) fn input(&self, block: usize) -> Option<(Tensor<3>, Option<Tensor<4>>)> {
        self.inputs.get(block).cloned()
    }

    /// Starts a pass for `wplus` with `edits` at `block`: inputs from `block` on are dropped.
    pub(crate) fn begin(&mut self, wplus: &[f32], edits: &[Option<AttentionEdit>], block: usize) {
        self.inputs.truncate(block);
        self.edits = edits.to_vec();
        self.started_at = block;
        self.wplus.clear();
        self.wplus.extend_from_slice(wplus);
        self.bytes = self
            .inputs
            .iter()
            .enumerate()
            .map(|(k, (x, s))| entry_bytes(x, if k % 2 == 0 { s } else { &None }))
            .sum();
    }

    /// Records the input of the next block.
    pub(crate) fn push(&mut self, x: &Tensor<3>, skip: &Option<Tensor<4>>) {
        // Both blocks of a stage share one skip image: count it once.
        let skip_counted = if self.inputs.len().is_multiple_of(2) {
            skip
        } else {
            &None
        };
        self.bytes += entry_bytes(x, skip_counted);
        self.inputs.push((x.clone(), skip.clone()));
    }

    /// The block the last pass started at (0: a full pass).
    pub fn started_at(&self) -> usize {
        self.started_at
    }

    /// How many block inputs are stored.
    pub fn blocks(&self) -> usize {
        self.inputs.len()
    }

    /// Bytes the stored inputs hold (tensors shared with the caller count in full).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Forgets everything (a new model, or memory wanted back).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

fn entry_bytes(x: &Tensor<3>, skip: &Option<Tensor<4>>) -> u64 {
    let n = x.dims().iter().product::<usize>()
        + skip
            .as_ref()
            .map_or(0, |s| s.dims().iter().product::<usize>());
    4 * n as u64
}
