//! Library error type: every failure names what went wrong and where (file, tensor, stage).

use std::path::PathBuf;

/// Errors produced by the StyleNAT library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{path} is not a PyTorch checkpoint (expected a zip archive written by torch.save): {reason}"
    )]
    NotAZip { path: PathBuf, reason: String },

    #[error(
        "{path}: the zip archive has no `data.pkl` entry, so it is not a torch.save checkpoint"
    )]
    MissingPickle { path: PathBuf },

    #[error("malformed pickle at byte {offset}: {reason}")]
    Pickle { offset: usize, reason: String },

    #[error(
        "the checkpoint wants to construct `{module}.{name}`, which is not on the allow-list; \
         refusing to load it (the loader never executes code from a checkpoint)"
    )]
    DisallowedClass { module: String, name: String },

    #[error("checkpoint storage `{key}`: {reason}")]
    Storage { key: String, reason: String },

    #[error("unrecognised checkpoint layout: {0}")]
    UnknownFormat(String),

    #[error("tensor `{name}` is missing from the checkpoint")]
    MissingTensor { name: String },

    #[error("tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },

    #[error("invalid model configuration: {0}")]
    Config(String),

    #[error("invalid input: {0}")]
    Input(String),

    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },

    #[error("cancelled")]
    Cancelled,

    #[error("backend error: {0}")]
    Backend(String),
}

/// Library result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Write {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn pickle(offset: usize, reason: impl Into<String>) -> Self {
        Error::Pickle {
            offset,
            reason: reason.into(),
        }
    }
}
