//! Head-group edits resolved against an architecture: for each attention layer, the scale of
//! each group's output and the neighbourhood each group runs with.

use super::GeneratorConfig;
use crate::error::{Error, Result};
use crate::kernels::HeadGroup;
use crate::latent::group_edit::{GroupEdit, GroupOp};
use burn::tensor::{Tensor, TensorData};

/// What one attention layer runs differently from its checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionEdit {
    /// Per group: its output is multiplied by this before the output projection.
    pub scale: Vec<f32>,
    /// Per group: heads as loaded, kernel and dilation to run with.
    pub groups: Vec<HeadGroup>,
}

impl AttentionEdit {
    /// Whether any group's output is scaled (a scale of exactly 1 is skipped, so an edit of
    /// `scale=1` leaves the pass bit-identical).
    pub fn scales(&self) -> bool {
        self.scale.iter().any(|&s| s != 1.0)
    }

    /// `[C]` channel factors of the concatenated heads (`head_dim` channels per head).
    pub fn channel_scale(&self, head_dim: usize) -> Vec<f32> {
        self.groups
            .iter()
            .zip(&self.scale)
            .flat_map(|(g, &s)| std::iter::repeat_n(s, g.heads * head_dim))
            .collect()
    }
}

/// The groups block `block` of stage `stage` runs with under `edits` (kernel and dilation
/// overrides applied, unchecked; for labels).
pub fn groups_of(
    config: &GeneratorConfig,
    edits: &[GroupEdit],
    stage: usize,
    block: usize,
) -> Vec<HeadGroup> {
    let mut groups = config
        .stages
        .get(stage)
        .map_or_else(Vec::new, |s| s.groups.clone());
    for e in edits.iter().filter(|e| e.addresses(stage, block)) {
        if let Some(g) = groups.get_mut(e.group) {
            override_neighbourhood(g, e.op);
        }
    }
    groups
}

/// A kernel or dilation edit applied to the group's neighbourhood (a scale leaves it alone).
fn override_neighbourhood(g: &mut HeadGroup, op: GroupOp) {
    match op {
        GroupOp::Dilation(d) => g.dilation = d,
        GroupOp::Kernel(k) => g.kernel = k,
        GroupOp::Scale(_) => {}
    }
}

/// Per block (`2·stage + block`, the W+ layer feeding it): its edit, if any. Later edits of
/// the same kind at the same place win. An edit that addresses a stage, block or group the
/// model lacks, or a neighbourhood its map cannot hold, is an error naming the edit.
pub fn resolve(
    config: &GeneratorConfig,
    edits: &[GroupEdit],
) -> Result<Vec<Option<AttentionEdit>>> {
    let mut out: Vec<Option<AttentionEdit>> = vec![None; config.num_ws()];
    for e in edits {
        let Some(stage) = config.stages.get(e.stage) else {
            return Err(Error::Input(format!(
                "head-group edit `{e}`: stage {} does not exist (the model has stages 0-{})",
                e.stage,
                config.stages.len() - 1
            )));
        };
        if e.group >= stage.groups.len() {
            return Err(Error::Input(format!(
                "head-group edit `{e}`: stage {} has {} head group(s), numbered from 0",
                e.stage,
                stage.groups.len()
            )));
        }
        for block in 0..2 {
            if !e.addresses(e.stage, block) {
                continue;
            }
            let slot = out[2 * e.stage + block].get_or_insert_with(|| AttentionEdit {
                scale: vec![1.0; stage.groups.len()],
                groups: stage.groups.clone(),
            });
            if let GroupOp::Scale(s) = e.op {
                slot.scale[e.group] = s;
            }
            override_neighbourhood(&mut slot.groups[e.group], e.op);
        }
    }
    // Checked once all edits are in: a kernel and a dilation edit only fit together.
    for (k, edit) in out.iter().enumerate() {
        let Some(edit) = edit else { continue };
        let r = config.stages[k / 2].resolution;
        for (i, g) in edit.groups.iter().enumerate() {
            if g.kernel * g.dilation > r {
                return Err(Error::Input(format!(
                    "head-group edit of stage {}.{} group {i}: kernel {} × dilation {} does not \
                     fit the stage's {r}×{r} map",
                    k / 2,
                    k % 2,
                    g.kernel,
                    g.dilation
                )));
            }
        }
    }
    Ok(out)
}

/// A `[heads, 2k₀−1, 2k₀−1]` bias table resized for kernel `k`: zero-padded around the
/// original when larger, its centre when smaller (the offsets both tables share keep their
/// values).
pub fn resize_bias_table(table: Tensor<3>, kernel: usize) -> Tensor<3> {
    let [heads, t0, _] = table.dims();
    let t1 = 2 * kernel - 1;
    if t1 == t0 {
        return table;
    }
    if t1 < t0 {
        let off = (t0 - t1) / 2;
        return table.narrow(1, off, t1).narrow(2, off, t1);
    }
    let off = (t1 - t0) / 2;
    let zeros = Tensor::<3>::from_data(
        TensorData::new(vec![0f32; heads * t1 * t1], [heads, t1, t1]),
        &table.device(),
    );
    zeros.slice_assign([0..heads, off..off + t0, off..off + t0], table)
}
