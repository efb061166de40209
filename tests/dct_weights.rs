//! `dct` weights (a subsampled randomised DCT, never stored): ML-Mat-VAMP against its state
//! evolution through the DCT's exact spectrum, the memory estimate that follows the operator,
//! and the CLI's refusals (ML-AMP, `--save`).

use std::process::Command;

use mlamp::Model;
use mlamp::algo::linear_path::LinearPath;
use mlamp::algo::vamp::{VampOptions, run_ml_vamp};
use mlamp::instance::Instance;
use mlamp::memory::{Usage, estimate};
use mlamp::se::vamp::report::model_laws;
use mlamp::se::vamp::{VampSeOptions, vamp_state_evolution};

const MODEL: &str = "examples/models/sparse_regression_dct.toml";

/// A tall DCT (more outputs than inputs: `W = c Qᵀ`) then a wide one, `d = 2`, all
/// Gaussian: every branch of the operator in one network.
const TALL_WIDE: &str = "d = 2\n[prior]\ntype = \"gaussian\"\n\
    [[layers]]\nalpha = 1.5\nchannel = { type = \"linear\", noise_var = 0.1 }\n\
    weights = { type = \"dct\" }\n\
    [[layers]]\nalpha = 0.5\nchannel = { type = \"linear\", noise_var = 0.01 }\n\
    weights = { type = \"dct\" }\n";

/// Each iteration's SE within 5 % + 3 combined standard errors of the algorithm's mean over
/// `seeds` undamped runs (what tests/vamp_state_evolution.rs asks of Haar-like weights).
fn assert_se_tracks(name: &str, m: &Model, n: usize, iterations: usize, seeds: u64) {
    let laws = model_laws(m, &m.sizes(n).unwrap()).unwrap();
    let se = vamp_state_evolution(
        m,
        &laws,
        &VampSeOptions {
            samples: 40_000,
            iterations,
            seed: 1,
            ..VampSeOptions::default()
        },
    )
    .unwrap();
    let opts = VampOptions {
        damping: 1.0,
        max_iter: iterations,
        tol: 0.0,
        ..VampOptions::default()
    };
    let runs: Vec<Vec<Vec<f64>>> = (0..seeds)
        .map(|seed| {
            let inst = Instance::sample(m, n, 100 + seed).unwrap();
            // The instance holds the operator, not an n_out × n_in matrix.
            assert!(inst.weights.iter().all(Vec::is_empty));
            run_ml_vamp(m, &inst, &opts).unwrap().trace
        })
        .collect();
    let k = seeds as f64;
    for (t, it) in se.iterations.iter().enumerate() {
        for (layer, e) in it.mse_layers.iter().enumerate() {
            let v: Vec<f64> = runs.iter().map(|r| r[t][layer]).collect();
            let mean = v.iter().sum::<f64>() / k;
            let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
            let ase = sd / k.sqrt();
            println!(
                "{name} t {} layer {layer}: SE {:.4e} ± {:.1e}, algorithm {mean:.4e} ± {ase:.1e}",
                t + 1,
                e.value,
                e.se
            );
            let tol = 0.05 * mean + 3.0 * e.se.hypot(ase);
            assert!(
                (e.value - mean).abs() <= tol,
                "{name} t {} layer {layer}: SE {} vs algorithm {mean} ± {ase}",
                t + 1,
                e.value
            );
        }
    }
}

#[test]
fn state_evolution_tracks_ml_vamp_on_dct_weights() {
    let text = std::fs::read_to_string(MODEL).unwrap();
    let m = Model::from_toml(&text).unwrap();
    assert_se_tracks("sparse regression", &m, 10_000, 10, 4);
    let m = Model::from_toml(TALL_WIDE).unwrap();
    assert_se_tracks("tall then wide", &m, 4000, 8, 4);
}

#[test]
fn the_memory_estimate_follows_the_operator() {
    let text = std::fs::read_to_string(MODEL).unwrap();
    let dct = Model::from_toml(&text).unwrap();
    let dense = Model::from_toml(&text.replace("weights = { type = \"dct\" }", "")).unwrap();
    let n = 1_000_000;
    // Dense weights: ‖W1‖ + ‖W2‖ alone are 1.8·10¹² entries, 14 TB.
    let dense_bytes = estimate(&dense, n, Usage::Vamp(LinearPath::Svd));
    assert!(dense_bytes > 1.4e13, "{dense_bytes:e}");
    // The DCT: a few vectors per variable, O(n), and linear in n: 602 MB, not below the
    // 391 MB that `mlamp run` on this model at n = 10⁶ peaks at (VmHWM, measured once),
    // within 1.6× of it.
    let bytes = estimate(&dct, n, Usage::Vamp(LinearPath::Svd));
    assert!(bytes > 3.91e8 && bytes < 1.6 * 3.91e8, "{bytes:e}");
    let ratio = estimate(&dct, 10 * n, Usage::Vamp(LinearPath::Svd)) / bytes;
    assert!((ratio - 10.0).abs() < 1e-9, "{ratio}");
}

fn mlamp(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mlamp"))
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn the_cli_runs_dct_weights_with_ml_vamp_and_refuses_the_rest() {
    // ML-AMP assumes iid entries: a one-line error naming the field.
    let out = mlamp(&["run", MODEL, "--n", "2000"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("layers[0].weights") && err.contains("--algorithm vamp"),
        "{err}"
    );
    // --save would write an n_out × n_in matrix: refused before sampling.
    let dir = std::env::temp_dir().join(format!("mlamp-dct-save-{}", std::process::id()));
    let dir_s = dir.display().to_string();
    let out = mlamp(&[
        "run",
        MODEL,
        "--algorithm",
        "vamp",
        "--n",
        "2000",
        "--save",
        &dir_s,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("layers[0].weights") && err.contains("dct"),
        "{err}"
    );
    assert!(!dir.exists());
    // ML-Mat-VAMP runs and recovers (α = 0.8 > the ρ = 0.3 spinodal); its SE runs too.
    let out = mlamp(&[
        "run",
        MODEL,
        "--algorithm",
        "vamp",
        "--n",
        "20000",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mse = v["mse_signal"].as_f64().unwrap();
    assert!(mse < 1e-6, "{mse}");
    let out = mlamp(&["vamp-se", MODEL, "--iters", "30", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("{v}");
}
