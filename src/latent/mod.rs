//! Latent codes: seeds → z (both conventions), W / W+ manipulation (truncation, mixing), and
//! the [`recipe::Recipe`] that describes an image (with its head-group edits).

pub mod group_edit;
pub mod interp;
pub mod recipe;
pub mod seeds;
pub mod wspace;

pub use seeds::{SeedMode, parse_seed_list, z_from_seed};
pub use wspace::{mix_layers, parse_layer_list, truncate};
