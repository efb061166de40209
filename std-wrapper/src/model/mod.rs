//! Models: a prior and a stack of layers, read from TOML model files (`spec`), built by
//! the `registry` of kinds and validated.
//!
//! Layers are listed from the signal to the observation (our order). In the ML-AMP paper
//! (Manoel, Krzakala, Mézard, Zdeborová, *Multi-layer generalized linear estimation*) the same stack is numbered the other way: our layer `k` (0-based) is the paper's
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
//! # weights = { type = "dct" }   # subsampled randomised DCT, O(n log n), never stored
//! # estimator = "mmse"         # optional, ML-Mat-VAMP: "mmse" (default) | "map"
//!
//! [[layers]]                   # last layer: produces the observation
//! alpha = 0.8
//! channel = { type = "linear", noise_var = 1e-8 }
//! # channel = { type = "committee", activation = "sigmoid", snr_db = 15.0 }
//! #   y = F2ᵀ σ(z) + N(0, Δ), one number per row (last layer, ML-Mat-VAMP only):
//! #   activation = "sigmoid" | "relu"; f2 = [d numbers], or drawn iid N(0, 1) from
//! #   f2_seed (default 0); exactly one of noise_var, snr_db (Δ relative to E s², the
//! #   noiseless output's power with its mean), snr_db_variance (relative to Var s)
//! ```
//! Unknown keys are errors that name the key; bad values are errors that name the field.
//!
//! With `d > 1` every variable is an `n × d` matrix of rows: the prior acts on rows (entry by
//! entry for the scalar priors; `row-sparse` zeroes whole rows: each row is `N(0, var I_d)`
//! with probability `rho`, else 0) and every channel acts on each entry, the noise independent
//! per entry. `sigmoid` and `tanh` (`h = φ(z) + N(0, noise_var)`), `spectrum` and `dct` weights
//! run only with ML-Mat-VAMP.

pub mod mask;
mod registry;
mod spec;

pub use mask::MaskFile;
pub use registry::{
    BuiltChannel, BuiltPrior, ChannelSpec, CommitteeActivation, LayerContext, PriorSpec,
};
pub use spec::{Estimator, LayerSpec, ModelSpec, WeightsSpec};

/// The most rows a variable may have (2⁴⁰): beyond, the indices of its weight matrix do not
/// fit in 64 bits and no machine holds it.
pub const MAX_ROWS: f64 = 1_099_511_627_776.0;

use std::path::Path;

use mlamp_core::channel::{Channel, ChannelKind};
use mlamp_core::moments::{Moments, marginal_moments};
use mlamp_core::quadrature::GaussHermite;

use crate::error::Error;

/// A built layer: its shape ratio, channel, weights' law and ML-Mat-VAMP estimator.
pub struct Layer {
    /// Outputs / inputs.
    pub alpha: f64,
    /// The channel kind.
    pub channel: BuiltChannel,
    /// The law of the weights.
    pub weights: WeightsSpec,
    /// ML-Mat-VAMP's estimator for the channel.
    pub estimator: Estimator,
    /// A masked output's mask file (`mask = "FILE"`), whose rows the sampled instances
    /// observe instead of a mask drawn from the seed.
    pub mask: Option<MaskFile>,
}

/// A validated model: ready to generate instances and to run.
pub struct Model {
    /// Columns per row.
    pub d: usize,
    /// The prior kind.
    pub prior: BuiltPrior,
    /// Layers from the signal to the observation.
    pub layers: Vec<Layer>,
}

impl ModelSpec {
    /// Validates and builds the model: every kind through the `registry`, every error
    /// naming its field.
    pub fn build(&self) -> Result<Model, Error> {
        self.build_in(None)
    }

    /// [`ModelSpec::build`] with relative file names in the spec (a masked output's `mask`)
    /// resolved against `dir` (the model file's directory; `None`: the working directory).
    pub fn build_in(&self, dir: Option<&Path>) -> Result<Model, Error> {
        if !(1..=MAX_D).contains(&self.d) {
            return Err(Error::invalid("d", format!("must be in 1..={MAX_D}")));
        }
        if self.layers.is_empty() {
            return Err(Error::invalid(
                "layers",
                "at least one [[layers]] entry is needed",
            ));
        }
        let last = self.layers.len() - 1;
        let prior = self.prior.build()?;
        let mut layers: Vec<Layer> = Vec::with_capacity(self.layers.len());
        for (k, l) in self.layers.iter().enumerate() {
            check_alpha(&format!("layers[{k}].alpha"), l.alpha)?;
            let field = format!("layers[{k}].channel");
            // The input's second moment, through the layers built so far.
            let below: Vec<&dyn ChannelKind<f64>> = layers.iter().map(|l| l.kind()).collect();
            let mask = l
                .channel
                .mask_file()
                .map(|(file, noise_var)| MaskFile::read(file, dir, self.d, noise_var, &field))
                .transpose()?;
            let ctx = LayerContext {
                d: self.d,
                input_second_moment: layer_moments(prior.as_ref(), self.d, &below)?[k].second,
                mask_observed: mask.as_ref().map(|m| m.channel.observed()),
            };
            let channel = l.channel.build(&field, &ctx)?;
            let role = if k == last {
                channel.check_as_output()
            } else {
                channel.check_as_hidden()
            };
            role.map_err(|e| Error::at(&field, e))?;
            if let WeightsSpec::Spectrum { condition_number } = l.weights
                && !(condition_number.is_finite() && condition_number >= 1.0)
            {
                return Err(Error::invalid(
                    format!("layers[{k}].weights.condition_number"),
                    "must be finite and >= 1",
                ));
            }
            layers.push(Layer {
                alpha: l.alpha,
                channel,
                weights: l.weights,
                estimator: l.estimator,
                mask,
            });
        }
        let model = Model {
            d: self.d,
            prior,
            layers,
        };
        model.check_representable()?;
        Ok(model)
    }
}

/// The most columns per row a model may have (what ML-Mat-VAMP is instantiated for).
pub const MAX_D: usize = 8;

/// The range of a layer's alpha, `[1e-6, 1e6]`: the state evolution multiplies the layers'
/// averages by it (and by the products of the alphas before it), and beyond this range an
/// instance of any `n` has layers of 0 or more than a million rows per input.
pub const ALPHA_RANGE: (f64, f64) = (1e-6, 1e6);

/// The bound on the product of the alphas of consecutive layers (the size of a variable
/// relative to the signal, `n_k / n_0`), and on its inverse.
pub const MAX_SIZE_RATIO: f64 = 1e9;

/// `Ok(())` if `alpha` is in [`ALPHA_RANGE`], else an error naming `field`.
pub fn check_alpha(field: &str, alpha: f64) -> Result<(), Error> {
    let (lo, hi) = ALPHA_RANGE;
    if alpha.is_finite() && (lo..=hi).contains(&alpha) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("must be finite and in [{lo:e}, {hi:e}]"),
        ))
    }
}

impl Layer {
    /// The channel kind, borrowed.
    fn kind(&self) -> &dyn ChannelKind<f64> {
        &*self.channel
    }
}

/// [`marginal_moments`] of the variables `h_0, …` below and after `channels` (64-point
/// Gauss–Hermite over each channel's noise).
fn layer_moments(
    prior: &dyn mlamp_core::prior::Prior<f64>,
    d: usize,
    channels: &[&dyn ChannelKind<f64>],
) -> Result<Vec<Moments<f64>>, Error> {
    let gh = GaussHermite::<f64, 64>::new();
    let mut m = vec![Moments::default(); channels.len() + 1];
    marginal_moments(prior, d, channels, gh.rule(), &mut m)?;
    Ok(m)
}

impl Model {
    /// Reads, parses and validates a model file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        ModelSpec::parse(&text, &path.display().to_string())?.build_in(path.parent())
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        ModelSpec::parse(text, "<model>")?.build()
    }

    /// The number of layers L.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// What the computations can represent, beyond each field's own range: every variable's
    /// second moment finite and a representable scale (a prior's large mean through a linear
    /// layer, or noises adding up, can leave it), and the sizes of the variables relative to
    /// the signal (the products of the alphas) within [`MAX_SIZE_RATIO`]; the error names
    /// the first field to change.
    fn check_representable(&self) -> Result<(), Error> {
        let moments = self.moments()?;
        let (lo, hi) = mlamp_core::error::scale_range::<f64>();
        for (j, m) in moments.iter().enumerate() {
            if !(m.second.is_finite() && m.second <= hi && m.second >= lo * lo) {
                let field = match j {
                    0 => "prior".to_string(),
                    j => format!("layers[{}].channel", j - 1),
                };
                return Err(Error::invalid(
                    field,
                    format!(
                        "gives h_{j} a second moment of {:e}, outside [1e-60, 1e30]: rescale the \
                         model (the variances and noises)",
                        m.second
                    ),
                ));
            }
        }
        let mut ratio = 1.0;
        for (k, l) in self.layers.iter().enumerate() {
            ratio *= l.alpha;
            if !(1.0 / MAX_SIZE_RATIO..=MAX_SIZE_RATIO).contains(&ratio) {
                return Err(Error::invalid(
                    format!("layers[{k}].alpha"),
                    format!(
                        "makes h_{} {ratio:e} times the size of the signal (the product of the \
                         alphas), outside [1e-9, 1e9]",
                        k + 1
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The sizes `n_0 = n, n_1, …, n_L` of every variable, `n_{k+1} = round(alpha_k n_k)`;
    /// an error naming `n` or the alpha if one is 0 or more than [`MAX_ROWS`].
    pub fn sizes(&self, n: usize) -> Result<Vec<usize>, Error> {
        if n == 0 {
            return Err(Error::invalid("n", "must be >= 1"));
        }
        if n as f64 * self.d as f64 > MAX_ROWS {
            return Err(Error::invalid(
                "n",
                format!(
                    "n·d = {:e} entries: more than any machine holds (2^40)",
                    n as f64 * self.d as f64
                ),
            ));
        }
        let mut sizes = vec![n];
        for (k, l) in self.layers.iter().enumerate() {
            let next = (l.alpha * *sizes.last().unwrap() as f64).round();
            if next * self.d as f64 > MAX_ROWS {
                return Err(Error::invalid(
                    format!("layers[{k}].alpha"),
                    format!("gives {next:e} rows at n = {n}: more than any machine holds (2^40)"),
                ));
            }
            let next = next as usize;
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

    /// Sets the alphas to the ratios of `sizes` (`n_0, …, n_L`, of given data), so that
    /// [`Model::sizes`]`(n_0)` gives them back; an error naming the layer whose ratio is
    /// outside [`ALPHA_RANGE`] or whose running product leaves [`MAX_SIZE_RATIO`].
    pub fn set_sizes(&mut self, sizes: &[usize]) -> Result<(), Error> {
        if sizes.len() != self.depth() + 1 {
            return Err(Error::invalid(
                "sizes",
                format!("{} sizes for {} layers", sizes.len(), self.depth()),
            ));
        }
        for (k, l) in self.layers.iter_mut().enumerate() {
            let alpha = sizes[k + 1] as f64 / sizes[k] as f64;
            check_alpha(
                &format!("layers[{k}].alpha (rows / columns of W_{})", k + 1),
                alpha,
            )?;
            l.alpha = alpha;
        }
        self.check_representable()?;
        debug_assert_eq!(self.sizes(sizes[0]).ok().as_deref(), Some(sizes));
        Ok(())
    }

    /// The scalar channels, for ML-AMP and its state evolution: an error naming the first
    /// layer whose channel only ML-Mat-VAMP runs.
    pub fn channels(&self) -> Result<Vec<&dyn Channel<f64>>, Error> {
        self.layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                l.channel.amp().ok_or_else(|| {
                    Error::invalid(
                        format!("layers[{k}].channel"),
                        format!(
                            "a {} channel runs only with ML-Mat-VAMP (--algorithm vamp)",
                            l.channel.name()
                        ),
                    )
                })
            })
            .collect()
    }

    /// Whether every weight matrix is iid Gaussian (what ML-AMP and its SE assume).
    pub fn iid_weights(&self) -> bool {
        self.layers
            .iter()
            .all(|l| l.weights == WeightsSpec::Gaussian {})
    }

    /// What ML-AMP and its state evolution assume, checked once for both: `d = 1`, iid
    /// Gaussian weights, channels that have an ML-AMP form; the error names the field and
    /// says to use ML-Mat-VAMP.
    pub fn check_ml_amp(&self) -> Result<(), Error> {
        if self.d != 1 {
            return Err(Error::invalid(
                "d",
                format!(
                    "ML-AMP and its state evolution are for d = 1 (the model has d = {}): \
                     use ML-Mat-VAMP (--algorithm vamp)",
                    self.d
                ),
            ));
        }
        if let Some(k) = self
            .layers
            .iter()
            .position(|l| l.weights != WeightsSpec::Gaussian {})
        {
            return Err(Error::invalid(
                format!("layers[{k}].weights"),
                "ML-AMP and its state evolution assume iid Gaussian weights: use ML-Mat-VAMP \
                 (--algorithm vamp)",
            ));
        }
        self.channels().map(|_| ())
    }

    /// The mean and second moment of every variable `h_0 = x, h_1, …, h_L` under the model
    /// (the core's [`marginal_moments`], 64-point Gauss–Hermite over each channel's noise):
    /// what ML-AMP is initialised with, the ρ of the state evolution, and the scale of
    /// ML-Mat-VAMP's initial precisions — never the ground truth.
    pub fn moments(&self) -> Result<Vec<Moments<f64>>, Error> {
        let channels: Vec<&dyn ChannelKind<f64>> = self.layers.iter().map(Layer::kind).collect();
        layer_moments(self.prior.as_ref(), self.d, &channels)
    }

    /// ML-Mat-VAMP's variables `h_0, z_0, h_1, z_1, …, z_{L−1}` in order, each with its prior
    /// second moment per entry (`E z_k² = E h_k²`: the weights have `‖W‖_F² = n_out` on
    /// average): the scale of its safeguards and of its initial messages.
    pub fn variable_scales(&self) -> Result<Vec<f64>, Error> {
        Ok(self.moments()?[..self.depth()]
            .iter()
            .flat_map(|m| [m.second, m.second])
            .collect())
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
        assert_eq!(m.layers[0].estimator, Estimator::Map);
        let spec = ModelSpec::parse(&vamp_model(""), "<model>").unwrap();
        assert_eq!(spec.prior, PriorSpec::RowSparse { rho: 0.2, var: 1.5 });
        assert!(!m.iid_weights());
        // The defaults: iid Gaussian weights, MMSE.
        let m = Model::from_toml(&vamp_model("")).unwrap();
        assert_eq!(m.layers[0].weights, WeightsSpec::Gaussian {});
        assert_eq!(m.layers[0].estimator, Estimator::Mmse);
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
            assert_eq!(m.layers[2].channel.name(), ch);
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

    /// `E h_k²` of every variable, the signal first.
    fn second(m: &Model) -> Vec<f64> {
        m.moments().unwrap().iter().map(|x| x.second).collect()
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
        // Linear, noise 0.5: E h_1² = E z_0² + 0.5 = 2.5 = E z_1². The sign layer's output,
        // the observation: E h_2² = 1.
        let m = Model::from_toml(
            "[prior]\ntype = \"gaussian\"\nvar = 2.0\n\
             [[layers]]\nalpha = 1.5\nchannel = { type = \"linear\", noise_var = 0.5 }\n\
             [[layers]]\nalpha = 0.5\nchannel = { type = \"sign\", noise_var = 0.3 }\n",
        )
        .unwrap();
        assert_close(&second(&m), &[2.0, 2.5, 1.0]);
        // One more layer after the sign: E h_2² = 1 (sign(·)² = 1 whatever the noise), so
        // E z_2² = 1.
        let m = Model::from_toml(
            "[prior]\ntype = \"gaussian\"\nvar = 2.0\n\
             [[layers]]\nalpha = 1.5\nchannel = { type = \"linear\", noise_var = 0.5 }\n\
             [[layers]]\nalpha = 0.5\nchannel = { type = \"sign\", noise_var = 0.3 }\n\
             [[layers]]\nalpha = 1.0\nchannel = { type = \"linear\", noise_var = 1e-3 }\n",
        )
        .unwrap();
        assert_close(&second(&m), &[2.0, 2.5, 1.0, 1.0 + 1e-3]);
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
            assert_close(&second(&m)[..2], &[e, e]);
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
        assert_close(&second(&m)[..3], &[3.0, 1.75, 0.875]);
        // Bounded activations: 0 < E φ(z)² < 1 (tanh, sigmoid), and tanh(z)² ≤ z², and
        // sigmoid(z)² has mean > 1/4 (sigmoid(z)² + sigmoid(−z)² ≥ 1/2 by convexity).
        let m = Model::from_toml(
            "[prior]\ntype = \"gaussian\"\nvar = 2.0\n\
             [[layers]]\nalpha = 1.0\nchannel = { type = \"tanh\" }\n\
             [[layers]]\nalpha = 1.0\nchannel = { type = \"sigmoid\" }\n\
             [[layers]]\nalpha = 1.0\nchannel = { type = \"linear\", noise_var = 1e-4 }\n",
        )
        .unwrap();
        let s = second(&m);
        assert_eq!(s.len(), 4);
        assert!(s[1] > 0.0 && s[1] < 1.0 && s[1] < 2.0, "{s:?}");
        assert!(s[2] > 0.25 && s[2] < 1.0, "{s:?}");
    }

    #[test]
    fn unknown_keys_in_gaussian_weights_are_named() {
        // "Unknown keys are errors that name the key": `gaussian` and `dct` weights have no
        // keys, so a condition number there is a mistake (the user meant `spectrum`), not to
        // be ignored.
        for kind in ["gaussian", "dct"] {
            for extra in ["condition_number = 1e3", "kappa = 10.0"] {
                let text = vamp_model(&format!("weights = {{ type = \"{kind}\", {extra} }}"));
                let key = extra.split(' ').next().unwrap();
                match Model::from_toml(&text) {
                    Ok(_) => panic!("accepted `{extra}` in {kind} weights"),
                    Err(e) => assert!(e.to_string().contains(key), "{e}"),
                }
            }
        }
    }

    #[test]
    fn dct_weights_parse_and_are_refused_by_ml_amp() {
        let m = Model::from_toml(&vamp_model("weights = { type = \"dct\" }")).unwrap();
        assert_eq!(m.layers[0].weights, WeightsSpec::Dct {});
        assert!(!m.iid_weights());
        let text = "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 0.5\n\
                    channel = { type = \"linear\", noise_var = 1e-4 }\nweights = { type = \"dct\" }\n";
        let e = Model::from_toml(text).unwrap().check_ml_amp().unwrap_err();
        assert!(e.to_string().starts_with("layers[0].weights"), "{e}");
    }
}
