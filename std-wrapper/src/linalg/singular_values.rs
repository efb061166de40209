//! The singular values of a weight matrix without its singular vectors: what the matrix-free
//! linear step of ML-Mat-VAMP needs for its Jacobians ([`crate::algo::matrix_free`]).
//!
//! The eigenvalues of the Gram matrix on the smaller side, by faer (a matrix product, then a
//! symmetric eigensolver without vectors), single-threaded (`Par::Seq`, as
//! [`crate::linalg::svd`]: the same bits on any thread count). At n = 2000 (2000 × 2000) it
//! took 2.1 s where faer's SVD without vectors took 6.6 s and with vectors 8.8 s (one run,
//! shared machine); its workspace is the `r × r` Gram matrix, freed on return, instead of
//! the four `n × r` factors the SVD path keeps. Squaring costs accuracy only in the small
//! singular values, `|λ_i − s_i²| ≲ ε r ‖W‖²`, which is what the Jacobians use (`s²`).

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{ComputeEigenvectors, self_adjoint_evd, self_adjoint_evd_scratch};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef};

use crate::error::Error;
use crate::linalg::svd::PAR;

/// The squared singular values of `w` (row-major `rows × cols`, finite) as the eigenvalues of
/// its Gram matrix on the smaller side (`W Wᵀ` or `Wᵀ W`, `r × r`), non-increasing, negative
/// round-off clamped to 0: each within about `ε r ‖W‖²` of `s_i²`.
///
/// Errors: [`mlamp_core::Error::ShapeMismatch`] unless `w.len() = rows·cols`,
/// [`mlamp_core::Error::NonFinite`] for a NaN or an infinity (both wrapped in
/// [`Error::Core`]); [`Error::Invalid`] if the iteration does not converge or the workspace
/// cannot be allocated.
pub fn squared_singular_values(w: &[f64], rows: usize, cols: usize) -> Result<Vec<f64>, Error> {
    super::svd::check_weights(w, rows, cols)?;
    let r = rows.min(cols);
    if r == 0 {
        return Ok(Vec::new());
    }
    let a = MatRef::from_row_major_slice(w, rows, cols);
    let mut g = Mat::<f64>::zeros(r, r);
    if rows <= cols {
        matmul(g.as_mut(), Accum::Replace, a, a.transpose(), 1.0, PAR);
    } else {
        matmul(g.as_mut(), Accum::Replace, a.transpose(), a, 1.0, PAR);
    }
    let mut lambda = Diag::<f64>::zeros(r);
    let none = ComputeEigenvectors::No;
    let mut mem = MemBuffer::try_new(self_adjoint_evd_scratch::<f64>(
        r,
        none,
        PAR,
        Default::default(),
    ))
    .map_err(|_| crate::memory::allocation_failed("the eigenvalues' workspace"))?;
    self_adjoint_evd(
        g.as_ref(),
        lambda.as_mut(),
        None,
        PAR,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|_| Error::invalid("weight matrix", "the eigenvalue iteration did not converge"))?;
    let mut s: Vec<f64> = lambda.column_vector().iter().map(|v| v.max(0.0)).collect();
    s.sort_by(|a, b| b.total_cmp(a));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::svd::Svd;
    use crate::streams::{normal, stream};

    #[test]
    fn the_squares_of_the_decompositions_values() {
        for (rows, cols) in [(60, 40), (40, 60), (50, 50)] {
            let mut rng = stream(7, 0);
            let w: Vec<f64> = (0..rows * cols).map(|_| normal(&mut rng)).collect();
            let s2 = squared_singular_values(&w, rows, cols).unwrap();
            let full = Svd::decompose(&w, rows, cols).unwrap();
            assert_eq!(s2.len(), rows.min(cols));
            let top = full.singular_values()[0].powi(2);
            for (a, b) in s2.iter().zip(full.singular_values()) {
                assert!((a - b * b).abs() <= 1e-12 * top, "{a} vs {}", b * b);
            }
            // Σ s² = ‖W‖_F², independently of either decomposition.
            let fro: f64 = w.iter().map(|x| x * x).sum();
            let sum: f64 = s2.iter().sum();
            assert!((fro - sum).abs() <= 1e-12 * fro, "{fro} vs {sum}");
        }
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert!(squared_singular_values(&[1.0, 2.0, 3.0], 2, 2).is_err());
        assert!(squared_singular_values(&[1.0, f64::NAN, 3.0, 4.0], 2, 2).is_err());
        assert_eq!(
            squared_singular_values(&[], 0, 3).unwrap(),
            Vec::<f64>::new()
        );
    }
}
