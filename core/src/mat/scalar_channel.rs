//! Any scalar ML-AMP [`Channel`] as the `d = 1` MMSE row estimators of ML-Mat-VAMP.

use super::{ChannelDenoiser, MatReal, PairEstimate, RowEstimate, RowMessage};
use crate::channel::Channel;
use crate::error::Error;
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// A scalar channel `P(h | z)` ([`Channel`]: [`crate::channel::Linear`],
/// [`crate::channel::Sign`], [`crate::channel::Relu`], …) as the MMSE estimators
/// `G_{ℓ,mmse}^±` of eq. 13 (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix
/// inference and estimation in multi-layer models*) for rows of dimension `d = 1`, where
/// ML-Mat-VAMP is ML-VAMP and the messages are scalars `(r, γ)`.
///
/// The paper's layer `ℓ` has `Z_ℓ` = our output `h` (message `(r_out, γ_out)` = its
/// `(R_ℓ^-, Γ_ℓ^-)`) and `Z_{ℓ−1}` = our input `z` (message `(r_in, γ_in)` = its
/// `(R_{ℓ−1}^+, Γ_{ℓ−1}^+)`). The belief of eq. 12,
/// `b(h, z) ∝ P(h | z) e^{−γ_out (h − r_out)²/2} e^{−γ_in (z − r_in)²/2}`, is, up to a
/// constant, the integrand of the channel's hidden function (Manoel, Krzakala, Mézard,
/// Zdeborová, *Multi-layer generalized linear estimation*, eq. 6)
/// `Z(A, B, V, ω) = ∫ dh dz P(h|z) e^{−A h²/2 + B h} N(z; ω, V)` at
/// `A = γ_out`, `B = γ_out r_out`, `V = 1/γ_in`, `ω = r_in`. So, with
/// `(g, ∂g, mean, var)` = [`Channel::hidden`]:
///
/// - `ẑ = E[z] = ω + V g`, `Var z = V (1 + V ∂g)`, `∂ẑ/∂r_in = 1 + V ∂g = Var(z) γ_in`;
/// - `ĥ = E[h] = mean`, `Var h = var`, `∂ĥ/∂r_out = var · γ_out`.
///
/// The observed layer (`G_L^-`): the output function (eq. 7) at `(y, V = 1/γ, ω = r)`,
/// `ẑ = ω + V g`, `∂ẑ/∂r = 1 + V ∂g`.
///
/// This is how the sign channel, whose MAP estimate is not defined, enters ML-Mat-VAMP with
/// `d = 1`. The Jacobians `1 + V ∂g` are clamped at `0`: they are the ratio of the posterior
/// to the message's variance, and lose all accuracy to cancellation (rounding below 0) when
/// the belief is more than `~1/ε` times narrower than the message.
///
/// The row dimension `D` is a parameter so that code generic over `D` can hold one, but only
/// `D = 1` can be constructed ([`ScalarChannelDenoiser::new`], [`ScalarChannelDenoiser::for_rows`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScalarChannelDenoiser<C, const D: usize = 1> {
    channel: C,
}

impl<C> ScalarChannelDenoiser<C, 1> {
    /// The `d = 1` MMSE denoisers of `channel`.
    pub fn new(channel: C) -> Self {
        Self { channel }
    }
}

impl<C, const D: usize> ScalarChannelDenoiser<C, D> {
    /// The `d = 1` MMSE denoisers of `channel` for code generic over the row dimension `D`;
    /// [`Error::Unsupported`] (naming `d`) unless `D = 1`.
    pub fn for_rows(channel: C) -> Result<Self, Error> {
        if D != 1 {
            return Err(Error::Unsupported {
                field: "d",
                reason: "the scalar channel's estimator needs d = 1",
            });
        }
        Ok(Self { channel })
    }

    /// The channel.
    pub fn channel(&self) -> &C {
        &self.channel
    }
}

/// Rows of `D = 1` entries (the only ones [`ScalarChannelDenoiser::new`] builds): every vector
/// and matrix below has the single entry `[0]`.
impl<T: MatReal, C: Channel<T>, const D: usize> ChannelDenoiser<T, D>
    for ScalarChannelDenoiser<C, D>
{
    fn name(&self) -> &'static str {
        self.channel.name()
    }

    /// [`Channel::hidden`] at `(γ_out, γ_out r_out, 1/γ_in, r_in)`; see the type's docs.
    fn denoise_pair(
        &self,
        output: RowMessage<'_, T, D>,
        input: RowMessage<'_, T, D>,
    ) -> PairEstimate<T, D> {
        let (go, gi) = (output.gamma.matrix()[(0, 0)], input.gamma.matrix()[(0, 0)]);
        let v = T::ONE / gi;
        let omega = input.r[0];
        let o = self.channel.hidden(go, go * output.r[0], v, omega);
        PairEstimate {
            output: RowEstimate {
                mean: SVector::from_element(o.mean),
                jacobian: SMatrix::from_element(Real::max(o.var, T::ZERO) * go),
            },
            input: RowEstimate {
                mean: SVector::from_element(omega + v * o.g),
                jacobian: SMatrix::from_element(Real::max(T::ONE + v * o.dg, T::ZERO)),
            },
        }
    }

    /// [`Channel::output`] at `(y, 1/γ, r)`; see the type's docs.
    fn denoise_output(&self, y: &[T], message: RowMessage<'_, T, D>) -> RowEstimate<T, D> {
        let v = T::ONE / message.gamma.matrix()[(0, 0)];
        let o = self.channel.output(y[0], v, message.r[0]);
        RowEstimate {
            mean: SVector::from_element(message.r[0] + v * o.g),
            jacobian: SMatrix::from_element(Real::max(T::ONE + v * o.dg, T::ZERO)),
        }
    }

    /// One entry, and the channel's [`Channel::check_observation`] of it.
    fn check_observation(&self, y: &[T]) -> Result<(), Error> {
        crate::error::length("observation row", y, 1)?;
        self.channel.check_observation(y[0])
    }
}
