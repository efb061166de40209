//! The sign channel, noiseless or probit: `h = sign(z + ξ)`, `ξ ~ N(0, Δ)`.

use super::kind::{ChannelKind, RowChannelForm};
use super::{Channel, HiddenMessage, OutputMessage, log_mix2, log_probit, var_floor};
use crate::error::{Error, noise_scale};
use crate::estimator::Estimator;
use crate::quadrature::{Accumulator, Rule};
use crate::real::Real;
use crate::se::{SeQuadrature, SeTerms, fine_scale};
use crate::special::norm_cdf;

/// `P_out(h|z) = Φ(h z/√Δ)` on `h ∈ {−1, +1}`; Δ = 0 is the noiseless sign (a step).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sign<T> {
    noise_var: T,
}

impl<T: Real> Sign<T> {
    /// Pre-activation noise variance Δ ≥ 0.
    pub fn new(noise_var: T) -> Result<Self, Error> {
        noise_scale("noise_var", noise_var)?;
        Ok(Self { noise_var })
    }
}

/// Visits `(+1, Φ(z/√s))` and `(−1, Φ(−z/√s))`; at `s = 0` a step, ½ each at `z = 0`.
fn two_point<T: Real>(z: T, s: T, visit: &mut dyn FnMut(T, T)) {
    let p_plus = if s == T::ZERO {
        if z > T::ZERO {
            T::ONE
        } else if z < T::ZERO {
            T::ZERO
        } else {
            T::HALF
        }
    } else {
        norm_cdf(z / s.sqrt())
    };
    if p_plus > T::ZERO {
        visit(T::ONE, p_plus);
    }
    if p_plus < T::ONE {
        // Φ(−u) directly, not 1 − Φ(u), to keep its relative accuracy.
        let p_minus = if s == T::ZERO {
            T::ONE - p_plus
        } else {
            norm_cdf(-z / s.sqrt())
        };
        visit(-T::ONE, p_minus);
    }
}

impl<T: Real> Channel<T> for Sign<T> {
    /// `Z = Φ(y ω/√S)`, `S = V + Δ`: `g = y r(u)/√S`, `∂g = (log Φ)''(u)/S`, `u = y ω/√S`.
    fn output(&self, y: T, v: T, omega: T) -> OutputMessage<T> {
        let t = log_probit(y, omega, var_floor(v + self.noise_var));
        OutputMessage {
            g: t.d1,
            dg: t.d2,
            log_z: t.value,
        }
    }

    /// `Z = e^{−A/2} [e^{B} Φ(u) + e^{−B} Φ(−u)]`, `u = ω/√S`: a two-term log-mixture whose
    /// weights give the mean `p₊ − p₋` and variance `4 p₊ p₋`.
    fn hidden(&self, a: T, b: T, v: T, omega: T) -> HiddenMessage<T> {
        let s = var_floor(v + self.noise_var);
        let mut plus = log_probit(T::ONE, omega, s);
        let mut minus = log_probit(-T::ONE, omega, s);
        plus.value += b;
        minus.value -= b;
        let (p_plus, om) = log_mix2(plus, minus);
        let p_minus = (minus.value - om.value).exp();
        HiddenMessage {
            g: om.d1,
            dg: om.d2,
            mean: p_plus - p_minus,
            var: T::c(4.0) * p_plus * p_minus,
            log_z: om.value - T::HALF * a,
        }
    }

    /// `h = ±1` with probabilities `Φ(±w/√(V + Δ))`.
    fn law_given_mean(&self, w: T, v: T, _rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        two_point(w, v.max(T::ZERO) + self.noise_var, visit);
    }

    /// The generic average with the sum over `h = ±1` folded: the channel is odd, so
    /// `(h, b, w) → (−h, −b, −w)` leaves `g²`, `ĥ²` and `log Z` unchanged and maps the law onto
    /// itself; `E F = 2 E_w [Φ(w/√(V+Δ)) E_ξ F(+1, Â + √Â ξ, w)]`, half the work.
    fn se_hidden(&self, rho: T, m: T, a_hat: T, q: &SeQuadrature<'_, T>) -> SeTerms<T> {
        let v = (rho - m).max(T::ZERO);
        let sm = m.max(T::ZERO).sqrt();
        let a = a_hat.max(T::ZERO);
        let sa = a.sqrt();
        let s = v + self.noise_var;
        let [hat, overlap, log_z] = q.graded.expect(fine_scale(v, m), |t| {
            let w = sm * t;
            let mut p_plus = T::ZERO;
            two_point(w, s, &mut |h, p| {
                if h > T::ZERO {
                    p_plus = p;
                }
            });
            let inner = q.rule.expect(|xi| {
                let o = self.hidden(a, a + sa * xi, v, w);
                [o.g * o.g, o.mean * o.mean, o.log_z]
            });
            [T::ZERO; 3].add_scaled(T::TWO * p_plus, inner)
        });
        SeTerms {
            hat,
            overlap,
            log_z,
        }
    }

    fn check_observation(&self, y: T) -> Result<(), Error> {
        if y == T::ONE || y == -T::ONE {
            Ok(())
        } else {
            Err(Error::UnsupportedObservation { channel: "sign" })
        }
    }
}

impl<T: Real> ChannelKind<T> for Sign<T> {
    fn name(&self) -> &'static str {
        "sign"
    }

    /// `h = ±1` with probabilities `Φ(±z/√Δ)` (a step at Δ = 0, ½ each at z = 0).
    fn law(&self, z: T, _rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        two_point(z, self.noise_var, visit);
    }

    fn sample(&self, z: T, xi: T) -> T {
        if z + self.noise_var.sqrt() * xi >= T::ZERO {
            T::ONE
        } else {
            -T::ONE
        }
    }

    fn amp(&self) -> Option<&dyn Channel<T>> {
        Some(self)
    }

    /// MMSE with `d = 1` only (the closed-form scalar channel): the likelihood is a step, so
    /// there is no MAP estimator, and the MMSE for `d > 1` would be a non-Gaussian integral.
    fn row_form(&self, estimator: Estimator, d: usize) -> Result<RowChannelForm<'_, T>, Error> {
        match (estimator, d) {
            (Estimator::Mmse, 1) => Ok(RowChannelForm::Scalar(self)),
            (Estimator::Map, _) => Err(Error::Unsupported {
                field: "estimator",
                reason: "a sign channel has no MAP estimator (its likelihood is a step): use \
                         estimator = \"mmse\" (with d = 1)",
            }),
            (Estimator::Mmse, _) => Err(Error::Unsupported {
                field: "d",
                reason: "a sign channel's MMSE estimator needs d = 1 (and it has no MAP estimator)",
            }),
        }
    }
}
