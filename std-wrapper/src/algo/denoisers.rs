//! A built model's kinds as ML-Mat-VAMP's row estimators (Pandit, Sahraee-Ardakan, Rangan,
//! Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*, eq. 13), for
//! rows of `D` entries.
//!
//! Each kind names its form in its own core file ([`Prior::row_form`],
//! [`ChannelKind::row_form`]: which estimators it has, for which `d`); this module turns a
//! form into the core's estimator for `D`, once for all kinds. What a kind does not provide is
//! a typed error naming what to change, never a silent approximation.
//!
//! | channel | MMSE | MAP |
//! |---|---|---|
//! | linear | any `d` (Gaussian belief; = MAP) | any `d` |
//! | relu | `d = 1`, closed form (the scalar channel) | any `d`, Newton |
//! | sigmoid, tanh | `d = 1`, quadrature | any `d`, Newton |
//! | sign | `d = 1`, closed form (the scalar channel) | none: the likelihood is a step |
//! | committee (output only) | any `d ≤ 8`, MAP-centred Gauss–Hermite cubature | any `d ≤ 8`: Newton (sigmoid), exact faces (ReLU) |
//! | mixed-linear (output only) | `d = 2`, closed form (two Gaussians) | refused: its mode (`MixedLinearDenoiser::map`, tested) jumps between the components; runs do not converge |
//! | masked (output only) | any `d`, closed form (Gaussian in the observed entries) | the same (= MMSE) |
//! | sketch (output only) | none: a multimodal periodic belief | any `d ≤ 8`: exact coordinate minimisation and Newton, several starts |

use mlamp_core::channel::{Activation, ChannelKind, RowChannelForm};
use mlamp_core::estimator::Estimator;
use mlamp_core::mat::{
    ActivationDenoiser, ChannelDenoiser, CommitteeDenoiser, GaussianRow, GroupL1, LaplaceRow,
    MaskedDenoiser, MixedLinearDenoiser, PerEntry, RowDenoiser, RowSparse, ScalarChannelDenoiser,
    SketchDenoiser,
};
use mlamp_core::prior::{Prior, RowPriorForm};
use nalgebra::{SMatrix, SVector};

use crate::error::Error;

/// The row estimator of a prior kind for rows of `D` entries; errors name `prior`.
pub fn prior_denoiser<const D: usize>(
    prior: &dyn Prior<f64>,
) -> Result<Box<dyn RowDenoiser<f64, D> + '_>, Error> {
    let at = |e| Error::at("prior", e);
    Ok(match prior.row_form(D).map_err(at)? {
        RowPriorForm::Gaussian { mean, var } => Box::new(
            GaussianRow::new(SVector::repeat(mean), SMatrix::identity() * var).map_err(at)?,
        ),
        RowPriorForm::PerEntry(comps) => Box::new(PerEntry::from_components(comps).map_err(at)?),
        RowPriorForm::RowSparse { rho, var } => Box::new(RowSparse::new(rho, var).map_err(at)?),
        RowPriorForm::Laplace { lambda, estimator } => {
            Box::new(LaplaceRow::new(lambda, estimator).map_err(at)?)
        }
        RowPriorForm::GroupL1 { lambda } => Box::new(GroupL1::new(lambda).map_err(at)?),
    })
}

/// The row estimator of a channel kind with `estimator`, for rows of `D` entries (a core
/// error naming `estimator` or `d` where the kind has none).
pub fn channel_denoiser<const D: usize>(
    channel: &dyn ChannelKind<f64>,
    estimator: Estimator,
) -> Result<Box<dyn ChannelDenoiser<f64, D> + '_>, mlamp_core::Error> {
    Ok(match channel.row_form(estimator, D)? {
        RowChannelForm::Activation { phi, noise_var } => {
            Box::new(ActivationDenoiser::<f64, &dyn Activation<f64>, D>::new(
                phi, noise_var, estimator,
            )?)
        }
        RowChannelForm::Scalar(scalar) => {
            Box::new(ScalarChannelDenoiser::<_, D>::for_rows(scalar)?)
        }
        RowChannelForm::Committee { phi, f2, noise_var } => {
            Box::new(CommitteeDenoiser::<f64, &dyn Activation<f64>, D>::new(
                phi, f2, noise_var, estimator,
            )?)
        }
        RowChannelForm::MixedLinear { pi, noise_var } => Box::new(
            MixedLinearDenoiser::<f64, D>::new(pi, noise_var, estimator)?,
        ),
        RowChannelForm::Masked { noise_var, .. } => {
            Box::new(MaskedDenoiser::<f64, D>::new(noise_var, estimator)?)
        }
        RowChannelForm::Sketch { alpha, noise_var } => {
            Box::new(SketchDenoiser::<f64, D>::new(alpha, noise_var, estimator)?)
        }
    })
}
