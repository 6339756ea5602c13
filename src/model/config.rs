//! Serializable description of a StyleNAT generator (official `models/generator.py:Generator`).

pub use crate::kernels::HeadGroup;
use serde::{Deserialize, Serialize};

/// Architecture of a whole generator. Everything the forward pass needs besides weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorConfig {
    /// Output resolution (square).
    pub size: usize,
    /// Width of z and w.
    pub style_dim: usize,
    /// Number of EqualLinear layers in the mapping network.
    pub n_mlp: usize,
    /// Learning-rate multiplier of the mapping network (scales its weights and biases).
    pub lr_mlp: f32,
    /// Overrides `head_dim^-0.5` when set.
    pub qk_scale: Option<f32>,
    /// One entry per resolution, 4×4 first.
    pub stages: Vec<StageConfig>,
}

/// One resolution of the synthesis network: two transformer blocks, then (except for the last
/// stage) a bilinear upsample to `out_dim` channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageConfig {
    pub resolution: usize,
    pub dim: usize,
    pub mlp_hidden: usize,
    pub qkv_bias: bool,
    /// Head groups in head order; their head counts add up to the stage's heads.
    pub groups: Vec<HeadGroup>,
    /// Channels after the upsample, `None` for the last stage.
    pub out_dim: Option<usize>,
}

impl StageConfig {
    pub fn num_heads(&self) -> usize {
        self.groups.iter().map(|g| g.heads).sum()
    }

    pub fn head_dim(&self) -> usize {
        self.dim / self.num_heads().max(1)
    }

    /// Whether this is the 4×4 stage of full attention (`MHSARPB`).
    pub fn is_full_attention(&self) -> bool {
        self.groups.len() == 1 && self.groups[0].kernel == self.resolution
    }
}

impl GeneratorConfig {
    /// Number of W+ vectors: two per stage (one per block).
    pub fn num_ws(&self) -> usize {
        2 * self.stages.len()
    }

    /// Resolution of the block that consumes W+ layer `i`.
    pub fn ws_resolution(&self, i: usize) -> usize {
        self.stages[i / 2].resolution
    }

    /// Checks the invariants the forward pass relies on.
    pub fn validate(&self) -> Result<(), String> {
        if self.stages.is_empty() {
            return Err("the generator has no stages".into());
        }
        if self.style_dim == 0 || self.n_mlp == 0 {
            return Err("style_dim and n_mlp must be positive".into());
        }
        let last = self.stages.len() - 1;
        for (i, s) in self.stages.iter().enumerate() {
            let expected = 4usize << i;
            if s.resolution != expected {
                return Err(format!(
                    "stage {i} has resolution {}, expected {expected}",
                    s.resolution
                ));
            }
            if s.dim == 0 || s.mlp_hidden == 0 {
                return Err(format!("stage {i} has zero width"));
            }
            if s.groups.is_empty() || s.num_heads() == 0 || s.dim % s.num_heads() != 0 {
                return Err(format!(
                    "stage {i}: {} channels cannot be split into {} heads",
                    s.dim,
                    s.num_heads()
                ));
            }
            for g in &s.groups {
                if g.kernel == 0 || g.dilation == 0 || g.kernel * g.dilation > s.resolution {
                    return Err(format!(
                        "stage {i} ({0}×{0}): kernel {1} with dilation {2} needs a map of at \
                         least {3} pixels per side (NATTEN requires kernel·dilation ≤ size)",
                        s.resolution,
                        g.kernel,
                        g.dilation,
                        g.kernel * g.dilation
                    ));
                }
            }
            if let Some(out) = s.out_dim
                && (out < 8 || out % 4 != 0)
            {
                return Err(format!(
                    "stage {i}: the upsample's {out} channels cannot hold the 2-D sinusoidal \
                     embedding (needs a multiple of 4, at least 8)"
                ));
            }
            if (i == last) != s.out_dim.is_none() {
                return Err(format!("stage {i}: only the last stage has no upsample"));
            }
            if i > 0 && self.stages[i - 1].out_dim != Some(s.dim) {
                return Err(format!(
                    "stage {i} has {} channels but the previous upsample produces {:?}",
                    s.dim,
                    self.stages[i - 1].out_dim
                ));
            }
        }
        if self.stages[last].resolution != self.size {
            return Err(format!(
                "the last stage is {0}×{0} but the size is {1}",
                self.stages[last].resolution, self.size
            ));
        }
        Ok(())
    }
}

impl GeneratorConfig {
    /// FLOPs (2 per multiply–add) of one image, per stage; the mapping network is counted in
    /// stage 0. Dense layers, attention (QK and AV over each query's window) and ToRGB are
    /// counted; normalisations and element-wise ops are not.
    pub fn flops_per_stage(&self) -> Vec<u64> {
        let sd = self.style_dim as u64;
        self.stages
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let n = (s.resolution * s.resolution) as u64;
                let c = s.dim as u64;
                let hd = s.head_dim() as u64;
                let attn: u64 = s
                    .groups
                    .iter()
                    .map(|g| n * g.heads as u64 * (g.kernel * g.kernel) as u64 * hd * 2)
                    .sum();
                let dense = n * c * 3 * c + n * c * c + 2 * n * c * s.mlp_hidden as u64;
                let styles = 2 * sd * 2 * c;
                let mut macs = 2 * (attn + dense + styles);
                let (out_c, out_n) = match s.out_dim {
                    Some(o) => {
                        macs += 4 * n * c * o as u64;
                        (o as u64, 4 * n)
                    }
                    None => (c, n),
                };
                macs += out_n * out_c * 3;
                if i == 0 {
                    macs += self.n_mlp as u64 * sd * sd;
                }
                2 * macs
            })
            .collect()
    }
}

impl GeneratorConfig {
    /// The largest buffer a forward pass of one image allocates, in bytes, and what it holds.
    /// A GPU binds a limited size per buffer (WebGPU guarantees 128 MiB; desktop GPUs allow
    /// 2–4 GiB), so this decides which GPUs can run the model.
    pub fn largest_buffer(&self) -> (u64, String) {
        let mut best = (0u64, String::new());
        for s in &self.stages {
            let px = (s.resolution * s.resolution) as u64;
            let mut candidates = vec![
                (px * 3 * s.dim as u64, "qkv", s.resolution),
                (px * s.mlp_hidden as u64, "MLP hidden", s.resolution),
            ];
            if let Some(o) = s.out_dim {
                candidates.push((4 * px * o as u64, "upsample", 2 * s.resolution));
            }
            for (floats, what, res) in candidates {
                if 4 * floats > best.0 {
                    best = (4 * floats, format!("{what} at {res}²"));
                }
            }
        }
        best
    }
}

impl GeneratorConfig {
    /// A human-readable architecture table (resolution, widths, head groups, W+ layers).
    pub fn describe(&self) -> String {
        let c = self;
        let mut s = String::new();
        let mut line = |t: String| {
            s.push_str(&t);
            s.push('\n');
        };
        line(format!("resolution  {0}×{0}", c.size));
        line(format!(
            "style_dim   {} (mapping: {} layers, lr_mlp {})",
            c.style_dim, c.n_mlp, c.lr_mlp
        ));
        line(format!("W+ layers   {}", c.num_ws()));
        line(
            "stage  res   dim  heads  head_dim  groups (heads × kernel/dilation)       W+    out"
                .into(),
        );
        for (i, st) in c.stages.iter().enumerate() {
            let groups = if st.is_full_attention() {
                format!("full attention ({} heads)", st.num_heads())
            } else {
                st.groups
                    .iter()
                    .map(|g| format!("{}×k{}/d{}", g.heads, g.kernel, g.dilation))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            line(format!(
                "{i:>5}  {:>4}  {:>4}  {:>5}  {:>8}  {groups:<38} {:>2},{:<2}  {}",
                st.resolution,
                st.dim,
                st.num_heads(),
                st.head_dim(),
                2 * i,
                2 * i + 1,
                st.out_dim.map_or("-".into(), |o| o.to_string()),
            ));
        }
        let (bytes, what) = c.largest_buffer();
        line(format!(
            "GPU buffer  {:.1} MiB per image at most ({what})",
            bytes as f64 / (1 << 20) as f64
        ));
        s
    }
}
