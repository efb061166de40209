//! The `mlamp` command-line tool: parses the command line, calls one library function per
//! command, and prints its report (a summary, or one JSON object with `--json`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mlamp::Error;
use mlamp::algo::{
    Algorithm, Progress, RunOptions, SolveOptions, run_model_file, solve_model_file,
};
use mlamp::core::estimator::Estimator;
use mlamp::experiments::phase::THRESHOLD_TOL;
use mlamp::experiments::phase_report::{PhaseOptions, phase_model_file};
use mlamp::experiments::phase_shard::{merge_shard_files, phase_shard_model_file};
use mlamp::progress::{counting, progress, spinner};
use mlamp::se::SeOptions;
use mlamp::se::se_model_file_reporting;
use mlamp::se::vamp::report::{VampSeCliOptions, vamp_se_model_file};
use serde::Serialize;

/// Inference in multi-layer generalized linear models by approximate message passing.
#[derive(Parser)]
#[command(name = "mlamp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Threads to run on (default: RAYON_NUM_THREADS, else one per core); the results have
    /// the same bits on any number.
    #[arg(long, global = true)]
    threads: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    /// Sample an instance of a model and run ML-AMP (default) or ML-Mat-VAMP on it.
    Run {
        /// The model file (TOML; schema in the README).
        model: PathBuf,
        /// The algorithm: amp (ML-AMP: d = 1, iid Gaussian weights) or vamp (ML-Mat-VAMP:
        /// any d up to 8, any weights).
        #[arg(long, default_value = "amp")]
        algorithm: Algorithm,
        /// ML-Mat-VAMP's estimator for every layer, mmse or map (default: each layer's
        /// `estimator`, MMSE unless the file says otherwise).
        #[arg(long)]
        estimator: Option<Estimator>,
        /// Entries of the signal.
        #[arg(long, default_value_t = RunOptions::default().n)]
        n: usize,
        /// Seed of the instance.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Most iterations (default: 500).
        #[arg(long)]
        iters: Option<usize>,
        /// A fixed damping factor in (0, 1] (1 = none). Default: ML-AMP adapts it (a step
        /// that increases the change of the estimates is undone and retried with half the
        /// factor), ML-Mat-VAMP uses 0.8.
        #[arg(long)]
        damping: Option<f64>,
        /// Replace the W∘W products by their iid mean (cheaper; iid weights only).
        #[arg(long)]
        mean_variance: bool,
        /// Held-out test samples for a committee output's measured test error.
        #[arg(long, default_value_t = RunOptions::default().test_samples)]
        test_samples: usize,
        /// The most memory the run may use (bytes, or 500M, 8G, 2Gi); default: what the
        /// system reports available. A run estimated to need more is refused before it
        /// allocates, with the largest --n that fits.
        #[arg(long, value_parser = mlamp::bytes::parse_bytes)]
        max_memory: Option<u64>,
        /// ML-Mat-VAMP without its damping safeguard (the plain iteration that `vamp-se`
        /// tracks; by default a sudden jump of the disagreement between a variable's forward
        /// and backward estimates multiplies the damping by 0.7).
        #[arg(long)]
        no_safeguard: bool,
        /// ML-Mat-VAMP's linear solver: `svd` (the SVD of every weight matrix), `cg`
        /// (matrix-free conjugate gradients, the Jacobians from the singular values) or
        /// `auto` (a cost model on the sizes; the JSON's `linear` says which ran).
        #[arg(long, default_value = "auto")]
        linear: mlamp::algo::linear_path::LinearPath,
        /// Write the sampled instance (W1.npy, …, y.npy, x.npy, h1.npy, …) and the run's
        /// results (x_hat.npy, …, summary.json) into this directory, as `solve` reads and
        /// writes them.
        #[arg(long)]
        save: Option<PathBuf>,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Run ML-AMP (default) or ML-Mat-VAMP on given data: the model file gives the prior and
    /// the channels, the arrays (.npy, .npz, .csv; float64 or float32) the weights and the
    /// observation, and set the sizes.
    Solve {
        /// The model file (its alphas are replaced by the ratios of the weights' shapes).
        model: PathBuf,
        /// The weight matrices W1 … WL, from the signal to the observation (Wk has n_k rows
        /// and n_{k-1} columns); FILE.npz:NAME picks an array of an archive.
        #[arg(long, required = true, num_args = 1..)]
        weights: Vec<String>,
        /// The observation y (n_L rows of the output's entries; a vector for d = 1).
        #[arg(long)]
        observation: String,
        /// The ground truth x, and optionally h1, h2, … after it: the MSEs against them.
        #[arg(long, num_args = 1..)]
        truth: Vec<String>,
        /// The algorithm: amp (ML-AMP: d = 1) or vamp (ML-Mat-VAMP: any d up to 8).
        #[arg(long, default_value = "amp")]
        algorithm: Algorithm,
        /// ML-Mat-VAMP's estimator for every layer, mmse or map.
        #[arg(long)]
        estimator: Option<Estimator>,
        /// Most iterations (default: 500).
        #[arg(long)]
        iters: Option<usize>,
        /// A fixed damping factor in (0, 1] (as for `run`).
        #[arg(long)]
        damping: Option<f64>,
        /// Replace the W∘W products by their mean (ML-AMP).
        #[arg(long)]
        mean_variance: bool,
        /// The most memory the run may use (bytes, or 500M, 8G, 2Gi).
        #[arg(long, value_parser = mlamp::bytes::parse_bytes)]
        max_memory: Option<u64>,
        /// ML-Mat-VAMP without its damping safeguard.
        #[arg(long)]
        no_safeguard: bool,
        /// ML-Mat-VAMP's linear solver: svd, cg or auto (as for `run`).
        #[arg(long, default_value = "auto")]
        linear: mlamp::algo::linear_path::LinearPath,
        /// Directory for the estimates, their variances and summary.json (default: none
        /// written).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print one JSON object (summary.json's) instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// The state evolution of a model: ML-AMP's MSE, the MMSE and the free energies.
    Se {
        /// The model file.
        model: PathBuf,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// The state evolution of ML-Mat-VAMP: every variable's predicted MSE per iteration, with
    /// Monte-Carlo standard errors.
    VampSe {
        /// The model file.
        model: PathBuf,
        /// Monte-Carlo rows per non-linear update (rounded up to whole blocks of 1024).
        #[arg(long, default_value_t = VampSeCliOptions::default().samples)]
        samples: usize,
        /// Iterations.
        #[arg(long, default_value_t = VampSeCliOptions::default().iterations)]
        iters: usize,
        /// Seed of the Monte-Carlo streams.
        #[arg(long, default_value_t = VampSeCliOptions::default().seed)]
        seed: u64,
        /// Rows of the signal, for the sizes of the layers' singular-value laws.
        #[arg(long, default_value_t = VampSeCliOptions::default().n)]
        n: usize,
        /// The estimator for every layer, mmse or map (default: each layer's `estimator`).
        #[arg(long)]
        estimator: Option<Estimator>,
        /// Start the output's pre-activation from the truth plus Gaussian noise of EPS times
        /// its second moment (the branch of a successful run), instead of no information.
        #[arg(long, value_name = "EPS")]
        informed: Option<f64>,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Scan the alpha of one layer: SE curves, the algorithmic and information-theoretic
    /// thresholds, a CSV file and an SVG plot.
    Phase {
        /// The model file.
        model: PathBuf,
        /// The layer whose alpha is scanned, numbered from 1 at the signal (as in the file).
        #[arg(long)]
        layer: usize,
        /// Lowest alpha.
        #[arg(long)]
        from: f64,
        /// Highest alpha.
        #[arg(long)]
        to: f64,
        /// Grid points.
        #[arg(long, default_value_t = 21)]
        steps: usize,
        /// Directory for `phase.csv` and `phase.svg` (with --shard: for the shard's file).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Compute only shard K of N (1 <= K <= N: the grid points i with i mod N = K - 1)
        /// and write their analyses to OUT/phase-shard-K-of-N.json, for `mlamp merge`.
        #[arg(long, value_name = "K/N", value_parser = mlamp::experiments::phase_shard::parse_shard)]
        shard: Option<(usize, usize)>,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Merge the N shard files of a `phase --shard K/N` scan (any order) and finish the scan:
    /// the same phase.csv, phase.svg and report as the scan without --shard, byte for byte.
    Merge {
        /// The shard files (phase-shard-K-of-N.json), all N of them.
        #[arg(required = true, num_args = 1..)]
        shards: Vec<PathBuf>,
        /// Directory for `phase.csv` and `phase.svg`.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli) -> Result<(), Error> {
    if let Some(threads) = cli.threads {
        mlamp::threads::use_threads(threads)?;
    }
    match cli.command {
        Command::Run {
            model,
            algorithm,
            estimator,
            n,
            seed,
            iters,
            damping,
            mean_variance,
            test_samples,
            max_memory,
            no_safeguard,
            linear,
            save,
            json,
        } => {
            let bar = spinner(json, format!("{} on {}", algorithm.name(), model.display()));
            let tick = counting(&bar, "iterations");
            let opts = RunOptions {
                algorithm,
                estimator,
                n,
                seed,
                iters,
                damping,
                mean_variance,
                test_samples,
                max_memory,
                safeguard: !no_safeguard,
                progress: Progress::to(&tick),
                save: save.as_deref(),
                linear,
            };
            let report = run_model_file(&model, &opts);
            bar.finish_and_clear();
            print(&report?, json)
        }
        Command::Solve {
            model,
            weights,
            observation,
            truth,
            algorithm,
            estimator,
            iters,
            damping,
            mean_variance,
            max_memory,
            no_safeguard,
            linear,
            out,
            json,
        } => {
            let bar = spinner(json, format!("{} on {}", algorithm.name(), observation));
            let tick = counting(&bar, "iterations");
            let opts = SolveOptions {
                run: RunOptions {
                    algorithm,
                    estimator,
                    iters,
                    damping,
                    mean_variance,
                    max_memory,
                    safeguard: !no_safeguard,
                    progress: Progress::to(&tick),
                    linear,
                    ..RunOptions::default()
                },
                weights,
                observation,
                truth,
                out: out.as_deref(),
            };
            let report = solve_model_file(&model, &opts);
            bar.finish_and_clear();
            print(&report?, json)
        }
        Command::Se { model, json } => {
            let bar = spinner(json, format!("state evolution of {}", model.display()));
            let tick = counting(&bar, "starts at their fixed points");
            let report =
                se_model_file_reporting(&model, &SeOptions::default(), Progress::to(&tick));
            bar.finish_and_clear();
            let report = report?;
            warn(&report.warnings);
            print(&report, json)
        }
        Command::VampSe {
            model,
            samples,
            iters,
            seed,
            n,
            estimator,
            informed,
            json,
        } => {
            let bar = spinner(
                json,
                format!("ML-Mat-VAMP state evolution of {}", model.display()),
            );
            let tick = counting(&bar, "iterations");
            let opts = VampSeCliOptions {
                samples,
                iterations: iters,
                seed,
                n,
                estimator,
                progress: Progress::to(&tick),
                informed,
            };
            let report = vamp_se_model_file(&model, &opts);
            bar.finish_and_clear();
            print(&report?, json)
        }
        Command::Phase {
            model,
            layer,
            from,
            to,
            steps,
            out,
            shard,
            json,
        } => {
            let opts = PhaseOptions {
                layer,
                from,
                to,
                steps,
                out,
                se: mlamp::se::SeOptions::default(),
            };
            if let Some(shard) = shard {
                let bar = progress(json, steps.div_ceil(shard.1) as u64, "state evolutions");
                let file = phase_shard_model_file(&model, &opts, shard, &|| bar.inc(1));
                bar.finish_and_clear();
                let file = file?.display().to_string();
                return print(&ShardWritten { shard: file }, json);
            }
            // The grid, then up to two bisections to THRESHOLD_TOL from one grid interval.
            let width = (to - from) / (steps.max(2) - 1) as f64;
            let bisections = (width / THRESHOLD_TOL).log2().ceil().clamp(0.0, 64.0) as u64;
            let bar = progress(json, steps as u64 + 2 * bisections, "state evolutions");
            // More thresholds than two: the bar grows by one bisection when it is full.
            let report = phase_model_file(&model, &opts, &|| {
                if bar.position() + 1 >= bar.length().unwrap_or(0) {
                    bar.inc_length(bisections.max(1));
                }
                bar.inc(1)
            });
            bar.finish_and_clear();
            let report = report?;
            warn(&report.warnings);
            print(&report, json)
        }
        Command::Merge { shards, out, json } => {
            let bar = spinner(json, format!("merging {} shards, bisecting", shards.len()));
            let report = merge_shard_files(&shards, &out, &|| bar.inc(1));
            bar.finish_and_clear();
            let report = report?;
            warn(&report.warnings);
            print(&report, json)
        }
    }
}

/// What `phase --shard` reports: the shard's file.
#[derive(Serialize)]
struct ShardWritten {
    shard: String,
}

impl std::fmt::Display for ShardWritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wrote {}", self.shard)
    }
}

/// The consistency checks' violations, one `warning:` line each on stderr.
fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// Prints a report: one JSON object (keys sorted) with `json`, else its summary.
fn print<R: Serialize + std::fmt::Display>(report: &R, json: bool) -> Result<(), Error> {
    if json {
        let value =
            serde_json::to_value(report).map_err(|e| Error::invalid("json", e.to_string()))?;
        emit(format_args!("{value}"));
    } else {
        emit(format_args!("{report}"));
    }
    Ok(())
}

/// Writes `text` and a newline to stdout; a closed pipe (`mlamp … | head`) is not an error.
fn emit(text: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}")
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: writing output: {e}");
        std::process::exit(1);
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
