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

/// Nearest-neighbour enlargement by an integer `factor` (small models' images are a few dozen
/// pixels wide; smoothing would blur what the model drew).
pub fn zoom(rgb: &[u8], w: usize, h: usize, factor: usize) -> (Vec<u8>, usize, usize) {
    let f = factor.max(1);
    let (zw, zh) = (w * f, h * f);
    let mut out = Vec::with_capacity(zw * zh * 3);
    for y in 0..zh {
        for x in 0..zw {
            out.extend_from_slice(&rgb[((y / f) * w + x / f) * 3..][..3]);
        }
    }
    (out, zw, zh)
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
        let (big, zw, zh) = super::zoom(&px, w, h, 3);
        assert_eq!((zw, zh), (12, 12));
        assert_eq!(big[(11 * 12) * 3], 20); // bottom-left pixel stays bottom-left
        assert_eq!(big[(2 * 12 + 2) * 3], 10);
    }
}
