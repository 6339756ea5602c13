//! One file per side-panel section. Each edits the shared [`AppState`](super::state::AppState)
//! or reports [`Action`](super::action::Action)s, and never calls another panel.

pub mod export;
pub mod latent;
pub mod mixing;
pub mod model;
pub mod style;
pub mod truncation;
pub mod view;
