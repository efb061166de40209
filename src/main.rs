//! The `mlamp` command-line tool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mlamp::core::ml_amp::VarianceMode;
use mlamp::{AmpOptions, Error, Instance, Model, run_ml_amp};
use serde_json::json;

/// Inference in multi-layer generalized linear models by approximate message passing.
#[derive(Parser)]
#[command(name = "mlamp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sample an instance of a model and run ML-AMP on it.
    Run {
        /// The model file (TOML; schema in the README).
        model: PathBuf,
        /// Entries of the signal.
        #[arg(long, default_value_t = 2000)]
        n: usize,
        /// Seed of the instance.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Most iterations.
        #[arg(long, default_value_t = AmpOptions::default().max_iter)]
        iters: usize,
        /// Damping in (0, 1] (1 = none).
        #[arg(long, default_value_t = AmpOptions::default().damping)]
        damping: f64,
        /// Replace the W∘W products by their iid mean (cheaper; iid weights only).
        #[arg(long)]
        mean_variance: bool,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run {
            model,
            n,
            seed,
            iters,
            damping,
            mean_variance,
            json,
        } => {
            let m = Model::from_file(&model)?;
            let opts = AmpOptions {
                max_iter: iters,
                damping,
                variance: if mean_variance {
                    VarianceMode::Mean
                } else {
                    VarianceMode::Full
                },
                ..AmpOptions::default()
            };
            opts.validate()?;
            let inst = Instance::sample(&m, n, seed)?;
            let r = run_ml_amp(&m, &inst, &opts)?;
            if json {
                let trace: Vec<f64> = r.trace.iter().map(|t| t[0]).collect();
                let out = json!({
                    "model": model.display().to_string(),
                    "n": n,
                    "seed": seed,
                    "sizes": inst.sizes,
                    "mse_signal": r.mse_signal(),
                    "mse_layers": r.mse_layers,
                    "trace": trace,
                    "trace_layers": r.trace,
                    "iterations": r.iterations,
                    "converged": r.converged,
                    "diverged": r.diverged,
                    "kept_iteration": r.kept_iteration,
                    "clamped": r.clamped,
                });
                println!("{out}");
            } else {
                println!(
                    "model      {} (L = {}, sizes {:?})",
                    model.display(),
                    m.depth(),
                    inst.sizes
                );
                println!("ML-AMP     {} iterations, {}", r.iterations, status(&r));
                println!("MSE signal {:.3e}", r.mse_signal());
                for (k, e) in r.mse_layers.iter().enumerate().skip(1) {
                    println!("MSE h_{k}    {e:.3e}");
                }
            }
            Ok(())
        }
    }
}

fn status(r: &mlamp::AmpResult) -> String {
    if r.diverged {
        format!("diverged (kept iteration {})", r.kept_iteration)
    } else if r.converged {
        "converged".into()
    } else {
        "not converged".into()
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
