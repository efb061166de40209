//! The `mlamp` binary: byte-for-byte reproducibility and one-line errors.

use std::process::{Command, Output};

fn mlamp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlamp"))
        .args(args)
        .output()
        .expect("runs")
}

fn model(name: &str) -> String {
    format!("{}/examples/models/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn same_seed_gives_the_same_json_bytes() {
    let m = model("sparse_regression");
    let args = [
        "run",
        m.as_str(),
        "--n",
        "300",
        "--seed",
        "5",
        "--iters",
        "40",
        "--json",
    ];
    let a = mlamp(&args);
    let b = mlamp(&args);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let c = mlamp(&[
        "run",
        m.as_str(),
        "--n",
        "300",
        "--seed",
        "6",
        "--iters",
        "40",
        "--json",
    ]);
    assert_ne!(a.stdout, c.stdout, "another seed gives another instance");
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    for key in [
        "mse_signal",
        "mse_layers",
        "trace",
        "iterations",
        "converged",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["mse_layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["trace"].as_array().unwrap().len() as u64,
        v["iterations"].as_u64().unwrap()
    );
}

fn assert_one_line_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
}

#[test]
fn bad_model_files_exit_with_one_line_errors() {
    let dir = std::env::temp_dir().join(format!("mlamp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(model("sparse_regression")).unwrap();
    let cases = [
        ("typo", good.replace("rho = 0.3", "rhoo = 0.3"), "rhoo"),
        ("value", good.replace("rho = 0.3", "rho = 0.0"), "prior.rho"),
        (
            "noise",
            good.replace("noise_var = 1e-8", "noise_var = -1.0"),
            "layers[1].channel.noise_var",
        ),
        (
            "syntax",
            good.replace("[prior]", "[prior"),
            "bad-syntax.toml:",
        ),
        (
            "empty",
            "[prior]\ntype = \"binary\"\nlayers = []\n".to_string(),
            "layers",
        ),
    ];
    for (name, text, needle) in cases {
        let path = dir.join(format!("bad-{name}.toml"));
        std::fs::write(&path, text).unwrap();
        assert_one_line_error(
            &mlamp(&["run", path.to_str().unwrap(), "--n", "50"]),
            needle,
        );
    }
    assert_one_line_error(&mlamp(&["run", "/nonexistent/model.toml"]), "cannot read");
    let m = model("sparse_regression");
    assert_one_line_error(&mlamp(&["run", m.as_str(), "--damping", "1.5"]), "damping");
    assert_one_line_error(&mlamp(&["run", m.as_str(), "--n", "0"]), "n");
}

#[test]
fn se_json_has_the_documented_fields() {
    let m = model("perceptron");
    let out = mlamp(&["se", m.as_str(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "mse_signal_amp",
        "mmse_signal",
        "free_energy_amp",
        "free_energy_informed",
        "mse_layers_amp",
        "iterations",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    // α = 3 is above the correlated perceptron's algorithmic threshold (≈ 1.9 at α2 = 1):
    // perfect recovery, at the SE's floor of 1e-12 relative MSE, and φ = ln 2 (the entropy of
    // the signal, all of which y reveals).
    assert!(v["mse_signal_amp"].as_f64().unwrap() < 1e-10);
    assert_eq!(v["mse_layers_amp"].as_array().unwrap().len(), 2);
    assert!((v["free_energy_amp"].as_f64().unwrap() - std::f64::consts::LN_2).abs() < 1e-4);
}

#[test]
fn phase_scan_is_the_same_on_one_thread_and_two() {
    let dir = std::env::temp_dir().join(format!("mlamp-phase-{}", std::process::id()));
    let perceptron = dir.join("perceptron1.toml");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        &perceptron,
        "[prior]\ntype = \"binary\"\n[[layers]]\nalpha = 1.5\nchannel = { type = \"sign\" }\n",
    )
    .unwrap();
    let run = |threads: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_mlamp"))
            .args([
                "phase",
                perceptron.to_str().unwrap(),
                "--layer",
                "1",
                "--from",
                "1.0",
                "--to",
                "2.0",
            ])
            .args(["--steps", "6", "--out", dir.to_str().unwrap(), "--json"])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let csv = std::fs::read(dir.join("phase.csv")).unwrap();
        (out.stdout, csv)
    };
    let (one, csv_one) = run("1");
    let (two, csv_two) = run("2");
    assert_eq!(one, two);
    assert_eq!(csv_one, csv_two);
    let v: serde_json::Value = serde_json::from_slice(&one).unwrap();
    // The binary perceptron's thresholds from the literature: 1.493 (AMP) and 1.245–1.249.
    assert!(
        (v["alpha_alg"].as_f64().unwrap() - 1.493).abs() < 3e-3,
        "{v}"
    );
    assert!(
        (v["alpha_it"].as_f64().unwrap() - 1.245).abs() < 5e-3,
        "{v}"
    );
    assert_eq!(v["curve"].as_array().unwrap().len(), 6);
    let svg = std::fs::read_to_string(dir.join("phase.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("alpha_alg"));
    assert_one_line_error(
        &mlamp(&[
            "phase",
            perceptron.to_str().unwrap(),
            "--layer",
            "2",
            "--from",
            "1",
            "--to",
            "2",
        ]),
        "layer",
    );
}
