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
        if self.diverged {
            format!("diverged (kept iteration {})", self.kept_iteration)
        } else if self.converged {
            "converged".into()
        } else {
            "not converged".into()
        }
    }
}

impl RunReport {
    /// What to change when the run did not converge (`None` if it did).
    pub fn hint(&self) -> Option<String> {
        let damping = if self.rejected.is_some() {
            "a fixed --damping 0.5 (or 0.2) instead of the adaptive one"
        } else {
            "a smaller --damping (0.5, 0.2)"
        };
        if self.diverged {
            Some(format!(
                "the estimates blew up; try {damping}, or the other --algorithm"
            ))
        } else if !self.converged {
            Some(format!(
                "not converged in {} iterations: raise --iters, or try {damping}",
                self.iterations
            ))
        } else {
            None
        }
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
/// the estimators the kinds provide) comes before the instance is sampled.
pub fn run_model_file(path: &Path, opts: &RunOptions) -> Result<RunReport, Error> {
    let model = Model::from_file(path)?;
    let mut memory_estimate = 0;
    let mut guard = |usage| -> Result<(), Error> {
        memory_estimate = memory::check(
            &model,
            opts.n,
            usage,
            opts.max_memory,
            opts.algorithm.name(),
        )?;
        Ok(())
    };
    let report = |sizes: Vec<usize>, r: Common, memory_estimate| RunReport {
        model: path.display().to_string(),
        algorithm: opts.algorithm.name(),
        n: opts.n,
        seed: opts.seed,
        sizes,
        memory_estimate,
        mse_signal: r.mse_layers[0],
        trace: r.trace.iter().map(|t| t[0]).collect(),
        mse_layers: r.mse_layers,
        trace_layers: r.trace,
        iterations: r.iterations,
        converged: r.converged,
        diverged: r.diverged,
        kept_iteration: r.kept_iteration,
        clamped: None,
        rejected: None,
        vamp_d: None,
        interventions: None,
        interventions_layers: None,
        damping_reductions: None,
        test_error: None,
        test_error_measured: None,
        depth: model.depth(),
        d: model.d,
    };
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
            model.sizes(opts.n)?;
            guard(Usage::Amp)?;
            let inst = Instance::sample(&model, opts.n, opts.seed)?;
            let r = run_ml_amp(&model, &inst, &amp)?;
            let (clamped, rejected) = (r.clamped, r.rejected);
            finite_report(RunReport {
                clamped: Some(clamped),
                rejected: Some(rejected),
                ..report(inst.sizes, common!(r), memory_estimate)
            })
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
                ..VampOptions::default()
            };
            vamp.validate()?;
            check_estimators(&model, vamp.estimator)?;
            if opts.test_samples == 0 {
                return Err(Error::invalid("test-samples", "must be at least 1"));
            }
            model.sizes(opts.n)?;
            guard(Usage::Vamp)?;
            let inst = Instance::sample(&model, opts.n, opts.seed)?;
            let r = run_ml_vamp(&model, &inst, &vamp)?;
            let interventions = r.total_interventions();
            let tests = committee_test_errors(&model, &inst, &r.estimates[0], opts)?;
            finite_report(RunReport {
                test_error: tests.map(|t| t.0),
                test_error_measured: tests.map(|t| t.1),
                vamp_d: Some(model.d),
                interventions: Some(interventions),
                interventions_layers: Some(r.interventions),
                damping_reductions: Some(r.damping_reductions),
                ..report(inst.sizes, common!(r), memory_estimate)
            })
        }
    }
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
struct Common {
    mse_layers: Vec<f64>,
    trace: Vec<Vec<f64>>,
    iterations: usize,
    converged: bool,
    diverged: bool,
    kept_iteration: usize,
}
