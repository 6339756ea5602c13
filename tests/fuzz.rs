//! Every file reader against mutated real files: the fixture checkpoint (pickle and zip level),
//! our safetensors, `.npy`/`.npz`, session, PNG provenance and direction files. Each case must
//! end in `Ok` or a typed error — no panic, no hang (time limit per case), and no allocation
//! beyond what the file's size justifies (a counting allocator measures the peak).
//!
//! `STYLENAT_FUZZ_CASES` (default 10 000) sets the total; `STYLENAT_FUZZ_SEED` the RNG seed.
//! One test in this binary, so the allocator's peak belongs to the case being run.

mod common;
mod mutation;
use common::*;
use mutation::{Rng, mutate, repack, structural};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use stylenat::checkpoint::{self, ConfigSource};
use stylenat::tensor::HostTensor;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

type Reader = fn(&Path) -> Result<(), String>;

struct Family {
    name: &'static str,
    seed: Vec<u8>,
    /// Header bytes mutations favour.
    hot: usize,
    ext: &'static str,
    read: Reader,
    share: usize,
    /// Structural pickle attacks instead of byte mutations.
    structural: bool,
    /// Longest a case may take.
    limit: Duration,
}

fn err<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<(), String> {
    r.map(|_| ()).map_err(|e| e.to_string())
}

fn families(dir: &Path) -> Vec<Family> {
    let pt = std::fs::read(small("checkpoint.pt")).unwrap();
    let loaded = checkpoint::load(&small("checkpoint.pt"), &ConfigSource::Checkpoint).unwrap();
    let st = checkpoint::native::to_bytes(&loaded.config, &loaded.weights).unwrap();
    let w = HostTensor::new(vec![2, 12, 64], random_vec(2 * 12 * 64, 5));
    let npz_path = dir.join("seed.npz");
    stylenat::io::npy::write_array(&npz_path, "w", &w).unwrap();
    let npy_path = dir.join("seed.npy");
    stylenat::io::npy::write_array(&npy_path, "w", &w).unwrap();
    let session = serde_json::json!({
        "app": "stylenat 0.1.0", "checkpoint": "/models/a.pt",
        "args": serde_json::to_value(stylenat::latent::recipe::Recipe::default()).unwrap(),
        "zoom": 2
    })
    .to_string();
    let prov = stylenat::io::provenance::Provenance {
        app: "stylenat 0.1.0".into(),
        checkpoint: Some("checkpoint.pt".into()),
        checkpoint_sha256: Some("ab".repeat(32)),
        seed_mode: Default::default(),
        seed: Some(7),
        wplus_index: None,
        psi: Some(0.7),
        trunc_cutoff: None,
        mix_seed: Some(3),
        mix_layers: vec![1, 2],
        recipe: None,
        edits: vec![],
    };
    let png =
        stylenat::io::provenance::encode_png(&[90u8; 16 * 16 * 3], 16, 16, Some(&prov)).unwrap();
    let dirs_path = dir.join("dirs.npz");
    stylenat::analysis::directions::Directions {
        mean: random_vec(64, 1),
        components: vec![random_vec(64, 2), random_vec(64, 3)],
        sigma: vec![2.0, 1.0],
        explained: vec![0.3, 0.1],
    }
    .save(&dirs_path)
    .unwrap();
    // The pickle alone, mutated and re-zipped: the unpickler sees every mutation.
    let pkl = {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(&pt)).unwrap();
        let name = (0..z.len())
            .map(|i| z.by_index(i).unwrap().name().to_string())
            .find(|n| n.ends_with("data.pkl"))
            .unwrap();
        let mut buf = Vec::new();
        z.by_name(&name).unwrap().read_to_end(&mut buf).unwrap();
        buf
    };
    vec![
        Family {
            name: "pt (pickle)",
            seed: pkl.clone(),
            hot: 4096,
            ext: "pkl",
            read: |_| unreachable!("re-zipped below"),
            share: 20,
            structural: false,
            limit: Duration::from_secs(10),
        },
        Family {
            name: "pt (structure)",
            seed: pkl,
            hot: 0,
            ext: "pkl",
            read: |_| unreachable!("re-zipped below"),
            share: 5,
            structural: true,
            // The promise: any file up to 64 MiB is loaded or refused within 2 s.
            limit: Duration::from_secs(2),
        },
        Family {
            name: "pt (zip)",
            hot: 4096,
            seed: pt,
            ext: "pt",
            read: |p| err(checkpoint::load(p, &ConfigSource::Checkpoint)),
            share: 10,
            structural: false,
            limit: Duration::from_secs(10),
        },
        Family {
            name: "safetensors",
            hot: 4096,
            seed: st,
            ext: "safetensors",
            read: |p| err(checkpoint::load(p, &ConfigSource::Checkpoint)),
            share: 15,
            structural: false,
            limit: Duration::from_secs(10),
        },
        Family {
            name: "npz",
            hot: 256,
            seed: std::fs::read(&npz_path).unwrap(),
            ext: "npz",
            read: |p| err(stylenat::io::npy::read_array(p, Some("w"))),
            share: 15,
            structural: false,
            limit: Duration::from_secs(10),
        },
        Family {
            name: "npy",
            hot: 128,
            seed: std::fs::read(&npy_path).unwrap(),
            ext: "npy",
            read: |p| err(stylenat::io::npy::read_array(p, None)),
            share: 10,
            structural: false,
            limit: Duration::from_secs(10),
        },
        Family {
            name: "session",
            hot: 256,
            seed: session.into_bytes(),
            ext: "json",
            read: |p| err(stylenat::app::session::Session::read(p)),
            share: 10,
            structural: false,
            limit: Duration::from_secs(10),
        },
        Family {
            name: "png provenance",
            hot: 600,
            seed: png,
            ext: "png",
            read: |p| err(stylenat::io::provenance::read_png(p)),
            share: 10,
            structural: false,
            limit: Duration::from_secs(10),
        },
        Family {
            name: "directions",
            hot: 512,
            seed: std::fs::read(&dirs_path).unwrap(),
            ext: "npz",
            read: |p| err(stylenat::analysis::directions::Directions::load(p)),
            share: 10,
            structural: false,
            limit: Duration::from_secs(10),
        },
    ]
}

#[test]
fn mutated_files_give_errors_never_panics_hangs_or_huge_allocations() {
    let total: usize = std::env::var("STYLENAT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("STYLENAT_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let dir = tempfile::tempdir().unwrap();
    let fams = families(dir.path());
    let pt_seed = std::fs::read(small("checkpoint.pt")).unwrap();
    let shares: usize = fams.iter().map(|f| f.share).sum();
    let mut rng = Rng(seed | 1);
    let t0 = Instant::now();
    let mut report = Vec::new();
    for f in &fams {
        let cases = total * f.share / shares;
        let (mut ok, mut errors, mut slowest, mut peak_max) = (0, 0, Duration::ZERO, 0usize);
        for case in 0..cases {
            let limit = f.limit;
            let mutated = if f.structural {
                structural(&mut rng, &f.seed)
            } else {
                mutate(&mut rng, &f.seed, f.hot)
            };
            let (bytes, read): (Vec<u8>, Reader) = if f.ext == "pkl" {
                (repack(&pt_seed, &mutated), |p| {
                    err(checkpoint::load(p, &ConfigSource::Checkpoint))
                })
            } else {
                (mutated, f.read)
            };
            let path: PathBuf = dir.path().join(format!("case.{}", f.ext));
            std::fs::write(&path, &bytes).unwrap();
            let base = LIVE.load(Ordering::Relaxed);
            PEAK.store(base, Ordering::Relaxed);
            let started = Instant::now();
            let (tx, rx) = std::sync::mpsc::channel();
            let p = path.clone();
            std::thread::spawn(move || {
                let r = std::panic::catch_unwind(|| read(&p));
                let _ = tx.send(r);
            });
            let outcome = rx.recv_timeout(limit + limit / 2).unwrap_or_else(|_| {
                std::fs::write(dir.path().join("hang.bin"), &bytes).unwrap();
                panic!("{} case {case} did not finish in {limit:?}", f.name)
            });
            let took = started.elapsed();
            if took > limit {
                std::fs::write(dir.path().join("slow.bin"), &bytes).unwrap();
                panic!("{} case {case} took {took:?} (limit {limit:?})", f.name);
            }
            slowest = slowest.max(took);
            let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
            // The reader may hold the file, decode it (f16 → f32, pickle values) and build
            // the result: a small multiple of the file, plus fixed overhead.
            let allowed = 16 * bytes.len() + (64 << 20);
            peak_max = peak_max.max(peak);
            match outcome {
                Err(_) => {
                    let keep = std::env::temp_dir().join(format!("stylenat-fuzz-panic.{}", f.ext));
                    std::fs::write(&keep, &bytes).unwrap();
                    panic!(
                        "{} case {case} panicked (input kept at {})",
                        f.name,
                        keep.display()
                    );
                }
                Ok(Ok(())) => ok += 1,
                Ok(Err(e)) => {
                    assert!(!e.trim().is_empty(), "{} case {case}: empty error", f.name);
                    errors += 1;
                }
            }
            if peak > allowed {
                let keep = std::env::temp_dir().join(format!("stylenat-fuzz-alloc.{}", f.ext));
                std::fs::write(&keep, &bytes).unwrap();
                panic!(
                    "{} case {case}: peak allocation {peak} bytes for a {}-byte file (input kept at {})",
                    f.name,
                    bytes.len(),
                    keep.display()
                );
            }
        }
        report.push(format!(
            "{:16} {cases:6} cases: {ok:6} read, {errors:6} refused; slowest {:7.1} ms; peak allocation {:6.1} MiB (seed file {:.1} KiB)",
            f.name,
            slowest.as_secs_f64() * 1e3,
            peak_max as f64 / (1 << 20) as f64,
            f.seed.len() as f64 / 1024.0
        ));
    }
    println!(
        "fuzz seed {seed:#x}, {total} cases in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    for line in report {
        println!("{line}");
    }
}
