//! The core on a Cortex-M4F under QEMU (`examples/firmware`): generates the tables with the
//! host library, builds the firmware with them (release, `thumbv7em-none-eabihf`), runs it on
//! QEMU's `mps2-an386` with a timeout, and compares every number it printed with the same
//! computation on the host (`examples/firmware/src/cases.rs`, compiled here too): identical
//! bits in f64, within 1e-5 relative in f32. The f64 ML-AMP trace is also checked against the
//! host's driver (`run_ml_amp`), bit for bit.
//!
//! Skipped, with a message, only where `qemu-system-arm` is not installed. The firmware's
//! measurements (stack, instructions per iteration) and the ML-AMP trace go to
//! `firmware/report.txt` under cargo's target tmp dir and to stderr (past the capture).

#[path = "../examples/firmware/src/cases.rs"]
mod cases;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cases::{D, Float, Sink, Tables};
use mlamp::algo::AmpOptions;
use mlamp::linalg::svd::Svd;
use mlamp::streams::{normal, stream};
use mlamp::{Instance, Model, run_ml_amp};
use mlamp_core::mat::Estimator;

/// The seed of the ML-AMP instance and of the messages.
const SEED: u64 = 16;
/// The linear layer's shape (rows, cols).
const SVD_SHAPE: [usize; 2] = [12, 8];
/// How long QEMU may run (it takes about 2 s).
const TIMEOUT: Duration = Duration::from_secs(30);

/// Writes to the test's stderr past the harness's capture, so that a skip and the
/// measurements show in CI's log.
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// A printed value as f64.
fn decode(ty: &str, bits: u64) -> f64 {
    if ty == "f64" {
        f64::from_bits(bits)
    } else {
        f64::from(f32::from_bits(bits as u32))
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The tables, in f64 (the f32 ones are these rounded).
struct Data {
    sizes: [usize; 3],
    vecs: Vec<(&'static str, Vec<f64>)>,
}

impl Data {
    fn rounded<T: Float>(&self) -> Vec<(&'static str, Vec<T>)> {
        self.vecs
            .iter()
            .map(|(n, v)| (*n, v.iter().map(|&x| T::of(x)).collect()))
            .collect()
    }
}

fn spd(rng: &mut impl FnMut() -> f64, scale: f64) -> Vec<f64> {
    let a: Vec<f64> = (0..D * D).map(|_| rng()).collect();
    let mut g = vec![0.0; D * D];
    for i in 0..D {
        for j in 0..D {
            let s: f64 = (0..D).map(|k| a[i * D + k] * a[j * D + k]).sum();
            g[i * D + j] = scale * (s / D as f64 + if i == j { 0.5 } else { 0.0 });
        }
    }
    g
}

fn normals(rng: &mut impl FnMut() -> f64, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| scale * rng()).collect()
}

fn generate(model: &Model, inst: &Instance) -> Data {
    let sizes = [inst.sizes[0], inst.sizes[1], inst.sizes[2]];
    let mut stream = stream(SEED, 1);
    let mut rng = move || normal(&mut stream);
    // Message rows: ordinary, weak, strong (a belief in the tail) and in between.
    let scales = [1.0, 1e-2, 1e3, 30.0];
    let spread = [1.0, 1.0, 2.5, 0.5];
    let mut gammas = Vec::new();
    let mut rows = Vec::new();
    for (s, r) in scales.iter().zip(spread) {
        gammas.extend(spd(&mut rng, *s));
        rows.extend(normals(&mut rng, D, r));
    }
    let rows_out = normals(&mut rng, scales.len() * D, 1.0);
    let f2 = normals(&mut rng, D, 1.0);
    let ys: Vec<f64> = (0..scales.len())
        .map(|_| {
            let out: f64 = f2.iter().map(|f| f / (1.0 + (-rng()).exp())).sum();
            out + cases::NOISE_VAR.sqrt() * rng()
        })
        .collect();
    let [m, n] = SVD_SHAPE;
    let w = normals(&mut rng, m * n, 1.0 / (n as f64).sqrt());
    let svd = Svd::decompose(&w, m, n).unwrap();
    let lin_r_out = normals(&mut rng, m * D, 1.0);
    let lin_r_in = normals(&mut rng, n * D, 1.0);
    let mut lin_gammas = spd(&mut rng, 2.0);
    lin_gammas.extend(spd(&mut rng, 0.5));
    lin_gammas.extend(spd(&mut rng, 1e2));
    assert_eq!(model.depth(), 2);
    Data {
        sizes,
        vecs: vec![
            ("amp_w0", inst.weights[0].clone()),
            ("amp_w1", inst.weights[1].clone()),
            ("amp_y", inst.layers[2].clone()),
            ("amp_x", inst.layers[0].clone()),
            ("amp_h1", inst.layers[1].clone()),
            ("gammas", gammas),
            ("rows", rows),
            ("rows_out", rows_out),
            ("ys", ys),
            ("f2", f2),
            ("svd_u", svd.u().to_vec()),
            ("svd_v", svd.v().to_vec()),
            ("svd_s", svd.singular_values().to_vec()),
            ("lin_r_out", lin_r_out),
            ("lin_r_in", lin_r_in),
            ("lin_gammas", lin_gammas),
        ],
    }
}

fn tables<'a, T>(sizes: [usize; 3], v: &'a [(&'static str, Vec<T>)]) -> Tables<'a, T> {
    let g = |name: &str| -> &'a [T] { &v.iter().find(|(n, _)| *n == name).unwrap().1 };
    Tables {
        amp_sizes: sizes,
        amp_w: [g("amp_w0"), g("amp_w1")],
        amp_y: g("amp_y"),
        amp_truth: [g("amp_x"), g("amp_h1")],
        gammas: g("gammas"),
        rows: g("rows"),
        rows_out: g("rows_out"),
        ys: g("ys"),
        f2: g("f2"),
        svd_u: g("svd_u"),
        svd_v: g("svd_v"),
        svd_s: g("svd_s"),
        svd_shape: SVD_SHAPE,
        lin_r_out: g("lin_r_out"),
        lin_r_in: g("lin_r_in"),
        lin_gammas: g("lin_gammas"),
    }
}

/// The firmware's `data.rs`: every table as a static of exact bits, in both floats.
fn data_rs(data: &Data) -> String {
    let mut s = String::from("// Generated by tests/firmware_qemu.rs from the host library.\n");
    let _ = writeln!(s, "use crate::cases::Tables;");
    let _ = writeln!(s, "pub const AMP_SIZES: [usize; 3] = {:?};", data.sizes);
    let _ = writeln!(s, "pub const SVD_SHAPE: [usize; 2] = {SVD_SHAPE:?};");
    for (name, v) in &data.vecs {
        let up = name.to_uppercase();
        let _ = write!(s, "static {up}_F64: [f64; {}] = [", v.len());
        for x in v {
            let _ = write!(s, "f64::from_bits({:#x}),", x.to_bits());
        }
        let _ = writeln!(s, "];");
        let _ = write!(s, "static {up}_F32: [f32; {}] = [", v.len());
        for x in v {
            let _ = write!(s, "f32::from_bits({:#x}),", (*x as f32).to_bits());
        }
        let _ = writeln!(s, "];");
    }
    for ty in ["f64", "f32"] {
        let t = ty.to_uppercase();
        let _ = writeln!(
            s,
            "pub fn tables_{ty}() -> Tables<'static, {ty}> {{ Tables {{ amp_sizes: AMP_SIZES, \
             amp_w: [&AMP_W0_{t}, &AMP_W1_{t}], amp_y: &AMP_Y_{t}, \
             amp_truth: [&AMP_X_{t}, &AMP_H1_{t}], gammas: &GAMMAS_{t}, rows: &ROWS_{t}, \
             rows_out: &ROWS_OUT_{t}, ys: &YS_{t}, f2: &F2_{t}, svd_u: &SVD_U_{t}, \
             svd_v: &SVD_V_{t}, svd_s: &SVD_S_{t}, svd_shape: SVD_SHAPE, \
             lin_r_out: &LIN_R_OUT_{t}, lin_r_in: &LIN_R_IN_{t}, lin_gammas: &LIN_GAMMAS_{t} }} }}"
        );
    }
    s
}

type Key = (String, String, usize);

/// Collects what the host computes, keyed as the firmware prints it.
struct Collect<'a> {
    ty: &'static str,
    out: &'a mut BTreeMap<Key, Vec<u64>>,
}

impl<T: Float> Sink<T> for Collect<'_> {
    fn emit(&mut self, case: &str, index: usize, values: &[T]) {
        for v in values {
            assert!(
                mlamp_core::Real::is_finite(*v),
                "{} {case} {index}: not finite",
                self.ty
            );
        }
        let prev = self.out.insert(
            (self.ty.into(), case.into(), index),
            values.iter().map(|v| v.bits()).collect(),
        );
        assert!(prev.is_none(), "{case} {index} emitted twice");
    }
}

/// Every case on the host, in the order the firmware runs them.
fn host<T: Float>(t: &Tables<'_, T>, out: &mut BTreeMap<Key, Vec<u64>>) {
    let mut sink = Collect { ty: T::NAME, out };
    let mut buf = vec![T::of(0.0); cases::amp_state_len(t.amp_sizes)];
    let mut scratch = vec![T::of(0.0); cases::linear_scratch_len(t.svd_shape)];
    cases::amp(t, &mut buf, &mut sink).unwrap();
    cases::row_sparse(t, &mut sink).unwrap();
    cases::committee(t, Estimator::Map, &mut sink).unwrap();
    cases::committee(t, Estimator::Mmse, &mut sink).unwrap();
    cases::relu(t, &mut sink).unwrap();
    cases::linear(t, &mut scratch, &mut sink).unwrap();
}

fn build_firmware(dir: &Path, data: &Path) -> PathBuf {
    let target = dir.join("target");
    let status = Command::new(env!("CARGO"))
        .current_dir(root().join("examples/firmware"))
        .args(["build", "--release", "--locked"])
        .env("CARGO_TARGET_DIR", &target)
        .env("MLAMP_FIRMWARE_DATA", data)
        // The host's flags would replace the firmware's linker script.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the firmware does not build");
    target.join("thumbv7em-none-eabihf/release/mlamp-firmware")
}

/// Runs the image under QEMU; its semihosting output and exit status.
fn run_qemu(elf: &Path) -> (String, Option<i32>) {
    let mut child = Command::new("qemu-system-arm")
        .args(["-M", "mps2-an386", "-display", "none", "-monitor", "none"])
        .args([
            "-serial",
            "null",
            "-semihosting-config",
            "enable=on,target=native",
        ])
        // One instruction per nanosecond of virtual time: SysTick then counts instructions.
        .args(["-icount", "shift=0", "-kernel"])
        .arg(elf)
        .stdout(Stdio::piped())
        .spawn()
        .expect("qemu-system-arm starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > TIMEOUT {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("QEMU did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (reader.join().unwrap(), status.code())
}

fn parse(text: &str) -> BTreeMap<Key, Vec<u64>> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("R ")) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let key = (f[1].to_string(), f[2].to_string(), f[3].parse().unwrap());
        let bits = f[4..]
            .iter()
            .map(|h| u64::from_str_radix(h, 16).unwrap())
            .collect();
        assert!(out.insert(key, bits).is_none(), "printed twice: {line}");
    }
    out
}

/// `None` if the firmware's values match the host's, else what differs.
fn mismatch(key: &Key, fw: &[u64], host: &[u64]) -> Option<String> {
    if fw.len() != host.len() {
        return Some(format!("{key:?}: {} values, host {}", fw.len(), host.len()));
    }
    for (i, (&a, &b)) in fw.iter().zip(host).enumerate() {
        let ok = if key.0 == "f64" {
            a == b
        } else {
            let (x, y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
            a == b || (x - y).abs() <= 1e-5 * x.abs().max(y.abs())
        };
        if !ok {
            return Some(format!("{key:?}[{i}]: firmware {a:#x}, host {b:#x}"));
        }
    }
    None
}

#[test]
fn firmware_under_qemu_prints_the_hosts_numbers() {
    if Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .is_err()
    {
        say("SKIPPED firmware_qemu: qemu-system-arm is not installed (.ci/run installs it)");
        return;
    }
    let model = Model::from_file(root().join("examples/models/sparse_regression.toml")).unwrap();
    let inst = Instance::sample(&model, 64, SEED).unwrap();
    let data = generate(&model, &inst);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("firmware");
    std::fs::create_dir_all(&dir).unwrap();
    let data_path = dir.join("data.rs");
    let text = data_rs(&data);
    // Written only when it changes, so cargo does not rebuild the firmware for nothing.
    if std::fs::read_to_string(&data_path).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&data_path, text).unwrap();
    }
    let t0 = Instant::now();
    let elf = build_firmware(&dir, &data_path);
    let built = t0.elapsed();

    let mut expected = BTreeMap::new();
    let v64 = data.rounded::<f64>();
    let v32 = data.rounded::<f32>();
    host(&tables(data.sizes, &v64), &mut expected);
    host(&tables(data.sizes, &v32), &mut expected);

    // The f64 ML-AMP trace is the host driver's, bit for bit.
    let opts = AmpOptions {
        max_iter: cases::AMP_ITERS,
        tol: 0.0,
        damping: cases::AMP_DAMPING,
        adaptive: false,
        ..AmpOptions::default()
    };
    let run = run_ml_amp(&model, &inst, &opts).unwrap();
    assert_eq!(run.trace.len(), cases::AMP_ITERS);
    for (it, mses) in run.trace.iter().enumerate() {
        let bits: Vec<u64> = mses.iter().map(|m| m.to_bits()).collect();
        assert_eq!(
            expected[&("f64".to_string(), "amp.mse".to_string(), it + 1)],
            bits,
            "iteration {}: the cases file and the driver differ",
            it + 1
        );
    }

    let t1 = Instant::now();
    let (out, code) = run_qemu(&elf);
    let ran = t1.elapsed();
    assert!(
        out.lines().any(|l| l == "END"),
        "the firmware did not finish:\n{out}"
    );
    assert_eq!(code, Some(0), "the firmware's exit status");
    let got = parse(&out);

    let mut report = format!("firmware built in {built:.1?}, ran in {ran:.1?} under QEMU\n");
    for ty in ["f64", "f32"] {
        for it in 1..=cases::AMP_ITERS {
            let mse = &got[&(ty.to_string(), "amp.mse".to_string(), it)];
            let _ = writeln!(
                report,
                "ML-AMP {ty} iteration {it}: MSE x {:.4e}, h1 {:.4e}",
                decode(ty, mse[0]),
                decode(ty, mse[1])
            );
        }
    }
    for line in out.lines().filter(|l| !l.starts_with("R ")) {
        report.push_str(line);
        report.push('\n');
    }
    let missing: Vec<&Key> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&Key> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    let bad: Vec<String> = expected
        .iter()
        .filter_map(|(k, host)| mismatch(k, &got[k], host))
        .collect();
    // How far the f32 answers are from the f64 ones, relative to each vector's largest entry:
    // an f32 that overflowed or lost a tail would be far off (measured: 1.2e-5 at most, the
    // committee's cubature).
    let mut worst: BTreeMap<&str, f64> = BTreeMap::new();
    for ((ty, case, i), bits) in &got {
        if ty != "f32" {
            continue;
        }
        let wide = &got[&("f64".to_string(), case.clone(), *i)];
        let scale = wide
            .iter()
            .map(|b| f64::from_bits(*b).abs())
            .fold(0.0, f64::max);
        let dev = bits
            .iter()
            .zip(wide)
            .map(|(a, b)| (f64::from(f32::from_bits(*a as u32)) - f64::from_bits(*b)).abs())
            .fold(0.0, f64::max);
        let w = worst.entry(case.as_str()).or_insert(0.0);
        *w = w.max(dev / scale);
    }
    let _ = writeln!(
        report,
        "f32 against f64, largest deviation over the vector's largest entry: {worst:?}"
    );
    let identical = expected.iter().filter(|(k, h)| got[*k] == **h).count();
    let _ = writeln!(
        report,
        "{identical} of {} result vectors bit-identical to the host's",
        expected.len()
    );
    std::fs::write(dir.join("report.txt"), &report).unwrap();
    say(&report);
    assert!(
        bad.is_empty(),
        "{} results differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
    for (case, w) in &worst {
        assert!(*w <= 1e-4, "{case}: f32 is {w:e} from f64");
    }
}
