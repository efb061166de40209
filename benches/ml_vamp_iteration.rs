//! One ML-Mat-VAMP iteration (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*, Algorithm 1) after the SVD, on the ML-AMP
//! paper's two-layer sparse regression (eq. 18) at n = 2000: `d = 1` (Gauss–Bernoulli prior)
//! and `d = 4` (row-sparse prior), against the rotations the iteration needs: per linear
//! layer `Uᵀ R_out`, `Vᵀ R_in` and `U ·` forward, `Uᵀ R_out` and `V ·` backward, with the
//! same products ([`mlamp::linalg::svd::Svd`]'s) on buffers of the same shapes.
//!
//! Prints the ratio iteration / rotations from rounds that time both back to back (the
//! machine's bandwidth drifts between criterion's separate measurements), and criterion's
//! own figures.

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use mlamp::algo::vamp::{decompositions, with_ml_vamp};
use mlamp::core::ml_vamp::Rotations;
use mlamp::linalg::operator::WeightOperator;
use mlamp::{Error, Instance, Model};

const N: usize = 2000;
const ROUNDS: usize = 15;

fn model(d: usize) -> Model {
    let prior = if d == 1 {
        "type = \"gauss-bernoulli\"\nrho = 0.3"
    } else {
        "type = \"row-sparse\"\nrho = 0.3"
    };
    Model::from_toml(&format!(
        "d = {d}\n[prior]\n{prior}\n[[layers]]\nalpha = 1.0\nchannel = {{ type = \"linear\", noise_var = 0.0 }}\n\
         [[layers]]\nalpha = 0.8\nchannel = {{ type = \"linear\", noise_var = 1e-8 }}\n"
    ))
    .expect("model")
}

/// The five products of one iteration, for every layer.
fn rotations(svds: &[WeightOperator], d: usize, bufs: &mut [(Vec<f64>, Vec<f64>, Vec<f64>)]) {
    for (s, (out, inp, rot)) in svds.iter().zip(bufs.iter_mut()) {
        s.left_t(out, d, rot);
        s.right_t(inp, d, rot);
        s.left(rot, d, out);
        s.left_t(out, d, rot);
        s.right(rot, d, inp);
    }
    black_box(bufs);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench<const D: usize>(c: &mut Criterion) -> Result<f64, Error> {
    let m = model(D);
    let inst = Instance::sample(&m, N, 1)?;
    let svds = decompositions(&inst)?;
    let mut bufs: Vec<_> = svds
        .iter()
        .map(|s| {
            (
                vec![0.5; s.rows() * D],
                vec![0.25; s.cols() * D],
                vec![0.0; s.rank() * D],
            )
        })
        .collect();
    with_ml_vamp::<D, _>(&m, &inst, &svds, None, |vamp, state, _| {
        // A few iterations first: time the iteration in its working regime.
        for _ in 0..5 {
            vamp.step(state, 0.8)?;
        }
        let (mut it, mut rot) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let t = Instant::now();
            vamp.step(state, 0.8)?;
            it.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            rotations(&svds, D, &mut bufs);
            rot.push(t.elapsed().as_secs_f64());
        }
        let (it, rot) = (median(it), median(rot));
        let ratio = it / rot;
        println!(
            "d = {D}: iteration {:.2} ms, its rotations {:.2} ms, ratio {ratio:.2} (median of {ROUNDS} interleaved rounds)",
            it * 1e3,
            rot * 1e3
        );
        c.bench_function(&format!("ml_vamp_iteration_d{D}"), |b| {
            b.iter(|| vamp.step(state, 0.8).expect("step"))
        });
        c.bench_function(&format!("ml_vamp_rotations_d{D}"), |b| {
            b.iter(|| rotations(&svds, D, &mut bufs))
        });
        Ok(ratio)
    })
}

fn main() {
    let mut c = Criterion::default().sample_size(20).configure_from_args();
    let r1 = bench::<1>(&mut c).expect("d = 1");
    let r4 = bench::<4>(&mut c).expect("d = 4");
    c.final_summary();
    println!("ML-Mat-VAMP iteration / rotations: d = 1 {r1:.2}, d = 4 {r4:.2} (target <= 3)");
}
