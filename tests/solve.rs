//! `mlamp solve` on given data and `mlamp run --save`: the round trip (solve on the saved
//! files gives run's bits), the input formats (CSV, Fortran order, archives, vectors) giving
//! the same bits as the `.npy` files, and one-line typed errors for every bad input kind.
//!
//! Files are read and written here by hand from NumPy's `.npy` format description (version
//! 1.0: magic, header length, a header dict padded to 64 bytes, the raw data), not by the
//! code under test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn mlamp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlamp"))
        .args(args)
        .output()
        .expect("runs")
}

fn model(name: &str) -> String {
    format!("{}/examples/models/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mlamp-solve-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ok(out: &Output) -> &[u8] {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    &out.stdout
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `.npy` bytes: `descr`, order, shape text and raw data.
fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// A little-endian f64 `.npy` file's shape and entries (in file order).
fn read_npy(p: &Path) -> (Vec<usize>, Vec<f64>) {
    let b = std::fs::read(p).unwrap();
    assert_eq!(&b[..8], b"\x93NUMPY\x01\x00", "{}", p.display());
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = std::str::from_utf8(&b[10..10 + hl]).unwrap();
    assert!(header.contains("'descr': '<f8'") && header.contains("'fortran_order': False"));
    let shape_text = header.split("'shape': (").nth(1).unwrap();
    let shape: Vec<usize> = shape_text[..shape_text.find(')').unwrap()]
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.trim().parse().unwrap())
        .collect();
    let values: Vec<f64> = b[10 + hl..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(values.len(), shape.iter().product::<usize>());
    (shape, values)
}

fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The instance's files of a saved run of `layers` layers, as solve's arguments.
fn solve_args(saved: &Path, layers: usize) -> Vec<String> {
    let mut args = vec!["--weights".to_string()];
    args.extend((1..=layers).map(|k| s(&saved.join(format!("W{k}.npy")))));
    args.push("--observation".into());
    args.push(s(&saved.join("y.npy")));
    args.push("--truth".into());
    args.push(s(&saved.join("x.npy")));
    args.extend((1..layers).map(|k| s(&saved.join(format!("h{k}.npy")))));
    args
}

/// `run --save` then `solve` on the saved files: the same summary.json bytes, the same
/// result files, solve's JSON is summary.json, and run's own JSON agrees on every shared key.
fn round_trip(name: &str, algorithm: &str, layers: usize, d: usize) {
    let m = model(name);
    let tmp = dir(&format!("{name}-{algorithm}"));
    let (a, b) = (tmp.join("run"), tmp.join("solve"));
    let run = mlamp(&[
        "run",
        &m,
        "--algorithm",
        algorithm,
        "--n",
        "300",
        "--seed",
        "3",
        "--json",
        "--save",
        &s(&a),
    ]);
    let run = json(ok(&run));
    let mut args: Vec<String> = vec!["solve".into(), m.clone(), "--algorithm".into()];
    args.push(algorithm.into());
    args.extend(solve_args(&a, layers));
    args.extend(["--out".into(), s(&b), "--json".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let solve = mlamp(&args);
    let printed = ok(&solve).to_vec();
    let summary = std::fs::read(b.join("summary.json")).unwrap();
    assert_eq!(
        summary,
        std::fs::read(a.join("summary.json")).unwrap(),
        "{name} {algorithm}: summary.json differs"
    );
    assert_eq!(printed, summary, "solve --json prints summary.json");
    let sv = json(&summary);
    let files = sv["files"].as_array().unwrap();
    let var = if algorithm == "amp" { "var" } else { "cov" };
    assert_eq!(files.len(), 2 * layers + 1);
    for f in files {
        let f = f.as_str().unwrap();
        assert_eq!(
            std::fs::read(b.join(f)).unwrap(),
            std::fs::read(a.join(f)).unwrap(),
            "{name} {algorithm}: {f} differs"
        );
    }
    for key in [
        "sizes",
        "iterations",
        "converged",
        "diverged",
        "kept_iteration",
        "mse_signal",
        "mse_layers",
        "trace_layers",
        "clamped",
        "rejected",
        "interventions",
        "interventions_layers",
        "damping_reductions",
        "algorithm",
        "model",
    ] {
        assert_eq!(run.get(key), sv.get(key), "{name} {algorithm}: {key}");
    }
    assert_eq!(sv["precision"], "f64");
    assert_eq!(sv["converged"], true, "{name} {algorithm}");
    // The saved instance: W_k is n_k × n_{k−1}; the truths n_k × d.
    let sizes: Vec<usize> = serde_json::from_value(sv["sizes"].clone()).unwrap();
    for k in 1..=layers {
        let (shape, _) = read_npy(&a.join(format!("W{k}.npy")));
        assert_eq!(shape, [sizes[k], sizes[k - 1]]);
    }
    // The estimate's MSE, recomputed from the files, is the reported one; the posterior
    // variance (ML-AMP: mean over entries; ML-Mat-VAMP: mean covariance's mean diagonal)
    // matches it at a Bayes-optimal fixed point (Nishimori), within sampling at n = 300
    // (measured ratios 0.93–1.22 over 3 seeds of each case).
    let (xs, x) = read_npy(&a.join("x.npy"));
    let (hs, xh) = read_npy(&b.join("x_hat.npy"));
    assert_eq!((xs.clone(), hs), (vec![sizes[0], d], vec![sizes[0], d]));
    let mse = x
        .iter()
        .zip(&xh)
        .map(|(u, v)| (u - v) * (u - v))
        .sum::<f64>()
        / x.len() as f64;
    let reported = sv["mse_signal"].as_f64().unwrap();
    assert!(
        (mse - reported).abs() <= 1e-12 * reported,
        "{mse} vs {reported}"
    );
    let (vs, v) = read_npy(&b.join(format!("x_{var}.npy")));
    let mean_var = if algorithm == "amp" {
        assert_eq!(vs, [sizes[0], 1]);
        v.iter().sum::<f64>() / v.len() as f64
    } else {
        assert_eq!(vs, [d, d]);
        for i in 0..d {
            for j in 0..d {
                assert_eq!(v[i * d + j], v[j * d + i], "symmetric");
            }
        }
        (0..d).map(|i| v[i * d + i]).sum::<f64>() / d as f64
    };
    let ratio = mean_var / mse;
    assert!((0.5..2.0).contains(&ratio), "{name} {algorithm}: {ratio}");
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn solve_on_saved_runs_gives_their_bits_amp_d1() {
    round_trip("sparse_regression", "amp", 2, 1);
}

#[test]
fn solve_on_saved_runs_gives_their_bits_vamp_d1() {
    round_trip("sparse_regression", "vamp", 2, 1);
}

#[test]
fn solve_on_saved_runs_gives_their_bits_vamp_d4() {
    round_trip("multitask", "vamp", 1, 4);
}

/// The saved instance of a two-layer ML-AMP run, and its summary.json.
fn saved(tag: &str) -> (PathBuf, Vec<u8>) {
    let tmp = dir(tag);
    let a = tmp.join("run");
    ok(&mlamp(&[
        "run",
        &model("sparse_regression"),
        "--n",
        "200",
        "--seed",
        "9",
        "--save",
        &s(&a),
    ]));
    let summary = std::fs::read(a.join("summary.json")).unwrap();
    (tmp, summary)
}

#[test]
fn csv_fortran_order_vectors_and_archives_give_the_same_bits() {
    let (tmp, summary) = saved("formats");
    let a = tmp.join("run");
    // W1 as CSV: Rust's `{:?}` of an f64 is the shortest text that parses back to its bits.
    let (s1, w1) = read_npy(&a.join("W1.npy"));
    let csv: String = w1
        .chunks_exact(s1[1])
        .map(|row| {
            row.iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    std::fs::write(tmp.join("W1.csv"), csv).unwrap();
    // W2 in Fortran order: column after column.
    let (s2, w2) = read_npy(&a.join("W2.npy"));
    let (r, c) = (s2[0], s2[1]);
    let col_major: Vec<f64> = (0..r * c).map(|i| w2[(i % r) * c + i / r]).collect();
    let shape = format!("({r}, {c})");
    std::fs::write(
        tmp.join("W2.npy"),
        npy_bytes("<f8", true, &shape, &f64_bytes(&col_major)),
    )
    .unwrap();
    // y as a 1-D vector; x and h1 in one uncompressed archive, a zip written by hand:
    // local headers, data, central directory, end record (method 0 = stored, CRC-32).
    let (_, y) = read_npy(&a.join("y.npy"));
    std::fs::write(
        tmp.join("y.npy"),
        npy_bytes("<f8", false, &format!("({},)", y.len()), &f64_bytes(&y)),
    )
    .unwrap();
    let entries = [
        ("x.npy", std::fs::read(a.join("x.npy")).unwrap()),
        ("h1.npy", std::fs::read(a.join("h1.npy")).unwrap()),
    ];
    std::fs::write(tmp.join("truth.npz"), stored_zip(&entries)).unwrap();
    let npz = s(&tmp.join("truth.npz"));
    let out = tmp.join("solve");
    let printed = mlamp(&[
        "solve",
        &model("sparse_regression"),
        "--weights",
        &s(&tmp.join("W1.csv")),
        &s(&tmp.join("W2.npy")),
        "--observation",
        &s(&tmp.join("y.npy")),
        "--truth",
        &format!("{npz}:x"),
        &format!("{npz}:h1"),
        "--out",
        &s(&out),
        "--json",
    ]);
    assert_eq!(ok(&printed), &summary[..]);
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), summary);
    std::fs::remove_dir_all(&tmp).ok();
}

/// A zip archive of stored (uncompressed) entries.
fn stored_zip(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in entries {
        let offset = out.len() as u32;
        let (crc, size) = (crc32(data), data.len() as u32);
        let common = |v: &mut Vec<u8>| {
            v.extend(20u16.to_le_bytes()); // version needed
            v.extend(0u16.to_le_bytes()); // flags
            v.extend(0u16.to_le_bytes()); // stored
            v.extend(0u32.to_le_bytes()); // time, date
            v.extend(crc.to_le_bytes());
            v.extend(size.to_le_bytes());
            v.extend(size.to_le_bytes());
            v.extend((name.len() as u16).to_le_bytes());
            v.extend(0u16.to_le_bytes()); // extra
        };
        out.extend(0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend(name.as_bytes());
        out.extend(data);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend(20u16.to_le_bytes()); // version made by
        common(&mut central);
        central.extend([0u8; 10]); // comment length, disk, internal and external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let (start, len) = (out.len() as u32, central.len() as u32);
    out.extend(central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend(len.to_le_bytes());
    out.extend(start.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// Runs solve with the saved files, `replace` swapping one argument for a bad file; the
/// error is one line naming that file and containing every `needle`.
fn refused(saved: &Path, replace: (&str, &Path), needles: &[&str]) {
    let mut args = vec!["solve".to_string(), model("sparse_regression")];
    args.extend(solve_args(saved, 2).into_iter().map(|a| {
        if a.ends_with(replace.0) {
            s(replace.1)
        } else {
            a
        }
    }));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = mlamp(&args);
    assert!(!out.status.success(), "{args:?} accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("error: {}", s(replace.1))),
        "{err}"
    );
    for n in needles {
        assert!(err.contains(n), "{err} lacks {n}");
    }
}

#[test]
fn bad_inputs_are_one_line_typed_errors_naming_the_file() {
    let (tmp, _) = saved("errors");
    let a = tmp.join("run");
    let bad = |name: &str, bytes: Vec<u8>| {
        let p = tmp.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    // The instance: W1 200×200, W2 160×200, y 160, x and h1 200.
    let int64: Vec<u8> = (0..200i64).flat_map(|v| v.to_le_bytes()).collect();
    let mut with_nan = vec![0.5; 200];
    with_nan[17] = f64::NAN;
    let nan = npy_bytes("<f8", false, "(200, 1)", &f64_bytes(&with_nan));
    for (arg, label) in [("W2.npy", "W2"), ("y.npy", "y"), ("h1.npy", "h1")] {
        // The wrong element type.
        let p = bad(
            &format!("{label}-int.npy"),
            npy_bytes("<i8", false, "(200,)", &int64),
        );
        refused(&a, (arg, &p), &["<i8", "float64"]);
        // A non-finite entry, by position (as a matrix: W2 then has the wrong shape after
        // this, but the entry is checked first).
        let p = bad(&format!("{label}-nan.npy"), nan.clone());
        refused(&a, (arg, &p), &["[17, 0]", "NaN"]);
    }
    // Shapes: each names the layer (or variable) and both shapes.
    let w2_wrong = bad(
        "W2-wrong.npy",
        npy_bytes(
            "<f8",
            false,
            "(160, 150)",
            &f64_bytes(&vec![0.1; 160 * 150]),
        ),
    );
    refused(
        &a,
        ("W2.npy", &w2_wrong),
        &["layers[1]", "160×150", "200×200", "200 columns"],
    );
    let y_wrong = bad(
        "y-wrong.npy",
        npy_bytes("<f8", false, "(150,)", &f64_bytes(&vec![0.1; 150])),
    );
    refused(&a, ("y.npy", &y_wrong), &["layers[1]", "150×1", "160×1"]);
    let h1_wrong = bad(
        "h1-wrong.npy",
        npy_bytes("<f8", false, "(200, 2)", &f64_bytes(&vec![0.1; 400])),
    );
    refused(&a, ("h1.npy", &h1_wrong), &["h_1", "200×2", "200×1"]);
    // A ragged CSV and a word in one.
    let ragged = bad("W1.csv", b"1,2,3\n4,5\n".to_vec());
    refused(&a, ("W1.npy", &ragged), &["line 2", "2 fields", "3"]);
    let word = bad("W1-word.csv", b"1,2\n3,abc\n".to_vec());
    refused(&a, ("W1.npy", &word), &["line 2", "field 2", "abc"]);
    // Complex elements, three dimensions.
    let complex = bad("x-complex.npy", npy_bytes("<c16", false, "(1,)", &[0; 16]));
    refused(&a, ("x.npy", &complex), &["<c16"]);
    let cube = bad("x-3d.npy", npy_bytes("<f8", false, "(1, 1, 1)", &[0; 8]));
    refused(&a, ("x.npy", &cube), &["3 dimensions"]);
    // One truth too many (the observation is not a truth to give).
    let mut args = vec!["solve".to_string(), model("sparse_regression")];
    args.extend(solve_args(&a, 2));
    args.push(s(&a.join("y.npy")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = mlamp(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.lines().count() == 1, "{err}");
    assert!(
        err.starts_with("error: truth: 3 files given, at most 2"),
        "{err}"
    );
    // One weight file too few: the model's layer count.
    let out = mlamp(&[
        "solve",
        &model("sparse_regression"),
        "--weights",
        &s(&a.join("W1.npy")),
        "--observation",
        &s(&a.join("y.npy")),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.lines().count() == 1, "{err}");
    assert!(
        err.starts_with("error: weights: the model has 2 layers, 1"),
        "{err}"
    );
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn solve_on_saved_runs_gives_their_bits_masked_d4() {
    round_trip("imputation", "vamp", 2, 4);
}

/// A mask of the user's own: the masked output's observation is the `d` values then the `d`
/// mask entries of each row, so a mask from a file is the last `d` columns of `y`. With the
/// first column of the data matrix missing in every row, nothing informs the first column of
/// any variable (the Gaussian network acts on each column alone): its estimate is the prior
/// mean 0, while the observed columns are estimated; a mask entry other than 0 or 1 is a
/// one-line error naming the mask.
#[test]
fn a_mask_of_your_own_is_the_observations_last_columns() {
    let tmp = dir("own-mask");
    let a = tmp.join("run");
    ok(&mlamp(&[
        "run",
        &model("imputation"),
        "--algorithm",
        "vamp",
        "--n",
        "200",
        "--seed",
        "4",
        "--save",
        &s(&a),
    ]));
    let (shape, mut y) = read_npy(&a.join("y.npy"));
    let d = 4;
    assert_eq!(shape[1], 2 * d);
    for row in y.chunks_exact_mut(2 * d) {
        row[0] = 0.0;
        row[d] = 0.0;
    }
    let own = tmp.join("y_own.npy");
    let shape_text = format!("({}, {})", shape[0], shape[1]);
    std::fs::write(&own, npy_bytes("<f8", false, &shape_text, &f64_bytes(&y))).unwrap();
    let out = tmp.join("solve");
    let mut args = vec!["solve".to_string(), model("imputation")];
    args.extend(["--algorithm".into(), "vamp".into()]);
    args.extend(solve_args(&a, 2).into_iter().map(
        |p| {
            if p.ends_with("y.npy") { s(&own) } else { p }
        },
    ));
    args.extend(["--out".into(), s(&out)]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&mlamp(&argv));
    let (xs, x_hat) = read_npy(&out.join("x_hat.npy"));
    assert_eq!(xs[1], d);
    let first: f64 = x_hat
        .chunks_exact(d)
        .map(|r| r[0].abs())
        .fold(0.0, f64::max);
    let rest: f64 = x_hat
        .chunks_exact(d)
        .map(|r| r[1].abs())
        .fold(0.0, f64::max);
    assert!(first < 1e-9, "the unobserved column's estimate: {first}");
    assert!(rest > 0.1, "an observed column's estimate: {rest}");
    // A mask entry of 0.5.
    y[d + 1] = 0.5;
    let bad = tmp.join("y_bad.npy");
    std::fs::write(&bad, npy_bytes("<f8", false, &shape_text, &f64_bytes(&y))).unwrap();
    let argv: Vec<String> = argv
        .iter()
        .map(|p| {
            if p.ends_with("y_own.npy") {
                s(&bad)
            } else {
                p.to_string()
            }
        })
        .collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let res = mlamp(&argv);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success(), "a mask entry 0.5 accepted");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("mask"), "{err}");
    std::fs::remove_dir_all(&tmp).ok();
}
