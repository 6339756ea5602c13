//! A small convolutional classifier trained on the same data, whose penultimate activations
//! are the feature space of our Fréchet distance (Inception is not available offline, and a
//! classifier of the data's own classes sees what distinguishes its images).

use super::adam::{Adam, AdamConfig};
use super::data::Dataset;
use crate::checkpoint::native;
use crate::error::{Error, Result};
use crate::kernels::to_host;
use crate::model::discriminator::native::{EqConv, EqLinear, downsample, lrelu};
use crate::model::param_paths::{host_params, load_params, trainable};
use crate::rng::Rng;
use crate::tensor::WeightMap;
use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use std::collections::HashMap;
use std::path::Path;

/// Width of the feature vector.
pub const FEATURES: usize = 128;
/// Number of classes (Fashion-MNIST's ten).
pub const CLASSES: usize = 10;
const META_KEY: &str = "stylenat.classifier";

#[derive(Module, Debug)]
pub struct Classifier {
    pub convs: Vec<EqConv>,
    pub features: EqLinear,
    pub logits: EqLinear,
}

impl Classifier {
    /// For `size`×`size` RGB images: three conv + pool stages (16, 32, 64 channels), then
    /// dense layers.
    pub fn new(size: usize, seed: u64, device: &Device) -> Self {
        let mut rng = Rng::new(seed);
        let widths = [3, 16, 32, 64];
        let convs = widths
            .windows(2)
            .map(|w| EqConv::new(&mut rng, w[0], w[1], 3, true, device))
            .collect();
        let flat = 64 * (size / 8) * (size / 8);
        Self {
            convs,
            features: EqLinear::new(&mut rng, flat, FEATURES, device),
            logits: EqLinear::new(&mut rng, FEATURES, CLASSES, device),
        }
    }

    /// `[B, 3, S, S]` → (features `[B, FEATURES]`, logits `[B, 10]`).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let mut x = x;
        for conv in &self.convs {
            x = downsample(lrelu(conv.forward(x)));
        }
        let [b, c, h, w] = x.dims();
        let f = lrelu(self.features.forward(x.reshape([b, c * h * w])));
        (f.clone(), self.logits.forward(f))
    }

    /// Trains on a labelled dataset (seeded, deterministic); returns the classifier.
    pub fn train(
        data: &Dataset,
        steps: usize,
        seed: u64,
        device: &Device,
        progress: &mut dyn FnMut(usize, f32),
    ) -> Result<Self> {
        let labels = data
            .labels
            .as_ref()
            .ok_or_else(|| Error::Input("the classifier needs labelled data".into()))?;
        if labels.iter().any(|&l| l as usize >= CLASSES) {
            return Err(Error::Input(format!(
                "the classifier expects labels 0–{} (Fashion-MNIST's classes)",
                CLASSES - 1
            )));
        }
        let mut model = trainable(Self::new(data.size, seed, device))?;
        let mut opt = Adam::new(AdamConfig {
            lr: 0.002,
            beta1: 0.9,
            ..AdamConfig::default()
        });
        let mut rng = Rng::new(seed ^ 0xc1a5);
        let (b, s) = (64, data.size);
        for step in 0..steps {
            let idx = data.sample(&mut rng, b);
            let x = Tensor::<4>::from_data(TensorData::new(data.batch(&idx), [b, 3, s, s]), device);
            let mut onehot = vec![0f32; b * CLASSES];
            for (i, &j) in idx.iter().enumerate() {
                onehot[i * CLASSES + labels[j] as usize] = 1.0;
            }
            let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [b, CLASSES]), device);
            let (_, logits) = model.forward(x);
            let loss = -(log_softmax(logits, 1) * onehot).sum_dim(1).mean();
            let value = to_host(loss.clone().without_autodiff())?[0];
            let grads = loss.backward();
            model = opt.step(model, &grads, &|_| 1.0)?;
            progress(step, value);
        }
        Ok(model.valid())
    }

    /// Features and predicted classes of `data` (all images, in batches).
    pub fn embed(&self, data: &Dataset, device: &Device) -> Result<(Vec<f32>, Vec<u8>)> {
        let s = data.size;
        let (mut features, mut classes) = (Vec::new(), Vec::new());
        let all: Vec<usize> = (0..data.len()).collect();
        for idx in all.chunks(256) {
            let x = Tensor::<4>::from_data(
                TensorData::new(data.batch(idx), [idx.len(), 3, s, s]),
                device,
            );
            let (f, logits) = self.forward(x);
            features.extend(to_host(f)?);
            classes.extend(
                to_host(logits.argmax(1).float().reshape([idx.len()]))?
                    .into_iter()
                    .map(|c| c as u8),
            );
        }
        Ok((features, classes))
    }

    pub fn save(&self, path: &Path, size: usize) -> Result<()> {
        let mut map = WeightMap::new();
        host_params(self, "", &mut map)?;
        let meta = HashMap::from([(META_KEY.to_string(), size.to_string())]);
        crate::io::write_atomic(path, &native::write_tensors(&map, meta)?)
    }

    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (map, meta) = native::read_tensors(&bytes, path)?;
        let size: usize = meta
            .get(META_KEY)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Format {
                path: path.to_path_buf(),
                reason: "not a stylenat classifier file".into(),
            })?;
        load_params(Self::new(size, 0, device), &map, "")
    }
}
