//! `stylenat bench --throughput`: images per second at batch sizes 1, 2 and 4 through the
//! engine's batched path (the one `generate`, `video` and grids use), and the fastest.

use crate::engine::Engine;
use crate::kernels::to_host;
use anyhow::Result;
use serde::Serialize;
use std::time::Instant;

/// Batch sizes tried (8 FFHQ-1024 images would hold ~20 GB of activations at once).
const BATCHES: [usize; 3] = [1, 2, 4];

#[derive(Serialize)]
pub struct BatchTiming {
    pub batch: usize,
    /// Shares of the batch run side by side (one per thread on the CPU).
    pub shares: usize,
    pub ms_per_image_median: f64,
    pub images_per_s: f64,
}

#[derive(Serialize)]
pub struct Throughput {
    pub batches: Vec<BatchTiming>,
    /// The batch with the most images per second.
    pub fastest_batch: usize,
    /// What the engine picks by itself ([`Engine::auto_batch`]).
    pub auto_batch: usize,
}

pub fn measure(engine: &Engine, runs: usize) -> Result<Throughput> {
    let mut batches = Vec::new();
    for batch in BATCHES {
        let seeds: Vec<u64> = (0..batch as u64).collect();
        let z = engine.z_for_seeds(&seeds, Default::default())?;
        let wplus = engine.broadcast(&engine.map(&z)?);
        to_host(engine.synthesize_on_device(&wplus)?)?;
        let mut ms = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t0 = Instant::now();
            to_host(engine.synthesize_on_device(&wplus)?)?;
            ms.push(t0.elapsed().as_secs_f64() * 1e3 / batch as f64);
        }
        let ms = super::bench::median(ms);
        batches.push(BatchTiming {
            batch,
            shares: engine.image_shares(batch),
            ms_per_image_median: ms,
            images_per_s: 1e3 / ms,
        });
    }
    let fastest_batch = batches
        .iter()
        .max_by(|a, b| a.images_per_s.total_cmp(&b.images_per_s))
        .map_or(1, |b| b.batch);
    Ok(Throughput {
        batches,
        fastest_batch,
        auto_batch: engine.auto_batch(),
    })
}

pub fn print(t: &Throughput) {
    println!("batch  shares   ms/img    img/s");
    for b in &t.batches {
        println!(
            "{:>5}  {:>6}  {:>7.2}  {:>7.2}",
            b.batch, b.shares, b.ms_per_image_median, b.images_per_s
        );
    }
    println!(
        "fastest batch {} · the engine's automatic batch: {}",
        t.fastest_batch, t.auto_batch
    );
}
