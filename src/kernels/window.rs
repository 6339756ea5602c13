//! The NATTEN (≤ 0.17, non-causal) neighbourhood rule along one axis — shared by every
//! implementation so they cannot disagree on it.
//!
//! For an axis of length `L`, kernel `k`, dilation `d`, `nh = k / 2`: query `i` belongs to
//! dilation group `r = i mod d` at position `gi = i div d`; the group has `Lg = ceil((L − r)/d)`
//! members; the window starts at `sg = clamp(gi − nh, 0, Lg − k)` (it shifts inwards at the
//! borders instead of being zero-padded); key `t` is `(sg + t)·d + r` and reads bias entry
//! `(sg + t) − gi + k − 1` of the `(2k − 1)` table.

/// The window of one query along one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisWindow {
    /// Index of key `t = 0`; key `t` is `first + t·step`.
    pub first: usize,
    pub step: usize,
    /// Bias-table index of key `t = 0`; key `t` reads `bias0 + t`.
    pub bias0: usize,
}

impl AxisWindow {
    /// Window of query `i` on an axis of length `len`. Requires `kernel·dilation ≤ len`.
    pub fn new(i: usize, len: usize, kernel: usize, dilation: usize) -> Self {
        debug_assert!(kernel * dilation <= len && i < len);
        let r = i % dilation;
        let gi = i / dilation;
        let group_len = (len - r).div_ceil(dilation);
        let sg = gi.saturating_sub(kernel / 2).min(group_len - kernel);
        Self {
            first: sg * dilation + r,
            step: dilation,
            bias0: sg + kernel - 1 - gi,
        }
    }

    /// Key index of tap `t`.
    pub fn key(&self, t: usize) -> usize {
        self.first + t * self.step
    }

    /// All windows of an axis.
    pub fn all(len: usize, kernel: usize, dilation: usize) -> Vec<Self> {
        (0..len)
            .map(|i| Self::new(i, len, kernel, dilation))
            .collect()
    }
}

/// An axis's indices `0..len` in dilation-phase order (`0, d, 2d, …, 1, 1 + d, …`): each
/// dilation group's members together, so neighbouring queries share all but one key.
pub fn phase_order(len: usize, dilation: usize) -> impl Iterator<Item = usize> {
    (0..dilation.min(len)).flat_map(move |phase| (phase..len).step_by(dilation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_order_lists_each_index_once_group_by_group() {
        assert_eq!(phase_order(7, 3).collect::<Vec<_>>(), [0, 3, 6, 1, 4, 2, 5]);
        assert_eq!(phase_order(5, 1).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        // More phases than indices: each index is its own group.
        assert_eq!(phase_order(2, 5).collect::<Vec<_>>(), [0, 1]);
    }

    #[test]
    fn centred_in_the_interior_and_shifted_at_borders() {
        // L = 16, k = 7, d = 1: query 8 sees 5..=11, query 0 sees 0..=6, query 15 sees 9..=15.
        assert_eq!(AxisWindow::new(8, 16, 7, 1).first, 5);
        assert_eq!(AxisWindow::new(0, 16, 7, 1).first, 0);
        assert_eq!(AxisWindow::new(15, 16, 7, 1).first, 9);
        // Centre tap of an interior query reads the table centre.
        assert_eq!(AxisWindow::new(8, 16, 7, 1).bias0 + 3, 6);
    }

    #[test]
    fn dilation_stays_in_the_query_group() {
        // L = 16, k = 3, d = 4: query 5 (group 1, gi 1) sees 1, 5, 9.
        let w = AxisWindow::new(5, 16, 3, 4);
        assert_eq!((0..3).map(|t| w.key(t)).collect::<Vec<_>>(), vec![1, 5, 9]);
        // L not divisible by d: L = 10, k = 3, d = 3; query 9 (r 0, gi 3, Lg 4) sees 3, 6, 9.
        let w = AxisWindow::new(9, 10, 3, 3);
        assert_eq!((0..3).map(|t| w.key(t)).collect::<Vec<_>>(), vec![3, 6, 9]);
    }
}
