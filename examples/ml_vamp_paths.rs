//! ML-Mat-VAMP's two linear paths, the SVD and the matrix-free one, against ML-AMP on the same
//! instance: time and peak memory of one configuration per process.
//!
//! ```sh
//! cargo run --release --example ml_vamp_paths -- --n 4000 --path cg      # svd | cg | amp
//! cargo run --release --example ml_vamp_paths -- --n 2000 --path svd --model examples/models/multitask.toml
//! ```
//!
//! Samples the instance (seed 0) of the model (default: the ML-AMP paper's eq. 18,
//! `examples/models/sparse_regression.toml`), then runs the chosen algorithm to its default
//! tolerance and prints one line: the setup's seconds (the SVDs, or the singular values
//! alone), the iterations' seconds, the iterations, the conjugate-gradient products, the MSE
//! of the signal, the weights' bytes and the process's peak resident memory (`VmHWM` of
//! `/proc/self/status`, which includes the instance) as bytes and as a multiple of the weights'.
//! One process per configuration, so that each peak is its own.

use std::time::Instant;

use mlamp::algo::linear_path::LinearPath;
use mlamp::algo::vamp::{LinearData, decompositions, run_ml_vamp_with, spectra};
use mlamp::{AmpOptions, Instance, Model, VampOptions, run_ml_amp};

fn peak_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let n: usize = get("--n").map_or(Ok(2000), |s| s.parse())?;
    let path = get("--path").unwrap_or_else(|| "cg".into());
    let file = get("--model").unwrap_or_else(|| "examples/models/sparse_regression.toml".into());
    let model = Model::from_file(std::path::Path::new(&file))?;
    let inst = Instance::sample(&model, n, 0)?;
    let weight_bytes: usize = inst.weights.iter().map(|w| 8 * w.len()).sum();
    let start = Instant::now();
    let (setup, iters, iterations, products, mse) = match path.as_str() {
        "amp" => {
            let r = run_ml_amp(&model, &inst, &AmpOptions::default())?;
            let t = start.elapsed().as_secs_f64();
            (0.0, t, r.iterations, 0, r.mse_layers[0])
        }
        "svd" | "cg" => {
            let (svds, values);
            let data: Vec<LinearData> = if path == "svd" {
                svds = decompositions(&inst)?;
                svds.iter().map(LinearData::Svd).collect()
            } else {
                values = spectra(&inst)?;
                values.iter().map(|v| LinearData::MatrixFree(v)).collect()
            };
            let setup = start.elapsed().as_secs_f64();
            let opts = VampOptions {
                linear: path.parse::<LinearPath>()?,
                ..VampOptions::default()
            };
            let r = run_ml_vamp_with(&model, &inst, &data, &opts)?;
            let t = start.elapsed().as_secs_f64() - setup;
            (setup, t, r.iterations, r.cg_products, r.mse_layers[0])
        }
        other => return Err(format!("--path {other}: svd, cg or amp").into()),
    };
    let peak = peak_bytes();
    println!(
        "n {n} path {path} setup {setup:.2} s iterations {iters:.2} s total {:.2} s ({iterations} iterations, {products} cg products) mse {mse:.4e} weights {weight_bytes} B peak {peak} B ({:.2}x weights) threads {}",
        setup + iters,
        peak as f64 / weight_bytes as f64,
        rayon::current_num_threads(),
    );
    Ok(())
}
