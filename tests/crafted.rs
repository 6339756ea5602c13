//! Hand-crafted hostile checkpoints up to 64 MiB — each aimed at one way a reader can be made
//! slow or huge — are loaded or refused within 2 s (the README's promise). One test in this
//! binary so no other test shares the cores while it is timed.

// The allocator of the `stylenat` binary and the explorer, so the timings are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::time::{Duration, Instant};
use stylenat::checkpoint::{self, ConfigSource};

const LIMIT: Duration = Duration::from_secs(2);
const MIB: usize = 1 << 20;

/// Makes one crafted file's bytes.
type Build = fn() -> Vec<u8>;

/// A torch.save-style zip: `archive/data.pkl` (stored or deflated) plus storages.
fn checkpoint_zip(pickle: &[u8], deflate: bool, storages: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zw = zip::ZipWriter::new(&mut out);
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .large_file(true);
        zw.start_file("archive/data.pkl", opts).unwrap();
        zw.write_all(pickle).unwrap();
        for (key, bytes) in storages {
            zw.start_file(format!("archive/data/{key}"), opts).unwrap();
            zw.write_all(bytes).unwrap();
        }
        zw.finish().unwrap();
    }
    out.into_inner()
}

/// Repetitions of `unit` after a protocol header and `head`, up to `bytes` with `tail`.
fn repeated(head: &[u8], unit: &[u8], bytes: usize, tail: &[u8]) -> Vec<u8> {
    let mut p = b"\x80\x02".to_vec();
    p.extend_from_slice(head);
    p.reserve(bytes + tail.len());
    while p.len() + unit.len() + tail.len() <= bytes {
        p.extend_from_slice(unit);
    }
    p.extend_from_slice(tail);
    p
}

/// `{k0: 1, k1: 1, …}` by one SETITEM per key (11 bytes an item), optionally memoised first.
fn dict_bomb(bytes: usize, memo: bool) -> Vec<u8> {
    let mut p = b"\x80\x02}".to_vec();
    if memo {
        p.extend(b"q\x00");
    }
    let mut i = 0u64;
    while p.len() + 12 <= bytes {
        p.push(0x8c);
        p.push(6);
        p.extend(format!("{:06}", i % 1_000_000).as_bytes());
        p.extend(b"K\x01s");
        i += 1;
    }
    p.push(b'.');
    p
}

/// A state dict of `tensors` entries, every one a full view of storage `0`.
fn shared_storage_views(tensors: usize, numel: usize) -> Vec<u8> {
    let mut p = b"\x80\x02}(\x8c\x05g_ema}(".to_vec();
    for i in 0..tensors {
        let name = format!("w{i}");
        p.push(0x8c);
        p.push(name.len() as u8);
        p.extend(name.as_bytes());
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        p.extend(b"(\x8c\x07storagectorch\nFloatStorage\n\x8c\x010\x8c\x03cpuJ");
        p.extend((numel as u32).to_le_bytes());
        p.extend(b"tQK\x00J");
        p.extend((numel as u32).to_le_bytes());
        p.extend(b"\x85K\x01\x85\x89)tR");
    }
    p.extend(b"uu.");
    p
}

#[test]
fn crafted_checkpoints_up_to_64_mib_load_or_fail_within_2_s() {
    let dir = tempfile::tempdir().unwrap();
    // Each file is built just before it is read, so the process holds one at a time.
    let cases: Vec<(&str, Build)> = vec![
        ("dict bomb, one SETITEM per key", || {
            checkpoint_zip(&dict_bomb(64 * MIB, false), false, &[])
        }),
        ("memoised dict bomb", || {
            checkpoint_zip(&dict_bomb(64 * MIB, true), false, &[])
        }),
        ("list bomb, one APPEND per item", || {
            checkpoint_zip(&repeated(b"]", b"Na", 64 * MIB, b"."), false, &[])
        }),
        ("MARK / POP_MARK churn", || {
            checkpoint_zip(&repeated(b"", b"(1", 64 * MIB, b"N."), false, &[])
        }),
        // Opcodes that build nothing: the whole 64 MiB goes through the opcode loop.
        ("PROTO churn", || {
            checkpoint_zip(&repeated(b"", b"\x80\x02", 64 * MIB, b"N."), false, &[])
        }),
        ("deep MARK stack", || {
            checkpoint_zip(&repeated(b"", b"(", 64 * MIB, b"N."), false, &[])
        }),
        ("TUPLE1 nesting", || {
            checkpoint_zip(&repeated(b"N", b"\x85", 64 * MIB, b"."), false, &[])
        }),
        ("memo copy bomb", || {
            checkpoint_zip(
                &{
                    let mut p = b"\x80\x02](".to_vec();
                    p.extend(std::iter::repeat_n(*b"K\x01", 1000).flatten());
                    p.extend(b"eq\x00");
                    let mut rest = repeated(b"", b"h\x000", 64 * MIB - p.len(), b"N.");
                    p.extend(rest.split_off(2));
                    p
                },
                false,
                &[],
            )
        }),
        // 64 MiB of no-op pickle deflated into a small file: the reader must stop at its cap.
        ("deflated pickle expanding past the cap", || {
            checkpoint_zip(&repeated(b"", b"(1", 80 * MIB, b"N."), true, &[])
        }),
        ("one 48 MiB storage viewed by 1000 tensors", || {
            checkpoint_zip(
                &shared_storage_views(1000, 12 * MIB),
                false,
                &[("0", vec![0u8; 48 * MIB])],
            )
        }),
    ];
    let mut report = Vec::new();
    for (name, build) in cases {
        let bytes = build();
        assert!(
            bytes.len() <= 64 * MIB + 4096,
            "{name}: {} bytes",
            bytes.len()
        );
        let path = dir.path().join("crafted.pt");
        std::fs::write(&path, &bytes).unwrap();
        let t0 = Instant::now();
        let result = checkpoint::load(&path, &ConfigSource::Checkpoint);
        let took = t0.elapsed();
        let outcome = match &result {
            Ok(_) => "loaded".to_string(),
            Err(e) => format!("refused: {e}"),
        };
        report.push(format!(
            "{name:42} {:6.1} MiB file  {:7.1} ms  {}",
            bytes.len() as f64 / MIB as f64,
            took.as_secs_f64() * 1e3,
            outcome.chars().take(90).collect::<String>()
        ));
        assert!(took <= LIMIT, "{name}: took {took:?} ({outcome})");
        assert!(
            result.is_err(),
            "{name}: a crafted file loaded as a generator"
        );
    }
    for line in report {
        println!("{line}");
    }
}
