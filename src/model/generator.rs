//! The whole generator (official `models/generator.py:Generator`): mapping network, constant
//! input, one stage per resolution (two blocks, then upsample), ToRGB skip chain.

use super::block::Block;
use super::mapping::Mapping;
use super::params::{MapSource, ParamSource, param};
use super::to_rgb::ToRgb;
use super::upsample::Upsample;
use super::{GeneratorConfig, Trace};
use crate::checkpoint::LoadedGenerator;
use crate::error::{Error, Result};
use crate::kernels::KernelPath;
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

    /// Builds a generator from loaded checkpoint weights; every tensor must be used.
    pub fn from_loaded(loaded: &LoadedGenerator, device: &Device) -> Result<Self> {
        let mut src = MapSource::new(&loaded.weights);
        let g = Self::new(&loaded.config, &mut src, device)?;
        src.finish()?;
        Ok(g)
    }

    /// Mapping network: `z` `[B, style_dim]` → `w` `[B, style_dim]`.
    pub fn map(&self, z: Tensor<2>) -> Tensor<2> {
        self.style.forward(z)
    }

    /// Synthesis network: W+ `[B, num_ws, style_dim]` → image `[B, 3, size, size]` in the
    /// official output space (ImageNet-normalised).
    pub fn synthesize(&self, wplus: Tensor<3>, trace: &mut Trace) -> Result<Tensor<4>> {
        let [b, num_ws, sd] = wplus.dims();
        if num_ws != self.config.num_ws() || sd != self.config.style_dim {
            return Err(Error::Input(format!(
                "W+ has shape [{b}, {num_ws}, {sd}], the model needs [B, {}, {}]",
                self.config.num_ws(),
                self.config.style_dim
            )));
        }
        let [_, c0, h, w] = self.input.val().dims();
        // [1, C, 4, 4] → [B, 16, C] (tokens in row-major pixel order)
        let mut x = self
            .input
            .val()
            .permute([0, 2, 3, 1])
            .reshape([1, h * w, c0])
            .repeat_dim(0, b);
        let mut skip: Option<Tensor<4>> = None;
        let device = wplus.device();
        trace.start();
        for (i, (stage, to_rgb)) in self.layers.iter().zip(&self.to_rgbs).enumerate() {
            for (j, block) in stage.blocks.iter().enumerate() {
                let latent = wplus.clone().narrow(1, 2 * i + j, 1).reshape([b, sd]);
                x = block.forward(x, latent, self.na, trace, &format!("stage{i}_block{j}"))?;
            }
            if let Some(up) = &stage.upsample {
                x = up.forward(x);
                trace.record(&format!("stage{i}_upsample_out"), &x);
            }
            let rgb = to_rgb.forward(x.clone(), skip.take());
            trace.record(&format!("stage{i}_torgb_skip"), &rgb);
            skip = Some(rgb);
            trace.stage_done(&device);
        }
        skip.ok_or_else(|| Error::Config("the generator has no stages".into()))
    }

    /// `z` → image, with every W+ layer set to `w = map(z)` (official `Generator.forward`).
    pub fn forward(&self, z: Tensor<2>) -> Result<Tensor<4>> {
        let w = self.map(z);
        let wplus = w.unsqueeze_dim::<3>(1).repeat_dim(1, self.config.num_ws());
        self.synthesize(wplus, &mut Trace::off())
    }
}
