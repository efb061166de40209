//! One state-evolution fixed point (from the uninformative start) and one free-energy
//! evaluation (eq. 15 at that fixed point) for the ML-AMP paper's three two-layer models.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mlamp::Model;
use mlamp::se::{SeOptions, Start, StateEvolution};

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("state_evolution");
    g.sample_size(10);
    for name in ["sparse_regression", "perceptron", "decoder"] {
        let path = format!("{}/examples/models/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let model = Model::from_file(&path).expect("model");
        let se = StateEvolution::new(&model, SeOptions::default()).expect("SE");
        g.bench_function(format!("{name}/fixed_point"), |b| {
            b.iter(|| black_box(se.fixed_point(Start::Uninformative)))
        });
        let m = se.fixed_point(Start::Uninformative).m;
        g.bench_function(format!("{name}/free_energy"), |b| {
            b.iter(|| black_box(se.free_energy_at(&m)))
        });
    }
    g.finish();
}

criterion_group!(state_evolution, benches);
criterion_main!(state_evolution);
