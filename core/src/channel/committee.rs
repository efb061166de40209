//! The committee output channel `y = F₂ᵀ σ(z) + ξ`, `ξ ~ N(0, Δ)`: a row `z ∈ R^d` of the
//! pre-activation `Z₁ = X F₁` observed through one number, the two-layer network ("committee
//! machine") of section 5 of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix
//! inference and estimation in multi-layer models* (their `Y = σ(X F₁) F₂ + Ξ`, one row at a
//! time; their `F₂` is our `f2`).
//!
//! Only ML-Mat-VAMP runs it, and only as the model's output layer: it observes
//! [`ChannelKind::observation_dim`]`(d) = 1` number per row of `d`, so it has no scalar ML-AMP
//! form ([`ChannelKind::amp`] is `None`) and no hidden-layer form
//! ([`ChannelKind::check_as_hidden`] is an error). Its row estimators are
//! [`crate::mat::CommitteeDenoiser`].

use super::activation::Activation;
use super::kind::{ChannelKind, RowChannelForm};
use super::{Channel, gaussian_law};
use crate::error::Error;
use crate::estimator::Estimator;
use crate::quadrature::{GradedNormal, Rule};
use crate::real::Real;
use crate::se::SE_PANEL_POINTS;

/// The most entries `d` a committee row can have: `F₂` is stored inline in an array of this
/// length (no heap, and the kind stays object safe and independent of the host's const `D`;
/// the host runs ML-Mat-VAMP for `d ≤ 8`).
pub const MAX_COMMITTEE: usize = 8;

/// Which power of the noiseless output `s = F₂ᵀ σ(z)` an SNR in dB is relative to
/// ([`Committee::with_snr_db`]); the ML-Mat-VAMP paper's "noise at 15 dB relative to the mean"
/// is ambiguous between the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnrReference {
    /// `E s²`, the mean included (what the authors' released code uses:
    /// `Δ = 10^{−dB/10} mean(Y₀²)`).
    SecondMoment,
    /// `Var s = E s² − (E s)²`.
    Variance,
}

/// `P(y | z) = N(y; F₂ᵀ σ(z), Δ)` for a row `z ∈ R^d`, `1 ≤ d ≤` [`MAX_COMMITTEE`], a known
/// `F₂ ∈ R^d`, an activation `σ` ([`super::activation::Sigmoid`], [`super::activation::Relu`],
/// …) and `Δ > 0` (section 5 of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix
/// inference and estimation in multi-layer models*).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Committee<T, A> {
    phi: A,
    /// `F₂` in `f2[..len]`, zeros after.
    f2: [T; MAX_COMMITTEE],
    len: usize,
    noise_var: T,
}

impl<T: Real, A: Activation<T>> Committee<T, A> {
    /// `y = Σ_j f2_j σ(z_j) + N(0, noise_var)`.
    ///
    /// Errors ([`Error::InvalidParameter`]): `"f2"` unless it has 1 to [`MAX_COMMITTEE`]
    /// entries, all finite (NaN included); `"noise_var"` if it is not finite, or not `> 0`
    /// with a finite reciprocal (the observation has a density only with noise, and the
    /// estimators divide by `Δ`).
    pub fn new(phi: A, f2: &[T], noise_var: T) -> Result<Self, Error> {
        if f2.is_empty() || f2.len() > MAX_COMMITTEE {
            return Err(Error::InvalidParameter {
                name: "f2",
                requirement: "1 to 8 entries (one per entry of a row, d <= 8)",
            });
        }
        if !f2.iter().all(|v| v.is_finite()) {
            return Err(Error::InvalidParameter {
                name: "f2",
                requirement: "finite (no NaN or infinity)",
            });
        }
        check_noise_var(noise_var)?;
        let mut store = [T::ZERO; MAX_COMMITTEE];
        store[..f2.len()].copy_from_slice(f2);
        Ok(Self {
            phi,
            f2: store,
            len: f2.len(),
            noise_var,
        })
    }

    /// The committee with the noise set by a signal-to-noise ratio in dB:
    /// `Δ = 10^{−db/10} P`, `P` the power [`output_power`] of the noiseless output
    /// `s = F₂ᵀ σ(z)` for `z ~ N(0, ρ_z I_d)` (`rho_z` the pre-activation's second moment per
    /// entry), relative to `reference`. Errors as [`Committee::new`], and
    /// [`Error::InvalidParameter`] naming `"rho_z"` (finite, `> 0`), `"snr_db"` (finite) or
    /// `"noise_var"` (a power of 0, e.g. `F₂ = 0`, gives `Δ = 0`).
    pub fn with_snr_db(
        phi: A,
        f2: &[T],
        rho_z: T,
        db: T,
        reference: SnrReference,
    ) -> Result<Self, Error> {
        crate::error::positive("rho_z", rho_z)?;
        crate::error::finite("snr_db", db)?;
        // Validates f2 before it is used.
        Committee::new(&phi, f2, T::ONE)?;
        let (second, var) = output_power(&phi, f2, rho_z);
        let power = match reference {
            SnrReference::SecondMoment => second,
            SnrReference::Variance => var,
        };
        Self::new(
            phi,
            f2,
            Real::exp(-db / T::c(10.0) * T::c(core::f64::consts::LN_10)) * power,
        )
    }

    /// `σ`.
    pub fn activation(&self) -> &A {
        &self.phi
    }

    /// `F₂` (`d` entries).
    pub fn f2(&self) -> &[T] {
        &self.f2[..self.len]
    }

    /// `Δ`.
    pub fn noise_var(&self) -> T {
        self.noise_var
    }

    /// `F₂ᵀ σ(z)` for a row `z` of `d` entries.
    fn noiseless(&self, z: &[T]) -> T {
        self.f2()
            .iter()
            .zip(z)
            .fold(T::ZERO, |acc, (&f, &zj)| acc + f * self.phi.value(zj))
    }

    /// `Σ_j F₂_j`: the row `(z, …, z)` gives `s = (Σ_j F₂_j) σ(z)`.
    fn f2_sum(&self) -> T {
        self.f2().iter().fold(T::ZERO, |a, &f| a + f)
    }
}

/// `Ok` if `Δ` is finite, `> 0` and has a finite reciprocal; else [`Error::InvalidParameter`]
/// naming `noise_var`, saying which.
pub(crate) fn check_noise_var<T: Real>(noise_var: T) -> Result<(), Error> {
    if !noise_var.is_finite() {
        return Err(Error::InvalidParameter {
            name: "noise_var",
            requirement: "finite",
        });
    }
    if !(noise_var > T::ZERO && crate::error::scale("noise_var", noise_var).is_ok()) {
        return Err(Error::InvalidParameter {
            name: "noise_var",
            requirement: "> 0 and in [1e-30, 1e30] (a committee output needs noise)",
        });
    }
    Ok(())
}

/// The power of the noiseless committee output `s = Σ_j F₂_j σ(z_j)` for iid
/// `z_j ~ N(0, ρ_z)`: `(E s², Var s)`, from the 1-D moments `m₁ = E σ(z)`, `m₂ = E σ(z)²`,
///
/// `E s² = Σ_j F₂_j² m₂ + (Σ_j F₂_j)² m₁² − Σ_j F₂_j² m₁²`, `Var s = Σ_j F₂_j² (m₂ − m₁²)`.
///
/// `m₁`, `m₂` by Gauss–Legendre panels on the standard normal with an edge at 0
/// ([`GradedNormal`], as [`crate::moments::marginal_moments`]): a plain Gauss–Hermite rule
/// converges only algebraically across ReLU's kink at 0, the panels are exact to round-off
/// there (ReLU: `m₁ = √(ρ_z/2π)`, `m₂ = ρ_z/2`).
pub fn output_power<T: Real, A: Activation<T> + ?Sized>(phi: &A, f2: &[T], rho_z: T) -> (T, T) {
    let sd = Real::sqrt(Real::max(rho_z, T::ZERO));
    let panels = GradedNormal::<T, SE_PANEL_POINTS>::new();
    let [m1, m2] = panels.expect(T::ONE, |x| {
        let v = phi.value(sd * x);
        [v, v * v]
    });
    let (sum, sum_sq) = f2
        .iter()
        .fold((T::ZERO, T::ZERO), |(s, q), &f| (s + f, q + f * f));
    let var = Real::max(sum_sq * (m2 - m1 * m1), T::ZERO);
    (var + sum * sum * m1 * m1, var)
}

impl<T: Real, A: Activation<T>> ChannelKind<T> for Committee<T, A> {
    fn name(&self) -> &'static str {
        "committee"
    }

    /// The law of `y` for the row `(z, …, z)`: `N((Σ_j F₂_j) σ(z), Δ)`. (A scalar `z` cannot
    /// stand for a row of independent entries; this law only serves the moments the host
    /// pushes through every layer, and the observation's own moments are never used: the
    /// committee is always the last layer.)
    fn law(&self, z: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        gaussian_law(
            self.f2_sum() * self.phi.value(z),
            self.noise_var,
            rule,
            visit,
        );
    }

    /// `(Σ_j F₂_j) σ(z) + √Δ ξ`, the row `(z, …, z)` (see [`ChannelKind::law`]); rows are
    /// sampled by [`ChannelKind::sample_row`].
    fn sample(&self, z: T, xi: T) -> T {
        self.f2_sum() * self.phi.value(z) + self.noise_var.sqrt() * xi
    }

    /// `out[0] = Σ_j F₂_j σ(z_j) + √Δ xi()`: one standard normal per row. Errors
    /// ([`Error::ShapeMismatch`]) unless `z` has `d = F₂.len()` entries and `out` one.
    fn sample_row(&self, z: &[T], xi: &mut dyn FnMut() -> T, out: &mut [T]) -> Result<(), Error> {
        crate::error::length("committee row", z, self.len)?;
        crate::error::length("committee observation row", out, 1)?;
        out[0] = self.noiseless(z) + self.noise_var.sqrt() * xi();
        Ok(())
    }

    fn amp(&self) -> Option<&dyn Channel<T>> {
        None
    }

    /// Always [`Error::Unsupported`]: the committee observes one number per row, it has no
    /// hidden-layer form.
    fn check_as_hidden(&self) -> Result<(), Error> {
        Err(super::kind::OUTPUT_ONLY)
    }

    /// [`RowChannelForm::Committee`] for both estimators; [`Error::InvalidParameter`] naming
    /// `f2` unless `d = F₂.len()`.
    fn row_form(&self, _estimator: Estimator, d: usize) -> Result<RowChannelForm<'_, T>, Error> {
        if d != self.len {
            return Err(Error::InvalidParameter {
                name: "f2",
                requirement: "one entry per entry of a row (length d)",
            });
        }
        Ok(RowChannelForm::Committee {
            phi: &self.phi,
            f2: self.f2(),
            noise_var: self.noise_var,
        })
    }

    /// One number per row.
    fn observation_dim(&self, _d: usize) -> usize {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::activation::{Relu, Sigmoid};

    #[test]
    fn parameters_are_checked() {
        let f2 = [1.0, -0.5];
        assert!(Committee::new(Sigmoid, &f2, 0.1).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-320] {
            let e = Committee::new(Sigmoid, &f2, bad).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidParameter {
                        name: "noise_var",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
        for bad in [
            &[][..],
            &[1.0; 9][..],
            &[1.0, f64::NAN][..],
            &[f64::INFINITY][..],
        ] {
            let e = Committee::new(Relu, bad, 0.1).unwrap_err();
            assert!(
                matches!(e, Error::InvalidParameter { name: "f2", .. }),
                "{e}"
            );
        }
        let c = Committee::new(Relu, &f2, 0.1).unwrap();
        assert!(c.row_form(Estimator::Map, 3).is_err());
        assert!(c.row_form(Estimator::Mmse, 2).is_ok());
        assert!(c.amp().is_none());
        assert!(c.check_as_hidden().is_err());
        assert_eq!(c.observation_dim(2), 1);
        assert!(Committee::with_snr_db(Sigmoid, &f2, -1.0, 10.0, SnrReference::Variance).is_err());
        assert!(
            Committee::with_snr_db(Sigmoid, &f2, 1.0, f64::NAN, SnrReference::Variance).is_err()
        );
        // F₂ = 0: no power, no noise.
        let e = Committee::with_snr_db(Sigmoid, &[0.0, 0.0], 1.0, 10.0, SnrReference::Variance)
            .unwrap_err();
        assert!(matches!(
            e,
            Error::InvalidParameter {
                name: "noise_var",
                ..
            }
        ));
    }

    #[test]
    fn rows_are_sampled_through_f2() {
        let c = Committee::new(Sigmoid, &[2.0, -1.0, 0.5], 0.25).unwrap();
        let z = [0.3, -1.2, 4.0];
        let mut out = [0.0];
        c.sample_row(&z, &mut || 2.0, &mut out).unwrap();
        let s: f64 = 2.0 * Sigmoid.value(0.3) - Sigmoid.value(-1.2) + 0.5 * Sigmoid.value(4.0);
        assert_eq!(out[0], s + 0.5 * 2.0);
        assert!(c.sample_row(&z[..2], &mut || 0.0, &mut out).is_err());
        assert!(c.sample_row(&z, &mut || 0.0, &mut [0.0; 3]).is_err());
        // f32 builds and samples too.
        let c32 = Committee::<f32, _>::new(Relu, &[1.0, 1.0], 1e-2).unwrap();
        let mut o32 = [0.0f32];
        c32.sample_row(&[1.0, -2.0], &mut || 0.0, &mut o32).unwrap();
        assert_eq!(o32[0], 1.0);
    }

    #[test]
    fn output_power_matches_closed_forms() {
        // ReLU on N(0, ρ): m₁ = √(ρ/2π), m₂ = ρ/2.
        let (rho, f2) = (2.0f64, [1.0, -2.0, 0.5]);
        let m1 = (rho / (2.0 * core::f64::consts::PI)).sqrt();
        let m2 = rho / 2.0;
        let (sq, sum) = (1.0 + 4.0 + 0.25, -0.5);
        let (p, v) = output_power(&Relu, &f2, rho);
        assert!((v - sq * (m2 - m1 * m1)).abs() < 1e-13);
        assert!((p - (sq * m2 + sum * sum * m1 * m1 - sq * m1 * m1)).abs() < 1e-13);
        // Sigmoid: m₁ = ½ by symmetry, so E s² = Var s + (Σ F₂)²/4.
        let (p, v) = output_power(&Sigmoid, &f2, rho);
        assert!((p - v - sum * sum / 4.0).abs() < 1e-13, "{p} {v}");
        // With_snr_db: Δ = 10^{−1.5} P at 15 dB.
        let c =
            Committee::with_snr_db(Sigmoid, &f2, rho, 15.0, SnrReference::SecondMoment).unwrap();
        assert!((c.noise_var() - p * 10f64.powf(-1.5)).abs() < 1e-15);
        let c = Committee::with_snr_db(Sigmoid, &f2, rho, 15.0, SnrReference::Variance).unwrap();
        assert!((c.noise_var() - v * 10f64.powf(-1.5)).abs() < 1e-15);
    }
}
