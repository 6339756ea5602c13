//! Exports shared by the CLI and the app: videos through W+ keyframes.

pub mod video;
