//! Projection started from the explorer, run on the render thread with progress, a live
//! reconstruction and Cancel (the current latent is untouched until it finishes).

use super::{Job, Model, Post, failed};
use crate::app::protocol::Reply;
use crate::error::Error;
use crate::project::perceptual::find_critic;
use crate::project::{ProjectConfig, latent_name, load_target, project, psnr, render_rgb8};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Steps between reconstructions shown while projecting.
const PREVIEW_EVERY: usize = 10;

#[derive(Debug, Clone)]
pub struct ProjectJob {
    pub target: PathBuf,
    pub steps: usize,
    pub cancel: Arc<AtomicBool>,
}

/// Runs `job` and posts its progress and outcome.
pub fn run(m: &mut Model, job: &ProjectJob, post: &Post) {
    let e = &mut m.engine;
    let size = e.config().size;
    // The model as loaded: the result becomes a plain latent, without head-group edits.
    if let Err(err) = e.set_head_edits(&[]) {
        return post(failed(Job::Project, err.to_string()));
    }
    let outcome = load_target(&job.target, size).and_then(|target| {
        // The checkpoint's own discriminator (or its training run's) when there is one.
        let found = find_critic(e, None)?;
        let terms = match &found {
            Some((_, what)) => format!("pixels + features of the {what}"),
            None => "pixels only: the checkpoint carries no discriminator".to_string(),
        };
        let cfg = ProjectConfig {
            steps: job.steps,
            critic: found.map(|(c, _)| c),
            ..Default::default()
        };
        // The reconstruction is rendered by a plain pass of the same generator.
        let renderer = e.generator.clone();
        let wplus = project(e, &target.image, &cfg, PREVIEW_EVERY, |p| {
            let preview = p.wplus.and_then(|w| render_rgb8(&renderer, w).ok());
            post(Reply::ProjectProgress {
                step: p.step,
                total: job.steps,
                loss: p.loss,
                preview,
            });
            !job.cancel.load(Ordering::Relaxed)
        })?;
        let image = e.synthesize(&wplus, 1, |_| {})?;
        Ok(Reply::Projected {
            name: latent_name(&job.target, &target.sha256),
            psnr: psnr(&image.data, &target.image, size),
            wplus: wplus.data,
            terms,
        })
    });
    post(match outcome {
        Ok(reply) => reply,
        Err(Error::Cancelled) => Reply::ProjectCancelled,
        Err(e) => failed(Job::Project, format!("projection failed: {e}")),
    });
}
