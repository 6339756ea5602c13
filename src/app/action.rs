//! What panels ask the app to do. Panels edit [`AppState`](super::state::AppState) directly;
//! anything that needs the worker, a file or the history goes through an action.

use super::file_dialog::FileTask;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Choose a file (system dialog or the built-in picker); the choice becomes an action.
    Choose(FileTask),
    /// A checkpoint, session (`.json`), latent (`.npz`/`.npy`) or image (`.png`) to open.
    Open(PathBuf),
    CancelLoad,
    SaveImage(PathBuf),
    SaveLatent(PathBuf),
    SaveVideo(PathBuf),
    SaveSession(PathBuf),
    CancelExport,
    /// Drop a loaded W+ and go back to the seed.
    ClearLatent,
    Undo,
    Redo,
    ComputeDirections,
    /// Project a picture into W+ (it becomes the current latent when done).
    Project(PathBuf),
    CancelProject,
    /// SeFa directions of these W+ layers.
    ComputeSefa(Vec<usize>),
    LoadDirections(PathBuf),
    SaveDirections(PathBuf),
}
