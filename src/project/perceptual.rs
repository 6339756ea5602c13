//! The perceptual term: distances between a discriminator's feature maps, and which
//! discriminator to use for a model (one recipe for the CLI and the explorer).

use super::ProjectConfig;
use crate::checkpoint::discriminator;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::discriminator::Critic;
use burn::tensor::Tensor;
use std::path::Path;

/// `critic`'s feature maps of `x` with each pixel's channel vector scaled to unit length
/// (as LPIPS does before comparing).
pub fn unit_features(critic: &Critic, x: Tensor<4>) -> Vec<Tensor<4>> {
    critic
        .features(x)
        .into_iter()
        .map(|f| {
            let norm = (f.clone().square().sum_dim(1) + 1e-8).sqrt();
            f / norm
        })
        .collect()
}

/// The perceptual distance of `image` to a target given by its [`unit_features`]: per map, the
/// squared difference of the unit channel vectors, summed over channels and averaged over
/// pixels; summed over maps (each in 0…4).
pub fn feature_distance(critic: &Critic, image: Tensor<4>, target: &[Tensor<4>]) -> Tensor<1> {
    unit_features(critic, image)
        .into_iter()
        .zip(target)
        .map(|(a, b)| {
            let [_, c, _, _] = a.dims();
            (a - b.clone()).square().mean() * c as f32
        })
        .reduce(|a, b| a + b)
        .expect("at least one feature map")
}

/// The discriminator for `e`'s model: from `explicit` (a file that must carry one) or else the
/// checkpoint's own or its training run's (see [`discriminator::for_checkpoint`]); with a line
/// saying what it is and where it came from.
pub fn find_critic(e: &Engine, explicit: Option<&Path>) -> Result<Option<(Critic, String)>> {
    let loaded = match (explicit, &e.source_path) {
        (Some(p), _) => Some(
            discriminator::load(p)?
                .ok_or_else(|| Error::Input(format!("{} carries no discriminator", p.display())))?,
        ),
        (None, Some(p)) => discriminator::for_checkpoint(p, e.config())?,
        (None, None) => None,
    };
    let Some(loaded) = loaded else {
        return Ok(None);
    };
    let critic = loaded.build(&e.backend.device)?;
    let what = format!("{} from {}", critic.describe(), loaded.source.display());
    Ok(Some((critic, what)))
}

/// The loss `cfg` optimises, in words; `source` says where the discriminator came from
/// (or, without one, why there is none).
pub fn describe_loss(cfg: &ProjectConfig, source: &str) -> String {
    let pixels = "pixel MSE at full, half and quarter resolution";
    match &cfg.critic {
        Some(_) if cfg.perceptual_weight > 0.0 => format!(
            "{pixels} + {} × perceptual distance on the features of the {source}",
            cfg.perceptual_weight
        ),
        _ => format!("{pixels} only ({source})"),
    }
}
