//! Channels `P_out(h | z)`: how a layer's output `h` is produced from its pre-activation
//! `z = W h_in`.
//!
//! One channel serves both ends of ML-AMP (the "ML-AMP paper": Manoel, Krzakala, Mézard,
//! Zdeborová, "Multi-layer generalized linear estimation"):
//! - as the **output** channel (the paper's layer 1, our last layer), eq. 7:
//!   `Z(y, V, ω) = ∫ dz P_out(y|z) N(z; ω, V)`, giving `g = ∂_ω log Z`, `∂_ω g`;
//! - as a **hidden** channel (the paper's layers 2…L, our layers below the last), eq. 6:
//!   `Z(A, B, V, ω) = ∫ dh dz P_out(h|z) N(z; ω, V) e^{−A h²/2 + B h}`, giving `g`, `∂_ω g`
//!   and the mean `∂_B log Z` and variance `∂²_B log Z` of the hidden variable. (The paper's
//!   `Z^(ℓ)(A^(ℓ−1), B^(ℓ−1), V^(ℓ), ω^(ℓ))` is our layer's channel with the `A`, `B` of its own
//!   output variable.)
//!
//! Each channel also describes its law, for the state evolution's quadrature and for
//! sampling instances.

pub mod activation;
mod committee;
mod kind;
mod linear;
mod masked;
mod mixed_linear;
mod noisy;
mod quadrature;
mod relu;
mod sign;
mod sketch;

pub use activation::Activation;
pub use committee::{Committee, MAX_COMMITTEE, SnrReference, output_power};
pub use kind::{ChannelKind, RowChannelForm, activation_form};
pub use linear::Linear;
pub use masked::Masked;
pub use mixed_linear::MixedLinear;
pub use noisy::Noisy;
pub use quadrature::{Likelihood, QuadratureChannel};
pub use relu::Relu;
pub use sign::Sign;
pub use sketch::{MAX_SKETCH, Sketch, phasor_sum};

use crate::error::Error;
use crate::quadrature::{Accumulator, Rule};
use crate::real::Real;
use crate::se::{SeQuadrature, SeTerms, fine_scale};
use crate::special::{inv_mills, log_norm_cdf, log_norm_cdf_dd};

/// Result of the output function of eq. 7.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutputMessage<T> {
    /// `g = ∂_ω log Z(y, V, ω)`.
    pub g: T,
    /// `∂_ω g = ∂²_ω log Z(y, V, ω)`.
    pub dg: T,
    /// `log Z(y, V, ω)`.
    pub log_z: T,
}

/// Result of the hidden-layer function of eq. 6.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HiddenMessage<T> {
    /// `g = ∂_ω log Z(A, B, V, ω)`.
    pub g: T,
    /// `∂_ω g = ∂²_ω log Z`.
    pub dg: T,
    /// `∂_B log Z`: the posterior mean of the hidden variable.
    pub mean: T,
    /// `∂²_B log Z`: its posterior variance (≥ 0).
    pub var: T,
    /// `log Z(A, B, V, ω)`.
    pub log_z: T,
}

/// A channel `P_out(h | z)` as ML-AMP runs it: the output and hidden functions of eqs. 6–7
/// and the state evolution's averages. Its law, sampling and name are those of its
/// [`ChannelKind`]. Object safe, so that a model can hold `&dyn Channel<T>` layers of
/// different kinds without allocation.
pub trait Channel<T: Real>: ChannelKind<T> {
    /// eq. 7 (ML-AMP paper): the output function at observation `y`, variance `V > 0` and
    /// mean `ω`.
    fn output(&self, y: T, v: T, omega: T) -> OutputMessage<T>;

    /// eq. 6 (ML-AMP paper): the hidden-layer function at `A ≥ 0`, `B`, `V > 0`, `ω`.
    fn hidden(&self, a: T, b: T, v: T, omega: T) -> HiddenMessage<T>;

    /// `E_{h ~ P_out(·|z)} f(h)` through [`ChannelKind::law`].
    fn expect_given(&self, z: T, rule: Rule<'_, T>, f: &mut dyn FnMut(T) -> T) -> T {
        let mut acc = T::ZERO;
        self.law(z, rule, &mut |h, p| acc += p * f(h));
        acc
    }

    /// The law of `h` given the mean `w` of a Gaussian pre-activation `z ~ N(w, V)`, i.e. the
    /// density `Z(h, V, w)` of eq. 7, as a quadrature (visits `(h, p)`, `p` summing to one).
    /// Default: the `rule` over z nested with [`ChannelKind::law`]; channels with a closed form
    /// override it.
    fn law_given_mean(&self, w: T, v: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        let sd = v.max(T::ZERO).sqrt();
        for (x, wx) in rule.iter() {
            self.law(w + sd * x, rule, &mut |h, p| visit(h, wx * p));
        }
    }

    /// The state evolution's averages for this channel as the **output** layer (ML-AMP paper,
    /// eq. 13 and the `I^(1)` of eq. 15; its layer 1 is our last): with `V = ρ − m`,
    /// `w ~ N(0, m)`, `y ~ Z(·, V, w)`, returns `hat = E g_out(y, V, w)²` (so that
    /// `m̂ = α · hat`; `E g² = −E ∂g` at the Bayes-optimal point) and
    /// `log_z = E log Z_out(y, V, w)`. `ρ` is the second moment of the layer's input.
    fn se_output(&self, rho: T, m: T, q: &SeQuadrature<'_, T>) -> SeTerms<T> {
        let v = (rho - m).max(T::ZERO);
        let sm = m.max(T::ZERO).sqrt();
        let [hat, log_z] = q.graded.expect(fine_scale(v, m), |t| {
            let w = sm * t;
            let mut acc = [T::ZERO; 2];
            self.law_given_mean(w, v, q.rule, &mut |y, p| {
                let o = self.output(y, v, w);
                acc = acc.add_scaled(p, [o.g * o.g, o.log_z]);
            });
            acc
        });
        SeTerms {
            hat,
            overlap: T::ZERO,
            log_z,
        }
    }

    /// The state evolution's averages for this channel as a **hidden** layer (ML-AMP paper,
    /// eqs. 11–12 and the `I^(ℓ)` of eq. 15; its layer ℓ ≥ 2 is our layer `L − ℓ`): with
    /// `V = ρ − m` (ρ, m of the layer's input), `w ~ N(0, m)`, `h ~ Z(·, V, w)` and
    /// `b ~ N(Â h, Â)` (`Â` = `a_hat`, the m̂ of the layer's output), returns
    /// `hat = E g²`, `overlap = E ĥ²` (the output's new m) and `log_z = E log Z`.
    fn se_hidden(&self, rho: T, m: T, a_hat: T, q: &SeQuadrature<'_, T>) -> SeTerms<T> {
        let v = (rho - m).max(T::ZERO);
        let sm = m.max(T::ZERO).sqrt();
        let a_hat = a_hat.max(T::ZERO);
        let sa = a_hat.sqrt();
        let [hat, overlap, log_z] = q.graded.expect(fine_scale(v, m), |t| {
            let w = sm * t;
            let mut acc = [T::ZERO; 3];
            self.law_given_mean(w, v, q.rule, &mut |h, p| {
                let inner = q.rule.expect(|xi| {
                    let o = self.hidden(a_hat, a_hat * h + sa * xi, v, w);
                    [o.g * o.g, o.mean * o.mean, o.log_z]
                });
                acc = acc.add_scaled(p, inner);
            });
            acc
        });
        SeTerms {
            hat,
            overlap,
            log_z,
        }
    }

    /// `Ok` if `y` is a possible observation (finite, and e.g. ±1 for a sign channel).
    fn check_observation(&self, y: T) -> Result<(), Error> {
        if y.is_finite() {
            Ok(())
        } else {
            Err(Error::NonFinite {
                what: "observation",
            })
        }
    }
}

/// `Ok` if `noise_var > 0`: a channel whose observation has a density only with noise
/// (ReLU, sigmoid, tanh) cannot produce the observation noiselessly.
pub(crate) fn output_needs_noise<T: Real>(noise_var: T) -> Result<(), Error> {
    if noise_var > T::ZERO {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "noise_var",
            requirement: "> 0 for an output layer of this channel (the observation has a density only with noise)",
        })
    }
}

/// Smallest variance the channels divide by: keeps `1/√V` finite when an estimate's variance
/// underflows to zero (a converged binary signal, say). √(smallest normal).
#[inline]
pub(crate) fn var_floor<T: Real>(v: T) -> T {
    v.max(T::MIN_POSITIVE.sqrt())
}

/// Visits the law `N(mean, var)` through the Gauss–Hermite `rule` (a single point if
/// `var = 0`).
pub(crate) fn gaussian_law<T: Real>(
    mean: T,
    var: T,
    rule: Rule<'_, T>,
    visit: &mut dyn FnMut(T, T),
) {
    if var == T::ZERO {
        visit(mean, T::ONE);
    } else {
        let sd = var.sqrt();
        for (x, w) in rule.iter() {
            visit(mean + sd * x, w);
        }
    }
}

/// A log-term `a` with its first and second derivatives in one variable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Term<T> {
    pub value: T,
    pub d1: T,
    pub d2: T,
}

/// The probit term `log Φ(u)`, `u = sgn · ω/√S` (`sgn = ±1`), as a function of ω: value, and
/// derivatives `sgn · r(u)/√S` and `(log Φ)''(u)/S`, `r = φ/Φ` the inverse Mills ratio. The
/// sign channel's two branches, and the ReLU's `z < 0` branch (`sgn = −1`, `S = V`).
#[inline]
pub(crate) fn log_probit<T: Real>(sgn: T, omega: T, s: T) -> Term<T> {
    let sd = s.sqrt();
    let u = sgn * omega / sd;
    Term {
        value: log_norm_cdf(u),
        d1: sgn * inv_mills(u) / sd,
        d2: log_norm_cdf_dd(u) / s,
    }
}

/// `log(e^{a} + e^{b})` with its first and second derivatives, from those of each term:
/// with weights `p = softmax(a, b)`, `d1 = Σ p d1_i` and
/// `d2 = Σ p d2_i + p_a p_b (d1_a − d1_b)²` (the variance of a two-point law, written without
/// cancellation). The last term is formed as `(p_a δ)(p_b δ)`, `δ = d1_a − d1_b`, so that a
/// weight that underflowed to 0 gives 0 even where `δ²` alone would overflow (0 · ∞ = NaN).
pub(crate) fn log_mix2<T: Real>(a: Term<T>, b: Term<T>) -> (T, Term<T>) {
    let value = crate::special::log_add_exp(a.value, b.value);
    let pa = (a.value - value).exp();
    let pb = (b.value - value).exp();
    let d1 = pa * a.d1 + pb * b.d1;
    let diff = a.d1 - b.d1;
    let d2 = pa * a.d2 + pb * b.d2 + (pa * diff) * (pb * diff);
    (pa, Term { value, d1, d2 })
}
