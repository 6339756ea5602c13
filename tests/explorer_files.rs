//! The explorer's file handling driven through its real UI (egui_kittest): the built-in model
//! button, and the built-in file pickers for opening and for saving over a file.

mod common;
use common::small;
use common::ui::{app, click, empty_app, harness, image_shown, step_until};
use egui_kittest::kittest::Queryable;

#[test]
fn built_in_model_button_opens_the_shipped_generator() {
    let mut h = harness(empty_app());
    click(&mut h, "Built-in model");
    step_until(&mut h, "the built-in model's first image", |a| {
        a.model.is_some() && image_shown(a)
    });
    let model = h.state().model.clone().unwrap();
    assert_eq!(
        model.path,
        std::path::PathBuf::from(stylenat::checkpoint::builtin::NAME)
    );
    assert_eq!(model.config.size, 32);
}

/// Without a system file dialog (no XDG portal, as under Xvfb), "Open checkpoint…" opens the
/// built-in picker in the window, and choosing a file there loads it.
#[test]
fn builtin_file_picker_opens_a_checkpoint() {
    let mut app = empty_app();
    let dir = small("checkpoint.pt").parent().unwrap().to_path_buf();
    app.dialogs = stylenat::app::file_dialog::FileDialogs::builtin_in(dir);
    let mut h = harness(app);
    click(&mut h, "Open checkpoint…");
    assert!(h.state().dialogs.is_open());
    h.run_steps(2); // a window is laid out invisibly in its first frame
    // Only files the task can open are listed.
    assert!(h.query_by_label("mean_latent.npy").is_none());
    click(&mut h, "checkpoint.pt");
    click(&mut h, "Open");
    step_until(&mut h, "the model from the picker", |a| a.model.is_some());
    assert_eq!(
        h.state().model.as_ref().unwrap().path,
        small("checkpoint.pt")
    );
    assert!(!h.state().dialogs.is_open());
}

/// Saving through the built-in picker over an existing file asks first: Cancel leaves the file
/// as it was, Replace writes it.
#[test]
fn builtin_save_picker_asks_before_replacing() {
    let out = tempfile::tempdir().unwrap();
    let mut app = app();
    app.dialogs = stylenat::app::file_dialog::FileDialogs::builtin_in(out.path().to_path_buf());
    let mut h = harness(app);
    step_until(&mut h, "the first image", image_shown);
    let target = out.path().join("latent.npz");
    std::fs::write(&target, b"precious").unwrap();
    click(&mut h, "Style vector");
    for (answer, kept) in [("Cancel", true), ("Replace", false)] {
        // (the side panel is taller than the test window: click through accesskit)
        h.get_by_label("Save W+…").click_accesskit();
        h.run_steps(4); // a window is laid out invisibly in its first frame
        assert!(h.state().dialogs.is_open());
        click(&mut h, "Save");
        h.run_steps(2);
        assert!(h.query_by_label("Replace").is_some(), "no confirmation");
        click(&mut h, answer);
        if kept {
            h.run_steps(5);
            assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        } else {
            step_until(&mut h, "the saved W+", |a| {
                a.messages
                    .status
                    .as_deref()
                    .is_some_and(|s| s.starts_with("saved W+"))
            });
            let w = stylenat::io::npy::read_array(&target, Some("w")).unwrap();
            assert_eq!(w.shape[0], 1);
        }
    }
}
