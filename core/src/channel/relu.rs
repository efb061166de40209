//! The ReLU channel with additive Gaussian noise: `h = max(0, z) + ξ`, `ξ ~ N(0, Δ)`.

use super::activation;
use super::kind::{ChannelKind, RowChannelForm, activation_form};
use super::output_needs_noise;
use super::{
    Channel, HiddenMessage, OutputMessage, Term, gaussian_law, log_mix2, log_probit, var_floor,
};
use crate::error::{Error, noise_scale};
use crate::estimator::Estimator;
use crate::gaussian::{TiltedGaussian, log_density};
use crate::quadrature::Rule;
use crate::real::Real;
use crate::special::{erfcx, inv_mills, log_norm_cdf, log_norm_cdf_dd, x_plus_inv_mills};

/// `P_out(h|z) = N(h; max(0, z), Δ)`. As a hidden layer Δ ≥ 0 (Δ = 0: a noiseless ReLU); as
/// the output channel the density of `y` needs Δ > 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Relu<T> {
    noise_var: T,
}

impl<T: Real> Relu<T> {
    /// Noise variance Δ ≥ 0.
    pub fn new(noise_var: T) -> Result<Self, Error> {
        noise_scale("noise_var", noise_var)?;
        Ok(Self { noise_var })
    }

    /// The `z < 0` branch as a function of ω: `log Φ(−ω/√V)` plus `extra`.
    #[inline]
    fn negative_branch(omega: T, v: T, extra: T) -> Term<T> {
        let t = log_probit(-T::ONE, omega, v);
        Term {
            value: extra + t.value,
            ..t
        }
    }
}

impl<T: Real> Channel<T> for Relu<T> {
    /// `Z = N(y; 0, Δ) Φ(−ω/√V) + N(y; ω, S) Φ(m/√s)` with `S = V + Δ`,
    /// `m = (ωΔ + yV)/S`, `s = VΔ/S` (the `z > 0` part is the probability that the
    /// posterior of `z` given `y` is positive). Derivatives from each branch, combined by
    /// the two-term log-mixture rule.
    fn output(&self, y: T, v: T, omega: T) -> OutputMessage<T> {
        let v = var_floor(v);
        let delta = var_floor(self.noise_var);
        let s_tot = v + delta;
        let neg = Self::negative_branch(omega, v, log_density(y, delta));
        let sd_post = (v * delta / s_tot).sqrt();
        let u = (omega * delta + y * v) / s_tot / sd_post;
        let du = delta / s_tot / sd_post;
        let pos = Term {
            value: log_density(y - omega, s_tot) + log_norm_cdf(u),
            d1: (y - omega) / s_tot + inv_mills(u) * du,
            d2: -T::ONE / s_tot + log_norm_cdf_dd(u) * du * du,
        };
        let (_, m) = log_mix2(neg, pos);
        OutputMessage {
            g: m.d1,
            dg: m.d2,
            log_z: m.value,
        }
    }

    /// With `k = 1/(1 + AΔ)`, `A' = A k`, `B' = B k` (the h-integral of the noise given z),
    /// `c₀ = −½ ln(1 + AΔ) + B² Δ k/2`, `D = 1 + A'V` and `u = (ω + B'V)/√(V D)`:
    /// `Z = e^{c₀} [Φ(−ω/√V) + e^{−½ ln D + (2ωB' + B'² V − A' ω²)/(2D)} Φ(u)]`,
    /// the second term the `z > 0` part, a Gaussian `N(z; ω, V) e^{−A' z²/2 + B' z}` (a
    /// `gaussian::TiltedGaussian` with `μ = ω`, `v = V`) truncated to z > 0. Each branch is
    /// differentiated in ω and in B, then combined. For u < 0 the second branch is evaluated as
    /// `c₀ − ½ ln D − ω²/(2V) + ln(½ erfcx(−u/√2))` (the same value, without the cancellation
    /// of two terms of size u²/2).
    fn hidden(&self, a: T, b: T, v: T, omega: T) -> HiddenMessage<T> {
        let v = var_floor(v);
        let delta = self.noise_var;
        let k = T::ONE / (T::ONE + a * delta);
        let (ap, bp) = (a * k, b * k);
        let c0 = T::HALF * k.ln() + b * b * delta * k * T::HALF;
        // The z > 0 branch is `N(z; ω, V)` tilted by `e^{−A' z²/2 + B' z}`, then truncated.
        let t = TiltedGaussian::new(omega, v, ap, bp);
        let d = t.d;
        let sd = (v * d).sqrt();
        let u = (omega + bp * v) / sd;
        let ddu = log_norm_cdf_dd(u);
        // The z > 0 branch: its value, its ω-slope and its B-slope (less the noise part).
        let (pos_value, pos_dw, pos_db) = if u < T::ZERO {
            // Where Φ(u) is tiny, log Φ(u) ≈ −u²/2 cancels against the quadratic term: written
            // through erfcx, the quadratic minus u²/2 is exactly −ω²/(2V), and the slopes go
            // through u + r(u), so nothing large is ever subtracted.
            let upr = x_plus_inv_mills(u);
            let lerfcx = (T::HALF * erfcx(-u * T::c(core::f64::consts::FRAC_1_SQRT_2))).ln();
            (
                c0 + t.log_det - omega * omega / (T::TWO * v) + lerfcx,
                -omega / v + upr / sd,
                k * (v / d).sqrt() * upr,
            )
        } else {
            let ru = inv_mills(u);
            (
                c0 + t.log_det + t.exponent + log_norm_cdf(u),
                t.d_mu + ru / sd,
                k * (omega + bp * v) / d + ru * k * v / sd,
            )
        };
        // Branches in ω.
        let neg_w = Self::negative_branch(omega, v, c0);
        let pos_w = Term {
            value: pos_value,
            d1: pos_dw,
            d2: t.d2_mu + ddu / (v * d),
        };
        // Branches in B (same values, so the same weights).
        let neg_b = Term {
            value: neg_w.value,
            d1: b * delta * k,
            d2: delta * k,
        };
        let pos_b = Term {
            value: pos_value,
            d1: b * delta * k + pos_db,
            // The variance of the truncated Gaussian, V/D · (1 + (log Φ)''(u)): the factor lies
            // in (0, 1) but rounds to slightly below 0 as u → −∞, hence the clamp.
            d2: delta * k + k * k * v / d * (T::ONE + ddu).max(T::ZERO),
        };
        let (_, w) = log_mix2(neg_w, pos_w);
        let (_, bb) = log_mix2(neg_b, pos_b);
        HiddenMessage {
            g: w.d1,
            dg: w.d2,
            mean: bb.d1,
            var: bb.d2,
            log_z: w.value,
        }
    }
}

impl<T: Real> ChannelKind<T> for Relu<T> {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn law(&self, z: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        gaussian_law(z.max(T::ZERO), self.noise_var, rule, visit);
    }

    fn sample(&self, z: T, xi: T) -> T {
        z.max(T::ZERO) + self.noise_var.sqrt() * xi
    }

    fn amp(&self) -> Option<&dyn Channel<T>> {
        Some(self)
    }

    /// `Δ > 0` for an output layer: `y` has a density only with noise.
    fn check_as_output(&self) -> Result<(), Error> {
        output_needs_noise(self.noise_var)
    }

    /// MMSE with `d = 1`: the closed-form scalar channel; otherwise the activation form
    /// (MAP by Newton in any `d`).
    fn row_form(&self, estimator: Estimator, d: usize) -> Result<RowChannelForm<'_, T>, Error> {
        if estimator == Estimator::Mmse && d == 1 {
            return Ok(RowChannelForm::Scalar(self));
        }
        activation_form(&activation::Relu, self.noise_var, estimator, d)
    }
}
