//! The singular values of a weight matrix without its singular vectors: what the matrix-free
//! linear step of ML-Mat-VAMP needs for its Jacobians ([`crate::algo::matrix_free`]).
//!
//! faer's SVD with neither `U` nor `V` requested: a bidiagonalisation of a copy of `W` and the
//! bidiagonal's values, single-threaded (`Par::Seq`, as [`crate::linalg::svd`]: the same bits
//! on any thread count). It costs about a third of the decomposition with vectors and needs a
//! copy of `W` as workspace, freed on return, instead of the four `n × r` factors kept.

use faer::MatRef;
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::svd::{ComputeSvdVectors, svd, svd_scratch};

use crate::error::Error;
use crate::linalg::svd::PAR;

/// The `min(rows, cols)` singular values of `w` (row-major `rows × cols`, finite), in
/// non-increasing order: those of [`crate::linalg::svd::Svd::decompose`] up to rounding.
///
/// Errors: [`mlamp_core::Error::ShapeMismatch`] unless `w.len() = rows·cols`,
/// [`mlamp_core::Error::NonFinite`] for a NaN or an infinity (both wrapped in
/// [`Error::Core`]); [`Error::Invalid`] if the iteration does not converge or the workspace
/// cannot be allocated.
pub fn singular_values(w: &[f64], rows: usize, cols: usize) -> Result<Vec<f64>, Error> {
    let len = rows
        .checked_mul(cols)
        .ok_or_else(|| Error::invalid("weight matrix", "rows · cols overflows"))?;
    mlamp_core::error::length("weight matrix", w, len)?;
    if !w.iter().all(|x| x.is_finite()) {
        return Err(mlamp_core::Error::NonFinite {
            what: "weight matrix",
        }
        .into());
    }
    let r = rows.min(cols);
    if r == 0 {
        return Ok(Vec::new());
    }
    let a = MatRef::from_row_major_slice(w, rows, cols);
    let mut s = Diag::<f64>::zeros(r);
    let none = ComputeSvdVectors::No;
    let mut mem = MemBuffer::try_new(svd_scratch::<f64>(
        rows,
        cols,
        none,
        none,
        PAR,
        Default::default(),
    ))
    .map_err(|_| crate::memory::allocation_failed("the singular values' workspace"))?;
    svd(
        a,
        s.as_mut(),
        None,
        None,
        PAR,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|_| {
        Error::invalid(
            "weight matrix",
            "the singular value iteration did not converge",
        )
    })?;
    let mut s: Vec<f64> = s.column_vector().iter().copied().collect();
    // faer returns them sorted; sort anyway (a total order: they are finite).
    s.sort_by(|a, b| b.total_cmp(a));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::svd::Svd;
    use crate::streams::{normal, stream};

    #[test]
    fn the_values_of_the_decomposition() {
        for (rows, cols) in [(60, 40), (40, 60), (50, 50)] {
            let mut rng = stream(7, 0);
            let w: Vec<f64> = (0..rows * cols).map(|_| normal(&mut rng)).collect();
            let s = singular_values(&w, rows, cols).unwrap();
            let full = Svd::decompose(&w, rows, cols).unwrap();
            assert_eq!(s.len(), rows.min(cols));
            let top = full.singular_values()[0];
            for (a, b) in s.iter().zip(full.singular_values()) {
                assert!((a - b).abs() <= 1e-12 * top, "{a} vs {b}");
            }
            // Σ s² = ‖W‖_F², independently of either decomposition.
            let fro: f64 = w.iter().map(|x| x * x).sum();
            let sum: f64 = s.iter().map(|x| x * x).sum();
            assert!((fro - sum).abs() <= 1e-12 * fro, "{fro} vs {sum}");
        }
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert!(singular_values(&[1.0, 2.0, 3.0], 2, 2).is_err());
        assert!(singular_values(&[1.0, f64::NAN, 3.0, 4.0], 2, 2).is_err());
        assert_eq!(singular_values(&[], 0, 3).unwrap(), Vec::<f64>::new());
    }
}
