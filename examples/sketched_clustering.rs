//! Sketched clustering (section 2.2 of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher,
//! "Matrix inference and estimation in multi-layer models"): the centroids of a Gaussian
//! mixture recovered by ML-Mat-VAMP from a sketch of the data set alone, against k-means on
//! the full data.
//!
//! ```sh
//! cargo run --release --example sketched_clustering -- [--m 100000] [--p 10] [--d 4] [--seeds 5] [--weights 0.4,0.3,0.2,0.1] [--alpha known|estimated|both] [--out FILE.csv]
//! ```
//!
//! Per seed (default 3): `d = 4` centroids `f_j ~ N(0, c² I_p)`, `c = 1.5 d^{1/p}`, in
//! `R^p`, `p = 10`; `M = 10⁵` points, `M/d` from each cluster `N(f_j, I_p)` (weights
//! `α_j = 1/d`; `--weights` gives others, `round(M w_j)` points to cluster `j`, the last
//! taking the rest), centred by their mean; `n = 10 p d = 400` frequencies `x_i ~ N(0, I_p/p)`:
//! `‖x_i‖ ≈ 1`, the inverse of the clusters' spread, as the sketching literature scales its
//! frequencies to the data's within-cluster scale (Keriven, Bourrier, Gribonval, Pérez,
//! *Sketching for large-scale learning of mixture models*; `--freq-scale κ` multiplies the
//! variance: with one run per seed on 8 seeds at `M = 2·10⁴`, 3 runs recovered the centroids
//! at κ = 1, 4 at κ = ½, none at κ = ¼ (the estimate shrinks to 0: the phases carry too
//! little) and 1 at κ = 2 (they wrap too often)). The sketch `y_i = (1/M) Σ_m e^{√−1 x_iᵀ u_m}` (`n` complex
//! numbers) with the clusters' known Gaussian damping `e^{−‖x_i‖²/2}` divided out; then
//! ML-Mat-VAMP (MAP, the `sketch` output with the mixture's weights `α` known, or estimated
//! (`--alpha estimated`; `both`, the default, runs each): from `1/d` each, refitted by
//! non-negative least squares on the recovered centroids and re-run warm-started until `α`
//! moves less than 1e-4 (`mlamp::clustering::recovery`); a Gaussian
//! prior of the data's variance on the rows of `F`; `Δ = 1e-2`, `--noise-var`, a tempered
//! likelihood: the sketch's actual misfit is ~1e-5 per entry; one run per seed on those 8
//! seeds recovered 3 at `Δ = 1e-2`, 4 at `3e-3`, and at `1e-3` 1 of the first 3 seeds, the
//! other two running 200 iterations without converging; `1e-2` converges fastest) on `(X, y)` alone, through `mlamp::clustering::recovery::recover`: up to
//! `--restarts` runs (default 8) from random starts, stopping at the first that converges,
//! the iterate of lowest sketch residual kept (truth-free). The baseline: one k-means++
//! seeding and Lloyd's iterations on the full data. The NNLS weights of the known-`α`
//! recovery's centroids (a check of the known weights) go to stderr with each run.
//!
//! Prints per seed the centroid error up to order of both (relative,
//! `Σ‖f̂ − f‖²/Σ‖f‖²` against the mixture's centres), the clustering SSE of the sketch's
//! centroids relative to k-means' (for known and for estimated `α`; for estimated `α` also
//! `max_j |α̂_j − α_j|` against the mixture's weights, matched as the centroids are, and the
//! re-runs), the times to build the sketch (`∝ M`), to recover from it
//! (independent of `M`: it reads `X` and `y` only) and to run k-means; the sketch's size
//! against the data's once. `--out FILE.csv` writes the same per seed.
//!
//! Then the state evolution's prediction on the model's own generative law (the real sketch
//! is not sampled from it; `examples/models/sketch.toml` is this model at the default
//! sizes): `F` with iid `N(0, c²)` entries, the same `n × p` frequencies' law, `y = φ(X F) + ξ`
//! with `α_j = 1/d` and Gaussian `ξ` of variance `Δ` per part. The ML-Mat-VAMP state
//! evolution (MAP, 2·10⁴ samples, 12 iterations) from an informed start (the output's
//! backward message `z⁰ + N(0, 10⁻² ρ)`: from the uninformative start it cannot tell the
//! centroids apart and stays at MSE ≈ 1.5 c²) predicts the MSE of `F̂` per entry, and
//! `MSE/c²` the relative centroid error; beside it the same recovery on `--model-seeds`
//! (default 8) instances sampled from the model at the example's `p` and `n`, its MSE per
//! entry up to the centroids' order (mean ± standard error over the seeds). `--model-seeds 0`
//! skips it.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use mlamp::clustering::kmeans::{kmeans, sse};
use mlamp::clustering::matching::centroid_error;
use mlamp::clustering::recovery::{RecoveryOptions, recover};
use mlamp::clustering::sketch::{compensate, frequencies, nnls_weights, sketch};
use mlamp::clustering::transpose;
use mlamp::se::vamp::report::model_laws;
use mlamp::se::vamp::{VampSeOptions, vamp_state_evolution};
use mlamp::streams::{normal, stream};
use mlamp::{Instance, Model};

/// Command-line settings.
struct Args {
    m: usize,
    p: usize,
    d: usize,
    seeds: u64,
    restarts: u64,
    noise_var: f64,
    freq_scale: f64,
    weights: Option<Vec<f64>>,
    model_seeds: u64,
    known: bool,
    estimated: bool,
    out: Option<String>,
}

const USAGE: &str = "usage: sketched_clustering [--m M] [--p P] [--d D] [--seeds S] [--restarts R] [--noise-var V] [--freq-scale K] [--weights W1,...,WD] [--alpha known|estimated|both] [--model-seeds S] [--out FILE.csv]";

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        m: 100_000,
        p: 10,
        d: 4,
        seeds: 3,
        restarts: 8,
        noise_var: 1e-2,
        freq_scale: 1.0,
        weights: None,
        model_seeds: 8,
        known: true,
        estimated: true,
        out: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        let whole = |v: String| -> Result<usize, String> {
            v.parse::<usize>()
                .ok()
                .filter(|&x| x >= 1)
                .ok_or(format!("{flag} must be a whole number >= 1, got {v}"))
        };
        match flag.as_str() {
            "--m" => a.m = whole(value()?)?,
            "--p" => a.p = whole(value()?)?,
            "--d" => a.d = whole(value()?)?,
            "--seeds" => a.seeds = whole(value()?)? as u64,
            "--restarts" => a.restarts = whole(value()?)? as u64,
            "--noise-var" => {
                let v = value()?;
                a.noise_var = v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or(format!("--noise-var must be a number > 0, got {v}"))?
            }
            "--freq-scale" => {
                let v = value()?;
                a.freq_scale = v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or(format!("--freq-scale must be a number > 0, got {v}"))?
            }
            "--weights" => {
                let v = value()?;
                let w = v
                    .split(',')
                    .map(|t| {
                        t.trim()
                            .parse::<f64>()
                            .ok()
                            .filter(|x| x.is_finite() && *x > 0.0)
                    })
                    .collect::<Option<Vec<f64>>>()
                    .ok_or(format!(
                        "--weights must be numbers > 0 separated by commas, got {v}"
                    ))?;
                let total: f64 = w.iter().sum();
                a.weights = Some(w.iter().map(|x| x / total).collect());
            }
            "--alpha" => {
                (a.known, a.estimated) = match value()?.as_str() {
                    "known" => (true, false),
                    "estimated" => (false, true),
                    "both" => (true, true),
                    v => return Err(format!("--alpha must be known, estimated or both, got {v}")),
                }
            }
            "--model-seeds" => {
                let v = value()?;
                a.model_seeds = v
                    .parse::<u64>()
                    .map_err(|_| format!("--model-seeds must be a whole number, got {v}"))?
            }
            "--out" => a.out = Some(value()?),
            "-h" | "--help" => return Err(String::new()),
            s => return Err(format!("unknown argument {s}")),
        }
    }
    if a.d > 8 {
        return Err("--d must be at most 8".into());
    }
    if let Some(w) = &a.weights
        && w.len() != a.d
    {
        return Err(format!(
            "--weights needs d = {} weights, got {}",
            a.d,
            w.len()
        ));
    }
    Ok(a)
}

/// One recovery's figures (known or estimated `α`).
#[derive(Clone, Copy)]
struct Recovered {
    err: f64,
    sse_ratio: f64,
    /// `max_j |α̂_j − α_j|` (0 for known `α`).
    alpha_err: f64,
    t_recover: f64,
    runs: usize,
    /// Re-runs with refitted `α` (0 for known `α`).
    passes: usize,
    iterations: usize,
}

/// One seed's figures.
struct Outcome {
    seed: u64,
    err_kmeans: f64,
    sketch_bytes: usize,
    data_bytes: usize,
    t_sketch: f64,
    t_kmeans: f64,
    known: Option<Recovered>,
    estimated: Option<Recovered>,
}

fn run_seed(a: &Args, seed: u64) -> Result<Outcome, Box<dyn std::error::Error>> {
    let (m, p, d) = (a.m, a.p, a.d);
    let n = 10 * p * d;
    // The mixture and the data set.
    let mut rng = stream(seed, 0);
    let c = 1.5 * (d as f64).powf(1.0 / p as f64);
    let mut centroids: Vec<f64> = (0..d * p).map(|_| c * normal(&mut rng)).collect();
    let mut data = vec![0.0; m * p];
    // Cluster j holds round(M w_j) points in a row (the last the rest); equal weights
    // alternate the clusters.
    let bounds: Vec<usize> = match &a.weights {
        Some(w) => w[..d - 1]
            .iter()
            .scan(0.0, |acc, x| {
                *acc += x;
                Some((*acc * m as f64).round() as usize)
            })
            .collect(),
        None => Vec::new(),
    };
    let counts: Vec<f64> = (0..d)
        .map(|j| match &a.weights {
            Some(_) => {
                let lo = if j == 0 { 0 } else { bounds[j - 1] };
                let hi = if j == d - 1 { m } else { bounds[j] };
                (hi - lo) as f64
            }
            None => ((m + d - 1 - j) / d) as f64,
        })
        .collect();
    let true_alpha: Vec<f64> = counts.iter().map(|c| c / m as f64).collect();
    for (i, u) in data.chunks_exact_mut(p).enumerate() {
        let j = match &a.weights {
            Some(_) => bounds.iter().filter(|&&b| i >= b).count(),
            None => i % d,
        };
        for (k, v) in u.iter_mut().enumerate() {
            *v = centroids[j * p + k] + normal(&mut rng);
        }
    }
    let mut mean = vec![0.0; p];
    for u in data.chunks_exact(p) {
        for (s, v) in mean.iter_mut().zip(u) {
            *s += v / m as f64;
        }
    }
    for u in data
        .chunks_exact_mut(p)
        .chain(centroids.chunks_exact_mut(p))
    {
        for (v, mu) in u.iter_mut().zip(&mean) {
            *v -= mu;
        }
    }
    let spread = data.iter().map(|v| v * v).sum::<f64>() / (m * p) as f64;
    // The sketch.
    let x = frequencies(n, p, a.freq_scale / p as f64, seed)?;
    let t0 = Instant::now();
    let y = compensate(&sketch(&data, &x, p)?, &x, p, 1.0)?;
    let t_sketch = t0.elapsed().as_secs_f64();
    // The baseline.
    let t2 = Instant::now();
    let km = kmeans(&data, p, d, 1_000 + seed, 300)?;
    let t_kmeans = t2.elapsed().as_secs_f64();
    let err_kmeans = centroid_error(&km.centroids, &centroids, p)?.relative;
    // Recovery from (X, y) alone, α known or estimated.
    let recovered = |estimate: bool| -> Result<Recovered, Box<dyn std::error::Error>> {
        let t1 = Instant::now();
        let opts = RecoveryOptions {
            restarts: a.restarts as usize,
            noise_var: a.noise_var,
            prior_var: spread,
            seed,
            alpha: (!estimate).then(|| true_alpha.clone()),
            estimate_alpha: estimate,
            ..RecoveryOptions::default()
        };
        let rec = recover(&x, &y, p, d, &opts)?;
        let t_recover = t1.elapsed().as_secs_f64();
        let est = transpose(&rec.f, p, d);
        if !estimate {
            let weights = nnls_weights(&x, &y, &rec.f, p, d)?;
            eprintln!(
                "seed {seed}: residual {:.3e}, runs {:?}, NNLS weights of the estimate {weights:.3?}",
                rec.residual,
                rec.runs
                    .iter()
                    .map(|r| (r.iterations, r.converged, r.residual))
                    .collect::<Vec<_>>()
            );
        }
        let matched = centroid_error(&est, &centroids, p)?;
        let alpha_err = (0..d)
            .map(|j| (rec.alpha[matched.perm[j]] - true_alpha[j]).abs())
            .fold(0.0, f64::max);
        Ok(Recovered {
            err: matched.relative,
            sse_ratio: sse(&data, p, &est)? / km.sse,
            alpha_err,
            t_recover,
            runs: rec.runs.len(),
            passes: rec
                .alpha_passes
                .iter()
                .filter(|q| q.run.iterations > 0)
                .count(),
            iterations: rec.runs.iter().map(|r| r.iterations).sum::<usize>()
                + rec
                    .alpha_passes
                    .iter()
                    .map(|q| q.run.iterations)
                    .sum::<usize>(),
        })
    };
    let known = if a.known {
        Some(recovered(false)?)
    } else {
        None
    };
    let estimated = if a.estimated {
        Some(recovered(true)?)
    } else {
        None
    };
    Ok(Outcome {
        seed,
        err_kmeans,
        sketch_bytes: 2 * n * 8,
        data_bytes: m * p * 8,
        t_sketch,
        t_kmeans,
        known,
        estimated,
    })
}

/// The state evolution's MSE per entry of `F̂` (value, standard error) and the recovery's on
/// `a.model_seeds` model-sampled instances (mean, standard error over the seeds), the model
/// being the example's sizes with `F` iid `N(0, c²)` and Gaussian noise `Δ` on the sketch.
fn model_sampled(a: &Args) -> Result<[(f64, f64); 2], Box<dyn std::error::Error>> {
    let (p, d) = (a.p, a.d);
    let c2 = (1.5 * (d as f64).powf(1.0 / p as f64)).powi(2);
    let model = Model::from_toml(&format!(
        "d = {d}\n[prior]\ntype = \"gaussian\"\nvar = {c2:?}\n[[layers]]\nalpha = {:?}\n\
         channel = {{ type = \"sketch\", noise_var = {:?} }}\nestimator = \"map\"\n",
        (10 * d) as f64,
        a.noise_var
    ))?;
    let laws = model_laws(&model, &model.sizes(p)?)?;
    let se = vamp_state_evolution(
        &model,
        &laws,
        &VampSeOptions {
            samples: 20_000,
            iterations: 12,
            seed: 1,
            informed: Some(1e-2),
            ..VampSeOptions::default()
        },
    )?;
    let last = se.iterations.last().ok_or("no iteration")?.mse_layers[0];
    let mut mse = Vec::new();
    for seed in 0..a.model_seeds {
        let inst = Instance::sample(&model, p, seed)?;
        let opts = RecoveryOptions {
            restarts: a.restarts as usize,
            noise_var: a.noise_var,
            prior_var: c2,
            seed,
            ..RecoveryOptions::default()
        };
        let rec = recover(&inst.weights[0], inst.observation(), p, d, &opts)?;
        let truth = transpose(&inst.layers[0], p, d);
        let err = centroid_error(&transpose(&rec.f, p, d), &truth, p)?.relative;
        mse.push(err * truth.iter().map(|v| v * v).sum::<f64>() / (p * d) as f64);
    }
    let k = mse.len() as f64;
    let mean = mse.iter().sum::<f64>() / k;
    let sd = (mse.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0).max(1.0)).sqrt();
    Ok([(last.value, last.se), (mean, sd / k.sqrt())])
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let a = match parse(&argv) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    let n = 10 * a.p * a.d;
    println!(
        "M = {} points in R^{}, d = {} clusters; sketch of n = {n} complex numbers: {} B against the data's {} B ({:.0}x smaller); recovery reads X and y, n(p + 2) = {} numbers, whatever M",
        a.m,
        a.p,
        a.d,
        16 * n,
        8 * a.m * a.p,
        (8 * a.m * a.p) as f64 / (16 * n) as f64,
        n * (a.p + 2)
    );
    let mut rows = Vec::new();
    for seed in 0..a.seeds {
        match run_seed(&a, seed) {
            Ok(o) => {
                println!(
                    "seed {}: k-means centroid error {:.2e} ({:.3} s); time to sketch {:.3} s",
                    o.seed, o.err_kmeans, o.t_kmeans, o.t_sketch
                );
                for (label, r) in [("known α    ", o.known), ("estimated α", o.estimated)] {
                    if let Some(r) = r {
                        println!(
                            "  {label}: centroid error {:.2e}, SSE / k-means' {:.4}, α error {:.1e}; recovery {:.3} s ({} runs, {} re-runs, {} iterations)",
                            r.err,
                            r.sse_ratio,
                            r.alpha_err,
                            r.t_recover,
                            r.runs,
                            r.passes,
                            r.iterations
                        );
                    }
                }
                rows.push(o);
            }
            Err(e) => {
                eprintln!("error: seed {seed}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if a.model_seeds > 0 {
        match model_sampled(&a) {
            Ok([(se, se_err), (alg, alg_err)]) => {
                let c2 = (1.5 * (a.d as f64).powf(1.0 / a.p as f64)).powi(2);
                println!(
                    "model-sampled (F iid N(0, {c2:.3}), y = Σ α_j e^{{i z_j}} + N(0, {:e}) per part, p = {}, n = {}): MSE of F per entry, state evolution (informed start) {:.3e} ± {:.1e}, recovery on {} seeds {:.3e} ± {:.1e} (up to order); relative centroid error predicted {:.2e}, measured {:.2e}",
                    a.noise_var,
                    a.p,
                    n,
                    se,
                    se_err,
                    a.model_seeds,
                    alg,
                    alg_err,
                    se / c2,
                    alg / c2
                );
            }
            Err(e) => {
                eprintln!("error: model-sampled instances: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "(centroid errors relative, Σ‖f̂ − f‖²/Σ‖f‖² up to order; wall time {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    if let Some(path) = &a.out {
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(path)?;
            writeln!(
                f,
                "seed,alpha,err_sketch,err_kmeans,sse_ratio,alpha_err,sketch_bytes,data_bytes,t_sketch,t_recover,t_kmeans,runs,reruns,iterations"
            )?;
            for o in &rows {
                for (label, r) in [("known", o.known), ("estimated", o.estimated)] {
                    let Some(r) = r else { continue };
                    writeln!(
                        f,
                        "{},{label},{},{},{},{},{},{},{},{},{},{},{},{}",
                        o.seed,
                        r.err,
                        o.err_kmeans,
                        r.sse_ratio,
                        r.alpha_err,
                        o.sketch_bytes,
                        o.data_bytes,
                        o.t_sketch,
                        r.t_recover,
                        o.t_kmeans,
                        r.runs,
                        r.passes,
                        r.iterations
                    )?;
                }
            }
            Ok(())
        };
        if let Err(e) = write() {
            eprintln!("error: {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
