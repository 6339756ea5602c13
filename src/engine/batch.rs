//! How CPU passes use the thread pool. Batches run their images side by side, a share per
//! thread: small models spend much of a one-image pass waiting at the joins of
//! thread-parallel kernels, and whole images per thread avoid the joins (the kernels inside
//! still share out work when a thread idles). And every pass runs on a pool thread
//! ([`on_pool`]).

use super::Engine;
use crate::backend::is_cpu;
use crate::error::Result;
use burn::tensor::{Device, Tensor};
use rayon::prelude::*;

impl Engine {
    /// The batch the front ends use when none is asked for: on the CPU one image per thread
    /// (run side by side); on a GPU four (the earlier default of `video`; no GPU has measured
    /// a better one yet), fewer where its buffers hold fewer.
    pub fn auto_batch(&self) -> usize {
        if is_cpu(&self.backend.device) {
            self.image_shares(usize::MAX)
        } else {
            self.backend
                .max_batch(self.config().largest_buffer().0)
                .min(4)
        }
    }

    /// How many shares a CPU pass over `batch` images splits into (1: one pass; GPUs always).
    pub fn image_shares(&self, batch: usize) -> usize {
        if !is_cpu(&self.backend.device) {
            return 1;
        }
        batch.min(rayon::current_num_threads()).max(1)
    }

    /// One untraced forward pass over `batch` W+ rows, split into [`Self::image_shares`].
    pub(super) fn run_batch_shared(&self, rows: Vec<f32>, batch: usize) -> Result<Tensor<4>> {
        let shares = self.image_shares(batch);
        if shares <= 1 {
            return on_pool(&self.backend.device, || {
                self.run_batch(rows, batch, &mut ())
            });
        }
        let row = rows.len() / batch;
        let parts = rows
            .par_chunks(batch.div_ceil(shares) * row)
            .map(|c| self.run_batch(c.to_vec(), c.len() / row, &mut ()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::cat(parts, 0))
    }
}

/// `f` on a thread of the CPU pool when `device` is the CPU (on the caller's thread
/// otherwise). From any other thread each parallel kernel call hands its work to the pool and
/// sleeps until it is done — a hand-off and a wake-up per layer call, ~8 % of the fixture's
/// time in the OS scheduler (`perf`, AMD EPYC); from a pool thread the calls start at once,
/// and only the pass as a whole is handed over.
pub fn on_pool<R: Send>(device: &Device, f: impl FnOnce() -> R + Send) -> R {
    match is_cpu(device) {
        true => rayon::scope(|_| f()),
        false => f(),
    }
}
