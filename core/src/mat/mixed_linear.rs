//! The row estimator of the mixed linear regression output `y = q z₀ + (1 − q) z₁ + ξ`,
//! `q ~ Bernoulli(π)`, `ξ ~ N(0, Δ)` (eq. 6 of Pandit, Sahraee-Ardakan, Rangan, Schniter,
//! Fletcher, *Matrix inference and estimation in multi-layer models*; their `x_iᵀ f₁` and
//! `x_iᵀ f₂` are our `z₀`, `z₁`, the two entries of a row of `Z = X F`): the belief
//! `b(z) ∝ P(y | z) exp(−½ (z − r)ᵀ Γ (z − r))` is a mixture of two Gaussians, so its MMSE
//! estimator is a closed form.

use super::entry_observation::EntryObservation;
use super::{ChannelDenoiser, MatReal, RowEstimate, RowMessage};
use crate::error::Error;
use crate::estimator::Estimator;
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// The belief of one mixture component `k` (the observation is `y = z_k + ξ`): a Gaussian
/// with covariance `C_k`, mean `m_k`, and the component's log-weight terms.
struct Component<T: MatReal, const D: usize> {
    /// `m_k = r + C e_k (y − r_k)/s_k`.
    mean: SVector<T, D>,
    /// `C_k = C − C e_k e_kᵀ C / s_k`.
    covariance: SMatrix<T, D, D>,
    /// `ln π_k − ½ t_k²`.
    score: T,
    /// `t_k = |y − r_k|/√s_k`, finite where its square overflows (then the score is `−∞`
    /// and the components are compared by `t`).
    t: T,
    /// `s_k = Δ + C_kk`.
    s: T,
}

/// The MMSE row estimator of the mixed linear regression output (rows of `D = 2` entries, one
/// observed number per row; see the module docs).
///
/// With `C = Γ⁻¹` and component `k ∈ {0, 1}` of weight `π₀ = π`, `π₁ = 1 − π` (the
/// observation `y = z_k + ξ`), the belief restricted to `k` is Gaussian (a rank-one update of
/// the message by Sherman–Morrison):
///
/// - `s_k = Δ + C_kk`, `m_k = r + C e_k (y − r_k)/s_k`, `C_k = C − C e_k e_kᵀ C/s_k`
///   (`= (Γ + e_k e_kᵀ/Δ)⁻¹`, without dividing by `Δ`, so `Δ → 0` stays finite; the update
///   is `EntryObservation`, shared with the masked output);
/// - its evidence `∫ N(y; z_k, Δ) e^{−½‖z − r‖²_Γ} dz ∝ s_k^{−½} e^{−(y − r_k)²/(2 s_k)}`.
///
/// **MMSE**: the weights `w_k ∝ π_k s_k^{−½} e^{−(y − r_k)²/(2 s_k)}` (log domain, the larger
/// one first), `ẑ = Σ_k w_k m_k`, `Cov = Σ_k w_k (C_k + (m_k − ẑ)(m_k − ẑ)ᵀ)` (a sum of
/// positive semi-definite terms), `J = ∂ẑ/∂r = Cov Γ` (differentiate the mean in `r`).
///
/// **MAP** (`Δ > 0`): the mode of the *marginal* belief of the row (the labels summed out,
/// not the joint `(z, q)` mode), the minimiser of
/// `f(z) = −ln[π e^{ℓ₀(z)} + (1 − π) e^{ℓ₁(z)}] + ½ (z − r)ᵀΓ(z − r)`,
/// `ℓ_k(z) = ln π_k − (y − z_k)²/(2Δ)`. Its gradient is
/// `Γ(z − r) − Σ_k w_k(z) (y − z_k)/Δ e_k` with `w_k(z)` the responsibilities, so every
/// critical point solves `(Γ + diag(1 − a, a)/Δ) z = Γr + y (1 − a, a)ᵀ/Δ` with `a = w₁(z)`:
/// it lies on the *ridgeline* `z(a)`, `a ∈ [0, 1]` (Ray and Lindsay, *The topography of
/// multivariate normal mixtures*, Ann. Statist. 2005, for this two-component mixture), and
/// since every `z(a)` is a point of the plane, `min_z f = min_a f(z(a))` exactly. The
/// estimator searches that one-dimensional problem: a grid of [`RIDGE_GRID`] points in
/// `t = logit a` over a range that covers where `z(a)` moves (`|t| ≤ |ln(Δ λ(Γ))| + 12`), a
/// golden-section search between the neighbours of each local minimum of the grid, then
/// Newton steps on `f` in `z` (kept while the Hessian is positive definite, the gradient
/// shrinks and `f` does not rise beyond rounding). The search is not a certificate: a minimum of `f(z(a))` narrower than a grid
/// cell could be missed (the tests compare with a 2-D grid search). `J = H⁻¹Γ` at the mode
/// (implicit differentiation of `∇f = 0` in `r`), with the Hessian
/// `H = Γ + diag(w₀, w₁)/Δ − w₀ w₁ u uᵀ/Δ²`, `u = (y − z₀, −(y − z₁))`.
/// Where the objective overflows (a `y` far from both components), the MAP is the mean of the
/// dominant component, `m_k`, with `J = C_k Γ`, as for the MMSE.
///
/// **The model refuses MAP** ([`crate::channel::MixedLinear`]'s row form; this constructor
/// builds it for direct use). The mode jumps between the components as `r` crosses the set
/// where the two minima of `f` are equal, and ML-Mat-VAMP's and its state evolution's
/// `⟨∂G/∂R⟩` (the average Jacobian) misses the jumps' contribution (the jump times the
/// density of `r` on that boundary, by Stein's lemma). Measured with this estimator (`π = 0.3`,
/// `Δ = 0.01`, `p = 200`, four seeds, 300 iterations): at α = 3 no run converged (MSE
/// 0.55–1.43) and at α = 4 one of four (0.050; the others 0.07–0.85), while the SE predicted
/// 0.048 and 0.029, below the MMSE's 0.148 and 0.051 — impossible for an estimator's error;
/// at α = 6 the runs reach 0.009–0.020 (MMSE runs 0.009–0.016) but only one converged to the
/// tolerance. (The joint `(z, q)` mode tried before did no better: α = 4, `n = 500`, MSE
/// 0.63.) With `Δ = 0` the belief lives on two lines and has no mode: refused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixedLinearDenoiser<T, const D: usize> {
    /// `(ln π, ln(1 − π))`.
    log_pi: [T; 2],
    noise_var: T,
    estimator: Estimator,
}

/// Points of the MAP's grid along the ridgeline (see [`MixedLinearDenoiser`]).
pub const RIDGE_GRID: usize = 161;

impl<T: MatReal, const D: usize> MixedLinearDenoiser<T, D> {
    /// The MMSE or MAP estimator for the mixing weight `pi` (of `z₀`) and noise `noise_var`.
    ///
    /// Errors: [`Error::Unsupported`] naming `d` unless `D = 2`, naming `noise_var` for MAP
    /// with `Δ = 0` (see the type's docs); [`Error::InvalidParameter`]
    /// naming `pi` unless `0 < π < 1`, `noise_var` unless `Δ` is 0 or in `[1e-30, 1e30]`
    /// ([`crate::error::noise_scale`]).
    pub fn new(pi: T, noise_var: T, estimator: Estimator) -> Result<Self, Error> {
        if D != 2 {
            return Err(Error::Unsupported {
                field: "d",
                reason: "mixed linear regression has rows of d = 2 (the two regressors)",
            });
        }
        check_pi(pi)?;
        crate::error::noise_scale("noise_var", noise_var)?;
        if estimator == Estimator::Map && noise_var == T::ZERO {
            return Err(MAP_NEEDS_NOISE);
        }
        Ok(Self {
            log_pi: [Real::ln(pi), Real::ln(T::ONE - pi)],
            noise_var,
            estimator,
        })
    }

    /// Component `k`'s belief for the observation `y` and the message `(r, C = Γ⁻¹)`.
    fn component(
        &self,
        k: usize,
        y: T,
        r: &SVector<T, D>,
        c: &SMatrix<T, D, D>,
    ) -> Component<T, D> {
        let obs = EntryObservation::new(r, c, k, y, self.noise_var);
        let t = Real::abs(y - r[k]) / Real::sqrt(obs.s);
        Component {
            mean: obs.mean,
            covariance: obs.covariance,
            score: self.log_pi[k] - T::HALF * t * t,
            t,
            s: obs.s,
        }
    }

    /// The MMSE estimate of the type's docs (`ẑ`, `J = Cov Γ`) and the belief's covariance.
    pub fn estimate(
        &self,
        y: T,
        message: RowMessage<'_, T, D>,
    ) -> (RowEstimate<T, D>, SMatrix<T, D, D>) {
        let c = message.gamma.inverse();
        let parts = [
            self.component(0, y, &message.r, &c),
            self.component(1, y, &message.r, &c),
        ];
        let gamma = message.gamma.matrix();
        // Where both log-weights overflow to −∞, the component nearer to y (in its own
        // standard deviations) takes all the weight.
        let nearer = usize::from(parts[1].t < parts[0].t);
        let l = parts.each_ref().map(|p| p.score - T::HALF * Real::ln(p.s));
        let top = Real::max(l[0], l[1]);
        let u = if Real::is_finite(top) {
            l.map(|v| Real::exp(v - top))
        } else {
            [0, 1].map(|k| if k == nearer { T::ONE } else { T::ZERO })
        };
        let total = u[0] + u[1];
        let w = u.map(|v| v / total);
        let mean = parts[0].mean * w[0] + parts[1].mean * w[1];
        let mut cov = SMatrix::<T, D, D>::zeros();
        // A component of weight 0 adds nothing (its spread may overflow: 0 · ∞).
        for (p, wk) in parts.iter().zip(w).filter(|(_, wk)| *wk > T::ZERO) {
            let dm = p.mean - mean;
            cov += (p.covariance + dm * dm.transpose()) * wk;
        }
        let covariance = (cov + cov.transpose()) * T::HALF;
        let jacobian = covariance * gamma;
        (RowEstimate { mean, jacobian }, covariance)
    }
}

impl<T: MatReal, const D: usize> MixedLinearDenoiser<T, D> {
    /// `f(z)` of the type's docs (the log-sum-exp from its larger term).
    fn objective(&self, y: T, r: &SVector<T, D>, gamma: &SMatrix<T, D, D>, z: &SVector<T, D>) -> T {
        let two_delta = self.noise_var + self.noise_var;
        let l = [0, 1].map(|k| self.log_pi[k] - (y - z[k]) * (y - z[k]) / two_delta);
        let (top, low) = (Real::max(l[0], l[1]), Real::min(l[0], l[1]));
        let d = z - r;
        -(top + Real::ln_1p(Real::exp(low - top))) + T::HALF * d.dot(&(gamma * d))
    }

    /// The responsibilities `(w₀, w₁)` at `z`.
    fn responsibilities(&self, y: T, z: &SVector<T, D>) -> [T; 2] {
        let two_delta = self.noise_var + self.noise_var;
        let l = [0, 1].map(|k| self.log_pi[k] - (y - z[k]) * (y - z[k]) / two_delta);
        let e = Real::exp(-Real::abs(l[0] - l[1]));
        let big = T::ONE / (T::ONE + e);
        if l[0] >= l[1] {
            [big, T::ONE - big]
        } else {
            [T::ONE - big, big]
        }
    }

    /// The ridgeline point `z(a)` with `a = σ(t)`: `(ΔΓ + diag(1 − a, a)) z = ΔΓr + y(1 − a, a)ᵀ`
    /// (the type's equation times `Δ`, finite as `Δ → 0`).
    fn ridge(&self, y: T, r: &SVector<T, D>, gamma: &SMatrix<T, D, D>, t: T) -> SVector<T, D> {
        // a = σ(t), 1 − a = σ(−t), each from its own exponential (no cancellation).
        let a = T::ONE / (T::ONE + Real::exp(-t));
        let b = T::ONE / (T::ONE + Real::exp(t));
        let g = gamma * self.noise_var;
        let (m00, m01, m11) = (g[(0, 0)] + b, g[(0, 1)], g[(1, 1)] + a);
        let gr = g * r;
        let (c0, c1) = (gr[0] + y * b, gr[1] + y * a);
        let det = m00 * m11 - m01 * m01;
        let mut z = SVector::<T, D>::zeros();
        z[0] = (m11 * c0 - m01 * c1) / det;
        z[1] = (m00 * c1 - m01 * c0) / det;
        z
    }

    /// `∇f` and the Hessian `H` of the type's docs at `z`.
    fn gradient_hessian(
        &self,
        y: T,
        r: &SVector<T, D>,
        gamma: &SMatrix<T, D, D>,
        z: &SVector<T, D>,
    ) -> (SVector<T, D>, SMatrix<T, D, D>) {
        let w = self.responsibilities(y, z);
        let delta = self.noise_var;
        let mut grad = gamma * (z - r);
        let mut hess = *gamma;
        let mut u = SVector::<T, D>::zeros();
        for k in 0..2 {
            grad[k] -= w[k] * (y - z[k]) / delta;
            hess[(k, k)] += w[k] / delta;
        }
        u[0] = (y - z[0]) / delta;
        u[1] = -(y - z[1]) / delta;
        hess -= u * u.transpose() * (w[0] * w[1]);
        (grad, hess)
    }

    /// The MAP row estimate of the type's docs: the mode `ẑ` of the marginal belief and
    /// `J = H⁻¹Γ`. Only for a MAP estimator (`Δ > 0`).
    pub fn map(&self, y: T, message: RowMessage<'_, T, D>) -> RowEstimate<T, D> {
        let gamma = *message.gamma.matrix();
        let r = message.r;
        let c = message.gamma.inverse();
        let f = |z: &SVector<T, D>| self.objective(y, &r, &gamma, z);
        let at = |t: T| {
            let z = self.ridge(y, &r, &gamma, t);
            (f(&z), z)
        };
        // The t range: z(a) moves where a/Δ is comparable to Γ's eigenvalues.
        let (ev, _) = super::symmetric_eigen(&gamma);
        let span = |v: T| Real::abs(Real::ln(Real::max(v * self.noise_var, T::c(1e-300))));
        let t_max = Real::max(span(ev[0]), span(ev[1])) + T::c(12.0);
        let step = (t_max + t_max) / <T as Real>::from_usize(RIDGE_GRID - 1);
        let ts: [T; RIDGE_GRID] =
            core::array::from_fn(|i| -t_max + step * <T as Real>::from_usize(i));
        let vals: [T; RIDGE_GRID] = core::array::from_fn(|i| at(ts[i]).0);
        if !vals.iter().all(|v| Real::is_finite(*v)) {
            return self.dominant(y, &r, &c, &gamma);
        }
        let mut best: Option<(T, SVector<T, D>)> = None;
        for i in 0..RIDGE_GRID {
            let left = i == 0 || vals[i] <= vals[i - 1];
            let right = i + 1 == RIDGE_GRID || vals[i] <= vals[i + 1];
            if !(left && right) {
                continue;
            }
            // Golden section on [t_{i−1}, t_{i+1}].
            let (mut lo, mut hi) = (ts[i] - step, ts[i] + step);
            let g = T::c(0.618_033_988_749_894_8);
            let (mut x1, mut x2) = (hi - g * (hi - lo), lo + g * (hi - lo));
            let (mut f1, mut f2) = (at(x1).0, at(x2).0);
            for _ in 0..80 {
                if f1 <= f2 {
                    hi = x2;
                    x2 = x1;
                    f2 = f1;
                    x1 = hi - g * (hi - lo);
                    f1 = at(x1).0;
                } else {
                    lo = x1;
                    x1 = x2;
                    f1 = f2;
                    x2 = lo + g * (hi - lo);
                    f2 = at(x2).0;
                }
            }
            let (v, z) = at((lo + hi) * T::HALF);
            let (v, z) = if v <= vals[i] { (v, z) } else { at(ts[i]) };
            if best.as_ref().is_none_or(|(b, _)| v < *b) {
                best = Some((v, z));
            }
        }
        let Some((mut v, mut z)) = best else {
            return self.dominant(y, &r, &c, &gamma);
        };
        // Newton polish on f in z (the golden section leaves z within √ε of the mode, where f
        // is flat to rounding): a step is kept while H is positive definite, the gradient
        // shrinks and f does not rise beyond its rounding.
        let (mut grad, _) = self.gradient_hessian(y, &r, &gamma, &z);
        for _ in 0..8 {
            let (_, hess) = self.gradient_hessian(y, &r, &gamma, &z);
            let Some(inv) = positive_definite_inverse(&hess) else {
                break;
            };
            let next = z - inv * grad;
            let fv = f(&next);
            let (next_grad, _) = self.gradient_hessian(y, &r, &gamma, &next);
            let slack = T::c(64.0) * T::EPSILON * (T::ONE + Real::abs(v));
            if !(fv <= v + slack && next_grad.amax() < grad.amax()) {
                break;
            }
            (v, z, grad) = (Real::min(fv, v), next, next_grad);
        }
        let (_, hess) = self.gradient_hessian(y, &r, &gamma, &z);
        match positive_definite_inverse(&hess) {
            Some(inv) => RowEstimate {
                mean: z,
                jacobian: inv * gamma,
            },
            None => self.dominant(y, &r, &c, &gamma),
        }
    }

    /// The dominant component's mean `m_k` and `J = C_k Γ` (the MAP where `f` overflows).
    fn dominant(
        &self,
        y: T,
        r: &SVector<T, D>,
        c: &SMatrix<T, D, D>,
        gamma: &SMatrix<T, D, D>,
    ) -> RowEstimate<T, D> {
        let parts = [self.component(0, y, r, c), self.component(1, y, r, c)];
        let l = parts.each_ref().map(|p| p.score - T::HALF * Real::ln(p.s));
        let k = if Real::is_finite(Real::max(l[0], l[1])) {
            usize::from(l[1] > l[0])
        } else {
            usize::from(parts[1].t < parts[0].t)
        };
        RowEstimate {
            mean: parts[k].mean,
            jacobian: parts[k].covariance * gamma,
        }
    }
}

/// `H⁻¹` for a 2 × 2 symmetric `H` if it is positive definite (and finite), else `None`.
fn positive_definite_inverse<T: MatReal, const D: usize>(
    h: &SMatrix<T, D, D>,
) -> Option<SMatrix<T, D, D>> {
    let (a, b, d) = (h[(0, 0)], (h[(0, 1)] + h[(1, 0)]) * T::HALF, h[(1, 1)]);
    let det = a * d - b * b;
    if !(a > T::ZERO && det > T::ZERO && Real::is_finite(det)) {
        return None;
    }
    let mut inv = SMatrix::<T, D, D>::zeros();
    inv[(0, 0)] = d / det;
    inv[(1, 1)] = a / det;
    inv[(0, 1)] = -b / det;
    inv[(1, 0)] = -b / det;
    Some(inv)
}

/// The model's refusal of the MAP estimator (see [`MixedLinearDenoiser`]'s docs for why).
pub(crate) const NO_MAP: Error = Error::Unsupported {
    field: "estimator",
    reason: "mixed-linear's MAP (the mode of the marginal belief) jumps between the two \
             components, which ML-Mat-VAMP's average Jacobian and its state evolution cannot \
             see: its runs did not converge at alpha <= 4 and its SE predicted less than the \
             MMSE's error; use estimator = \"mmse\"",
};

/// The refusal of a MAP estimator without noise (see [`MixedLinearDenoiser`]'s docs).
const MAP_NEEDS_NOISE: Error = Error::Unsupported {
    field: "noise_var",
    reason: "mixed-linear MAP needs noise_var > 0 (without noise the belief lives on two \
             lines and has no mode)",
};

/// `Ok` if `0 < π < 1`, else [`Error::InvalidParameter`] naming `pi` (`π ∈ {0, 1}` is plain
/// linear regression on one of the two rows' entries: use the linear channel).
pub(crate) fn check_pi<T: Real>(pi: T) -> Result<(), Error> {
    if pi > T::ZERO && pi < T::ONE {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "pi",
            requirement: "strictly between 0 and 1 (the probability that a sample follows f1)",
        })
    }
}

impl<T: MatReal, const D: usize> ChannelDenoiser<T, D> for MixedLinearDenoiser<T, D> {
    fn name(&self) -> &'static str {
        "mixed-linear"
    }

    /// One number per row.
    fn observation_dim(&self) -> usize {
        1
    }

    /// [`MixedLinearDenoiser::estimate`] (MMSE) or [`MixedLinearDenoiser::map`] for the
    /// observation `y[0]`.
    fn denoise_output(&self, y: &[T], message: RowMessage<'_, T, D>) -> RowEstimate<T, D> {
        match self.estimator {
            Estimator::Mmse => self.estimate(y[0], message).0,
            Estimator::Map => self.map(y[0], message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mat::Precision;
    use nalgebra::{Matrix2, Vector2};
    use proptest::prelude::*;

    type Den = MixedLinearDenoiser<f64, 2>;

    fn gamma(a: f64, b: f64, c: f64) -> Precision<f64, 2> {
        Precision::new(Matrix2::new(a, b, b, c)).unwrap()
    }

    /// `ln [P(y | z) e^{−½‖z − r‖²_Γ}]` written from the model: the two components' densities
    /// summed (the slow obvious form the closed forms are checked against).
    fn log_belief(
        pi: f64,
        delta: f64,
        y: f64,
        r: &Vector2<f64>,
        g: &Matrix2<f64>,
        z: &Vector2<f64>,
    ) -> f64 {
        let n = |e: f64| (-0.5 * e * e / delta).exp() / (2.0 * std::f64::consts::PI * delta).sqrt();
        let lik = pi * n(y - z[0]) + (1.0 - pi) * n(y - z[1]);
        let d = z - r;
        lik.ln() - 0.5 * d.dot(&(g * d))
    }

    /// Mean and covariance of the belief by a midpoint rule on a 1200² grid of ±10 message
    /// standard deviations around `r`.
    fn brute_moments(
        pi: f64,
        delta: f64,
        y: f64,
        r: &Vector2<f64>,
        g: &Precision<f64, 2>,
    ) -> (Vector2<f64>, Matrix2<f64>) {
        let c = g.inverse();
        let (s0, s1) = (c[(0, 0)].sqrt() * 10.0, c[(1, 1)].sqrt() * 10.0);
        let k = 1200;
        let (mut w, mut m1, mut m2) = (0.0, Vector2::zeros(), Matrix2::zeros());
        for i in 0..k {
            for j in 0..k {
                let z = Vector2::new(
                    r[0] + s0 * (2.0 * (i as f64 + 0.5) / k as f64 - 1.0),
                    r[1] + s1 * (2.0 * (j as f64 + 0.5) / k as f64 - 1.0),
                );
                let p = log_belief(pi, delta, y, r, g.matrix(), &z).exp();
                w += p;
                m1 += z * p;
                m2 += z * z.transpose() * p;
            }
        }
        let mean = m1 / w;
        (mean, m2 / w - mean * mean.transpose())
    }

    #[test]
    fn mmse_matches_brute_force_integration() {
        let cases = [
            (0.3, 0.1, 0.7, Vector2::new(0.2, -0.4), gamma(2.0, 0.5, 1.5)),
            (
                0.5,
                0.5,
                -1.2,
                Vector2::new(1.0, 0.3),
                gamma(1.0, -0.3, 0.8),
            ),
            (
                0.8,
                0.05,
                2.0,
                Vector2::new(-0.5, 1.5),
                gamma(3.0, 1.0, 2.0),
            ),
        ];
        for (pi, delta, y, r, g) in cases {
            let (est, cov) = Den::new(pi, delta, Estimator::Mmse)
                .unwrap()
                .estimate(y, RowMessage::new(r, &g));
            let (mean, bcov) = brute_moments(pi, delta, y, &r, &g);
            assert!((est.mean - mean).amax() < 1e-5, "{} vs {}", est.mean, mean);
            assert!((cov - bcov).amax() < 1e-5, "{cov} vs {bcov}");
            assert!((est.jacobian - cov * g.matrix()).amax() < 1e-12);
        }
    }

    /// `J` by central differences of the estimate in `r`.
    fn fd_jacobian(den: &Den, y: f64, r: Vector2<f64>, g: &Precision<f64, 2>) -> Matrix2<f64> {
        let h = 1e-6;
        let mut j = Matrix2::zeros();
        for c in 0..2 {
            let mut e = Vector2::zeros();
            e[c] = h;
            let up = den.estimate(y, RowMessage::new(r + e, g)).0.mean;
            let down = den.estimate(y, RowMessage::new(r - e, g)).0.mean;
            j.set_column(c, &((up - down) / (2.0 * h)));
        }
        j
    }

    proptest! {
        #[test]
        fn jacobians_are_finite_differences_and_outputs_finite(
            pi in 0.05f64..0.95, delta in 1e-3f64..2.0, y in -3.0f64..3.0,
            r0 in -2.0f64..2.0, r1 in -2.0f64..2.0, a in 0.2f64..5.0, c in 0.2f64..5.0, rho in -0.9f64..0.9,
        ) {
            let g = gamma(a, rho * (a * c).sqrt(), c);
            let r = Vector2::new(r0, r1);
            {
                let den = Den::new(pi, delta, Estimator::Mmse).unwrap();
                let (est, cov) = den.estimate(y, RowMessage::new(r, &g));
                prop_assert!(est.mean.iter().chain(est.jacobian.iter()).all(|v| v.is_finite()));
                let ev = crate::mat::symmetric_eigen(&cov).0;
                prop_assert!(ev.iter().all(|&v| v > -1e-12), "covariance {}", cov);
                let fd = fd_jacobian(&den, y, r, &g);
                prop_assert!((fd - est.jacobian).amax() < 1e-5 * (1.0 + est.jacobian.amax()), "{} vs {}", fd, est.jacobian);
            }
        }
    }

    #[test]
    fn one_dominant_component_is_the_linear_observation() {
        // π → 1 with y far from r_1: the belief is the Gaussian of y = z₀ + ξ, whose posterior
        // is (Γ + e₀e₀ᵀ/Δ)⁻¹ (Γ r + e₀ y/Δ).
        let (delta, y, r, g) = (0.3, 0.8, Vector2::new(0.1, 0.2), gamma(2.0, 0.6, 1.0));
        let (est, cov) = Den::new(1.0 - 1e-15, delta, Estimator::Mmse)
            .unwrap()
            .estimate(y, RowMessage::new(r, &g));
        let e0 = Vector2::new(1.0, 0.0);
        let p = g.matrix() + e0 * e0.transpose() / delta;
        let inv = p.try_inverse().unwrap();
        let mean = inv * (g.matrix() * r + e0 * (y / delta));
        assert!((est.mean - mean).amax() < 1e-12 && (cov - inv).amax() < 1e-12);
    }

    /// `∇_z` of `−log_belief` by central differences (the test's own objective).
    fn fd_gradient(
        pi: f64,
        delta: f64,
        y: f64,
        r: &Vector2<f64>,
        g: &Matrix2<f64>,
        z: &Vector2<f64>,
    ) -> Vector2<f64> {
        let h = 1e-6 * (1.0 + z.amax());
        Vector2::from_fn(|k, _| {
            let mut e = Vector2::zeros();
            e[k] = h;
            -(log_belief(pi, delta, y, r, g, &(z + e)) - log_belief(pi, delta, y, r, g, &(z - e)))
                / (2.0 * h)
        })
    }

    /// `(π, Δ, y, r, Γ)`.
    type Case = (f64, f64, f64, Vector2<f64>, Precision<f64, 2>);

    /// MAP cases: bimodal beliefs (y between the two entries of r, comparable weights), one
    /// dominant component, correlated precisions.
    fn map_cases() -> [Case; 6] {
        [
            (0.5, 0.1, 0.0, Vector2::new(-1.0, 1.0), gamma(2.0, 0.0, 2.0)),
            (
                0.3,
                0.05,
                0.2,
                Vector2::new(-1.0, 1.2),
                gamma(1.5, 0.7, 3.0),
            ),
            (0.7, 0.5, 1.0, Vector2::new(0.0, 0.5), gamma(1.0, -0.3, 0.8)),
            (
                0.5,
                0.01,
                0.1,
                Vector2::new(1.0, -0.8),
                gamma(4.0, 1.0, 4.0),
            ),
            (0.2, 1.0, -2.0, Vector2::new(0.3, 0.1), gamma(0.5, 0.2, 0.5)),
            (
                0.5,
                0.02,
                0.0,
                Vector2::new(-0.5, 0.5),
                gamma(1.0, 0.95, 1.0),
            ),
        ]
    }

    #[test]
    fn map_is_stationary_and_the_global_minimum_of_a_grid() {
        // Against the test's own objective −log_belief: the gradient by central differences
        // vanishes at ẑ, and no point of a 1601² grid over ±6 standard deviations of the
        // message around r (which holds both components' modes here) is lower: the grid's
        // minimum bounds the global one from above, so f(ẑ) ≤ grid min (up to rounding) holds
        // only if ẑ is in the global minimum's basin and converged.
        for (case, (pi, delta, y, r, g)) in map_cases().into_iter().enumerate() {
            let den = Den::new(pi, delta, Estimator::Map).unwrap();
            let est = den.map(y, RowMessage::new(r, &g));
            let z = est.mean;
            let grad = fd_gradient(pi, delta, y, &r, g.matrix(), &z);
            assert!(
                grad.amax() < 1e-6 * (1.0 + 1.0 / delta),
                "case {case}: ∇f {grad}"
            );
            let fz = -log_belief(pi, delta, y, &r, g.matrix(), &z);
            let c = g.inverse();
            let (s0, s1) = (c[(0, 0)].sqrt() * 6.0, c[(1, 1)].sqrt() * 6.0);
            let k = 1600;
            let mut grid_min = f64::INFINITY;
            let mut arg = Vector2::zeros();
            for i in 0..=k {
                for j in 0..=k {
                    let p = Vector2::new(
                        r[0] + s0 * (2.0 * i as f64 / k as f64 - 1.0),
                        r[1] + s1 * (2.0 * j as f64 / k as f64 - 1.0),
                    );
                    let v = -log_belief(pi, delta, y, &r, g.matrix(), &p);
                    if v < grid_min {
                        grid_min = v;
                        arg = p;
                    }
                }
            }
            assert!(
                fz <= grid_min + 1e-12 * grid_min.abs().max(1.0),
                "case {case}: f(ẑ) {fz} > grid {grid_min} at {arg} (ẑ {z})"
            );
            // And the grid's best point is near ẑ (the same basin, to the grid's spacing).
            assert!(
                (arg - z).amax() < 2.0 * s0.max(s1) * 2.0 / k as f64 + 1e-3,
                "case {case}: {arg} vs {z}"
            );
        }
    }

    proptest! {
        #[test]
        fn map_jacobian_is_finite_differences(
            pi in 0.05f64..0.95, delta in 1e-2f64..2.0, y in -3.0f64..3.0,
            r0 in -2.0f64..2.0, r1 in -2.0f64..2.0, a in 0.2f64..5.0, c in 0.2f64..5.0, rho in -0.9f64..0.9,
        ) {
            let g = gamma(a, rho * (a * c).sqrt(), c);
            let r = Vector2::new(r0, r1);
            let den = Den::new(pi, delta, Estimator::Map).unwrap();
            let est = den.map(y, RowMessage::new(r, &g));
            prop_assert!(est.mean.iter().chain(est.jacobian.iter()).all(|v| v.is_finite()));
            // Central differences, skipped where the mode jumps between the components
            // within ±h (the estimator is discontinuous there; see the type's docs).
            let h = 1e-6;
            let mut fd = Matrix2::zeros();
            let mut jumped = false;
            for col in 0..2 {
                let mut e = Vector2::zeros();
                e[col] = h;
                let up = den.map(y, RowMessage::new(r + e, &g)).mean;
                let down = den.map(y, RowMessage::new(r - e, &g)).mean;
                jumped |= (up - est.mean).amax() > 1e-3 || (down - est.mean).amax() > 1e-3;
                fd.set_column(col, &((up - down) / (2.0 * h)));
            }
            prop_assume!(!jumped);
            prop_assert!((fd - est.jacobian).amax() < 1e-4 * (1.0 + est.jacobian.amax()), "{} vs {}", fd, est.jacobian);
        }
    }

    #[test]
    fn hostile_inputs_stay_finite() {
        let g = gamma(1e8, 0.0, 1e-8);
        for delta in [0.0, 1e-30, 1e-12, 1e12] {
            for y in [1e300, 1e150, -1e8, 0.0] {
                if delta > 0.0 {
                    let est = Den::new(0.5, delta, Estimator::Map)
                        .unwrap()
                        .map(y, RowMessage::new(Vector2::new(3.0, -1e5), &g));
                    assert!(
                        est.mean
                            .iter()
                            .chain(est.jacobian.iter())
                            .all(|v| v.is_finite()),
                        "MAP Δ {delta} y {y}: {est:?}"
                    );
                }
                {
                    let (est, cov) = Den::new(0.5, delta, Estimator::Mmse)
                        .unwrap()
                        .estimate(y, RowMessage::new(Vector2::new(3.0, -1e5), &g));
                    assert!(
                        est.mean
                            .iter()
                            .chain(est.jacobian.iter())
                            .chain(cov.iter())
                            .all(|v| v.is_finite()),
                        "Δ {delta} y {y}: {est:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_parameters_are_typed_errors() {
        for pi in [0.0, 1.0, -0.1, 2.0, f64::NAN] {
            assert!(matches!(
                Den::new(pi, 0.1, Estimator::Mmse),
                Err(Error::InvalidParameter { name: "pi", .. })
            ));
        }
        for delta in [-1.0, 1e-40, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                Den::new(0.5, delta, Estimator::Mmse),
                Err(Error::InvalidParameter {
                    name: "noise_var",
                    ..
                })
            ));
        }
        assert!(matches!(
            MixedLinearDenoiser::<f64, 3>::new(0.5, 0.1, Estimator::Mmse),
            Err(Error::Unsupported { field: "d", .. })
        ));
        assert!(matches!(
            Den::new(0.5, 0.0, Estimator::Map),
            Err(Error::Unsupported {
                field: "noise_var",
                ..
            })
        ));
        assert!(Den::new(0.5, 0.1, Estimator::Map).is_ok());
        let den = Den::new(0.5, 0.1, Estimator::Mmse).unwrap();
        assert!(
            den.check_observation(&[f64::NAN]).is_err()
                && den.check_observation(&[1.0, 2.0]).is_err()
        );
        assert!(den.check_observation(&[1.0]).is_ok());
    }
}
