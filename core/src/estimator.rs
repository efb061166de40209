//! Which estimate of a belief a row estimator returns: its mode or its mean.

use crate::channel::activation::Activation;
use crate::real::Real;

/// Which estimate of the belief of eq. 12 a denoiser returns: the paper's eq. 13 defines both
/// `G_map` (the mode) and `G_mmse` (the mean).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(rename_all = "kebab-case")
)]
pub enum Estimator {
    /// The belief's mode (`G_{ℓ,map}^±` of eq. 13), with the Jacobians of the mode by implicit
    /// differentiation. Available for every activation and dimension `d`.
    Map,
    /// The belief's mean (`G_{ℓ,mmse}^±` of eq. 13), with the Jacobians `Cov · Γ` (posterior
    /// covariance times the message's precision). Exact in any dimension for the identity
    /// activation (a Gaussian belief); for other activations only for `d = 1` (a
    /// one-dimensional integral), see [`Estimator::supports`]. The default.
    #[default]
    Mmse,
}

impl Estimator {
    /// Whether [`crate::mat::ActivationDenoiser`] implements this estimator for `activation` on rows of
    /// dimension `d`: [`Estimator::Map`] always, [`Estimator::Mmse`] for `d = 1` or the
    /// identity activation (for `d > 1` the belief of a non-linear activation is a
    /// `d`-dimensional non-Gaussian integral, which is not approximated silently).
    pub fn supports<T: Real, A: Activation<T> + ?Sized>(self, activation: &A, d: usize) -> bool {
        match self {
            Estimator::Map => true,
            Estimator::Mmse => d == 1 || activation.is_identity(),
        }
    }
}

impl core::str::FromStr for Estimator {
    type Err = crate::Error;

    /// `mmse` or `map` (as in model files).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mmse" => Ok(Estimator::Mmse),
            "map" => Ok(Estimator::Map),
            _ => Err(crate::Error::InvalidParameter {
                name: "estimator",
                requirement: "mmse or map",
            }),
        }
    }
}
