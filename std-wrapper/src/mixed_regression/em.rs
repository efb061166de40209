//! The baseline of mixed linear regression: EM for a mixture of two linear regressions
//! (Dempster, Laird, Rubin, *Maximum likelihood from incomplete data via the EM algorithm*,
//! 1977; the mixture of regressions of De Veaux, *Mixtures of linear regressions*, 1989),
//! here for the posterior mode of `F` with `q` marginalised (MAP-EM), given the model's `π`,
//! `Δ` and prior `σ²`: the same knowledge ML-Mat-VAMP is given.
//!
//! With `F⁽ᵗ⁾` the current regressors, one iteration is
//!
//! - **E-step**: the responsibility of `f₁` for sample `i`,
//!   `w_i = π e^{−(y_i − x_iᵀf₁)²/(2Δ)} / [π e^{−(y_i − x_iᵀf₁)²/(2Δ)} + (1 − π) e^{−(y_i − x_iᵀf₂)²/(2Δ)}]`,
//!   computed from the log-weights (the larger one factored out), so that a sample far from
//!   both regressors gets a finite responsibility;
//! - **M-step**: each regressor by weighted ridge regression, the ridge being the Gaussian
//!   prior's (`f_k ~ N(0, σ² I)`):
//!   `f₁ = (Xᵀ W X + (Δ/σ²) I)⁻¹ Xᵀ W y`, `f₂` the same with `I − W`, `W = diag(w)`
//!   (the maximiser of `E_q[ln P(y, q | F)] − ‖F‖²/(2σ²)`; a Cholesky solve, faer).
//!
//! The log-posterior [`MixedRegression::log_posterior`] never decreases (the EM inequality,
//! which holds for a MAP objective because the prior term is maximised exactly in the
//! M-step). Iterations stop when it rises by at most `tol · max(1, |L|)`. EM finds a local
//! maximum: [`em`] runs it from several random starts (`F` drawn from the prior) and keeps
//! the one of largest log-posterior.

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::Solve;
use faer::{Accum, Mat, Par, Side};
use rayon::prelude::*;

use super::{MixedRegression, row_products};
use crate::error::Error;
use crate::streams::{normal, stream};

/// Options of [`em`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmOptions {
    /// Random starts (`F` drawn from the prior, start `s` from stream `s` of `seed`).
    pub starts: usize,
    /// Iterations per start at most.
    pub max_iter: usize,
    /// Relative rise of the log-posterior below which a start has converged.
    pub tol: f64,
    /// The seed of the starts.
    pub seed: u64,
    /// Also run EM from the spectral start ([`super::spectral`]; needs `p ≥ 2`), whose
    /// random starts in the plane come from stream `starts` of `seed`.
    pub spectral_start: bool,
}

impl Default for EmOptions {
    /// 10 random starts and the spectral one, 500 iterations, tolerance 1e-10, seed 0.
    fn default() -> Self {
        Self {
            starts: 10,
            max_iter: 500,
            tol: 1e-10,
            seed: 0,
            spectral_start: true,
        }
    }
}

/// One EM run from one start.
#[derive(Clone, Debug, PartialEq)]
pub struct EmRun {
    /// The last iterate `F`, `p × 2` row-major.
    pub estimate: Vec<f64>,
    /// Its log-posterior ([`MixedRegression::log_posterior`]).
    pub log_posterior: f64,
    /// The log-posterior of the start and after each iteration.
    pub trace: Vec<f64>,
    /// Iterations run.
    pub iterations: usize,
    /// The rise of the log-posterior fell below the tolerance.
    pub converged: bool,
}

/// What [`em`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct EmResult {
    /// The run of largest log-posterior (the first of equals).
    pub best: EmRun,
    /// Its start's index (`starts` for the spectral start).
    pub best_start: usize,
    /// How many starts converged.
    pub converged_starts: usize,
    /// The final log-posterior of every start, in order (the spectral one last).
    pub log_posteriors: Vec<f64>,
}

/// EM from `opts.starts` random starts and, if asked and `p ≥ 2`, the spectral start (in
/// parallel; the result does not depend on the number of threads), keeping the best
/// log-posterior.
///
/// Errors: those of [`MixedRegression::check`]; [`Error::Invalid`] naming `starts` if there
/// is no start at all, `max_iter` or `tol` if 0 (or not finite and positive), and those of
/// [`em_from`].
pub fn em(problem: &MixedRegression, opts: &EmOptions) -> Result<EmResult, Error> {
    problem.check()?;
    let spectral = opts.spectral_start && problem.p >= 2;
    let total = opts.starts + usize::from(spectral);
    if total == 0 {
        return Err(Error::invalid("starts", "at least one start"));
    }
    let x = design(problem);
    let runs = (0..total)
        .into_par_iter()
        .map(|s| {
            let start: Vec<f64> = if s == opts.starts {
                super::spectral::spectral_start(problem, opts.seed, s)
            } else {
                let mut rng = stream(opts.seed, s);
                let sd = problem.prior_var.sqrt();
                (0..2 * problem.p).map(|_| sd * normal(&mut rng)).collect()
            };
            run(problem, &x, &start, opts.max_iter, opts.tol)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let log_posteriors: Vec<f64> = runs.iter().map(|r| r.log_posterior).collect();
    let converged_starts = runs.iter().filter(|r| r.converged).count();
    let best_start = (0..runs.len())
        .reduce(|a, b| {
            if log_posteriors[b] > log_posteriors[a] {
                b
            } else {
                a
            }
        })
        .expect("at least one start");
    let best = runs.into_iter().nth(best_start).expect("the best start");
    Ok(EmResult {
        best,
        best_start,
        converged_starts,
        log_posteriors,
    })
}

/// EM from the regressors `start` (`p × 2` row-major), at most `max_iter` iterations.
///
/// Errors: those of [`MixedRegression::check`]; a `start` of the wrong shape or not finite;
/// [`Error::Invalid`] naming `max_iter` if 0, `tol` unless finite and `> 0`; naming
/// `noise_var` if an M-step's normal equations are not numerically positive definite (a
/// ridge `Δ/σ²` below the rounding of `XᵀWX`).
pub fn em_from(
    problem: &MixedRegression,
    start: &[f64],
    max_iter: usize,
    tol: f64,
) -> Result<EmRun, Error> {
    problem.check()?;
    run(problem, &design(problem), start, max_iter, tol)
}

/// `X` as a faer matrix (`N × p`) and its Gram matrix `XᵀX`, formed once per problem.
struct Design {
    x: Mat<f64>,
    gram: Mat<f64>,
}

/// The [`Design`] of a checked problem.
fn design(problem: &MixedRegression) -> Design {
    let p = problem.p;
    let x = Mat::from_fn(problem.y.len(), p, |i, j| problem.x[i * p + j]);
    let mut gram = Mat::<f64>::zeros(p, p);
    matmul(
        gram.as_mut(),
        Accum::Replace,
        x.transpose(),
        x.as_ref(),
        1.0,
        Par::Seq,
    );
    Design { x, gram }
}

/// [`em_from`] on a checked problem of design `x`.
fn run(
    problem: &MixedRegression,
    x: &Design,
    start: &[f64],
    max_iter: usize,
    tol: f64,
) -> Result<EmRun, Error> {
    problem.check_f(start)?;
    if max_iter == 0 {
        return Err(Error::invalid("max_iter", "at least one iteration"));
    }
    if !(tol.is_finite() && tol > 0.0) {
        return Err(Error::invalid(
            "tol",
            format!("must be finite and > 0, got {tol}"),
        ));
    }
    let n = problem.y.len();
    let mut f = start.to_vec();
    let mut w = vec![0.0; n];
    let mut l = e_step(problem, &f, &mut w);
    let mut trace = vec![l];
    let mut scratch = Scratch {
        weighted: Mat::<f64>::zeros(n, problem.p),
        gram: [0, 1].map(|_| Mat::<f64>::zeros(problem.p, problem.p)),
    };
    let mut converged = false;
    let mut iterations = 0;
    while iterations < max_iter {
        iterations += 1;
        let cols = m_step(problem, x, &w, &mut scratch)?;
        for (k, col) in cols.iter().enumerate() {
            for (row, v) in f.chunks_exact_mut(2).zip(col) {
                row[k] = *v;
            }
        }
        let next = e_step(problem, &f, &mut w);
        trace.push(next);
        let rise = next - l;
        l = next;
        if rise <= tol * l.abs().max(1.0) {
            converged = true;
            break;
        }
    }
    Ok(EmRun {
        estimate: f,
        log_posterior: l,
        trace,
        iterations,
        converged,
    })
}

/// The responsibilities of `f₁` into `w` and the log-posterior of `f`.
fn e_step(problem: &MixedRegression, f: &[f64], w: &mut [f64]) -> f64 {
    let mut sum = 0.0;
    for ((row, &y), wi) in problem.x.chunks_exact(problem.p).zip(problem.y).zip(w) {
        let (z0, z1) = row_products(row, f);
        let c = problem.log_components(y, z0, z1);
        *wi = c.w0;
        sum += c.log_sum;
    }
    sum - f.iter().map(|v| v * v).sum::<f64>() / (2.0 * problem.prior_var)
}

/// The M-step's buffers: `√W X` (`N × p`) and the two Gram matrices (`p × p`).
struct Scratch {
    weighted: Mat<f64>,
    gram: [Mat<f64>; 2],
}

/// Both regressors of the M-step: `f_k = (Xᵀ W_k X + (Δ/σ²) I)⁻¹ Xᵀ W_k y`, `W₀ = diag(w)`,
/// `W₁ = I − W₀`. `XᵀW₀X` is one product (of `√W₀ X` with itself, symmetric by
/// construction), `XᵀW₁X = XᵀX − XᵀW₀X` (the subtraction's rounding, `ε‖XᵀX‖`, is far below
/// any ridge the checks allow).
fn m_step(
    problem: &MixedRegression,
    x: &Design,
    w: &[f64],
    scratch: &mut Scratch,
) -> Result<[Vec<f64>; 2], Error> {
    let (n, p) = (problem.y.len(), problem.p);
    for j in 0..p {
        for (i, wi) in w.iter().enumerate() {
            scratch.weighted[(i, j)] = wi.sqrt() * x.x[(i, j)];
        }
    }
    let [g0, g1] = &mut scratch.gram;
    matmul(
        g0.as_mut(),
        Accum::Replace,
        scratch.weighted.transpose(),
        scratch.weighted.as_ref(),
        1.0,
        Par::Seq,
    );
    let ridge = problem.noise_var / problem.prior_var;
    for j in 0..p {
        for i in 0..p {
            g1[(i, j)] = x.gram[(i, j)] - g0[(i, j)];
        }
        g0[(j, j)] += ridge;
        g1[(j, j)] += ridge;
    }
    let mut rhs = Mat::<f64>::zeros(p, 2);
    for j in 0..p {
        let col = x.x.col(j);
        let (mut a, mut b) = (0.0, 0.0);
        for i in 0..n {
            let xy = col[i] * problem.y[i];
            a += w[i] * xy;
            b += (1.0 - w[i]) * xy;
        }
        rhs[(j, 0)] = a;
        rhs[(j, 1)] = b;
    }
    let solve = |g: &Mat<f64>, k: usize| -> Result<Vec<f64>, Error> {
        let llt = g.llt(Side::Lower).map_err(|_| {
            Error::invalid(
                "noise_var",
                "the M-step's normal equations are not numerically positive definite \
                 (the ridge Δ/σ² is below the rounding of XᵀWX)",
            )
        })?;
        let mut b = rhs.col(k).to_owned();
        llt.solve_in_place(b.as_mat_mut());
        Ok(b.iter().copied().collect())
    };
    Ok([solve(g0, 0)?, solve(g1, 1)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `N × p` inputs iid `N(0, 1/p)`, regressors iid `N(0, 1)`, sample `i` following `f₁`
    /// when `i` is not a multiple of `period` (a known label pattern), noise `√Δ N(0, 1)`.
    fn data(
        n: usize,
        p: usize,
        period: usize,
        delta: f64,
        seed: u64,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut rng = stream(seed, 0);
        let x: Vec<f64> = (0..n * p)
            .map(|_| normal(&mut rng) / (p as f64).sqrt())
            .collect();
        let f: Vec<f64> = (0..2 * p).map(|_| normal(&mut rng)).collect();
        let y = x
            .chunks_exact(p)
            .enumerate()
            .map(|(i, row)| {
                let (z0, z1) = row_products(row, &f);
                let z = if i % period == 0 { z1 } else { z0 };
                z + delta.sqrt() * normal(&mut rng)
            })
            .collect();
        (x, f, y)
    }

    #[test]
    fn noiseless_well_separated_data_is_recovered() {
        // N = 8p, a third of the samples on f₂, no noise in the data; the model's Δ = 1e-8
        // and σ² = 1 put a ridge of 1e-8 on each M-step. Expected: F itself, to the ridge's
        // bias (≈ Δ/σ² · ‖(XᵀWX)⁻¹‖ ‖f‖ ≲ 1e-7), up to the label swap. At so small a Δ the
        // responsibilities are hard from the first step and most random starts stop at a
        // local maximum (measured: 3 of these 20 reach the truth), hence 20 starts.
        let (n, p) = (320, 40);
        let (x, f, y) = data(n, p, 3, 0.0, 11);
        let m = MixedRegression {
            x: &x,
            y: &y,
            p,
            pi: 2.0 / 3.0,
            noise_var: 1e-8,
            prior_var: 1.0,
        };
        let opts = EmOptions {
            starts: 20,
            spectral_start: false,
            ..EmOptions::default()
        };
        let r = em(&m, &opts).unwrap();
        let mse = super::super::mse_up_to_swap(&r.best.estimate, &f).unwrap();
        assert!(r.best.converged, "{} iterations", r.best.iterations);
        assert!(mse < 1e-12, "MSE {mse}");
        // The truth's log-posterior is not above the optimum found (EM reached the global one).
        let truth = m.log_posterior(&f).unwrap();
        assert!(
            r.best.log_posterior >= truth - 1e-6 * truth.abs(),
            "{} vs {truth}",
            r.best.log_posterior
        );
    }

    #[test]
    fn the_log_posterior_never_decreases() {
        // Noisy data where the runs take many iterations; every step of every start may only
        // rise, up to rounding (1e-12 relative).
        let (n, p) = (200, 40);
        let (x, _, y) = data(n, p, 2, 0.05, 5);
        let m = MixedRegression {
            x: &x,
            y: &y,
            p,
            pi: 0.5,
            noise_var: 0.05,
            prior_var: 1.0,
        };
        let mut steps = 0;
        for s in 0..4 {
            let mut rng = stream(100, s);
            let start: Vec<f64> = (0..2 * p).map(|_| normal(&mut rng)).collect();
            let r = em_from(&m, &start, 200, 1e-13).unwrap();
            for w in r.trace.windows(2) {
                assert!(
                    w[1] >= w[0] - 1e-12 * w[0].abs(),
                    "start {s}: {} -> {}",
                    w[0],
                    w[1]
                );
            }
            // Each trace entry is the log-posterior of an iterate; the last one's is reported.
            assert_eq!(r.log_posterior, *r.trace.last().unwrap());
            assert!(
                (m.log_posterior(&r.estimate).unwrap() - r.log_posterior).abs()
                    < 1e-9 * r.log_posterior.abs()
            );
            steps += r.trace.len() - 1;
        }
        assert!(steps > 20, "only {steps} steps: the check saw too little");
    }

    #[test]
    fn the_m_step_is_the_weighted_ridge_solution() {
        // One iteration from a start, against the normal equations solved by nalgebra
        // (an independent dense solve) with the responsibilities written out.
        let (n, p) = (30, 4);
        let (x, _, y) = data(n, p, 2, 0.1, 3);
        let m = MixedRegression {
            x: &x,
            y: &y,
            p,
            pi: 0.4,
            noise_var: 0.1,
            prior_var: 2.0,
        };
        let start: Vec<f64> = (0..2 * p).map(|j| 0.1 * j as f64 - 0.3).collect();
        let r = em_from(&m, &start, 1, 1e-10).unwrap();
        let xm = nalgebra::DMatrix::from_row_slice(n, p, &x);
        let ym = nalgebra::DVector::from_column_slice(&y);
        let s = nalgebra::DMatrix::from_row_slice(p, 2, &start);
        let z = &xm * &s;
        let w0: Vec<f64> = (0..n)
            .map(|i| {
                let a = 0.4 * (-(y[i] - z[(i, 0)]).powi(2) / 0.2).exp();
                let b = 0.6 * (-(y[i] - z[(i, 1)]).powi(2) / 0.2).exp();
                a / (a + b)
            })
            .collect();
        for k in 0..2 {
            let wk = nalgebra::DVector::from_fn(n, |i, _| if k == 0 { w0[i] } else { 1.0 - w0[i] });
            let wx = nalgebra::DMatrix::from_fn(n, p, |i, j| wk[i] * xm[(i, j)]);
            let a = xm.transpose() * &wx + nalgebra::DMatrix::identity(p, p) * (0.1 / 2.0);
            let b = wx.transpose() * &ym;
            let fk = a.lu().solve(&b).unwrap();
            for j in 0..p {
                assert!((r.estimate[2 * j + k] - fk[j]).abs() < 1e-12, "k {k} j {j}");
            }
        }
    }

    #[test]
    fn options_and_starts_are_checked() {
        let (x, _, y) = data(10, 2, 2, 0.1, 1);
        let m = MixedRegression {
            x: &x,
            y: &y,
            p: 2,
            pi: 0.5,
            noise_var: 0.1,
            prior_var: 1.0,
        };
        let err = |r: Result<EmRun, Error>| r.unwrap_err().to_string();
        assert!(err(em_from(&m, &[0.0; 4], 0, 1e-9)).contains("max_iter"));
        assert!(err(em_from(&m, &[0.0; 4], 5, 0.0)).contains("tol"));
        assert!(err(em_from(&m, &[0.0; 3], 5, 1e-9)).contains("F"));
        assert!(
            em(
                &m,
                &EmOptions {
                    starts: 0,
                    spectral_start: false,
                    ..EmOptions::default()
                }
            )
            .unwrap_err()
            .to_string()
            .contains("starts")
        );
        assert!(
            err(em_from(
                &MixedRegression { pi: 1.0, ..m },
                &[0.0; 4],
                5,
                1e-9
            ))
            .contains("pi")
        );
        // Responses far from every regressor: finite responsibilities and estimates.
        let y_far: Vec<f64> = y.iter().map(|v| v * 1e6).collect();
        let r = em_from(&MixedRegression { y: &y_far, ..m }, &[0.0; 4], 20, 1e-9).unwrap();
        assert!(r.estimate.iter().all(|v| v.is_finite()) && r.log_posterior.is_finite());
    }

    #[test]
    fn the_spectral_start_finds_the_plane_and_em_the_regressors() {
        // N = 20p, π = 0.3, Δ = 0.01: the spectral start alone is informative (measured MSE
        // 0.45, where the prior's mean 0 has 1), and EM from it alone reaches the error of the
        // noise: least squares with the labels known (f₁ from πN samples, f₂ from (1 − π)N,
        // noise Δ, inputs of covariance I/p; the mean of a Wishart inverse) has MSE
        // ½ Δ p (1/(πN − p − 1) + 1/((1 − π)N − p − 1)) = 1.39e-3; EM, which must infer the
        // labels, within a factor 2 of it (measured 1.93e-3).
        let (n, p) = (800, 40);
        let mut rng = stream(9, 0);
        let x: Vec<f64> = (0..n * p)
            .map(|_| normal(&mut rng) / (p as f64).sqrt())
            .collect();
        let f: Vec<f64> = (0..2 * p).map(|_| normal(&mut rng)).collect();
        let y: Vec<f64> = x
            .chunks_exact(p)
            .map(|row| {
                let (z0, z1) = row_products(row, &f);
                let z = if rand_distr::Distribution::<f64>::sample(
                    &rand_distr::StandardUniform,
                    &mut rng,
                ) < 0.3
                {
                    z0
                } else {
                    z1
                };
                z + 0.1 * normal(&mut rng)
            })
            .collect();
        let m = MixedRegression {
            x: &x,
            y: &y,
            p,
            pi: 0.3,
            noise_var: 0.01,
            prior_var: 1.0,
        };
        let start = super::super::spectral::spectral_start(&m, 1, 0);
        let start_mse = super::super::mse_up_to_swap(&start, &f).unwrap();
        let r = em(
            &m,
            &EmOptions {
                starts: 0,
                ..EmOptions::default()
            },
        )
        .unwrap();
        let mse = super::super::mse_up_to_swap(&r.best.estimate, &f).unwrap();
        assert!(start_mse < 0.6, "start MSE {start_mse}");
        let oracle = 0.5 * 0.01 * 40.0 * (1.0 / (240.0 - 41.0) + 1.0 / (560.0 - 41.0));
        assert!(
            mse > 0.5 * oracle && mse < 2.0 * oracle,
            "EM MSE {mse}, oracle {oracle}"
        );
    }

    #[test]
    fn same_seed_same_bits() {
        let (x, _, y) = data(60, 5, 3, 0.05, 2);
        let m = MixedRegression {
            x: &x,
            y: &y,
            p: 5,
            pi: 0.6,
            noise_var: 0.05,
            prior_var: 1.0,
        };
        let opts = EmOptions {
            starts: 6,
            ..EmOptions::default()
        };
        let a = em(&m, &opts).unwrap();
        let b = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| em(&m, &opts).unwrap());
        assert_eq!(a, b);
        assert_eq!(
            a.best.log_posterior,
            a.log_posteriors.iter().cloned().fold(f64::MIN, f64::max)
        );
    }
}
