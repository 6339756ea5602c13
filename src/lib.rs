//! StyleNAT Explorer: run official StyleNAT generators natively, on wgpu or the CPU.
//!
//! Data flows one way: [`checkpoint`] (files → config + weights) → [`model`] (burn modules,
//! NA from [`kernels`]) → [`engine`] (latents → images) → front ends ([`cli`], [`app`]).
//! [`train`] trains generators with burn's autodiff and writes them in the native format.

pub mod analysis;
pub mod app;
pub mod backend;
pub mod checkpoint;
pub mod cli;
pub mod engine;
pub mod error;
pub mod export;
pub mod io;
pub mod kernels;
pub mod latent;
pub mod model;
pub mod rng;
pub mod train;

pub use error::{Error, Result};
