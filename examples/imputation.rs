//! Imputation / matrix completion with a known generative model (section 2.4, eq. 10 of the
//! ML-Mat-VAMP paper): the data matrix `Y0 = W2 ReLU(W1 Z0)` (`N × 4`, `Z0` iid `N(0, 1)`,
//! `W1` `2n × n` and `W2` `N × 2n` iid Gaussian and known, `N = 4n`) is observed on a random
//! set of entries, each with probability `observed`, with noise `N(0, 1e-2)`; the task is the
//! missing entries.
//!
//! For each fraction observed, one instance (seed 1) and the MSE per missing entry of:
//! - `mmse`: ML-Mat-VAMP's MMSE, run column by column (`d = 1`: the prior, the ReLU and the
//!   mask act entry by entry, so the posterior of the matrix is the product of its columns'
//!   and the ReLU's MMSE row estimator is the closed form of `d = 1`);
//! - `map`: ML-Mat-VAMP's MAP on the whole `N × 4` matrix (`d = 4`; eq. 10's minimiser when
//!   it converges, which it does not here: 100 iterations, the kept best iterate);
//! - `se`: the state evolution's prediction for the MMSE run (`d = 1`, `n` rows, 30 iterations,
//!   2·10⁴ Monte-Carlo rows per update), with its standard error;
//! - `zero`, `mean`: zero imputation and the observed column means;
//! - `soft-impute`: Mazumder, Hastie, Tibshirani (2010), `λ` chosen on 20 % of the observed
//!   entries held out, 20 values from the top singular value down to 1e-3 of it.
//!
//! `cargo run --release --example imputation [-- --n 250] [--out FILE.csv]`: prints the table
//! and its run time; with `--out`, one CSV row per fraction.

use std::time::Instant;

use mlamp::algo::vamp::VampOptions;
use mlamp::core::estimator::Estimator;
use mlamp::experiments::imputation::{
    Observed, SoftImputeOptions, data_matrix, impute_by_columns, impute_ml_vamp, mean_imputation,
    mse_missing, soft_impute_cv, zero_imputation,
};
use mlamp::se::vamp::report::model_laws;
use mlamp::se::vamp::{VampSeOptions, vamp_state_evolution};
use mlamp::{Instance, Model};

const D: usize = 4;

/// The model: rows of `d`, the ReLU layer's estimator, the fraction observed.
fn model(d: usize, estimator: &str, observed: f64) -> Model {
    Model::from_toml(&format!(
        "d = {d}\n[prior]\ntype = \"gaussian\"\n\
         [[layers]]\nalpha = 2.0\nchannel = {{ type = \"relu\", noise_var = 0.0 }}\nestimator = \"{estimator}\"\n\
         [[layers]]\nalpha = 2.0\nchannel = {{ type = \"masked\", observed = {observed:?}, noise_var = 1e-2 }}\n"
    ))
    .expect("a valid model")
}

/// The value following `flag` on the command line.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = flag(&args, "--n")
        .and_then(|v| v.parse().ok())
        .unwrap_or(250usize);
    let out = flag(&args, "--out");
    let start = Instant::now();
    let opts = VampOptions {
        max_iter: 300,
        ..VampOptions::default()
    };
    // The MAP runs oscillate without meeting the tolerance (their MSE settles within a few
    // tens of iterations); 100 iterations keep the example's time.
    let map_opts = VampOptions {
        max_iter: 100,
        ..VampOptions::default()
    };
    println!(
        "imputation: Y0 = W2 relu(W1 Z0), Z0 {n} x {D} iid N(0,1), N = {} rows, noise 1e-2; \
         MSE per missing entry",
        4 * n
    );
    println!(
        "{:>8}  {:>10}  {:>10}  {:>19}  {:>10}  {:>10}  {:>11}",
        "observed", "mmse", "map", "se (mmse)", "zero", "mean", "soft-impute"
    );
    let mut csv = String::from(
        "observed,mmse,map,se,se_err,zero,mean,soft_impute,soft_lambda,mmse_converged,map_converged\n",
    );
    for observed in [0.1, 0.2, 0.3, 0.5, 0.7, 0.9] {
        let inst = Instance::sample(&model(D, "map", observed), n, 1).expect("instance");
        let truth = data_matrix(&inst).expect("data matrix");
        let obs = Observed::from_masked_rows(inst.observation(), D).expect("observation");
        let m1 = model(1, "mmse", observed);
        let (z_mmse, runs) = impute_by_columns(&m1, &inst, &opts).expect("MMSE runs");
        let (z_map, map_run) =
            impute_ml_vamp(&model(D, "map", observed), &inst, &map_opts).expect("MAP run");
        let laws = model_laws(&m1, &inst.sizes).expect("laws");
        let se = vamp_state_evolution(
            &m1,
            &laws,
            &VampSeOptions {
                samples: 20_000,
                iterations: 30,
                seed: 1,
                estimator: Some(Estimator::Mmse),
                ..VampSeOptions::default()
            },
        )
        .expect("state evolution");
        let se_last = se
            .iterations
            .last()
            .and_then(|it| it.mse_unobserved)
            .expect("a masked output's prediction");
        let soft = soft_impute_cv(&obs, 0.2, 20, 1, &SoftImputeOptions::default()).expect("soft");
        let row = [
            mse_missing(&z_mmse, &truth, &obs),
            mse_missing(&z_map, &truth, &obs),
            mse_missing(&zero_imputation(&obs), &truth, &obs),
            mse_missing(&mean_imputation(&obs), &truth, &obs),
            mse_missing(&soft.estimate, &truth, &obs),
        ];
        let mmse_conv = runs.iter().all(|r| r.converged);
        println!(
            "{observed:>8.2}  {:>10.3e}  {:>10.3e}  {:>19}  {:>10.3e}  {:>10.3e}  {:>11.3e}{}",
            row[0],
            row[1],
            format!("{:.3e} ± {:.1e}", se_last.value, se_last.se),
            row[2],
            row[3],
            row[4],
            match (mmse_conv, map_run.converged) {
                (true, true) => "",
                (false, true) => "  (mmse not converged)",
                (true, false) => "  (map not converged)",
                (false, false) => "  (neither converged)",
            }
        );
        csv += &format!(
            "{observed},{},{},{},{},{},{},{},{},{mmse_conv},{}\n",
            row[0],
            row[1],
            se_last.value,
            se_last.se,
            row[2],
            row[3],
            row[4],
            soft.lambda,
            map_run.converged
        );
    }
    println!("{:.1} s", start.elapsed().as_secs_f64());
    if let Some(out) = out {
        if let Err(e) = std::fs::write(out, csv) {
            eprintln!("writing {out}: {e}");
            std::process::exit(1);
        }
        println!("wrote {out}");
    }
}
