//! An iid per-entry scalar prior on a row, made exact for a non-diagonal precision.

use super::{MatReal, Precision, RowDenoiser, RowEstimate, RowMixture, RowMixturePosterior};
use crate::error::Error;
use crate::prior::{Component, Prior};
use crate::real::Real;
use nalgebra::SVector;

/// The prior `p(x) = Π_j P_X(x_j)` on a row `x ∈ R^d`, for a scalar prior `P_X` (any
/// [`Prior`]: binary ±1, Gauss–Bernoulli, a discrete law, …), with its exact MMSE row
/// denoiser: the estimator `G_0^+` of the paper's eq. 13 for the belief
/// `b_0(x) ∝ p(x) exp(−½ (x − r)ᵀ Γ (x − r))` of eq. 12.
///
/// With a non-diagonal `Γ` the entries are coupled and the belief no longer factorises; but
/// `P_X = Σ_k π_k N(μ_k, v_k)` is a Gaussian mixture ([`Prior::components`], `v_k = 0` for a
/// point mass), so `p` is the mixture over the `K^d` assignments `a = (k_1, …, k_d)` of a
/// component to each entry, of weights `π_a = Π_j π_{k_j}`, means `μ_a = (μ_{k_j})_j` and
/// diagonal covariances `V_a = diag(v_{k_j})` (zeros allowed: entries pinned at a point
/// mass). Each assignment's belief is Gaussian, so the belief is the mixture ([`RowMixture`],
/// with `S_a = V_a^{1/2}`):
///
/// - `C_a = V_a^{1/2} (I + V_a^{1/2} Γ V_a^{1/2})⁻¹ V_a^{1/2}`, `m_a = μ_a + C_a Γ (r − μ_a)`,
/// - weights `w_a ∝ π_a N(r; μ_a, V_a + Γ⁻¹)` (log domain, streaming log-sum-exp),
/// - `x̂ = Σ_a w_a m_a`, `Cov = Σ_a w_a (C_a + m_a m_aᵀ) − x̂ x̂ᵀ` (West's update),
/// - `∂x̂/∂r = Cov Γ` (`J[(i, j)] = ∂x̂_i/∂r_j`).
///
/// The assignments are enumerated by a mixed-radix counter on the stack (no allocation), at a
/// cost of `K^d` small d×d factorisations per row: `2^d` for binary or Gauss–Bernoulli
/// entries. With a diagonal `Γ` this reduces to the scalar denoiser [`Prior::posterior`]
/// entry by entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerEntry<'p, T, const D: usize> {
    /// The scalar prior's mixture components.
    comps: &'p [Component<T>],
}

impl<'p, T: MatReal, const D: usize> PerEntry<'p, T, D> {
    /// The iid prior on the row with the scalar prior `prior` on every entry.
    ///
    /// Errors: [`Error::Unsupported`] for a prior that is not a Gaussian mixture (no
    /// [`Prior::components`]); else as [`PerEntry::from_components`].
    pub fn new<P: Prior<T> + ?Sized>(prior: &'p P) -> Result<Self, Error> {
        let comps = prior.components().ok_or(Error::Unsupported {
            field: "prior",
            reason: "the exact per-entry row estimator needs a Gaussian-mixture prior",
        })?;
        Self::from_components(comps)
    }

    /// The iid prior whose entries have the Gaussian-mixture law `Σ_k π_k N(μ_k, v_k)` of
    /// `comps` (weights need not be normalised: only their ratios matter to the mean and covariance;
    /// the posterior's `log_z` is then that of the unnormalised measure).
    ///
    /// Errors: [`Error::EmptyModel`] for no components; [`Error::InvalidParameter`] for a
    /// weight that is not finite and `≥ 0` or no weight `> 0` (`"weight"`), or a variance that
    /// is not finite and `≥ 0` (`"var"`); [`Error::NonFinite`] for a non-finite mean
    /// (`"component mean"`).
    pub fn from_components(comps: &'p [Component<T>]) -> Result<Self, Error> {
        if comps.is_empty() {
            return Err(Error::EmptyModel);
        }
        for c in comps {
            crate::error::non_negative("weight", c.weight)?;
            crate::error::non_negative("var", c.var)?;
            if !Real::is_finite(c.mean) {
                return Err(Error::NonFinite {
                    what: "component mean",
                });
            }
        }
        if !comps.iter().any(|c| c.weight > T::ZERO) {
            return Err(Error::InvalidParameter {
                name: "weight",
                requirement: "at least one > 0",
            });
        }
        Ok(Self { comps })
    }

    /// The scalar prior's components.
    pub fn components(&self) -> &'p [Component<T>] {
        self.comps
    }

    /// The belief of the row for the message `(r, Γ)`: its mean `x̂`, covariance, Jacobian
    /// `Cov Γ` and log-normaliser (see the type's docs and [`RowMixture`]).
    pub fn posterior(
        &self,
        r: &SVector<T, D>,
        gamma: &Precision<T, D>,
    ) -> RowMixturePosterior<T, D> {
        let k = self.comps.len();
        let mut digits = [0usize; D];
        let mut mix = RowMixture::new(r, gamma);
        loop {
            let mut log_weight = T::ZERO;
            let mut mean = SVector::<T, D>::from_fn(|_, _| T::ZERO);
            let mut var = mean;
            for (j, &d) in digits.iter().enumerate() {
                let c = &self.comps[d];
                log_weight += Real::ln(c.weight);
                mean[j] = c.mean;
                var[j] = c.var;
            }
            mix.add_diagonal(log_weight, &mean, &var);
            if !next_assignment(&mut digits, k) {
                return mix.finish();
            }
        }
    }
}

/// Advances the mixed-radix counter `digits` (each digit in `0..k`, the least significant
/// first); `false` once it wraps around to all zeros (every assignment visited).
fn next_assignment(digits: &mut [usize], k: usize) -> bool {
    for d in digits.iter_mut() {
        *d += 1;
        if *d < k {
            return true;
        }
        *d = 0;
    }
    false
}

impl<T: MatReal, const D: usize> RowDenoiser<T, D> for PerEntry<'_, T, D> {
    /// The posterior mean and its Jacobian ([`PerEntry::posterior`]).
    fn denoise(&self, r: &SVector<T, D>, gamma: &Precision<T, D>) -> RowEstimate<T, D> {
        self.posterior(r, gamma).estimate()
    }
}
