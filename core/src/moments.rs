//! First and second moments of every layer's variable under the generative model, pushed
//! through the channels: what ML-AMP is initialised with and the ρ_ℓ of the state evolution
//! (ML-AMP paper, `000_…`, below eq. 12: "ρ_ℓ is the second moment of h^(ℓ)").

use crate::channel::Channel;
use crate::error::{Error, length};
use crate::prior::Prior;
use crate::quadrature::Rule;
use crate::real::Real;

/// Mean and second moment of one layer's entries.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Moments<T> {
    /// E h.
    pub mean: T,
    /// E h².
    pub second: T,
}

impl<T: Real> Moments<T> {
    /// Var h = E h² − (E h)², floored at 0.
    pub fn variance(&self) -> T {
        (self.second - self.mean * self.mean).max(T::ZERO)
    }
}

/// Fills `out[0]` with the prior's moments and `out[k]`, k ≥ 1, with those of `h_k`, the
/// output of channel `k − 1`. With `W` iid zero-mean of variance `1/n_in`, a pre-activation is
/// `z ~ N(0, ρ_{k−1})` over the randomness of `W` and the input, so
/// `E h_k^p = E_{z ~ N(0, ρ_{k−1})} E_{h ~ P_out(·|z)} h^p`, by the rule in z and the channel's
/// own rule in h. `out.len()` must be `channels.len() + 1`.
pub fn marginal_moments<T: Real>(
    prior: &dyn Prior<T>,
    channels: &[&dyn Channel<T>],
    rule: Rule<'_, T>,
    out: &mut [Moments<T>],
) -> Result<(), Error> {
    length("moments", out, channels.len() + 1)?;
    out[0] = Moments {
        mean: prior.mean(),
        second: prior.second_moment(),
    };
    for (k, ch) in channels.iter().enumerate() {
        let sd = out[k].second.sqrt();
        let mean = rule.expect(|x| ch.expect_given(sd * x, rule, &mut |h| h));
        let second = rule.expect(|x| ch.expect_given(sd * x, rule, &mut |h| h * h));
        out[k + 1] = Moments { mean, second };
    }
    Ok(())
}
