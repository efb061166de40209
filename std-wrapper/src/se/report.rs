//! What `mlamp se` reports: every distinct fixed point of a model file's state evolution
//! (from all `2^L` starts, ranked by free energy), the MMSE, the algorithmic MSE and the
//! consistency checks' warnings, as a serialisable [`SeReport`].

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::branches::{SeAnalysis, StartCode};
use super::{SeOptions, StateEvolution, checks};
use crate::algo::Progress;
use crate::error::Error;
use crate::model::Model;

/// The state evolution of a model (the JSON of `mlamp se --json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeReport {
    /// The model file.
    pub model: String,
    /// Signal MSE of the uninformative fixed point (what ML-AMP reaches).
    pub mse_signal_amp: f64,
    /// The MMSE of the signal (eq. 17).
    pub mmse_signal: f64,
    /// φ_RS at the uninformative fixed point.
    pub free_energy_amp: f64,
    /// φ_RS at the informed fixed point.
    pub free_energy_informed: f64,
    /// Every variable's MSE at the uninformative fixed point.
    pub mse_layers_amp: Vec<f64>,
    /// Every variable's MSE at the informed fixed point.
    pub mse_layers_informed: Vec<f64>,
    /// Overlaps at the uninformative fixed point.
    pub m_amp: Vec<f64>,
    /// `m̂` at the uninformative fixed point.
    pub m_hat_amp: Vec<f64>,
    /// Second moments ρ of the estimated variables.
    pub rho: Vec<f64>,
    /// Iterations from the uninformative start.
    pub iterations: usize,
    /// Iterations from the informed start.
    pub iterations_informed: usize,
    /// Every branch's representative start reached the tolerance.
    pub converged: bool,
    /// Which fixed point is Bayes-optimal: `"amp"` if the all-uninformative start reaches
    /// it, else `"informed"` if the all-informed one does, else the label of the first start
    /// that does (e.g. `"UI"`, see [`StartCode::label`]).
    pub bayes_optimal: String,
    /// The MMSE of every variable (the optimal branch's MSEs), signal first.
    pub mmse_layers: Vec<f64>,
    /// Every distinct fixed point, lowest free energy first.
    pub branches: Vec<BranchReport>,
    /// Violated consistency checks ([`checks::consistency`]); empty when all hold.
    pub warnings: Vec<String>,
    /// Layers of the model (for the summary).
    #[serde(skip)]
    pub depth: usize,
    /// Signal MSE of the informed fixed point (for the summary).
    #[serde(skip)]
    pub mse_signal_informed: f64,
}

/// One distinct fixed point (an entry of the JSON's `branches`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BranchReport {
    /// Rank by free energy, 1 for the Bayes-optimal one.
    pub rank: usize,
    /// φ_RS (eq. 15).
    pub free_energy: f64,
    /// Every variable's MSE, signal first.
    pub mse_layers: Vec<f64>,
    /// The starts that reach it: one letter per variable, signal first, `U` uninformative,
    /// `I` informed.
    pub starts: Vec<String>,
    /// Iterations of its representative start.
    pub iterations: usize,
    /// Its representative start reached the tolerance.
    pub converged: bool,
}

impl BranchReport {
    /// The report of every branch of `a`, in rank order.
    pub fn all(a: &SeAnalysis) -> Vec<Self> {
        let depth = a.depth();
        a.branches
            .iter()
            .enumerate()
            .map(|(i, b)| Self {
                rank: i + 1,
                free_energy: b.point.free_energy,
                mse_layers: b.point.mse.clone(),
                starts: b.starts.iter().map(|s| s.label(depth)).collect(),
                iterations: b.point.iterations,
                converged: b.point.converged,
            })
            .collect()
    }
}

/// Which branch is Bayes-optimal, as [`SeReport::bayes_optimal`] says.
pub fn bayes_optimal_name(a: &SeAnalysis) -> String {
    let opt = a.optimal_branch();
    if opt.reached_from(StartCode::UNINFORMATIVE) {
        "amp".into()
    } else if opt.reached_from(StartCode::informed(a.depth())) {
        "informed".into()
    } else {
        opt.label(a.depth())
    }
}

/// The state evolution of the model file `path` with the default options.
pub fn se_model_file(path: &Path) -> Result<SeReport, Error> {
    se_model_file_with(path, &SeOptions::default())
}

/// The state evolution of the model file `path` with options `opts`.
pub fn se_model_file_with(path: &Path, opts: &SeOptions) -> Result<SeReport, Error> {
    se_model_file_reporting(path, opts, Progress::default())
}

/// [`se_model_file_with`], telling `progress` of every start that reaches its fixed point
/// ([`StateEvolution::analyse_reporting`]).
pub fn se_model_file_reporting(
    path: &Path,
    opts: &SeOptions,
    progress: Progress<'_>,
) -> Result<SeReport, Error> {
    let m = Model::from_file(path)?;
    se_model_reporting(&m, &path.display().to_string(), opts, progress)
}

/// [`se_model_file_reporting`] of a model already built, named `model_name` in the report.
pub fn se_model_reporting(
    m: &Model,
    model_name: &str,
    opts: &SeOptions,
    progress: Progress<'_>,
) -> Result<SeReport, Error> {
    let se = StateEvolution::new(m, *opts)?;
    let a = se.analyse_reporting(progress).checked()?;
    let warnings = checks::consistency(&se, &a)?;
    Ok(SeReport {
        model: model_name.to_string(),
        mse_signal_amp: a.amp.mse_signal(),
        mmse_signal: a.mmse_signal(),
        free_energy_amp: a.amp.free_energy,
        free_energy_informed: a.informed.free_energy,
        mse_layers_amp: a.amp.mse.clone(),
        mse_layers_informed: a.informed.mse.clone(),
        m_amp: a.amp.m.clone(),
        m_hat_amp: a.amp.m_hat.clone(),
        rho: se.rho()[..m.depth()].to_vec(),
        iterations: a.amp.iterations,
        iterations_informed: a.informed.iterations,
        converged: a.branches.iter().all(|b| b.point.converged),
        bayes_optimal: bayes_optimal_name(&a),
        mmse_layers: a.optimal().mse.clone(),
        branches: BranchReport::all(&a),
        warnings,
        depth: m.depth(),
        mse_signal_informed: a.informed.mse_signal(),
    })
}

impl fmt::Display for SeReport {
    /// The human summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "model          {} (L = {})", self.model, self.depth)?;
        writeln!(
            f,
            "ML-AMP (SE)    signal MSE {:.4e}  ({} iterations)",
            self.mse_signal_amp, self.iterations
        )?;
        writeln!(
            f,
            "informed (SE)  signal MSE {:.4e}",
            self.mse_signal_informed
        )?;
        writeln!(f, "MMSE           {:.4e}", self.mmse_signal)?;
        write!(
            f,
            "free energy    {:.10} (AMP) {:.10} (informed)",
            self.free_energy_amp, self.free_energy_informed
        )?;
        for (k, e) in self.mse_layers_amp.iter().enumerate().skip(1) {
            write!(f, "\nMSE h_{k} (SE)  {e:.4e}")?;
        }
        if self.depth > 1 {
            write!(
                f,
                "\nbranches       {} distinct fixed points from {} starts, lowest free energy \
                 first (starts: U/I per variable, x first)",
                self.branches.len(),
                1usize << self.depth
            )?;
            for b in &self.branches {
                let mses: Vec<String> = b
                    .mse_layers
                    .iter()
                    .enumerate()
                    .map(|(j, e)| format!("{} {e:.4e}", super::branches::variable_name(j)))
                    .collect();
                write!(
                    f,
                    "\n  {}. free energy {:.10}  MSE {}  from {}",
                    b.rank,
                    b.free_energy,
                    mses.join(", "),
                    b.starts.join(" ")
                )?;
            }
        }
        Ok(())
    }
}
