//! A model file's channels as ML-Mat-VAMP's row estimators (paper `002_…`, eq. 13), for rows
//! of `D` entries.
//!
//! | channel | MMSE | MAP |
//! |---|---|---|
//! | linear | any `d` (Gaussian belief; = MAP) | any `d` |
//! | relu | `d = 1`, closed form (the scalar channel) | any `d`, Newton |
//! | sigmoid, tanh | `d = 1`, quadrature | any `d`, Newton |
//! | sign | `d = 1`, closed form (the scalar channel) | none: the likelihood is a step |
//!
//! Anything outside the table is a typed error naming what to change, never a silent
//! approximation.

use std::any::Any;

use mlamp_core::channel::activation::{self, Activation, Identity, Sigmoid, Tanh};
use mlamp_core::channel::{Channel, Relu, Sign};
use mlamp_core::mat::{ActivationDenoiser, ChannelDenoiser, Estimator, ScalarChannelDenoiser};

use crate::error::Error;
use crate::model::{ChannelSpec, EstimatorSpec};

/// The core's estimator for the model's.
pub fn estimator(spec: EstimatorSpec) -> Estimator {
    match spec {
        EstimatorSpec::Mmse => Estimator::Mmse,
        EstimatorSpec::Map => Estimator::Map,
    }
}

/// A `d = 1` denoiser as one for rows of `D`: `Some` exactly when `D = 1`.
fn only_scalar<const D: usize>(
    b: Box<dyn ChannelDenoiser<f64, 1>>,
) -> Option<Box<dyn ChannelDenoiser<f64, D>>> {
    let any: Box<dyn Any> = Box::new(b);
    any.downcast::<Box<dyn ChannelDenoiser<f64, D>>>()
        .ok()
        .map(|b| *b)
}

/// The estimator of a layer's channel for rows of `D` entries. Errors name the field to
/// change (`estimator` or `d`). (A noiseless non-linear output is refused by the model's
/// validation.)
pub fn channel_denoiser<const D: usize>(
    spec: &ChannelSpec,
    est: EstimatorSpec,
) -> Result<Box<dyn ChannelDenoiser<f64, D>>, Error> {
    let noise = spec.noise_var();
    let core = |e: mlamp_core::Error| Error::at("channel", e);
    match (spec, est) {
        (ChannelSpec::Linear { .. }, _) => by_activation::<Identity, D>(Identity, spec, est),
        (ChannelSpec::Relu { .. }, EstimatorSpec::Mmse) if D == 1 => {
            by_scalar_channel(Relu::new(noise).map_err(core)?)
        }
        (ChannelSpec::Sign { .. }, EstimatorSpec::Mmse) if D == 1 => {
            by_scalar_channel(Sign::new(noise).map_err(core)?)
        }
        (ChannelSpec::Sign { .. }, EstimatorSpec::Map) => Err(Error::invalid(
            "estimator",
            "a sign channel has no MAP estimator (its likelihood is a step): use \
             estimator = \"mmse\" (with d = 1)",
        )),
        (ChannelSpec::Sign { .. }, EstimatorSpec::Mmse) => Err(Error::invalid(
            "d",
            "a sign channel's MMSE estimator needs d = 1 (and it has no MAP estimator)",
        )),
        (ChannelSpec::Relu { .. }, _) => by_activation::<_, D>(activation::Relu, spec, est),
        (ChannelSpec::Sigmoid { .. }, _) => by_activation::<_, D>(Sigmoid, spec, est),
        (ChannelSpec::Tanh { .. }, _) => by_activation::<_, D>(Tanh, spec, est),
    }
}

/// `h = φ(z) + N(0, noise_var)` as the core's [`ActivationDenoiser`]; an unsupported
/// estimator is an error suggesting MAP.
fn by_activation<A: Activation<f64> + 'static, const D: usize>(
    phi: A,
    spec: &ChannelSpec,
    est: EstimatorSpec,
) -> Result<Box<dyn ChannelDenoiser<f64, D>>, Error> {
    match ActivationDenoiser::<f64, A, D>::new(phi, spec.noise_var(), estimator(est)) {
        Ok(a) => Ok(Box::new(a)),
        Err(mlamp_core::Error::InvalidParameter {
            name: "estimator", ..
        }) => Err(Error::invalid(
            "estimator",
            format!(
                "mmse for a {} channel needs d = 1 (the belief is a d-dimensional \
                 non-Gaussian integral): use estimator = \"map\"",
                spec.name()
            ),
        )),
        Err(e) => Err(Error::at("channel", e)),
    }
}

/// A scalar ML-AMP channel's `d = 1` MMSE estimator, for a caller that has checked `D = 1`.
fn by_scalar_channel<C: Channel<f64> + 'static, const D: usize>(
    channel: C,
) -> Result<Box<dyn ChannelDenoiser<f64, D>>, Error> {
    only_scalar::<D>(Box::new(ScalarChannelDenoiser::new(channel)))
        .ok_or_else(|| Error::invalid("d", "the scalar channel's estimator needs d = 1"))
}
