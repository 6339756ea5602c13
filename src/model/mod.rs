//! The StyleNAT generator in burn: one module per official PyTorch module, named after it so
//! checkpoint tensors map one to one.

pub mod attention;
pub mod block;
pub mod config;
pub mod discriminator;
pub mod generator;
pub mod head_edits;
pub mod init;
pub mod layers;
pub mod mapping;
pub mod param_paths;
pub mod state_dict;
pub mod synthesis_cache;
pub mod to_rgb;
pub mod trace;
pub mod upsample;
pub mod weight_source;

pub use config::{GeneratorConfig, HeadGroup, StageConfig};
pub use generator::Generator;
pub use synthesis_cache::SynthesisCache;
pub use trace::{AttentionCapture, Observer, Site, Trace};
