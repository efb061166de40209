//! One run of an algorithm on a sampled instance of a model file: what `mlamp run` does, as
//! a library function returning a serialisable [`RunReport`].

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use mlamp_core::channel::RowChannelForm;
use mlamp_core::estimator::Estimator;
use mlamp_core::ml_amp::VarianceMode;
use serde::Serialize;

use super::amp::{AmpOptions, run_ml_amp};
use super::linear_path::{LinearPath, resolve};
use super::progress::Progress;
use super::vamp::{VampOptions, check_estimators, run_ml_vamp};
use crate::committee::test_error::{TestSet, eq17_covariance, predicted_test_error};
use crate::error::Error;
use crate::instance::Instance;
use crate::memory::{self, Usage};
use crate::model::Model;

/// The algorithm of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// ML-AMP (Manoel, Krzakala, Mézard, Zdeborová): `d = 1` and iid Gaussian weights only.
    #[default]
    Amp,
    /// ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher; ML-VAMP for
    /// `d = 1`): any `d` up to 8, any weights.
    Vamp,
}

impl Algorithm {
    /// The algorithm's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Amp => "ML-AMP",
            Algorithm::Vamp => "ML-Mat-VAMP",
        }
    }
}

impl FromStr for Algorithm {
    type Err = String;

    /// `amp` or `vamp`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "amp" => Ok(Algorithm::Amp),
            "vamp" => Ok(Algorithm::Vamp),
            _ => Err(format!("unknown algorithm `{s}`: amp or vamp")),
        }
    }
}

/// What a run is asked for (the options of `mlamp run`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunOptions<'a> {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// ML-Mat-VAMP's estimator for every layer, overriding the model file's.
    pub estimator: Option<Estimator>,
    /// Rows of the signal.
    pub n: usize,
    /// Seed of the instance.
    pub seed: u64,
    /// Most iterations (default: the algorithm's).
    pub iters: Option<usize>,
    /// A fixed damping in (0, 1]; `None`: ML-AMP adapts it (see [`run_ml_amp`]), ML-Mat-VAMP
    /// uses its default (0.8).
    pub damping: Option<f64>,
    /// ML-AMP with the W∘W products replaced by their iid mean.
    pub mean_variance: bool,
    /// Held-out test samples for a committee output's measured test error.
    pub test_samples: usize,
    /// The most bytes the run may allocate (`None`: the memory the system reports available).
    pub max_memory: Option<u64>,
    /// ML-Mat-VAMP's damping safeguard ([`VampOptions::safeguard`]); `false` runs the plain
    /// iteration that the state evolution tracks.
    pub safeguard: bool,
    /// Told of every iteration (the CLI's progress bar); nobody by default.
    pub progress: Progress<'a>,
    /// A directory to write the sampled instance and the run's results into
    /// (`mlamp run --save DIR`; the files of [`crate::algo::solve`]).
    pub save: Option<&'a Path>,
    /// ML-Mat-VAMP's linear solver (`--linear svd|cg|auto`; [`crate::algo::linear_path`]).
    pub linear: LinearPath,
}

impl Default for RunOptions<'_> {
    /// ML-AMP, n = 2000, seed 0, the algorithm's iterations and damping.
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Amp,
            estimator: None,
            n: 2000,
            seed: 0,
            iters: None,
            damping: None,
            mean_variance: false,
            test_samples: 1000,
            max_memory: None,
            safeguard: true,
            progress: Progress::default(),
            save: None,
            linear: LinearPath::Auto,
        }
    }
}

/// What a run reports (the JSON of `mlamp run --json`; MSEs are means over all `n·d`
/// entries).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    /// The model file.
    pub model: String,
    /// The algorithm's name.
    pub algorithm: &'static str,
    /// Rows of the signal.
    pub n: usize,
    /// Seed of the instance.
    pub seed: u64,
    /// `n_0, …, n_L`.
    pub sizes: Vec<usize>,
    /// The bytes the run was estimated to allocate before it started
    /// ([`crate::memory::estimate`]).
    pub memory_estimate: u64,
    /// MSE of the signal.
    pub mse_signal: f64,
    /// MSE of every estimated variable, signal first.
    pub mse_layers: Vec<f64>,
    /// Per iteration, the signal's MSE.
    pub trace: Vec<f64>,
    /// Per iteration, every variable's MSE.
    pub trace_layers: Vec<Vec<f64>>,
    /// Iterations run.
    pub iterations: usize,
    /// The tolerance was reached.
    pub converged: bool,
    /// The estimates blew up; the kept iterate is the best before.
    pub diverged: bool,
    /// The iteration whose estimates are kept.
    pub kept_iteration: usize,
    /// ML-AMP: entries of A clamped at 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clamped: Option<usize>,
    /// ML-AMP: steps undone by the adaptive damping (not counted in `iterations`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<usize>,
    /// ML-Mat-VAMP: columns per row.
    #[serde(rename = "d", skip_serializing_if = "Option::is_none")]
    pub vamp_d: Option<usize>,
    /// ML-Mat-VAMP: updates that kept a precision positive definite, in total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interventions: Option<usize>,
    /// ML-Mat-VAMP: the same, per layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interventions_layers: Option<Vec<usize>>,
    /// ML-Mat-VAMP: damping reductions by the safeguard (its estimates disagreed suddenly).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damping_reductions: Option<usize>,
    /// ML-Mat-VAMP: the linear solver that ran, `svd` or `cg` ([`crate::algo::linear_path`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linear: Option<&'static str>,
    /// ML-Mat-VAMP on the matrix-free path: its conjugate-gradient products (each one `W p`
    /// and one `Wᵀ q`), over all layers and solves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cg_products: Option<usize>,
    /// A committee output (`y = F2ᵀσ(z) + ξ`): the normalised test error `E|y − ŷ|²/Δ` of the
    /// estimated first layer, predicted by eq. 17 from the covariance of the true and
    /// estimated rows (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference
    /// and estimation in multi-layer models*; 1 is the floor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_error: Option<f64>,
    /// The same measured on [`RunOptions::test_samples`] fresh noisy test samples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_error_measured: Option<f64>,
    /// Layers of the model (for the summary).
    #[serde(skip)]
    pub depth: usize,
    /// Columns per row (for the summary).
    #[serde(skip)]
    pub d: usize,
}

impl RunReport {
    /// "converged", "not converged" or "diverged (kept iteration k)".
    pub fn status(&self) -> String {
        status(self.converged, self.diverged, self.kept_iteration)
    }

    /// What to change when the run did not converge (`None` if it did).
    pub fn hint(&self) -> Option<String> {
        hint(
            self.converged,
            self.diverged,
            self.iterations,
            self.rejected.is_some(),
        )
    }
}

/// "converged", "not converged" or "diverged (kept iteration k)".
pub(crate) fn status(converged: bool, diverged: bool, kept_iteration: usize) -> String {
    if diverged {
        format!("diverged (kept iteration {kept_iteration})")
    } else if converged {
        "converged".into()
    } else {
        "not converged".into()
    }
}

/// What to change when a run did not converge (`None` if it did); `amp`: an ML-AMP run
/// (whose damping adapts unless fixed).
pub(crate) fn hint(
    converged: bool,
    diverged: bool,
    iterations: usize,
    amp: bool,
) -> Option<String> {
    let damping = if amp {
        "a fixed --damping 0.5 (or 0.2) instead of the adaptive one"
    } else {
        "a smaller --damping (0.5, 0.2)"
    };
    if diverged {
        Some(format!(
            "the estimates blew up; try {damping}, or the other --algorithm"
        ))
    } else if !converged {
        Some(format!(
            "not converged in {iterations} iterations: raise --iters, or try {damping}"
        ))
    } else {
        None
    }
}

impl fmt::Display for RunReport {
    /// The human summary: the model, the run's status, every variable's MSE, and what to
    /// change if the run did not converge.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model      {} (L = {}, d = {}, sizes {:?})",
            self.model, self.depth, self.d, self.sizes
        )?;
        writeln!(
            f,
            "{:<10} {} iterations, {}",
            self.algorithm,
            self.iterations,
            self.status()
        )?;
        write!(f, "MSE signal {:.3e}", self.mse_signal)?;
        for (k, e) in self.mse_layers.iter().enumerate().skip(1) {
            write!(f, "\nMSE h_{k}    {e:.3e}")?;
        }
        if let (Some(p), Some(m)) = (self.test_error, self.test_error_measured) {
            write!(
                f,
                "\ntest error {p:.4} (eq. 17), {m:.4} measured (normalised: 1 is the floor)"
            )?;
        }
        if let Some(h) = self.hint() {
            write!(f, "\nhint       {h}")?;
        }
        Ok(())
    }
}

/// Samples an instance of the model file `path` and runs the chosen algorithm on it. Every
/// check (the options against the algorithm, the model against what the algorithm assumes,
/// the estimators the kinds provide) comes before the instance is sampled. With
/// [`RunOptions::save`], the instance and the run's results are written there as
/// [`crate::algo::solve`] writes them, so that `mlamp solve` on the saved files gives the
/// same bits.
pub fn run_model_file(path: &Path, opts: &RunOptions) -> Result<RunReport, Error> {
    let model = Model::from_file(path)?;
    let mut driver = driver(&model, opts)?;
    model.sizes(opts.n)?;
    if opts.save.is_some() {
        super::solve::check_savable(&model)?;
    }
    driver.resolve_linear(&model, opts.n, opts.max_memory);
    let memory_estimate = memory::check(
        &model,
        opts.n,
        driver.usage(),
        opts.max_memory,
        opts.algorithm.name(),
    )?;
    let inst = Instance::sample(&model, opts.n, opts.seed)?;
    let outcome = execute(&model, &inst, &driver)?;
    let tests = match driver {
        Driver::Amp(_) => None,
        Driver::Vamp(_) => committee_test_errors(&model, &inst, &outcome.estimates[0], opts)?,
    };
    if let Some(dir) = opts.save {
        let summary = super::solve::summary(&path.display().to_string(), &inst, &outcome, true)?;
        super::solve::save_instance(dir, &model, &inst)?;
        super::solve::write_results(dir, &inst, &outcome, &summary)?;
    }
    let r = outcome;
    finite_report(RunReport {
        model: path.display().to_string(),
        algorithm: opts.algorithm.name(),
        n: opts.n,
        seed: opts.seed,
        sizes: inst.sizes,
        memory_estimate,
        mse_signal: r.common.mse_layers[0],
        trace: r.common.trace.iter().map(|t| t[0]).collect(),
        mse_layers: r.common.mse_layers,
        trace_layers: r.common.trace,
        iterations: r.common.iterations,
        converged: r.common.converged,
        diverged: r.common.diverged,
        kept_iteration: r.common.kept_iteration,
        clamped: r.clamped,
        rejected: r.rejected,
        vamp_d: r.interventions.as_ref().map(|_| model.d),
        interventions: r.interventions.as_ref().map(|i| i.iter().sum()),
        interventions_layers: r.interventions,
        damping_reductions: r.damping_reductions,
        linear: r.linear.map(LinearPath::name),
        cg_products: r
            .linear
            .filter(|&p| p == LinearPath::MatrixFree)
            .map(|_| r.cg_products),
        test_error: tests.map(|t| t.0),
        test_error_measured: tests.map(|t| t.1),
        depth: model.depth(),
        d: model.d,
    })
}

/// A checked algorithm with its options: what [`driver`] makes of [`RunOptions`] before any
/// instance exists.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Driver<'a> {
    /// ML-AMP.
    Amp(AmpOptions<'a>),
    /// ML-Mat-VAMP.
    Vamp(VampOptions<'a>),
}

impl Driver<'_> {
    /// What the memory guard counts for it.
    pub(crate) fn usage(&self) -> Usage {
        match self {
            Driver::Amp(_) => Usage::Amp,
            Driver::Vamp(v) => Usage::Vamp(v.linear),
        }
    }

    /// Resolves ML-Mat-VAMP's [`LinearPath::Auto`] for `n` rows and the memory `limit`
    /// (`None`: what the system reports available), as the memory guard then counts it.
    pub(crate) fn resolve_linear(&mut self, model: &Model, n: usize, limit: Option<u64>) {
        if let Driver::Vamp(v) = self {
            let limit = limit.or_else(memory::available);
            v.linear = resolve(v.linear, model, n, limit);
        }
    }
}

/// The options of `opts`'s algorithm, checked against it and against `model` (its
/// assumptions, the estimators its kinds provide); the error names the option or field.
pub(crate) fn driver<'a>(model: &Model, opts: &RunOptions<'a>) -> Result<Driver<'a>, Error> {
    match opts.algorithm {
        Algorithm::Amp => {
            if opts.estimator.is_some() {
                return Err(Error::invalid(
                    "estimator",
                    "is an option of ML-Mat-VAMP (--algorithm vamp)",
                ));
            }
            model.check_ml_amp()?;
            let amp = AmpOptions {
                max_iter: opts.iters.unwrap_or(AmpOptions::default().max_iter),
                damping: opts.damping.unwrap_or(AmpOptions::default().damping),
                adaptive: opts.damping.is_none(),
                variance: if opts.mean_variance {
                    VarianceMode::Mean
                } else {
                    VarianceMode::Full
                },
                progress: opts.progress,
                ..AmpOptions::default()
            };
            amp.validate()?;
            Ok(Driver::Amp(amp))
        }
        Algorithm::Vamp => {
            if opts.mean_variance {
                return Err(Error::invalid(
                    "mean-variance",
                    "is an option of ML-AMP (--algorithm amp)",
                ));
            }
            let vamp = VampOptions {
                max_iter: opts.iters.unwrap_or(VampOptions::default().max_iter),
                damping: opts.damping.unwrap_or(VampOptions::default().damping),
                estimator: opts.estimator,
                safeguard: opts.safeguard,
                progress: opts.progress,
                linear: opts.linear,
                ..VampOptions::default()
            };
            vamp.validate()?;
            check_estimators(model, vamp.estimator)?;
            if opts.test_samples == 0 {
                return Err(Error::invalid("test-samples", "must be at least 1"));
            }
            Ok(Driver::Vamp(vamp))
        }
    }
}

/// How sure a run is of its estimates.
#[derive(Clone, Debug, PartialEq)]
pub enum Uncertainty {
    /// ML-AMP: every entry's posterior variance, per variable `h_0, …, h_{L−1}`.
    Variances(Vec<Vec<f64>>),
    /// ML-Mat-VAMP: per variable, the mean over its rows of their posterior covariance
    /// (row-major `d × d`; [`crate::algo::VampResult::covariances`]).
    MeanCovariances(Vec<Vec<f64>>),
}

/// What a run of either algorithm produced, as both `run` and `solve` report it.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The estimates `ĥ_0 = x̂, …, ĥ_{L−1}` (row-major `n_k × d`) of the kept iterate.
    pub estimates: Vec<Vec<f64>>,
    /// Their uncertainty.
    pub uncertainty: Uncertainty,
    /// The algorithm's name.
    pub algorithm: &'static str,
    pub(crate) common: Common,
    /// ML-AMP: entries of A clamped at 0.
    pub clamped: Option<usize>,
    /// ML-AMP: steps undone by the adaptive damping.
    pub rejected: Option<usize>,
    /// ML-Mat-VAMP: interventions per layer.
    pub interventions: Option<Vec<usize>>,
    /// ML-Mat-VAMP: damping reductions by the safeguard.
    pub damping_reductions: Option<usize>,
    /// ML-Mat-VAMP: the linear solver that ran.
    pub linear: Option<LinearPath>,
    /// ML-Mat-VAMP: the conjugate-gradient products (0 on the SVD path).
    pub cg_products: usize,
}

/// Runs the driver on an instance (checked against the model by the driver).
pub(crate) fn execute(model: &Model, inst: &Instance, driver: &Driver) -> Result<Outcome, Error> {
    Ok(match driver {
        Driver::Amp(amp) => {
            let r = run_ml_amp(model, inst, amp)?;
            Outcome {
                estimates: r.estimates,
                uncertainty: Uncertainty::Variances(r.variances),
                algorithm: Algorithm::Amp.name(),
                clamped: Some(r.clamped),
                rejected: Some(r.rejected),
                interventions: None,
                damping_reductions: None,
                linear: None,
                cg_products: 0,
                common: common!(r),
            }
        }
        Driver::Vamp(vamp) => {
            let r = run_ml_vamp(model, inst, vamp)?;
            Outcome {
                estimates: r.estimates,
                uncertainty: Uncertainty::MeanCovariances(r.covariances),
                algorithm: Algorithm::Vamp.name(),
                clamped: None,
                rejected: None,
                interventions: Some(r.interventions),
                damping_reductions: Some(r.damping_reductions),
                linear: Some(r.linear),
                cg_products: r.cg_products,
                common: common!(r),
            }
        }
    })
}

/// `Ok(report)` if every number it reports is finite, else [`Error::NonFinite`]: a NaN or an
/// infinity is never a result.
fn finite_report(r: RunReport) -> Result<RunReport, Error> {
    let numbers = r
        .mse_layers
        .iter()
        .chain(r.trace_layers.iter().flatten())
        .chain(r.test_error.iter())
        .chain(r.test_error_measured.iter());
    if numbers.clone().all(|v| v.is_finite()) {
        Ok(r)
    } else {
        Err(Error::NonFinite {
            what: format!("{}'s reported MSE", r.algorithm),
            hint: "the estimates overflowed; rescale the model's variances and noises".into(),
        })
    }
}

/// For a one-layer model with a committee output: eq. 17's normalised test error of the
/// estimate `f1_hat` of the signal, and the one measured on `opts.test_samples` held-out
/// samples (seeded by the instance's seed); `None` for other models.
fn committee_test_errors(
    model: &Model,
    inst: &Instance,
    f1_hat: &[f64],
    opts: &RunOptions,
) -> Result<Option<(f64, f64)>, Error> {
    let Some(Ok(RowChannelForm::Committee { phi, f2, noise_var })) = model
        .layers
        .last()
        .map(|l| l.channel.row_form(Estimator::Map, model.d))
    else {
        return Ok(None);
    };
    if model.depth() != 1 {
        return Ok(None);
    }
    let (f1, n_in) = (&inst.layers[0], inst.sizes[0]);
    let k = eq17_covariance(f1, f1_hat, n_in)?;
    let predicted = predicted_test_error(&k, f2, phi, noise_var)?.normalised;
    let set = TestSet {
        samples: opts.test_samples,
        seed: opts.seed.wrapping_add(1),
    };
    let measured = set
        .measure(f1, f1_hat, n_in, f2, phi, noise_var)?
        .normalised;
    Ok(Some((predicted, measured)))
}

/// The fields both algorithms' results have, moved out of either.
macro_rules! common {
    ($r:expr) => {
        Common {
            mse_layers: $r.mse_layers,
            trace: $r.trace,
            iterations: $r.iterations,
            converged: $r.converged,
            diverged: $r.diverged,
            kept_iteration: $r.kept_iteration,
        }
    };
}
use common;

/// The fields both algorithms' results have.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Common {
    pub(crate) mse_layers: Vec<f64>,
    pub(crate) trace: Vec<Vec<f64>>,
    pub(crate) iterations: usize,
    pub(crate) converged: bool,
    pub(crate) diverged: bool,
    pub(crate) kept_iteration: usize,
}
