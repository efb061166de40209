//! The row estimator of the masked Gaussian output (imputation / matrix completion, section
//! 2.4 of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and
//! estimation in multi-layer models*): the data matrix `Z_{L−1}` (our last layer's
//! pre-activation, `n × d`) is observed only on the entries `Ω`, `y_ij = z_ij + ξ_ij`,
//! `ξ_ij ~ N(0, Δ)`, `(i, j) ∈ Ω`. The kind is [`crate::channel::Masked`].
//!
//! **The observed row.** Row `i` of the observation has `2d` entries: the values `v`
//! (`v_j = y_ij` where observed, ignored elsewhere; the sampler writes 0 there) and then the
//! mask `m` (`m_j = 1` observed, `0` missing). Missing entries carry no NaN.

use super::entry_observation::EntryObservation;
use super::{ChannelDenoiser, MatReal, RowEstimate, RowMessage};
use crate::error::Error;
use crate::estimator::Estimator;
use crate::real::Real;
use nalgebra::SMatrix;

/// The row estimator of the masked Gaussian output, MAP and MMSE alike (see the module docs
/// for the observed row `(v, m)`).
///
/// With `P = diag(m)` the likelihood of the row is `∝ exp(−½ (v − z)ᵀ P (v − z)/Δ)`,
/// Gaussian in the observed coordinates and flat in the missing ones, so the belief
/// `b(z) ∝ exp(−½ ‖P(v − z)‖²/Δ − ½ (z − r)ᵀ Γ (z − r))` is Gaussian: its mode (the MAP,
/// the row's part of the paper's eq. 10, `‖Y − Z_{L−1}‖²_Ω` weighted by `1/(2Δ)`) and its
/// mean (the MMSE) coincide,
///
/// `ẑ = (Γ + P/Δ)⁻¹ (Γ r + P v/Δ)`, `J = ∂ẑ/∂r = (Γ + P/Δ)⁻¹ Γ`.
///
/// Computed as one `EntryObservation` (a rank-one Kalman update) per observed entry, in
/// column order, on the message's covariance `C = Γ⁻¹`: each multiplies the Jacobian by `I − C' e_k e_kᵀ/s` (`C'` the
/// covariance so far), ending at `J = I − C P (P C P + Δ P)⁺ P = Cov Γ` without dividing by
/// `Δ`, so `Δ = 0` (exact observations: `ẑ_j = v_j` on `Ω`, the Gaussian conditional of
/// the missing entries given them) is the same code. A row without observed entries returns
/// the message itself (`ẑ = r`, `J = I`). When `Δ = 0` and an entry is already determined
/// by the entries observed before it (`s ≤ ε C_kk`, only for a singular `C`'s rounding), its
/// update is skipped rather than dividing by a rounding residue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskedDenoiser<T, const D: usize> {
    noise_var: T,
}

/// The requirement of a mask entry.
const MASK_VALUES: &str =
    "0 (missing) or 1 (observed) in each of the last d entries of an observed row";

impl<T: MatReal, const D: usize> MaskedDenoiser<T, D> {
    /// The estimator for noise variance `noise_var`; `estimator` may be either (the MAP and
    /// the MMSE coincide).
    ///
    /// Errors ([`Error::InvalidParameter`]): `"noise_var"` unless `Δ` is 0 or in
    /// `[1e-30, 1e30]` ([`crate::error::noise_scale`]).
    pub fn new(noise_var: T, estimator: Estimator) -> Result<Self, Error> {
        let _ = estimator;
        crate::error::noise_scale("noise_var", noise_var)?;
        Ok(Self { noise_var })
    }

    /// `Δ`.
    pub fn noise_var(&self) -> T {
        self.noise_var
    }

    /// The estimate of the type's docs for the values `v` and mask `m` (`D` entries each; a
    /// mask entry is observed iff it is not 0), and the belief's covariance
    /// `(Γ + P/Δ)⁻¹`.
    pub fn estimate(
        &self,
        values: &[T],
        mask: &[T],
        message: RowMessage<'_, T, D>,
    ) -> (RowEstimate<T, D>, SMatrix<T, D, D>) {
        let c0 = message.gamma.inverse();
        let mut mean = message.r;
        let mut cov = c0;
        let mut jacobian = SMatrix::<T, D, D>::identity();
        for k in (0..D).filter(|&k| mask[k] != T::ZERO) {
            let obs = EntryObservation::new(&mean, &cov, k, values[k], self.noise_var);
            // Also skips a NaN s (never from a finite message).
            if obs.s.partial_cmp(&(T::EPSILON * c0[(k, k)])) != Some(core::cmp::Ordering::Greater) {
                continue;
            }
            let row_k = jacobian.row(k).into_owned();
            jacobian -= obs.column * row_k / obs.s;
            mean = obs.mean;
            cov = obs.covariance;
        }
        let cov = (cov + cov.transpose()) * T::HALF;
        (RowEstimate { mean, jacobian }, cov)
    }

    /// `Ok(())` if `y` is an observed row: `2D` entries ([`Error::ShapeMismatch`] naming the
    /// masked row otherwise: a row written for another `d`), all finite
    /// ([`Error::NonFinite`]), and mask entries 0 or 1 ([`Error::InvalidParameter`] naming
    /// `mask`).
    pub fn check_row(y: &[T]) -> Result<(), Error> {
        crate::error::length(
            "masked observation row (d values, then d mask entries)",
            y,
            2 * D,
        )?;
        if !y.iter().all(|v| Real::is_finite(*v)) {
            return Err(Error::NonFinite {
                what: "observation",
            });
        }
        if y[D..].iter().all(|&m| m == T::ZERO || m == T::ONE) {
            Ok(())
        } else {
            Err(Error::InvalidParameter {
                name: "mask",
                requirement: MASK_VALUES,
            })
        }
    }
}

/// `Ok(())` if the mask of the observation `y` (rows of `2d`: `d` values, `d` mask entries)
/// has at least one observed entry, else [`Error::InvalidParameter`] naming `observed`: an
/// observation with an empty mask carries no data.
pub fn check_mask_not_empty<T: Real>(y: &[T], d: usize) -> Result<(), Error> {
    let any = y
        .chunks_exact(2 * d.max(1))
        .any(|row| row[d..].iter().any(|&m| m != T::ZERO));
    if any {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "observed",
            requirement: "a mask with at least one observed entry (this one observes nothing)",
        })
    }
}

impl<T: MatReal, const D: usize> ChannelDenoiser<T, D> for MaskedDenoiser<T, D> {
    fn name(&self) -> &'static str {
        "masked"
    }

    /// `2D`: the values, then the mask.
    fn observation_dim(&self) -> usize {
        2 * D
    }

    /// [`MaskedDenoiser::estimate`] for the row `y = (v, m)`.
    fn denoise_output(&self, y: &[T], message: RowMessage<'_, T, D>) -> RowEstimate<T, D> {
        self.estimate(&y[..D], &y[D..2 * D], message).0
    }

    /// [`MaskedDenoiser::check_row`].
    fn check_observation(&self, y: &[T]) -> Result<(), Error> {
        Self::check_row(y)
    }

    /// Every row ([`MaskedDenoiser::check_row`]) and a mask that observes something
    /// ([`check_mask_not_empty`]).
    fn check_observations(&self, y: &[T]) -> Result<(), Error> {
        for row in y.chunks(2 * D) {
            Self::check_row(row)?;
        }
        check_mask_not_empty(y, D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mat::Precision;
    use nalgebra::{Matrix2, Matrix3, SVector, Vector2, Vector3};
    use proptest::prelude::*;

    fn gamma2(a: f64, b: f64, c: f64) -> Precision<f64, 2> {
        Precision::new(Matrix2::new(a, b, b, c)).unwrap()
    }

    /// `(Γ + P/Δ)⁻¹ (Γ r + P v/Δ)` and `(Γ + P/Δ)⁻¹` by a plain inverse (`Δ > 0`): the slow
    /// obvious form of the type's docs.
    fn direct<const D: usize>(
        delta: f64,
        v: &[f64],
        m: &[f64],
        r: &SVector<f64, D>,
        g: &SMatrix<f64, D, D>,
    ) -> (SVector<f64, D>, SMatrix<f64, D, D>) {
        let p = SMatrix::<f64, D, D>::from_fn(|i, j| if i == j { m[i] } else { 0.0 });
        let vv = SVector::<f64, D>::from_column_slice(v);
        let inv = (g + p / delta).try_inverse().unwrap();
        (inv * (g * r + p * vv / delta), inv)
    }

    /// Mean and covariance of the belief of a row of 2 by a midpoint rule on a 1200² grid of
    /// ±10 message standard deviations around `r`, from the model's densities.
    fn brute_moments(
        delta: f64,
        v: [f64; 2],
        m: [f64; 2],
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
                let mut log = 0.0;
                for e in 0..2 {
                    if m[e] == 1.0 {
                        log -= 0.5 * (v[e] - z[e]).powi(2) / delta;
                    }
                }
                let dz = z - r;
                log -= 0.5 * dz.dot(&(g.matrix() * dz));
                let p = log.exp();
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
        let g = gamma2(2.0, 0.7, 1.5);
        let r = Vector2::new(0.3, -0.8);
        for (delta, v, m) in [
            (0.1, [1.2, 0.0], [1.0, 0.0]),
            (0.1, [0.0, -2.0], [0.0, 1.0]),
            (0.5, [1.2, -2.0], [1.0, 1.0]),
            (0.3, [0.0, 0.0], [0.0, 0.0]),
        ] {
            let den = MaskedDenoiser::<f64, 2>::new(delta, Estimator::Mmse).unwrap();
            let (est, cov) = den.estimate(&v, &m, RowMessage::new(r, &g));
            let (mean, bcov) = brute_moments(delta, v, m, &r, &g);
            assert!((est.mean - mean).amax() < 1e-6, "{} vs {}", est.mean, mean);
            assert!((cov - bcov).amax() < 1e-6, "{cov} vs {bcov}");
            // J = Cov Γ.
            assert!((est.jacobian - cov * g.matrix()).amax() < 1e-12);
        }
    }

    #[test]
    fn closed_form_of_a_row_of_three_and_the_noiseless_limit() {
        let g =
            Precision::new(Matrix3::new(2.0, 0.5, -0.3, 0.5, 1.5, 0.4, -0.3, 0.4, 1.0)).unwrap();
        let r = Vector3::new(0.2, -0.5, 1.0);
        let v = [1.0, 7.0, -0.4];
        for m in [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]] {
            let den = MaskedDenoiser::<f64, 3>::new(0.2, Estimator::Map).unwrap();
            let (est, cov) = den.estimate(&v, &m, RowMessage::new(r, &g));
            let (mean, inv) = direct(0.2, &v, &m, &r, g.matrix());
            assert!((est.mean - mean).amax() < 1e-12 && (cov - inv).amax() < 1e-12);
            assert!((est.jacobian - inv * g.matrix()).amax() < 1e-12);
        }
        // Δ = 0: the observed entries are the values, the missing ones their Gaussian
        // conditional N(r, C) given them: r_u + C_uo C_oo⁻¹ (v_o − r_o).
        let m = [1.0, 0.0, 1.0];
        let den = MaskedDenoiser::<f64, 3>::new(0.0, Estimator::Mmse).unwrap();
        let (est, cov) = den.estimate(&v, &m, RowMessage::new(r, &g));
        let c = g.inverse();
        let c_oo = Matrix2::new(c[(0, 0)], c[(0, 2)], c[(2, 0)], c[(2, 2)]);
        let c_uo = nalgebra::RowVector2::new(c[(1, 0)], c[(1, 2)]);
        let e = Vector2::new(v[0] - r[0], v[2] - r[2]);
        let zu = r[1] + (c_uo * c_oo.try_inverse().unwrap() * e)[0];
        assert!(
            (est.mean - Vector3::new(v[0], zu, v[2])).amax() < 1e-12,
            "{}",
            est.mean
        );
        // The observed entries do not move with r; the missing one moves with r_u only
        // through the conditional (∂ẑ_u/∂r_u = 1).
        assert!(est.jacobian.row(0).amax() < 1e-12 && est.jacobian.row(2).amax() < 1e-12);
        assert!((est.jacobian[(1, 1)] - 1.0).abs() < 1e-12);
        assert!(cov[(0, 0)].abs() < 1e-12 && cov[(1, 1)] > 0.0);
        // Nothing observed: the message itself.
        let (est, _) = den.estimate(&v, &[0.0; 3], RowMessage::new(r, &g));
        assert_eq!(est.mean, r);
        assert_eq!(est.jacobian, Matrix3::identity());
    }

    /// `J` by central differences of the estimate in `r`.
    fn fd_jacobian(
        den: &MaskedDenoiser<f64, 3>,
        v: &[f64],
        m: &[f64],
        r: Vector3<f64>,
        g: &Precision<f64, 3>,
    ) -> Matrix3<f64> {
        let h = 1e-6;
        let mut j = Matrix3::zeros();
        for c in 0..3 {
            let mut e = Vector3::zeros();
            e[c] = h;
            let up = den.estimate(v, m, RowMessage::new(r + e, g)).0.mean;
            let down = den.estimate(v, m, RowMessage::new(r - e, g)).0.mean;
            j.set_column(c, &((up - down) / (2.0 * h)));
        }
        j
    }

    proptest! {
        #[test]
        fn jacobians_are_finite_differences_map_is_stationary_outputs_finite(
            delta in prop_oneof![Just(0.0), 1e-4f64..3.0],
            bits in 0usize..8,
            v in proptest::array::uniform3(-3.0f64..3.0),
            r in proptest::array::uniform3(-2.0f64..2.0),
            diag in proptest::array::uniform3(0.2f64..5.0),
            off in proptest::array::uniform3(-0.5f64..0.5),
        ) {
            let a = Matrix3::new(diag[0], off[0], off[1], 0.0, diag[1], off[2], 0.0, 0.0, diag[2]);
            let g = Precision::new(a.transpose() * a + Matrix3::identity() * 0.05).unwrap();
            let m: [f64; 3] = core::array::from_fn(|j| ((bits >> j) & 1) as f64);
            let r = Vector3::from_column_slice(&r);
            let den = MaskedDenoiser::<f64, 3>::new(delta, Estimator::Map).unwrap();
            let (est, cov) = den.estimate(&v, &m, RowMessage::new(r, &g));
            prop_assert!(est.mean.iter().chain(est.jacobian.iter()).chain(cov.iter()).all(|x| x.is_finite()));
            let ev = crate::mat::symmetric_eigen(&cov).0;
            prop_assert!(ev.iter().all(|&x| x > -1e-12), "covariance {}", cov);
            let fd = fd_jacobian(&den, &v, &m, r, &g);
            prop_assert!((fd - est.jacobian).amax() < 1e-6 * (1.0 + est.jacobian.amax()), "{} vs {}", fd, est.jacobian);
            if delta > 0.0 {
                // MAP: ∇f(ẑ) = P(ẑ − v)/Δ + Γ(ẑ − r) = 0 (eq. 10's row term over 2Δ plus
                // the message).
                let p = Matrix3::from_diagonal(&Vector3::from_column_slice(&m));
                let vv = Vector3::from_column_slice(&v);
                let grad = p * (est.mean - vv) / delta + g.matrix() * (est.mean - r);
                let scale = (p * (est.mean - vv) / delta).amax() + (g.matrix() * (est.mean - r)).amax() + 1.0;
                prop_assert!(grad.amax() < 1e-11 * scale, "gradient {}", grad);
            } else {
                for j in 0..3 {
                    if m[j] == 1.0 {
                        prop_assert!((est.mean[j] - v[j]).abs() < 1e-9);
                    }
                }
            }
        }
    }

    #[test]
    fn hostile_inputs_stay_finite() {
        let g = Precision::new(Matrix3::from_diagonal(&Vector3::new(1e8, 1.0, 1e-8))).unwrap();
        let skew = Precision::new(Matrix3::new(
            1.0, 0.999_999, 0.0, 0.999_999, 1.0, 0.0, 0.0, 0.0, 1e-6,
        ))
        .unwrap();
        for delta in [0.0, 1e-30, 1e-12, 1e12, 1e30] {
            let den = MaskedDenoiser::<f64, 3>::new(delta, Estimator::Mmse).unwrap();
            for value in [1e300, 1e150, -1e8, 0.0] {
                for m in [[1.0; 3], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0; 3]] {
                    for gamma in [&g, &skew] {
                        let (est, cov) = den.estimate(
                            &[value, -value, 1.0],
                            &m,
                            RowMessage::new(Vector3::new(3.0, -1e5, 1e10), gamma),
                        );
                        assert!(
                            est.mean
                                .iter()
                                .chain(est.jacobian.iter())
                                .chain(cov.iter())
                                .all(|x| x.is_finite()),
                            "Δ {delta} y {value} mask {m:?}: {est:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn bad_rows_and_parameters_are_typed_errors() {
        for delta in [-1.0, 1e-40, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                MaskedDenoiser::<f64, 2>::new(delta, Estimator::Mmse),
                Err(Error::InvalidParameter {
                    name: "noise_var",
                    ..
                })
            ));
        }
        let den = MaskedDenoiser::<f64, 2>::new(0.1, Estimator::Mmse).unwrap();
        assert_eq!(den.observation_dim(), 4);
        assert!(den.check_observation(&[1.0, 0.0, 1.0, 0.0]).is_ok());
        // A row written for d = 3 (6 entries) or without its mask (2 entries).
        for y in [&[1.0, 2.0][..], &[1.0, 2.0, 3.0, 1.0, 1.0, 1.0]] {
            assert!(matches!(
                den.check_observation(y),
                Err(Error::ShapeMismatch { expected: 4, .. })
            ));
        }
        assert!(matches!(
            den.check_observation(&[f64::NAN, 0.0, 0.0, 1.0]),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            den.check_observation(&[1.0, 0.0, 0.5, 1.0]),
            Err(Error::InvalidParameter { name: "mask", .. })
        ));
        // An observation whose mask is empty everywhere, and one with a single entry.
        assert!(matches!(
            den.check_observations(&[1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0]),
            Err(Error::InvalidParameter {
                name: "observed",
                ..
            })
        ));
        assert!(
            den.check_observations(&[1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0, 1.0])
                .is_ok()
        );
        assert!(
            den.check_observations(&[1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0])
                .is_err()
        );
    }
}
