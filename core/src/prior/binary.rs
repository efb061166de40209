//! The binary ±1 prior, with a bias.

use super::{Component, Posterior};
use crate::error::{Error, finite};
use crate::real::Real;
use crate::special::{log_cosh, sech2};

/// P_X(x) = e^{b₀ x} / (2 cosh b₀) on x ∈ {−1, +1}: P(+1) = (1 + tanh b₀)/2. b₀ = 0 is the
/// Rademacher prior of the ML-AMP paper's eqs. 19 and 20.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Binary<T> {
    bias: T,
    comps: [Component<T>; 2],
}

impl<T: Real> Binary<T> {
    /// The prior with bias b₀ ∈ [−30, 30] (beyond, the rare sign's probability, ≈ e^{−2|b₀|},
    /// and the prior's variance fall below 1e-26: a constant signal, not a prior).
    pub fn new(bias: T) -> Result<Self, Error> {
        finite("bias", bias)?;
        if bias.abs() > T::c(30.0) {
            return Err(Error::InvalidParameter {
                name: "bias",
                requirement: "in [-30, 30]",
            });
        }
        // (1 ± tanh b₀)/2 written as 1/(1 + e^{∓2b₀}): the same numbers, but the rare sign
        // keeps its relative accuracy (1 + tanh b₀ cancels: at b₀ = −15 it is 6e-4 off, and 0
        // from b₀ ≈ −19 in f64).
        let p_plus = T::ONE / (T::ONE + (-T::TWO * bias).exp());
        let p_minus = T::ONE / (T::ONE + (T::TWO * bias).exp());
        Ok(Self {
            bias,
            comps: [
                Component {
                    weight: p_minus,
                    mean: -T::ONE,
                    var: T::ZERO,
                },
                Component {
                    weight: p_plus,
                    mean: T::ONE,
                    var: T::ZERO,
                },
            ],
        })
    }
}

crate::mixture_prior!(
    Binary<T>,
    components = |p| &p.comps,
    posterior = Binary::closed_form
);

impl<T: Real> Binary<T> {
    /// The posterior in closed form: with field `h = B + b₀`, mean `tanh h`, variance
    /// `sech² h` (accurate for huge fields), `log Z = −A/2 + log cosh h − log cosh b₀`.
    pub fn closed_form(&self, a: T, b: T) -> Posterior<T> {
        let h = b + self.bias;
        Posterior {
            mean: h.tanh(),
            var: sech2(h),
            log_z: -T::HALF * a + log_cosh(h) - log_cosh(self.bias),
        }
    }
}
