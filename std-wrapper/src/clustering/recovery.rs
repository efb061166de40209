//! Centroids from a sketch alone: ML-Mat-VAMP (Algorithm 1 of Pandit, Sahraee-Ardakan,
//! Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*) on the
//! model of their section 2.2 — signal `F` (`p × d`, a Gaussian prior on its rows), the
//! frequencies `X` as the weights, `Z = X F`, the `sketch` output
//! `y_i = Σ_j α_j e^{√−1 z_ij} + ξ_i` with its MAP row estimator — from several starts, the
//! one with the lowest sketch residual kept.
//!
//! The weights `α` are known, or estimated (the issue's "α known or estimated by
//! non-negative least squares between passes"): the first pass runs with the starting `α`
//! (`1/d` each unless given), then `α` is refitted by [`super::sketch::nnls_weights`] on the
//! kept centroids and ML-Mat-VAMP re-run from the kept iterate's whole state (its messages,
//! precisions and estimates: a warm start) with the new `α`, until `α` moves less than
//! [`RecoveryOptions::alpha_tol`] or [`RecoveryOptions::alpha_passes`] re-runs are done.

use mlamp_core::estimator::Estimator;
use mlamp_core::mat::Precision;
use mlamp_core::ml_vamp::{LayerState, MlVamp};

use super::check_matrix;
use super::sketch::nnls_weights;
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
    /// Estimate `α`: after the first pass (which starts from `alpha`), refit it by
    /// non-negative least squares on the kept centroids and re-run, warm-started, with it
    /// (see the module docs); `false`: `alpha` is known.
    pub estimate_alpha: bool,
    /// The most re-runs with a refitted `α` (each at most `max_iter` iterations).
    pub alpha_passes: usize,
    /// The refits stop when no weight moves by more than this (absolute).
    pub alpha_tol: f64,
}

impl Default for RecoveryOptions {
    /// Up to 8 runs of at most 60 iterations, stopping at the first that converges;
    /// tolerance 1e-10, damping 0.8, `Δ = 1e-2`, prior variance 1, equal weights, seed 0;
    /// `α` known (when estimated: at most 40 re-runs, until no weight moves by 1e-4).
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
            estimate_alpha: false,
            alpha_passes: 40,
            alpha_tol: 1e-4,
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

/// One re-run of [`recover`] with a refitted `α` (estimated weights only).
#[derive(Clone, Debug, PartialEq)]
pub struct AlphaPass {
    /// The `α` refitted on the centroids of the pass before, with which this pass ran.
    pub alpha: Vec<f64>,
    /// `max_j |α_j − α_j^{before}|`.
    pub change: f64,
    /// The run from the previous pass's kept iterate (`iterations` 0 if `α` had stopped
    /// moving: no re-run).
    pub run: Run,
}

/// What [`recover`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// `F̂`, `p × d` row-major (column `j` the centroid `j`): the iterate of lowest residual
    /// over all runs of the first pass, or of the last re-run if `α` is estimated.
    pub f: Vec<f64>,
    /// Its sketch residual `Σ_i |y_i − Σ_j α_j e^{√−1 x_iᵀ f̂_j}|²` (with [`Recovery::alpha`]).
    pub residual: f64,
    /// The weights `F̂` was found with: the given (or `1/d`) ones, or the last refit.
    pub alpha: Vec<f64>,
    /// Every run of the first pass, in order.
    pub runs: Vec<Run>,
    /// The re-runs with refitted weights, in order (empty if `α` is known).
    pub alpha_passes: Vec<AlphaPass>,
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
/// negative, or all 0), `noise_var`, `prior_var`, `restarts`, `alpha_tol` (estimated `α`:
/// finite, `≥ 0`), and the options of the run; `sketch` if every run's first iteration is
/// NaN or infinite (no iterate to keep).
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
    if opts.estimate_alpha && !(opts.alpha_tol.is_finite() && opts.alpha_tol >= 0.0) {
        return Err(Error::invalid("alpha_tol", "must be finite and >= 0"));
    }
    let model = sketch_model(&alpha, n, p, opts)?;
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
                $($d => passes::<$d>(model, &inst, &svds, alpha, opts),)*
                _ => unreachable!("d checked above"),
            }
        };
    }
    dispatch!(1, 2, 3, 4, 5, 6, 7, 8)
}

/// The model of the recovery: `d` columns, a Gaussian prior of variance `prior_var`, `n`
/// frequencies on `p` rows, the MAP `sketch` output with weights `alpha`.
fn sketch_model(alpha: &[f64], n: usize, p: usize, opts: &RecoveryOptions) -> Result<Model, Error> {
    let alpha_list = alpha
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    Model::from_toml(&format!(
        "d = {}\n[prior]\ntype = \"gaussian\"\nvar = {:?}\n[[layers]]\nalpha = {:?}\n\
         channel = {{ type = \"sketch\", alpha = [{alpha_list}], noise_var = {:?} }}\n\
         estimator = \"map\"\n",
        alpha.len(),
        opts.prior_var,
        n as f64 / p as f64,
        opts.noise_var
    ))
}

/// A copy of one variable's iteration state (a warm start's source).
#[derive(Clone)]
struct VariableCopy<const D: usize> {
    plus: (Vec<f64>, Precision<f64, D>),
    minus: (Vec<f64>, Precision<f64, D>),
    estimate: Vec<f64>,
    estimate_minus: Vec<f64>,
    interventions: usize,
    fresh: [bool; 2],
}

/// A copy of every layer's iteration state: [`save`] it from one run, [`restore`] it into
/// the state of a run of another model of the same shapes (the next `α`).
type StateCopy<const D: usize> = Vec<([VariableCopy<D>; 2], Vec<f64>)>;

fn save<const D: usize>(state: &[LayerState<'_, f64, D>]) -> StateCopy<D> {
    let var = |v: &mlamp_core::ml_vamp::VariableState<'_, f64, D>| VariableCopy {
        plus: (v.plus.r.to_vec(), v.plus.gamma),
        minus: (v.minus.r.to_vec(), v.minus.gamma),
        estimate: v.estimate.to_vec(),
        estimate_minus: v.estimate_minus.to_vec(),
        interventions: v.interventions,
        fresh: v.fresh,
    };
    state
        .iter()
        .map(|s| ([var(&s.input), var(&s.pre)], s.workspace.to_vec()))
        .collect()
}

fn restore<const D: usize>(copy: &StateCopy<D>, state: &mut [LayerState<'_, f64, D>]) {
    for (s, (vars, workspace)) in state.iter_mut().zip(copy) {
        for (v, c) in [&mut s.input, &mut s.pre].into_iter().zip(vars) {
            v.plus.r.copy_from_slice(&c.plus.0);
            v.plus.gamma = c.plus.1;
            v.minus.r.copy_from_slice(&c.minus.0);
            v.minus.gamma = c.minus.1;
            v.estimate.copy_from_slice(&c.estimate);
            v.estimate_minus.copy_from_slice(&c.estimate_minus);
            v.interventions = c.interventions;
            v.fresh = c.fresh;
        }
        s.workspace.copy_from_slice(workspace);
    }
}

/// The first pass (every start, `alpha` as given) and, if `α` is estimated, the re-runs.
fn passes<const D: usize>(
    model: Model,
    inst: &Instance,
    svds: &[crate::linalg::operator::WeightOperator],
    mut alpha: Vec<f64>,
    opts: &RecoveryOptions,
) -> Result<Recovery, Error> {
    let (x, y, p) = (&inst.weights[0], inst.observation(), inst.sizes[0]);
    let n = x.len() / p;
    let mut best: Option<Kept<D>> = None;
    let mut runs = Vec::with_capacity(opts.restarts);
    for k in 0..opts.restarts {
        let (kept, run) = with_ml_vamp::<D, _>(
            &model,
            inst,
            svds,
            Some(Estimator::Map),
            |vamp, state, _| {
                if k > 0 {
                    // The forward message of a Gaussian prior is the prior whatever it is told, so
                    // a start enters where the data does: the backward message on `Z = X F`,
                    // `X F₀` for random `F₀` (iid `N(0, prior_var)`), of precision `I/ρ_z`, `ρ_z`
                    // the prior's second moment of an entry of `Z`. The first forward pass
                    // combines it with the prior, the first backward pass replaces it.
                    let mut rng = stream(opts.seed, k);
                    let sd = opts.prior_var.sqrt();
                    let f0: Vec<f64> = (0..p * D).map(|_| sd * normal(&mut rng)).collect();
                    let rho_z = opts.prior_var * x.iter().map(|v| v * v).sum::<f64>() / n as f64;
                    let pre = &mut state[0].pre;
                    for (zi, xi) in pre.minus.r.chunks_exact_mut(D).zip(x.chunks_exact(p)) {
                        for (j, zij) in zi.iter_mut().enumerate() {
                            *zij = (0..p).map(|l| xi[l] * f0[l * D + j]).sum();
                        }
                    }
                    pre.minus.gamma = Precision::identity_scaled(1.0 / rho_z)?;
                }
                iterate(vamp, state, x, y, p, &alpha, opts)
            },
        )?;
        let converged = run.converged;
        if let Some(kept) = kept
            && best.as_ref().is_none_or(|b| kept.residual < b.residual)
        {
            best = Some(kept);
        }
        runs.push(run);
        if converged && opts.until_converged {
            break;
        }
    }
    let mut best = best.ok_or_else(|| {
        Error::invalid(
            "sketch",
            "every run of ML-Mat-VAMP became NaN or infinite at its first iteration",
        )
    })?;
    let mut alpha_passes = Vec::new();
    if opts.estimate_alpha {
        for _ in 0..opts.alpha_passes {
            let fitted = nnls_weights(x, y, &best.f, p, D)?;
            if !fitted.iter().any(|&a| a > 0.0) {
                // No centroid explains the sketch: keep the weights the centroids came from.
                break;
            }
            let change = fitted
                .iter()
                .zip(&alpha)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            alpha = fitted;
            if change <= opts.alpha_tol {
                best.residual = residual(x, y, &best.f, &alpha, p);
                alpha_passes.push(AlphaPass {
                    alpha: alpha.clone(),
                    change,
                    run: Run {
                        iterations: 0,
                        converged: true,
                        residual: best.residual,
                    },
                });
                break;
            }
            let model = sketch_model(&alpha, n, p, opts)?;
            let (kept, run) = with_ml_vamp::<D, _>(
                &model,
                inst,
                svds,
                Some(Estimator::Map),
                |vamp, state, _| {
                    restore(&best.state, state);
                    iterate(vamp, state, x, y, p, &alpha, opts)
                },
            )?;
            alpha_passes.push(AlphaPass {
                alpha: alpha.clone(),
                change,
                run,
            });
            match kept {
                Some(kept) => best = kept,
                None => break,
            }
        }
    }
    Ok(Recovery {
        f: best.f,
        residual: best.residual,
        alpha,
        runs,
        alpha_passes,
    })
}

/// The iterate of a run with the lowest residual, and the state that produced it.
struct Kept<const D: usize> {
    f: Vec<f64>,
    residual: f64,
    state: StateCopy<D>,
}

/// One run of at most `opts.max_iter` iterations from `state` as it is: the iterate of lowest
/// residual (under `alpha`) with its state (`None` if the first iteration is not finite).
fn iterate<const D: usize>(
    vamp: &MlVamp<'_, f64, D>,
    state: &mut [LayerState<'_, f64, D>],
    x: &[f64],
    y: &[f64],
    p: usize,
    alpha: &[f64],
    opts: &RecoveryOptions,
) -> Result<(Option<Kept<D>>, Run), Error> {
    let mut kept: Option<Kept<D>> = None;
    let (mut iterations, mut converged) = (0, false);
    for t in 1..=opts.max_iter {
        iterations = t;
        let rep = vamp.step_with(state, opts.damping, &ParallelRows)?;
        if !rep.finite {
            break;
        }
        let f = &*state[0].input.estimate;
        let res = residual(x, y, f, alpha, p);
        if kept.as_ref().is_none_or(|k| res < k.residual) {
            kept = Some(Kept {
                f: f.to_vec(),
                residual: res,
                state: save(state),
            });
        }
        if t > 1 && rep.change < opts.tol {
            converged = true;
            break;
        }
    }
    let run = Run {
        iterations,
        converged,
        residual: kept.as_ref().map_or(f64::INFINITY, |k| k.residual),
    };
    Ok((kept, run))
}
