//! Mutations for the fuzz test: byte-level changes biased to headers, structural edits of a
//! pickle stream, and re-zipping a mutated pickle into a `.pt` archive.

use std::io::{Read, Write};

/// xorshift64*: deterministic, seedable.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `seed`, biased to the first `hot` bytes (headers) half of the time.
pub fn mutate(rng: &mut Rng, seed: &[u8], hot: usize) -> Vec<u8> {
    let mut b = seed.to_vec();
    let pick = |rng: &mut Rng, len: usize| {
        if rng.below(2) == 0 {
            rng.below(hot.min(len))
        } else {
            rng.below(len)
        }
    };
    for _ in 0..1 + rng.below(3) {
        if b.is_empty() {
            break;
        }
        match rng.below(7) {
            0 => b.truncate(pick(rng, b.len())),
            1 => {
                let at = pick(rng, b.len());
                b[at] ^= 1 << rng.below(8);
            }
            2 => {
                let at = pick(rng, b.len());
                b[at] = rng.next() as u8;
            }
            3 => {
                // A run of 0xff: huge lengths, counts and sizes.
                let at = pick(rng, b.len());
                let n = (1 + rng.below(8)).min(b.len() - at);
                b[at..at + n].fill(0xff);
            }
            4 => {
                let at = pick(rng, b.len());
                let junk: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
                b.splice(at..at, junk);
            }
            5 => {
                // Duplicate a slice (repeated opcodes, nested structures).
                let at = pick(rng, b.len());
                let n = (1 + rng.below(64)).min(b.len() - at);
                let piece = b[at..at + n].to_vec();
                b.splice(
                    at..at,
                    piece.iter().copied().cycle().take(n * (1 + rng.below(8))),
                );
            }
            _ => {
                let at = pick(rng, b.len());
                let n = (1 + rng.below(32)).min(b.len() - at);
                b.drain(at..at + n);
            }
        }
    }
    b
}

/// A structural attack on a pickle: a bomb of a random size inserted right after the
/// protocol header and popped again, so the rest of the file still decodes. Each kind once
/// made a reader slow or huge: dict/list bombs, long SETITEMS/APPENDS runs, deep MARK stacks,
/// nesting without stack growth, memo copy bombs, memoised dicts changed one key at a time.
pub fn structural(rng: &mut Rng, pkl: &[u8]) -> Vec<u8> {
    // Log-uniform sizes from 1 to ~260 000 items.
    let n = 1usize << rng.below(18);
    let n = n + rng.below(n);
    let key = |i: usize| {
        let mut k = vec![0x8c, 6];
        k.extend(format!("{:06}", i % 1_000_000).as_bytes());
        k
    };
    let mut bomb = Vec::new();
    match rng.below(8) {
        0 => {
            bomb.push(b'}');
            if rng.below(2) == 0 {
                bomb.extend(b"q\x00"); // protocol-0 style: the dict is memoised first
            }
            for i in 0..n {
                bomb.extend(key(i));
                bomb.extend(b"K\x01s");
            }
        }
        1 => {
            bomb.push(b']');
            for _ in 0..n {
                bomb.extend(b"Na");
            }
        }
        2 => {
            bomb.extend(b"}(");
            for i in 0..n {
                bomb.extend(key(i));
                bomb.push(b'N');
            }
            bomb.push(b'u');
        }
        3 => {
            bomb.extend(b"](");
            bomb.extend(std::iter::repeat_n(b'N', n));
            bomb.push(b'e');
        }
        4 => {
            bomb.extend(std::iter::repeat_n(b'(', n));
            bomb.extend(std::iter::repeat_n(b'1', n));
            bomb.push(b'N');
        }
        5 => {
            bomb.push(b'N');
            bomb.extend(std::iter::repeat_n(0x85u8, n));
        }
        6 => {
            bomb.extend(b"](");
            bomb.extend(std::iter::repeat_n(*b"K\x01", 1000).flatten());
            bomb.extend(b"eq\x00");
            for _ in 0..n {
                bomb.extend(b"h\x000");
            }
        }
        _ => {
            bomb.extend(b"}q\x00");
            for _ in 0..n.min(5000) {
                bomb.extend(b"}\x8c\x01ah\x00sq\x00");
            }
        }
    }
    bomb.push(b'0');
    let mut out = pkl[..2].to_vec();
    out.extend(bomb);
    out.extend(&pkl[2..]);
    out
}

/// The fixture checkpoint with its `data.pkl` replaced (entries otherwise copied unchanged).
pub fn repack(original: &[u8], pickle: &[u8]) -> Vec<u8> {
    let mut src = zip::ZipArchive::new(std::io::Cursor::new(original)).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zw = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for i in 0..src.len() {
            let mut e = src.by_index(i).unwrap();
            let name = e.name().to_string();
            zw.start_file(name.as_str(), opts).unwrap();
            if name.ends_with("data.pkl") {
                zw.write_all(pickle).unwrap();
            } else {
                let mut buf = Vec::new();
                e.read_to_end(&mut buf).unwrap();
                zw.write_all(&buf).unwrap();
            }
        }
        zw.finish().unwrap();
    }
    out.into_inner()
}
