//! A model file as written: the TOML schema (see [`super`]) deserialised, before validation.

use serde::Deserialize;

pub use mlamp_core::estimator::Estimator;

pub use super::registry::{ChannelSpec, PriorSpec};
use crate::error::Error;

/// The law of a layer's weight matrix (`n_out × n_in`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WeightsSpec {
    /// iid N(0, 1/n_in) entries. (A struct variant without fields, not a unit variant, so
    /// that `deny_unknown_fields` applies to it: serde ignores it on unit variants of an
    /// internally tagged enum, and `{ type = "gaussian", condition_number = … }` would be
    /// accepted silently.)
    Gaussian {},
    /// `W = U diag(s) Vᵀ` with Haar-random `U`, `V` and singular values geometric from 1 down
    /// to `1/condition_number`, scaled so that `‖W‖_F²` is the number of rows.
    Spectrum {
        /// κ = s_max / s_min ≥ 1.
        condition_number: f64,
    },
    /// The subsampled randomised DCT, `W = c S H D` (`D` random signs, `H` the orthonormal
    /// DCT-II, `S` a random selection of outputs; its transpose for more outputs than
    /// inputs), applied in `O(n log n)` and never stored: see
    /// [`crate::linalg::dct::SubsampledDct`]. Its singular values are all equal, scaled so
    /// that `‖W‖_F²` is the number of rows (entries of mean square `1/n_in`). ML-Mat-VAMP
    /// only.
    Dct {},
}

impl Default for WeightsSpec {
    /// iid Gaussian.
    fn default() -> Self {
        WeightsSpec::Gaussian {}
    }
}

/// One `[[layers]]` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Outputs / inputs of the layer's weight matrix.
    pub alpha: f64,
    /// The channel.
    pub channel: ChannelSpec,
    /// The law of the weights (default iid Gaussian).
    #[serde(default)]
    pub weights: WeightsSpec,
    /// ML-Mat-VAMP's estimator for this layer's channel (default MMSE).
    #[serde(default)]
    pub estimator: Estimator,
}

/// A model file as written.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Columns per row (1 for ML-AMP).
    #[serde(default = "one_usize")]
    pub d: usize,
    /// The prior on the signal's entries.
    pub prior: PriorSpec,
    /// Layers from the signal to the observation.
    pub layers: Vec<LayerSpec>,
}

fn one_usize() -> usize {
    1
}

impl ModelSpec {
    /// Parses TOML text; `origin` names the source in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        toml::from_str(text).map_err(|e| {
            let location = match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("{origin}:{line}:{col}")
                }
                None => origin.to_string(),
            };
            Error::Parse {
                location,
                message: e.message().replace('\n', " ").trim().to_string(),
            }
        })
    }
}
