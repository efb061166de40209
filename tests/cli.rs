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
    // The legend names each threshold with its value.
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains("algorithmic = 1.49"), "{svg}");
    assert!(svg.contains("information-theoretic = 1.24"), "{svg}");
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

// ---------------------------------------------------------------------------------------------
// ML-Mat-VAMP (`--algorithm vamp`): JSON schema, reproducibility and the errors that route a
// model to the algorithm that runs it.

/// A fresh directory under the system's temp dir, unique to this process and `tag`.
fn fresh_dir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("mlamp-cli-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

fn mlamp_env(args: &[&str], threads: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlamp"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .expect("runs")
}

/// The invariants every `run --json` object keeps, whatever the algorithm: `layers` MSEs,
/// finite ones, the signal's first, a trace of one entry per iteration.
fn check_run_json(v: &serde_json::Value, layers: usize) {
    let mse = v["mse_layers"].as_array().expect("mse_layers");
    assert_eq!(mse.len(), layers, "{v}");
    for e in mse {
        let e = e.as_f64().expect("a number");
        assert!(e.is_finite() && e >= 0.0, "{v}");
    }
    assert_eq!(v["mse_signal"], mse[0], "{v}");
    let iterations = v["iterations"].as_u64().unwrap();
    let trace = v["trace"].as_array().unwrap();
    let trace_layers = v["trace_layers"].as_array().unwrap();
    assert!(!v["diverged"].as_bool().unwrap(), "{v}");
    assert_eq!(trace.len() as u64, iterations, "{v}");
    assert_eq!(trace_layers.len() as u64, iterations, "{v}");
    for (t, tl) in trace.iter().zip(trace_layers) {
        let tl = tl.as_array().unwrap();
        assert_eq!(tl.len(), layers);
        assert_eq!(t, &tl[0], "trace is the signal's column of trace_layers");
        assert!(t.as_f64().unwrap().is_finite());
    }
    let kept = v["kept_iteration"].as_u64().unwrap();
    assert!(kept >= 1 && kept <= iterations, "{v}");
    assert!(v["converged"].is_boolean());
}

#[test]
fn vamp_json_has_the_fields_of_amp_and_its_own() {
    let m = model("sparse_regression");
    let common = [
        "run",
        m.as_str(),
        "--n",
        "300",
        "--seed",
        "3",
        "--iters",
        "30",
    ];
    let amp = json_of(&mlamp(&[&common[..], &["--json"]].concat()));
    let vamp = json_of(&mlamp(
        &[&common[..], &["--algorithm", "vamp", "--json"]].concat(),
    ));
    for key in [
        "mse_signal",
        "mse_layers",
        "trace",
        "trace_layers",
        "iterations",
        "converged",
        "diverged",
        "kept_iteration",
    ] {
        assert!(amp.get(key).is_some(), "ML-AMP lacks {key}");
        assert!(vamp.get(key).is_some(), "ML-Mat-VAMP lacks {key}");
    }
    for key in ["interventions", "interventions_layers", "d", "algorithm"] {
        assert!(vamp.get(key).is_some(), "ML-Mat-VAMP lacks {key}");
    }
    // Every field ML-AMP prints, but its own `clamped` and `rejected` (the adaptive
    // damping's undone steps), ML-Mat-VAMP prints too.
    for key in amp.as_object().unwrap().keys() {
        if key != "clamped" && key != "rejected" {
            assert!(vamp.get(key).is_some(), "ML-Mat-VAMP lacks ML-AMP's {key}");
        }
    }
    assert_ne!(amp["algorithm"], vamp["algorithm"]);
    assert_eq!(vamp["d"], 1);
    assert_eq!(amp["sizes"], vamp["sizes"], "the same instance");
    check_run_json(&amp, 2);
    check_run_json(&vamp, 2);
    assert!(vamp["iterations"].as_u64().unwrap() <= 30);
    let per_layer = vamp["interventions_layers"].as_array().unwrap();
    assert_eq!(per_layer.len(), 2);
    assert_eq!(
        per_layer.iter().map(|c| c.as_u64().unwrap()).sum::<u64>(),
        vamp["interventions"].as_u64().unwrap()
    );
}

#[test]
fn vamp_same_seed_gives_the_same_bytes_for_d_1_and_d_4() {
    for (name, n) in [("sparse_regression", "300"), ("multitask", "300")] {
        let m = model(name);
        let run = |seed: &str| {
            mlamp(&[
                "run",
                m.as_str(),
                "--algorithm",
                "vamp",
                "--n",
                n,
                "--seed",
                seed,
                "--iters",
                "25",
                "--json",
            ])
        };
        let a = run("11");
        let b = run("11");
        let c = run("12");
        assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
        assert_eq!(a.stdout, b.stdout, "{name}");
        assert_ne!(a.stdout, c.stdout, "{name}: another seed, another instance");
    }
}

#[test]
fn vamp_is_the_same_on_one_thread_and_two() {
    for name in ["sparse_regression", "multitask"] {
        let m = model(name);
        let args = [
            "run",
            m.as_str(),
            "--algorithm",
            "vamp",
            "--n",
            "300",
            "--seed",
            "4",
            "--iters",
            "25",
            "--json",
        ];
        let one = mlamp_env(&args, "1");
        let two = mlamp_env(&args, "2");
        assert!(
            one.status.success(),
            "{}",
            String::from_utf8_lossy(&one.stderr)
        );
        assert_eq!(one.stdout, two.stdout, "{name}");
    }
}

#[test]
fn d_4_vamp_gives_finite_mses_one_per_layer() {
    let m = model("multitask");
    let v = json_of(&mlamp(&[
        "run",
        m.as_str(),
        "--algorithm",
        "vamp",
        "--n",
        "300",
        "--iters",
        "25",
        "--json",
    ]));
    assert_eq!(v["d"], 4);
    check_run_json(&v, 1);
    assert_eq!(v["interventions_layers"].as_array().unwrap().len(), 1);
    // The sizes are rows: n and round(0.35 n).
    assert_eq!(v["sizes"], serde_json::json!([300, 105]));
}

#[test]
fn amp_refuses_what_only_vamp_runs_with_one_line_errors() {
    for (name, needle) in [("multitask", "d"), ("ill_conditioned", "weights")] {
        let m = model(name);
        let out = mlamp(&["run", m.as_str(), "--n", "100"]);
        assert_ne!(out.status.code(), Some(0), "{name}");
        assert_one_line_error(&out, needle);
        assert_one_line_error(&out, "--algorithm vamp");
        // The same, with the default spelled out.
        let out = mlamp(&["run", m.as_str(), "--n", "100", "--algorithm", "amp"]);
        assert_one_line_error(&out, needle);
        assert_one_line_error(&out, "--algorithm vamp");
    }
    // The field is named at the start of the message.
    let out = mlamp(&["run", model("multitask").as_str(), "--n", "100"]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: d"));
    let out = mlamp(&["run", model("ill_conditioned").as_str(), "--n", "100"]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: layers[0].weights"));
    // ... and ML-Mat-VAMP runs both.
    for name in ["multitask", "ill_conditioned"] {
        let m = model(name);
        let v = json_of(&mlamp(&[
            "run",
            m.as_str(),
            "--algorithm",
            "vamp",
            "--n",
            "200",
            "--iters",
            "20",
            "--json",
        ]));
        check_run_json(&v, 1);
    }
}

#[test]
fn options_of_the_other_algorithm_are_errors() {
    let m = model("sparse_regression");
    for est in ["mmse", "map"] {
        assert_one_line_error(
            &mlamp(&["run", m.as_str(), "--n", "100", "--estimator", est]),
            "estimator",
        );
        assert_one_line_error(
            &mlamp(&[
                "run",
                m.as_str(),
                "--n",
                "100",
                "--algorithm",
                "amp",
                "--estimator",
                est,
            ]),
            "estimator",
        );
    }
    assert_one_line_error(
        &mlamp(&[
            "run",
            m.as_str(),
            "--n",
            "100",
            "--algorithm",
            "vamp",
            "--mean-variance",
        ]),
        "mean-variance",
    );
    // A sign channel has no MAP estimator.
    let p = model("perceptron");
    assert_one_line_error(
        &mlamp(&[
            "run",
            p.as_str(),
            "--n",
            "100",
            "--algorithm",
            "vamp",
            "--estimator",
            "map",
        ]),
        "estimator",
    );
    // Its MMSE estimator runs (d = 1).
    let v = json_of(&mlamp(&[
        "run",
        p.as_str(),
        "--n",
        "100",
        "--algorithm",
        "vamp",
        "--estimator",
        "mmse",
        "--iters",
        "10",
        "--json",
    ]));
    assert_eq!(v["mse_layers"].as_array().unwrap().len(), 2);
}

#[test]
fn d_4_sigmoid_needs_map() {
    let dir = fresh_dir("sigmoid");
    let path = dir.join("sigmoid_d4.toml");
    std::fs::write(
        &path,
        r#"d = 4
[prior]
type = "row-sparse"
rho = 0.3
var = 1.0

[[layers]]
alpha = 1.5
channel = { type = "sigmoid", noise_var = 0.0 }
estimator = "mmse"

[[layers]]
alpha = 1.0
channel = { type = "linear", noise_var = 1e-4 }
"#,
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let vamp = [
        "run",
        p,
        "--algorithm",
        "vamp",
        "--n",
        "120",
        "--iters",
        "15",
    ];
    let out = mlamp(&vamp);
    assert_one_line_error(&out, "estimator");
    assert_one_line_error(&out, "map");
    assert_one_line_error(&out, "layers[0]");
    // `--estimator mmse` is the file's choice, and fails the same way.
    assert_one_line_error(
        &mlamp(&[&vamp[..], &["--estimator", "mmse"]].concat()),
        "map",
    );
    // `--estimator map` overrides the file's and runs.
    let args = [&vamp[..], &["--estimator", "map", "--json"]].concat();
    let a = mlamp(&args);
    let v = json_of(&a);
    assert_eq!(v["d"], 4);
    check_run_json(&v, 2);
    assert_eq!(v["sizes"], serde_json::json!([120, 180, 180]));
    // Reproducible too.
    assert_eq!(a.stdout, mlamp(&args).stdout);
    // So does the file's own `estimator = "map"`.
    let text = std::fs::read_to_string(&path).unwrap();
    let map_path = dir.join("sigmoid_d4_map.toml");
    std::fs::write(
        &map_path,
        text.replace("estimator = \"mmse\"", "estimator = \"map\""),
    )
    .unwrap();
    let from_file = mlamp(&[
        "run",
        map_path.to_str().unwrap(),
        "--algorithm",
        "vamp",
        "--n",
        "120",
        "--iters",
        "15",
        "--json",
    ]);
    let w = json_of(&from_file);
    check_run_json(&w, 2);
    assert_eq!(
        v["mse_layers"], w["mse_layers"],
        "the same estimator, the same run"
    );
    // ML-AMP refuses it (d = 4, and a sigmoid channel).
    assert_one_line_error(&mlamp(&["run", p, "--n", "120"]), "--algorithm vamp");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn vamp_refuses_d_above_8_naming_d() {
    let dir = fresh_dir("d9");
    let text = std::fs::read_to_string(model("multitask"))
        .unwrap()
        .replace("d = 4", "d = 9");
    let path = dir.join("d9.toml");
    std::fs::write(&path, text).unwrap();
    let out = mlamp(&[
        "run",
        path.to_str().unwrap(),
        "--algorithm",
        "vamp",
        "--n",
        "50",
    ]);
    assert_one_line_error(&out, "d");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: d:"));
    let path = dir.join("d8.toml");
    std::fs::write(
        &path,
        std::fs::read_to_string(model("multitask"))
            .unwrap()
            .replace("d = 4", "d = 8"),
    )
    .unwrap();
    let v = json_of(&mlamp(&[
        "run",
        path.to_str().unwrap(),
        "--algorithm",
        "vamp",
        "--n",
        "100",
        "--iters",
        "5",
        "--json",
    ]));
    assert_eq!(v["d"], 8);
    check_run_json(&v, 1);
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------------------------------------
// `mlamp vamp-se`: the ML-Mat-VAMP state evolution of a model file.

#[test]
fn vamp_se_json_predicts_a_decreasing_signal_mse() {
    let m = model("sparse_regression");
    let v = json_of(&mlamp(&[
        "vamp-se",
        m.as_str(),
        "--samples",
        "4096",
        "--iters",
        "5",
        "--json",
    ]));
    assert_eq!(v["iterations"], 5);
    assert_eq!(v["d"], 1);
    assert_eq!(v["samples"], 4096);
    assert_eq!(v["sizes"], serde_json::json!([1000, 1000, 800]));
    let mse = v["mse_layers"].as_array().unwrap();
    let se = v["mse_layers_se"].as_array().unwrap();
    assert_eq!(mse.len(), 5, "{v}");
    assert_eq!(se.len(), 5, "{v}");
    assert_eq!(v["interventions"].as_array().unwrap().len(), 5, "{v}");
    let signal: Vec<f64> = mse
        .iter()
        .zip(se)
        .map(|(m, s)| {
            let (m, s) = (m.as_array().unwrap(), s.as_array().unwrap());
            assert_eq!(m.len(), 2, "{v}");
            assert_eq!(s.len(), 2, "{v}");
            for x in m.iter().chain(s) {
                let x = x.as_f64().unwrap();
                assert!(x.is_finite() && x >= 0.0, "{v}");
            }
            m[0].as_f64().unwrap()
        })
        .collect();
    assert!(signal.windows(2).all(|w| w[1] < w[0]), "{signal:?}");
    assert_eq!(v["mse_signal"].as_f64().unwrap(), signal[4]);
    // The first iteration starts from no information: the prior's variance, ρ = 0.3.
    assert!((signal[0] - 0.3).abs() < 0.05, "{signal:?}");
    assert_eq!(v["signal_joint"].as_array().unwrap().len(), 4);
}

#[test]
fn vamp_se_bad_options_and_missing_files_are_one_line_errors() {
    let m = model("sparse_regression");
    for (flag, needle) in [
        ("--samples", "samples"),
        ("--iters", "iterations"),
        ("--n", "n"),
    ] {
        let out = mlamp(&["vamp-se", m.as_str(), flag, "0"]);
        assert_ne!(out.status.code(), Some(0), "{flag}");
        assert_one_line_error(&out, needle);
        assert!(String::from_utf8_lossy(&out.stderr).starts_with(&format!("error: {needle}:")));
    }
    assert_one_line_error(
        &mlamp(&["vamp-se", "/nonexistent/model.toml", "--json"]),
        "cannot read",
    );
    // A sign channel has no MAP estimator.
    assert_one_line_error(
        &mlamp(&[
            "vamp-se",
            model("perceptron").as_str(),
            "--estimator",
            "map",
        ]),
        "estimator",
    );
}
