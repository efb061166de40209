//! How a host splits the dense products among threads: ranges of rows for the forward
//! products (`W x`, `(W∘W) s`), windows of columns for the transposed ones (`Wᵀ u`,
//! `(W∘W)ᵀ d`), their sizes fixed by the matrix's shape alone, never by the thread count.
//!
//! Each entry of a product is summed by exactly one piece, over a whole row (forward) or a
//! whole column (transposed), in the [documented order](super#summation-order): the pieces
//! have nothing to combine, and a product split into them has the bits of the serial one
//! ([`kernel::matvec_t_cols`](super::kernel::matvec_t_cols) runs a window). The sizes trade
//! the balance among threads (more pieces) against what each piece costs: its start on a
//! thread, and its first block of rows, read without the software prefetch.

use super::kernel::LANES;

/// The least bytes of `W` a piece reads: a matrix smaller than this is one piece (waking a
/// second thread would cost more than it saves).
pub const MIN_PIECE_BYTES: usize = 1 << 20;

/// Pieces of a large product: enough for 2, 4, 8 or 16 threads to share evenly.
pub const PIECES: usize = 16;

/// About the least bytes of each row a window of columns spans (shorter runs through the
/// rows slow the stream from memory): a product has at most `⌈row bytes / this⌉` windows,
/// so a window spans more than half of this.
pub const MIN_WINDOW_BYTES: usize = 4096;

/// Bytes of a `rows × cols` matrix of `T` (saturating).
fn matrix_bytes<T>(rows: usize, cols: usize) -> usize {
    rows.saturating_mul(cols).saturating_mul(size_of::<T>())
}

/// Rows per piece of a forward product of a `rows × cols` matrix of `T` (the last piece may
/// be shorter): `⌈rows / PIECES⌉`, but at least [`MIN_PIECE_BYTES`] of rows; at most all
/// `rows`, and at least 1.
pub fn forward_rows<T>(rows: usize, cols: usize) -> usize {
    let row_bytes = matrix_bytes::<T>(1, cols).max(1);
    rows.div_ceil(PIECES)
        .max(MIN_PIECE_BYTES.div_ceil(row_bytes))
        .min(rows)
        .max(1)
}

/// Columns per window of a transposed product of a `rows × cols` matrix of `T` (the last
/// window may be narrower): the columns split into at most [`PIECES`] windows, at most
/// `⌈row bytes / MIN_WINDOW_BYTES⌉` and at least [`MIN_PIECE_BYTES`] each, as even as
/// multiples of [`LANES`] allow; all `cols` (at least 1) when no split qualifies.
pub fn transposed_cols<T>(rows: usize, cols: usize) -> usize {
    let min_cols = (MIN_WINDOW_BYTES / size_of::<T>().max(1)).max(LANES);
    let by_bytes = matrix_bytes::<T>(rows, cols) / MIN_PIECE_BYTES;
    let pieces = cols.div_ceil(min_cols).min(by_bytes).clamp(1, PIECES);
    cols.div_ceil(pieces)
        .next_multiple_of(LANES)
        .min(cols)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces of `len` items by `step`.
    fn pieces(len: usize, step: usize) -> usize {
        len.div_ceil(step)
    }

    #[test]
    fn large_matrices_split_evenly_small_ones_not() {
        // n = 2000 in f64 (32 MB): 16 forward pieces of 125 rows (2 MB each), 4 windows of
        // 504 columns (4032 bytes a row).
        assert_eq!(forward_rows::<f64>(2000, 2000), 125);
        assert_eq!(transposed_cols::<f64>(2000, 2000), 504);
        // n = 8000: 16 pieces of 500 rows; 16 windows of 504 columns, the last of 440.
        assert_eq!(forward_rows::<f64>(8000, 8000), 500);
        assert_eq!(transposed_cols::<f64>(8000, 8000), 504);
        assert_eq!(8000 - 15 * 504, 440);
        // 100 × 100 (80 KB): one piece each way.
        assert_eq!(forward_rows::<f64>(100, 100), 100);
        assert_eq!(transposed_cols::<f64>(100, 100), 100);
        // 400 × 400 f64 (1.28 MB): rows of 3.2 KB, so pieces of 328 rows (1 MB); columns too
        // few for two windows of 4 KB.
        assert_eq!(forward_rows::<f64>(400, 400), 328);
        assert_eq!(transposed_cols::<f64>(400, 400), 400);
        // Wide and short: 10 × 100000 f64 (8 MB = 7.6 MiB): one row is 800 KB, two rows a
        // piece; the columns split into 7 windows by the bytes, ⌈100000 / 7⌉ = 14286 columns
        // rounded up to 14288.
        assert_eq!(forward_rows::<f64>(10, 100_000), 2);
        assert_eq!(transposed_cols::<f64>(10, 100_000), 14288);
    }

    #[test]
    fn pieces_cover_every_shape_within_bounds() {
        for rows in [0, 1, 7, 333, 2000, 5000] {
            for cols in [0, 1, 9, 513, 2000, 70_000] {
                let f = forward_rows::<f32>(rows, cols);
                let t = transposed_cols::<f64>(rows, cols);
                assert!(f >= 1 && t >= 1, "{rows} x {cols}");
                assert!(pieces(rows, f) <= PIECES, "{rows} x {cols}");
                assert!(pieces(cols, t) <= PIECES, "{rows} x {cols}");
                assert!(t <= cols.max(1), "{rows} x {cols}");
                if pieces(cols, t) > 1 {
                    assert!(
                        2 * t * 8 > MIN_WINDOW_BYTES && t.is_multiple_of(LANES),
                        "{rows} x {cols}"
                    );
                    assert!(t * rows * 8 >= MIN_PIECE_BYTES, "{rows} x {cols}");
                }
                if pieces(rows, f) > 1 {
                    assert!(f * cols * 4 >= MIN_PIECE_BYTES, "{rows} x {cols}");
                }
            }
        }
        // Sizes that overflow a byte count do not panic.
        assert!(forward_rows::<f64>(usize::MAX, usize::MAX) >= 1);
        assert!(transposed_cols::<f64>(usize::MAX, usize::MAX) >= 1);
    }
}
