//! The row denoiser of a Gaussian prior with full covariance, `x ~ N(μ, Σ)` in `R^d`.

use super::{MatReal, Precision, RowDenoiser, RowEstimate};
use crate::error::Error;
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// A Gaussian prior `N(μ, Σ)` on a row `x ∈ R^d` (`Σ` d×d symmetric positive definite), with
/// its closed-form row denoiser: the MMSE (= MAP) estimator `G_0^+` of the paper's eq. 13
/// for the belief `b_0(x) ∝ N(x; μ, Σ) exp(−½ (x − r)ᵀ Γ (x − r))` of eq. 12.
///
/// The belief is Gaussian with precision `P = Σ⁻¹ + Γ` and
///
/// - mean `x̂ = P⁻¹ (Σ⁻¹ μ + Γ r)`,
/// - Jacobian `∂x̂/∂r = P⁻¹ Γ` (`J[(i, j)] = ∂x̂_i/∂r_j`), which is the posterior covariance
///   times `Γ`, independent of `r`,
/// - and so Algorithm 1's `Λ = Γ J⁻¹ = P`.
///
/// For `d = 1`: `x̂ = (μ/σ² + γ r)/(1/σ² + γ)`, `∂x̂/∂r = γ/(1/σ² + γ)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianRow<T, const D: usize> {
    /// μ.
    mean: SVector<T, D>,
    /// Σ (exactly symmetric).
    covariance: SMatrix<T, D, D>,
    /// Σ⁻¹.
    precision: Precision<T, D>,
    /// Σ⁻¹ μ.
    shift: SVector<T, D>,
}

/// The Gaussian belief of a row under [`GaussianRow`]: what [`RowEstimate`] holds, and the
/// posterior precision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianRowPosterior<T, const D: usize> {
    /// `x̂ = P⁻¹ (Σ⁻¹ μ + Γ r)`.
    pub mean: SVector<T, D>,
    /// `∂x̂/∂r = P⁻¹ Γ`.
    pub jacobian: SMatrix<T, D, D>,
    /// `P = Σ⁻¹ + Γ` (its inverse is the posterior covariance).
    pub precision: Precision<T, D>,
}

impl<T: MatReal, const D: usize> GaussianRow<T, D> {
    /// The prior `N(mean, covariance)`; the covariance is symmetrised.
    ///
    /// Errors: [`Error::NonFinite`] for a non-finite mean (`"prior mean"`) or covariance
    /// (`"prior covariance"`), [`Error::NotPositiveDefinite`] if the covariance is not
    /// positive definite.
    pub fn new(mean: SVector<T, D>, covariance: SMatrix<T, D, D>) -> Result<Self, Error> {
        check_mean(&mean)?;
        let precision = Precision::from_covariance_named(covariance, "prior covariance")?;
        let covariance =
            SMatrix::<T, D, D>::from_fn(|i, j| (covariance[(i, j)] + covariance[(j, i)]) * T::HALF);
        Ok(Self::build(mean, covariance, precision))
    }

    /// The prior `N(mean, precision⁻¹)`, given by its precision.
    ///
    /// Errors: [`Error::NonFinite`] for a non-finite mean.
    pub fn from_precision(mean: SVector<T, D>, precision: Precision<T, D>) -> Result<Self, Error> {
        check_mean(&mean)?;
        Ok(Self::build(mean, precision.inverse(), precision))
    }

    fn build(
        mean: SVector<T, D>,
        covariance: SMatrix<T, D, D>,
        precision: Precision<T, D>,
    ) -> Self {
        let shift = precision.matrix() * mean;
        Self {
            mean,
            covariance,
            precision,
            shift,
        }
    }

    /// μ.
    pub fn mean(&self) -> &SVector<T, D> {
        &self.mean
    }

    /// Σ.
    pub fn covariance(&self) -> &SMatrix<T, D, D> {
        &self.covariance
    }

    /// Σ⁻¹.
    pub fn precision(&self) -> &Precision<T, D> {
        &self.precision
    }

    /// The belief of the row for the message `(r, Γ)`: its mean, the Jacobian of the mean in
    /// `r`, and its precision `Σ⁻¹ + Γ`.
    pub fn posterior(
        &self,
        r: &SVector<T, D>,
        gamma: &Precision<T, D>,
    ) -> GaussianRowPosterior<T, D> {
        let precision = self.precision.add(gamma);
        let rhs = self.shift + gamma.matrix() * r;
        GaussianRowPosterior {
            mean: precision.solve(&rhs),
            jacobian: precision.solve_matrix(gamma.matrix()),
            precision,
        }
    }
}

impl<T: MatReal, const D: usize> RowDenoiser<T, D> for GaussianRow<T, D> {
    fn denoise(&self, r: &SVector<T, D>, gamma: &Precision<T, D>) -> RowEstimate<T, D> {
        let post = self.posterior(r, gamma);
        RowEstimate {
            mean: post.mean,
            jacobian: post.jacobian,
        }
    }
}

/// [`Error::NonFinite`] unless every entry of the prior mean is finite.
fn check_mean<T: MatReal, const D: usize>(mean: &SVector<T, D>) -> Result<(), Error> {
    if mean.iter().all(|&x| Real::is_finite(x)) {
        Ok(())
    } else {
        Err(Error::NonFinite { what: "prior mean" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Matrix2, Vector1, Vector2};

    #[test]
    fn one_dimensional_closed_form() {
        // σ² = 2, μ = 1, γ = 3, r = −0.5: x̂ = (0.5 − 1.5)/(0.5 + 3) = −2/7, J = 3/3.5 = 6/7.
        let prior = GaussianRow::new(Vector1::new(1.0), SMatrix::<f64, 1, 1>::new(2.0)).unwrap();
        let gamma = Precision::identity_scaled(3.0).unwrap();
        let est = prior.denoise(&Vector1::new(-0.5), &gamma);
        assert!((est.mean[0] + 2.0 / 7.0).abs() < 1e-15);
        assert!((est.jacobian[(0, 0)] - 6.0 / 7.0).abs() < 1e-15);
    }

    #[test]
    fn two_dimensional_by_hand() {
        // Σ = I, μ = 0, Γ = [[2, 1], [1, 2]]: P = [[3, 1], [1, 3]], P⁻¹ = [[3, −1], [−1, 3]]/8,
        // J = P⁻¹ Γ = [[5, 1], [1, 5]]/8; r = (1, 0): Γ r = (2, 1), x̂ = (5, 1)/8.
        let prior = GaussianRow::new(Vector2::zeros(), Matrix2::identity()).unwrap();
        let gamma = Precision::new(Matrix2::new(2.0, 1.0, 1.0, 2.0)).unwrap();
        let post = prior.posterior(&Vector2::new(1.0, 0.0), &gamma);
        assert!((post.mean - Vector2::new(0.625, 0.125)).abs().max() < 1e-15);
        let j = Matrix2::new(5.0, 1.0, 1.0, 5.0) / 8.0;
        assert!((post.jacobian - j).abs().max() < 1e-15);
        assert_eq!(*post.precision.matrix(), Matrix2::new(3.0, 1.0, 1.0, 3.0));
    }

    #[test]
    fn constructor_checks() {
        let bad_cov = Matrix2::new(1.0, 2.0, 2.0, 1.0);
        assert_eq!(
            GaussianRow::new(Vector2::zeros(), bad_cov),
            Err(Error::NotPositiveDefinite {
                what: "prior covariance"
            })
        );
        assert_eq!(
            GaussianRow::new(Vector2::new(f64::NAN, 0.0), Matrix2::identity()),
            Err(Error::NonFinite { what: "prior mean" })
        );
        assert_eq!(
            GaussianRow::new(Vector2::zeros(), Matrix2::new(1.0, 0.0, 0.0, f64::INFINITY)),
            Err(Error::NonFinite {
                what: "prior covariance"
            })
        );
        let p = Precision::new(Matrix2::new(2.0, 0.0, 0.0, 4.0)).unwrap();
        let g = GaussianRow::from_precision(Vector2::new(1.0, 2.0), p).unwrap();
        assert!(
            (g.covariance() - Matrix2::new(0.5, 0.0, 0.0, 0.25))
                .abs()
                .max()
                < 1e-15
        );
    }
}
