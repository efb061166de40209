//! The `mlamp` command-line tool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mlamp::core::ml_amp::VarianceMode;
use mlamp::model::EstimatorSpec;
use mlamp::plot::{Axes, Series, Style, svg};
use mlamp::se::{SeOptions, StateEvolution, scan};
use mlamp::vamp::{VampOptions, run_ml_vamp};
use mlamp::{AmpOptions, Error, Instance, Model, run_ml_amp};
use serde_json::json;

/// Inference in multi-layer generalized linear models by approximate message passing.
#[derive(Parser)]
#[command(name = "mlamp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The algorithm of `mlamp run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Algorithm {
    /// ML-AMP (paper `000_…`): d = 1 and iid Gaussian weights only.
    Amp,
    /// ML-Mat-VAMP (paper `002_…`; ML-VAMP for d = 1): any d up to 8, any weights.
    Vamp,
}

/// The estimator of ML-Mat-VAMP's denoisers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Estimator {
    /// Posterior means.
    Mmse,
    /// Posterior modes.
    Map,
}

#[derive(Subcommand)]
enum Command {
    /// Sample an instance of a model and run ML-AMP (default) or ML-Mat-VAMP on it.
    Run {
        /// The model file (TOML; schema in the README).
        model: PathBuf,
        /// The algorithm.
        #[arg(long, value_enum, default_value_t = Algorithm::Amp)]
        algorithm: Algorithm,
        /// ML-Mat-VAMP's estimator for every layer (default: each layer's `estimator`, MMSE
        /// unless the file says otherwise).
        #[arg(long, value_enum)]
        estimator: Option<Estimator>,
        /// Entries of the signal.
        #[arg(long, default_value_t = 2000)]
        n: usize,
        /// Seed of the instance.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Most iterations (default: 500 for ML-AMP, 200 for ML-Mat-VAMP).
        #[arg(long)]
        iters: Option<usize>,
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
    /// The state evolution of a model: ML-AMP's MSE, the MMSE and the free energies.
    Se {
        /// The model file.
        model: PathBuf,
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
        /// Directory for `phase.csv` and `phase.svg`.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli) -> Result<(), Error> {
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
            json,
        } => {
            let m = Model::from_file(&model)?;
            let outcome = match algorithm {
                Algorithm::Amp => {
                    if estimator.is_some() {
                        return Err(Error::invalid(
                            "estimator",
                            "is an option of ML-Mat-VAMP (--algorithm vamp)",
                        ));
                    }
                    if m.d != 1 {
                        return Err(Error::invalid(
                            "d",
                            format!(
                                "ML-AMP runs d = 1 only (the model has d = {}): use --algorithm vamp",
                                m.d
                            ),
                        ));
                    }
                    if let Some(k) = m
                        .layers
                        .iter()
                        .position(|l| l.weights != mlamp::model::WeightsSpec::Gaussian {})
                    {
                        return Err(Error::invalid(
                            format!("layers[{k}].weights"),
                            "ML-AMP assumes iid Gaussian weights: use --algorithm vamp",
                        ));
                    }
                    m.channels()?;
                    let opts = AmpOptions {
                        max_iter: iters.unwrap_or(AmpOptions::default().max_iter),
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
                    Outcome {
                        name: "ML-AMP",
                        sizes: inst.sizes,
                        mse_layers: r.mse_layers,
                        trace: r.trace,
                        iterations: r.iterations,
                        converged: r.converged,
                        diverged: r.diverged,
                        kept_iteration: r.kept_iteration,
                        extra: json!({"clamped": r.clamped}),
                    }
                }
                Algorithm::Vamp => {
                    if mean_variance {
                        return Err(Error::invalid(
                            "mean-variance",
                            "is an option of ML-AMP (--algorithm amp)",
                        ));
                    }
                    let opts = VampOptions {
                        max_iter: iters.unwrap_or(VampOptions::default().max_iter),
                        damping,
                        estimator: estimator.map(|e| match e {
                            Estimator::Mmse => EstimatorSpec::Mmse,
                            Estimator::Map => EstimatorSpec::Map,
                        }),
                        ..VampOptions::default()
                    };
                    opts.validate()?;
                    let inst = Instance::sample(&m, n, seed)?;
                    let r = run_ml_vamp(&m, &inst, &opts)?;
                    Outcome {
                        name: "ML-Mat-VAMP",
                        sizes: inst.sizes,
                        mse_layers: r.mse_layers.clone(),
                        trace: r.trace.clone(),
                        iterations: r.iterations,
                        converged: r.converged,
                        diverged: r.diverged,
                        kept_iteration: r.kept_iteration,
                        extra: json!({
                            "d": m.d,
                            "interventions": r.total_interventions(),
                            "interventions_layers": r.interventions,
                        }),
                    }
                }
            };
            if json {
                let trace: Vec<f64> = outcome.trace.iter().map(|t| t[0]).collect();
                let mut out = json!({
                    "model": model.display().to_string(),
                    "algorithm": outcome.name,
                    "n": n,
                    "seed": seed,
                    "sizes": outcome.sizes,
                    "mse_signal": outcome.mse_layers[0],
                    "mse_layers": outcome.mse_layers,
                    "trace": trace,
                    "trace_layers": outcome.trace,
                    "iterations": outcome.iterations,
                    "converged": outcome.converged,
                    "diverged": outcome.diverged,
                    "kept_iteration": outcome.kept_iteration,
                });
                if let (Some(o), Some(e)) = (out.as_object_mut(), outcome.extra.as_object()) {
                    o.extend(e.clone());
                }
                emit(format_args!("{out}"));
            } else {
                emit(format_args!(
                    "model      {} (L = {}, d = {}, sizes {:?})",
                    model.display(),
                    m.depth(),
                    m.d,
                    outcome.sizes
                ));
                emit(format_args!(
                    "{:<10} {} iterations, {}",
                    outcome.name,
                    outcome.iterations,
                    outcome.status()
                ));
                emit(format_args!("MSE signal {:.3e}", outcome.mse_layers[0]));
                for (k, e) in outcome.mse_layers.iter().enumerate().skip(1) {
                    emit(format_args!("MSE h_{k}    {e:.3e}"));
                }
            }
            Ok(())
        }
        Command::Se { model, json } => se_command(model, json),
        Command::Phase {
            model,
            layer,
            from,
            to,
            steps,
            out,
            json,
        } => phase_command(PhaseArgs {
            model,
            layer,
            from,
            to,
            steps,
            out,
            json,
        }),
    }
}

fn se_command(model: PathBuf, json: bool) -> Result<(), Error> {
    let m = Model::from_file(&model)?;
    let se = StateEvolution::new(&m, SeOptions::default())?;
    let a = se.analyse();
    if json {
        let out = json!({
            "model": model.display().to_string(),
            "mse_signal_amp": a.amp.mse_signal(),
            "mmse_signal": a.mmse_signal(),
            "free_energy_amp": a.amp.free_energy,
            "free_energy_informed": a.informed.free_energy,
            "mse_layers_amp": a.amp.mse,
            "mse_layers_informed": a.informed.mse,
            "m_amp": a.amp.m,
            "m_hat_amp": a.amp.m_hat,
            "rho": &se.rho()[..m.depth()],
            "iterations": a.amp.iterations,
            "iterations_informed": a.informed.iterations,
            "converged": a.amp.converged && a.informed.converged,
            "bayes_optimal": if a.informed.free_energy < a.amp.free_energy { "informed" } else { "amp" },
        });
        emit(format_args!("{out}"));
    } else {
        emit(format_args!(
            "model          {} (L = {})",
            model.display(),
            m.depth()
        ));
        emit(format_args!(
            "ML-AMP (SE)    signal MSE {:.4e}  ({} iterations)",
            a.amp.mse_signal(),
            a.amp.iterations
        ));
        emit(format_args!(
            "informed (SE)  signal MSE {:.4e}",
            a.informed.mse_signal()
        ));
        emit(format_args!("MMSE           {:.4e}", a.mmse_signal()));
        emit(format_args!(
            "free energy    {:.10} (AMP) {:.10} (informed)",
            a.amp.free_energy, a.informed.free_energy
        ));
        for (k, e) in a.amp.mse.iter().enumerate().skip(1) {
            emit(format_args!("MSE h_{k} (SE)  {e:.4e}"));
        }
    }
    Ok(())
}

struct PhaseArgs {
    model: PathBuf,
    layer: usize,
    from: f64,
    to: f64,
    steps: usize,
    out: PathBuf,
    json: bool,
}

fn phase_command(p: PhaseArgs) -> Result<(), Error> {
    let m = Model::from_file(&p.model)?;
    if p.layer == 0 || p.layer > m.depth() {
        return Err(Error::invalid(
            "layer",
            format!("must be in 1..={} (numbered from the signal)", m.depth()),
        ));
    }
    let se = StateEvolution::new(&m, SeOptions::default())?;
    let bar = indicatif::ProgressBar::new(p.steps as u64);
    if p.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let curve = scan(&se, p.layer - 1, p.from, p.to, p.steps, &|| bar.inc(1))?;
    bar.finish_and_clear();
    std::fs::create_dir_all(&p.out).map_err(|source| Error::Io {
        path: p.out.display().to_string(),
        source,
    })?;
    let mut csv = String::from(
        "alpha,mse_amp,mse_informed,mmse,free_energy_amp,free_energy_informed,agree\n",
    );
    for q in &curve.points {
        csv += &format!(
            "{},{},{},{},{},{},{}\n",
            q.alpha,
            q.mse_amp,
            q.mse_informed,
            q.mmse,
            q.free_energy_amp,
            q.free_energy_informed,
            q.agree
        );
    }
    let csv_path = p.out.join("phase.csv");
    std::fs::write(&csv_path, csv).map_err(|source| Error::Io {
        path: csv_path.display().to_string(),
        source,
    })?;
    let pts = |f: fn(&mlamp::se::PhasePoint) -> f64| {
        curve
            .points
            .iter()
            .map(|q| (q.alpha, f(q)))
            .collect::<Vec<_>>()
    };
    let mut series = vec![
        Series {
            label: "ML-AMP (SE)".into(),
            points: pts(|q| q.mse_amp),
            style: Style::Line,
            color: 0,
        },
        Series {
            label: "MMSE".into(),
            points: pts(|q| q.mmse),
            style: Style::Dashed,
            color: 1,
        },
    ];
    let t = curve.thresholds;
    let (lo, hi) = curve.points.iter().fold((f64::MAX, f64::MIN), |(a, b), q| {
        (a.min(q.mse_amp), b.max(q.mse_amp))
    });
    for (name, a, c) in [("alpha_alg", t.alpha_alg, 3), ("alpha_IT", t.alpha_it, 2)] {
        if let Some(a) = a {
            let lo = lo.max(hi * 1e-12).max(f64::MIN_POSITIVE);
            series.push(Series {
                label: format!("{name} = {a:.4}"),
                points: vec![(a, lo), (a, hi)],
                style: Style::Dashed,
                color: c,
            });
        }
    }
    let svg_path = p.out.join("phase.svg");
    svg(
        &svg_path,
        &Axes {
            title: format!("{}: layer {}", p.model.display(), p.layer),
            x_label: format!("alpha of layer {}", p.layer),
            y_label: "signal MSE".into(),
            log_y: true,
        },
        &series,
    )?;
    if p.json {
        let pts: Vec<_> = curve
            .points
            .iter()
            .map(|q| json!({"alpha": q.alpha, "mse_amp": q.mse_amp, "mse_informed": q.mse_informed, "mmse": q.mmse,
                "free_energy_amp": q.free_energy_amp, "free_energy_informed": q.free_energy_informed, "agree": q.agree}))
            .collect();
        emit(format_args!(
            "{}",
            json!({"layer": p.layer, "alpha_alg": t.alpha_alg, "alpha_it": t.alpha_it, "curve": pts,
            "csv": csv_path.display().to_string(), "plot": svg_path.display().to_string()})
        ));
    } else {
        let show = |a: Option<f64>| a.map_or("none in range".to_string(), |a| format!("{a:.4}"));
        emit(format_args!("alpha_alg {}", show(t.alpha_alg)));
        emit(format_args!("alpha_IT  {}", show(t.alpha_it)));
        emit(format_args!(
            "wrote {} and {}",
            csv_path.display(),
            svg_path.display()
        ));
    }
    Ok(())
}

/// What `mlamp run` prints, from either algorithm.
struct Outcome {
    name: &'static str,
    sizes: Vec<usize>,
    mse_layers: Vec<f64>,
    trace: Vec<Vec<f64>>,
    iterations: usize,
    converged: bool,
    diverged: bool,
    kept_iteration: usize,
    /// The algorithm's own fields of the JSON.
    extra: serde_json::Value,
}

impl Outcome {
    fn status(&self) -> String {
        if self.diverged {
            format!("diverged (kept iteration {})", self.kept_iteration)
        } else if self.converged {
            "converged".into()
        } else {
            "not converged".into()
        }
    }
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
