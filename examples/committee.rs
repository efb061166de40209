//! The ML-Mat-VAMP paper's Fig. 2 (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher,
//! "Matrix inference and estimation in multi-layer models", section 5): learning the input
//! layer of a two-layer committee, normalised test error against the number of samples N.
//!
//! ```sh
//! cargo run --release --example committee -- OUT_DIR [--seeds S] [--map-only] [--se-samples K] [--ns 200,500]
//! ```
//!
//! The model is `examples/models/committee.toml`: `y = F2ᵀσ(F1ᵀx) + ξ`, `d = 4` hidden units,
//! `N_in = 100` inputs, σ the sigmoid, `F1` (`N_in × d`) iid `N(0, 1)` (our signal), `X`
//! (`N × N_in`) iid `N(0, 1/N_in)` (our weights), `F2 ∈ R⁴` iid `N(0, 1)`, and the noise
//! `ξ ~ N(0, Δ)` with `Δ = 10^(−dB/10)·E[(F2ᵀσ(z))²]`, `z ~ N(0, I_4)`: the power of the
//! noiseless output including its mean, as the authors' code. `alpha = N / N_in`.
//!
//! For each noise level (10 and 15 dB), each `N` of {200, 500, 1000, 2000, 3000, 4000} and
//! each seed `s` (default 10 seeds; seed `s` draws F1, X and the noise from instance seed `s`
//! and F2 from `f2_seed = 1_000_000 + s`, so F2 is not F1's first row) the methods are
//! - `adam`: ADAM on the exact MAP loss (minibatch 32, 100 epochs, lr 0.01) from its Glorot
//!   start (seed `2_000_000 + s`);
//! - `vamp_map`: ML-Mat-VAMP with the MAP output estimator, 20 undamped iterations from the
//!   uninformative start;
//! - `se_map`: its state evolution (20 iterations, `--se-samples` Monte-Carlo rows, default
//!   2000, Marchenko–Pastur law of X), one per `(dB, N, seed)` since F2 differs per seed
//!   (and the spread over F2 is larger than the SE's Monte-Carlo error: at 2000 rows its
//!   jackknife standard error is ~1 % of the value, in the CSV; 20 000 rows took ~20 s per SE
//!   on one core, which would make the whole run ~10× longer);
//! - unless `--map-only`, `vamp_mmse` and `se_mmse` likewise with the MMSE output estimator (the
//!   6⁴-node cubature of `mlamp_core::mat::default_nodes`).
//!
//! Each estimate's test error is recorded twice: measured (the mean over 1000 fresh noisy test
//! labels of `(y − ŷ)²`, over Δ; test seed `3_000_000 + s`) and predicted by eq. 17 (the
//! cubature on the empirical covariance `K` of the true and estimated rows of F1). The SE
//! predicts eq. 17's `K` and so gives only the second. 1 is the floor (the Bayes error Δ).
//!
//! Writes `OUT_DIR/committee.csv` (one row per dB, N, seed, method) and
//! `OUT_DIR/committee_{10,15}db.svg`: the median over seeds against N, error bars the
//! interquartile range over seeds, the SE's median as a line. Prints a summary table, the
//! blow-ups (runs whose test error is above twice the median of their dB, N and method) and
//! the wall time.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mlamp::algo::vamp::{VampOptions, run_ml_vamp};
use mlamp::committee::adam::{AdamOptions, Committee};
use mlamp::committee::test_error::{TestSet, eq17_covariance, predicted_test_error};
use mlamp::core::estimator::Estimator;
use mlamp::se::spectral_law::SpectralLaw;
use mlamp::se::vamp::{VampSeOptions, vamp_state_evolution};
use mlamp::{Instance, Model};
use plotters::prelude::*;
use rayon::prelude::*;

/// Signal rows `N_in` (inputs of the committee).
const N_IN: usize = 100;
/// Hidden units `d`.
const D: usize = 4;
/// The paper's sample sizes.
const NS: [usize; 6] = [200, 500, 1000, 2000, 3000, 4000];
/// The paper's noise levels, in dB.
const DBS: [f64; 2] = [10.0, 15.0];
/// ML-Mat-VAMP's and the SE's iterations (the paper plots iteration 20).
const ITERATIONS: usize = 20;
/// Seed offsets keeping the streams of F2, ADAM's start, the test set and the SE apart from
/// the instance's (a seed's stream 0 is where the instance draws F1).
const F2_SEEDS: u64 = 1_000_000;
/// See [`F2_SEEDS`].
const ADAM_SEEDS: u64 = 2_000_000;
/// See [`F2_SEEDS`].
const TEST_SEEDS: u64 = 3_000_000;
/// See [`F2_SEEDS`].
const SE_SEEDS: u64 = 4_000_000;

/// Command-line settings.
struct Args {
    /// Where the CSV and the SVGs go.
    out: PathBuf,
    /// Seeds per (dB, N).
    seeds: u64,
    /// Also run the MMSE estimator and its SE (the default; `--map-only` drops them).
    mmse: bool,
    /// Monte-Carlo rows of each SE update.
    se_samples: usize,
    /// The sample sizes N.
    ns: Vec<usize>,
}

/// The usage line.
const USAGE: &str =
    "usage: committee OUT_DIR [--seeds S] [--map-only] [--se-samples K] [--ns N1,N2,...]";

/// Parses the command line; `Err` holds the message to print.
fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = None;
    let mut parsed = Args {
        out: PathBuf::new(),
        seeds: 10,
        mmse: true,
        se_samples: 2_000,
        ns: NS.to_vec(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--seeds" => {
                parsed.seeds = match value("--seeds")?.parse() {
                    Ok(s) if s >= 1 => s,
                    _ => return Err("--seeds must be a whole number ≥ 1".into()),
                }
            }
            "--se-samples" => {
                parsed.se_samples = match value("--se-samples")?.parse() {
                    Ok(s) if s >= 1 => s,
                    _ => return Err("--se-samples must be a whole number ≥ 1".into()),
                }
            }
            "--ns" => {
                let list = value("--ns")?;
                parsed.ns = list
                    .split(',')
                    .map(|v| v.trim().parse().ok().filter(|&n: &usize| n >= 1))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        format!("--ns must be a list of whole numbers ≥ 1, got {list}")
                    })?;
            }
            "--map-only" => parsed.mmse = false,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s if out.is_none() => out = Some(PathBuf::from(s)),
            s => return Err(format!("unexpected argument {s}")),
        }
    }
    parsed.out = out.ok_or("OUT_DIR is required")?;
    Ok(parsed)
}

/// The committee model at `n` samples, `db` dB, F2 from `f2_seed`, with `estimator`.
fn model(n: usize, db: f64, f2_seed: u64, estimator: Estimator) -> Result<Model, String> {
    let est = match estimator {
        Estimator::Map => "map",
        Estimator::Mmse => "mmse",
    };
    let text = format!(
        "d = {D}\n[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = {:?}\n\
         channel = {{ type = \"committee\", activation = \"sigmoid\", snr_db = {db:?}, f2_seed = {f2_seed} }}\n\
         estimator = \"{est}\"\n",
        n as f64 / N_IN as f64
    );
    Model::from_toml(&text).map_err(|e| format!("model: {e}"))
}

/// One method's result on one (dB, N, seed).
#[derive(Clone, Debug)]
struct Row {
    /// Noise level in dB.
    db: f64,
    /// Samples N.
    n: usize,
    /// The seed.
    seed: u64,
    /// The method's name (`adam`, `vamp_map`, `se_map`, `vamp_mmse`, `se_mmse`).
    method: &'static str,
    /// Measured normalised test error on the test set (`NaN` for the SE).
    measured: f64,
    /// Eq. 17's predicted normalised test error (the SE's prediction for the SE).
    eq17: f64,
    /// The SE's Monte-Carlo standard error of `eq17` (`NaN` for the algorithms).
    eq17_se: f64,
    /// MSE per entry of F̂1 (the SE's prediction for the SE).
    f1_mse: f64,
    /// Wall time of the method's run, seconds.
    seconds: f64,
    /// ML-Mat-VAMP's eigenvalue interventions over the run (`None` for the others).
    interventions: Option<usize>,
    /// ML-Mat-VAMP's damping reductions by its safeguard (`None` for the others).
    damping_reductions: Option<usize>,
}

impl Row {
    /// The test error the figure and the blow-up count use: measured, or the SE's prediction.
    fn error(&self) -> f64 {
        if self.measured.is_nan() {
            self.eq17
        } else {
            self.measured
        }
    }
}

/// Runs every method on one (dB, N, seed).
fn job(db: f64, n: usize, seed: u64, args: &Args) -> Result<Vec<Row>, String> {
    let f2_seed = F2_SEEDS + seed;
    let m = model(n, db, f2_seed, Estimator::Map)?;
    let inst = Instance::sample(&m, N_IN, seed).map_err(|e| format!("instance: {e}"))?;
    let problem = Committee::of_instance(&m, &inst, 1.0).map_err(|e| format!("model: {e}"))?;
    let (phi, f2, noise_var) = (problem.activation, problem.f2, problem.noise_var);
    let f1 = &inst.layers[0];
    let test = TestSet {
        samples: 1000,
        seed: TEST_SEEDS + seed,
    };
    let score = |f1_hat: &[f64]| -> Result<(f64, f64, f64), String> {
        let measured = test
            .measure(f1, f1_hat, N_IN, f2, phi, noise_var)
            .map_err(|e| format!("test set: {e}"))?
            .normalised;
        let k = eq17_covariance(f1, f1_hat, N_IN).map_err(|e| format!("eq. 17: {e}"))?;
        let eq17 = predicted_test_error(&k, f2, phi, noise_var)
            .map_err(|e| format!("eq. 17: {e}"))?
            .normalised;
        let mse = f1
            .iter()
            .zip(f1_hat)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / f1.len() as f64;
        Ok((measured, eq17, mse))
    };
    let row = |method, (measured, eq17, f1_mse): (f64, f64, f64), eq17_se, seconds| Row {
        db,
        n,
        seed,
        method,
        measured,
        eq17,
        eq17_se,
        f1_mse,
        seconds,
        interventions: None,
        damping_reductions: None,
    };
    let mut rows = Vec::new();

    let t = Instant::now();
    let fit = AdamOptions::default()
        .fit(&problem, ADAM_SEEDS + seed)
        .map_err(|e| format!("ADAM: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    rows.push(row("adam", score(&fit.f1)?, f64::NAN, secs));

    let mut estimators = vec![(Estimator::Map, "vamp_map", "se_map")];
    if args.mmse {
        estimators.push((Estimator::Mmse, "vamp_mmse", "se_mmse"));
    }
    for (estimator, vamp_name, se_name) in estimators {
        let t = Instant::now();
        let opts = VampOptions {
            damping: 1.0,
            max_iter: ITERATIONS,
            tol: 0.0,
            estimator: Some(estimator),
            ..VampOptions::default()
        };
        let run = run_ml_vamp(&m, &inst, &opts).map_err(|e| format!("ML-Mat-VAMP: {e}"))?;
        let secs = t.elapsed().as_secs_f64();
        rows.push(Row {
            interventions: Some(run.total_interventions()),
            damping_reductions: Some(run.damping_reductions),
            ..row(vamp_name, score(&run.estimates[0])?, f64::NAN, secs)
        });

        let t = Instant::now();
        let law = SpectralLaw::marchenko_pastur(n, N_IN, 64).map_err(|e| format!("law: {e}"))?;
        let se_opts = VampSeOptions {
            samples: args.se_samples,
            iterations: ITERATIONS,
            seed: SE_SEEDS + seed,
            estimator: Some(estimator),
            ..VampSeOptions::default()
        };
        let se = vamp_state_evolution(&m, &[law], &se_opts).map_err(|e| format!("SE: {e}"))?;
        let last = &se.iterations[ITERATIONS - 1];
        let predicted = last
            .test_error
            .ok_or("the SE predicted no test error for the committee")?;
        let secs = t.elapsed().as_secs_f64();
        rows.push(row(
            se_name,
            (f64::NAN, predicted.value, last.mse_layers[0].value),
            predicted.se,
            secs,
        ));
    }
    Ok(rows)
}

/// The `q`-quantile of `v` (sorted ascending), linearly interpolated.
fn quantile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// The finite values of `values`, sorted.
fn sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The rows of one (dB, N, method).
fn group<'a>(rows: &'a [Row], db: f64, n: usize, method: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| r.db == db && r.n == n && r.method == method)
        .collect()
}

/// How a method is drawn: label, colour, and whether it is a line (the SE) or markers with
/// interquartile bars (the algorithms).
fn look(method: &str) -> (&'static str, RGBColor, bool) {
    match method {
        "adam" => ("ADAM (MAP loss)", RGBColor(120, 120, 120), false),
        "vamp_map" => ("ML-Mat-VAMP, MAP", RGBColor(200, 30, 30), false),
        "se_map" => ("SE, MAP", RGBColor(200, 30, 30), true),
        "vamp_mmse" => ("ML-Mat-VAMP, MMSE", RGBColor(30, 80, 200), false),
        _ => ("SE, MMSE", RGBColor(30, 80, 200), true),
    }
}

/// One curve of the figure: `(N, median, first quartile, third quartile)` per N.
type Curve = Vec<(f64, f64, f64, f64)>;

/// Draws the medians against N with interquartile bars (the same look as
/// `mlamp::experiments::plot::svg`, which has no error bars).
fn plot(path: &Path, title: &str, curves: &[(&str, Curve)]) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("plot {}: {e}", path.display());
    let all = curves.iter().flat_map(|(_, c)| c.iter());
    let (mut x1, mut y0, mut y1) = (1.0f64, f64::MAX, f64::MIN);
    for &(x, m, lo, hi) in all {
        x1 = x1.max(x);
        y0 = y0.min(lo.min(m));
        y1 = y1.max(hi.max(m));
    }
    if y0 > y1 {
        return Err(format!("plot {}: nothing to draw", path.display()));
    }
    let pad = 0.05 * (y1 - y0).max(1e-3);
    let root = SVGBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x1 * 1.04, (y0 - pad).max(0.0)..y1 + pad)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("N (training samples; N_in = 100, alpha = N / N_in)")
        .y_desc("normalised test error E|y - y_hat|^2 / Delta")
        .y_label_formatter(&|v: &f64| format!("{v:.2}"))
        .draw()
        .map_err(|e| err(&e))?;
    // Each algorithm's bars are shifted a little in x so that they do not overlap.
    let markers = curves.iter().filter(|(m, _)| !look(m).2).count();
    let mut k = 0;
    for (method, curve) in curves {
        let (label, color, line) = look(method);
        let style = color.stroke_width(2);
        if line {
            let pts: Vec<(f64, f64)> = curve.iter().map(|c| (c.0, c.1)).collect();
            chart
                .draw_series(LineSeries::new(pts, style))
                .map_err(|e| err(&e))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            continue;
        }
        let shift = (k as f64 - (markers as f64 - 1.0) / 2.0) * 0.012 * x1;
        k += 1;
        for &(x, _, lo, hi) in curve {
            let x = x + shift;
            let cap = 0.006 * x1;
            for seg in [
                vec![(x, lo), (x, hi)],
                vec![(x - cap, lo), (x + cap, lo)],
                vec![(x - cap, hi), (x + cap, hi)],
            ] {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        seg,
                        color.stroke_width(1),
                    )))
                    .map_err(|e| err(&e))?;
            }
        }
        chart
            .draw_series(
                curve
                    .iter()
                    .map(|c| Circle::new((c.0 + shift, c.1), 4, color.filled())),
            )
            .map_err(|e| err(&e))?
            .label(format!("{label}, median and IQR"))
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Runs everything; `Err` is a message for stderr.
fn run(args: &Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("creating {}: {e}", args.out.display()))?;
    let start = Instant::now();
    // Largest N first: the longest jobs start early and the threads finish together.
    let mut jobs: Vec<(f64, usize, u64)> = DBS
        .iter()
        .flat_map(|&db| {
            args.ns
                .iter()
                .flat_map(move |&n| (0..args.seeds).map(move |s| (db, n, s)))
        })
        .collect();
    jobs.sort_by_key(|&(_, n, _)| std::cmp::Reverse(n));
    let bar = mlamp::progress::progress(false, jobs.len() as u64, "(dB, N, seed) jobs");
    let results: Result<Vec<Vec<Row>>, String> = jobs
        .par_iter()
        .map(|&(db, n, s)| {
            let rows = job(db, n, s, args);
            bar.inc(1);
            rows
        })
        .collect();
    bar.finish_and_clear();
    let mut rows: Vec<Row> = results?.into_iter().flatten().collect();
    rows.sort_by(|a, b| {
        (a.db, a.n, a.seed)
            .partial_cmp(&(b.db, b.n, b.seed))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let wall = start.elapsed().as_secs_f64();

    let mut csv = String::from(
        "db,n,seed,method,test_error_measured,test_error_eq17,test_error_eq17_se,f1_mse,seconds,interventions,damping_reductions\n",
    );
    let field = |v: f64| {
        if v.is_nan() {
            String::new()
        } else {
            format!("{v}")
        }
    };
    for r in &rows {
        csv += &format!(
            "{},{},{},{},{},{},{},{},{:.4},{},{}\n",
            r.db,
            r.n,
            r.seed,
            r.method,
            field(r.measured),
            field(r.eq17),
            field(r.eq17_se),
            r.f1_mse,
            r.seconds,
            r.interventions.map_or(String::new(), |i| i.to_string()),
            r.damping_reductions
                .map_or(String::new(), |i| i.to_string())
        );
    }
    let path = args.out.join("committee.csv");
    std::fs::write(&path, csv).map_err(|e| format!("writing {}: {e}", path.display()))?;

    let mut methods = vec!["adam", "vamp_map", "se_map"];
    if args.mmse {
        methods.extend(["vamp_mmse", "se_mmse"]);
    }
    println!(
        "normalised test error (1 = the noise floor): median and mean over {} seeds; \
         measured on 1000 test samples, eq. 17 on the estimate (the SE: its prediction)",
        args.seeds
    );
    println!(
        "{:>4} {:>5} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}",
        "dB",
        "N",
        "method",
        "med meas",
        "mean meas",
        "med eq17",
        "mean eq17",
        "med F1 MSE",
        "mean s"
    );
    let mut blowups = Vec::new();
    for &db in &DBS {
        let mut curves = Vec::new();
        for &method in &methods {
            let mut curve = Curve::new();
            let mut count = 0;
            for &n in &args.ns {
                let g = group(&rows, db, n, method);
                let meas = sorted(g.iter().map(|r| r.measured));
                let eq17 = sorted(g.iter().map(|r| r.eq17));
                let err = sorted(g.iter().map(|r| r.error()));
                let mse = sorted(g.iter().map(|r| r.f1_mse));
                let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
                let show = |v: &[f64], f: fn(&[f64]) -> f64| {
                    if v.is_empty() {
                        "-".to_string()
                    } else {
                        format!("{:.4}", f(v))
                    }
                };
                let med = |v: &[f64]| quantile(v, 0.5);
                println!(
                    "{db:>4} {n:>5} {method:>10} {:>9} {:>9} {:>9} {:>9} {:>10.3e} {:>9.3}",
                    show(&meas, med),
                    show(&meas, mean),
                    show(&eq17, med),
                    show(&eq17, mean),
                    med(&mse),
                    mean(&g.iter().map(|r| r.seconds).collect::<Vec<_>>()),
                );
                let median = quantile(&err, 0.5);
                count += err.iter().filter(|&&e| e > 2.0 * median).count();
                curve.push((n as f64, median, quantile(&err, 0.25), quantile(&err, 0.75)));
            }
            blowups.push((db, method, count, args.ns.len() as u64 * args.seeds));
            curves.push((method, curve));
        }
        let path = args.out.join(format!("committee_{db}db.svg"));
        let title = format!(
            "committee d = 4, N_in = 100, sigmoid, {db} dB: median over {} seeds, IQR bars",
            args.seeds
        );
        plot(&path, &title, &curves)?;
    }
    println!("blow-ups (test error > 2 x the median of its dB, N and method):");
    for (db, method, count, total) in blowups {
        println!("  {db} dB {method:>10}: {count} of {total}");
    }
    for &method in &methods {
        let secs: f64 = rows
            .iter()
            .filter(|r| r.method == method)
            .map(|r| r.seconds)
            .sum();
        println!("  {method:>10}: {secs:.1} s of compute in all");
    }
    println!(
        "total {wall:.1} s on {} threads; wrote {}",
        rayon::current_num_threads(),
        args.out.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&argv) {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
