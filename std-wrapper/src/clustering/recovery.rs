//! Centroids from a sketch alone: ML-Mat-VAMP (Algorithm 1 of Pandit, Sahraee-Ardakan,
//! Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*) on the
//! model of their section 2.2 — signal `F` (`p × d`, a Gaussian prior on its rows), the
//! frequencies `X` as the weights, `Z = X F`, the `sketch` output
//! `y_i = Σ_j α_j e^{√−1 z_ij} + ξ_i` with its MAP row estimator — from several starts, the
//! one with the lowest sketch residual kept.

use mlamp_core::estimator::Estimator;
use mlamp_core::mat::Precision;

use super::check_matrix;
use crate::algo::parallel_rows::ParallelRows;
use crate::algo::vamp::{decompositions, with_ml_vamp};
use crate::error::Error;
use crate::instance::Instance;
use crate::model::Model;
use crate::streams::{normal, stream};

/// Settings of [`recover`].
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveryOptions {
    /// Runs of ML-Mat-VAMP: the first from the uninformative start (`R = 0`), each other
    /// from a random backward message on `Z = X F₀` (`F₀` iid `N(0, prior_var)`).
    pub restarts: usize,
    /// Iterations per run.
    pub max_iter: usize,
    /// A run stops when the relative change of `F̂` falls below this.
    pub tol: f64,
    /// Damping of the messages (1 = none).
    pub damping: f64,
    /// `Δ` of the output (per real and imaginary part).
    pub noise_var: f64,
    /// Variance of each entry of `F` under the prior (the centroids' spread per coordinate).
    pub prior_var: f64,
    /// `α` (`d` weights); `None`: `1/d` each.
    pub alpha: Option<Vec<f64>>,
    /// Seed of the random starts.
    pub seed: u64,
    /// Stop at the first run that converges (else run all `restarts`).
    pub until_converged: bool,
}

impl Default for RecoveryOptions {
    /// Up to 8 runs of at most 60 iterations, stopping at the first that converges;
    /// tolerance 1e-10, damping 0.8, `Δ = 1e-2`, prior variance 1, equal weights, seed 0.
    fn default() -> Self {
        Self {
            restarts: 8,
            max_iter: 60,
            tol: 1e-10,
            damping: 0.8,
            noise_var: 1e-2,
            prior_var: 1.0,
            alpha: None,
            seed: 0,
            until_converged: true,
        }
    }
}

/// One run of [`recover`].
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Iterations run.
    pub iterations: usize,
    /// The tolerance was reached.
    pub converged: bool,
    /// The lowest sketch residual of its iterates (the one kept).
    pub residual: f64,
}

/// What [`recover`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// `F̂`, `p × d` row-major (column `j` the centroid `j`): the iterate of lowest residual
    /// over all runs.
    pub f: Vec<f64>,
    /// Its sketch residual `Σ_i |y_i − Σ_j α_j e^{√−1 x_iᵀ f̂_j}|²`.
    pub residual: f64,
    /// Every run, in order.
    pub runs: Vec<Run>,
}

/// The sketch residual `Σ_i |y_i − Σ_j α_j e^{√−1 x_iᵀ f_j}|²` of the centroids `f`
/// (`p × d`) for the frequencies `x` (`n × p`) and the sketch `y` (`n × 2`).
pub fn residual(x: &[f64], y: &[f64], f: &[f64], alpha: &[f64], p: usize) -> f64 {
    let d = alpha.len();
    let mut z = vec![0.0; d];
    x.chunks_exact(p)
        .zip(y.chunks_exact(2))
        .map(|(xi, yi)| {
            for (j, zj) in z.iter_mut().enumerate() {
                *zj = (0..p).map(|k| xi[k] * f[k * d + j]).sum();
            }
            let (re, im) = mlamp_core::channel::phasor_sum(alpha, &z);
            (yi[0] - re).powi(2) + (yi[1] - im).powi(2)
        })
        .sum()
}

/// The centroids (`F`, `p × d`) from the frequencies `x` (`n × p`) and the sketch `y`
/// (`n × 2`, real and imaginary parts) alone (see the module docs). The runs and their
/// starts are fixed by `opts.seed`; every run's bits are independent of the thread count.
///
/// Errors ([`Error::Invalid`], naming the field): `frequencies` or `sketch` of the wrong
/// shape or with non-finite entries, `d` outside `1..=8`, `alpha` without `d` entries (or
/// negative, or all 0), `noise_var`, `prior_var`, `restarts`, and the options of the run.
pub fn recover(
    x: &[f64],
    y: &[f64],
    p: usize,
    d: usize,
    opts: &RecoveryOptions,
) -> Result<Recovery, Error> {
    if !(1..=8).contains(&d) {
        return Err(Error::invalid("d", format!("must be 1..=8, got {d}")));
    }
    if p == 0 {
        return Err(Error::invalid("p", "must be at least 1"));
    }
    let n = x.len() / p;
    check_matrix("frequencies", x, n, p)?;
    check_matrix("sketch", y, n, 2)?;
    if opts.restarts == 0 {
        return Err(Error::invalid("restarts", "must be at least 1"));
    }
    let alpha = match &opts.alpha {
        Some(a) if a.len() != d => {
            return Err(Error::invalid(
                "alpha",
                format!("must have d = {d} entries (has {})", a.len()),
            ));
        }
        Some(a) => a.clone(),
        None => vec![1.0 / d as f64; d],
    };
    let alpha_list = alpha
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let model = Model::from_toml(&format!(
        "d = {d}\n[prior]\ntype = \"gaussian\"\nvar = {:?}\n[[layers]]\nalpha = {:?}\n\
         channel = {{ type = \"sketch\", alpha = [{alpha_list}], noise_var = {:?} }}\n\
         estimator = \"map\"\n",
        opts.prior_var,
        n as f64 / p as f64,
        opts.noise_var
    ))?;
    let inst = Instance {
        sizes: vec![p, n],
        d,
        weights: vec![x.to_vec()],
        factors: vec![None],
        layers: vec![vec![0.0; p * d], y.to_vec()],
    };
    inst.check_against(&model)?;
    let svds = decompositions(&inst)?;
    macro_rules! dispatch {
        ($($d:literal),*) => {
            match d {
                $($d => runs::<$d>(&model, &inst, &svds, &alpha, opts),)*
                _ => unreachable!("d checked above"),
            }
        };
    }
    dispatch!(1, 2, 3, 4, 5, 6, 7, 8)
}

fn runs<const D: usize>(
    model: &Model,
    inst: &Instance,
    svds: &[crate::linalg::operator::WeightOperator],
    alpha: &[f64],
    opts: &RecoveryOptions,
) -> Result<Recovery, Error> {
    let (x, y, p) = (&inst.weights[0], inst.observation(), inst.sizes[0]);
    let mut best: Option<(Vec<f64>, f64)> = None;
    let mut runs = Vec::with_capacity(opts.restarts);
    for k in 0..opts.restarts {
        let run =
            with_ml_vamp::<D, _>(model, inst, svds, Some(Estimator::Map), |vamp, state, _| {
                if k > 0 {
                    // The forward message of a Gaussian prior is the prior whatever it is told, so
                    // a start enters where the data does: the backward message on `Z = X F`,
                    // `X F₀` for random `F₀` (iid `N(0, prior_var)`), of precision `I/ρ_z`, `ρ_z`
                    // the prior's second moment of an entry of `Z`. The first forward pass
                    // combines it with the prior, the first backward pass replaces it.
                    let mut rng = stream(opts.seed, k);
                    let sd = opts.prior_var.sqrt();
                    let f0: Vec<f64> = (0..p * D).map(|_| sd * normal(&mut rng)).collect();
                    let rho_z = opts.prior_var * x.iter().map(|v| v * v).sum::<f64>()
                        / (x.len() / p) as f64;
                    let pre = &mut state[0].pre;
                    for (zi, xi) in pre.minus.r.chunks_exact_mut(D).zip(x.chunks_exact(p)) {
                        for (j, zij) in zi.iter_mut().enumerate() {
                            *zij = (0..p).map(|l| xi[l] * f0[l * D + j]).sum();
                        }
                    }
                    pre.minus.gamma = Precision::identity_scaled(1.0 / rho_z)?;
                }
                let mut kept: (Vec<f64>, f64) = (state[0].input.estimate.to_vec(), f64::INFINITY);
                let (mut iterations, mut converged) = (0, false);
                for t in 1..=opts.max_iter {
                    iterations = t;
                    let rep = vamp.step_with(state, opts.damping, &ParallelRows)?;
                    if !rep.finite {
                        break;
                    }
                    let f = &*state[0].input.estimate;
                    let res = residual(x, y, f, alpha, p);
                    if res < kept.1 {
                        kept = (f.to_vec(), res);
                    }
                    if t > 1 && rep.change < opts.tol {
                        converged = true;
                        break;
                    }
                }
                Ok((kept, iterations, converged))
            })?;
        let ((f, res), iterations, converged) = run;
        runs.push(Run {
            iterations,
            converged,
            residual: res,
        });
        if best.as_ref().is_none_or(|(_, b)| res < *b) {
            best = Some((f, res));
        }
        if converged && opts.until_converged {
            break;
        }
    }
    let (f, residual) = best.expect("at least one run");
    Ok(Recovery { f, residual, runs })
}
