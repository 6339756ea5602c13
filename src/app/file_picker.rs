//! The built-in file picker: a window listing one folder (folders first, then the files the
//! task accepts), a path field, Up, and Open/Save + Cancel. Written here rather than taken
//! from egui_file, whose titles and list entries use emoji that egui's default fonts lack
//! (they would draw as boxes).

use std::path::{Path, PathBuf};

/// What the picker ended with this frame.
pub enum Picked {
    Open,
    Chosen(PathBuf),
    Cancelled,
}

pub struct FilePicker {
    title: &'static str,
    /// Why the built-in picker is shown instead of the system's, if it says so.
    note: Option<&'static str>,
    saving: bool,
    dir: PathBuf,
    /// The file name field (the chosen entry, or a new name when saving).
    name: String,
    /// The folder field, applied when it loses focus.
    dir_edit: String,
    accepts: Box<dyn Fn(&Path) -> bool + Send>,
    /// Folders and accepted files of `dir`, sorted; or why it cannot be listed.
    entries: Result<Vec<(String, bool)>, String>,
}

impl FilePicker {
    pub fn new(
        title: &'static str,
        note: Option<&'static str>,
        saving: bool,
        dir: PathBuf,
        name: &str,
        accepts: impl Fn(&Path) -> bool + Send + 'static,
    ) -> Self {
        let mut p = Self {
            title,
            note,
            saving,
            dir_edit: dir.display().to_string(),
            dir,
            name: name.to_string(),
            accepts: Box::new(accepts),
            entries: Ok(Vec::new()),
        };
        p.list();
        p
    }

    /// The folder shown.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn list(&mut self) {
        self.entries = std::fs::read_dir(&self.dir)
            .map_err(|e| format!("cannot list {}: {e}", self.dir.display()))
            .map(|rd| {
                let mut v: Vec<(String, bool)> = rd
                    .flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let is_dir = e.path().is_dir();
                        let shown = !name.starts_with('.') && (is_dir || (self.accepts)(&e.path()));
                        shown.then_some((name, is_dir))
                    })
                    .collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                v
            });
    }

    fn enter(&mut self, dir: PathBuf) {
        self.dir = dir;
        self.dir_edit = self.dir.display().to_string();
        if !self.saving {
            self.name.clear();
        }
        self.list();
    }

    /// Draws the picker; reports a choice or a cancel.
    pub fn show(&mut self, ctx: &egui::Context) -> Picked {
        let mut result = Picked::Open;
        let mut open = true;
        egui::Window::new(self.title)
            .open(&mut open)
            .collapsible(false)
            .default_size([520.0, 420.0])
            .show(ctx, |ui| {
                if let Some(note) = self.note {
                    ui.small(note);
                }
                ui.horizontal(|ui| {
                    if ui.button("Up").clicked()
                        && let Some(parent) = self.dir.parent()
                    {
                        self.enter(parent.to_path_buf());
                    }
                    let label = ui.label("Folder");
                    let r = ui
                        .add(egui::TextEdit::singleline(&mut self.dir_edit).desired_width(400.0))
                        .labelled_by(label.id);
                    if r.lost_focus() && Path::new(&self.dir_edit).is_dir() {
                        self.enter(PathBuf::from(&self.dir_edit));
                    }
                });
                ui.separator();
                let mut enter = None;
                egui::ScrollArea::vertical()
                    .max_height(280.0)
                    .auto_shrink([false, false])
                    .show(ui, |ui| match &self.entries {
                        Err(e) => {
                            ui.colored_label(ui.visuals().error_fg_color, e);
                        }
                        Ok(entries) => {
                            for (name, is_dir) in entries {
                                let text = if *is_dir {
                                    format!("{name}/")
                                } else {
                                    name.clone()
                                };
                                let r = ui.selectable_label(!is_dir && *name == self.name, text);
                                if r.clicked() {
                                    if *is_dir {
                                        enter = Some(self.dir.join(name));
                                    } else {
                                        self.name = name.clone();
                                    }
                                }
                                if r.double_clicked() && !is_dir {
                                    result = Picked::Chosen(self.dir.join(name));
                                }
                            }
                        }
                    });
                if let Some(d) = enter {
                    self.enter(d);
                }
                ui.separator();
                ui.horizontal(|ui| {
                    let label = ui.label("File name");
                    ui.text_edit_singleline(&mut self.name)
                        .labelled_by(label.id);
                });
                ui.horizontal(|ui| {
                    let verb = if self.saving { "Save" } else { "Open" };
                    let path = self.dir.join(&self.name);
                    let ready = !self.name.is_empty() && (self.saving || path.is_file());
                    if ui.add_enabled(ready, egui::Button::new(verb)).clicked() {
                        result = Picked::Chosen(path);
                    }
                    if ui.button("Cancel").clicked() {
                        result = Picked::Cancelled;
                    }
                });
            });
        if !open {
            return Picked::Cancelled;
        }
        result
    }
}
