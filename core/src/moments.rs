//! First and second moments of every layer's variable under the generative model, pushed
//! through the channels: what ML-AMP is initialised with and the ρ_ℓ of the state evolution
//! (ML-AMP paper (Manoel, Krzakala, Mézard, Zdeborová, *Multi-layer generalized linear estimation*), below eq. 12: "ρ_ℓ is the second moment of h^(ℓ)").

use crate::channel::ChannelKind;
use crate::error::{Error, length};
use crate::prior::Prior;
use crate::quadrature::{Accumulator, GradedNormal, Rule};
use crate::real::Real;
use crate::se::SE_PANEL_POINTS;

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

/// Fills `out[0]` with the prior's moments per entry for rows of `d` entries
/// ([`Prior::row_second_moment`]) and `out[k]`, k ≥ 1, with those of `h_k`, the
/// output of channel `k − 1`. With `W` iid zero-mean of variance `1/n_in`, a pre-activation is
/// `z ~ N(0, ρ_{k−1})` over the randomness of `W` and the input, so
/// `E h_k^p = E_{z ~ N(0, ρ_{k−1})} E_{h ~ P_out(·|z)} h^p`: z by Gauss–Legendre panels with
/// an edge at `z = 0` (exact to round-off for the kinks of ReLU and sign there), h by the
/// channel's law with the Gauss–Hermite `rule`. `out.len()` must be `channels.len() + 1`.
pub fn marginal_moments<T: Real>(
    prior: &dyn Prior<T>,
    d: usize,
    channels: &[&dyn ChannelKind<T>],
    rule: Rule<'_, T>,
    out: &mut [Moments<T>],
) -> Result<(), Error> {
    length("moments", out, channels.len() + 1)?;
    out[0] = Moments {
        mean: prior.mean(),
        second: prior.row_second_moment(d),
    };
    let panels = GradedNormal::<T, SE_PANEL_POINTS>::new();
    for (k, ch) in channels.iter().enumerate() {
        let sd = out[k].second.sqrt();
        let [mean, second] = panels.expect(T::ONE, |x| {
            let mut acc = [T::ZERO; 2];
            ch.law(sd * x, rule, &mut |h, p| {
                acc = acc.add_scaled(p, [h, h * h])
            });
            acc
        });
        out[k + 1] = Moments { mean, second };
    }
    Ok(())
}
