//! The extrinsic step of ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher,
//! *Matrix inference and estimation in multi-layer models*, Algorithm 1, lines 5–7, 10–12,
//! 16–18, 21–23), for one variable: from the mean Jacobian `⟨J⟩` of a factor's estimates in
//! the incoming message `(R_in, Γ_in)`, the outgoing precision and the gain of its means,
//!
//! `⟨C⟩ = ⟨J⟩ Γ_in⁻¹`, `Λ = ⟨C⟩⁻¹`, `Γ_out = Λ − Γ_in`,
//! `r_out = Γ_out⁻¹ (Λ ẑ − Γ_in r_in) = ẑ + B (ẑ − r_in)` with the gain `B = Γ_out⁻¹ Γ_in`.
//!
//! The algorithm ([`super::MlVamp`]) applies it to the rows of an instance, the state
//! evolution to its Monte-Carlo rows: the same decisions, written once.
//!
//! # Safeguards, all counted
//!
//! With `ρ` the variable's prior second moment per entry and `ε_v = ε^{3/4}` (`ε` the float's
//! epsilon: 1.8e-12 for f64, 6.5e-6 for f32):
//! - `⟨C⟩` may be singular (a noiseless output, a perfectly recovered variable): its
//!   eigenvalues are floored at `ε_v ρ`, each raised eigenvalue one intervention.
//! - A variable's first forward update whose `⟨C⟩` needed a floor is rejected (see the first
//!   pass in [`super`]'s docs): one more intervention.
//! - `Γ_out = Λ − Γ_in` is a difference of positive definite matrices. Where an eigenvalue is
//!   below `ε_v / ρ` the factor adds no information in that direction (an output that
//!   observes fewer numbers per row than `d`, like the committee's one; a non-log-concave
//!   factor early on; the averaging over rows). If that holds in *every* direction, the
//!   update is rejected and the previous message kept, as expectation propagation skips
//!   updates with negative precisions (one intervention, `d = 1` always takes this branch).
//!   Otherwise the informative directions are kept and each deficient eigenvalue is raised to
//!   `max(ε_v/ρ, c λ_max(Γ_out))`, `c =` [`BLIND_RELATIVE_PRECISION`] — a message that says
//!   almost nothing there — one intervention per raised eigenvalue. The gain leaves those
//!   directions out: `B = Σ_{i informative} v_i v_iᵀ Γ_in / λ_i` over the eigenpairs
//!   `(λ_i, v_i)` of `Λ − Γ_in`, so the blind components of `r_out` are `ẑ`'s. The exact
//!   rule's `Γ_out⁻¹ Γ_in` would amplify the rows' scatter of `ẑ − r_in` in a blind direction
//!   by `λ_max(Γ_in) / (c λ_max(Γ_out))` (10⁵–10⁶ on the section-5 committee), and those
//!   means, fed back through the linear layer, blew 3 of 10 runs up (MSE of F1 from 1 to
//!   10³ within two iterations at N = 3000, 15 dB).

use crate::error::Error;
use crate::mat::{MatReal, Precision, symmetric_eigen};
use crate::real::Real;
use nalgebra::SMatrix;

/// What the extrinsic step decided for one variable's outgoing message.
#[derive(Clone, Copy, Debug)]
pub enum Extrinsic<T: MatReal, const D: usize> {
    /// The new (undamped) outgoing precision `Γ_out` and the gain `B = Γ_out⁻¹ Γ_in` of
    /// `r_out = ẑ + B (ẑ − r_in)`.
    Accepted {
        /// `Γ_out`.
        gamma: Precision<T, D>,
        /// `B = Γ_out⁻¹ Γ_in`.
        gain: SMatrix<T, D, D>,
        /// Eigenvalues raised (of `⟨C⟩` and of `Γ_out`).
        interventions: usize,
    },
    /// The previous outgoing message stands.
    Rejected {
        /// Eigenvalues of `⟨C⟩` raised, plus one for the rejection.
        interventions: usize,
    },
}

impl<T: MatReal, const D: usize> Extrinsic<T, D> {
    /// The interventions the step counted.
    pub fn interventions(&self) -> usize {
        match *self {
            Extrinsic::Accepted { interventions, .. } | Extrinsic::Rejected { interventions } => {
                interventions
            }
        }
    }
}

/// The precision sent in a direction where a factor adds no information, relative to the
/// largest eigenvalue of the message: the message's condition number stays below 10⁴ (the
/// gain leaves the blind directions out, so their means are the estimate's).
pub const BLIND_RELATIVE_PRECISION: f64 = 1e-4;

/// `ε^{3/4}`: the relative floor of covariances and precisions.
pub fn relative_floor<T: Real>() -> T {
    Real::exp(T::c(0.75) * Real::ln(T::EPSILON))
}

/// The extrinsic step's precision (see the module docs): from the mean Jacobian `jac` of the
/// estimates in the incoming message of precision `gamma_in`, for a variable of prior second
/// moment `scale` per entry; `first_forward` marks a forward update of a variable that has not
/// had one accepted yet.
///
/// Errors: [`Error::NonFinite`] for a non-finite `jac`; [`Error::InvalidParameter`] for a
/// `scale` that is not finite and positive.
pub fn extrinsic<T: MatReal, const D: usize>(
    jac: &SMatrix<T, D, D>,
    gamma_in: &Precision<T, D>,
    scale: T,
    first_forward: bool,
) -> Result<Extrinsic<T, D>, Error> {
    crate::error::positive("second moment", scale)?;
    let eps = relative_floor::<T>();
    // ⟨C⟩ = ⟨J⟩ Γ_in⁻¹ = (Γ_in⁻¹ ⟨J⟩ᵀ)ᵀ, floored; Λ = ⟨C⟩⁻¹.
    let cov = gamma_in.solve_matrix(&jac.transpose()).transpose();
    let (cov, raised_c) = Precision::with_floor(cov, eps * scale)?;
    if raised_c > 0 && first_forward {
        return Ok(Extrinsic::Rejected {
            interventions: raised_c + 1,
        });
    }
    let lambda = Precision::from_covariance(cov.into_matrix())?;
    let diff = lambda.matrix() - gamma_in.matrix();
    let (values, vectors) = symmetric_eigen(&diff);
    let floor = eps / scale;
    let deficient = values.iter().filter(|&&v| v < floor).count();
    if deficient == D {
        return Ok(Extrinsic::Rejected {
            interventions: raised_c + 1,
        });
    }
    let top = values.iter().fold(T::ZERO, |m, &v| Real::max(m, v));
    let floor = if deficient > 0 {
        Real::max(floor, T::c(BLIND_RELATIVE_PRECISION) * top)
    } else {
        floor
    };
    let (gamma, _) = Precision::with_floor(diff, floor)?;
    let gain = if deficient > 0 {
        // B = Σ_{i informative} v_i v_iᵀ Γ_in / λ_i: the blind components of r_out are ẑ's.
        let mut inverse = SMatrix::<T, D, D>::zeros();
        for (i, &v) in values.iter().enumerate() {
            if v >= floor {
                let u = vectors.column(i);
                inverse += u * u.transpose() / v;
            }
        }
        inverse * gamma_in.matrix()
    } else {
        gamma.solve_matrix(gamma_in.matrix())
    };
    Ok(Extrinsic::Accepted {
        gamma,
        gain,
        interventions: raised_c + deficient,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Matrix2;

    fn precision(m: Matrix2<f64>) -> Precision<f64, 2> {
        Precision::new(m).unwrap()
    }

    #[test]
    fn a_gaussian_factor_gives_its_own_precision_back() {
        // A Gaussian factor of precision P with the message Γ_in: J = (P + Γ_in)⁻¹ Γ_in, so
        // ⟨C⟩ = (P + Γ_in)⁻¹ and Γ_out = P exactly.
        let p = Matrix2::new(2.0, 0.5, 0.5, 1.0);
        let g = precision(Matrix2::new(1.0, -0.2, -0.2, 3.0));
        let jac = precision(p + g.matrix()).solve_matrix(g.matrix());
        match extrinsic(&jac, &g, 1.0, false).unwrap() {
            Extrinsic::Accepted {
                gamma,
                gain,
                interventions,
            } => {
                assert_eq!(interventions, 0);
                assert!((gamma.matrix() - p).abs().max() < 1e-12);
                assert!((p * gain - g.matrix()).abs().max() < 1e-12);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_factor_blind_in_one_direction_sends_nothing_there() {
        // A factor that observes only the first coordinate (precision diag(4, 0)): Γ_out keeps
        // the 4 and says c·4 in the blind direction (c = BLIND_RELATIVE_PRECISION); the
        // update is not rejected.
        let p = Matrix2::new(4.0, 0.0, 0.0, 0.0);
        let g = precision(Matrix2::new(1.0, 0.0, 0.0, 2.0));
        let jac = precision(p + g.matrix()).solve_matrix(g.matrix());
        match extrinsic(&jac, &g, 1.0, false).unwrap() {
            Extrinsic::Accepted {
                gamma,
                gain,
                interventions,
            } => {
                assert_eq!(interventions, 1);
                assert!((gamma.matrix()[(0, 0)] - 4.0).abs() < 1e-12);
                let blind = gamma.matrix()[(1, 1)];
                assert!(
                    (blind - BLIND_RELATIVE_PRECISION * 4.0).abs() < 1e-12 * 4.0,
                    "{blind}"
                );
                // The gain: Γ_in/4 in the informative direction, nothing in the blind one,
                // where r_out is ẑ.
                let want = Matrix2::new(0.25, 0.0, 0.0, 0.0);
                assert!((gain - want).abs().max() < 1e-12, "{gain}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_information_anywhere_and_a_floored_first_forward_update_are_rejected() {
        let g = precision(Matrix2::new(1.0, 0.0, 0.0, 2.0));
        // J = I: ⟨C⟩ = Γ_in⁻¹, Γ_out = 0 in both directions.
        let r = extrinsic(&Matrix2::identity(), &g, 1.0, false).unwrap();
        assert!(
            matches!(r, Extrinsic::Rejected { interventions: 1 }),
            "{r:?}"
        );
        // J = 0 (a MAP estimate that does not move): ⟨C⟩ floored twice; a first forward
        // update is rejected, a later one sends the (legitimately) huge precision.
        let r = extrinsic(&Matrix2::zeros(), &g, 1.0, true).unwrap();
        assert!(
            matches!(r, Extrinsic::Rejected { interventions: 3 }),
            "{r:?}"
        );
        let r = extrinsic(&Matrix2::zeros(), &g, 1.0, false).unwrap();
        assert!(
            matches!(
                r,
                Extrinsic::Accepted {
                    interventions: 2,
                    ..
                }
            ),
            "{r:?}"
        );
        assert!(extrinsic(&Matrix2::from_element(f64::NAN), &g, 1.0, false).is_err());
        assert!(extrinsic(&Matrix2::identity(), &g, 0.0, false).is_err());
    }
}
