//! Multi-task sparse regression (the ML-Mat-VAMP paper's section 2.1, the MMV problem, and
//! the multi-task LASSO of its eq. 5): `Y = X F + N(0, 1e-4)` with `F` (`p × 4`) row-sparse
//! (each row `N(0, I_4)` with probability ρ = 0.2, else zero), `X` (`alpha·p × p`) iid
//! `N(0, 1/p)`.
//!
//! For each alpha of a grid, one instance is solved four ways:
//! - `joint MMSE`: ML-Mat-VAMP with `d = 4` and the row-sparse prior (which knows that the 4
//!   tasks share their support);
//! - `scalar MMSE`: 4 independent scalar problems, ML-VAMP with `d = 1` on each column with
//!   that column's own law (Gauss–Bernoulli with ρ = 0.2), the mean of their MSEs;
//! - `group LASSO`: the multi-task LASSO `min ½‖Y − X F‖²/Δ + λ Σ_j ‖F_j‖₂` (λ = 3), the MAP
//!   ML-Mat-VAMP of the group-L1 row prior with `d = 4` (its fixed point is that minimiser:
//!   `tests/sparsity_priors_vamp.rs` checks it against FISTA);
//! - `scalar LASSO`: the LASSO with the same λ on each column (the group penalty at `d = 1`).
//!
//! Beside the joint MMSE, its state evolution's prediction (`SE joint`: ML-Mat-VAMP's SE with
//! the model's Marchenko–Pastur law at the run's sizes, 100 iterations of 2·10⁴ Monte-Carlo
//! rows, the uninformative start).
//!
//! The table shows the alpha where the scalar runs fail and the joint prior succeeds — what
//! sharing the support gains — and the same gain for the convex penalties.
//!
//! `cargo run --release --example multitask [-- --n 1000] [--out FILE.csv]`; with `--out`, one
//! CSV row per alpha (the MSEs per entry of F and whether each run converged). At n = 1000 it
//! takes ~20 s of CPU. The scalar LASSO runs below alpha ≈ 0.45 reach the 1000-iteration cap
//! without meeting the tolerance 1e-8 (a slow mode: the MSE still drifts by ~1e-6 an
//! iteration, its third digit settled); the CSV says so per alpha.

use mlamp::algo::vamp::{VampOptions, run_ml_vamp};
use mlamp::se::vamp::report::model_laws;
use mlamp::se::vamp::{VampSeOptions, vamp_state_evolution};
use mlamp::{Instance, Model};

const D: usize = 4;
/// The LASSO weight: λ ≈ √(2/E x²), E x² = 0.2 per entry.
const LAMBDA: f64 = 3.0;

/// The model file of rows of `d` with `prior` (a TOML table body) and the linear channel.
fn model(d: usize, alpha: f64, prior: &str) -> Model {
    Model::from_toml(&format!(
        "d = {d}\n[prior]\n{prior}\n[[layers]]\nalpha = {alpha}\n\
         channel = {{ type = \"linear\", noise_var = 1e-4 }}\n"
    ))
    .expect("a valid model")
}

/// Column `j` of every variable of `inst`: a `d = 1` instance on the same weights.
fn column(inst: &Instance, j: usize) -> Instance {
    Instance {
        d: 1,
        layers: inst
            .layers
            .iter()
            .map(|h| h.chunks_exact(D).map(|r| r[j]).collect())
            .collect(),
        ..inst.clone()
    }
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
        .unwrap_or(1000usize);
    let out = flag(&args, "--out");
    let opts = VampOptions {
        max_iter: 300,
        ..VampOptions::default()
    };
    let lasso_opts = VampOptions {
        max_iter: 1000,
        tol: 1e-8,
        ..VampOptions::default()
    };
    let row_sparse = "type = \"row-sparse\"\nrho = 0.2";
    let gauss_bernoulli = "type = \"gauss-bernoulli\"\nrho = 0.2";
    let group_l1 = format!("type = \"group-l1\"\nlambda = {LAMBDA:?}");
    let laplace = format!("type = \"laplace\"\nlambda = {LAMBDA:?}\nestimator = \"map\"");
    println!(
        "multi-task sparse regression, d = {D}, rho = 0.2, noise 1e-4, p = {n} rows, lambda = {LAMBDA}"
    );
    println!(
        "{:>6}  {:>12}  {:>12}  {:>12}  {:>7}  {:>12}  {:>12}  {:>7}",
        "alpha",
        "joint MMSE",
        "SE joint",
        "scalar MMSE",
        "gain",
        "group LASSO",
        "scalar LASSO",
        "gain"
    );
    let mut csv = String::from(
        "alpha,joint_mmse,se_joint_mmse,scalar_mmse,group_lasso,scalar_lasso,\
         joint_converged,scalar_converged,group_converged,scalar_lasso_converged\n",
    );
    let mut found = None;
    for k in 0..=10 {
        let alpha = 0.2 + 0.03 * k as f64;
        let inst = Instance::sample(&model(D, alpha, row_sparse), n, 7).expect("instance");
        // (MSE, converged) of the joint run and the mean over the 4 columns' runs.
        let joint = |prior: &str, opts: &VampOptions| {
            let r = run_ml_vamp(&model(D, alpha, prior), &inst, opts).expect("joint run");
            (r.mse_signal(), r.converged)
        };
        let scalar = |prior: &str, opts: &VampOptions| {
            (0..D).fold((0.0, true), |(mse, conv), j| {
                let r = run_ml_vamp(&model(1, alpha, prior), &column(&inst, j), opts)
                    .expect("scalar run");
                (mse + r.mse_signal() / D as f64, conv && r.converged)
            })
        };
        let (jm, jc) = joint(row_sparse, &opts);
        let joint_model = model(D, alpha, row_sparse);
        let laws = joint_model
            .sizes(n)
            .and_then(|sizes| model_laws(&joint_model, &sizes))
            .expect("the laws");
        let se_opts = VampSeOptions {
            samples: 20_000,
            iterations: 100,
            seed: 1,
            ..VampSeOptions::default()
        };
        let se = vamp_state_evolution(&joint_model, &laws, &se_opts).expect("the SE");
        let sj = se.iterations.last().expect("an iteration").mse_layers[0].value;
        let (sm, sc) = scalar(gauss_bernoulli, &opts);
        let (gm, gc) = joint(&group_l1, &lasso_opts);
        let (lm, lc) = scalar(&laplace, &lasso_opts);
        println!(
            "{alpha:>6.2}  {jm:>12.3e}  {sj:>12.3e}  {sm:>12.3e}  {:>7.1}  {gm:>12.3e}  {lm:>12.3e}  {:>7.1}",
            sm / jm,
            lm / gm
        );
        csv += &format!("{alpha},{jm},{sj},{sm},{gm},{lm},{jc},{sc},{gc},{lc}\n");
        if found.is_none() && jm < 1e-3 && sm > 1e-2 {
            found = Some((alpha, jm, sm));
        }
    }
    match found {
        Some((alpha, jm, sm)) => println!(
            "at alpha = {alpha:.2} the 4 scalar runs fail (MSE {sm:.2e}) and the joint \
             row-sparse prior recovers F (MSE {jm:.2e})"
        ),
        None => println!("no alpha of the grid separates the two"),
    }
    if let Some(out) = out {
        if let Err(e) = std::fs::write(out, csv) {
            eprintln!("writing {out}: {e}");
            std::process::exit(1);
        }
        println!("wrote {out}");
    }
}
