//! The registry of kinds: the one place that maps a model file's `type = "…"` table to the
//! core object it builds. A prior or channel kind is one core file (its mathematics) plus one
//! variant here and its arm in `build` (the matches are exhaustive: the compiler points at
//! every place a new kind needs). Nothing after the build looks at the spec again: the
//! built objects ([`Prior`], [`ChannelKind`]) say everything the algorithms need.

use mlamp_core::channel::activation::{Sigmoid, Tanh};
use mlamp_core::channel::{ChannelKind, Linear, Noisy, Relu, Sign};
use mlamp_core::estimator::Estimator;
use mlamp_core::prior::{
    Binary, GaussBernoulli, Gaussian, GroupL1Prior, Laplace, Prior, RowSparsePrior,
};
use serde::Deserialize;

use crate::error::Error;

/// A built prior, shareable between threads.
pub type BuiltPrior = Box<dyn Prior<f64> + Send + Sync>;

/// A built channel, shareable between threads.
pub type BuiltChannel = Box<dyn ChannelKind<f64> + Send + Sync>;

fn one() -> f64 {
    1.0
}

/// The `[prior]` table of a model file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PriorSpec {
    /// N(mean, var).
    Gaussian {
        /// Mean.
        #[serde(default)]
        mean: f64,
        /// Variance.
        #[serde(default = "one")]
        var: f64,
    },
    /// (1 − ρ) δ₀ + ρ N(mean, var).
    GaussBernoulli {
        /// Density ρ ∈ (0, 1].
        rho: f64,
        /// Mean of the Gaussian part.
        #[serde(default)]
        mean: f64,
        /// Variance of the Gaussian part.
        #[serde(default = "one")]
        var: f64,
    },
    /// ±1 with P(+1) = (1 + tanh bias)/2.
    Binary {
        /// The bias.
        #[serde(default)]
        bias: f64,
    },
    /// Whole rows: `N(0, var I_d)` with probability ρ, else the zero row (the multi-task /
    /// MMV prior). Each entry's marginal is Gauss–Bernoulli, which is what ML-AMP (d = 1)
    /// uses.
    RowSparse {
        /// Density ρ ∈ (0, 1] of non-zero rows.
        rho: f64,
        /// Variance of each entry of a non-zero row.
        #[serde(default = "one")]
        var: f64,
    },
    /// iid Laplace entries `(λ/2) e^{−λ|x|}` (the LASSO's prior); ML-Mat-VAMP's row estimator
    /// `estimator`: MMSE (`d = 1`) or MAP (the LASSO step, any `d`).
    Laplace {
        /// The rate λ > 0.
        lambda: f64,
        /// ML-Mat-VAMP's row estimator (default MMSE).
        #[serde(default)]
        estimator: Estimator,
    },
    /// Rows `∝ e^{−λ‖x‖₂}` (the multi-task LASSO's group penalty), MAP only in ML-Mat-VAMP;
    /// for `d = 1` the Laplace prior.
    GroupL1 {
        /// The weight λ > 0.
        lambda: f64,
    },
}

impl PriorSpec {
    /// Builds the prior; a bad value is an error naming its field under `prior`.
    pub fn build(&self) -> Result<BuiltPrior, Error> {
        let at = |e| Error::at("prior", e);
        Ok(match *self {
            PriorSpec::Gaussian { mean, var } => Box::new(Gaussian::new(mean, var).map_err(at)?),
            PriorSpec::GaussBernoulli { rho, mean, var } => {
                Box::new(GaussBernoulli::new(rho, mean, var).map_err(at)?)
            }
            PriorSpec::Binary { bias } => Box::new(Binary::new(bias).map_err(at)?),
            PriorSpec::RowSparse { rho, var } => {
                Box::new(RowSparsePrior::new(rho, var).map_err(at)?)
            }
            PriorSpec::Laplace { lambda, estimator } => Box::new(
                Laplace::new(lambda)
                    .map_err(at)?
                    .with_row_estimator(estimator),
            ),
            PriorSpec::GroupL1 { lambda } => Box::new(GroupL1Prior::new(lambda).map_err(at)?),
        })
    }
}

/// The `channel` table of a layer.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ChannelSpec {
    /// h = z + N(0, noise_var).
    Linear {
        /// Noise variance ≥ 0.
        #[serde(default)]
        noise_var: f64,
    },
    /// h = sign(z + N(0, noise_var)).
    Sign {
        /// Pre-activation noise variance ≥ 0.
        #[serde(default)]
        noise_var: f64,
    },
    /// h = max(0, z) + N(0, noise_var).
    Relu {
        /// Noise variance ≥ 0 (> 0 for the output layer).
        #[serde(default)]
        noise_var: f64,
    },
    /// h = 1/(1 + e^{−z}) + N(0, noise_var) (ML-Mat-VAMP only).
    Sigmoid {
        /// Noise variance ≥ 0 (> 0 for the output layer).
        #[serde(default)]
        noise_var: f64,
    },
    /// h = tanh(z) + N(0, noise_var) (ML-Mat-VAMP only).
    Tanh {
        /// Noise variance ≥ 0 (> 0 for the output layer).
        #[serde(default)]
        noise_var: f64,
    },
}

impl ChannelSpec {
    /// Builds the channel; `field` is its path in the file (for errors naming the bad value).
    pub fn build(&self, field: &str) -> Result<BuiltChannel, Error> {
        let at = |e| Error::at(field, e);
        Ok(match *self {
            ChannelSpec::Linear { noise_var } => Box::new(Linear::new(noise_var).map_err(at)?),
            ChannelSpec::Sign { noise_var } => Box::new(Sign::new(noise_var).map_err(at)?),
            ChannelSpec::Relu { noise_var } => Box::new(Relu::new(noise_var).map_err(at)?),
            ChannelSpec::Sigmoid { noise_var } => {
                Box::new(Noisy::new(Sigmoid, noise_var).map_err(at)?)
            }
            ChannelSpec::Tanh { noise_var } => Box::new(Noisy::new(Tanh, noise_var).map_err(at)?),
        })
    }
}
