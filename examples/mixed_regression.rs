//! Mixed linear regression (the ML-Mat-VAMP paper's eq. 6, `d = 2`):
//! `y_i = q_i x_iᵀf₁ + (1 − q_i) x_iᵀf₂ + ξ_i`, `q_i ~ Bernoulli(π)`, `ξ_i ~ N(0, Δ)`, with
//! `π = 0.3`, `Δ = 0.01`, `F = [f₁ f₂]` (`p × 2`) iid `N(0, 1)` and `N = alpha·p` samples
//! `x_i` iid `N(0, I/p)` (the model file `d = 2`, `gaussian` prior, one layer with the
//! `mixed-linear` output).
//!
//! For each alpha of a grid and each seed, on the same instance:
//! - `VAMP`: ML-Mat-VAMP with the closed-form MMSE row estimator of the output (300
//!   iterations at most);
//! - `EM`: EM for a mixture of two linear regressions (`mlamp::mixed_regression::em`), given
//!   the same `π`, `Δ` and Gaussian prior (its M-step is the ridge of that prior: it climbs
//!   the posterior of `F` with the labels marginalised), from 2 random starts (drawn from the
//!   prior) and the spectral start of Yi, Caramanis and Sanghavi, the best log-posterior
//!   kept, 200 iterations at most;
//! - `EM from truth`: the same EM started at the true `F` — not an estimator (it is told the
//!   answer), but the local maximum of the posterior nearest the truth: the error the EM
//!   baseline would have if its starts found the right basin;
//! - `SE`: the state evolution of ML-Mat-VAMP (Theorem 1 of the paper) for the same sizes,
//!   once per alpha (2·10⁴ Monte-Carlo rows, 100 iterations), with its standard error.
//!
//! MSEs are per entry of `F`, up to the label swap (`mse_up_to_swap`), averaged over the seeds
//! (± their standard error). The prior alone gives 1.
//!
//! `cargo run --release --example mixed_regression [-- --p 200] [--seeds 4] [--out FILE.csv]`;
//! with `--out`, one CSV row per alpha and seed.

use mlamp::algo::vamp::{VampOptions, run_ml_vamp};
use mlamp::mixed_regression::em::{EmOptions, em, em_from};
use mlamp::mixed_regression::{MixedRegression, mse_up_to_swap};
use mlamp::se::vamp::report::model_laws;
use mlamp::se::vamp::{VampSeOptions, vamp_state_evolution};
use mlamp::{Instance, Model};
use rayon::prelude::*;

const PI: f64 = 0.3;
const NOISE_VAR: f64 = 0.01;
const ALPHAS: [f64; 7] = [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0];
/// EM's random starts (besides the spectral one) and iterations per start.
const EM_STARTS: usize = 2;
const EM_ITER: usize = 200;

/// The model file at `alpha`.
fn model(alpha: f64) -> Model {
    Model::from_toml(&format!(
        "d = 2\n[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = {alpha:?}\n\
         channel = {{ type = \"mixed-linear\", pi = {PI:?}, noise_var = {NOISE_VAR:?} }}\n\
         estimator = \"mmse\"\n"
    ))
    .expect("a valid model")
}

/// The value following `flag` on the command line.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

/// Mean and standard error of the mean.
fn mean_sem(v: &[f64]) -> (f64, f64) {
    let k = v.len() as f64;
    let mean = v.iter().sum::<f64>() / k;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0).max(1.0);
    (mean, (var / k).sqrt())
}

/// What one seed gives at one alpha.
struct Seed {
    seed: u64,
    vamp: f64,
    vamp_converged: bool,
    vamp_iterations: usize,
    em: f64,
    em_log_posterior: f64,
    em_best_start: usize,
    em_converged_starts: usize,
    oracle: f64,
    oracle_log_posterior: f64,
}

/// ML-Mat-VAMP, EM and EM from the truth on the instance of `seed`.
fn one_seed(m: &Model, p: usize, seed: u64, vamp_opts: &VampOptions) -> Seed {
    let inst = Instance::sample(m, p, seed).expect("instance");
    let truth = inst.signal();
    let r = run_ml_vamp(m, &inst, vamp_opts).expect("ML-Mat-VAMP");
    let problem = MixedRegression::of_instance(m, &inst, 1.0).expect("EM problem");
    let em_opts = EmOptions {
        starts: EM_STARTS,
        max_iter: EM_ITER,
        seed,
        ..EmOptions::default()
    };
    let e = em(&problem, &em_opts).expect("EM");
    let oracle = em_from(&problem, truth, EM_ITER, em_opts.tol).expect("EM from the truth");
    Seed {
        seed,
        vamp: mse_up_to_swap(&r.estimates[0], truth).expect("VAMP MSE"),
        vamp_converged: r.converged,
        vamp_iterations: r.iterations,
        em: mse_up_to_swap(&e.best.estimate, truth).expect("EM MSE"),
        em_log_posterior: e.best.log_posterior,
        em_best_start: e.best_start,
        em_converged_starts: e.converged_starts,
        oracle: mse_up_to_swap(&oracle.estimate, truth).expect("oracle MSE"),
        oracle_log_posterior: oracle.log_posterior,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let p: usize = flag(&args, "--p")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seeds: u64 = flag(&args, "--seeds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let out = flag(&args, "--out");
    let vamp_opts = VampOptions {
        max_iter: 300,
        ..VampOptions::default()
    };
    let se_opts = VampSeOptions {
        samples: 20_000,
        iterations: 100,
        seed: 1,
        ..VampSeOptions::default()
    };
    println!(
        "mixed linear regression, d = 2, pi = {PI}, noise {NOISE_VAR}, p = {p} rows of F, \
         {seeds} seeds; MSE per entry of F up to the label swap"
    );
    println!(
        "{:>5}  {:>16}  {:>16}  {:>16}  {:>16}  {:>9}",
        "alpha", "SE", "ML-Mat-VAMP", "EM", "EM from truth", "VAMP conv"
    );
    let mut csv = String::from(
        "alpha,seed,se_mse,se_stderr,vamp_mse,vamp_converged,vamp_iterations,\
         em_mse,em_log_posterior,em_best_start,em_converged_starts,oracle_em_mse,oracle_em_log_posterior\n",
    );
    for alpha in ALPHAS {
        let m = model(alpha);
        let laws = model_laws(&m, &m.sizes(p).expect("sizes")).expect("laws");
        let se = vamp_state_evolution(&m, &laws, &se_opts).expect("state evolution");
        let se_last = se.iterations.last().expect("an iteration").mse_layers[0];
        // Each seed's runs, in parallel; collected in seed order.
        let runs: Vec<Seed> = (1..=seeds)
            .into_par_iter()
            .map(|seed| one_seed(&m, p, seed, &vamp_opts))
            .collect();
        for r in &runs {
            csv += &format!(
                "{alpha},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                r.seed,
                se_last.value,
                se_last.se,
                r.vamp,
                r.vamp_converged,
                r.vamp_iterations,
                r.em,
                r.em_log_posterior,
                r.em_best_start,
                r.em_converged_starts,
                r.oracle,
                r.oracle_log_posterior
            );
        }
        let stat = |f: fn(&Seed) -> f64| mean_sem(&runs.iter().map(f).collect::<Vec<_>>());
        let cell = |(m, s): (f64, f64)| format!("{m:>7.4} ± {s:<6.4}");
        let conv = runs.iter().filter(|r| r.vamp_converged).count();
        println!(
            "{alpha:>5.1}  {}  {}  {}  {}  {conv:>5}/{seeds}",
            cell((se_last.value, se_last.se)),
            cell(stat(|r| r.vamp)),
            cell(stat(|r| r.em)),
            cell(stat(|r| r.oracle)),
        );
    }
    if let Some(out) = out {
        if let Err(e) = std::fs::write(out, csv) {
            eprintln!("writing {out}: {e}");
            std::process::exit(1);
        }
        println!("wrote {out}");
    }
}
