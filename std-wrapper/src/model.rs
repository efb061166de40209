//! Models: a prior and a stack of layers, read from TOML model files and validated.
//!
//! Layers are listed from the signal to the observation (our order). In the ML-AMP paper
//! (`000_…`) the same stack is numbered the other way: our layer `k` (0-based) is the paper's
//! layer `ℓ = L − k`, and our `alpha` of layer `k` (outputs / inputs = `n_{k+1}/n_k`) is the
//! paper's `α_ℓ = n_{ℓ−1}/n_ℓ`.
//!
//! # Schema
//! ```toml
//! d = 1                        # optional, columns per row (default 1; ML-Mat-VAMP uses d > 1)
//! [prior]
//! type = "gauss-bernoulli"     # "gaussian" | "gauss-bernoulli" | "binary" | "row-sparse"
//! rho = 0.3                    # gauss-bernoulli, row-sparse: density in (0, 1]
//! mean = 0.0                   # gaussian, gauss-bernoulli: mean of the Gaussian part (default 0)
//! var = 1.0                    # gaussian, gauss-bernoulli, row-sparse: its variance > 0 (default 1)
//! # bias = 0.0                 # binary: P(+1) = (1 + tanh bias)/2 (default 0)
//!
//! [[layers]]                   # first layer: acts on the signal
//! alpha = 1.0                  # outputs / inputs, > 0
//! channel = { type = "linear", noise_var = 0.0 }   # "linear" | "sign" | "relu" | "sigmoid" | "tanh"
//! weights = { type = "gaussian" }   # optional: iid N(0, 1/n_in) (default), or
//! # weights = { type = "spectrum", condition_number = 1e3 }   # Haar singular vectors
//! # estimator = "mmse"         # optional, ML-Mat-VAMP: "mmse" (default) | "map"
//!
//! [[layers]]                   # last layer: produces the observation
//! alpha = 0.8
//! channel = { type = "linear", noise_var = 1e-8 }
//! ```
//! Unknown keys are errors that name the key; bad values are errors that name the field.
//!
//! With `d > 1` every variable is an `n × d` matrix of rows: the prior acts on rows (entry by
//! entry for the scalar priors; `row-sparse` zeroes whole rows: each row is `N(0, var I_d)`
//! with probability `rho`, else 0) and every channel acts on each entry, the noise independent
//! per entry. `sigmoid` and `tanh` (`h = φ(z) + N(0, noise_var)`) and `spectrum` weights run
//! only with ML-Mat-VAMP.

use std::path::Path;

use mlamp_core::channel::{Channel, Linear, Relu, Sign};
use mlamp_core::prior::{Binary, GaussBernoulli, Gaussian, Prior};
use serde::Deserialize;

use crate::error::Error;

/// The prior table of a model file.
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
}

/// The channel of a layer.
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

/// The law of a layer's weight matrix (`n_out × n_in`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Default)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WeightsSpec {
    /// iid N(0, 1/n_in) entries.
    #[default]
    Gaussian,
    /// `W = U diag(s) Vᵀ` with Haar-random `U`, `V` and singular values geometric from 1 down
    /// to `1/condition_number`, scaled so that `‖W‖_F²` is the number of rows.
    Spectrum {
        /// κ = s_max / s_min ≥ 1.
        condition_number: f64,
    },
}

/// Which estimate ML-Mat-VAMP's denoisers of a layer return (paper `002_…`, eq. 13).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EstimatorSpec {
    /// The belief's mean.
    #[default]
    Mmse,
    /// The belief's mode.
    Map,
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
    pub estimator: EstimatorSpec,
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

fn one() -> f64 {
    1.0
}

fn one_usize() -> usize {
    1
}

/// A validated layer: its shape ratio and channel.
pub struct Layer {
    /// Outputs / inputs.
    pub alpha: f64,
    /// The channel, as written.
    pub spec: ChannelSpec,
    /// The channel as a scalar ML-AMP channel; `None` for the channels only ML-Mat-VAMP runs
    /// (sigmoid, tanh).
    pub channel: Option<Box<dyn Channel<f64> + Send + Sync>>,
    /// The law of the weights.
    pub weights: WeightsSpec,
    /// ML-Mat-VAMP's estimator.
    pub estimator: EstimatorSpec,
}

/// A validated model: ready to generate instances and to run.
pub struct Model {
    /// Columns per row.
    pub d: usize,
    /// The prior, as written.
    pub prior_spec: PriorSpec,
    /// The prior, built.
    pub prior: Box<dyn Prior<f64> + Send + Sync>,
    /// Layers from the signal to the observation.
    pub layers: Vec<Layer>,
}

impl PriorSpec {
    /// Builds the prior, naming the field of any bad value.
    pub fn build(&self) -> Result<Box<dyn Prior<f64> + Send + Sync>, Error> {
        let f = "prior";
        Ok(match *self {
            PriorSpec::Gaussian { mean, var } => {
                Box::new(Gaussian::new(mean, var).map_err(|e| Error::at(f, e))?)
            }
            PriorSpec::GaussBernoulli { rho, mean, var } => {
                Box::new(GaussBernoulli::new(rho, mean, var).map_err(|e| Error::at(f, e))?)
            }
            PriorSpec::Binary { bias } => Box::new(Binary::new(bias).map_err(|e| Error::at(f, e))?),
            PriorSpec::RowSparse { rho, var } => {
                Box::new(GaussBernoulli::new(rho, 0.0, var).map_err(|e| Error::at(f, e))?)
            }
        })
    }
}

impl ChannelSpec {
    /// The noise variance.
    pub fn noise_var(&self) -> f64 {
        match *self {
            ChannelSpec::Linear { noise_var }
            | ChannelSpec::Sign { noise_var }
            | ChannelSpec::Relu { noise_var }
            | ChannelSpec::Sigmoid { noise_var }
            | ChannelSpec::Tanh { noise_var } => noise_var,
        }
    }

    /// The name of the channel type, as in the file.
    pub fn name(&self) -> &'static str {
        match self {
            ChannelSpec::Linear { .. } => "linear",
            ChannelSpec::Sign { .. } => "sign",
            ChannelSpec::Relu { .. } => "relu",
            ChannelSpec::Sigmoid { .. } => "sigmoid",
            ChannelSpec::Tanh { .. } => "tanh",
        }
    }

    /// A draw of `h` given `z` and a standard normal `xi`, for every channel type (the
    /// scalar channel's own sampler where there is one, so that ML-AMP's instances keep
    /// their bits).
    pub fn sample(
        &self,
        channel: Option<&(dyn Channel<f64> + Send + Sync)>,
        z: f64,
        xi: f64,
    ) -> f64 {
        match (channel, self) {
            (Some(c), _) => c.sample(z, xi),
            (None, ChannelSpec::Sigmoid { noise_var }) => sigmoid(z) + noise_var.sqrt() * xi,
            (None, spec) => z.tanh() + spec.noise_var().sqrt() * xi,
        }
    }

    /// `E[h² | z]`: the second moment of the channel's output given its input.
    pub fn second_moment_given(&self, z: f64) -> f64 {
        let noise = self.noise_var();
        match self {
            ChannelSpec::Linear { .. } => z * z + noise,
            ChannelSpec::Sign { .. } => 1.0,
            ChannelSpec::Relu { .. } => z.max(0.0).powi(2) + noise,
            ChannelSpec::Sigmoid { .. } => sigmoid(z).powi(2) + noise,
            ChannelSpec::Tanh { .. } => z.tanh().powi(2) + noise,
        }
    }

    /// Builds the scalar channel (`None` for sigmoid and tanh, which only ML-Mat-VAMP runs);
    /// `field` is its path, `is_output` whether it produces the observation (a ReLU, sigmoid
    /// or tanh output needs noise: its observation has a density only then).
    pub fn build(
        &self,
        field: &str,
        is_output: bool,
    ) -> Result<Option<Box<dyn Channel<f64> + Send + Sync>>, Error> {
        let at = |e| Error::at(field, e);
        let noise_var = self.noise_var();
        if !(noise_var.is_finite() && noise_var >= 0.0) {
            return Err(Error::invalid(
                format!("{field}.noise_var"),
                "must be finite and >= 0",
            ));
        }
        if is_output
            && noise_var <= 0.0
            && matches!(
                self,
                ChannelSpec::Relu { .. } | ChannelSpec::Sigmoid { .. } | ChannelSpec::Tanh { .. }
            )
        {
            return Err(Error::invalid(
                format!("{field}.noise_var"),
                format!("must be > 0 for a {} output layer", self.name()),
            ));
        }
        Ok(Some(match *self {
            ChannelSpec::Linear { noise_var } => Box::new(Linear::new(noise_var).map_err(at)?),
            ChannelSpec::Sign { noise_var } => Box::new(Sign::new(noise_var).map_err(at)?),
            ChannelSpec::Relu { noise_var } => Box::new(Relu::new(noise_var).map_err(at)?),
            ChannelSpec::Sigmoid { .. } | ChannelSpec::Tanh { .. } => return Ok(None),
        }))
    }
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

    /// Validates and builds the model.
    pub fn build(&self) -> Result<Model, Error> {
        if self.d == 0 {
            return Err(Error::invalid("d", "must be >= 1"));
        }
        if self.layers.is_empty() {
            return Err(Error::invalid(
                "layers",
                "at least one [[layers]] entry is needed",
            ));
        }
        let last = self.layers.len() - 1;
        let layers = self
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                if !(l.alpha.is_finite() && l.alpha > 0.0) {
                    return Err(Error::invalid(
                        format!("layers[{k}].alpha"),
                        "must be finite and > 0",
                    ));
                }
                let channel = l
                    .channel
                    .build(&format!("layers[{k}].channel"), k == last)?;
                if let WeightsSpec::Spectrum { condition_number } = l.weights {
                    if !(condition_number.is_finite() && condition_number >= 1.0) {
                        return Err(Error::invalid(
                            format!("layers[{k}].weights.condition_number"),
                            "must be finite and >= 1",
                        ));
                    }
                }
                Ok(Layer {
                    alpha: l.alpha,
                    spec: l.channel.clone(),
                    channel,
                    weights: l.weights,
                    estimator: l.estimator,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Model {
            d: self.d,
            prior_spec: self.prior.clone(),
            prior: self.prior.build()?,
            layers,
        })
    }
}

impl Model {
    /// Reads, parses and validates a model file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        ModelSpec::parse(&text, &path.display().to_string())?.build()
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        ModelSpec::parse(text, "<model>")?.build()
    }

    /// The number of layers L.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// The sizes `n_0 = n, n_1, …, n_L` of every variable, `n_{k+1} = round(alpha_k n_k)`.
    pub fn sizes(&self, n: usize) -> Result<Vec<usize>, Error> {
        if n == 0 {
            return Err(Error::invalid("n", "must be >= 1"));
        }
        let mut sizes = vec![n];
        for (k, l) in self.layers.iter().enumerate() {
            let next = (l.alpha * *sizes.last().unwrap() as f64).round() as usize;
            if next == 0 {
                return Err(Error::invalid(
                    format!("layers[{k}].alpha"),
                    format!("gives 0 outputs at n = {n}"),
                ));
            }
            sizes.push(next);
        }
        Ok(sizes)
    }

    /// The scalar channels, for ML-AMP and its state evolution: an error naming the first
    /// layer whose channel only ML-Mat-VAMP runs.
    pub fn channels(&self) -> Result<Vec<&dyn Channel<f64>>, Error> {
        Ok(self
            .shared_channels()?
            .into_iter()
            .map(|c| c as &dyn Channel<f64>)
            .collect())
    }

    /// [`Model::channels`], shareable between threads.
    pub fn shared_channels(&self) -> Result<Vec<&(dyn Channel<f64> + Send + Sync)>, Error> {
        self.layers
            .iter()
            .enumerate()
            .map(|(k, l)| match &l.channel {
                Some(c) => Ok(c.as_ref()),
                None => Err(Error::invalid(
                    format!("layers[{k}].channel"),
                    format!(
                        "a {} channel runs only with ML-Mat-VAMP (--algorithm vamp)",
                        l.spec.name()
                    ),
                )),
            })
            .collect()
    }

    /// Whether every weight matrix is iid Gaussian (what ML-AMP and its SE assume).
    pub fn iid_weights(&self) -> bool {
        self.layers
            .iter()
            .all(|l| l.weights == WeightsSpec::Gaussian)
    }

    /// The second moment per entry of every variable of the ML-Mat-VAMP chain, `h_0, z_0,
    /// h_1, z_1, …, z_{L−1}` (`2L` values): `E h_0²` from the prior; `E z_k² = E h_k²` (the
    /// weights have `‖W‖_F² = n_out` on average); `E h_{k+1}² = E_{z ~ N(0, E z_k²)} E[h² | z]`
    /// by a 64-point Gauss–Hermite rule (the pre-activations of a wide random layer are
    /// Gaussian). What ML-Mat-VAMP's initial precisions are made of: the prior's scale,
    /// never the ground truth.
    pub fn second_moments(&self) -> Vec<f64> {
        let gh = mlamp_core::quadrature::GaussHermite::<f64, 64>::new();
        let mut out = Vec::with_capacity(2 * self.depth());
        let mut rho = self.prior.second_moment();
        for l in &self.layers {
            out.push(rho);
            out.push(rho);
            let sd = rho.sqrt();
            rho = gh
                .rule()
                .iter()
                .map(|(x, w)| w * l.spec.second_moment_given(sd * x))
                .sum();
        }
        out
    }
}

/// The logistic function `1/(1 + e^{−z})`, without overflow.
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLR: &str = r#"
[prior]
type = "gauss-bernoulli"
rho = 0.3
[[layers]]
alpha = 1.0
channel = { type = "linear", noise_var = 0.0 }
[[layers]]
alpha = 0.8
channel = { type = "linear", noise_var = 1e-8 }
"#;

    #[test]
    fn parses_and_sizes() {
        let m = Model::from_toml(SLR).unwrap();
        assert_eq!(m.depth(), 2);
        assert_eq!(m.d, 1);
        assert_eq!(m.sizes(2000).unwrap(), vec![2000, 2000, 1600]);
        assert_eq!(m.prior.second_moment(), 0.3);
    }

    fn err(text: &str) -> String {
        match Model::from_toml(text) {
            Ok(_) => panic!("accepted a bad model"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = err(&SLR.replace("rho = 0.3", "rho = 0.3\nrhoo = 1"));
        assert!(e.contains("rhoo") && e.contains("<model>:"), "{e}");
        let e = err(&SLR.replace("noise_var = 0.0", "noise_vr = 0.0"));
        assert!(e.contains("noise_vr"), "{e}");
        let e = err(&format!("dd = 2\n{SLR}"));
        assert!(e.contains("dd"), "{e}");
        let e = err(&SLR.replace("\"linear\", noise_var = 0.0", "\"lineer\""));
        assert!(e.contains("lineer"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn bad_values_are_named() {
        assert!(err(&SLR.replace("rho = 0.3", "rho = 1.5")).starts_with("prior.rho"));
        assert!(err(&SLR.replace("alpha = 0.8", "alpha = -1")).starts_with("layers[1].alpha"));
        let e = err(&SLR.replace("noise_var = 1e-8", "noise_var = -1"));
        assert!(e.starts_with("layers[1].channel.noise_var"), "{e}");
        let e = err(&SLR.replace("\"linear\", noise_var = 1e-8", "\"relu\", noise_var = 0.0"));
        assert!(e.starts_with("layers[1].channel.noise_var"), "{e}");
        assert!(err(&SLR.replace("rho = 0.3", "rho = nan")).starts_with("prior.rho"));
    }
}
