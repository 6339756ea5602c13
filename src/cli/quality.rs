//! `stylenat quality`: Fréchet distances in the feature space of a classifier trained on the
//! same data — real (train split) vs real (held-out split) as the floor, then each generator.

use crate::analysis::frechet::frechet_distance;
use crate::checkpoint::{self, ConfigSource};
use crate::model::Generator;
use crate::model::init::InitSource;
use crate::rng::Rng;
use crate::train::classifier::{CLASSES, Classifier, FEATURES};
use crate::train::data::{Dataset, FASHION_MNIST_CLASSES};
use crate::train::sample_rgb8;
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct QualityArgs {
    /// Generators to measure (repeatable).
    #[arg(long, value_name = "FILE")]
    pub ckpt: Vec<PathBuf>,
    /// Also measure an untrained generator of the first checkpoint's architecture.
    #[arg(long)]
    pub untrained: bool,
    /// Labelled data (`fashion-mnist` or a folder of its IDX files, without a split): the
    /// classifier learns from `:train`, `:test` is the reference set.
    #[arg(long, default_value = "fashion-mnist")]
    pub data: String,
    /// Feature extractor; trained on the train split and written here if the file is absent.
    #[arg(long, value_name = "FILE")]
    pub classifier: PathBuf,
    /// Steps when the classifier has to be trained (batch 64).
    #[arg(long, default_value_t = 1500)]
    pub classifier_steps: usize,
    /// Images per set.
    #[arg(long, default_value_t = 10_000)]
    pub samples: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the results as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Replace an existing JSON file.
    #[arg(long)]
    pub force: bool,
}

/// `n` RGB8 images from `g` (ψ = 1), as a dataset.
fn generate(g: &Generator, n: usize, seed: u64) -> Result<Dataset> {
    Ok(Dataset {
        size: g.config.size,
        pixels: sample_rgb8(g, &mut Rng::new(seed), n)?,
        labels: None,
        source: "generated".into(),
    })
}

/// The first `n` images of `data` in a seeded random order.
fn subset(data: &Dataset, n: usize, seed: u64) -> Dataset {
    let mut idx: Vec<usize> = (0..data.len()).collect();
    let mut rng = Rng::new(seed);
    for i in (1..idx.len()).rev() {
        idx.swap(i, rng.below(i + 1));
    }
    let pixels = idx[..n.min(idx.len())]
        .iter()
        .flat_map(|&i| data.image(i).to_vec())
        .collect();
    Dataset {
        pixels,
        labels: None,
        ..data.clone()
    }
}

pub fn run(a: QualityArgs) -> Result<()> {
    if let Some(path) = &a.json {
        super::refuse_overwrite(path, a.force)?;
    }
    let device = Device::flex();
    let generators: Vec<(PathBuf, Generator)> = a
        .ckpt
        .iter()
        .map(|p| -> Result<_> {
            let loaded = checkpoint::load(p, &ConfigSource::default())
                .with_context(|| format!("reading {}", p.display()))?;
            let g = loaded.build(&device)?;
            Ok((p.clone(), g))
        })
        .collect::<Result<_>>()?;
    let size = match generators.first() {
        Some((_, g)) => g.config.size,
        None => bail!("give at least one --ckpt"),
    };
    let train = Dataset::open(&format!("{}:train", a.data), size)?;
    let test = Dataset::open(&format!("{}:test", a.data), size)?;
    let classifier = if a.classifier.exists() {
        Classifier::load(&a.classifier, &device)?
    } else {
        eprintln!(
            "training the feature classifier ({} steps)…",
            a.classifier_steps
        );
        let c = Classifier::train(
            &train,
            a.classifier_steps,
            a.seed,
            &device,
            &mut |s, loss| {
                if s % 250 == 0 {
                    eprintln!("  step {s}: loss {loss:.3}");
                }
            },
        )?;
        c.save(&a.classifier, size)?;
        c
    };
    let (reference, predicted) = classifier.embed(&test, &device)?;
    let labels = test.labels.as_deref().unwrap_or(&[]);
    let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    let accuracy = correct as f64 / labels.len().max(1) as f64;
    eprintln!(
        "classifier accuracy on {}: {:.2}%",
        test.source,
        100.0 * accuracy
    );
    // Fréchet distance, and the share of each predicted class (variety across classes).
    let fd = |set: &Dataset| -> Result<(f64, Vec<f64>)> {
        let (f, classes) = classifier.embed(set, &device)?;
        let mut share = vec![0f64; CLASSES];
        for c in &classes {
            share[*c as usize] += 1.0 / classes.len() as f64;
        }
        Ok((frechet_distance(&f, &reference, FEATURES), share))
    };
    let mut rows = vec![(
        "real (train split) vs held-out".to_string(),
        fd(&subset(&train, a.samples, a.seed))?,
    )];
    if a.untrained {
        let cfg = &generators[0].1.config;
        let g = Generator::new(cfg, &mut InitSource::new(a.seed, cfg.lr_mlp), &device)?;
        rows.push((
            "untrained generator".into(),
            fd(&generate(&g, a.samples, a.seed)?)?,
        ));
    }
    for (path, g) in &generators {
        rows.push((
            path.display().to_string(),
            fd(&generate(g, a.samples, a.seed)?)?,
        ));
    }
    println!(
        "Fréchet distance to {} ({} images each, {FEATURES}-d classifier features):",
        test.source, a.samples
    );
    for (name, (v, _)) in &rows {
        println!("  {v:>10.3}  {name}");
    }
    println!(
        "predicted classes (%): {}",
        FASHION_MNIST_CLASSES.join(" | ")
    );
    for (name, (_, share)) in &rows {
        let pct: Vec<String> = share.iter().map(|s| format!("{:.1}", 100.0 * s)).collect();
        println!("  {}  {name}", pct.join(" "));
    }
    if let Some(path) = &a.json {
        let doc = json!({
            "reference": test.source,
            "samples": a.samples,
            "classifier_accuracy": accuracy,
            "classes": FASHION_MNIST_CLASSES,
            "frechet_distance": rows
                .iter()
                .map(|(n, (v, share))| json!({"set": n, "fd": v, "class_share": share}))
                .collect::<Vec<_>>(),
        });
        crate::io::write_atomic(path, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    }
    Ok(())
}
