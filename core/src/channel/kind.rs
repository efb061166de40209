//! What a channel kind provides, whichever algorithm runs it: [`ChannelKind`].
//!
//! A layer's channel `P(h | z)` is one kind (linear, sign, ReLU, sigmoid, …), one file of
//! [`crate::channel`]. The kind says everything the host needs after a model is built: its
//! law (to sample instances and to push second moments through the layers), its ML-AMP form
//! ([`Channel`], where it has one), and which row estimator ML-Mat-VAMP runs it with
//! ([`RowChannelForm`]). Nothing outside the kind's own file decides by its name.

use super::activation::Activation;
use super::{Channel, HiddenMessage, OutputMessage};
use crate::error::Error;
use crate::estimator::Estimator;
use crate::quadrature::Rule;
use crate::real::Real;
use crate::se::{SeQuadrature, SeTerms};

/// The row estimator a channel kind is run with in ML-Mat-VAMP (the pair and output
/// estimators `G_ℓ^±` of eq. 13 of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher,
/// *Matrix inference and estimation in multi-layer models*).
#[derive(Clone, Copy)]
pub enum RowChannelForm<'a, T> {
    /// `h = φ(z) + N(0, Δ)` entry by entry: [`crate::mat::ActivationDenoiser`] (MAP by Newton
    /// in any `d`; MMSE by quadrature for `d = 1`, exactly in any `d` when `φ` is the
    /// identity).
    Activation {
        /// `φ`.
        phi: &'a dyn Activation<T>,
        /// `Δ ≥ 0`.
        noise_var: T,
    },
    /// The scalar channel's own closed-form MMSE estimator, `d = 1`
    /// ([`crate::mat::ScalarChannelDenoiser`]).
    Scalar(&'a dyn Channel<T>),
    /// The committee output `y = F₂ᵀ σ(z) + N(0, Δ)` of a whole row
    /// ([`crate::mat::CommitteeDenoiser`]: MAP by Newton, MMSE by cubature).
    Committee {
        /// `σ`.
        phi: &'a dyn Activation<T>,
        /// `F₂`, one entry per entry of the row.
        f2: &'a [T],
        /// `Δ > 0`.
        noise_var: T,
    },
    /// Mixed linear regression `y = z_q + N(0, Δ)`, `q = 0` with probability `π`, of a row of
    /// 2 ([`crate::mat::MixedLinearDenoiser`]: MMSE in closed form; its MAP is not offered to the algorithms).
    MixedLinear {
        /// `π ∈ (0, 1)`.
        pi: T,
        /// `Δ ≥ 0`.
        noise_var: T,
    },
    /// The masked output `y_ij = z_ij + N(0, Δ)` on the observed entries of a row, whose
    /// observed row carries its `d` values and `d` mask entries
    /// ([`crate::mat::MaskedDenoiser`]: MAP = MMSE, closed form, any `d`).
    Masked {
        /// The probability that an entry is observed, `(0, 1]`.
        observed: T,
        /// `Δ ≥ 0`.
        noise_var: T,
    },
    /// The sketched-clustering output `y = Σ_j α_j e^{√−1 z_j} + ξ` of a whole row, observed
    /// as `(Re y, Im y)` ([`crate::mat::SketchDenoiser`]: MAP by multi-start Newton; no
    /// MMSE).
    Sketch {
        /// `α`, one weight per entry of the row.
        alpha: &'a [T],
        /// `Δ > 0`, per real and imaginary part.
        noise_var: T,
    },
}

/// A layer's channel kind: its law, its ML-AMP form and its ML-Mat-VAMP row estimator.
/// Object safe: a model holds `&dyn ChannelKind<T>` layers of different kinds.
///
/// `Sync`: one model is shared by the threads of a parallel run (the state evolution's
/// Monte-Carlo blocks).
pub trait ChannelKind<T: Real>: Sync {
    /// The kind's name, as in model files (`"linear"`, `"sign"`, …).
    fn name(&self) -> &'static str;

    /// The law of `h` given `z` as a quadrature: calls `visit(h, p)` for points `h` with
    /// probabilities `p` summing to one (exact for a discrete output, the Gauss–Hermite `rule`
    /// over Gaussian noise).
    fn law(&self, z: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T));

    /// A draw of `h` given `z` and a standard normal `xi` (the channel's only randomness).
    fn sample(&self, z: T, xi: T) -> T;

    /// A draw of the layer's output row given its pre-activation row `z` (`d` entries) into
    /// `out` ([`ChannelKind::observation_dim`]`(d)` entries), the standard normals drawn from
    /// `xi` in order. Default, for a channel acting entry by entry:
    /// `out[j] = sample(z[j], xi())` in column order (one draw per entry, so existing
    /// instances keep their bits); [`Error::ShapeMismatch`] if `out` and `z` differ in length.
    fn sample_row(&self, z: &[T], xi: &mut dyn FnMut() -> T, out: &mut [T]) -> Result<(), Error> {
        crate::error::length("output row", out, z.len())?;
        for (o, &zj) in out.iter_mut().zip(z) {
            *o = self.sample(zj, xi());
        }
        Ok(())
    }

    /// The scalar channel of ML-AMP and its state evolution (Manoel, Krzakala, Mézard,
    /// Zdeborová, *Multi-layer generalized linear estimation*, eqs. 6–7), `None` for a kind
    /// that only ML-Mat-VAMP runs.
    fn amp(&self) -> Option<&dyn Channel<T>>;

    /// `Ok` if the kind can produce the observation (the last layer): a kind whose
    /// observation has a density only with noise (ReLU, sigmoid, tanh) refuses `Δ = 0` here,
    /// as an [`Error::InvalidParameter`] naming `noise_var`.
    fn check_as_output(&self) -> Result<(), Error> {
        Ok(())
    }

    /// `Ok` if the kind can be a hidden layer (below the last); a kind that only produces an
    /// observation (the committee, whose output has fewer entries than its input row) returns
    /// [`Error::Unsupported`].
    fn check_as_hidden(&self) -> Result<(), Error> {
        Ok(())
    }

    /// The row estimator ML-Mat-VAMP runs this kind with, for `estimator` and rows of `d`
    /// entries; [`Error::Unsupported`] (naming `estimator` or `d`) where the kind has none.
    fn row_form(&self, estimator: Estimator, d: usize) -> Result<RowChannelForm<'_, T>, Error>;

    /// Entries of an observed row when the layer's input rows have `d` entries (`d` for an
    /// entry-wise channel; a committee output observes fewer).
    fn observation_dim(&self, d: usize) -> usize {
        d
    }
}

/// The [`Error::Unsupported`] of [`ChannelKind::check_as_hidden`] for a kind that observes
/// fewer numbers than its input row has entries (the committee, mixed linear regression):
/// such a kind can only be the last layer.
pub const OUTPUT_ONLY: Error = Error::Unsupported {
    field: "type",
    reason: "this output observes fewer numbers per row than a row has: it can only be the last layer",
};

/// The activation form of `h = φ(z) + N(0, Δ)`, where its estimator exists: MAP always;
/// MMSE exactly for the identity (a Gaussian belief) and by quadrature for `d = 1`, else
/// [`Error::Unsupported`] (for `d > 1` the belief is a non-Gaussian d-dimensional integral,
/// which is not approximated silently).
pub fn activation_form<'a, T: Real>(
    phi: &'a dyn Activation<T>,
    noise_var: T,
    estimator: Estimator,
    d: usize,
) -> Result<RowChannelForm<'a, T>, Error> {
    if !estimator.supports(phi, d) {
        return Err(Error::Unsupported {
            field: "estimator",
            reason: "mmse for this channel needs d = 1 (the belief is a d-dimensional \
                     non-Gaussian integral): use estimator = \"map\"",
        });
    }
    Ok(RowChannelForm::Activation { phi, noise_var })
}

/// A reference to a channel kind is the kind (every method forwarded).
impl<T: Real, K: ChannelKind<T> + ?Sized> ChannelKind<T> for &K {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn law(&self, z: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        (**self).law(z, rule, visit)
    }
    fn sample(&self, z: T, xi: T) -> T {
        (**self).sample(z, xi)
    }
    fn sample_row(&self, z: &[T], xi: &mut dyn FnMut() -> T, out: &mut [T]) -> Result<(), Error> {
        (**self).sample_row(z, xi, out)
    }
    fn check_as_hidden(&self) -> Result<(), Error> {
        (**self).check_as_hidden()
    }
    fn amp(&self) -> Option<&dyn Channel<T>> {
        (**self).amp()
    }
    fn check_as_output(&self) -> Result<(), Error> {
        (**self).check_as_output()
    }
    fn row_form(&self, estimator: Estimator, d: usize) -> Result<RowChannelForm<'_, T>, Error> {
        (**self).row_form(estimator, d)
    }
    fn observation_dim(&self, d: usize) -> usize {
        (**self).observation_dim(d)
    }
}

/// A reference to a channel is the channel (every method forwarded, the overridden
/// provided ones included), so estimators can hold `&dyn Channel<T>`.
impl<T: Real, C: Channel<T> + ?Sized> Channel<T> for &C {
    fn output(&self, y: T, v: T, omega: T) -> OutputMessage<T> {
        (**self).output(y, v, omega)
    }
    fn hidden(&self, a: T, b: T, v: T, omega: T) -> HiddenMessage<T> {
        (**self).hidden(a, b, v, omega)
    }
    fn expect_given(&self, z: T, rule: Rule<'_, T>, f: &mut dyn FnMut(T) -> T) -> T {
        (**self).expect_given(z, rule, f)
    }
    fn law_given_mean(&self, w: T, v: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        (**self).law_given_mean(w, v, rule, visit)
    }
    fn se_output(&self, rho: T, m: T, q: &SeQuadrature<'_, T>) -> SeTerms<T> {
        (**self).se_output(rho, m, q)
    }
    fn se_hidden(&self, rho: T, m: T, a_hat: T, q: &SeQuadrature<'_, T>) -> SeTerms<T> {
        (**self).se_hidden(rho, m, a_hat, q)
    }
    fn check_observation(&self, y: T) -> Result<(), Error> {
        (**self).check_observation(y)
    }
}
