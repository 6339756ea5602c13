//! Looking inside a generator: per-head-group attention maps and PCA directions in W.

pub mod attention;
pub mod directions;
pub mod frechet;
