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

use mlamp_core::channel::activation::{self, Identity, Sigmoid, Tanh};
use mlamp_core::channel::{Relu, Sign};
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
    let name = spec.name();
    let core = |e: mlamp_core::Error| Error::at("channel", e);
    let unsupported = |what: &str| Error::invalid("estimator", what.to_string());
    let activation = |b: Result<Box<dyn ChannelDenoiser<f64, D>>, mlamp_core::Error>| {
        b.map_err(|e| match e {
            mlamp_core::Error::InvalidParameter {
                name: "estimator", ..
            } => unsupported(&format!(
                "mmse for a {name} channel needs d = 1 (the belief is a d-dimensional \
                 non-Gaussian integral): use estimator = \"map\""
            )),
            other => core(other),
        })
    };
    match (spec, est) {
        (ChannelSpec::Linear { .. }, _) => activation(
            ActivationDenoiser::<f64, Identity, D>::new(Identity, noise, estimator(est))
                .map(|a| Box::new(a) as Box<dyn ChannelDenoiser<f64, D>>),
        ),
        (ChannelSpec::Relu { .. }, EstimatorSpec::Mmse) if D == 1 => {
            let scalar = ScalarChannelDenoiser::new(Relu::new(noise).map_err(core)?);
            Ok(only_scalar::<D>(Box::new(scalar)).expect("D = 1"))
        }
        (ChannelSpec::Sign { .. }, EstimatorSpec::Mmse) if D == 1 => {
            let scalar = ScalarChannelDenoiser::new(Sign::new(noise).map_err(core)?);
            Ok(only_scalar::<D>(Box::new(scalar)).expect("D = 1"))
        }
        (ChannelSpec::Sign { .. }, EstimatorSpec::Map) => Err(unsupported(
            "a sign channel has no MAP estimator (its likelihood is a step): use \
             estimator = \"mmse\" (with d = 1)",
        )),
        (ChannelSpec::Sign { .. }, EstimatorSpec::Mmse) => Err(Error::invalid(
            "d",
            "a sign channel's MMSE estimator needs d = 1 (and it has no MAP estimator)",
        )),
        (ChannelSpec::Relu { .. }, _) => activation(
            ActivationDenoiser::<f64, activation::Relu, D>::new(
                activation::Relu,
                noise,
                estimator(est),
            )
            .map(|a| Box::new(a) as _),
        ),
        (ChannelSpec::Sigmoid { .. }, _) => activation(
            ActivationDenoiser::<f64, Sigmoid, D>::new(Sigmoid, noise, estimator(est))
                .map(|a| Box::new(a) as _),
        ),
        (ChannelSpec::Tanh { .. }, _) => activation(
            ActivationDenoiser::<f64, Tanh, D>::new(Tanh, noise, estimator(est))
                .map(|a| Box::new(a) as _),
        ),
    }
}
