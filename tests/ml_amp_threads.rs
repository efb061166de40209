//! ML-AMP gives the same bits on any number of threads: its weight products split into pieces
//! fixed by the matrices' shapes (`mlamp::core::operator::split`), each entry summed by one
//! piece in the core's order. Checked on the paper's eq. 18 at n = 1000, where every product
//! splits (so the pieces really run on different threads), through the library and the CLI.

use std::process::Command;

use mlamp::core::ml_amp::VarianceMode;
use mlamp::core::operator::split;
use mlamp::{AmpOptions, AmpResult, Instance, Model, run_ml_amp};

const MODEL: &str = "examples/models/sparse_regression.toml";

/// The size of the runs: eq. 18's matrices are 1000 × 1000 and 800 × 1000.
const N: usize = 1000;

#[test]
fn the_products_split_at_this_size() {
    for rows in [N, 800] {
        assert!(split::forward_rows::<f64>(rows, N) < rows, "{rows} rows");
        assert!(split::transposed_cols::<f64>(rows, N) < N, "{rows} rows");
    }
}

/// Every bit of a run: estimates, variances, per-iteration MSEs, and the counters.
fn bits(r: &AmpResult) -> (Vec<u64>, Vec<u64>, Vec<u64>, [usize; 4]) {
    let flat = |v: &[Vec<f64>]| v.iter().flatten().map(|x| x.to_bits()).collect();
    (
        flat(&r.estimates),
        flat(&r.variances),
        flat(&r.trace),
        [r.iterations, r.kept_iteration, r.rejected, r.clamped],
    )
}

#[test]
fn one_two_and_three_threads_give_the_same_bits() {
    let m = Model::from_file(std::path::Path::new(MODEL)).unwrap();
    let inst = Instance::sample(&m, N, 5).unwrap();
    for variance in [VarianceMode::Full, VarianceMode::Mean] {
        let opts = AmpOptions {
            max_iter: 60,
            variance,
            ..AmpOptions::default()
        };
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| run_ml_amp(&m, &inst, &opts).unwrap())
        };
        let one = on(1);
        // The run recovers the signal (easy phase, α = 0.8): the bits compared are those of a
        // working iteration, over many iterations.
        assert!(
            one.mse_signal() < 1e-4,
            "{variance:?}: {}",
            one.mse_signal()
        );
        assert!(one.trace.len() > 20, "{variance:?}");
        for threads in [2, 3] {
            assert_eq!(
                bits(&on(threads)),
                bits(&one),
                "{variance:?}, {threads} threads"
            );
        }
    }
}

/// `mlamp run --json` on `threads` threads, by the flag or by RAYON_NUM_THREADS.
fn cli(args: &[&str], flag: Option<&str>, env: Option<&str>) -> Vec<u8> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlamp"));
    cmd.args(["run", MODEL, "--n", "1000", "--seed", "3", "--json"])
        .args(args)
        .env_remove("RAYON_NUM_THREADS");
    if let Some(t) = flag {
        cmd.args(["--threads", t]);
    }
    if let Some(t) = env {
        cmd.env("RAYON_NUM_THREADS", t);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn the_cli_prints_the_same_json_on_any_thread_count() {
    for args in [&[][..], &["--mean-variance"][..]] {
        let one = cli(args, Some("1"), None);
        let v: serde_json::Value = serde_json::from_slice(&one).unwrap();
        assert!(v["converged"].as_bool().unwrap(), "{v}");
        assert!(v["mse_signal"].as_f64().unwrap() < 1e-4, "{v}");
        assert_eq!(cli(args, Some("2"), None), one, "{args:?}, --threads 2");
        assert_eq!(cli(args, Some("3"), None), one, "{args:?}, --threads 3");
        assert_eq!(
            cli(args, None, Some("2")),
            one,
            "{args:?}, RAYON_NUM_THREADS=2"
        );
        // The flag wins over the environment.
        assert_eq!(cli(args, Some("3"), Some("1")), one, "{args:?}, both");
    }
}

#[test]
fn zero_threads_is_a_one_line_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_mlamp"))
        .args(["run", MODEL, "--n", "50", "--threads", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("--threads") && err.contains("at least 1"),
        "{err}"
    );
}
