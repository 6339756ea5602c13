//! Building the official discriminator from its state dict: the architecture is read from the
//! tensors' shapes, checked to chain, and every tensor must be used.

use super::{ConvLayer, Dense, FromRgb, OfficialDiscriminator};
use crate::error::{Error, Result};
use crate::model::discriminator::upfirdn::{Fir, Haar};
use crate::model::weight_source::{MapSource, ParamSource, tensor};
use crate::tensor::{HostTensor, WeightMap};
use burn::tensor::{Device, Tensor};

impl OfficialDiscriminator {
    /// Builds it from the `d` state dict's tensors (names without the `d.` prefix).
    pub fn from_weights(map: &WeightMap, device: &Device) -> Result<Self> {
        let mut r = Reader {
            map,
            src: MapSource::new(map),
            device,
        };
        let blocks = (0..)
            .take_while(|i| map.keys().any(|k| k.starts_with(&format!("convs.{i}."))))
            .count();
        if blocks == 0 {
            return Err(Error::Config(
                "the discriminator has no `convs.*` blocks: not the official StyleNAT one".into(),
            ));
        }
        let spectral_norm = map.contains_key("final_linear.0.weight_orig");
        let dwt = r.haar("dwt", 1, 2, (0, 0))?;
        let mut from_rgbs = Vec::with_capacity(blocks + 1);
        let mut convs = Vec::with_capacity(blocks);
        for i in 0..=blocks {
            let p = format!("from_rgbs.{i}");
            let down = if i == 0 {
                None
            } else {
                // Downsample([1,3,3,1]): p = 4 − 2, pads ((p+1)/2, p/2).
                let k = r.kernel_len(&format!("{p}.downsample.kernel"))?;
                let pad = (k - 2).div_ceil(2);
                Some((
                    r.haar(&format!("{p}.iwt"), 2, 1, (1, 0))?,
                    r.fir(&format!("{p}.downsample.kernel"), 1, 2, (pad, (k - 2) / 2))?,
                    r.haar(&format!("{p}.dwt"), 1, 2, (0, 0))?,
                ))
            };
            let conv = r.conv(&format!("{p}.conv"), false)?;
            from_rgbs.push(FromRgb { down, conv });
            if i < blocks {
                convs.push((
                    r.conv(&format!("convs.{i}.conv1"), false)?,
                    r.conv(&format!("convs.{i}.conv2"), true)?,
                ));
            }
        }
        let final_conv = r.conv("final_conv", false)?;
        // Spectral norm: nn.Linear (own bias), FusedLeakyReLU, nn.Linear; otherwise
        // EqualLinear with the fused activation (its bias inside), EqualLinear.
        let (fc, out) = if spectral_norm {
            let fc = r.dense(
                "final_linear.0",
                Some("final_linear.0.bias"),
                Some("final_linear.1.bias"),
            )?;
            (
                fc,
                r.dense("final_linear.2", Some("final_linear.2.bias"), None)?,
            )
        } else {
            let fc = r.dense("final_linear.0", None, Some("final_linear.0.bias"))?;
            (
                fc,
                r.dense("final_linear.1", Some("final_linear.1.bias"), None)?,
            )
        };
        check_widths(&from_rgbs, &convs, &final_conv, [&fc, &out])?;
        r.src.finish()?;
        Ok(Self {
            size: 1 << (blocks + 3),
            spectral_norm,
            dwt,
            from_rgbs,
            convs,
            final_conv,
            fc,
            out,
        })
    }
}

/// The channel counts must chain (a crafted file must not reach a mismatched convolution):
/// 12 wavelet channels into every `from_rgb`, each block's input width from its `from_rgb`
/// and its output into the next, one stddev channel more into the final conv, a 4×4 map
/// into the first dense layer, one logit out.
fn check_widths(
    from_rgbs: &[FromRgb],
    convs: &[(ConvLayer, ConvLayer)],
    final_conv: &ConvLayer,
    dense: [&Dense; 2],
) -> Result<()> {
    let mut ok = true;
    let mut prev: Option<usize> = None;
    for (i, f) in from_rgbs.iter().enumerate() {
        let (c_in, c) = f.conv.channels();
        ok &= c_in == 12 && prev.is_none_or(|p| p == c);
        if let Some((a, b)) = convs.get(i) {
            ok &= a.channels().0 == c && b.channels().0 == a.channels().1;
            prev = Some(b.channels().1);
        } else {
            ok &= final_conv.channels().0 == c + 1;
        }
    }
    let [fc, out] = dense;
    let (fc, out) = (fc.dims(), out.dims());
    ok &= fc.0 == final_conv.channels().1 * 16 && out.0 == fc.1 && out.1 == 1;
    if ok {
        Ok(())
    } else {
        Err(Error::Config(
            "the discriminator's layer widths do not chain like the official one's".into(),
        ))
    }
}

/// Takes named tensors off the map (shapes from the map itself: the architecture is read
/// from them), remembering what was used.
struct Reader<'a> {
    map: &'a WeightMap,
    src: MapSource<'a>,
    device: &'a Device,
}

impl Reader<'_> {
    fn shape(&self, name: &str) -> Result<Vec<usize>> {
        self.map
            .get(name)
            .map(|t| t.shape.clone())
            .ok_or_else(|| Error::MissingTensor { name: name.into() })
    }

    /// The side of the square blur kernel `name` (at least 2, as downsampling by 2 needs).
    fn kernel_len(&self, name: &str) -> Result<usize> {
        match self.shape(name)?.as_slice() {
            &[a, b] if a == b && a >= 2 => Ok(a),
            other => Err(Error::Config(format!(
                "`{name}` should be a square blur kernel of side ≥ 2, found {other:?}"
            ))),
        }
    }

    fn take(&mut self, name: &str) -> Result<HostTensor> {
        let shape = self.shape(name)?;
        self.src.take(name, &shape)
    }

    /// The bias `name`, which must hold `len` values (one per output of its layer).
    fn bias(&mut self, name: &str, len: usize) -> Result<Tensor<1>> {
        if self.shape(name)? != [len] {
            return Err(Error::Config(format!("`{name}` should hold {len} values")));
        }
        let t = self.take(name)?;
        Ok(tensor(HostTensor::new(vec![len], t.data), self.device))
    }

    fn fir(&mut self, name: &str, up: usize, down: usize, pad: (usize, usize)) -> Result<Fir> {
        let t = self.take(name)?;
        if t.shape.len() != 2 {
            return Err(Error::Config(format!("`{name}` should be a 2-D kernel")));
        }
        let shape = [t.shape[0], t.shape[1]];
        Ok(Fir::new(&t.data, shape, up, down, pad, self.device))
    }

    fn haar(&mut self, p: &str, up: usize, down: usize, pad: (usize, usize)) -> Result<Haar> {
        let mut band = |b: &str| self.fir(&format!("{p}.{b}"), up, down, pad);
        Ok(Haar([band("ll")?, band("lh")?, band("hl")?, band("hh")?]))
    }

    /// The effective weight of the layer at `p` (equalised or spectrally normalised), with
    /// a linear layer's `[out, in]` turned to `[in, out]`; and its raw shape.
    fn weight<const D: usize>(&mut self, p: &str) -> Result<(Tensor<D>, Vec<usize>)> {
        let orig = format!("{p}.weight_orig");
        let name = if self.map.contains_key(&orig) {
            orig.clone()
        } else {
            format!("{p}.weight")
        };
        if self.shape(&name)?.len() != D {
            return Err(Error::Config(format!(
                "`{name}` should be a rank-{D} weight"
            )));
        }
        let (data, shape) = if name == orig {
            let w = self.take(&orig)?;
            let u = self.take(&format!("{p}.weight_u"))?.data;
            let v = self.take(&format!("{p}.weight_v"))?.data;
            let fan = w.data.len() / u.len().max(1);
            if u.len() != w.shape[0] || v.len() != fan {
                return Err(Error::Config(format!(
                    "`{p}`: spectral-norm vectors do not match the weight"
                )));
            }
            let sigma: f64 = (0..u.len())
                .map(|o| {
                    let row = &w.data[o * fan..(o + 1) * fan];
                    let wv: f64 = row.iter().zip(&v).map(|(&a, &b)| a as f64 * b as f64).sum();
                    u[o] as f64 * wv
                })
                .sum();
            let inv = (1.0 / sigma) as f32;
            (w.data.iter().map(|x| x * inv).collect(), w.shape)
        } else {
            let w = self.take(&format!("{p}.weight"))?;
            let fan: usize = w.shape[1..].iter().product();
            let scale = 1.0 / (fan as f32).sqrt();
            (w.data.iter().map(|x| x * scale).collect(), w.shape)
        };
        let t = tensor::<D>(HostTensor::new(shape.clone(), data), self.device);
        // Linear weights are stored [out, in]; a matmul wants [in, out].
        let t = if D == 2 { t.transpose() } else { t };
        Ok((t, shape))
    }

    /// A dense layer at `p` with its bias and/or fused-activation bias (each `out` values).
    fn dense(&mut self, p: &str, bias: Option<&str>, act_bias: Option<&str>) -> Result<Dense> {
        let (weight, shape) = self.weight::<2>(p)?;
        Ok(Dense {
            weight,
            bias: bias.map(|b| self.bias(b, shape[0])).transpose()?,
            act_bias: act_bias.map(|b| self.bias(b, shape[0])).transpose()?,
        })
    }

    /// `ConvLayer` at `p`: `[blur,] conv, FusedLeakyReLU` as numbered official children.
    fn conv(&mut self, p: &str, downsample: bool) -> Result<ConvLayer> {
        let mut child = 0;
        let blur_name = format!("{p}.0.kernel");
        let blur_len = if downsample {
            child = 1;
            Some(self.kernel_len(&blur_name)?)
        } else {
            None
        };
        let (weight, shape) = self.weight::<4>(&format!("{p}.{child}"))?;
        let k = shape[2];
        // Odd square kernels keep a stride-1 map's size; any square one halves it after the blur.
        if k == 0 || shape[3] != k || (!downsample && k % 2 == 0) {
            return Err(Error::Config(format!(
                "`{p}`: kernel {}×{} cannot keep the official map sizes",
                shape[2], shape[3]
            )));
        }
        let blur = match blur_len {
            // p = (len − 2) + (k − 1), pads ((p+1)/2, p/2), then stride 2 without padding.
            Some(len) => {
                let pp = len - 2 + k - 1;
                Some(self.fir(&blur_name, 1, 1, (pp.div_ceil(2), pp / 2))?)
            }
            None => None,
        };
        let act_bias = self.bias(&format!("{p}.{}.bias", child + 1), shape[0])?;
        Ok(ConvLayer {
            blur,
            weight,
            stride: if downsample { 2 } else { 1 },
            padding: if downsample { 0 } else { k / 2 },
            act_bias,
        })
    }
}
