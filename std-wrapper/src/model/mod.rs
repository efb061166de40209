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

use mlamp_core::channel::activation::{self, Activation};
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
}

impl Default for WeightsSpec {
    /// iid Gaussian.
    fn default() -> Self {
        WeightsSpec::Gaussian {}
    }
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

    /// The activation `φ` of `h = φ(z) + N(0, noise_var)` (`None` for sign, whose noise acts
    /// before the activation): the core's, shared with ML-Mat-VAMP's estimators.
    pub fn activation(&self) -> Option<&'static dyn Activation<f64>> {
        match self {
            ChannelSpec::Linear { .. } => Some(&activation::Identity),
            ChannelSpec::Relu { .. } => Some(&activation::Relu),
            ChannelSpec::Sigmoid { .. } => Some(&activation::Sigmoid),
            ChannelSpec::Tanh { .. } => Some(&activation::Tanh),
            ChannelSpec::Sign { .. } => None,
        }
    }

    /// A draw of `h` given `z` and a standard normal `xi`, for every channel type: the
    /// scalar channel's own sampler where there is one (so that ML-AMP's instances keep
    /// their bits), else `φ(z) + √noise_var · xi`.
    pub fn sample(
        &self,
        channel: Option<&(dyn Channel<f64> + Send + Sync)>,
        z: f64,
        xi: f64,
    ) -> f64 {
        match (channel, self.activation()) {
            (Some(c), _) => c.sample(z, xi),
            (None, Some(phi)) => phi.value(z) + self.noise_var().sqrt() * xi,
            (None, None) => unreachable!("ChannelSpec::build gives a sign channel its scalar form"),
        }
    }

    /// `E[h² | z]`: the second moment of the channel's output given its input.
    pub fn second_moment_given(&self, z: f64) -> f64 {
        match self.activation() {
            Some(phi) => phi.value(z).powi(2) + self.noise_var(),
            None => 1.0,
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
                if let WeightsSpec::Spectrum { condition_number } = l.weights
                    && !(condition_number.is_finite() && condition_number >= 1.0)
                {
                    return Err(Error::invalid(
                        format!("layers[{k}].weights.condition_number"),
                        "must be finite and >= 1",
                    ));
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
            .all(|l| l.weights == WeightsSpec::Gaussian {})
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

    // -----------------------------------------------------------------------------------------
    // ML-Mat-VAMP's keys: `d`, `weights`, `estimator`, `row-sparse`, sigmoid and tanh.

    /// One linear layer on a row-sparse prior, `d = 2`, with `extra` lines in the layer.
    fn vamp_model(extra: &str) -> String {
        format!(
            "d = 2\n[prior]\ntype = \"row-sparse\"\nrho = 0.2\nvar = 1.5\n[[layers]]\nalpha = 0.5\n\
             channel = {{ type = \"linear\", noise_var = 1e-4 }}\n{extra}\n"
        )
    }

    #[test]
    fn vamp_keys_parse() {
        let m = Model::from_toml(&vamp_model(
            "weights = { type = \"spectrum\", condition_number = 100.0 }\nestimator = \"map\"",
        ))
        .unwrap();
        assert_eq!(m.d, 2);
        assert_eq!(
            m.layers[0].weights,
            WeightsSpec::Spectrum {
                condition_number: 100.0
            }
        );
        assert_eq!(m.layers[0].estimator, EstimatorSpec::Map);
        assert_eq!(m.prior_spec, PriorSpec::RowSparse { rho: 0.2, var: 1.5 });
        assert!(!m.iid_weights());
        // The defaults: iid Gaussian weights, MMSE.
        let m = Model::from_toml(&vamp_model("")).unwrap();
        assert_eq!(m.layers[0].weights, WeightsSpec::Gaussian {});
        assert_eq!(m.layers[0].estimator, EstimatorSpec::Mmse);
        assert!(m.iid_weights());
        let m = Model::from_toml(&vamp_model("weights = { type = \"gaussian\" }")).unwrap();
        assert!(m.iid_weights());
        // κ = 1 (orthogonal rows or columns) is allowed: the bound is >= 1.
        Model::from_toml(&vamp_model(
            "weights = { type = \"spectrum\", condition_number = 1.0 }",
        ))
        .unwrap();
        // A row-sparse prior's entries are Gauss–Bernoulli with mean 0: E x² = ρ var.
        let m = Model::from_toml(&vamp_model("")).unwrap();
        assert!((m.prior.second_moment() - 0.2 * 1.5).abs() < 1e-15);
    }

    #[test]
    fn unknown_keys_in_weights_and_bad_estimators_are_named() {
        let e = err(&vamp_model(
            "weights = { type = \"spectrum\", condition_numbr = 10.0 }",
        ));
        assert!(
            e.contains("condition_numbr") && e.contains("<model>:"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        // A key of another weights type.
        let e = err(&vamp_model(
            "weights = { type = \"spectrum\", condition_number = 10.0, kappa = 10.0 }",
        ));
        assert!(e.contains("kappa"), "{e}");
        // A spectrum without its condition number.
        let e = err(&vamp_model("weights = { type = \"spectrum\" }"));
        assert!(e.contains("condition_number"), "{e}");
        // An unknown weights type.
        let e = err(&vamp_model("weights = { type = \"haar\" }"));
        assert!(e.contains("haar"), "{e}");
        // Unknown estimators, named with the file position.
        for bad in ["mean", "MAP", "mode"] {
            let e = err(&vamp_model(&format!("estimator = \"{bad}\"")));
            assert!(e.contains(bad) && e.contains("<model>:"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        // A misspelt `estimator` key is an unknown key.
        let e = err(&vamp_model("estimatr = \"map\""));
        assert!(e.contains("estimatr"), "{e}");
        // Row-sparse has no mean.
        let e = err(&vamp_model("").replace("var = 1.5", "var = 1.5\nmean = 1.0"));
        assert!(e.contains("mean"), "{e}");
    }

    #[test]
    fn bad_vamp_values_are_named() {
        for kappa in ["0.5", "nan", "inf", "-2.0", "0.0"] {
            let e = err(&vamp_model(&format!(
                "weights = {{ type = \"spectrum\", condition_number = {kappa} }}"
            )));
            assert!(
                e.starts_with("layers[0].weights.condition_number"),
                "{kappa}: {e}"
            );
        }
        // In the second layer, the second layer is named.
        let two = format!(
            "{}[[layers]]\nalpha = 1.0\nchannel = {{ type = \"linear\", noise_var = 1e-4 }}\n\
             weights = {{ type = \"spectrum\", condition_number = 0.5 }}\n",
            vamp_model("")
        );
        let e = err(&two);
        assert!(e.starts_with("layers[1].weights.condition_number"), "{e}");
        for rho in ["1.5", "0.0", "-0.1", "nan"] {
            let e = err(&vamp_model("").replace("rho = 0.2", &format!("rho = {rho}")));
            assert!(e.starts_with("prior.rho"), "{rho}: {e}");
        }
        let e = err(&vamp_model("").replace("var = 1.5", "var = 0.0"));
        assert!(e.starts_with("prior.var"), "{e}");
        // ρ = 1 is allowed: the bound is (0, 1].
        Model::from_toml(&vamp_model("").replace("rho = 0.2", "rho = 1.0")).unwrap();
        let e = err(&vamp_model("").replace("d = 2", "d = 0"));
        assert!(e.starts_with("d"), "{e}");
        let e = err(&vamp_model("").replace("d = 2", "d = -1"));
        assert!(e.contains("<model>:1:"), "a negative d is not a usize: {e}");
    }

    #[test]
    fn noiseless_nonlinear_outputs_are_refused() {
        for ch in ["sigmoid", "tanh", "relu"] {
            // A single layer: the output is layers[0].
            let one = format!(
                "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1.0\n\
                 channel = {{ type = \"{ch}\", noise_var = 0.0 }}\n"
            );
            let e = err(&one);
            assert!(e.starts_with("layers[0].channel.noise_var"), "{ch}: {e}");
            // The default noise_var is 0: refused too.
            let e = err(&one.replace(", noise_var = 0.0", ""));
            assert!(e.starts_with("layers[0].channel.noise_var"), "{ch}: {e}");
            // Third of three layers: layers[2]; the same channel noiseless in a hidden layer
            // is fine.
            let three = format!(
                "d = 3\n[prior]\ntype = \"gaussian\"\n\
                 [[layers]]\nalpha = 1.0\nchannel = {{ type = \"{ch}\", noise_var = 0.0 }}\n\
                 [[layers]]\nalpha = 1.0\nchannel = {{ type = \"linear\" }}\n\
                 [[layers]]\nalpha = 1.0\nchannel = {{ type = \"{ch}\", noise_var = 0.0 }}\n"
            );
            let e = err(&three);
            assert!(e.starts_with("layers[2].channel.noise_var"), "{ch}: {e}");
            // The output layer's (the last) `noise_var = 0.0` made 0.01: a valid model.
            let at = three.rfind("noise_var = 0.0").unwrap();
            let hidden = format!("{}noise_var = 0.01{}", &three[..at], &three[at + 15..]);
            let m = Model::from_toml(&hidden).unwrap_or_else(|e| panic!("{ch}: {e}"));
            assert_eq!(m.depth(), 3);
            assert_eq!(m.layers[2].spec.noise_var(), 0.01);
            // Noisy outputs are fine. A negative or non-finite noise is refused anywhere.
            Model::from_toml(&one.replace("noise_var = 0.0", "noise_var = 1e-6")).unwrap();
            for bad in ["-1.0", "nan", "inf"] {
                let e = err(&three.replacen("noise_var = 0.0", &format!("noise_var = {bad}"), 1));
                assert!(
                    e.starts_with("layers[0].channel.noise_var"),
                    "{ch} {bad}: {e}"
                );
            }
        }
    }

    #[test]
    fn channels_name_the_first_layer_only_vamp_runs() {
        let text = "[prior]\ntype = \"gaussian\"\n\
                    [[layers]]\nalpha = 1.0\nchannel = { type = \"relu\" }\n\
                    [[layers]]\nalpha = 1.0\nchannel = { type = \"sigmoid\" }\n\
                    [[layers]]\nalpha = 1.0\nchannel = { type = \"tanh\", noise_var = 0.1 }\n";
        let m = Model::from_toml(text).unwrap();
        let e = match m.channels() {
            Ok(_) => panic!("ML-AMP channels for a sigmoid layer"),
            Err(e) => e.to_string(),
        };
        assert!(e.starts_with("layers[1].channel"), "{e}");
        assert!(e.contains("sigmoid") && e.contains("vamp"), "{e}");
        assert!(!e.contains('\n'));
        let e = match m.shared_channels() {
            Ok(_) => panic!("ML-AMP channels for a sigmoid layer"),
            Err(e) => e.to_string(),
        };
        assert!(e.starts_with("layers[1].channel"), "{e}");
        // Only tanh left: it is named.
        let m = Model::from_toml(&text.replace("\"sigmoid\"", "\"linear\"")).unwrap();
        let e = match m.channels() {
            Ok(_) => panic!("ML-AMP channels for a tanh layer"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.starts_with("layers[2].channel") && e.contains("tanh"),
            "{e}"
        );
        // ML-AMP's channels: all there.
        let m = Model::from_toml(
            &text
                .replace("\"sigmoid\"", "\"linear\"")
                .replace("\"tanh\", noise_var = 0.1", "\"sign\", noise_var = 0.1"),
        )
        .unwrap();
        assert_eq!(m.channels().unwrap().len(), 3);
    }

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn second_moments_match_closed_forms() {
        // Gaussian prior N(0, 2): E h_0² = 2. Weights with ‖W‖_F² = n_out: E z_0² = E h_0² = 2.
        // Linear, noise 0.5: E h_1² = E z_0² + 0.5 = 2.5 = E z_1². The sign layer's own output
        // (E h_2² = 1) is the observation: not among the 2L = 4 values.
        let m = Model::from_toml(
            "[prior]\ntype = \"gaussian\"\nvar = 2.0\n\
             [[layers]]\nalpha = 1.5\nchannel = { type = \"linear\", noise_var = 0.5 }\n\
             [[layers]]\nalpha = 0.5\nchannel = { type = \"sign\", noise_var = 0.3 }\n",
        )
        .unwrap();
        assert_close(&m.second_moments(), &[2.0, 2.0, 2.5, 2.5]);
        // One more layer after the sign: E h_2² = 1 (sign(·)² = 1 whatever the noise), so
        // E z_2² = 1.
        let m = Model::from_toml(
            "[prior]\ntype = \"gaussian\"\nvar = 2.0\n\
             [[layers]]\nalpha = 1.5\nchannel = { type = \"linear\", noise_var = 0.5 }\n\
             [[layers]]\nalpha = 0.5\nchannel = { type = \"sign\", noise_var = 0.3 }\n\
             [[layers]]\nalpha = 1.0\nchannel = { type = \"linear\", noise_var = 1e-3 }\n",
        )
        .unwrap();
        assert_close(&m.second_moments(), &[2.0, 2.0, 2.5, 2.5, 1.0, 1.0]);
        // A mean counts: N(1, 2) has E x² = 1 + 2 = 3; binary ±1 has 1; Gauss–Bernoulli ρ = 0.3,
        // N(0.5, 1) has 0.3·(1 + 0.25) = 0.375; row-sparse ρ = 0.2, var 1.5 has 0.3. A linear
        // noiseless layer keeps it.
        for (prior, e) in [
            ("type = \"gaussian\"\nmean = 1.0\nvar = 2.0", 3.0),
            ("type = \"binary\"\nbias = 0.7", 1.0),
            ("type = \"gauss-bernoulli\"\nrho = 0.3\nmean = 0.5", 0.375),
            ("type = \"row-sparse\"\nrho = 0.2\nvar = 1.5", 0.3),
        ] {
            let m = Model::from_toml(&format!(
                "d = 2\n[prior]\n{prior}\n\
                 [[layers]]\nalpha = 1.0\nchannel = {{ type = \"linear\" }}\n\
                 [[layers]]\nalpha = 1.0\nchannel = {{ type = \"linear\", noise_var = 0.1 }}\n"
            ))
            .unwrap();
            assert_close(&m.second_moments(), &[e, e, e, e]);
        }
    }

    #[test]
    fn second_moments_of_relu_are_half_plus_noise() {
        // z ~ N(0, ρ): E max(z, 0)² = ρ/2 (z² is even, max(z, 0)² is z² on half the mass).
        // Prior N(0, 3): ρ = 3, so E h_1² = 1.5 + 0.25 (noise) = 1.75; then a noiseless relu on
        // N(0, 1.75): E h_2² = 0.875.
        let m = Model::from_toml(
            "[prior]\ntype = \"gaussian\"\nvar = 3.0\n\
             [[layers]]\nalpha = 2.0\nchannel = { type = \"relu\", noise_var = 0.25 }\n\
             [[layers]]\nalpha = 2.0\nchannel = { type = \"relu\" }\n\
             [[layers]]\nalpha = 0.5\nchannel = { type = \"linear\", noise_var = 1e-4 }\n",
        )
        .unwrap();
        assert_close(&m.second_moments(), &[3.0, 3.0, 1.75, 1.75, 0.875, 0.875]);
        // Bounded activations: 0 < E φ(z)² < 1 (tanh, sigmoid), and tanh(z)² ≤ z², and
        // sigmoid(z)² has mean > 1/4 (sigmoid(z)² + sigmoid(−z)² ≥ 1/2 by convexity).
        let m = Model::from_toml(
            "[prior]\ntype = \"gaussian\"\nvar = 2.0\n\
             [[layers]]\nalpha = 1.0\nchannel = { type = \"tanh\" }\n\
             [[layers]]\nalpha = 1.0\nchannel = { type = \"sigmoid\" }\n\
             [[layers]]\nalpha = 1.0\nchannel = { type = \"linear\", noise_var = 1e-4 }\n",
        )
        .unwrap();
        let s = m.second_moments();
        assert_eq!(s.len(), 6);
        assert!(s[2] > 0.0 && s[2] < 1.0 && s[2] < 2.0, "{s:?}");
        assert_eq!(s[2], s[3]);
        assert!(s[4] > 0.25 && s[4] < 1.0, "{s:?}");
        assert_eq!(s[4], s[5]);
    }

    #[test]
    fn unknown_keys_in_gaussian_weights_are_named() {
        // "Unknown keys are errors that name the key": `gaussian` weights have no keys, so a
        // condition number there is a mistake (the user meant `spectrum`), not to be ignored.
        for extra in ["condition_number = 1e3", "kappa = 10.0"] {
            let text = vamp_model(&format!("weights = {{ type = \"gaussian\", {extra} }}"));
            let key = extra.split(' ').next().unwrap();
            match Model::from_toml(&text) {
                Ok(_) => panic!("accepted `{extra}` in gaussian weights"),
                Err(e) => assert!(e.to_string().contains(key), "{e}"),
            }
        }
    }
}
