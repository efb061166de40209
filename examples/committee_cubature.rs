//! Accuracy and cost of the committee's MMSE cubature against the number of Gauss–Hermite
//! nodes per dimension, at `d = 4` (the ML-Mat-VAMP paper's section 5 committee).
//!
//! ```sh
//! cargo run --release --example committee_cubature
//! ```
//!
//! Row problems as the state evolution's row model poses them: a true row `z ~ N(0, I_4)`,
//! `y = F₂ᵀσ(z) + ξ` with `Δ` at 10 and 15 dB (the power of the noiseless output, mean
//! included), and the message `r = z + N(0, Γ⁻¹)`, `Γ = γ I` for `γ` from 0.3 (the first
//! iterations) to 10 (past any fixed point of the experiment). For each rule of `n` nodes per
//! dimension the posterior mean and covariance are compared with a `20⁴`-node rule (the
//! reference, itself checked against `24⁴`), relative to the posterior's standard deviation,
//! and timed per row (the MAP search included, which centres every rule). Prints the worst and
//! the mean error over the rows of each `(dB, γ)` and the time per row; the figures in
//! `mlamp_core::mat::default_nodes`'s docs come from this run.

use std::time::Instant;

use mlamp::core::channel::activation::{Activation, Sigmoid};
use mlamp::core::mat::{CommitteeDenoiser, CommitteeMmse, Estimator, Precision, RowMessage};
use mlamp::streams::{normal, stream};
use nalgebra::{Matrix4, Vector4};

const ROWS: usize = 200;

fn err(a: &CommitteeMmse<f64, 4>, b: &CommitteeMmse<f64, 4>) -> (f64, f64) {
    let sd = b.covariance.diagonal().map(f64::sqrt).max();
    (
        (a.estimate.mean - b.estimate.mean).abs().max() / sd,
        (a.covariance - b.covariance).abs().max() / (sd * sd),
    )
}

fn main() {
    let mut rng = stream(20261202, 0);
    let f2 = Vector4::from_fn(|_, _| normal(&mut rng));
    // E[(F₂ᵀσ(z))²] for z ~ N(0, I) by Monte Carlo (10⁶ draws): only sets the noise level.
    let power = {
        let mut acc = 0.0;
        let draws = 1_000_000;
        for _ in 0..draws {
            let s: f64 = (0..4)
                .map(|j| f2[j] * Sigmoid.value(normal(&mut rng)))
                .sum();
            acc += s * s;
        }
        acc / draws as f64
    };
    let rules = [3usize, 4, 5, 6, 8, 10];
    println!("F2 = {:.3?}, E s² = {power:.4}", f2.as_slice());
    println!(
        "{:>5} {:>6} | {}",
        "dB",
        "gamma",
        rules
            .iter()
            .map(|n| format!("{:>17}", format!("n={n} mean/cov")))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut worst_all = vec![(0.0f64, 0.0f64); rules.len()];
    for db in [10.0, 15.0] {
        let delta = 10f64.powf(-db / 10.0) * power;
        let reference = CommitteeDenoiser::<f64, Sigmoid, 4>::new(
            Sigmoid,
            f2.as_slice(),
            delta,
            Estimator::Mmse,
        )
        .unwrap()
        .with_nodes(20)
        .unwrap();
        let finer = reference.with_nodes(24).unwrap();
        for gamma in [0.3f64, 1.0, 3.0, 10.0] {
            let g = Precision::new(Matrix4::identity() * gamma).unwrap();
            let problems: Vec<(f64, Vector4<f64>)> = (0..ROWS)
                .map(|_| {
                    let z = Vector4::from_fn(|_, _| normal(&mut rng));
                    let s: f64 = (0..4).map(|j| f2[j] * Sigmoid.value(z[j])).sum();
                    let y = s + delta.sqrt() * normal(&mut rng);
                    let r = z + Vector4::from_fn(|_, _| normal(&mut rng) / gamma.sqrt());
                    (y, r)
                })
                .collect();
            let refs: Vec<_> = problems
                .iter()
                .map(|&(y, r)| reference.mmse(y, RowMessage::new(r, &g)))
                .collect();
            let check = problems
                .iter()
                .zip(&refs)
                .map(|(&(y, r), a)| err(a, &finer.mmse(y, RowMessage::new(r, &g))).0)
                .fold(0.0, f64::max);
            let mut cells = Vec::new();
            for (k, &n) in rules.iter().enumerate() {
                let den = reference.with_nodes(n).unwrap();
                let (mut worst, mut sum) = ((0.0f64, 0.0f64), (0.0, 0.0));
                for (&(y, r), b) in problems.iter().zip(&refs) {
                    let (em, ec) = err(&den.mmse(y, RowMessage::new(r, &g)), b);
                    worst = (worst.0.max(em), worst.1.max(ec));
                    sum = (sum.0 + em, sum.1 + ec);
                }
                worst_all[k] = (worst_all[k].0.max(worst.0), worst_all[k].1.max(worst.1));
                cells.push(format!(
                    "{:>8.1e}/{:>8.1e}",
                    sum.0 / ROWS as f64,
                    sum.1 / ROWS as f64
                ));
            }
            println!(
                "{db:>5} {gamma:>6} | {}   (mean errors; 20⁴ vs 24⁴ worst {check:.1e})",
                cells.join(" ")
            );
        }
    }
    println!("worst over all rows (mean / covariance, relative to the posterior sd):");
    let den = CommitteeDenoiser::<f64, Sigmoid, 4>::new(
        Sigmoid,
        f2.as_slice(),
        10f64.powf(-1.5) * power,
        Estimator::Mmse,
    )
    .unwrap();
    let g = Precision::new(Matrix4::identity()).unwrap();
    let timing: Vec<(f64, Vector4<f64>)> = (0..2000)
        .map(|_| {
            let z = Vector4::from_fn(|_, _| normal(&mut rng));
            let s: f64 = (0..4).map(|j| f2[j] * Sigmoid.value(z[j])).sum();
            (s, z + Vector4::from_fn(|_, _| normal(&mut rng)))
        })
        .collect();
    let time = |f: &dyn Fn(f64, Vector4<f64>) -> f64| {
        let t = Instant::now();
        let mut acc = 0.0;
        for &(y, r) in &timing {
            acc += f(y, r);
        }
        std::hint::black_box(acc);
        t.elapsed().as_secs_f64() / timing.len() as f64 * 1e6
    };
    let map_us = time(&|y, r| den.map(y, RowMessage::new(r, &g)).estimate.mean[0]);
    let (starts, iterations) = timing.iter().fold((0, 0), |(s, i), &(y, r)| {
        let map = den.map(y, RowMessage::new(r, &g));
        (s + map.starts, i + map.iterations)
    });
    println!(
        "MAP alone: {map_us:.1} µs a row ({:.1} starts, {:.1} Newton iterations a row)",
        starts as f64 / timing.len() as f64,
        iterations as f64 / timing.len() as f64
    );
    for (k, &n) in rules.iter().enumerate() {
        let d = den.with_nodes(n).unwrap();
        let us = time(&|y, r| d.mmse(y, RowMessage::new(r, &g)).estimate.mean[0]);
        println!(
            "n = {n:>2} ({:>5} nodes): mean {:.1e}, cov {:.1e}; {us:.1} µs a row ({:.1}× the MAP)",
            n.pow(4),
            worst_all[k].0,
            worst_all[k].1,
            us / map_us
        );
    }
}
