//! Tiling equally sized RGB8 images into one grid image.

/// Places `cells` (row-major, `cols` per row) of `size`×`size` RGB8 images into one image;
/// `None` cells stay black. Returns the pixels and the (width, height).
pub fn tile(cells: &[Option<&[u8]>], cols: usize, size: usize) -> (Vec<u8>, usize, usize) {
    let rows = cells.len().div_ceil(cols.max(1));
    let (w, h) = (cols * size, rows * size);
    let mut out = vec![0u8; w * h * 3];
    for (i, cell) in cells.iter().enumerate() {
        let Some(px) = cell else { continue };
        let (r, c) = (i / cols, i % cols);
        for y in 0..size {
            let dst = ((r * size + y) * w + c * size) * 3;
            out[dst..dst + size * 3].copy_from_slice(&px[y * size * 3..(y + 1) * size * 3]);
        }
    }
    (out, w, h)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cells_land_in_row_major_order() {
        let a = vec![10u8; 2 * 2 * 3];
        let b = vec![20u8; 2 * 2 * 3];
        let (px, w, h) = super::tile(&[Some(&a), None, Some(&b)], 2, 2);
        assert_eq!((w, h), (4, 4));
        assert_eq!(px[0], 10); // top-left cell
        assert_eq!(px[2 * 3], 0); // top-right: blank
        assert_eq!(px[(2 * 4) * 3], 20); // bottom-left cell
    }
}
