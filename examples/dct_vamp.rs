//! ML-VAMP at n = 10⁵ and 10⁶ with `dct` weights (`examples/models/sparse_regression_dct.toml`:
//! the ML-AMP paper's eq. 18 with both weight matrices subsampled randomised DCTs, applied in
//! `O(n log n)` and never stored).
//!
//! For each n: the time to sample the instance; one ML-VAMP iteration (the median of 5 after 3
//! warm-up iterations) beside the transforms it applies (per layer `Uᵀ R_out`, `Vᵀ R_in`,
//! `U ·`, `Uᵀ R_out`, `V ·`: the same five products as `benches/ml_vamp_iteration.rs`, timed
//! interleaved with the iterations), and their ratio; the whole run with the default options
//! (time, iterations, MSE); the state evolution's fixed-point MSE (40 iterations, its
//! Monte-Carlo standard error; computed once, the sizes' ratios being the same for every n);
//! and the process's peak resident memory so far
//! (`VmHWM` of `/proc/self/status`).
//!
//! `cargo run --release --example dct_vamp [-- N …]` (default `100000 1000000`).

use std::time::Instant;

use mlamp::algo::vamp::{VampOptions, decompositions, run_ml_vamp, with_ml_vamp};
use mlamp::core::ml_vamp::Rotations;
use mlamp::linalg::operator::WeightOperator;
use mlamp::se::vamp::report::model_laws;
use mlamp::se::vamp::{VampSeOptions, vamp_state_evolution};
use mlamp::{Error, Instance, Model};

const MODEL: &str = "examples/models/sparse_regression_dct.toml";
const ROUNDS: usize = 5;

/// `VmHWM` of `/proc/self/status` in MB (peak resident memory of the process so far).
fn peak_mb() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The five products of one iteration, for every layer (d = 1).
fn transforms(ops: &[WeightOperator], bufs: &mut [(Vec<f64>, Vec<f64>, Vec<f64>)]) {
    for (s, (out, inp, rot)) in ops.iter().zip(bufs.iter_mut()) {
        s.left_t(out, 1, rot);
        s.right_t(inp, 1, rot);
        s.left(rot, 1, out);
        s.left_t(out, 1, rot);
        s.right(rot, 1, inp);
    }
}

/// The SE's fixed-point MSE of the signal (its value and Monte-Carlo standard error), computed
/// once: the laws of `dct` weights depend on the sizes only through their ratios, the same
/// for every n here.
fn se_fixed_point(
    m: &Model,
    sizes: &[usize],
    cache: &mut Option<(f64, f64)>,
) -> Result<(f64, f64), Error> {
    if let Some(v) = *cache {
        return Ok(v);
    }
    let se = vamp_state_evolution(
        m,
        &model_laws(m, sizes)?,
        &VampSeOptions {
            iterations: 40,
            ..VampSeOptions::default()
        },
    )?;
    let last = &se.iterations.last().expect("40 iterations").mse_layers[0];
    *cache = Some((last.value, last.se));
    Ok((last.value, last.se))
}

fn one(m: &Model, n: usize, se: &mut Option<(f64, f64)>) -> Result<(), Error> {
    let t = Instant::now();
    let inst = Instance::sample(m, n, 1)?;
    let sample = t.elapsed().as_secs_f64();
    let ops = decompositions(&inst)?;
    let mut bufs: Vec<_> = ops
        .iter()
        .map(|s| {
            (
                vec![0.5; s.rows()],
                vec![0.25; s.cols()],
                vec![0.0; s.singular_values().len()],
            )
        })
        .collect();
    let (it, tr) = with_ml_vamp::<1, _>(m, &inst, &ops, None, |vamp, state, _| {
        for _ in 0..3 {
            vamp.step(state, 0.8)?;
        }
        let (mut it, mut tr) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let t = Instant::now();
            vamp.step(state, 0.8)?;
            it.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            transforms(&ops, &mut bufs);
            tr.push(t.elapsed().as_secs_f64());
        }
        Ok((median(it), median(tr)))
    })?;
    drop(ops);
    let t = Instant::now();
    let run = run_ml_vamp(m, &inst, &VampOptions::default())?;
    let whole = t.elapsed().as_secs_f64();
    let fixed = se_fixed_point(m, &inst.sizes, se)?;
    println!(
        "n = {n:>8} (sizes {:?}): sample {sample:.2} s; one iteration {:.1} ms, its transforms \
         {:.1} ms (ratio {:.2}, median of {ROUNDS}); whole run {whole:.2} s, {} iterations ({}), \
         MSE {:.3e} vs SE {:.3e} ± {:.1e}; peak memory {:.0} MB",
        inst.sizes,
        it * 1e3,
        tr * 1e3,
        it / tr,
        run.iterations,
        if run.converged {
            "converged"
        } else {
            "not converged"
        },
        run.mse_signal(),
        fixed.0,
        fixed.1,
        peak_mb().unwrap_or(f64::NAN),
    );
    Ok(())
}

fn main() -> Result<(), Error> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("N: a positive integer"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        sizes
    };
    let m = Model::from_file(MODEL)?;
    let mut se = None;
    for n in sizes {
        one(&m, n, &mut se)?;
    }
    Ok(())
}
