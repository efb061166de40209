//! Weight matrices as operators: what ML-AMP needs of `W` (`n_out × n_in`) is `W x`, `Wᵀ u`
//! and either the products with `W∘W` (the entrywise square) or the mean of `W∘W`.
//!
//! The core's [`DenseWeights`] is a row-major matrix over a borrowed slice, with each pair of
//! products fused into one pass over the matrix (the iteration is memory bound: it reads `W`
//! exactly twice, once forward and once backward). The std side can plug in other operators
//! (structured or rotated ones) through the same trait.

use crate::error::{Error, length};
use crate::real::Real;

/// A linear operator `W: R^{cols} → R^{rows}` with the products ML-AMP needs.
///
/// Slices passed in must have the lengths stated; implementations may panic otherwise (the
/// algorithm checks every buffer once, up front).
pub trait WeightOperator<T: Real> {
    /// Number of rows `n_out`.
    fn rows(&self) -> usize;
    /// Number of columns `n_in`.
    fn cols(&self) -> usize;
    /// `out = W x` (`x`: cols, `out`: rows).
    fn apply(&self, x: &[T], out: &mut [T]);
    /// `out = Wᵀ u` (`u`: rows, `out`: cols).
    fn apply_t(&self, u: &[T], out: &mut [T]);
    /// `out = W x` and `out_sq = (W∘W) s` in one pass (`x`, `s`: cols; outputs: rows).
    fn apply_with_square(&self, x: &[T], s: &[T], out: &mut [T], out_sq: &mut [T]);
    /// `out = Wᵀ u` and `out_sq = (W∘W)ᵀ d` in one pass (`u`, `d`: rows; outputs: cols).
    fn apply_t_with_square(&self, u: &[T], d: &[T], out: &mut [T], out_sq: &mut [T]);
    /// The mean of the squared entries, `‖W‖_F² / (rows · cols)` (≈ 1/n_in for iid weights).
    fn mean_square(&self) -> T;
}

/// Number of independent accumulators in a row reduction: lets the compiler vectorise the
/// dot products while keeping a fixed, thread-count-independent summation order.
const LANES: usize = 8;

/// A dense row-major matrix borrowed from a slice of `rows · cols` entries.
#[derive(Clone, Copy, Debug)]
pub struct DenseWeights<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    mean_square: T,
}

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

    fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// `(Σ w x, Σ w² s)` over one row, with `LANES` partial sums each.
#[inline]
fn dot2<T: Real>(w: &[T], x: &[T], s: &[T]) -> (T, T) {
    let mut a = [T::ZERO; LANES];
    let mut b = [T::ZERO; LANES];
    let wc = w.chunks_exact(LANES);
    let xc = x.chunks_exact(LANES);
    let sc = s.chunks_exact(LANES);
    let (wr, xr, sr) = (wc.remainder(), xc.remainder(), sc.remainder());
    for ((wk, xk), sk) in wc.zip(xc).zip(sc) {
        for l in 0..LANES {
            a[l] += wk[l] * xk[l];
            b[l] += wk[l] * wk[l] * sk[l];
        }
    }
    let (mut sa, mut sb) = (T::ZERO, T::ZERO);
    for l in 0..LANES {
        sa += a[l];
        sb += b[l];
    }
    for ((&wi, &xi), &si) in wr.iter().zip(xr).zip(sr) {
        sa += wi * xi;
        sb += wi * wi * si;
    }
    (sa, sb)
}

/// `Σ w x` over one row, with `LANES` partial sums.
#[inline]
fn dot<T: Real>(w: &[T], x: &[T]) -> T {
    let mut a = [T::ZERO; LANES];
    let wc = w.chunks_exact(LANES);
    let xc = x.chunks_exact(LANES);
    let (wr, xr) = (wc.remainder(), xc.remainder());
    for (wk, xk) in wc.zip(xc) {
        for l in 0..LANES {
            a[l] += wk[l] * xk[l];
        }
    }
    let mut sa = T::ZERO;
    for v in a {
        sa += v;
    }
    for (&wi, &xi) in wr.iter().zip(xr) {
        sa += wi * xi;
    }
    sa
}

impl<T: Real> WeightOperator<T> for DenseWeights<'_, T> {
    fn rows(&self) -> usize {
        self.rows
    }

    fn cols(&self) -> usize {
        self.cols
    }

    fn apply(&self, x: &[T], out: &mut [T]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = dot(self.row(i), x);
        }
    }

    fn apply_t(&self, u: &[T], out: &mut [T]) {
        out.fill(T::ZERO);
        for (i, &ui) in u.iter().enumerate() {
            for (o, &w) in out.iter_mut().zip(self.row(i)) {
                *o += w * ui;
            }
        }
    }

    fn apply_with_square(&self, x: &[T], s: &[T], out: &mut [T], out_sq: &mut [T]) {
        for (i, (o, q)) in out.iter_mut().zip(out_sq.iter_mut()).enumerate() {
            (*o, *q) = dot2(self.row(i), x, s);
        }
    }

    fn apply_t_with_square(&self, u: &[T], d: &[T], out: &mut [T], out_sq: &mut [T]) {
        out.fill(T::ZERO);
        out_sq.fill(T::ZERO);
        for (i, (&ui, &di)) in u.iter().zip(d).enumerate() {
            for ((o, q), &w) in out.iter_mut().zip(out_sq.iter_mut()).zip(self.row(i)) {
                *o += w * ui;
                *q += w * w * di;
            }
        }
    }

    fn mean_square(&self) -> T {
        self.mean_square
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
