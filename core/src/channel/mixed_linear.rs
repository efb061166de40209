//! The mixed linear regression output `y = q z₀ + (1 − q) z₁ + ξ`, `q ~ Bernoulli(π)`,
//! `ξ ~ N(0, Δ)`: each sample follows one of two regressors `f₁`, `f₂`, unknown which
//! (eq. 6 of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and
//! estimation in multi-layer models*: the signal `F = [f₁ f₂]` has rows of `d = 2`, the
//! pre-activation row `z_i = (x_iᵀ f₁, x_iᵀ f₂)` is observed through one number).
//!
//! Only ML-Mat-VAMP runs it, and only as the model's output layer (one observed number per
//! row of 2: no scalar ML-AMP form, no hidden-layer form). Its row estimators are
//! [`crate::mat::MixedLinearDenoiser`].

use super::kind::{ChannelKind, RowChannelForm};
use super::{Channel, gaussian_law};
use crate::error::Error;
use crate::estimator::Estimator;
use crate::mat::{MIXED_LINEAR_NO_MAP, mixed_linear_check_pi as check_pi};
use crate::quadrature::Rule;
use crate::real::Real;
use crate::special::norm_quantile;

/// `P(y | z) = π N(y; z₀, Δ) + (1 − π) N(y; z₁, Δ)` for a row `z = (z₀, z₁)`, `0 < π < 1`,
/// `Δ ≥ 0` (eq. 6 of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference
/// and estimation in multi-layer models*).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixedLinear<T> {
    pi: T,
    noise_var: T,
    /// `t` with `Φ(t) = π`: a sample follows `z₀` when its standard normal is below `t`.
    threshold: T,
}

impl<T: Real> MixedLinear<T> {
    /// `y = z₀ + N(0, Δ)` with probability `pi`, else `z₁ + N(0, Δ)`.
    ///
    /// Errors ([`Error::InvalidParameter`]): `"pi"` unless `0 < π < 1`; `"noise_var"` unless
    /// `Δ` is 0 or in `[1e-30, 1e30]`.
    pub fn new(pi: T, noise_var: T) -> Result<Self, Error> {
        check_pi(pi)?;
        crate::error::noise_scale("noise_var", noise_var)?;
        Ok(Self {
            pi,
            noise_var,
            threshold: norm_quantile(pi),
        })
    }

    /// `π`, the probability that a sample follows `z₀`.
    pub fn pi(&self) -> T {
        self.pi
    }

    /// `Δ`.
    pub fn noise_var(&self) -> T {
        self.noise_var
    }
}

impl<T: Real> ChannelKind<T> for MixedLinear<T> {
    fn name(&self) -> &'static str {
        "mixed-linear"
    }

    /// The law of `y` for the row `(z, z)`: `N(z, Δ)` whichever component (the host's
    /// second-moment propagation only; the observation is always the last layer).
    fn law(&self, z: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        gaussian_law(z, self.noise_var, rule, visit);
    }

    /// `z + √Δ ξ`, the row `(z, z)` (see [`ChannelKind::law`]); rows are sampled by
    /// [`ChannelKind::sample_row`].
    fn sample(&self, z: T, xi: T) -> T {
        z + self.noise_var.sqrt() * xi
    }

    /// `out[0] = z_q + √Δ xi()` with `q = 0` if the first standard normal `xi()` is below
    /// `Φ⁻¹(π)` (probability π), else `q = 1`: two normals per row. Errors
    /// ([`Error::ShapeMismatch`]) unless `z` has 2 entries and `out` one.
    fn sample_row(&self, z: &[T], xi: &mut dyn FnMut() -> T, out: &mut [T]) -> Result<(), Error> {
        crate::error::length("mixed-linear row", z, 2)?;
        crate::error::length("mixed-linear observation row", out, 1)?;
        let q = if xi() < self.threshold { 0 } else { 1 };
        out[0] = z[q] + self.noise_var.sqrt() * xi();
        Ok(())
    }

    fn amp(&self) -> Option<&dyn Channel<T>> {
        None
    }

    /// Always [`Error::Unsupported`]: one number per row, an output only.
    fn check_as_hidden(&self) -> Result<(), Error> {
        Err(super::kind::OUTPUT_ONLY)
    }

    /// [`RowChannelForm::MixedLinear`] for MMSE; [`Error::Unsupported`] naming `d` unless
    /// `d = 2`, naming `estimator` for MAP: the marginal mode exists
    /// ([`crate::mat::MixedLinearDenoiser::map`]) but ML-Mat-VAMP and its SE cannot use it
    /// (why: [`crate::mat::MixedLinearDenoiser`]).
    fn row_form(&self, estimator: Estimator, d: usize) -> Result<RowChannelForm<'_, T>, Error> {
        if estimator == Estimator::Map {
            return Err(MIXED_LINEAR_NO_MAP);
        }
        if d != 2 {
            return Err(Error::Unsupported {
                field: "d",
                reason: "mixed linear regression has rows of d = 2 (the two regressors)",
            });
        }
        Ok(RowChannelForm::MixedLinear {
            pi: self.pi,
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
    use crate::special::norm_cdf;

    #[test]
    fn parameters_are_checked() {
        for pi in [0.0, 1.0, 1.5, f64::NAN] {
            assert!(matches!(
                MixedLinear::new(pi, 0.1),
                Err(Error::InvalidParameter { name: "pi", .. })
            ));
        }
        assert!(matches!(
            MixedLinear::new(0.5, -1.0),
            Err(Error::InvalidParameter {
                name: "noise_var",
                ..
            })
        ));
        let ch = MixedLinear::new(0.3, 0.0).unwrap();
        assert!(ch.check_as_hidden().is_err());
        assert!(matches!(
            ch.row_form(Estimator::Mmse, 3),
            Err(Error::Unsupported { field: "d", .. })
        ));
        let mut out = [0.0; 2];
        assert!(ch.sample_row(&[1.0, 2.0], &mut || 0.0, &mut out).is_err());
    }

    #[test]
    fn rows_follow_each_regressor_with_its_probability() {
        // Φ(threshold) = π, and the first normal picks the entry: below it z₀, above z₁.
        for pi in [0.1, 0.3, 0.5, 0.9] {
            let ch = MixedLinear::new(pi, 0.0).unwrap();
            assert!((norm_cdf(ch.threshold) - pi).abs() < 1e-15, "pi {pi}");
            let mut out = [0.0];
            for (u, expect) in [(ch.threshold - 1e-9, 1.0), (ch.threshold + 1e-9, 2.0)] {
                let mut draws = [u, 0.0].into_iter();
                ch.sample_row(&[1.0, 2.0], &mut || draws.next().unwrap(), &mut out)
                    .unwrap();
                assert_eq!(out[0], expect);
            }
        }
        // With noise: the second normal scaled by √Δ.
        let ch = MixedLinear::new(0.5, 0.25).unwrap();
        let mut draws = [-1.0, 2.0].into_iter();
        let mut out = [0.0];
        ch.sample_row(&[1.0, 2.0], &mut || draws.next().unwrap(), &mut out)
            .unwrap();
        assert_eq!(out[0], 1.0 + 0.5 * 2.0);
    }
}
