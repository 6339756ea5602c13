//! Choosing files: the system's dialog where one answers, otherwise a built-in picker drawn in
//! the window ([`super::file_picker`]). On Linux the system dialog is an XDG desktop portal over D-Bus; a
//! plain X11 session, a tiling WM or Xvfb often has neither, and then the portal call returns
//! at once as if cancelled. Saving in the built-in picker asks before replacing a file (the
//! system dialogs ask themselves).

use super::action::Action;
use super::file_picker::{FilePicker, Picked};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a file is chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTask {
    OpenCheckpoint,
    LoadLatent,
    SaveLatent,
    SaveImage,
    SaveSession,
    SaveVideo,
    LoadDirections,
    SaveDirections,
    ProjectImage,
}

/// Dialog title, filter name and extensions, and the suggested file name when saving.
struct TaskSpec {
    title: &'static str,
    filter: &'static str,
    exts: &'static [&'static str],
    name: &'static str,
}

impl FileTask {
    fn saves(self) -> bool {
        matches!(
            self,
            Self::SaveLatent
                | Self::SaveImage
                | Self::SaveSession
                | Self::SaveVideo
                | Self::SaveDirections
        )
    }

    /// How the dialogs present the task.
    fn spec(self) -> TaskSpec {
        let spec = |title, filter, exts, name| TaskSpec {
            title,
            filter,
            exts,
            name,
        };
        match self {
            Self::OpenCheckpoint => spec(
                "Open checkpoint",
                "StyleNAT checkpoint",
                &["pt", "pth", "safetensors"],
                "",
            ),
            Self::LoadLatent => spec("Load W+", "latent", &["npz", "npy"], ""),
            Self::SaveLatent => spec("Save W+", "latent", &["npz", "npy"], "latent.npz"),
            Self::SaveImage => spec("Save image", "PNG", &["png"], "image.png"),
            Self::SaveSession => spec("Save session", "session", &["json"], "session.json"),
            Self::SaveVideo => spec("Save video", "video", &["mp4", "gif"], "loop.mp4"),
            Self::LoadDirections => spec("Load directions", "directions", &["npz", "npy"], ""),
            Self::ProjectImage => spec(
                "Project an image",
                "images",
                &["png", "jpg", "jpeg", "webp", "bmp"],
                "",
            ),
            Self::SaveDirections => spec(
                "Save directions",
                "directions",
                &["npz", "npy"],
                "directions.npz",
            ),
        }
    }

    /// What choosing `path` asks the app to do.
    pub fn action(self, path: PathBuf) -> Action {
        match self {
            Self::OpenCheckpoint | Self::LoadLatent => Action::Open(path),
            Self::SaveLatent => Action::SaveLatent(path),
            Self::SaveImage => Action::SaveImage(path),
            Self::SaveSession => Action::SaveSession(path),
            Self::SaveVideo => Action::SaveVideo(path),
            Self::LoadDirections => Action::LoadDirections(path),
            Self::ProjectImage => Action::Project(path),
            Self::SaveDirections => Action::SaveDirections(path),
        }
    }

    fn accepts(self, path: &Path) -> bool {
        let exts = self.spec().exts;
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
    }
}

/// Whether a system dialog can be shown here. `STYLENAT_FILE_DIALOG=builtin` always uses the
/// built-in picker; on Linux the portal needs a D-Bus session bus.
fn native_available() -> bool {
    if std::env::var("STYLENAT_FILE_DIALOG").is_ok_and(|v| v == "builtin") {
        return false;
    }
    if cfg!(target_os = "linux") {
        let bus_socket =
            std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).join("bus").exists());
        return std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() || bus_socket;
    }
    true
}

/// A portal that is missing answers "cancelled" at once; a person takes longer than this.
const NO_ANSWER: Duration = Duration::from_millis(250);

/// The file choosers of the window: at most one built-in picker or confirmation at a time.
#[derive(Default)]
pub struct FileDialogs {
    builtin: Option<(FileTask, FilePicker)>,
    /// A save into an existing file, waiting for the user to confirm.
    confirm: Option<(FileTask, PathBuf)>,
    /// The system dialog did not answer once: use the built-in picker from now on.
    native_failed: bool,
    last_dir: Option<PathBuf>,
}

impl FileDialogs {
    /// Only the built-in picker, starting in `dir` (tests; never blocks on a system dialog).
    pub fn builtin_in(dir: PathBuf) -> Self {
        Self {
            native_failed: true,
            last_dir: Some(dir),
            ..Self::default()
        }
    }

    /// Starts choosing a file for `task`. A system dialog blocks until it closes and its
    /// choice comes back at once; the built-in picker's comes from [`FileDialogs::show`].
    /// Returns a notice when the system dialog could not be used.
    pub fn start(&mut self, task: FileTask) -> (Option<Action>, Option<String>) {
        if !self.native_failed && native_available() {
            let spec = task.spec();
            let dialog = rfd::FileDialog::new()
                .set_title(spec.title)
                .add_filter(spec.filter, spec.exts);
            let started = Instant::now();
            let chosen = if task.saves() {
                dialog.set_file_name(spec.name).save_file()
            } else {
                dialog.pick_file()
            };
            if let Some(path) = chosen {
                return (Some(task.action(path)), None);
            }
            if started.elapsed() >= NO_ANSWER {
                return (None, None); // the user cancelled
            }
            self.native_failed = true;
            self.open_builtin(task);
            return (
                None,
                Some(
                    "the system file dialog did not open (is an XDG desktop portal running?); \
                     using the built-in file picker"
                        .into(),
                ),
            );
        }
        self.open_builtin(task);
        (None, None)
    }

    fn open_builtin(&mut self, task: FileTask) {
        let spec = task.spec();
        let start = self
            .last_dir
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        let note = (!native_available()).then_some(
            "No system file dialog here (it needs an XDG desktop portal on D-Bus): \
             this is the built-in one.",
        );
        let picker = FilePicker::new(spec.title, note, task.saves(), start, spec.name, move |p| {
            task.accepts(p)
        });
        self.builtin = Some((task, picker));
    }

    /// Whether a built-in picker or a confirmation is open.
    pub fn is_open(&self) -> bool {
        self.builtin.is_some() || self.confirm.is_some()
    }

    /// Draws the open picker or confirmation; returns the action a finished choice asks for.
    pub fn show(&mut self, ctx: &egui::Context) -> Option<Action> {
        if let Some((task, path)) = &self.confirm {
            let (task, path) = (*task, path.clone());
            let mut answer = None;
            egui::Window::new("Replace file?")
                .collapsible(false)
                .resizable(false)
                .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
                .show(ctx, |ui| {
                    ui.label(format!("{} already exists.", path.display()));
                    ui.horizontal(|ui| {
                        if ui.button("Replace").clicked() {
                            answer = Some(true);
                        }
                        if ui.button("Cancel").clicked() {
                            answer = Some(false);
                        }
                    });
                });
            return match answer {
                Some(true) => {
                    self.confirm = None;
                    Some(task.action(path))
                }
                Some(false) => {
                    self.confirm = None;
                    None
                }
                None => None,
            };
        }
        let (task, picker) = self.builtin.as_mut()?;
        let task = *task;
        match picker.show(ctx) {
            Picked::Open => None,
            Picked::Chosen(path) => {
                self.last_dir = Some(picker.dir().to_path_buf());
                self.builtin = None;
                if task.saves() && path.exists() {
                    self.confirm = Some((task, path));
                    return None;
                }
                Some(task.action(path))
            }
            Picked::Cancelled => {
                self.builtin = None;
                None
            }
        }
    }
}
