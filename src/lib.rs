//! StyleNAT Explorer: run official StyleNAT generators natively, on wgpu or the CPU.
//!
//! Modules only point down (checked by `tests/module_graph.rs`), bottom to top:
//! [`error`], [`rng`], [`tensor`] (host tensors, weight maps) → [`latent`] (seeds, W space) →
//! [`io`] (files) → [`backend`] (devices) → [`kernels`] (NA and fused CPU work, with their own
//! problem types) → [`model`] (burn modules) → [`checkpoint`] (files → config + weights →
//! model) → [`engine`] (latents → images) → [`analysis`] → [`compose`] (recipes → W+, provenance) →
//! [`keyframes`] (videos), [`project`] (images → W+), [`train`] → front ends
//! ([`app`], [`cli`]).

pub mod analysis;
pub mod app;
pub mod backend;
pub mod checkpoint;
pub mod cli;
pub mod compose;
pub mod engine;
pub mod error;
pub mod io;
pub mod kernels;
pub mod keyframes;
pub mod latent;
pub mod model;
pub mod project;
pub mod rng;
pub mod tensor;
pub mod train;

pub use error::{Error, Result};
