//! The iid Laplace prior on a row (the LASSO's ℓ₁ penalty), as a row estimator of
//! ML-Mat-VAMP: the exact d-dimensional LASSO for any precision (MAP), and the exact
//! posterior mean for a diagonal precision (MMSE).

use super::{Estimator, MatReal, Precision, RowDenoiser, RowEstimate};
use crate::error::Error;
use crate::prior::{Laplace, Prior};
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// Most events (an entry joining or leaving the active set) of the LASSO homotopy, per
/// entry of the row.
const STEPS_PER_ENTRY: usize = 16;

/// The prior `p(x) = Π_j (λ/2) e^{−λ|x_j|}` on a row `x ∈ R^d` (every entry iid
/// [`Laplace`]), with its row estimator `G_0^+` of eq. 13 (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*) for the belief
/// `b_0(x) ∝ p(x) exp(−½ (x − r)ᵀ Γ (x − r))` of eq. 12, under a full precision `Γ`.
///
/// **MAP** ([`Estimator::Map`], any `Γ`): the d-dimensional LASSO
///
/// `x̂ = argmin_x ½ (x − r)ᵀ Γ (x − r) + λ ‖x‖₁`,
///
/// strictly convex (`Γ` is positive definite), so `x̂` is unique. With `c = Γ r` it satisfies
/// the KKT conditions `(Γ (r − x̂))_j = λ sign(x̂_j)` on the active set `S = {j : x̂_j ≠ 0}`
/// and `|(Γ (r − x̂))_j| ≤ λ` off it, hence `x̂_S = (Γ_SS)⁻¹ (c_S − λ s_S)` (`s` the signs).
/// It is solved exactly by the homotopy (LARS–LASSO) in the penalty `μ`: from `μ = ‖c‖∞`,
/// where `x̂ = 0` and the largest `|c_j|` enters, down to `μ = λ`, `x̂_S(μ) = a − μ b` with
/// `a = Γ_SS⁻¹ c_S`, `b = Γ_SS⁻¹ s_S` is linear between events — an entry of `S` reaching 0
/// (it leaves), or an inactive correlation `(c − Γ x̂(μ))_j` reaching `±μ` (it enters with
/// that sign) — each found in closed form; one Cholesky factorisation of `Γ_SS` per event,
/// at most `16 d` events (a cap never reached in the tests; if it were, the current active
/// set's solution at `μ = λ` is returned). With a diagonal `Γ` this is the scalar soft
/// threshold entry by entry ([`Laplace`]'s MAP with `A = Γ_jj`, `B = Γ_jj r_j`).
///
/// Jacobian: on `S` (where the signs are locally constant) `x̂_S` is linear in `r`, so
/// `J_{S,:} = (Γ_SS)⁻¹ Γ_{S,:}` and the rows off `S` are zero (`J[(i, j)] = ∂x̂_i/∂r_j`).
/// At the measure-zero set of `r` where an entry is just entering or leaving, the one-sided
/// Jacobian of the set found is returned.
///
/// **MMSE** ([`Estimator::Mmse`]): exact only for a diagonal `Γ` (every off-diagonal entry
/// zero), where the belief factorises: entry `j` is [`Laplace`]'s exact posterior with
/// `A = Γ_jj`, `B = Γ_jj r_j`, and `J_jj = Γ_jj Var(x_j)`, zero off the diagonal. For a
/// non-diagonal `Γ` the posterior mean is a sum over the `2^d` orthants of truncated
/// multivariate Gaussian integrals, which is not implemented (nor approximated silently):
/// [`LaplaceRow::try_denoise`] and [`LaplaceRow::check_precision`] return
/// [`Error::Unsupported`] (`field: "estimator"`), and [`RowDenoiser::denoise`], which cannot
/// fail, returns NaN for the estimate and the Jacobian. `d = 1` is always diagonal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaplaceRow<T, const D: usize> {
    /// The scalar prior of each entry.
    prior: Laplace<T>,
    /// MAP or MMSE.
    estimator: Estimator,
}

impl<T: MatReal, const D: usize> LaplaceRow<T, D> {
    /// The iid Laplace prior of rate `lambda` on each entry of the row, with the `estimator`
    /// returned by [`RowDenoiser::denoise`].
    ///
    /// Errors: [`Error::InvalidParameter`] (`"lambda"`) unless `lambda` is finite and `> 0`.
    pub fn new(lambda: T, estimator: Estimator) -> Result<Self, Error> {
        Ok(Self {
            prior: Laplace::new(lambda)?,
            estimator,
        })
    }

    /// λ, the rate of each entry's Laplace law (the LASSO's penalty).
    pub fn lambda(&self) -> T {
        self.prior.lambda()
    }

    /// The estimator chosen at construction.
    pub fn estimator(&self) -> Estimator {
        self.estimator
    }

    /// The scalar prior of each entry.
    pub fn prior(&self) -> &Laplace<T> {
        &self.prior
    }

    /// `Ok(())` if the estimator is available for the precision `gamma`: always for MAP;
    /// for MMSE only if `Γ` is diagonal, else [`Error::Unsupported`].
    pub fn check_precision(&self, gamma: &Precision<T, D>) -> Result<(), Error> {
        if self.estimator == Estimator::Mmse && !is_diagonal(gamma.matrix()) {
            return Err(Error::Unsupported {
                field: "estimator",
                reason: "the Laplace row MMSE is exact only for a diagonal precision (a \
                         non-diagonal one couples the entries into a sum over 2^d orthants of \
                         truncated Gaussians); use map",
            });
        }
        Ok(())
    }

    /// The estimate of the row chosen at construction and its Jacobian, or
    /// [`Error::Unsupported`] for MMSE with a non-diagonal `Γ` (see
    /// [`LaplaceRow::check_precision`]).
    pub fn try_denoise(
        &self,
        r: &SVector<T, D>,
        gamma: &Precision<T, D>,
    ) -> Result<RowEstimate<T, D>, Error> {
        match self.estimator {
            Estimator::Map => Ok(self.map(r, gamma)),
            Estimator::Mmse => self.mmse(r, gamma),
        }
    }

    /// The MAP estimate (the LASSO's solution) and its Jacobian, for any `Γ` (see the type's
    /// docs). A non-finite `r` gives NaN.
    pub fn map(&self, r: &SVector<T, D>, gamma: &Precision<T, D>) -> RowEstimate<T, D> {
        let lambda = self.prior.lambda();
        let g = gamma.matrix();
        let c = g * r;
        if !c.iter().all(|&v| Real::is_finite(v)) {
            return nan_estimate();
        }
        if is_diagonal(g) {
            let mut est = zero_estimate();
            for j in 0..D {
                if Real::abs(c[j]) > lambda {
                    let sign = if c[j] < T::ZERO { -T::ONE } else { T::ONE };
                    est.mean[j] = sign * (Real::abs(c[j]) - lambda) / g[(j, j)];
                    est.jacobian[(j, j)] = T::ONE;
                }
            }
            return est;
        }
        lasso(g, &c, lambda)
    }

    /// The MMSE estimate and its Jacobian `Cov Γ`, for a diagonal `Γ` (entry by entry through
    /// [`Laplace`]'s exact posterior); [`Error::Unsupported`] for a non-diagonal `Γ`.
    pub fn mmse(
        &self,
        r: &SVector<T, D>,
        gamma: &Precision<T, D>,
    ) -> Result<RowEstimate<T, D>, Error> {
        let g = gamma.matrix();
        if !is_diagonal(g) {
            return Err(Error::Unsupported {
                field: "estimator",
                reason: "the Laplace row MMSE is exact only for a diagonal precision; use map",
            });
        }
        let mut est = zero_estimate();
        for j in 0..D {
            let a = g[(j, j)];
            let post = self.prior.posterior(a, a * r[j]);
            est.mean[j] = post.mean;
            est.jacobian[(j, j)] = post.var * a;
        }
        Ok(est)
    }
}

impl<T: MatReal, const D: usize> RowDenoiser<T, D> for LaplaceRow<T, D> {
    /// [`LaplaceRow::try_denoise`]; NaN (estimate and Jacobian) where it is an error (MMSE
    /// with a non-diagonal `Γ`: check with [`LaplaceRow::check_precision`]).
    fn denoise(&self, r: &SVector<T, D>, gamma: &Precision<T, D>) -> RowEstimate<T, D> {
        self.try_denoise(r, gamma)
            .unwrap_or_else(|_| nan_estimate())
    }
}

/// `true` if every off-diagonal entry of `m` is zero.
fn is_diagonal<T: MatReal, const D: usize>(m: &SMatrix<T, D, D>) -> bool {
    (0..D).all(|i| (0..D).all(|j| i == j || m[(i, j)] == T::ZERO))
}

/// The zero estimate (zero row, zero Jacobian).
fn zero_estimate<T: MatReal, const D: usize>() -> RowEstimate<T, D> {
    RowEstimate {
        mean: SVector::from_fn(|_, _| T::ZERO),
        jacobian: SMatrix::from_fn(|_, _| T::ZERO),
    }
}

/// The all-NaN estimate.
fn nan_estimate<T: MatReal, const D: usize>() -> RowEstimate<T, D> {
    let nan = <T as Real>::c(f64::NAN);
    RowEstimate {
        mean: SVector::from_fn(|_, _| nan),
        jacobian: SMatrix::from_fn(|_, _| nan),
    }
}

/// `Γ_SS ⊕ I` (the active block of `g`, the identity elsewhere), factored: positive definite
/// as a principal submatrix of `Γ`. If rounding makes the factorisation fail (a `Γ`
/// ill-conditioned to working precision), its eigenvalues are floored at `ε max_S Γ_jj`.
fn active_block<T: MatReal, const D: usize>(
    g: &SMatrix<T, D, D>,
    active: &[bool; D],
) -> Option<Precision<T, D>> {
    let m = SMatrix::<T, D, D>::from_fn(|i, j| {
        if active[i] && active[j] {
            g[(i, j)]
        } else if i == j {
            T::ONE
        } else {
            T::ZERO
        }
    });
    if let Ok(p) = Precision::new(m) {
        return Some(p);
    }
    let scale = (0..D)
        .filter(|&j| active[j])
        .fold(T::ZERO, |s, j| Real::max(s, g[(j, j)]));
    Precision::with_floor(m, T::EPSILON * scale)
        .ok()
        .map(|(p, _)| p)
}

/// The LASSO `argmin ½ xᵀ Γ x − cᵀ x + λ ‖x‖₁` (`c = Γ r`, finite) by the homotopy in the
/// penalty described in [`LaplaceRow`], with its Jacobian in `r`.
fn lasso<T: MatReal, const D: usize>(
    g: &SMatrix<T, D, D>,
    c: &SVector<T, D>,
    lambda: T,
) -> RowEstimate<T, D> {
    let mut start = 0;
    for j in 1..D {
        if Real::abs(c[j]) > Real::abs(c[start]) {
            start = j;
        }
    }
    let mut mu = if D == 0 { T::ZERO } else { Real::abs(c[start]) };
    if mu <= lambda {
        return zero_estimate();
    }
    let sign_of = |v: T| if v < T::ZERO { -T::ONE } else { T::ONE };
    let mut active = [false; D];
    let mut sign = SVector::<T, D>::from_fn(|_, _| T::ZERO);
    active[start] = true;
    sign[start] = sign_of(c[start]);
    // The entry changed by the last event, whether it joined, and its sign before a leave.
    // On the next segment (where x_S and the correlations are linear in μ) an entry that just
    // joined cannot leave (x_j's only zero is the joining point), and one that just left can
    // only rejoin with the opposite sign (the same-sign root is the leaving point): those
    // events, which rounding could find again at the current μ, are not looked for.
    let mut last = (start, true, T::ZERO);
    let mut steps = 0;
    let block = loop {
        let Some(block) = active_block(g, &active) else {
            return nan_estimate();
        };
        let cs = SVector::<T, D>::from_fn(|i, _| if active[i] { c[i] } else { T::ZERO });
        let a = block.solve(&cs);
        let b = block.solve(&sign);
        steps += 1;
        if steps > STEPS_PER_ENTRY * D {
            break block;
        }
        let (ga, gb) = (g * a, g * b);
        let mut best = lambda;
        let mut event: Option<(usize, T)> = None;
        for j in 0..D {
            if active[j] {
                if last.0 == j && last.1 {
                    continue;
                }
                // x_j(μ) = a_j − μ b_j, of sign s_j just below the current μ, unless rounding
                // has already flipped it (then it leaves at once).
                let xj = a[j] - mu * b[j];
                let m = if xj * sign[j] < T::ZERO {
                    mu
                } else if b[j] != T::ZERO && a[j] / b[j] < mu {
                    a[j] / b[j]
                } else {
                    continue;
                };
                if m > best {
                    best = m;
                    event = Some((j, T::ZERO));
                }
            } else {
                let left = if last.0 == j && !last.1 {
                    last.2
                } else {
                    T::ZERO
                };
                // The correlation (c − Γ x(μ))_j = p + μ q; it enters where |p + μ q| = μ.
                let (p, q) = (c[j] - ga[j], gb[j]);
                let corr = p + mu * q;
                if left == T::ZERO && Real::abs(corr) > mu {
                    if mu > best {
                        best = mu;
                        event = Some((j, sign_of(corr)));
                    }
                    continue;
                }
                for s in [T::ONE, -T::ONE] {
                    if s == left {
                        continue;
                    }
                    let den = s - q;
                    // p + μ q = s μ ⇔ μ (s − q) = p; reached from below |corr| ≤ μ only when
                    // s (s − q) > 0.
                    if s * den > T::ZERO {
                        let m = Real::min(p / den, mu);
                        if m > best {
                            best = m;
                            event = Some((j, s));
                        }
                    }
                }
            }
        }
        let Some((j, s)) = event else {
            break block;
        };
        mu = best;
        if s == T::ZERO {
            last = (j, false, sign[j]);
            active[j] = false;
            sign[j] = T::ZERO;
        } else {
            active[j] = true;
            sign[j] = s;
            last = (j, true, s);
        }
    };
    // x_S = Γ_SS⁻¹ (c_S − λ s_S) by one solve (not a − λ b, which may cancel).
    let cs = SVector::<T, D>::from_fn(|i, _| {
        if active[i] {
            c[i] - lambda * sign[i]
        } else {
            T::ZERO
        }
    });
    let mean = block.solve(&cs);
    let rows = SMatrix::<T, D, D>::from_fn(|i, j| if active[i] { g[(i, j)] } else { T::ZERO });
    RowEstimate {
        mean,
        jacobian: block.solve_matrix(&rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Matrix2, Vector2};

    #[test]
    fn two_dimensional_by_hand() {
        // Γ = [[2, 1], [1, 2]], r = (2, 0), λ = 1: c = Γ r = (4, 2). Try S = {0}, s = +1:
        // x₀ = (4 − 1)/2 = 1.5, correlation of entry 1: c₁ − Γ₁₀ x₀ = 2 − 1.5 = 0.5 ≤ 1. ✓
        let g = Precision::new(Matrix2::new(2.0, 1.0, 1.0, 2.0)).unwrap();
        let row = LaplaceRow::<f64, 2>::new(1.0, Estimator::Map).unwrap();
        let est = row.denoise(&Vector2::new(2.0, 0.0), &g);
        assert!((est.mean - Vector2::new(1.5, 0.0)).abs().max() < 1e-15);
        // J row 0 = Γ₀₀⁻¹ Γ₀,: = (1, 0.5); row 1 zero.
        assert!(
            (est.jacobian - Matrix2::new(1.0, 0.5, 0.0, 0.0))
                .abs()
                .max()
                < 1e-15
        );
        // Both active: r = (3, −2): c = (4, −1)… S = {0}: x₀ = 1.5, corr₁ = −1 − 1.5 = −2.5:
        // enters with −1: x = Γ⁻¹ (c − λ s) = Γ⁻¹ (3, 0) = (2, −1).
        let est = row.denoise(&Vector2::new(3.0, -2.0), &g);
        assert!((est.mean - Vector2::new(2.0, -1.0)).abs().max() < 1e-14);
        assert!((est.jacobian - Matrix2::identity()).abs().max() < 1e-14);
    }

    #[test]
    fn mmse_needs_a_diagonal_precision() {
        let g = Precision::new(Matrix2::new(2.0, 1.0, 1.0, 2.0)).unwrap();
        let row = LaplaceRow::<f64, 2>::new(1.0, Estimator::Mmse).unwrap();
        assert!(matches!(
            row.try_denoise(&Vector2::new(1.0, 0.0), &g),
            Err(Error::Unsupported {
                field: "estimator",
                ..
            })
        ));
        assert!(row.check_precision(&g).is_err());
        let est = row.denoise(&Vector2::new(1.0, 0.0), &g);
        assert!(est.mean[0].is_nan() && est.jacobian[(1, 1)].is_nan());
        let d = Precision::new(Matrix2::new(2.0, 0.0, 0.0, 3.0)).unwrap();
        assert!(row.check_precision(&d).is_ok());
        let est = row.denoise(&Vector2::new(1.0, -4.0), &d);
        let prior = Laplace::new(1.0).unwrap();
        let p1 = prior.posterior(3.0, -12.0);
        assert_eq!(est.mean[1], p1.mean);
        assert_eq!(est.jacobian[(1, 1)], 3.0 * p1.var);
        assert_eq!(est.jacobian[(0, 1)], 0.0);
    }
}
