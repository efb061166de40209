//! An activation with additive Gaussian noise, `h = φ(z) + ξ`, `ξ ~ N(0, Δ)`: the kinds that
//! only ML-Mat-VAMP runs (sigmoid, tanh: ML-AMP would need their output and hidden functions
//! by quadrature, which are not provided).

use super::activation::Activation;
use super::kind::{ChannelKind, RowChannelForm, activation_form};
use super::{Channel, gaussian_law, output_needs_noise};
use crate::error::{Error, noise_scale};
use crate::estimator::Estimator;
use crate::quadrature::Rule;
use crate::real::Real;

/// `P(h|z) = N(h; φ(z), Δ)` for an activation `φ` (e.g. [`super::activation::Sigmoid`],
/// [`super::activation::Tanh`]), `Δ ≥ 0`; as the output channel `Δ > 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Noisy<T, A> {
    phi: A,
    noise_var: T,
}

impl<T: Real, A: Activation<T>> Noisy<T, A> {
    /// `h = φ(z) + N(0, noise_var)`, `noise_var ≥ 0` ([`Error::InvalidParameter`] otherwise).
    pub fn new(phi: A, noise_var: T) -> Result<Self, Error> {
        noise_scale("noise_var", noise_var)?;
        Ok(Self { phi, noise_var })
    }
}

impl<T: Real, A: Activation<T>> ChannelKind<T> for Noisy<T, A> {
    fn name(&self) -> &'static str {
        self.phi.name()
    }

    /// `h ~ N(φ(z), Δ)`.
    fn law(&self, z: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        gaussian_law(self.phi.value(z), self.noise_var, rule, visit);
    }

    /// `φ(z) + √Δ ξ`.
    fn sample(&self, z: T, xi: T) -> T {
        self.phi.value(z) + self.noise_var.sqrt() * xi
    }

    fn amp(&self) -> Option<&dyn Channel<T>> {
        None
    }

    /// `Δ > 0` for an output layer.
    fn check_as_output(&self) -> Result<(), Error> {
        output_needs_noise(self.noise_var)
    }

    /// The activation form: MAP in any `d`, MMSE for `d = 1` (quadrature).
    fn row_form(&self, estimator: Estimator, d: usize) -> Result<RowChannelForm<'_, T>, Error> {
        activation_form(&self.phi, self.noise_var, estimator, d)
    }
}
