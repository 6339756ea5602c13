//! A block's AV pass on eight lanes: weights times value rows, accumulated in eight
//! independent chains, then stored through [`Job::store`].

use super::super::Block;
use super::{Job, RowCtx};
use std::arch::x86_64::*;

/// How [`Av::add`] reads a key's eight value lanes at a channel's position.
#[derive(Clone, Copy)]
pub(super) enum Values {
    /// Eight consecutive values (a shifted block), zeroed outside the lanes of the mask.
    Shifted(Option<__m256>),
    /// One value for every lane (a dense block of one phase).
    Broadcast,
    /// Eight consecutive values permuted to the lanes (a dense block of two phases).
    Permuted(__m256i),
}

/// A block's AV accumulators for one pass over its scores: eight independent FMA chains, so
/// the FMA latency is hidden (with four, dense blocks waited on it: 128², head dim 4, dense
/// group, one thread, best of 80 in three alternations: 1.56–1.63 → 1.26–1.29 ms; shifted
/// blocks and head dim 8 gained 0–3 %). `WIDE`: channels `ch..ch + 8`, one chain each; else
/// channels `ch..ch + 4`, two chains each (even and odd key offsets), summed before the store.
pub(super) struct Av<const WIDE: bool> {
    ch: usize,
    hd: usize,
    chans: [[usize; 4]; 2],
    acc: [[__m256; 4]; 2],
}

impl<const WIDE: bool> Av<WIDE> {
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) fn new(ch: usize, hd: usize, stride: usize) -> Self {
        Self {
            ch,
            hd,
            chans: [
                Job::four_channels(ch, hd, stride),
                Job::four_channels(ch + 4, hd, stride),
            ],
            acc: [[_mm256_setzero_ps(); 4]; 2],
        }
    }

    /// Adds weight `w` (of key `o`) times the values read at `at` plus each channel's offset.
    ///
    /// # Safety
    /// AVX2 + FMA; the values `how` reads there lie within the copy.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) unsafe fn add(&mut self, o: usize, w: __m256, at: *const f32, how: Values) {
        let sets = if WIDE { 0..2 } else { o % 2..o % 2 + 1 };
        for s in sets {
            let chans = self.chans[if WIDE { s } else { 0 }];
            for (acc, c) in self.acc[s].iter_mut().zip(chans) {
                // SAFETY: the caller's contract.
                let v = unsafe {
                    let p = at.add(c);
                    match how {
                        Values::Shifted(None) => _mm256_loadu_ps(p),
                        Values::Shifted(Some(mask)) => _mm256_and_ps(_mm256_loadu_ps(p), mask),
                        Values::Broadcast => _mm256_broadcast_ss(&*p),
                        Values::Permuted(perm) => {
                            _mm256_permutevar8x32_ps(_mm256_loadu_ps(p), perm)
                        }
                    }
                };
                *acc = _mm256_fmadd_ps(w, v, *acc);
            }
        }
    }

    /// Stores the pass's channels (· `inv`) and returns the next pass's first channel.
    ///
    /// # Safety
    /// As [`Job::store`].
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn store<const K: usize>(
        mut self,
        job: &Job,
        ctx: &RowCtx<K>,
        block: &Block,
        inv: __m256,
    ) -> usize {
        let (ch, hd) = (self.ch, self.hd);
        if !WIDE {
            for j in 0..4 {
                self.acc[0][j] = _mm256_add_ps(self.acc[0][j], self.acc[1][j]);
            }
        }
        // SAFETY: the caller's contract.
        unsafe {
            job.store(ctx, block, ch, (hd - ch).min(4), &self.acc[0], inv);
            if WIDE && ch + 4 < hd {
                job.store(ctx, block, ch + 4, (hd - ch - 4).min(4), &self.acc[1], inv);
            }
        }
        (ch + if WIDE { 8 } else { 4 }).min(hd)
    }
}
