//! What the UI thread and the render thread say to each other: requests in, replies out. A
//! failure names the job it belongs to, so the UI clears the right progress indicator.

use super::worker::project::ProjectJob;
use super::worker::save::ExportJob;
use crate::analysis::attention::AttentionMaps;
use crate::analysis::inspect::{Inspection, Normalise};
use crate::latent::recipe::{DirectionSource, Recipe};
use crate::model::GeneratorConfig;
use crate::model::Site;
use std::path::PathBuf;

/// What to render: the recipe, with `compare` also its sources A and B on their own, and with
/// `unedited` also the image without its head-group edits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderArgs {
    pub recipe: Recipe,
    pub compare: bool,
    pub unedited: bool,
}

impl From<Recipe> for RenderArgs {
    fn from(recipe: Recipe) -> Self {
        Self {
            recipe,
            compare: false,
            unedited: false,
        }
    }
}

/// Work for the render thread.
pub enum Request {
    Load(PathBuf),
    /// Forget the load in progress; the current model stays.
    CancelLoad,
    Render(RenderArgs),
    Export(ExportJob),
    Attention(AttentionRequest),
    Inspect(InspectRequest),
    Directions(DirectionsRequest),
    Project(ProjectJob),
}

/// One layer of the image `recipe` describes, for the layer inspector.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectRequest {
    pub recipe: Recipe,
    pub site: Site,
    pub channels: Vec<usize>,
    pub norm: Normalise,
}

/// Attention maps of the image `recipe` describes, at a block and pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionRequest {
    pub recipe: Recipe,
    pub stage: usize,
    pub block: usize,
    pub pixel: (usize, usize),
}

/// Directions for the edit sliders.
#[derive(Debug, Clone)]
pub enum DirectionsRequest {
    /// Sample and decompose (or read the cache of an earlier run).
    Compute {
        samples: usize,
        components: usize,
    },
    /// SeFa directions of these W+ layers (closed form: no progress to report).
    Sefa(Vec<usize>),
    Load(PathBuf),
    Save(PathBuf),
}

/// Which job a reply or failure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Load,
    Render,
    Export,
    Attention,
    Inspect,
    Directions,
    Project,
    /// Starting the device, or the GPU failing (the model moves to the CPU).
    Backend,
}

/// What comes back.
pub enum Reply {
    Loading {
        path: PathBuf,
        stage: &'static str,
        /// Share of the stage done, where it is known.
        fraction: Option<f32>,
    },
    Loaded(ModelInfo),
    LoadCancelled,
    /// The model moved to another device (the GPU failed); the new backend's description.
    BackendChanged(String),
    Image(Rendered),
    ExportProgress {
        done: usize,
        total: usize,
    },
    /// A finished export or save, as a line for the status bar.
    Exported(String),
    /// `Error::Cancelled` exports report this rather than a failure.
    ExportCancelled,
    Attention(Box<AttentionMaps>),
    Inspection(Box<Inspection>),
    /// A projection step: with a reconstruction (RGB8, the model's size) every few steps.
    ProjectProgress {
        step: usize,
        total: usize,
        loss: f32,
        preview: Option<Vec<u8>>,
    },
    /// The projected W+ (`[num_ws × w_dim]`), the name it goes by, its PSNR to the target and
    /// the loss terms it was found with.
    Projected {
        name: String,
        wplus: Vec<f32>,
        psnr: f64,
        terms: String,
    },
    ProjectCancelled,
    DirectionsProgress {
        done: usize,
        total: usize,
    },
    Directions(DirectionsInfo),
    Failed {
        job: Job,
        message: String,
    },
}

/// The directions as the panel shows them.
#[derive(Debug, Clone)]
pub struct DirectionsInfo {
    pub sigma: Vec<f32>,
    pub explained: Vec<f32>,
    /// What recipes' edits call these directions.
    pub source: DirectionSource,
    /// Where they came from, for people.
    pub description: String,
}

/// A loaded model, described for the UI.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub summary: String,
    pub backend: String,
    pub config: GeneratorConfig,
}

impl ModelInfo {
    pub fn num_ws(&self) -> usize {
        self.config.num_ws()
    }

    pub fn w_dim(&self) -> usize {
        self.config.style_dim
    }

    /// Resolution of the block each W+ layer drives.
    pub fn layer_res(&self) -> Vec<usize> {
        (0..self.num_ws())
            .map(|i| self.config.ws_resolution(i))
            .collect()
    }
}

/// Where a rendered image is.
pub enum Pixels {
    /// RGB8 on the host (CPU backend, tests).
    Host(Vec<u8>),
    /// Already in a texture registered with the window's renderer (wgpu backend).
    Gpu(egui::TextureId),
}

/// One rendered request: the mix, and with `compare` also A and B on their own.
pub struct Rendered {
    pub stamp: u64,
    pub args: RenderArgs,
    /// The model's resolution.
    pub size: usize,
    /// The images' resolution: `size`, or a stage's for a preview.
    pub resolution: usize,
    /// Whether this is the final image (a preview is followed by it unless a newer request
    /// supersedes it).
    pub complete: bool,
    /// Bytes of the block inputs kept for incremental renders.
    pub cache_bytes: u64,
    /// `(label, pixels)`, the mix first.
    pub images: Vec<(&'static str, Pixels)>,
    /// The W+ that produced the mix (`num_ws × w_dim`).
    pub wplus: Vec<f32>,
    pub ms: f64,
}
