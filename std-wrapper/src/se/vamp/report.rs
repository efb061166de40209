//! What `mlamp vamp-se` reports: the ML-Mat-VAMP state evolution of a model file, iteration
//! by iteration, as a serialisable [`VampSeReport`], and the choice of every layer's
//! singular-value law from the model's weights ([`model_laws`]).

use std::fmt;
use std::path::Path;

use mlamp_core::estimator::Estimator;
use serde::Serialize;

use super::{Estimate, VampSeIteration, VampSeOptions, VampSeResult, vamp_state_evolution};
use crate::algo::Progress;
use crate::error::Error;
use crate::model::{Model, WeightsSpec};
use crate::se::spectral_law::SpectralLaw;

/// Nodes of the Gauss rule of the Marchenko–Pastur law that stands for iid Gaussian weights.
/// The rule is exact for polynomials in `s²` of degree below `2 · 64` and converges
/// geometrically for the functions the linear layers average (analytic in `s²` around the
/// support), so 64 nodes put its error far below the Monte-Carlo standard errors.
pub const MARCHENKO_PASTUR_NODES: usize = 64;

/// What `mlamp vamp-se` is asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VampSeCliOptions<'a> {
    /// Monte-Carlo rows per non-linear update (rounded up to whole blocks of
    /// [`super::monte_carlo::BLOCK`], at least two).
    pub samples: usize,
    /// Iterations.
    pub iterations: usize,
    /// The seed of the Monte-Carlo streams.
    pub seed: u64,
    /// Rows of the signal: the sizes `model.sizes(n)` fix the null fractions of every layer's
    /// singular-value law (the Marchenko–Pastur law of the nonzero ones depends only on the
    /// ratio) and the singular values of `spectrum` weights.
    pub n: usize,
    /// If set, the estimator of every layer, overriding the model file's.
    pub estimator: Option<Estimator>,
    /// Told of every finished iteration (the CLI's progress bar); nobody by default.
    pub progress: Progress<'a>,
    /// The informed start's relative error ([`VampSeOptions::informed`]); `None`: the
    /// uninformative start.
    pub informed: Option<f64>,
}

impl Default for VampSeCliOptions<'_> {
    /// 10⁵ samples, 20 iterations, seed 0, n = 1000, the model's estimators.
    fn default() -> Self {
        let se = VampSeOptions::default();
        Self {
            samples: se.samples,
            iterations: se.iterations,
            seed: se.seed,
            n: 1000,
            estimator: se.estimator,
            progress: se.progress,
            informed: se.informed,
        }
    }
}

/// The ML-Mat-VAMP state evolution of a model (the JSON of `mlamp vamp-se --json`). MSEs are
/// per entry, as `mlamp run --algorithm vamp` reports them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VampSeReport {
    /// The model file.
    pub model: String,
    /// Columns per row.
    pub d: usize,
    /// Rows of the signal the laws were built for.
    pub n: usize,
    /// `n_0, …, n_L`.
    pub sizes: Vec<usize>,
    /// Monte-Carlo rows per non-linear update, as asked (rounded up to whole blocks).
    pub samples: usize,
    /// The seed of the Monte-Carlo streams.
    pub seed: u64,
    /// The estimator overriding the model file's, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimator: Option<Estimator>,
    /// Iterations.
    pub iterations: usize,
    /// Per iteration, the predicted MSE of every forward estimate (signal first).
    pub mse_layers: Vec<Vec<f64>>,
    /// Per iteration, the Monte-Carlo standard errors of `mse_layers`.
    pub mse_layers_se: Vec<Vec<f64>>,
    /// Per iteration, the interventions of the extrinsic steps.
    pub interventions: Vec<usize>,
    /// The signal's MSE after the last iteration.
    pub mse_signal: f64,
    /// Its standard error.
    pub mse_signal_se: f64,
    /// After the last iteration, `E [x, x̂][x, x̂]ᵀ` of the signal's true and estimated rows
    /// (`2d×2d`, row-major): eq. 17's `K`.
    pub signal_joint: Vec<f64>,
    /// A committee output: per iteration, the predicted normalised test error `E|y − ŷ|²/Δ`
    /// (eq. 17 on the predicted `K`; 1 is the floor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_error: Option<Vec<f64>>,
    /// Its Monte-Carlo standard errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_error_se: Option<Vec<f64>>,
    /// A masked output (imputation): per iteration, the predicted MSE per missing entry of
    /// the estimate of the data matrix (the output's pre-activation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mse_unobserved: Option<Vec<f64>>,
    /// Its Monte-Carlo standard errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mse_unobserved_se: Option<Vec<f64>>,
    /// The largest, over the iterations, cross moment between a linear layer's
    /// backward-message error and the input's forward error that its regression on the truth
    /// leaves out (0 in exact arithmetic when every message is unbiased).
    pub decorrelation: f64,
    /// Layers of the model (for the summary).
    #[serde(skip)]
    pub depth: usize,
}

/// Every layer's singular-value law for the sizes `sizes = model.sizes(n)`: iid Gaussian
/// weights → [`SpectralLaw::marchenko_pastur`] with [`MARCHENKO_PASTUR_NODES`] nodes,
/// `spectrum` weights → [`SpectralLaw::from_svd_spectrum`], `dct` weights → the same at
/// condition number 1 (see [`crate::linalg::dct`]). Layer `k`'s matrix is
/// `n_{k+1} × n_k`.
pub fn model_laws(model: &Model, sizes: &[usize]) -> Result<Vec<SpectralLaw>, Error> {
    if sizes.len() != model.depth() + 1 {
        return Err(Error::invalid("sizes", "one size per variable, n_0 to n_L"));
    }
    model
        .layers
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let (n_out, n_in) = (sizes[k + 1], sizes[k]);
            match l.weights {
                WeightsSpec::Gaussian {} => {
                    SpectralLaw::marchenko_pastur(n_out, n_in, MARCHENKO_PASTUR_NODES)
                }
                WeightsSpec::Spectrum { condition_number } => {
                    SpectralLaw::from_svd_spectrum(n_out, n_in, condition_number)
                }
                // min(n_out, n_in) singular values c = √(n_out / min(n_out, n_in)), the
                // others null: the spectrum weights' law at condition number 1.
                WeightsSpec::Dct {} => SpectralLaw::from_svd_spectrum(n_out, n_in, 1.0),
            }
            .map_err(|e| Error::invalid(format!("layers[{k}].weights"), e.to_string()))
        })
        .collect()
}

/// The ML-Mat-VAMP state evolution of the model file `path`: builds the model, the laws of
/// its layers for `n` rows ([`model_laws`]) and runs [`vamp_state_evolution`].
///
/// Errors: [`Error::Invalid`] naming `samples`, `iterations` or `n` if it is 0, before the
/// file is read; those of the model file, of the laws and of the state evolution (e.g. `d`
/// above 8, an estimator a channel does not provide).
pub fn vamp_se_model_file(path: &Path, opts: &VampSeCliOptions) -> Result<VampSeReport, Error> {
    for (name, value) in [
        ("samples", opts.samples),
        ("iterations", opts.iterations),
        ("n", opts.n),
    ] {
        if value == 0 {
            return Err(Error::invalid(name, "must be >= 1"));
        }
    }
    let model = Model::from_file(path)?;
    let sizes = model.sizes(opts.n)?;
    let laws = model_laws(&model, &sizes)?;
    let se = VampSeOptions {
        samples: opts.samples,
        iterations: opts.iterations,
        seed: opts.seed,
        estimator: opts.estimator,
        progress: opts.progress,
        informed: opts.informed,
    };
    let result = vamp_state_evolution(&model, &laws, &se)?;
    report(path, &model, sizes, opts, &result)
}

/// `f` of every iteration's `pick` (the predicted test error, the MSE on missing entries),
/// if the output has one.
fn per_iteration(
    result: &VampSeResult,
    pick: impl Fn(&VampSeIteration) -> Option<&Estimate>,
    f: impl Fn(&Estimate) -> f64,
) -> Option<Vec<f64>> {
    result
        .iterations
        .iter()
        .map(|it| pick(it).map(&f))
        .collect()
}

/// The report of a finished state evolution.
fn report(
    path: &Path,
    model: &Model,
    sizes: Vec<usize>,
    opts: &VampSeCliOptions,
    result: &VampSeResult,
) -> Result<VampSeReport, Error> {
    let last = result
        .iterations
        .last()
        .ok_or_else(|| Error::invalid("iterations", "must be >= 1"))?;
    let signal = last.mse_layers[0];
    Ok(VampSeReport {
        model: path.display().to_string(),
        d: model.d,
        n: opts.n,
        sizes,
        samples: opts.samples,
        seed: opts.seed,
        estimator: opts.estimator,
        iterations: result.iterations.len(),
        mse_layers: result
            .iterations
            .iter()
            .map(|it| it.mse_layers.iter().map(|e| e.value).collect())
            .collect(),
        mse_layers_se: result
            .iterations
            .iter()
            .map(|it| it.mse_layers.iter().map(|e| e.se).collect())
            .collect(),
        interventions: result
            .iterations
            .iter()
            .map(|it| it.interventions)
            .collect(),
        mse_signal: signal.value,
        mse_signal_se: signal.se,
        signal_joint: last.signal_joint.clone(),
        test_error: per_iteration(result, |it| it.test_error.as_ref(), |e| e.value),
        test_error_se: per_iteration(result, |it| it.test_error.as_ref(), |e| e.se),
        mse_unobserved: per_iteration(result, |it| it.mse_unobserved.as_ref(), |e| e.value),
        mse_unobserved_se: per_iteration(result, |it| it.mse_unobserved.as_ref(), |e| e.se),
        decorrelation: result
            .iterations
            .iter()
            .map(|it| it.decorrelation)
            .fold(0.0, f64::max),
        depth: model.depth(),
    })
}

impl fmt::Display for VampSeReport {
    /// The human summary: the model, then one line per iteration with every variable's MSE
    /// (± its standard error) and the interventions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model  {} (L = {}, d = {}, sizes {:?})",
            self.model, self.depth, self.d, self.sizes
        )?;
        writeln!(
            f,
            "ML-Mat-VAMP (SE)  {} iterations, {} samples per update, seed {}",
            self.iterations, self.samples, self.seed
        )?;
        write!(f, "{:>4}", "t")?;
        for k in 0..self.mse_layers.first().map_or(0, Vec::len) {
            write!(f, "  {:<22}", format!("MSE h_{k}"))?;
        }
        write!(f, "  interventions")?;
        for (t, ((mse, se), i)) in self
            .mse_layers
            .iter()
            .zip(&self.mse_layers_se)
            .zip(&self.interventions)
            .enumerate()
        {
            write!(f, "\n{:>4}", t + 1)?;
            for (e, s) in mse.iter().zip(se) {
                write!(f, "  {:<22}", format!("{e:.4e} ± {s:.1e}"))?;
            }
            write!(f, "  {i}")?;
        }
        write!(
            f,
            "\nsignal MSE (SE)  {:.4e} ± {:.1e}",
            self.mse_signal, self.mse_signal_se
        )?;
        if let (Some(v), Some(s)) = (&self.test_error, &self.test_error_se)
            && let (Some(v), Some(s)) = (v.last(), s.last())
        {
            write!(f, "\nnormalised test error (SE, eq. 17)  {v:.4} ± {s:.1e}")?;
        }
        if let (Some(v), Some(s)) = (&self.mse_unobserved, &self.mse_unobserved_se)
            && let (Some(v), Some(s)) = (v.last(), s.last())
        {
            write!(f, "\nMSE on the missing entries (SE)  {v:.4e} ± {s:.1e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_LAYERS: &str = r#"
        [prior]
        type = "gauss-bernoulli"
        rho = 0.3
        [[layers]]
        alpha = 1.0
        channel = { type = "linear", noise_var = 0.0 }
        [[layers]]
        alpha = 0.8
        channel = { type = "linear", noise_var = 1e-8 }
        weights = { type = "spectrum", condition_number = 10.0 }
    "#;

    #[test]
    fn laws_follow_the_weights_and_the_sizes() {
        let model = Model::from_toml(TWO_LAYERS).unwrap();
        let sizes = model.sizes(1000).unwrap();
        let laws = model_laws(&model, &sizes).unwrap();
        assert_eq!(laws.len(), 2);
        assert_eq!(
            laws[0],
            SpectralLaw::marchenko_pastur(1000, 1000, MARCHENKO_PASTUR_NODES).unwrap()
        );
        assert_eq!(
            laws[1],
            SpectralLaw::from_svd_spectrum(800, 1000, 10.0).unwrap()
        );
        assert!(model_laws(&model, &sizes[..2]).is_err());
    }

    #[test]
    fn zero_options_are_named_errors_before_the_file_is_read() {
        let missing = Path::new("/nonexistent/model.toml");
        for (opts, name) in [
            (
                VampSeCliOptions {
                    samples: 0,
                    ..Default::default()
                },
                "samples",
            ),
            (
                VampSeCliOptions {
                    iterations: 0,
                    ..Default::default()
                },
                "iterations",
            ),
            (
                VampSeCliOptions {
                    n: 0,
                    ..Default::default()
                },
                "n",
            ),
        ] {
            match vamp_se_model_file(missing, &opts) {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(matches!(
            vamp_se_model_file(missing, &VampSeCliOptions::default()),
            Err(Error::Io { .. })
        ));
    }
}
