//! The channel-major, phase-reordered copy of one head group's q, k and v that the lane
//! kernel reads (see the parent module).

use super::super::super::NaProblem;
use super::super::super::window::phase_order;
use super::super::vmath::first_lanes16;
use rayon::prelude::*;
use std::arch::x86_64::*;

/// Floats before and after each reordered row, so offset loads never leave the buffer
/// (`o ≥ −(k−1) ≥ −FRONT`, and a block's last lane plus `k − 1` stays within `BACK`).
const FRONT: usize = 16;
const BACK: usize = 32;
const _: () = assert!(
    FRONT == 16 && BACK == 32,
    "fill zeroes the paddings with 16-float stores"
);

/// Where the channel-major copy of one head group keeps each value:
/// `[batch, height, 3 (q, k, v), head, channel, FRONT + width + BACK]`.
pub struct Layout {
    pub heads: usize,
    /// First head of the group.
    pub h0: usize,
    pub head_dim: usize,
    /// Channels of one of q, k, v over all heads.
    pub channels: usize,
    pub stride: usize,
    /// Column of every reordered position.
    pub col: Vec<usize>,
    /// Floats per image row.
    per_row: usize,
    len: usize,
}

impl Layout {
    pub fn new(p: &NaProblem, g: usize, h0: usize) -> Self {
        let col: Vec<usize> = phase_order(p.width, p.groups[g].dilation).collect();
        let stride = FRONT + p.width + BACK;
        let heads = p.groups[g].heads;
        let per_row = 3 * heads * p.head_dim * stride;
        Self {
            heads,
            h0,
            head_dim: p.head_dim,
            channels: p.heads() * p.head_dim,
            stride,
            col,
            per_row,
            len: p.batch * p.height * per_row,
        }
    }

    /// Index of position 0, channel 0 of (image row `b·height + y`, `which` ∈ q/k/v, head `h`).
    pub fn at(&self, image_row: usize, which: usize, h: usize) -> usize {
        image_row * self.per_row + (which * self.heads + h) * self.head_dim * self.stride + FRONT
    }

    /// Floats of one image row in this layout.
    pub fn per_row(&self) -> usize {
        self.per_row
    }

    /// Floats of the whole layout (every image row).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Copies the group's q, k and v out of `qkv` (`[b, y, x, 3, heads, hd]`) into `scratch`,
    /// image rows in parallel ([`Self::fill_row_with`]).
    ///
    /// # Safety
    /// As [`Self::fill_row_with`].
    pub unsafe fn fill(&self, qkv: &[f32], scratch: &mut Vec<f32>, avx512: bool) {
        if scratch.len() < self.len {
            scratch.resize(self.len, 0.0);
        }
        let src_row = self.col.len() * 3 * self.channels;
        assert!(qkv.len() >= self.len / self.per_row * src_row);
        scratch[..self.len]
            .par_chunks_mut(self.per_row)
            .zip(qkv.par_chunks(src_row))
            // SAFETY: AVX-512F with `avx512`, AVX2 without (the caller).
            .for_each(|(dst, src)| unsafe { self.fill_row_with(src, dst, avx512) });
    }

    /// One image row's copy, through [`Self::fill_row`] with `avx512`, else
    /// [`Self::fill_row8`] (the lane kernels run on no other path).
    ///
    /// # Safety
    /// The CPU must support AVX-512F with `avx512`, AVX2 without.
    #[inline]
    pub unsafe fn fill_row_with(&self, src: &[f32], dst: &mut [f32], avx512: bool) {
        // SAFETY: the caller's contract.
        unsafe {
            match avx512 {
                true => self.fill_row(src, dst),
                false => self.fill_row8(src, dst),
            }
        }
    }

    /// Copies one image row's q, k and v (`src`: `[x, 3, heads, hd]`) into its part of the
    /// layout (`dst`, [`Self::per_row`] floats): sixteen positions × up to sixteen channels at
    /// a time through a register transpose, the last positions of a row (fewer than sixteen)
    /// one by one. A group's heads lie side by side in both layouts, so its channels are
    /// transposed as one run of `heads·hd`, whatever `hd`.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn fill_row(&self, src: &[f32], dst: &mut [f32]) {
        let (c, width) = (self.channels, self.col.len());
        let run = self.heads * self.head_dim;
        assert!(src.len() >= width * 3 * c && dst.len() >= self.per_row);
        let tiled_pos = width / 16 * 16;
        // The paddings are read by masked-off lanes only, but must hold finite values (a stale
        // NaN there would not reach the output, a zero is simply tidier). Vector stores, not
        // `fill`: a call to memset per 16-float padding cost more than the stores.
        for chunk in dst[..self.per_row].chunks_exact_mut(self.stride) {
            let (front, rest) = chunk.split_at_mut(FRONT);
            let back = &mut rest[width..];
            // SAFETY: AVX-512F (the caller); FRONT = 16 and BACK = 32 floats.
            unsafe {
                let zero = _mm512_setzero_ps();
                _mm512_storeu_ps(front.as_mut_ptr(), zero);
                _mm512_storeu_ps(back.as_mut_ptr(), zero);
                _mm512_storeu_ps(back.as_mut_ptr().add(16), zero);
            }
        }
        let pixel = |pos: usize| self.col[pos] * 3 * c;
        for which in 0..3 {
            let src0 = which * c + self.h0 * self.head_dim;
            let dst0 = which * run * self.stride + FRONT;
            for pos0 in (0..tiled_pos).step_by(16) {
                let rows: [usize; 16] = std::array::from_fn(|i| pixel(pos0 + i) + src0);
                for ch0 in (0..run).step_by(16) {
                    // SAFETY: AVX-512F (the caller); every source row `rows[i] + ch0 ..` up to
                    // the run's end lies in the pixel's channels (the assert above), every
                    // destination row in this image row's part of the layout.
                    unsafe {
                        transpose16(
                            src.as_ptr(),
                            &rows,
                            ch0,
                            (run - ch0).min(16),
                            dst[dst0 + ch0 * self.stride + pos0..].as_mut_ptr(),
                            self.stride,
                        )
                    };
                }
            }
            for pos in tiled_pos..width {
                let r = pixel(pos) + src0;
                for ch in 0..run {
                    dst[dst0 + ch * self.stride + pos] = src[r + ch];
                }
            }
        }
    }
}

impl Layout {
    /// [`Self::fill_row`] on AVX2 (for the eight-lane kernel): eight positions × up to eight
    /// channels at a time through a register transpose, the last positions of a row (fewer
    /// than eight) one by one. The paddings are zeroed (masked-off lanes read them; their
    /// weights are zero, and so are they).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn fill_row8(&self, src: &[f32], dst: &mut [f32]) {
        let (c, width) = (self.channels, self.col.len());
        let run = self.heads * self.head_dim;
        assert!(src.len() >= width * 3 * c && dst.len() >= self.per_row);
        for chunk in dst[..self.per_row].chunks_exact_mut(self.stride) {
            let (front, rest) = chunk.split_at_mut(FRONT);
            let back = &mut rest[width..];
            // SAFETY: AVX2 (the caller); FRONT = 16 and BACK = 32 floats.
            unsafe {
                let zero = _mm256_setzero_ps();
                for i in (0..FRONT).step_by(8) {
                    _mm256_storeu_ps(front.as_mut_ptr().add(i), zero);
                }
                for i in (0..BACK).step_by(8) {
                    _mm256_storeu_ps(back.as_mut_ptr().add(i), zero);
                }
            }
        }
        let tiled_pos = width / 8 * 8;
        let pixel = |pos: usize| self.col[pos] * 3 * c;
        for which in 0..3 {
            let src0 = which * c + self.h0 * self.head_dim;
            let dst0 = which * run * self.stride + FRONT;
            for pos0 in (0..tiled_pos).step_by(8) {
                let rows: [usize; 8] = std::array::from_fn(|i| pixel(pos0 + i) + src0);
                for ch0 in (0..run).step_by(8) {
                    let n = (run - ch0).min(8);
                    // SAFETY: AVX2 (the caller); every source row `rows[i] + ch0 ..` up to the
                    // run's end lies in the pixel's channels (the assert above), every
                    // destination row in this image row's part of the layout.
                    unsafe {
                        let to = dst[dst0 + ch0 * self.stride + pos0..].as_mut_ptr();
                        transpose8(src.as_ptr(), &rows, ch0, n, to, self.stride)
                    };
                }
            }
            for pos in tiled_pos..width {
                let r = pixel(pos) + src0;
                for ch in 0..run {
                    dst[dst0 + ch * self.stride + pos] = src[r + ch];
                }
            }
        }
    }
}

/// `dst[j·stride + i] = src[rows[i] + ch0 + j]` for `i < 8, j < n ≤ 8` on AVX2: eight rows of
/// `n` floats transposed in registers (unpack, in-lane shuffle, one 128-bit block shuffle).
///
/// # Safety
/// AVX2; `src[rows[i] + ch0 ..][..n]` and `dst[j·stride ..][..8]` for `j < n` valid.
#[target_feature(enable = "avx2")]
unsafe fn transpose8(
    src: *const f32,
    rows: &[usize; 8],
    ch0: usize,
    n: usize,
    dst: *mut f32,
    stride: usize,
) {
    debug_assert!(n <= 8);
    let mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(n as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    // SAFETY: the caller's contract (masked-off floats are not read).
    let r: [__m256; 8] =
        std::array::from_fn(|i| unsafe { _mm256_maskload_ps(src.add(rows[i] + ch0), mask) });
    // Pairs of rows interleaved per 128-bit half, then four rows' column per half, then the
    // halves joined: out[j] lane i = r[i] lane j.
    let t: [__m256; 8] = std::array::from_fn(|k| match k % 2 {
        0 => _mm256_unpacklo_ps(r[k], r[k + 1]),
        _ => _mm256_unpackhi_ps(r[k - 1], r[k]),
    });
    let mut q = [_mm256_setzero_ps(); 8];
    for h in 0..2 {
        let (a, b, c, d) = (t[4 * h], t[4 * h + 1], t[4 * h + 2], t[4 * h + 3]);
        q[4 * h] = _mm256_shuffle_ps::<0x44>(a, c);
        q[4 * h + 1] = _mm256_shuffle_ps::<0xEE>(a, c);
        q[4 * h + 2] = _mm256_shuffle_ps::<0x44>(b, d);
        q[4 * h + 3] = _mm256_shuffle_ps::<0xEE>(b, d);
    }
    for j in 0..n {
        let v = match j < 4 {
            true => _mm256_permute2f128_ps::<0x20>(q[j], q[4 + j]),
            false => _mm256_permute2f128_ps::<0x31>(q[j - 4], q[j]),
        };
        // SAFETY: the caller's contract.
        unsafe { _mm256_storeu_ps(dst.add(j * stride), v) };
    }
}

/// `dst[j·stride + i] = src[rows[i] + ch0 + j]` for `i < 16, j < n ≤ 16`: sixteen rows of
/// `n` floats transposed in registers (unpack, in-lane shuffle, two 128-bit block shuffles).
///
/// # Safety
/// AVX-512F; `src[rows[i] + ch0 ..][..n]` and `dst[j·stride ..][..16]` for `j < n` valid.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn transpose16(
    src: *const f32,
    rows: &[usize; 16],
    ch0: usize,
    n: usize,
    dst: *mut f32,
    stride: usize,
) {
    debug_assert!(n <= 16);
    let mask = first_lanes16(n);
    let mut r = [_mm512_setzero_ps(); 16];
    for (v, &row) in r.iter_mut().zip(rows) {
        // SAFETY: the caller's contract (masked-off floats are not touched).
        *v = unsafe { _mm512_maskz_loadu_ps(mask, src.add(row + ch0)) };
    }
    let r = transpose(r);
    for (j, v) in r.iter().enumerate().take(n) {
        // SAFETY: the caller's contract.
        unsafe { _mm512_storeu_ps(dst.add(j * stride), *v) };
    }
}

/// The 16 × 16 transpose of sixteen vectors: `out[j]` lane `i` = `r[i]` lane `j` (unpack,
/// in-lane shuffle, two 128-bit block shuffles).
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn transpose(mut r: [__m512; 16]) -> [__m512; 16] {
    // Pairs of rows interleaved: t[2k] = (r[2k][0], r[2k+1][0], r[2k][1], r[2k+1][1], …) per
    // 128-bit block.
    let mut t = [_mm512_setzero_ps(); 16];
    for k in 0..8 {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    // Four rows per 128-bit block: one column of rows 4q..4q+4 in each block.
    for q in 0..4 {
        let (a, b, c, d) = (t[4 * q], t[4 * q + 1], t[4 * q + 2], t[4 * q + 3]);
        r[4 * q] = _mm512_shuffle_ps::<0x44>(a, c);
        r[4 * q + 1] = _mm512_shuffle_ps::<0xEE>(a, c);
        r[4 * q + 2] = _mm512_shuffle_ps::<0x44>(b, d);
        r[4 * q + 3] = _mm512_shuffle_ps::<0xEE>(b, d);
    }
    // 128-bit blocks: gather the four row groups' blocks of the same column set.
    for q in 0..2 {
        for j in 0..4 {
            let (a, b) = (r[8 * q + j], r[8 * q + 4 + j]);
            t[8 * q + j] = _mm512_shuffle_f32x4::<0x88>(a, b);
            t[8 * q + 4 + j] = _mm512_shuffle_f32x4::<0xDD>(a, b);
        }
    }
    for j in 0..8 {
        let (a, b) = (t[j], t[8 + j]);
        r[j] = _mm512_shuffle_f32x4::<0x88>(a, b);
        r[8 + j] = _mm512_shuffle_f32x4::<0xDD>(a, b);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_lane_transpose_is_a_transpose() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            println!("no AVX2 on this CPU: the eight-lane kernel is not used here");
            return;
        }
        let src: Vec<f32> = (0..40 * 12).map(|i| i as f32).collect();
        // Rows out of order and apart, as dilated phases read them.
        let rows: [usize; 8] = std::array::from_fn(|i| ((i * 3) % 8) * 40 + 5);
        let stride = 11;
        for n in [8, 5, 4, 1] {
            let mut dst = vec![-1f32; 9 * stride];
            // SAFETY: AVX2 checked; every row + 5 + 8 ≤ 40·8; dst holds 9 rows of 11.
            unsafe { transpose8(src.as_ptr(), &rows, 5, n, dst.as_mut_ptr(), stride) };
            for j in 0..n {
                for i in 0..8 {
                    assert_eq!(dst[j * stride + i], src[rows[i] + 5 + j], "{n}: {j}, {i}");
                }
                assert_eq!(dst[j * stride + 8], -1.0, "wrote past the tile");
            }
            assert!(
                dst[n * stride..].iter().all(|&v| v == -1.0),
                "{n}: rows past the run"
            );
        }
    }

    #[test]
    fn register_transpose_is_a_transpose() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            println!("no AVX-512F on this CPU: the lane kernel is not used here");
            return;
        }
        let src: Vec<f32> = (0..40 * 20).map(|i| i as f32).collect();
        // Rows out of order and apart, as dilated phases read them.
        let rows: [usize; 16] = std::array::from_fn(|i| ((i * 7) % 16) * 40 + 3);
        let stride = 21;
        // Full tiles, and the short channel runs of head dims 4 and 8 (and an odd one).
        for n in [16, 8, 4, 3] {
            let mut dst = vec![-1f32; 17 * stride];
            // SAFETY: AVX-512F checked; every row + 2 + 16 ≤ 40·16; dst holds 17 rows of 21.
            unsafe { transpose16(src.as_ptr(), &rows, 2, n, dst.as_mut_ptr(), stride) };
            for j in 0..n {
                for i in 0..16 {
                    assert_eq!(
                        dst[j * stride + i],
                        src[rows[i] + 2 + j],
                        "{n} channels: row {j} lane {i}"
                    );
                }
                assert_eq!(dst[j * stride + 16], -1.0, "wrote past the tile");
            }
            assert!(
                dst[n * stride..].iter().all(|&v| v == -1.0),
                "{n} channels: wrote rows past the run"
            );
        }
    }
}
