//! The row estimator of the mixed linear regression output `y = q z₀ + (1 − q) z₁ + ξ`,
//! `q ~ Bernoulli(π)`, `ξ ~ N(0, Δ)` (eq. 6 of Pandit, Sahraee-Ardakan, Rangan, Schniter,
//! Fletcher, *Matrix inference and estimation in multi-layer models*; their `x_iᵀ f₁` and
//! `x_iᵀ f₂` are our `z₀`, `z₁`, the two entries of a row of `Z = X F`): the belief
//! `b(z) ∝ P(y | z) exp(−½ (z − r)ᵀ Γ (z − r))` is a mixture of two Gaussians, so its MMSE
//! estimator is a closed form.

use super::entry_observation::EntryObservation;
use super::{ChannelDenoiser, MatReal, PairEstimate, RowEstimate, RowMessage};
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
/// **No MAP.** Every mode of this belief is a discontinuous function of `r`: the joint mode
/// of `(z, q)` (the component of larger `ln π_k − (y − r_k)²/(2 s_k)`) and the mode of the
/// marginal belief (which is bimodal wherever the two components' evidences are comparable)
/// jump between the two components, and ML-Mat-VAMP's and its state evolution's
/// `⟨∂G/∂R⟩` (the average Jacobian) misses the jumps' contribution (the jump times the density
/// of `r` on the switching boundary, by Stein's lemma). Tried on the joint mode: the run at
/// `α = 4`, `π = 0.3`, `Δ = 0.01`, `n = 500` did not converge (MSE 0.63) while its SE predicted
/// 0.028, below the MMSE's 0.051 — impossible. So the constructor refuses MAP.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixedLinearDenoiser<T, const D: usize> {
    /// `(ln π, ln(1 − π))`.
    log_pi: [T; 2],
    noise_var: T,
}

impl<T: MatReal, const D: usize> MixedLinearDenoiser<T, D> {
    /// The MMSE estimator (`estimator` must be [`Estimator::Mmse`]) for the mixing weight `pi`
    /// (of `z₀`) and noise `noise_var`.
    ///
    /// Errors: [`Error::Unsupported`] naming `d` unless `D = 2`, naming `estimator` for MAP
    /// (see the type's docs); [`Error::InvalidParameter`]
    /// naming `pi` unless `0 < π < 1`, `noise_var` unless `Δ` is 0 or in `[1e-30, 1e30]`
    /// ([`crate::error::noise_scale`]).
    pub fn new(pi: T, noise_var: T, estimator: Estimator) -> Result<Self, Error> {
        if D != 2 {
            return Err(Error::Unsupported {
                field: "d",
                reason: "mixed linear regression has rows of d = 2 (the two regressors)",
            });
        }
        if estimator == Estimator::Map {
            return Err(NO_MAP);
        }
        check_pi(pi)?;
        crate::error::noise_scale("noise_var", noise_var)?;
        Ok(Self {
            log_pi: [Real::ln(pi), Real::ln(T::ONE - pi)],
            noise_var,
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

/// The refusal of a MAP estimator (see [`MixedLinearDenoiser`]'s docs for why).
pub(crate) const NO_MAP: Error = Error::Unsupported {
    field: "estimator",
    reason: "mixed-linear has no MAP estimator (its modes jump between the two components, \
             which the algorithm's average Jacobian cannot see): use estimator = \"mmse\"",
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

    /// Not defined: mixed linear regression is only an output layer (its kind refuses to be
    /// a hidden one). Returns NaN estimates, so a caller that ignored that check sees it.
    fn denoise_pair(
        &self,
        _output: RowMessage<'_, T, D>,
        _input: RowMessage<'_, T, D>,
    ) -> PairEstimate<T, D> {
        PairEstimate::undefined()
    }

    /// One number per row.
    fn observation_dim(&self) -> usize {
        1
    }

    /// [`MixedLinearDenoiser::estimate`] for the observation `y[0]`.
    fn denoise_output(&self, y: &[T], message: RowMessage<'_, T, D>) -> RowEstimate<T, D> {
        self.estimate(y[0], message).0
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

    #[test]
    fn hostile_inputs_stay_finite() {
        let g = gamma(1e8, 0.0, 1e-8);
        for delta in [0.0, 1e-30, 1e-12, 1e12] {
            for y in [1e300, 1e150, -1e8, 0.0] {
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
            Den::new(0.5, 0.1, Estimator::Map),
            Err(Error::Unsupported {
                field: "estimator",
                ..
            })
        ));
        let den = Den::new(0.5, 0.1, Estimator::Mmse).unwrap();
        assert!(
            den.check_observation(&[f64::NAN]).is_err()
                && den.check_observation(&[1.0, 2.0]).is_err()
        );
        assert!(den.check_observation(&[1.0]).is_ok());
    }
}
