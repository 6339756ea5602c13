//! Attention maps and directions, computed only when their panel asks.

use super::{Model, Post};
use crate::analysis::directions::Directions;
use crate::app::protocol::{
    AttentionRequest, DirectionsInfo, DirectionsRequest, InspectRequest, Reply,
};
use crate::compose::cached_pca;
use crate::error::{Error, Result};
use crate::latent::recipe::DirectionSource;

/// Attention maps of the image a recipe describes.
pub fn attention(m: &mut Model, r: &AttentionRequest) -> Result<Reply> {
    let wplus = m
        .composer
        .wplus(&mut m.engine, std::slice::from_ref(&r.recipe))?;
    let maps =
        crate::analysis::attention::attention_maps(&m.engine, &wplus, r.stage, r.block, r.pixel)?;
    Ok(Reply::Attention(Box::new(maps)))
}

/// One layer of the image a recipe describes.
pub fn inspect(m: &mut Model, r: &InspectRequest) -> Result<Reply> {
    let wplus = m
        .composer
        .wplus(&mut m.engine, std::slice::from_ref(&r.recipe))?;
    let ins = crate::analysis::inspect::inspect(&m.engine, &wplus, r.site, &r.channels, r.norm)?;
    Ok(Reply::Inspection(Box::new(ins)))
}

/// Computes, loads or saves the directions the edit sliders use.
pub fn directions(m: &mut Model, request: DirectionsRequest, post: &Post) -> Result<Reply> {
    let (source, dirs, description) = match request {
        DirectionsRequest::Compute {
            samples,
            components,
        } => {
            let d = cached_pca(&m.engine, samples, components, |done, total| {
                post(Reply::DirectionsProgress { done, total })
            })?;
            let source = DirectionSource::Pca {
                samples,
                components,
            };
            (source, d, format!("PCA of {samples} samples"))
        }
        DirectionsRequest::Sefa(layers) => {
            let source = DirectionSource::Sefa {
                layers: layers.clone(),
                components: crate::app::DIRECTION_COMPONENTS,
            };
            let d = m.composer.directions(&m.engine, &source)?.clone();
            let layers = crate::latent::recipe::format_layer_list(&layers);
            (
                source,
                d,
                format!("SeFa of W+ layers {layers} (units of W)"),
            )
        }
        DirectionsRequest::Load(path) => {
            let source = DirectionSource::File(path.clone());
            m.composer
                .set_directions(source.clone(), Directions::load(&path)?);
            // Checks the width against the model (and drops a file that does not fit).
            let checked = m.composer.directions(&m.engine, &source).cloned();
            let d = checked.inspect_err(|_| m.composer.forget_directions(&source))?;
            (source, d, format!("loaded {}", path.display()))
        }
        DirectionsRequest::Save(path) => {
            let Some(d) = m.composer.latest_directions() else {
                return Err(Error::Input("compute or load directions first".into()));
            };
            d.save(&path)?;
            return Ok(Reply::Exported(format!(
                "saved directions to {}",
                path.display()
            )));
        }
    };
    let info = DirectionsInfo {
        sigma: dirs.sigma.clone(),
        explained: dirs.explained.clone(),
        source: source.clone(),
        description,
    };
    m.composer.set_directions(source, dirs);
    Ok(Reply::Directions(info))
}
