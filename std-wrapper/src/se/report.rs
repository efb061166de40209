//! What `mlamp se` reports: both fixed points of a model file's state evolution, the MMSE
//! and the free energies, as a serialisable [`SeReport`].

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::{SeOptions, StateEvolution};
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
    /// Both iterations reached the tolerance.
    pub converged: bool,
    /// Which fixed point is Bayes-optimal: `"informed"` or `"amp"`.
    pub bayes_optimal: &'static str,
    /// Layers of the model (for the summary).
    #[serde(skip)]
    pub depth: usize,
    /// Signal MSE of the informed fixed point (for the summary).
    #[serde(skip)]
    pub mse_signal_informed: f64,
}

/// The state evolution of the model file `path` with the default options.
pub fn se_model_file(path: &Path) -> Result<SeReport, Error> {
    se_model_file_with(path, &SeOptions::default())
}

/// The state evolution of the model file `path` with options `opts`.
pub fn se_model_file_with(path: &Path, opts: &SeOptions) -> Result<SeReport, Error> {
    let m = Model::from_file(path)?;
    let se = StateEvolution::new(&m, *opts)?;
    let a = se.analyse().checked()?;
    Ok(SeReport {
        model: path.display().to_string(),
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
        converged: a.amp.converged && a.informed.converged,
        bayes_optimal: if std::ptr::eq(a.optimal(), &a.informed) {
            "informed"
        } else {
            "amp"
        },
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
        Ok(())
    }
}
