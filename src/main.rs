//! The `mlamp` command-line tool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mlamp::core::ml_amp::VarianceMode;
use mlamp::plot::{Axes, Series, Style, svg};
use mlamp::se::{SeOptions, StateEvolution, scan};
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
                emit(format_args!("{out}"));
            } else {
                emit(format_args!(
                    "model      {} (L = {}, sizes {:?})",
                    model.display(),
                    m.depth(),
                    inst.sizes
                ));
                emit(format_args!(
                    "ML-AMP     {} iterations, {}",
                    r.iterations,
                    status(&r)
                ));
                emit(format_args!("MSE signal {:.3e}", r.mse_signal()));
                for (k, e) in r.mse_layers.iter().enumerate().skip(1) {
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

fn status(r: &mlamp::AmpResult) -> String {
    if r.diverged {
        format!("diverged (kept iteration {})", r.kept_iteration)
    } else if r.converged {
        "converged".into()
    } else {
        "not converged".into()
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
