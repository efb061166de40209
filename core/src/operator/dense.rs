//! [`DenseWeights`]: the core's dense weight operator, a row-major matrix over a borrowed
//! slice whose products run the [`kernel`] loops.

use super::{WeightOperator, kernel};
use crate::error::{Error, length};
use crate::real::Real;

/// A dense row-major matrix borrowed from a slice of `rows · cols` entries.
///
/// Its products run the [`kernel`] loops without prefetching, with register blocks a
/// 16-register SSE2 host and a Cortex-M4F handle without spilling, which suits matrices that
/// fit a cache; the results follow the [summation order](super#summation-order). For matrices
/// far larger than the caches the std side's operator (`mlamp_std::dense::FastDense`: wider
/// vectors and a prefetch) gives the same bits faster.
#[derive(Clone, Copy, Debug)]
pub struct DenseWeights<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    mean_square: T,
}

/// Rows per register block of [`DenseWeights::apply`] (it never changes the result).
const BLOCK_FWD: usize = 2;
/// Rows per register block of [`DenseWeights::apply_with_square`].
const BLOCK_FWD_SQ: usize = 1;
/// Rows per register block of [`DenseWeights::apply_t`].
const BLOCK_T: usize = 4;
/// Rows per register block of [`DenseWeights::apply_t_with_square`].
const BLOCK_T_SQ: usize = 2;

impl<'a, T: Real> DenseWeights<'a, T> {
    /// Wraps `data` (row-major, `rows · cols` finite entries).
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Result<Self, Error> {
        if rows == 0 || cols == 0 {
            return Err(Error::InvalidParameter {
                name: "weights",
                requirement: "non-empty",
            });
        }
        length("weights", data, rows * cols)?;
        let mut ss = T::ZERO;
        for &w in data {
            if !w.is_finite() {
                return Err(Error::NonFinite { what: "weights" });
            }
            ss += w * w;
        }
        Ok(Self {
            data,
            rows,
            cols,
            mean_square: ss / T::from_usize(rows * cols),
        })
    }

    /// The entries, row-major.
    pub fn data(&self) -> &'a [T] {
        self.data
    }

    /// The entries of rows `first..first + n`. Panics if they run past the matrix.
    pub fn row_range(&self, first: usize, n: usize) -> &'a [T] {
        &self.data[first * self.cols..(first + n) * self.cols]
    }

    /// Rows `first..first + out.len()` of `W x` into `out` (`x`: cols): a piece of
    /// [`apply`](WeightOperator::apply) with its bits, each row being a sum of its own (see
    /// [`split`](super::split)). Panics if a length is wrong or the rows run past the matrix.
    pub fn apply_rows(&self, first: usize, x: &[T], out: &mut [T]) {
        use kernel::*;
        let (w, n, c) = (self.row_range(first, out.len()), out.len(), self.cols);
        matvec::<T, BLOCK_FWD, _>(w, n, c, x, out, &mut NoPrefetch);
    }

    /// Rows `first..first + out.len()` of `W x` and `(W∘W) s` into `out`, `out_sq` (as long
    /// as `out`): a piece of [`apply_with_square`](WeightOperator::apply_with_square), with
    /// its bits. Panics as [`apply_rows`](Self::apply_rows).
    pub fn apply_with_square_rows(
        &self,
        first: usize,
        x: &[T],
        s: &[T],
        out: &mut [T],
        out_sq: &mut [T],
    ) {
        use kernel::*;
        let (w, n, c) = (self.row_range(first, out.len()), out.len(), self.cols);
        matvec_sq::<T, BLOCK_FWD_SQ, _>(w, n, c, x, s, out, out_sq, &mut NoPrefetch);
    }

    /// Columns `first..first + out.len()` of `Wᵀ u` into `out` (`u`: rows): a piece of
    /// [`apply_t`](WeightOperator::apply_t) with its bits, each column being summed over all
    /// rows in the documented order ([`kernel::matvec_t_cols`]). Panics if a length is wrong
    /// or the columns run past the matrix.
    pub fn apply_t_cols(&self, first: usize, u: &[T], out: &mut [T]) {
        use kernel::*;
        let (w, r, c) = (self.data, self.rows, self.cols);
        matvec_t_cols::<T, BLOCK_T, _>(w, r, c, first, u, out, &mut NoPrefetch);
    }

    /// Columns `first..first + out.len()` of `Wᵀ u` and `(W∘W)ᵀ d` into `out`, `out_sq` (as
    /// long as `out`): a piece of [`apply_t_with_square`](WeightOperator::apply_t_with_square),
    /// with its bits. Panics as [`apply_t_cols`](Self::apply_t_cols).
    pub fn apply_t_with_square_cols(
        &self,
        first: usize,
        u: &[T],
        d: &[T],
        out: &mut [T],
        out_sq: &mut [T],
    ) {
        use kernel::*;
        let (w, r, c) = (self.data, self.rows, self.cols);
        matvec_t_sq_cols::<T, BLOCK_T_SQ, _>(w, r, c, first, (u, d), out, out_sq, &mut NoPrefetch);
    }
}

impl<T: Real> WeightOperator<T> for DenseWeights<'_, T> {
    fn rows(&self) -> usize {
        self.rows
    }

    fn cols(&self) -> usize {
        self.cols
    }

    fn apply(&self, x: &[T], out: &mut [T]) {
        assert!(out.len() == self.rows);
        self.apply_rows(0, x, out);
    }

    fn apply_t(&self, u: &[T], out: &mut [T]) {
        assert!(out.len() == self.cols);
        self.apply_t_cols(0, u, out);
    }

    fn apply_with_square(&self, x: &[T], s: &[T], out: &mut [T], out_sq: &mut [T]) {
        assert!(out.len() == self.rows);
        self.apply_with_square_rows(0, x, s, out, out_sq);
    }

    fn apply_t_with_square(&self, u: &[T], d: &[T], out: &mut [T], out_sq: &mut [T]) {
        assert!(out.len() == self.cols);
        self.apply_t_with_square_cols(0, u, d, out, out_sq);
    }

    fn mean_square(&self) -> T {
        self.mean_square
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::kernel::tests::{fill, forward_ref, same, transposed_ref};

    #[test]
    fn products_match_the_definition() {
        let (r, c) = (5, 11);
        let data: [f64; 55] = core::array::from_fn(|k| ((k * 7 % 13) as f64 - 6.0) / 5.0);
        let w = DenseWeights::new(&data, r, c).unwrap();
        let x: [f64; 11] = core::array::from_fn(|k| k as f64 - 3.5);
        let s: [f64; 11] = core::array::from_fn(|k| 0.1 * k as f64 + 0.2);
        let u: [f64; 5] = core::array::from_fn(|k| 1.0 - k as f64);
        let (mut o, mut q) = ([0.0; 5], [0.0; 5]);
        w.apply_with_square(&x, &s, &mut o, &mut q);
        let mut o2 = [0.0; 5];
        w.apply(&x, &mut o2);
        for i in 0..r {
            let want: f64 = (0..c).map(|j| data[i * c + j] * x[j]).sum();
            let want_sq: f64 = (0..c).map(|j| data[i * c + j].powi(2) * s[j]).sum();
            assert!((o[i] - want).abs() < 1e-12 && (o2[i] - want).abs() < 1e-12);
            assert!((q[i] - want_sq).abs() < 1e-12);
        }
        let (mut ot, mut qt, mut ot2) = ([0.0; 11], [0.0; 11], [0.0; 11]);
        w.apply_t_with_square(&u, &s[..5], &mut ot, &mut qt);
        w.apply_t(&u, &mut ot2);
        for j in 0..c {
            let want: f64 = (0..r).map(|i| data[i * c + j] * u[i]).sum();
            let want_sq: f64 = (0..r).map(|i| data[i * c + j].powi(2) * s[i]).sum();
            assert!((ot[j] - want).abs() < 1e-12 && (ot2[j] - want).abs() < 1e-12);
            assert!((qt[j] - want_sq).abs() < 1e-12);
        }
        let ms: f64 = data.iter().map(|w| w * w).sum::<f64>() / 55.0;
        assert!((w.mean_square() - ms).abs() < 1e-15);
    }

    #[test]
    fn rejects_bad_data() {
        assert!(DenseWeights::new(&[1.0f64, 2.0, 3.0], 2, 2).is_err());
        assert!(DenseWeights::new(&[1.0f64, f64::NAN], 1, 2).is_err());
    }

    #[test]
    fn dense_weights_give_the_documented_bits() {
        fn check<T: Real>(rows: usize, cols: usize) {
            let mut buf = [T::ZERO; 37 * 29];
            fill(&mut buf[..rows * cols], 7);
            let w = &buf[..rows * cols];
            let op = DenseWeights::new(w, rows, cols).unwrap();
            let (mut x, mut s) = ([T::ZERO; 37], [T::ZERO; 37]);
            fill(&mut x, 8);
            fill(&mut s, 9);
            let (mut o, mut q, mut o2) = ([T::ZERO; 37], [T::ZERO; 37], [T::ZERO; 37]);
            op.apply_with_square(&x[..cols], &s[..cols], &mut o[..rows], &mut q[..rows]);
            op.apply(&x[..cols], &mut o2[..rows]);
            for i in 0..rows {
                let a = forward_ref(w, cols, i, &x, false);
                assert!(same(o[i], a) && same(o2[i], a));
                assert!(same(q[i], forward_ref(w, cols, i, &s, true)));
            }
            op.apply_t_with_square(&x[..rows], &s[..rows], &mut o[..cols], &mut q[..cols]);
            op.apply_t(&x[..rows], &mut o2[..cols]);
            for j in 0..cols {
                let a = transposed_ref(w, rows, cols, j, &x, false);
                assert!(same(o[j], a) && same(o2[j], a));
                assert!(same(q[j], transposed_ref(w, rows, cols, j, &s, true)));
            }
        }
        for (r, c) in [
            (1, 1),
            (3, 29),
            (29, 3),
            (37, 29),
            (29, 37),
            (9, 17),
            (6, 8),
        ] {
            check::<f64>(r, c);
            check::<f32>(r, c);
        }
    }
}
