//! A generic channel from a user-supplied likelihood, integrated by Gauss–Hermite quadrature:
//! one dimension (z) for the output function, two (z, h) for the hidden one.

use super::kind::{ChannelKind, RowChannelForm};
use super::{Channel, HiddenMessage, OutputMessage, var_floor};
use crate::error::Error;
use crate::estimator::Estimator;
use crate::quadrature::Rule;
use crate::real::Real;
use crate::special::LN_SQRT_2PI;

/// A likelihood `P_out(h|z)` given by its log-density, with a Gaussian that covers it for
/// each z (used as the importance measure of the h-quadrature) and a sampler.
///
/// `Sync`: one model is shared by the threads of a parallel run (the state evolution's
/// Monte-Carlo blocks).
pub trait Likelihood<T: Real>: Sync {
    /// `log P_out(h | z)` (−∞ where the density vanishes).
    fn log_density(&self, h: T, z: T) -> T;
    /// `(μ(z), s(z))`, `s > 0`: a Gaussian `N(μ, s²)` close to `P_out(·|z)`; the h-integral is
    /// `E_{η ~ N(0,1)}[P(μ + sη | z) / N(μ + sη; μ, s²) · …]`, exact when `P_out(·|z)` is that
    /// Gaussian.
    fn location_scale(&self, z: T) -> (T, T);
    /// A draw of `h` given `z` and a standard normal `xi`.
    fn sample(&self, z: T, xi: T) -> T;
}

/// The channel of a [`Likelihood`], integrated with a Gauss–Hermite rule.
///
/// Output (eq. 7, ML-AMP paper): `Z = Σ_i w_i P(y | ω + √V x_i)`, and by Stein's lemma
/// `g = E_p[x]/√V`, `∂g = (Var_p[x] − 1)/V` for the weights `p_i ∝ w_i P(y|z_i)`.
/// Hidden (eq. 6): the same over z, times the importance-weighted h-rule of
/// [`Likelihood::location_scale`], tilted by `e^{−A h²/2 + B h}`; mean and variance of h are
/// those of the weights. Accurate while the likelihood is smooth on the scale √V; a channel
/// with a closed form (the others in this module) should be preferred.
#[derive(Clone, Copy, Debug)]
pub struct QuadratureChannel<'r, T, L> {
    likelihood: L,
    rule: Rule<'r, T>,
}

impl<'r, T: Real, L: Likelihood<T>> QuadratureChannel<'r, T, L> {
    /// The channel of `likelihood`, integrated with `rule` in each dimension.
    pub fn new(likelihood: L, rule: Rule<'r, T>) -> Self {
        Self { likelihood, rule }
    }

    /// Visits every quadrature point `(x_i, h, log weight)` of the hidden integral.
    fn for_each_point(&self, a: T, b: T, v: T, omega: T, mut visit: impl FnMut(T, T, T)) {
        let sd = v.sqrt();
        for (xi, wi) in self.rule.iter() {
            let z = omega + sd * xi;
            let (mu, s) = self.likelihood.location_scale(z);
            for (xj, wj) in self.rule.iter() {
                let h = mu + s * xj;
                // log[w_i w_j P(h|z) / N(h; μ, s²)] − A h²/2 + B h
                let lw = wi.ln()
                    + wj.ln()
                    + self.likelihood.log_density(h, z)
                    + s.ln()
                    + T::c(LN_SQRT_2PI)
                    + T::HALF * xj * xj
                    - T::HALF * a * h * h
                    + b * h;
                visit(xi, h, lw);
            }
        }
    }
}

impl<T: Real, L: Likelihood<T>> Channel<T> for QuadratureChannel<'_, T, L> {
    fn output(&self, y: T, v: T, omega: T) -> OutputMessage<T> {
        let v = var_floor(v);
        let sd = v.sqrt();
        let lw = |x: T, w: T| w.ln() + self.likelihood.log_density(y, omega + sd * x);
        let top = self
            .rule
            .iter()
            .map(|(x, w)| lw(x, w))
            .fold(-T::INFINITY, T::max);
        let (mut s0, mut s1) = (T::ZERO, T::ZERO);
        for (x, w) in self.rule.iter() {
            let p = (lw(x, w) - top).exp();
            s0 += p;
            s1 += p * x;
        }
        let mean_x = s1 / s0;
        let mut var_x = T::ZERO;
        for (x, w) in self.rule.iter() {
            var_x += (lw(x, w) - top).exp() / s0 * (x - mean_x).sq();
        }
        OutputMessage {
            g: mean_x / sd,
            dg: (var_x - T::ONE) / v,
            log_z: top + s0.ln(),
        }
    }

    fn hidden(&self, a: T, b: T, v: T, omega: T) -> HiddenMessage<T> {
        let v = var_floor(v);
        // Pass 1: the largest log-weight and the h there (a shift that keeps the moment sums
        // free of cancellation).
        let (mut top, mut h_ref) = (-T::INFINITY, T::ZERO);
        self.for_each_point(a, b, v, omega, |_, h, lw| {
            if lw > top {
                top = lw;
                h_ref = h;
            }
        });
        // Pass 2: weighted moments of x (for ω) and of h − h_ref (for B).
        let (mut s0, mut sx, mut sxx, mut sh, mut shh) =
            (T::ZERO, T::ZERO, T::ZERO, T::ZERO, T::ZERO);
        self.for_each_point(a, b, v, omega, |x, h, lw| {
            let p = (lw - top).exp();
            let dh = h - h_ref;
            s0 += p;
            sx += p * x;
            sxx += p * x * x;
            sh += p * dh;
            shh += p * dh * dh;
        });
        let (mx, mh) = (sx / s0, sh / s0);
        HiddenMessage {
            g: mx / v.sqrt(),
            dg: ((sxx / s0 - mx * mx) - T::ONE) / v,
            mean: h_ref + mh,
            var: (shh / s0 - mh * mh).max(T::ZERO),
            log_z: top + s0.ln(),
        }
    }
}

impl<T: Real, L: Likelihood<T>> ChannelKind<T> for QuadratureChannel<'_, T, L> {
    fn name(&self) -> &'static str {
        "quadrature"
    }

    /// The importance-weighted rule `h = μ(z) + s(z) x_i`, weights `w_i P(h|z)/N(h; μ, s²)`
    /// normalised to sum to one.
    fn law(&self, z: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        let (mu, s) = self.likelihood.location_scale(z);
        let ratio = |x: T| {
            (self.likelihood.log_density(mu + s * x, z)
                + s.ln()
                + T::c(LN_SQRT_2PI)
                + T::HALF * x * x)
                .exp()
        };
        let total: T = rule.iter().map(|(x, w)| w * ratio(x)).sum();
        for (x, w) in rule.iter() {
            visit(mu + s * x, w * ratio(x) / total);
        }
    }

    fn sample(&self, z: T, xi: T) -> T {
        self.likelihood.sample(z, xi)
    }

    fn amp(&self) -> Option<&dyn Channel<T>> {
        Some(self)
    }

    /// MMSE with `d = 1` through the scalar channel (its hidden function by quadrature).
    fn row_form(&self, estimator: Estimator, d: usize) -> Result<RowChannelForm<'_, T>, Error> {
        match (estimator, d) {
            (Estimator::Mmse, 1) => Ok(RowChannelForm::Scalar(self)),
            _ => Err(Error::Unsupported {
                field: "estimator",
                reason: "a quadrature channel runs in ML-Mat-VAMP with estimator = \"mmse\" \
                         and d = 1 only",
            }),
        }
    }
}
