//! Watching a forward pass: an [`Observer`] is told about activations, attention inputs and
//! stage boundaries only where it asked for them. With nothing observing (`&mut ()`), a pass
//! formats no names, reads nothing back and keeps no books.

use crate::tensor::HostTensor;
use burn::tensor::{Device, Tensor};

/// Where in the synthesis network an activation is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// A block's attention output (after the projection, before the residual).
    AttnOut { stage: usize, block: usize },
    /// A block's output.
    BlockOut { stage: usize, block: usize },
    /// A stage's output after its upsample.
    UpsampleOut { stage: usize },
    /// The running ToRGB skip image after a stage.
    ToRgbSkip { stage: usize },
}

impl Site {
    /// The name the parity fixture uses, e.g. `stage3_block1_attn_out`.
    pub fn name(self) -> String {
        match self {
            Self::AttnOut { stage, block } => format!("stage{stage}_block{block}_attn_out"),
            Self::BlockOut { stage, block } => format!("stage{stage}_block{block}_out"),
            Self::UpsampleOut { stage } => format!("stage{stage}_upsample_out"),
            Self::ToRgbSkip { stage } => format!("stage{stage}_torgb_skip"),
        }
    }
}

/// The name people type and read: `stage4.block1` (block output), `stage4.block1.attn`
/// (attention output), `stage4.upsample`, `stage4.torgb` (the running RGB skip image).
impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::BlockOut { stage, block } => write!(f, "stage{stage}.block{block}"),
            Self::AttnOut { stage, block } => write!(f, "stage{stage}.block{block}.attn"),
            Self::UpsampleOut { stage } => write!(f, "stage{stage}.upsample"),
            Self::ToRgbSkip { stage } => write!(f, "stage{stage}.torgb"),
        }
    }
}

impl std::str::FromStr for Site {
    type Err = String;

    /// Reads what [`Site`]'s `Display` writes.
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{text}` is not a layer: stageS.blockB, stageS.blockB.attn, stageS.upsample \
                 or stageS.torgb"
            )
        };
        let parts: Vec<&str> = text.split('.').collect();
        let stage = parts[0]
            .strip_prefix("stage")
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        let block = parts
            .get(1)
            .and_then(|p| p.strip_prefix("block"))
            .and_then(|b| b.parse().ok());
        match (&parts[1..], block) {
            ([_], Some(block)) => Ok(Self::BlockOut { stage, block }),
            ([_, "attn"], Some(block)) => Ok(Self::AttnOut { stage, block }),
            (["upsample"], _) => Ok(Self::UpsampleOut { stage }),
            (["torgb"], _) => Ok(Self::ToRgbSkip { stage }),
            _ => Err(bad()),
        }
    }
}

/// What one attention layer saw: its problem, `qkv` `[B, H, W, 3, heads, head_dim]` and bias
/// tables, on the host (for attention maps).
#[derive(Debug, Clone)]
pub struct AttentionCapture {
    pub problem: crate::kernels::NaProblem,
    pub qkv: Vec<f32>,
    pub rpb: Vec<Vec<f32>>,
}

/// Someone watching a forward pass. Every method does nothing unless overridden.
pub trait Observer {
    /// Whether `site`'s activation should be read back and handed to [`Observer::activation`].
    fn wants(&self, _site: Site) -> bool {
        false
    }
    fn activation(&mut self, _site: Site, _value: HostTensor) {}
    /// Whether block `block` of stage `stage` should capture its attention inputs.
    fn wants_attention(&self, _stage: usize, _block: usize) -> bool {
        false
    }
    fn attention(&mut self, _capture: AttentionCapture) {}
    /// The pass starts computing blocks.
    fn pass_started(&mut self) {}
    /// A stage finished on `device` (an observer that times stages synchronises it).
    fn stage_done(&mut self, _device: &Device) {}
}

/// Nothing observes.
impl Observer for () {}

/// Hands `t` to `obs` if it wants `site` (read back to the host only then).
pub(crate) fn observe<const D: usize>(obs: &mut dyn Observer, site: Site, t: &Tensor<D>) {
    if !obs.wants(site) {
        return;
    }
    let shape = t.dims().to_vec();
    if let Ok(data) = crate::kernels::to_host(t.clone()) {
        obs.activation(site, HostTensor::new(shape, data));
    }
}

/// The observer of tests, attention maps and benchmarks: every activation (`on`), one
/// block's attention inputs (`attention_of`) or per-stage wall time (`timing`).
#[derive(Default)]
pub struct Trace {
    pub enabled: bool,
    pub records: Vec<(String, HostTensor)>,
    /// When set, the device is synchronised after every stage and its wall time recorded (ms).
    pub stage_ms: Option<Vec<f64>>,
    /// `(stage, block)` whose attention inputs to capture into `attention`.
    pub attention_of: Option<(usize, usize)>,
    pub attention: Option<AttentionCapture>,
    last: Option<std::time::Instant>,
}

impl Trace {
    /// Every activation, by its fixture name.
    pub fn on() -> Self {
        Self {
            enabled: true,
            ..Self::default()
        }
    }

    /// Captures the attention inputs of one block only.
    pub fn attention_of(stage: usize, block: usize) -> Self {
        Self {
            attention_of: Some((stage, block)),
            ..Self::default()
        }
    }

    /// Per-stage timing only (benchmarks).
    pub fn timing() -> Self {
        Self {
            stage_ms: Some(Vec::new()),
            ..Self::default()
        }
    }

    pub fn get(&self, name: &str) -> Option<&HostTensor> {
        self.records.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

impl Observer for Trace {
    fn wants(&self, _site: Site) -> bool {
        self.enabled
    }

    fn activation(&mut self, site: Site, value: HostTensor) {
        self.records.push((site.name(), value));
    }

    fn wants_attention(&self, stage: usize, block: usize) -> bool {
        self.attention_of == Some((stage, block))
    }

    fn attention(&mut self, capture: AttentionCapture) {
        self.attention = Some(capture);
    }

    fn pass_started(&mut self) {
        if self.stage_ms.is_some() {
            self.last = Some(std::time::Instant::now());
        }
    }

    fn stage_done(&mut self, device: &Device) {
        if let (Some(times), Some(last)) = (&mut self.stage_ms, self.last) {
            let _ = device.sync();
            let now = std::time::Instant::now();
            times.push((now - last).as_secs_f64() * 1e3);
            self.last = Some(now);
        }
    }
}
