//! The linear channel with additive Gaussian noise: `h = z + ξ`, `ξ ~ N(0, Δ)`.

use super::activation;
use super::kind::{ChannelKind, RowChannelForm, activation_form};
use super::{Channel, HiddenMessage, OutputMessage, gaussian_law, var_floor};
use crate::error::{Error, noise_scale};
use crate::estimator::Estimator;
use crate::gaussian::{TiltedGaussian, log_density};
use crate::quadrature::Rule;
use crate::real::Real;
use crate::se::{SeQuadrature, SeTerms};
use crate::special::LN_SQRT_2PI;

/// `P_out(h|z) = N(h; z, Δ)`, `Δ ≥ 0` (Δ = 0: a noiseless linear layer).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linear<T> {
    noise_var: T,
}

impl<T: Real> Linear<T> {
    /// Noise variance Δ ≥ 0.
    pub fn new(noise_var: T) -> Result<Self, Error> {
        noise_scale("noise_var", noise_var)?;
        Ok(Self { noise_var })
    }

    /// Δ.
    pub fn noise_var(&self) -> T {
        self.noise_var
    }
}

impl<T: Real> Channel<T> for Linear<T> {
    /// With `S = V + Δ`: `log Z = −½ ln(2πS) − (y − ω)²/(2S)`, `g = (y − ω)/S`, `∂g = −1/S`.
    fn output(&self, y: T, v: T, omega: T) -> OutputMessage<T> {
        let s = var_floor(v + self.noise_var);
        let r = y - omega;
        OutputMessage {
            g: r / s,
            dg: -T::ONE / s,
            log_z: log_density(r, s),
        }
    }

    /// With `S = V + Δ` and `D = 1 + A S` (the z-integral gives `N(h; ω, S)`, tilted by the
    /// messages of `h`: a `gaussian::TiltedGaussian` with `μ = ω`, `v = S`):
    /// `log Z = −½ ln D + (2ωB + B² S − A ω²)/(2D)`, mean `(ω + B S)/D`, variance `S/D`,
    /// `g = (B − A ω)/D`, `∂g = −A/D`. Exact at S = 0 (a noiseless layer whose input is known).
    fn hidden(&self, a: T, b: T, v: T, omega: T) -> HiddenMessage<T> {
        let t = TiltedGaussian::new(omega, v + self.noise_var, a, b);
        HiddenMessage {
            g: t.d_mu,
            dg: t.d2_mu,
            mean: t.mean,
            var: t.var,
            log_z: t.log_z(),
        }
    }

    /// `h ~ N(w, V + Δ)`.
    fn law_given_mean(&self, w: T, v: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        gaussian_law(w, v + self.noise_var, rule, visit);
    }

    /// Closed form, with `S = V + Δ`: `y − w ~ N(0, S)`, so `E g² = 1/S` and
    /// `E log Z = −½ ln(2πS) − ½`.
    fn se_output(&self, rho: T, m: T, _q: &SeQuadrature<'_, T>) -> SeTerms<T> {
        let s = var_floor((rho - m).max(T::ZERO) + self.noise_var);
        SeTerms {
            hat: T::ONE / s,
            overlap: T::ZERO,
            log_z: -T::HALF * s.ln() - T::c(LN_SQRT_2PI) - T::HALF,
        }
    }

    /// Closed form, with `S = V + Δ` and `Â` = `a_hat`: `h = w + √S ε`, `b = Âh + √Â ξ`, and the
    /// hidden function's `g`, mean and `log Z` are affine or quadratic in them, giving
    /// `E g² = Â/(1 + ÂS)`, `E ĥ² = m + ÂS²/(1 + ÂS)` and
    /// `E log Z = ½ Â (m + S) − ½ ln(1 + ÂS)`.
    fn se_hidden(&self, rho: T, m: T, a_hat: T, _q: &SeQuadrature<'_, T>) -> SeTerms<T> {
        let s = (rho - m).max(T::ZERO) + self.noise_var;
        let a = a_hat.max(T::ZERO);
        let d = T::ONE + a * s;
        SeTerms {
            hat: a / d,
            overlap: m + a * s * s / d,
            log_z: T::HALF * a * (m + s) - T::HALF * d.ln(),
        }
    }
}

impl<T: Real> ChannelKind<T> for Linear<T> {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn law(&self, z: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        gaussian_law(z, self.noise_var, rule, visit);
    }

    fn sample(&self, z: T, xi: T) -> T {
        z + self.noise_var.sqrt() * xi
    }

    fn amp(&self) -> Option<&dyn Channel<T>> {
        Some(self)
    }

    /// `h = z + N(0, Δ)`: the activation form with the identity (MMSE = MAP, exact in any `d`).
    fn row_form(&self, estimator: Estimator, d: usize) -> Result<RowChannelForm<'_, T>, Error> {
        activation_form(&activation::Identity, self.noise_var, estimator, d)
    }
}
