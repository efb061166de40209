//! One ML-AMP iteration on the paper's two-layer sparse regression (eq. 18) at n = 2000, both
//! variances, against a plain read of the weight bytes the iteration must touch (each matrix
//! twice: once forward, once backward). Prints the ratio of the times measured in this run.

use std::hint::black_box;
use std::path::Path;

use criterion::Criterion;
use mlamp::core::ml_amp::{AmpLayer, LayerState, MlAmp, VarianceMode};
use mlamp::core::operator::DenseWeights;
use mlamp::driver::model_moments;
use mlamp::{Instance, Model};

const N: usize = 2000;

/// Σ w over a slice with eight partial sums (what a vectorised streaming read does).
fn read_sum(w: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    for c in w.chunks_exact(8) {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f64>() + w.chunks_exact(8).remainder().iter().sum::<f64>()
}

fn benches(c: &mut Criterion) {
    let model = Model::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/models/sparse_regression.toml"
    ))
    .expect("model");
    let inst = Instance::sample(&model, N, 1).expect("instance");
    let ops: Vec<DenseWeights<'_, f64>> = inst
        .weights
        .iter()
        .enumerate()
        .map(|(k, w)| DenseWeights::new(w, inst.sizes[k + 1], inst.sizes[k]).unwrap())
        .collect();
    let layers: Vec<AmpLayer<'_, f64>> = ops
        .iter()
        .zip(&model.layers)
        .map(|(w, l)| AmpLayer {
            weights: w,
            channel: l.channel.as_ref(),
        })
        .collect();
    let moments = model_moments(&model).unwrap();

    let mut g = c.benchmark_group("ml_amp_n2000");
    g.sample_size(30);
    for (name, mode) in [
        ("iteration_full", VarianceMode::Full),
        ("iteration_mean", VarianceMode::Mean),
    ] {
        let amp = MlAmp::new(model.prior.as_ref(), &layers, inst.observation(), mode).unwrap();
        let mut buf = vec![0.0; amp.state_len()];
        let mut state = Vec::new();
        let mut rest: &mut [f64] = &mut buf;
        for k in 0..layers.len() {
            let (st, r) = LayerState::carve(rest, inst.sizes[k + 1], inst.sizes[k]).unwrap();
            state.push(st);
            rest = r;
        }
        amp.initialise(&mut state, &moments).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| black_box(amp.step(&mut state, 0.8).unwrap()))
        });
    }
    g.bench_function("read_weights_twice", |b| {
        b.iter(|| {
            let mut s = 0.0;
            for _ in 0..2 {
                for w in &inst.weights {
                    s += read_sum(black_box(w));
                }
            }
            black_box(s)
        })
    });
    g.finish();
}

/// The mean time criterion estimated for `id`, in ns, from its report in `target/criterion`.
fn mean_ns(id: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    let path = Path::new(&dir)
        .join("criterion")
        .join("ml_amp_n2000")
        .join(id)
        .join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    if let Some(read) = mean_ns("read_weights_twice") {
        for id in ["iteration_full", "iteration_mean"] {
            if let Some(t) = mean_ns(id) {
                println!(
                    "{id}: {:.2} ms = {:.2} x the read of its weight bytes ({:.2} ms)",
                    t / 1e6,
                    t / read,
                    read / 1e6
                );
            }
        }
    }
}
