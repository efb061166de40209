//! The row-sparse (multi-task, MMV) prior: a whole row is zero or a Gaussian vector.

use super::{MatReal, Precision, RowDenoiser, RowEstimate, RowMixture, RowMixturePosterior};
use crate::error::Error;
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// The row-sparse prior `p(x) = (1 − ρ) δ(x) + ρ N(x; 0, σ² I_d)` on a row `x ∈ R^d` (the
/// rows of the signal share their support across the `d` columns, as in multi-task or
/// multiple-measurement-vector compressed sensing), with its MMSE row denoiser: the estimator
/// `G_0^+` of the paper's eq. 13 for the belief `b_0(x) ∝ p(x) exp(−½ (x − r)ᵀ Γ (x − r))` of
/// eq. 12, for a full (non-diagonal) precision `Γ`.
///
/// The belief is a two-component Gaussian mixture ([`RowMixture`]):
///
/// - the spike: the point `x = 0`, with evidence `Z₀ = exp(−½ rᵀ Γ r)`;
/// - the slab: with `M = I + σ² Γ`, the Gaussian of mean `m₁ = σ² M⁻¹ Γ r` and covariance
///   `C₁ = σ² M⁻¹ = (σ⁻² I + Γ)⁻¹`, with evidence
///   `Z₁ = det(M)^{−½} exp(−½ rᵀ (σ² I + Γ⁻¹)⁻¹ r)`;
///
/// posterior weights `w₀ ∝ (1 − ρ) Z₀`, `w₁ ∝ ρ Z₁` (in the log domain), and then
///
/// - `x̂ = w₁ m₁`,
/// - `Cov = w₁ C₁ + w₀ w₁ m₁ m₁ᵀ`,
/// - `∂x̂/∂r = Cov Γ` (`J[(i, j)] = ∂x̂_i/∂r_j`).
///
/// `ρ = 1` is the Gaussian prior `N(0, σ² I)` (the spike is dropped, `x̂ = m₁`,
/// `J = C₁ Γ`). For `d = 1` this is the scalar Gauss–Bernoulli prior with mean 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowSparse<T, const D: usize> {
    /// ρ ∈ (0, 1].
    rho: T,
    /// σ² > 0.
    var: T,
    /// `ln ρ`.
    log_rho: T,
    /// `ln(1 − ρ)` (`−∞` for ρ = 1).
    log_spike: T,
}

impl<T: MatReal, const D: usize> RowSparse<T, D> {
    /// The prior with ρ = `rho` (the probability that a row is non-zero) and σ² = `var` (the
    /// variance of each entry of a non-zero row).
    ///
    /// Errors: [`Error::InvalidParameter`] unless `rho ∈ (0, 1]` (`"rho"`) and `var` is finite
    /// and `> 0` (`"var"`).
    pub fn new(rho: T, var: T) -> Result<Self, Error> {
        if !(rho > T::ZERO && rho <= T::ONE) {
            return Err(Error::InvalidParameter {
                name: "rho",
                requirement: "in (0, 1]",
            });
        }
        crate::error::scale("var", var)?;
        Ok(Self {
            rho,
            var,
            log_rho: Real::ln(rho),
            log_spike: Real::ln_1p(-rho),
        })
    }

    /// ρ, the probability that a row is non-zero.
    pub fn rho(&self) -> T {
        self.rho
    }

    /// σ², the variance of an entry of a non-zero row.
    pub fn var(&self) -> T {
        self.var
    }

    /// The belief of the row for the message `(r, Γ)`: its mean `x̂`, covariance, Jacobian
    /// `Cov Γ` and log-normaliser (see the type's docs and [`RowMixture`]).
    pub fn posterior(
        &self,
        r: &SVector<T, D>,
        gamma: &Precision<T, D>,
    ) -> RowMixturePosterior<T, D> {
        let zero = SVector::<T, D>::from_fn(|_, _| T::ZERO);
        let sd = Real::sqrt(self.var);
        let slab = SMatrix::<T, D, D>::from_fn(|i, j| if i == j { sd } else { T::ZERO });
        let mut mix = RowMixture::new(r, gamma);
        mix.add(self.log_spike, &zero, &SMatrix::from_fn(|_, _| T::ZERO));
        mix.add(self.log_rho, &zero, &slab);
        mix.finish()
    }
}

impl<T: MatReal, const D: usize> RowDenoiser<T, D> for RowSparse<T, D> {
    /// The posterior mean and its Jacobian ([`RowSparse::posterior`]).
    fn denoise(&self, r: &SVector<T, D>, gamma: &Precision<T, D>) -> RowEstimate<T, D> {
        self.posterior(r, gamma).estimate()
    }
}
