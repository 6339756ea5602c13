//! The inverse of loading: a generator back to official tensor names in PyTorch layout
//! (`[out, in]` weights, equalised-lr scales divided out), so a model trained here is saved in
//! exactly the form a checkpoint is read from. `LoadedGenerator::build(to_weights(g)) == g`.

use super::generator::Generator;
use super::layers::Linear;
use crate::error::Result;
use crate::kernels::to_host;
use crate::tensor::{HostTensor, WeightMap};
use burn::module::Param;
use burn::tensor::Tensor;

fn host<const D: usize>(p: &Param<Tensor<D>>) -> Result<HostTensor> {
    let t = p.val();
    let shape = t.dims().to_vec();
    Ok(HostTensor::new(shape, to_host(t)?))
}

impl Linear {
    /// `weight` `[out, in]` divided by `weight_scale`, `bias` divided by `bias_scale`.
    fn export(
        &self,
        out: &mut WeightMap,
        prefix: &str,
        (weight_scale, bias_scale): (f32, f32),
    ) -> Result<()> {
        let w = host(&self.weight)?; // [in, out]
        let (d_in, d_out) = (w.shape[0], w.shape[1]);
        let mut t = vec![0f32; d_in * d_out];
        for i in 0..d_in {
            for o in 0..d_out {
                t[o * d_in + i] = w.data[i * d_out + o] / weight_scale;
            }
        }
        out.insert(
            format!("{prefix}.weight"),
            HostTensor::new(vec![d_out, d_in], t),
        );
        if let Some(b) = &self.bias {
            let mut b = host(b)?;
            b.data.iter_mut().for_each(|x| *x /= bias_scale);
            out.insert(format!("{prefix}.bias"), b);
        }
        Ok(())
    }
}

/// Scales of a StyleGAN2 `EqualLinear` (as in [`Linear::load_equal`]).
pub fn equal_scales(d_in: usize, lr_mul: f32) -> (f32, f32) {
    ((1.0 / (d_in as f32).sqrt()) * lr_mul, lr_mul)
}

impl Generator {
    /// Every tensor under its official name, as a checkpoint would hold it.
    pub fn to_weights(&self) -> Result<WeightMap> {
        let cfg = &self.config;
        let sd = cfg.style_dim;
        let mut out = WeightMap::new();
        for (i, layer) in self.style.layers.iter().enumerate() {
            layer.export(
                &mut out,
                &format!("style.{}", i + 1),
                equal_scales(sd, cfg.lr_mlp),
            )?;
        }
        out.insert("input.input".into(), host(&self.input)?);
        for (i, stage) in self.layers.iter().enumerate() {
            for (j, block) in stage.blocks.iter().enumerate() {
                let p = format!("layers.{i}.blocks.{j}");
                for (name, norm) in [("norm1", &block.norm1), ("norm2", &block.norm2)] {
                    norm.style.export(
                        &mut out,
                        &format!("{p}.{name}.style"),
                        equal_scales(sd, 1.0),
                    )?;
                }
                let linears = [
                    ("attn.qkv", &block.attn.qkv),
                    ("attn.proj", &block.attn.proj),
                    ("mlp.fc1", &block.mlp.fc1),
                    ("mlp.fc2", &block.mlp.fc2),
                ];
                for (name, linear) in linears {
                    linear.export(&mut out, &format!("{p}.{name}"), (1.0, 1.0))?;
                }
                for (g, rpb) in block.attn.rpb.iter().enumerate() {
                    out.insert(format!("{p}.attn.rpb.{g}"), host(rpb)?);
                }
            }
            if let Some(up) = &stage.upsample {
                let p = format!("layers.{i}.upsample");
                out.insert(format!("{p}.norm.weight"), host(&up.norm.weight)?);
                out.insert(format!("{p}.norm.bias"), host(&up.norm.bias)?);
                up.reduction
                    .export(&mut out, &format!("{p}.reduction"), (1.0, 1.0))?;
                out.insert(format!("{p}.alpha"), host(&up.alpha)?);
            }
        }
        for (i, rgb) in self.to_rgbs.iter().enumerate() {
            let p = format!("to_rgbs.{i}");
            let mut conv = WeightMap::new();
            rgb.conv.export(&mut conv, "conv", (1.0, 1.0))?;
            let mut w = conv.remove("conv.weight").expect("exported above");
            w.shape = vec![3, w.shape[1], 1, 1];
            out.insert(format!("{p}.conv.weight"), w);
            out.extend(conv.into_iter().map(|(k, v)| (format!("{p}.{k}"), v)));
            let mut bias = host(&rgb.bias)?;
            bias.shape = vec![1, 3, 1, 1];
            out.insert(format!("{p}.bias"), bias);
            if let Some(k) = &rgb.upsample {
                let data = to_host(k.clone())?;
                out.insert(
                    format!("{p}.upsample.kernel"),
                    HostTensor::new(vec![4, 4], data),
                );
            }
        }
        Ok(out)
    }
}
