//! Looking inside a generator: per-head-group attention maps, PCA and SeFa directions in W,
//! the layer inspector.

pub mod attention;
pub mod directions;
pub mod frechet;
pub mod inspect;
pub mod sefa;
