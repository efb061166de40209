//! `mlamp phase --shard K/N` and `mlamp merge`: the merged scan equals the serial one byte for
//! byte (report, phase.csv, phase.svg) whatever the number of shards, their order and the
//! threads each shard ran on; incomplete or mixed sets of shards are one-line errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mlamp(args: &[&str], threads: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlamp"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .expect("runs")
}

fn ok(out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn fresh_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mlamp-shards-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The serial scan `scan` into `dir/serial`: its report.
fn serial(dir: &Path, scan: &[&str]) -> serde_json::Value {
    let out_dir = dir.join("serial");
    let mut args = scan.to_vec();
    args.extend(["--out", s(&out_dir), "--json"]);
    let out = ok(mlamp(&args, "2"));
    std::fs::write(dir.join("serial.json"), &out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// `n` shards of `scan` into `dir/shards-n` (shard k on 1 + k mod 2 threads) merged in
/// reverse order into `dir/merged`: the same bytes as [`serial`]'s.
fn shards_equal_serial(dir: &Path, scan: &[&str], n: usize) {
    let serial = dir.join("serial");
    let merged = dir.join("merged");
    let shards = dir.join(format!("shards-{n}"));
    let mut files = Vec::new();
    for k in 1..=n {
        let spec = format!("{k}/{n}");
        let mut args = scan.to_vec();
        args.extend(["--out", s(&shards), "--shard", &spec, "--json"]);
        let v: serde_json::Value =
            serde_json::from_slice(&ok(mlamp(&args, &(1 + k % 2).to_string()))).unwrap();
        let file = PathBuf::from(v["shard"].as_str().unwrap());
        assert_eq!(file, shards.join(format!("phase-shard-{k}-of-{n}.json")));
        files.push(file);
    }
    files.reverse();
    let mut args = vec!["merge"];
    args.extend(files.iter().map(|f| s(f)));
    args.extend(["--out", s(&merged), "--json"]);
    let got = ok(mlamp(&args, "2"));
    let got = String::from_utf8(got)
        .unwrap()
        .replace(s(&merged), s(&serial));
    let want = std::fs::read_to_string(dir.join("serial.json")).unwrap();
    assert_eq!(got, want, "{n} shards");
    for f in ["phase.csv", "phase.svg"] {
        let a = std::fs::read(serial.join(f)).unwrap();
        let b = std::fs::read(merged.join(f)).unwrap();
        assert!(!a.is_empty());
        assert!(a == b, "{f} differs with {n} shards");
    }
}

/// The binary perceptron over [1, 2]: both thresholds inside, found by bisections in the
/// merge; 3 and 8 shards (8 > 6 grid points: two shards hold none).
#[test]
fn sharded_perceptron_scan_equals_the_serial_one() {
    let dir = fresh_dir("perceptron");
    let model = dir.join("perceptron1.toml");
    std::fs::write(
        &model,
        "[prior]\ntype = \"binary\"\n[[layers]]\nalpha = 1.5\nchannel = { type = \"sign\" }\n",
    )
    .unwrap();
    let scan = [
        "phase",
        s(&model),
        "--layer",
        "1",
        "--from",
        "1.0",
        "--to",
        "2.0",
        "--steps",
        "6",
    ];
    // The scan is the literature's (AMP 1.493, information-theoretic 1.245–1.249), not an
    // empty one that would trivially agree.
    let v = serial(&dir, &scan);
    assert!(
        (v["alpha_alg"].as_f64().unwrap() - 1.493).abs() < 3e-3,
        "{v}"
    );
    assert!(
        (v["alpha_it"].as_f64().unwrap() - 1.245).abs() < 5e-3,
        "{v}"
    );
    for n in [3, 8] {
        shards_equal_serial(&dir, &scan, n);
    }
}

/// A five-layer model, whose scan follows branches along the whole grid (its starts are not
/// every combination: more than `FULL_SEARCH_DEPTH` layers): the merge does that on the
/// merged grid.
#[test]
fn sharded_deep_scan_equals_the_serial_one() {
    let dir = fresh_dir("deep");
    let model = dir.join("deep.toml");
    let layer = "[[layers]]\nalpha = 1.0\nchannel = { type = \"linear\", noise_var = 1e-2 }\n";
    std::fs::write(
        &model,
        format!(
            "[prior]\ntype = \"gauss-bernoulli\"\nrho = 0.3\n{}",
            layer.repeat(5)
        ),
    )
    .unwrap();
    let scan = [
        "phase",
        s(&model),
        "--layer",
        "1",
        "--from",
        "0.7",
        "--to",
        "1.0",
        "--steps",
        "3",
    ];
    let v = serial(&dir, &scan);
    assert_eq!(v["curve"].as_array().unwrap().len(), 3);
    shards_equal_serial(&dir, &scan, 2);
}

fn err_line(out: &Output, needle: &str) {
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with("error: ") && e.contains(needle), "{e}");
}

#[test]
fn incomplete_or_mixed_shards_are_one_line_errors() {
    let dir = fresh_dir("errors");
    let model = format!(
        "{}/examples/models/sparse_regression.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let shard = |k: &str, to: &str, out: &str| {
        let out = dir.join(out);
        let v: serde_json::Value = serde_json::from_slice(&ok(mlamp(
            &[
                "phase",
                &model,
                "--layer",
                "2",
                "--from",
                "0.3",
                "--to",
                to,
                "--steps",
                "3",
                "--shard",
                k,
                "--out",
                s(&out),
                "--json",
            ],
            "1",
        )))
        .unwrap();
        v["shard"].as_str().unwrap().to_string()
    };
    let (a, b) = (shard("1/2", "0.9", "a"), shard("2/2", "0.9", "a"));
    let other = shard("2/2", "0.8", "b");
    let out = s(&dir.join("merged")).to_string();
    err_line(
        &mlamp(&["merge", &a, "--out", &out], "1"),
        "shard 2/2 is missing",
    );
    err_line(
        &mlamp(&["merge", &a, &a, &b, "--out", &out], "1"),
        "given twice",
    );
    err_line(
        &mlamp(&["merge", &a, &other, "--out", &out], "1"),
        "another scan",
    );
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{\"header\": 3}").unwrap();
    err_line(
        &mlamp(&["merge", s(&junk), "--out", &out], "1"),
        "not a phase shard",
    );
    // A bad --shard is refused by the command-line parser (clap's message and usage).
    let bad = mlamp(
        &[
            "phase", &model, "--layer", "2", "--from", "0.3", "--to", "0.9", "--shard", "3/2",
        ],
        "1",
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`3/2` is not K/N with 1 <= K <= N"));
    // The complete set merges.
    ok(mlamp(&["merge", &b, &a, "--out", &out], "1"));
}
