//! Channels `P_out(h | z)`: how a layer's output `h` is produced from its pre-activation
//! `z = W h_in`.
//!
//! One channel serves both ends of ML-AMP (ML-AMP paper, `000_…`):
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

mod linear;
mod quadrature;
mod relu;
mod sign;

pub use linear::Linear;
pub use quadrature::{Likelihood, QuadratureChannel};
pub use relu::Relu;
pub use sign::Sign;

use crate::error::Error;
use crate::quadrature::Rule;
use crate::real::Real;

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

/// A channel `P_out(h | z)`. Object safe, so that a model can hold `&dyn Channel<T>` layers
/// of different kinds without allocation.
pub trait Channel<T: Real> {
    /// A short name, for errors.
    fn name(&self) -> &'static str;

    /// eq. 7 (ML-AMP paper): the output function at observation `y`, variance `V > 0` and
    /// mean `ω`.
    fn output(&self, y: T, v: T, omega: T) -> OutputMessage<T>;

    /// eq. 6 (ML-AMP paper): the hidden-layer function at `A ≥ 0`, `B`, `V > 0`, `ω`.
    fn hidden(&self, a: T, b: T, v: T, omega: T) -> HiddenMessage<T>;

    /// `E_{h ~ P_out(·|z)} f(h)`: exact sums for discrete outputs, the Gauss–Hermite `rule`
    /// over Gaussian noise.
    fn expect_given(&self, z: T, rule: Rule<'_, T>, f: &mut dyn FnMut(T) -> T) -> T;

    /// A draw of `h` given `z` and a standard normal `xi` (the channel's only randomness).
    fn sample(&self, z: T, xi: T) -> T;

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

/// Smallest variance the channels divide by: keeps `1/√V` finite when an estimate's variance
/// underflows to zero (a converged binary signal, say). √(smallest normal).
#[inline]
pub(crate) fn var_floor<T: Real>(v: T) -> T {
    v.max(T::MIN_POSITIVE.sqrt())
}

/// A log-term `a` with its first and second derivatives in one variable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Term<T> {
    pub value: T,
    pub d1: T,
    pub d2: T,
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
