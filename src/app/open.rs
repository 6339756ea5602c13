//! Opening a dropped or chosen file by what it is: a session (`.json`), a W+ latent
//! (`.npz`/`.npy`), an image with StyleNAT provenance (`.png`: its recipe), any other picture
//! (projected into W+), otherwise a checkpoint.

use super::ExplorerApp;
use super::session::Session;
use crate::compose::provenance::recipe_from_provenance;
use crate::io::provenance::{is_png, read_png};
use crate::latent::recipe::CustomLatent;
use std::path::{Path, PathBuf};

pub fn open(app: &mut ExplorerApp, path: PathBuf) {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let result = match ext.as_str() {
        "json" => open_session(app, &path),
        "npz" | "npy" => open_latent(app, &path),
        "jpg" | "jpeg" | "webp" | "bmp" => {
            app.apply(super::action::Action::Project(path.clone()));
            Ok(())
        }
        _ if ext == "png" || is_png(&path) => open_image(app, &path),
        _ => {
            app.load_checkpoint(path.clone());
            Ok(())
        }
    };
    if let Err(e) = result {
        app.messages
            .errors
            .push(format!("could not open {}: {e}", path.display()));
    }
}

fn open_session(app: &mut ExplorerApp, path: &Path) -> crate::Result<()> {
    let s = Session::read(path)?;
    let current = app.model.as_ref().map(|m| m.path.clone());
    if let Some(ckpt) = s.checkpoint.filter(|c| Some(c) != current.as_ref()) {
        app.load_checkpoint(ckpt);
    }
    app.state.args = s.args;
    app.state.zoom = s.zoom;
    app.messages.status = Some(format!("restored session {}", path.display()));
    Ok(())
}

fn open_latent(app: &mut ExplorerApp, path: &Path) -> crate::Result<()> {
    let w = crate::io::npy::read_array(path, Some("w"))?;
    let (n, num_ws, d) = match w.shape[..] {
        [n, l, d] => (n, l, d),
        [l, d] => (1, l, d),
        _ => {
            return Err(crate::Error::Input(format!(
                "a W+ latent is [N, num_ws, w_dim] or [num_ws, w_dim], got {:?}",
                w.shape
            )));
        }
    };
    if n == 0 || num_ws == 0 || d == 0 {
        return Err(crate::Error::Input("the latent file is empty".into()));
    }
    if let Some(m) = &app.model
        && (m.num_ws(), m.w_dim()) != (num_ws, d)
    {
        return Err(crate::Error::Input(format!(
            "the latent is [{num_ws}, {d}]; the model needs [{}, {}]",
            m.num_ws(),
            m.w_dim()
        )));
    }
    let name = super::panels::model::file_name(path);
    app.messages.status = Some(match n {
        1 => format!("loaded W+ from {name}"),
        n => format!("loaded W+ row 0 of {n} from {name}"),
    });
    app.state.args.custom = Some(CustomLatent {
        name,
        num_ws,
        wplus: w.data[..num_ws * d].to_vec(),
    });
    Ok(())
}

fn open_image(app: &mut ExplorerApp, path: &Path) -> crate::Result<()> {
    let Some(p) = read_png(path)? else {
        // A picture of the user's own: find its latent.
        app.apply(super::action::Action::Project(path.to_path_buf()));
        return Ok(());
    };
    let Some(args) = recipe_from_provenance(&p) else {
        return Err(crate::Error::Input(
            "the image was made from a W+ file, not a seed; open that file instead".into(),
        ));
    };
    app.state.args = args;
    let shown = app
        .model
        .as_ref()
        .map(|m| super::panels::model::file_name(&m.path));
    app.messages.status = Some(match (&p.checkpoint, shown) {
        (Some(made), Some(shown)) if *made != shown => format!(
            "restored the latent of {}; it was made with {made}, the open model is {shown}",
            path.display()
        ),
        _ => format!("restored the latent of {}", path.display()),
    });
    Ok(())
}
