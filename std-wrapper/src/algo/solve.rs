//! An algorithm on given data: what `mlamp solve` does, and the files it and
//! `mlamp run --save` write.
//!
//! The model file gives the prior and the channels; the weights, the observation and
//! optionally the ground truth come from array files ([`crate::arrays`]); the sizes (and so
//! the model's alphas) come from the weights' shapes ([`Instance::from_data`]).
//!
//! Files, in the output directory (`--out`, or `--save` of `run`), variables named `x` for
//! `h_0` and `h1`, `h2`, … for the hidden layers:
//! - results: `x_hat.npy`, `hK_hat.npy` (`n_k × d`, the estimates); with ML-AMP
//!   `x_var.npy`, `hK_var.npy` (`n_k × 1`, every entry's posterior variance), with
//!   ML-Mat-VAMP `x_cov.npy`, `hK_cov.npy` (`d × d`, the mean over the rows of their
//!   posterior covariance, `(Γ⁺ + Γ⁻)⁻¹`); `summary.json` (the [`SolveReport`]);
//! - the instance (`run --save` only): `W1.npy`, …, `WL.npy` (`W_k` is `n_k × n_{k−1}`),
//!   `y.npy` (`n_L × p`), and the truths `x.npy`, `h1.npy`, … (`n_k × d`).
//!
//! `solve` on the files `run --save` wrote (`--weights W1.npy … --observation y.npy --truth
//! x.npy h1.npy …`) reads the same bits, builds the same instance and writes the same files,
//! `summary.json` byte for byte. (With `spectrum` weights ML-Mat-VAMP in `run` uses the
//! generated singular vectors and `solve` a decomposition of `W`: equal up to rounding.)

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::run::{Driver, Outcome, RunOptions, Uncertainty, driver, execute, hint, status};
use crate::arrays::{read_matrix, write_npy};
use crate::error::Error;
use crate::instance::{Data, Instance};
use crate::memory;
use crate::model::{Model, WeightsSpec};

/// What `mlamp solve` is asked for.
#[derive(Clone, Debug)]
pub struct SolveOptions<'a> {
    /// The algorithm and its options (`n`, `seed`, `test_samples` and `save` are not used:
    /// the data set the sizes).
    pub run: RunOptions<'a>,
    /// The weight files `W_1, …, W_L`, from the signal to the observation.
    pub weights: Vec<String>,
    /// The observation's file.
    pub observation: String,
    /// The ground truth's files, `x = h_0` first, then `h_1, …` as far as known.
    pub truth: Vec<String>,
    /// The directory for the results (none: nothing is written).
    pub out: Option<&'a Path>,
}

/// What a run on given data reports (`summary.json`, and the JSON of `mlamp solve --json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SolveReport {
    /// The model file.
    pub model: String,
    /// The algorithm's name.
    pub algorithm: &'static str,
    /// The floating-point type the algorithm ran in.
    pub precision: &'static str,
    /// `n_0, …, n_L`, from the weights' shapes.
    pub sizes: Vec<usize>,
    /// Columns per row.
    pub d: usize,
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
    /// ML-AMP: steps undone by the adaptive damping.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<usize>,
    /// ML-Mat-VAMP: updates that kept a precision positive definite, in total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interventions: Option<usize>,
    /// ML-Mat-VAMP: the same, per layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interventions_layers: Option<Vec<usize>>,
    /// ML-Mat-VAMP: damping reductions by its safeguard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damping_reductions: Option<usize>,
    /// MSE of the signal's estimate against the truth, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mse_signal: Option<f64>,
    /// MSE of each estimate whose truth was given (`x` first), means over all `n_k·d` entries.
    pub mse_layers: Vec<f64>,
    /// Per iteration, the same (empty without a truth).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace_layers: Vec<Vec<f64>>,
    /// The result files written, in the output directory (empty: none written).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// The output directory (for the summary; not in the JSON, which is the same wherever it
    /// is written).
    #[serde(skip)]
    pub out: Option<String>,
}

/// A variable's name in file names: `x` for `h_0`, `hK` for `h_K`.
pub fn variable(k: usize) -> String {
    if k == 0 { "x".into() } else { format!("h{k}") }
}

/// The result files of an outcome, with their shapes and entries.
fn result_files<'o>(inst: &Instance, outcome: &'o Outcome) -> Vec<(String, Vec<usize>, &'o [f64])> {
    let d = inst.d;
    let mut files = Vec::new();
    for (k, e) in outcome.estimates.iter().enumerate() {
        files.push((
            format!("{}_hat.npy", variable(k)),
            vec![inst.sizes[k], d],
            &e[..],
        ));
    }
    match &outcome.uncertainty {
        Uncertainty::Variances(v) => {
            for (k, v) in v.iter().enumerate() {
                files.push((
                    format!("{}_var.npy", variable(k)),
                    vec![inst.sizes[k], d],
                    &v[..],
                ));
            }
        }
        Uncertainty::MeanCovariances(c) => {
            for (k, c) in c.iter().enumerate() {
                files.push((format!("{}_cov.npy", variable(k)), vec![d, d], &c[..]));
            }
        }
    }
    files
}

/// The report of `outcome` on `inst` (of the model file `model`): the MSEs against the
/// truths the instance knows; an error if one of them is not finite.
pub(crate) fn summary(
    model: &str,
    inst: &Instance,
    outcome: &Outcome,
    written: bool,
) -> Result<SolveReport, Error> {
    let c = &outcome.common;
    let known = inst.known_truths();
    if c.mse_layers
        .iter()
        .chain(c.trace.iter().flatten())
        .any(|v| !v.is_finite())
    {
        return Err(Error::NonFinite {
            what: format!("{}'s reported MSE", outcome.algorithm),
            hint: "the estimates overflowed; rescale the model's variances and noises".into(),
        });
    }
    let mut files: Vec<String> = Vec::new();
    if written {
        files = result_files(inst, outcome)
            .into_iter()
            .map(|f| f.0)
            .collect();
        files.push("summary.json".into());
    }
    Ok(SolveReport {
        model: model.to_string(),
        algorithm: outcome.algorithm,
        precision: "f64",
        sizes: inst.sizes.clone(),
        d: inst.d,
        iterations: c.iterations,
        converged: c.converged,
        diverged: c.diverged,
        kept_iteration: c.kept_iteration,
        clamped: outcome.clamped,
        rejected: outcome.rejected,
        interventions: outcome.interventions.as_ref().map(|i| i.iter().sum()),
        interventions_layers: outcome.interventions.clone(),
        damping_reductions: outcome.damping_reductions,
        mse_signal: c.mse_layers.first().copied(),
        mse_layers: c.mse_layers.clone(),
        trace_layers: if known == 0 {
            Vec::new()
        } else {
            c.trace.clone()
        },
        files,
        out: None,
    })
}

/// The report as `summary.json` holds it and `mlamp solve --json` prints it: one JSON object,
/// keys sorted, and a newline.
pub fn summary_json(report: &SolveReport) -> Result<String, Error> {
    let value = serde_json::to_value(report).map_err(|e| Error::invalid("json", e.to_string()))?;
    Ok(format!("{value}\n"))
}

fn create_dir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.display().to_string(),
        source,
    })
}

/// Writes the result files and `summary.json` into `dir` (created if missing).
pub(crate) fn write_results(
    dir: &Path,
    inst: &Instance,
    outcome: &Outcome,
    report: &SolveReport,
) -> Result<(), Error> {
    create_dir(dir)?;
    for (name, shape, values) in result_files(inst, outcome) {
        write_npy(&dir.join(name), &shape, values)?;
    }
    let path = dir.join("summary.json");
    std::fs::write(&path, summary_json(report)?).map_err(|source| Error::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Refuses to save an instance of `model` whose weights are not matrices: `dct` weights are
/// a transform (an `n_out × n_in` file at `n = 10⁶` would take 8 TB), and `solve` on a dense
/// copy would run another algorithm (a dense SVD).
pub(crate) fn check_savable(model: &Model) -> Result<(), Error> {
    if let Some(k) = model
        .layers
        .iter()
        .position(|l| l.weights == (WeightsSpec::Dct {}))
    {
        return Err(Error::invalid(
            format!("layers[{k}].weights"),
            "dct weights are a transform, never a matrix, and --save writes dense weight \
             files (W1.npy, …): use gaussian or spectrum weights to save an instance",
        ));
    }
    Ok(())
}

/// Writes a sampled instance into `dir` (created if missing): `W1.npy`, …, `y.npy`, `x.npy`,
/// `h1.npy`, … (see the module docs).
pub(crate) fn save_instance(dir: &Path, model: &Model, inst: &Instance) -> Result<(), Error> {
    check_savable(model)?;
    create_dir(dir)?;
    let depth = model.depth();
    for (k, w) in inst.weights.iter().enumerate() {
        let shape = [inst.sizes[k + 1], inst.sizes[k]];
        write_npy(&dir.join(format!("W{}.npy", k + 1)), &shape, w)?;
    }
    let p = model.layers[depth - 1].channel.observation_dim(inst.d);
    write_npy(
        &dir.join("y.npy"),
        &[inst.sizes[depth], p],
        inst.observation(),
    )?;
    for (k, h) in inst.layers[..inst.known_truths()].iter().enumerate() {
        let name = format!("{}.npy", variable(k));
        write_npy(&dir.join(name), &[inst.sizes[k], inst.d], h)?;
    }
    Ok(())
}

/// Runs the chosen algorithm of `opts.run` on the data of `opts` with the model file `path`,
/// and writes the results into `opts.out` if given. Checks, in order: the options against
/// the algorithm and the model; each file (format, element type, shape, finite entries);
/// the shapes against the model and each other; the memory the run needs.
pub fn solve_model_file(path: &Path, opts: &SolveOptions) -> Result<SolveReport, Error> {
    let model = Model::from_file(path)?;
    driver(&model, &opts.run)?;
    let data = Data {
        weights: opts
            .weights
            .iter()
            .map(|w| read_matrix(w))
            .collect::<Result<_, _>>()?,
        observation: read_matrix(&opts.observation)?,
        truth: opts
            .truth
            .iter()
            .map(|t| read_matrix(t))
            .collect::<Result<_, _>>()?,
    };
    let solved = solve_data(
        model,
        &path.display().to_string(),
        data,
        &opts.run,
        opts.out,
    )?;
    Ok(solved.report)
}

/// What [`solve_data`] gives: the report, and the estimates with their uncertainty.
#[derive(Clone, Debug, PartialEq)]
pub struct Solved {
    /// The report (`summary.json`'s).
    pub report: SolveReport,
    /// The estimates and their uncertainty.
    pub outcome: Outcome,
    /// `n_0, …, n_L`.
    pub sizes: Vec<usize>,
    /// Columns per row.
    pub d: usize,
}

/// [`solve_model_file`] on data already in memory (`model_name` names the model in the
/// report): the options checked against the algorithm and the model, the data's shapes
/// against the model and each other, the memory; then the run, whose results are written
/// into `out` if given.
pub fn solve_data(
    mut model: Model,
    model_name: &str,
    data: Data,
    run: &RunOptions,
    out: Option<&Path>,
) -> Result<Solved, Error> {
    let mut driver: Driver = driver(&model, run)?;
    let inst = Instance::from_data(&mut model, data)?;
    driver.resolve_linear(&model, inst.sizes[0], run.max_memory);
    memory::check(
        &model,
        inst.sizes[0],
        driver.usage(),
        run.max_memory,
        run.algorithm.name(),
    )?;
    let outcome = execute(&model, &inst, &driver)?;
    let mut report = summary(model_name, &inst, &outcome, out.is_some())?;
    if let Some(dir) = out {
        write_results(dir, &inst, &outcome, &report)?;
        report.out = Some(dir.display().to_string());
    }
    Ok(Solved {
        report,
        outcome,
        sizes: inst.sizes,
        d: inst.d,
    })
}

impl fmt::Display for SolveReport {
    /// The human summary: the model and sizes, the run's status, the MSEs against the truths
    /// given, the files written, and what to change if the run did not converge.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model      {} (L = {}, d = {}, sizes {:?}, {})",
            self.model,
            self.sizes.len() - 1,
            self.d,
            self.sizes,
            self.precision
        )?;
        write!(
            f,
            "{:<10} {} iterations, {}",
            self.algorithm,
            self.iterations,
            status(self.converged, self.diverged, self.kept_iteration)
        )?;
        for (k, e) in self.mse_layers.iter().enumerate() {
            let name = if k == 0 {
                "signal".into()
            } else {
                format!("h_{k}")
            };
            write!(f, "\nMSE {name:<6} {e:.3e}")?;
        }
        if self.mse_layers.is_empty() {
            write!(f, "\nMSE        (no --truth given)")?;
        }
        match &self.out {
            Some(dir) => write!(f, "\nwrote      {} files into {dir}", self.files.len())?,
            None => write!(f, "\nwrote      nothing (--out DIR writes the estimates)")?,
        }
        if let Some(h) = hint(
            self.converged,
            self.diverged,
            self.iterations,
            self.rejected.is_some(),
        ) {
            write!(f, "\nhint       {h}")?;
        }
        Ok(())
    }
}
