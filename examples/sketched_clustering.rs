//! Sketched clustering (section 2.2 of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher,
//! "Matrix inference and estimation in multi-layer models"): the centroids of a Gaussian
//! mixture recovered by ML-Mat-VAMP from a sketch of the data set alone, against k-means on
//! the full data.
//!
//! ```sh
//! cargo run --release --example sketched_clustering -- [--m 100000] [--p 10] [--d 4] [--seeds 5] [--out FILE.csv]
//! ```
//!
//! Per seed (default 3): `d = 4` centroids `f_j ~ N(0, c² I_p)`, `c = 1.5 d^{1/p}`, in
//! `R^p`, `p = 10`; `M = 10⁵` points, `M/d` from each cluster `N(f_j, I_p)` (weights
//! `α_j = 1/d`), centred by their mean; `n = 10 p d = 400` frequencies `x_i ~ N(0, I_p/p)`:
//! `‖x_i‖ ≈ 1`, the inverse of the clusters' spread, as the sketching literature scales its
//! frequencies to the data's within-cluster scale (Keriven, Bourrier, Gribonval, Pérez,
//! *Sketching for large-scale learning of mixture models*; `--freq-scale κ` multiplies the
//! variance: with one run per seed on 8 seeds at `M = 2·10⁴`, 3 runs recovered the centroids
//! at κ = 1, 4 at κ = ½, none at κ = ¼ (the estimate shrinks to 0: the phases carry too
//! little) and 1 at κ = 2 (they wrap too often)). The sketch `y_i = (1/M) Σ_m e^{√−1 x_iᵀ u_m}` (`n` complex
//! numbers) with the clusters' known Gaussian damping `e^{−‖x_i‖²/2}` divided out; then
//! ML-Mat-VAMP (MAP, the `sketch` output with `α_j = 1/d` known, not estimated; a Gaussian
//! prior of the data's variance on the rows of `F`; `Δ = 1e-2`, `--noise-var`, a tempered
//! likelihood: the sketch's actual misfit is ~1e-5 per entry; one run per seed on those 8
//! seeds recovered 3 at `Δ = 1e-2`, 4 at `3e-3`, and at `1e-3` 1 of the first 3 seeds, the
//! other two running 200 iterations without converging; `1e-2` converges fastest) on `(X, y)` alone, through `mlamp::clustering::recovery::recover`: up to
//! `--restarts` runs (default 8) from random starts, stopping at the first that converges,
//! the iterate of lowest sketch residual kept (truth-free). The baseline: one k-means++
//! seeding and Lloyd's iterations on the full data. The NNLS weights of the recovered
//! centroids (`α` estimated, a check of the known `1/d`) go to stderr with each run.
//!
//! Prints per seed the centroid error up to order of both (relative,
//! `Σ‖f̂ − f‖²/Σ‖f‖²` against the mixture's centres), the clustering SSE of the sketch's
//! centroids relative to k-means', the times to build the sketch (`∝ M`), to recover from it
//! (independent of `M`: it reads `X` and `y` only) and to run k-means; the sketch's size
//! against the data's once. `--out FILE.csv` writes the same per seed.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use mlamp::clustering::kmeans::{kmeans, sse};
use mlamp::clustering::matching::centroid_error;
use mlamp::clustering::recovery::{RecoveryOptions, recover};
use mlamp::clustering::sketch::{compensate, frequencies, nnls_weights, sketch};
use mlamp::clustering::transpose;
use mlamp::streams::{normal, stream};

/// Command-line settings.
struct Args {
    m: usize,
    p: usize,
    d: usize,
    seeds: u64,
    restarts: u64,
    noise_var: f64,
    freq_scale: f64,
    out: Option<String>,
}

const USAGE: &str = "usage: sketched_clustering [--m M] [--p P] [--d D] [--seeds S] [--restarts R] [--noise-var V] [--out FILE.csv]";

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        m: 100_000,
        p: 10,
        d: 4,
        seeds: 3,
        restarts: 8,
        noise_var: 1e-2,
        freq_scale: 1.0,
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
            "--out" => a.out = Some(value()?),
            "-h" | "--help" => return Err(String::new()),
            s => return Err(format!("unknown argument {s}")),
        }
    }
    if a.d > 8 {
        return Err("--d must be at most 8".into());
    }
    Ok(a)
}

/// One seed's figures.
struct Outcome {
    seed: u64,
    err_sketch: f64,
    err_kmeans: f64,
    sse_ratio: f64,
    sketch_bytes: usize,
    data_bytes: usize,
    t_sketch: f64,
    t_recover: f64,
    t_kmeans: f64,
    iterations: usize,
    runs: usize,
}

fn run_seed(a: &Args, seed: u64) -> Result<Outcome, Box<dyn std::error::Error>> {
    let (m, p, d) = (a.m, a.p, a.d);
    let n = 10 * p * d;
    // The mixture and the data set.
    let mut rng = stream(seed, 0);
    let c = 1.5 * (d as f64).powf(1.0 / p as f64);
    let mut centroids: Vec<f64> = (0..d * p).map(|_| c * normal(&mut rng)).collect();
    let mut data = vec![0.0; m * p];
    for (i, u) in data.chunks_exact_mut(p).enumerate() {
        let j = i % d;
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
    // Recovery from (X, y) alone.
    let t1 = Instant::now();
    let opts = RecoveryOptions {
        restarts: a.restarts as usize,
        noise_var: a.noise_var,
        prior_var: spread,
        seed,
        ..RecoveryOptions::default()
    };
    let rec = recover(&x, &y, p, d, &opts)?;
    let t_recover = t1.elapsed().as_secs_f64();
    let est = transpose(&rec.f, p, d);
    let weights = nnls_weights(&x, &y, &rec.f, p, d)?;
    eprintln!(
        "seed {seed}: residual {:.3e}, runs {:?}, NNLS weights of the estimate {weights:.3?}",
        rec.residual,
        rec.runs
            .iter()
            .map(|r| (r.iterations, r.converged, r.residual))
            .collect::<Vec<_>>()
    );
    let iterations = rec.runs.iter().map(|r| r.iterations).sum();
    // The baseline.
    let t2 = Instant::now();
    let km = kmeans(&data, p, d, 1_000 + seed, 300)?;
    let t_kmeans = t2.elapsed().as_secs_f64();
    let err_sketch = centroid_error(&est, &centroids, p)?.relative;
    let err_kmeans = centroid_error(&km.centroids, &centroids, p)?.relative;
    let sse_ratio = sse(&data, p, &est)? / km.sse;
    Ok(Outcome {
        seed,
        err_sketch,
        err_kmeans,
        sse_ratio,
        sketch_bytes: 2 * n * 8,
        data_bytes: m * p * 8,
        t_sketch,
        t_recover,
        t_kmeans,
        iterations,
        runs: rec.runs.len(),
    })
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
                    "seed {}: centroid error sketch {:.2e} k-means {:.2e}, SSE / k-means' {:.4}; time to sketch {:.3} s, to recover from the sketch {:.3} s ({} runs, {} iterations), k-means {:.3} s",
                    o.seed,
                    o.err_sketch,
                    o.err_kmeans,
                    o.sse_ratio,
                    o.t_sketch,
                    o.t_recover,
                    o.runs,
                    o.iterations,
                    o.t_kmeans,
                );
                rows.push(o);
            }
            Err(e) => {
                eprintln!("error: seed {seed}: {e}");
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
                "seed,err_sketch,err_kmeans,sse_ratio,sketch_bytes,data_bytes,t_sketch,t_recover,t_kmeans,runs,iterations"
            )?;
            for o in &rows {
                writeln!(
                    f,
                    "{},{},{},{},{},{},{},{},{},{},{}",
                    o.seed,
                    o.err_sketch,
                    o.err_kmeans,
                    o.sse_ratio,
                    o.sketch_bytes,
                    o.data_bytes,
                    o.t_sketch,
                    o.t_recover,
                    o.t_kmeans,
                    o.runs,
                    o.iterations
                )?;
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
