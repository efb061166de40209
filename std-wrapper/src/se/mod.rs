//! The state evolutions: ML-Mat-VAMP's ([`vamp`], Theorem 1 of Pandit et al., over the
//! singular-value laws of [`spectral_law`]) and, in this file, ML-AMP's with its replica free
//! energy (ML-AMP paper (Manoel, Krzakala, Mézard, Zdeborová, *Multi-layer generalized linear estimation*),
//! eqs. 11–17), by deterministic quadrature.
//!
//! # Indexing
//! Our variables are `h_0 = x, h_1, …, h_{L−1}` (signal first) and `h_L = y`; our layer `k`
//! maps `h_k` to `h_{k+1}` with `α_k = n_{k+1}/n_k`. The paper's variable `h^(ℓ)` is our
//! `h_{L−ℓ}` and its factor `ℓ` our layer `L − ℓ`. Per variable `j < L` the order parameters
//! are the overlap `m_j` (eq. 10) and `m̂_j`, around which its `A` concentrates.
//!
//! # One iteration (eqs. 11 and 13)
//! From `m(t)`: `m̂_{L−1} = α_{L−1} E g_out²` at `V = ρ_{L−1} − m_{L−1}`, then for
//! `k = L−2, …, 0`: `m̂_k = α_k E g_k²` with the hidden function of layer `k` at
//! `(m̂_{k+1}, b, ρ_k − m_k, w)`; then `m_0(t+1) = E x̂(m̂_0, b)²` and
//! `m_{k+1}(t+1) = E ĥ_{k+1}²` from the same hidden averages. (At the Bayes-optimal point
//! `E g² = −E ∂g` and `E ĥ² = E h ĥ`, the forms printed in the paper.)
//!
//! # Free energy (eq. 15)
//! With `ñ_j = n_j / n_0` (the paper's `α̃`):
//! `φ = ½ Σ_j ñ_j m_j m̂_j − I_prior(m̂_0) − Σ_{k<L−1} ñ_{k+1} I_k(m_k, m̂_{k+1}) − ñ_L I_out(m_{L−1})`,
//! each `I` the average of a `log Z` (see `mlamp_core::se`). It equals
//! `−(1/n_0) E log P(y)` at the fixed point of lowest φ (eq. 16), whose signal MSE is the
//! MMSE (eq. 17).
//!
//! # Every fixed point ([`branches`])
//! A multi-layer model can have fixed points where some variables are recovered and others
//! not (the decoder of eq. 20 below the perceptron's α_IT: `h_1` known, `x` not), which
//! neither the all-uninformative nor the all-informed start reaches. [`StateEvolution::analyse`]
//! starts from all `2^L` combinations of the two per variable, merges the fixed points they
//! reach and ranks them by φ; [`checks`] holds the consistency checks the ranking must pass.

pub mod branches;
pub mod checks;
pub mod iteration;
mod report;
pub mod spectral_law;
pub mod vamp;

pub use branches::{Branch, SeAnalysis, StartCode};
pub use report::{
    BranchReport, SeReport, se_model_file, se_model_file_reporting, se_model_file_with,
    se_model_reporting,
};

use mlamp_core::channel::Channel;
use mlamp_core::quadrature::GaussHermite;
use mlamp_core::se::{SeQuadrature, SeTerms};

use crate::error::Error;
use crate::model::Model;

/// The overlaps are kept below `(1 − MIN_RELATIVE_MSE) ρ`: at `m = ρ` exactly a noiseless
/// channel's averages degenerate (its law given `w` becomes a step and `E g²`, which grows
/// like `1/√V`, evaluates to 0), so perfect recovery is represented by a relative MSE of
/// 1e-12, where the iteration stops.
pub const MIN_RELATIVE_MSE: f64 = 1e-12;

/// Gauss–Hermite points of the state evolution's rule.
pub const SE_HERMITE_POINTS: usize = 32;

/// Where the iteration starts, per variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// `m_j = (E h_j)² + 1e-6 ρ_j`: what an algorithm initialised from the prior knows.
    Uninformative,
    /// `m_j = (1 − 1e-6) ρ_j`: next to the ground truth.
    Informed,
}

/// Options of the state evolution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeOptions {
    /// Most sweeps (the Newton steps' included).
    pub max_iter: usize,
    /// Converged when every `m_j` is estimated within `tol · (ρ_j − m_j)` of its fixed point
    /// (a plain step over one minus its contraction rate), or a plain step changes it by at
    /// most [`iteration::FLOOR`]` · ρ_j` (the sweep's rounding): relative to the current
    /// MSE, because near perfect recovery φ depends on log MSE (an absolute tolerance stops
    /// the informed branch at noise 1e-12 a factor 100 above its fixed point).
    pub tol: f64,
}

impl Default for SeOptions {
    /// 20 000 iterations, tolerance 1e-8 of the MSE.
    fn default() -> Self {
        Self {
            max_iter: 20_000,
            tol: 1e-8,
        }
    }
}

/// A fixed point of the state evolution.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedPoint {
    /// Overlaps `m_j`, signal first.
    pub m: Vec<f64>,
    /// `m̂_j`, signal first.
    pub m_hat: Vec<f64>,
    /// MSE of each variable, `ρ_j − m_j`, signal first.
    pub mse: Vec<f64>,
    /// φ_RS at this point (eq. 15).
    pub free_energy: f64,
    /// Sweeps run (each evaluates every layer's averages once: plain iterations and the
    /// sweeps of the Newton steps, [`iteration`]); 0 for a start that
    /// [`StateEvolution::analyse`] did not iterate because the all-uninformative start's fixed
    /// point is provably its own.
    pub iterations: usize,
    /// The tolerance was reached.
    pub converged: bool,
    /// An overlap, `m̂` or the free energy became NaN or infinite (the iteration stopped at
    /// the last finite overlaps); never reported as converged.
    pub diverged: bool,
}

impl FixedPoint {
    /// MSE of the signal.
    pub fn mse_signal(&self) -> f64 {
        self.mse[0]
    }
}

/// The state evolution of one model.
pub struct StateEvolution<'m> {
    model: &'m Model,
    alphas: Vec<f64>,
    rho: Vec<f64>,
    mean: Vec<f64>,
    gh: GaussHermite<f64, SE_HERMITE_POINTS>,
    opts: SeOptions,
}

impl<'m> StateEvolution<'m> {
    /// The state evolution of `model` (the second moments ρ_j of every layer are computed
    /// from the prior and channels).
    pub fn new(model: &'m Model, opts: SeOptions) -> Result<Self, Error> {
        model.check_ml_amp()?;
        if opts.max_iter == 0 || opts.tol.is_nan() || opts.tol < 0.0 {
            return Err(Error::invalid(
                "se options",
                "max_iter >= 1 and tol >= 0 are needed",
            ));
        }
        if model.depth() > branches::MAX_DEPTH {
            return Err(Error::invalid(
                "layers",
                format!(
                    "the state evolution's starts are informed/uninformative \
                     combinations of the layers: at most {} layers (the model has {})",
                    branches::MAX_DEPTH,
                    model.depth()
                ),
            ));
        }
        let moments = model.moments()?;
        Ok(Self {
            model,
            alphas: model.layers.iter().map(|l| l.alpha).collect(),
            rho: moments.iter().map(|m| m.second).collect(),
            mean: moments.iter().map(|m| m.mean).collect(),
            gh: GaussHermite::new(),
            opts,
        })
    }

    /// The same state evolution with the alpha of layer `k` (0-based) set to `alpha`.
    pub fn with_alpha(&self, k: usize, alpha: f64) -> Result<Self, Error> {
        if k >= self.alphas.len() {
            return Err(Error::invalid("layer", "not a layer of the model"));
        }
        crate::model::check_alpha("alpha", alpha)?;
        let mut alphas = self.alphas.clone();
        alphas[k] = alpha;
        Ok(Self {
            model: self.model,
            alphas,
            rho: self.rho.clone(),
            mean: self.mean.clone(),
            gh: self.gh.clone(),
            opts: self.opts,
        })
    }

    /// The state evolution of the first `k` layers alone (`1 ≤ k ≤ L`): the model whose
    /// observation is `h_k`, i.e. the later layers observed noiselessly (for the
    /// data-processing bound of [`checks`]). An error if layer `k − 1`'s channel cannot
    /// produce an observation (a ReLU without noise has no density: the same refusal as a
    /// model file with that last layer).
    pub fn truncated(&self, k: usize) -> Result<Self, Error> {
        if k == 0 || k > self.alphas.len() {
            return Err(Error::invalid(
                "layers",
                format!("a truncation keeps 1..={} layers", self.alphas.len()),
            ));
        }
        self.model.layers[k - 1]
            .channel
            .check_as_output()
            .map_err(|e| Error::at(&format!("layers[{}].channel", k - 1), e))?;
        Ok(Self {
            model: self.model,
            alphas: self.alphas[..k].to_vec(),
            rho: self.rho[..=k].to_vec(),
            mean: self.mean[..=k].to_vec(),
            gh: self.gh.clone(),
            opts: self.opts,
        })
    }

    /// Layers `L` (the number of estimated variables `h_0, …, h_{L−1}`).
    pub fn depth(&self) -> usize {
        self.alphas.len()
    }

    /// The layers' alphas.
    pub fn alphas(&self) -> &[f64] {
        &self.alphas
    }

    /// Second moments ρ_j of `h_0, …, h_L`.
    pub fn rho(&self) -> &[f64] {
        &self.rho
    }

    /// `ñ_j = n_j / n_0` for `j = 0, …, L`.
    fn sizes(&self) -> Vec<f64> {
        let mut n = vec![1.0];
        for a in &self.alphas {
            n.push(n.last().unwrap() * a);
        }
        n
    }

    /// The layers' averages at `m` (overlaps of `h_0, …, h_{L−1}`): returns `m̂` and, per
    /// layer, the channel terms (index `k` for layer `k`), plus the prior's terms at `m̂_0`.
    /// Layer `k`'s ML-AMP channel ([`Model::check_ml_amp`] made sure it has one).
    fn channel(&self, k: usize) -> &'m dyn Channel<f64> {
        match self.model.layers[k].channel.amp() {
            Some(c) => c,
            None => unreachable!("StateEvolution::new checked every channel's ML-AMP form"),
        }
    }

    fn sweep(&self, m: &[f64]) -> (Vec<f64>, Vec<SeTerms<f64>>, SeTerms<f64>) {
        let depth = self.alphas.len();
        let q = SeQuadrature::new(self.gh.rule());
        let mut m_hat = vec![0.0; depth];
        let mut terms = vec![SeTerms::default(); depth];
        for k in (0..depth).rev() {
            let ch = self.channel(k);
            terms[k] = if k + 1 == depth {
                ch.se_output(self.rho[k], m[k], &q)
            } else {
                ch.se_hidden(self.rho[k], m[k], m_hat[k + 1], &q)
            };
            m_hat[k] = self.alphas[k] * terms[k].hat;
        }
        let prior = self.model.prior.se(m_hat[0], &q);
        (m_hat, terms, prior)
    }

    /// φ_RS (eq. 15) at `m`, with `m̂ = m̂(m)` from one sweep (the paper's φ_RS(m)); also
    /// returns the `m̂` and the new overlaps.
    pub fn free_energy_at(&self, m: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
        let (m_hat, terms, prior) = self.sweep(m);
        let n = self.sizes();
        let mut phi = -prior.log_z;
        for j in 0..m.len() {
            phi += 0.5 * n[j] * m[j] * m_hat[j];
        }
        for (k, t) in terms.iter().enumerate() {
            phi -= n[k + 1] * t.log_z;
        }
        let next = Self::overlaps(&prior, &terms);
        (phi, m_hat, next)
    }

    /// The new overlaps `m_0 = E x̂²` (the prior's) and `m_{k+1} = E ĥ_{k+1}²` (layer k's).
    fn overlaps(prior: &SeTerms<f64>, terms: &[SeTerms<f64>]) -> Vec<f64> {
        let mut next = vec![prior.overlap];
        next.extend(terms[..terms.len() - 1].iter().map(|t| t.overlap));
        next
    }

    /// Iterates from `start` (the same for every variable) to a fixed point.
    pub fn fixed_point(&self, start: Start) -> FixedPoint {
        self.fixed_point_from(&vec![start; self.alphas.len()])
    }

    /// Iterates from `start` (one entry per variable `h_0, …, h_{L−1}`; missing entries are
    /// uninformative) to a fixed point.
    pub fn fixed_point_from(&self, start: &[Start]) -> FixedPoint {
        let depth = self.alphas.len();
        let m: Vec<f64> = (0..depth)
            .map(
                |j| match start.get(j).copied().unwrap_or(Start::Uninformative) {
                    Start::Uninformative => self.uninformative_overlap(j),
                    Start::Informed => self.informed_overlap(j),
                },
            )
            .collect();
        self.iterate_from(m)
    }

    /// `m_j` of the uninformative start: `(E h_j)² + 1e-6 ρ_j`.
    pub(crate) fn uninformative_overlap(&self, j: usize) -> f64 {
        self.mean[j] * self.mean[j] + 1e-6 * self.rho[j]
    }

    /// `m_j` of the informed start: `(1 − 1e-6) ρ_j`.
    pub(crate) fn informed_overlap(&self, j: usize) -> f64 {
        (1.0 - 1e-6) * self.rho[j]
    }

    /// Iterates from the overlaps `m` (one per variable, signal first; e.g. the fixed point of
    /// the same model at a neighbouring alpha, to follow a branch along a scan), each clamped
    /// between the uninformative and the informed start's, to a fixed point. A missing or
    /// non-finite entry starts uninformative; entries beyond the model's depth are ignored.
    pub fn fixed_point_from_overlaps(&self, m: &[f64]) -> FixedPoint {
        let m = (0..self.alphas.len())
            .map(|j| {
                let (lo, hi) = (self.uninformative_overlap(j), self.informed_overlap(j));
                m.get(j)
                    .filter(|v| v.is_finite())
                    .map_or(lo, |&v| v.clamp(lo, hi))
            })
            .collect();
        self.iterate_from(m)
    }

    /// The iteration of [`Self::fixed_point_from`] from the overlaps `m` ([`iteration`]: the
    /// stopping rule and the Newton steps where the plain iteration is slow).
    fn iterate_from(&self, m: Vec<f64>) -> FixedPoint {
        let run = iteration::iterate(&self.rho[..self.alphas.len()], m, self.opts, |m| {
            let (_, terms, prior) = self.sweep(m);
            Self::overlaps(&prior, &terms)
        });
        let (m, iterations, converged, mut diverged) =
            (run.m, run.sweeps, run.converged, run.diverged);
        let (free_energy, m_hat, _) = self.free_energy_at(&m);
        let mse: Vec<f64> = m
            .iter()
            .zip(&self.rho)
            .map(|(a, r)| (r - a).max(0.0))
            .collect();
        diverged |= !free_energy.is_finite() || m_hat.iter().chain(&mse).any(|v| !v.is_finite());
        FixedPoint {
            m,
            m_hat,
            mse,
            free_energy,
            iterations,
            converged: converged && !diverged,
            diverged,
        }
    }
}
