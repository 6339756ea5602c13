//! The whole generator (official `models/generator.py:Generator`): mapping network, constant
//! input, one stage per resolution (two blocks, then upsample), ToRGB skip chain.

use super::block::Block;
use super::head_edits::AttentionEdit;
use super::mapping::Mapping;
use super::to_rgb::ToRgb;
use super::trace::{Observer, Site, observe};
use super::upsample::Upsample;
use super::weight_source::{MapSource, ParamSource, param};
use super::{GeneratorConfig, SynthesisCache};
use crate::error::{Error, Result};
use crate::kernels::KernelPath;
use crate::tensor::WeightMap;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

/// One resolution: two blocks and an optional upsample.
#[derive(Module, Debug)]
pub struct Stage {
    pub blocks: Vec<Block>,
    pub upsample: Option<Upsample>,
}

#[derive(Module, Debug)]
pub struct Generator {
    pub style: Mapping,
    /// Constant input `[1, C0, 4, 4]`.
    pub input: Param<Tensor<4>>,
    pub layers: Vec<Stage>,
    pub to_rgbs: Vec<ToRgb>,
    #[module(skip)]
    pub config: GeneratorConfig,
    /// Which neighbourhood-attention implementation runs (chosen from the device).
    #[module(skip)]
    pub na: KernelPath,
}

impl Generator {
    /// Builds a generator, taking every weight from `src`.
    pub fn new(
        config: &GeneratorConfig,
        src: &mut dyn ParamSource,
        device: &Device,
    ) -> Result<Self> {
        config.validate().map_err(Error::Config)?;
        let style = Mapping::load(config, src, device)?;
        let c0 = config.stages[0].dim;
        let input = param(src.take("input.input", &[1, c0, 4, 4])?, device);
        let last = config.stages.len() - 1;
        let mut layers = Vec::with_capacity(config.stages.len());
        let mut to_rgbs = Vec::with_capacity(config.stages.len());
        for (i, stage) in config.stages.iter().enumerate() {
            let p = format!("layers.{i}");
            let blocks = (0..2)
                .map(|j| Block::load(config, stage, src, &format!("{p}.blocks.{j}"), device))
                .collect::<Result<Vec<_>>>()?;
            let upsample = match stage.out_dim {
                Some(out) => Some(Upsample::load(
                    src,
                    &format!("{p}.upsample"),
                    stage.resolution,
                    stage.dim,
                    out,
                    device,
                )?),
                None => None,
            };
            layers.push(Stage { blocks, upsample });
            let rgb_dim = stage.out_dim.unwrap_or(stage.dim);
            to_rgbs.push(ToRgb::load(
                src,
                &format!("to_rgbs.{i}"),
                rgb_dim,
                i < last,
                device,
            )?);
        }
        Ok(Self {
            style,
            input,
            layers,
            to_rgbs,
            config: config.clone(),
            na: KernelPath::for_device(device),
        })
    }

    /// Builds a generator from weights named like the official state dict; every tensor must
    /// be used.
    pub fn from_weights(
        config: &GeneratorConfig,
        weights: &WeightMap,
        device: &Device,
    ) -> Result<Self> {
        let mut src = MapSource::new(weights);
        let g = Self::new(config, &mut src, device)?;
        src.finish()?;
        Ok(g)
    }

    /// Runs every attention layer with its head-group edit from now on (per block, as
    /// [`super::head_edits::resolve`] returns them; `None` everywhere undoes all).
    pub fn set_head_edits(&mut self, edits: Vec<Option<AttentionEdit>>) -> Result<()> {
        if edits.len() != self.config.num_ws() {
            return Err(Error::Input(format!(
                "{} head-group edit slots for a model of {} blocks",
                edits.len(),
                self.config.num_ws()
            )));
        }
        for (k, edit) in edits.into_iter().enumerate() {
            self.layers[k / 2].blocks[k % 2].attn.edit = edit;
        }
        Ok(())
    }

    /// The head-group edit of each block (`2·stage + block`).
    pub fn head_edits(&self) -> Vec<Option<AttentionEdit>> {
        self.layers
            .iter()
            .flat_map(|s| s.blocks.iter().map(|b| b.attn.edit.clone()))
            .collect()
    }

    /// Mapping network: `z` `[B, style_dim]` → `w` `[B, style_dim]`.
    pub fn map(&self, z: Tensor<2>) -> Tensor<2> {
        self.style.forward(z)
    }

    /// Synthesis network: W+ `[B, num_ws, style_dim]` → image `[B, 3, size, size]` in the
    /// official output space (ImageNet-normalised).
    pub fn synthesize(&self, wplus: Tensor<3>, obs: &mut dyn Observer) -> Result<Tensor<4>> {
        self.synthesize_with(wplus, None, None, obs)
    }

    /// [`Self::synthesize`], resuming from and refilling `cache` at its
    /// [`SynthesisCache::first_block`] for `host` (these W+ values on the host), and stopping
    /// after stage `last_stage` when given: the result is then that stage's ToRGB skip image
    /// `[B, 3, r, r]` at its resolution `r` (a preview of the final image).
    pub fn synthesize_with(
        &self,
        wplus: Tensor<3>,
        mut resume: Option<(&mut SynthesisCache, &[f32])>,
        last_stage: Option<usize>,
        obs: &mut dyn Observer,
    ) -> Result<Tensor<4>> {
        let [b, num_ws, sd] = wplus.dims();
        if num_ws != self.config.num_ws() || sd != self.config.style_dim {
            return Err(Error::Input(format!(
                "W+ has shape [{b}, {num_ws}, {sd}], the model needs [B, {}, {}]",
                self.config.num_ws(),
                self.config.style_dim
            )));
        }
        let last_stage = last_stage.unwrap_or(usize::MAX).min(self.layers.len() - 1);
        let end = 2 * (last_stage + 1);
        let stored = match &mut resume {
            Some((cache, host)) => {
                // A preview needs nothing past its own stage.
                let (num_ws, d) = (self.config.num_ws(), self.config.style_dim);
                let edits = self.head_edits();
                let start = cache.first_block(host, num_ws, d, &edits).min(end);
                let stored = if start > 0 { cache.input(start) } else { None };
                let start = if stored.is_some() { start } else { 0 };
                cache.begin(host, &edits, start);
                stored.map(|s| (start, s))
            }
            None => None,
        };
        let (start, (mut x, mut skip)) = match stored {
            Some(s) => s,
            None => {
                let [_, c0, h, w] = self.input.val().dims();
                // [1, C, 4, 4] → [B, 16, C] (tokens in row-major pixel order)
                let x = self
                    .input
                    .val()
                    .permute([0, 2, 3, 1])
                    .reshape([1, h * w, c0])
                    .repeat_dim(0, b);
                (0, (x, None))
            }
        };
        if start == end
            && let (Some(rgb), Some((cache, ..))) = (&skip, &mut resume)
        {
            // A preview of a stage that nothing changed: its skip image is stored.
            cache.push(&x, &skip);
            return Ok(rgb.clone());
        }
        let device = wplus.device();
        obs.pass_started();
        for k in start..end {
            let (i, j) = (k / 2, k % 2);
            if let Some((cache, ..)) = &mut resume {
                cache.push(&x, &skip);
            }
            let latent = wplus.clone().narrow(1, k, 1).reshape([b, sd]);
            x = self.layers[i].blocks[j].forward(x, latent, self.na, obs, (i, j))?;
            if j == 0 {
                continue;
            }
            if let Some(up) = &self.layers[i].upsample {
                x = up.forward(x, self.na)?;
                observe(obs, Site::UpsampleOut { stage: i }, &x);
            }
            let rgb = self.to_rgbs[i].forward(x.clone(), skip.take());
            observe(obs, Site::ToRgbSkip { stage: i }, &rgb);
            obs.stage_done(&device);
            if i == last_stage {
                // A preview stops here; the next block's input is ready, so keep it too.
                if let Some((cache, ..)) = &mut resume
                    && i + 1 < self.layers.len()
                {
                    cache.push(&x, &Some(rgb.clone()));
                }
                return Ok(rgb);
            }
            skip = Some(rgb);
        }
        Err(Error::Config("the generator has no stages".into()))
    }

    /// `z` → image, with every W+ layer set to `w = map(z)` (official `Generator.forward`).
    pub fn forward(&self, z: Tensor<2>) -> Result<Tensor<4>> {
        let w = self.map(z);
        let wplus = w.unsqueeze_dim::<3>(1).repeat_dim(1, self.config.num_ws());
        self.synthesize(wplus, &mut ())
    }
}
