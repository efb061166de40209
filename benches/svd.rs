//! The thin SVD of a 2000 × 1000 Gaussian matrix (faer, which `mlamp::linalg::svd` uses, against
//! nalgebra's one-sided Golub–Kahan), and the four rotation products of [`Svd`] at `n = 2000`
//! (a 2000 × 2000 matrix from [`spectrum`]), `d = 1` and `d = 4`, against the core's plain
//! loops ([`Rotations`] for `DenseRotations`) and a plain read of one factor's bytes. Prints
//! the ratios of the times measured in this run, and the accuracy of both decompositions.
//!
//! nalgebra's SVD takes seconds per run: `cargo bench --bench svd -- rotations` skips it.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode};

mod common;
use common::mean_ns;
use mlamp::core::ml_vamp::Rotations;
use mlamp::instance::ensembles::spectrum;
use mlamp::linalg::svd::Svd;
use mlamp::streams::{normal, stream};
use nalgebra::DMatrix;

const ROWS: usize = 2000;
const COLS: usize = 1000;
const N: usize = 2000;
const GROUP_SVD: &str = "svd_2000x1000";
const GROUP_ROT: &str = "rotations_n2000";
const PRODUCTS: [&str; 4] = ["left_t", "left", "right_t", "right"];

/// Product `k` of `rot` (`PRODUCTS[k]`).
fn apply(rot: &impl Rotations<f64>, k: usize, x: &[f64], d: usize, out: &mut [f64]) {
    match k {
        0 => rot.left_t(x, d, out),
        1 => rot.left(x, d, out),
        2 => rot.right_t(x, d, out),
        _ => rot.right(x, d, out),
    }
}

/// Σ w with 8 partial sums: a plain streaming read.
fn read(w: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    for c in w.chunks_exact(8) {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f64>() + w.chunks_exact(8).remainder().iter().sum::<f64>()
}

/// `‖U diag(s) Vᵀ − W‖_F / ‖W‖_F`, `max |UᵀU − I|`, `max |VᵀV − I|`.
fn accuracy(w: &DMatrix<f64>, u: &DMatrix<f64>, s: &[f64], v: &DMatrix<f64>) -> (f64, f64, f64) {
    let mut us = u.clone();
    for (j, &sj) in s.iter().enumerate() {
        us.column_mut(j).scale_mut(sj);
    }
    let rec = (&us * v.transpose() - w).norm() / w.norm();
    let ortho = |a: &DMatrix<f64>| {
        let g = a.transpose() * a;
        (g - DMatrix::identity(a.ncols(), a.ncols())).amax()
    };
    (rec, ortho(u), ortho(v))
}

/// Whether the command line's filter (criterion's first free argument, taken here as a plain
/// substring) selects `id`, so that the untimed accuracy checks run only with their benchmark.
fn selected(id: &str) -> bool {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .is_none_or(|f| id.contains(&f))
}

fn benches(c: &mut Criterion) {
    let mut rng = stream(1, 1);
    let w: Vec<f64> = (0..ROWS * COLS).map(|_| normal(&mut rng)).collect();
    let wm = DMatrix::from_row_slice(ROWS, COLS, &w);

    // Accuracy, once each (not timed).
    let f = Svd::decompose(&w, ROWS, COLS).expect("svd");
    if selected(&format!("{GROUP_SVD}/faer")) {
        let r = f.rank();
        let (rec, ou, ov) = accuracy(
            &wm,
            &DMatrix::from_row_slice(ROWS, r, f.u()),
            f.singular_values(),
            &DMatrix::from_row_slice(COLS, r, f.v()),
        );
        println!(
            "faer: ‖USVᵀ − W‖/‖W‖ = {rec:.2e}, max|UᵀU − I| = {ou:.2e}, max|VᵀV − I| = {ov:.2e}"
        );
    }
    if selected(&format!("{GROUP_SVD}/nalgebra")) {
        let n = nalgebra::linalg::SVD::new(wm.clone(), true, true);
        let s: Vec<f64> = n.singular_values.iter().copied().collect();
        let (u, vt) = (n.u.expect("u"), n.v_t.expect("vᵀ"));
        let (rec, ou, ov) = accuracy(&wm, &u, &s, &vt.transpose());
        println!(
            "nalgebra: ‖USVᵀ − W‖/‖W‖ = {rec:.2e}, max|UᵀU − I| = {ou:.2e}, max|VᵀV − I| = {ov:.2e}"
        );
        let ds = s
            .iter()
            .zip(f.singular_values())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!("max |s_faer − s_nalgebra| = {ds:.2e} (s_max = {:.3})", s[0]);
    }

    let mut g = c.benchmark_group(GROUP_SVD);
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500));
    g.bench_function("faer", |b| {
        b.iter(|| black_box(Svd::decompose(black_box(&w), ROWS, COLS).unwrap()))
    });
    g.bench_function("nalgebra", |b| {
        b.iter(|| {
            let a = DMatrix::from_row_slice(ROWS, COLS, black_box(&w));
            black_box(nalgebra::linalg::SVD::new(a, true, true))
        })
    });
    g.finish();

    let svd = spectrum(N, N, 10.0, &mut stream(2, 1)).expect("spectrum");
    let dense = svd.dense_rotations();
    let mut g = c.benchmark_group(GROUP_ROT);
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("read_u", |b| b.iter(|| black_box(read(black_box(svd.u())))));
    for d in [1, 4] {
        let x: Vec<f64> = (0..N * d).map(|_| normal(&mut rng)).collect();
        let mut out = vec![0.0; N * d];
        for (k, name) in PRODUCTS.iter().enumerate() {
            g.bench_function(format!("{name}_d{d}_faer"), |b| {
                b.iter(|| apply(&svd, k, black_box(&x), d, &mut out))
            });
            g.bench_function(format!("{name}_d{d}_naive"), |b| {
                b.iter(|| apply(&dense, k, black_box(&x), d, &mut out))
            });
        }
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    if let (Some(f), Some(n)) = (mean_ns(GROUP_SVD, "faer"), mean_ns(GROUP_SVD, "nalgebra")) {
        println!(
            "SVD {ROWS}×{COLS}: faer {:.3} s, nalgebra {:.3} s: nalgebra / faer = {:.1}",
            f / 1e9,
            n / 1e9,
            n / f
        );
    }
    let read = mean_ns(GROUP_ROT, "read_u");
    if let Some(t) = read {
        println!(
            "read of U ({N}×{N} f64, {} MB): {:.3} ms",
            N * N * 8 / 1_000_000,
            t / 1e6
        );
    }
    for d in [1, 4] {
        for name in PRODUCTS {
            let (Some(f), Some(n)) = (
                mean_ns(GROUP_ROT, &format!("{name}_d{d}_faer")),
                mean_ns(GROUP_ROT, &format!("{name}_d{d}_naive")),
            ) else {
                continue;
            };
            let vs_read = read.map_or(String::new(), |t| format!(", {:.2} × the read", f / t));
            println!(
                "{name:>7} d = {d}: faer {:.3} ms, plain loops {:.3} ms: loops / faer = {:.1}{vs_read}",
                f / 1e6,
                n / 1e6,
                n / f
            );
        }
    }
}
