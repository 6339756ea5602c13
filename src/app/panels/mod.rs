//! One file per side-panel section. Each edits the shared [`AppState`](super::state::AppState)
//! (or reads what the worker reported) and never calls another panel.

pub mod latent;
pub mod mixing;
pub mod model;
pub mod truncation;
pub mod view;
