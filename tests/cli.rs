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
