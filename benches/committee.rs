//! The committee of the ML-Mat-VAMP paper's section 5 (Pandit, Sahraee-Ardakan, Rangan,
//! Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*) at `d = 4`,
//! `N_in = 100`, 15 dB: one state-evolution iteration with 10⁵ Monte-Carlo rows (MAP and
//! MMSE), one ML-Mat-VAMP MAP run (20 iterations) and one ADAM fit (100 epochs) at `N = 2000`,
//! and one row of each output estimator.
//!
//! The SE iteration is timed as the difference between 2 and 1 iterations (the first includes
//! the set-up: the Marchenko–Pastur law and the start), both measured here.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mlamp::committee::adam::{AdamOptions, Committee};
use mlamp::se::spectral_law::SpectralLaw;
use mlamp::se::vamp::{VampSeOptions, vamp_state_evolution};
use mlamp::{Instance, Model, VampOptions, run_ml_vamp};

const N_IN: usize = 100;
const N: usize = 2000;

fn model(estimator: &str) -> Model {
    let text = format!(
        "d = 4\n[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = {:?}\n\
         channel = {{ type = \"committee\", activation = \"sigmoid\", snr_db = 15.0, f2_seed = 7 }}\n\
         estimator = \"{estimator}\"\n",
        N as f64 / N_IN as f64
    );
    Model::from_toml(&text).expect("model")
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("committee");
    g.sample_size(10);
    let law = SpectralLaw::marchenko_pastur(N, N_IN, 64).expect("law");
    for estimator in ["map", "mmse"] {
        let m = model(estimator);
        for iterations in [1, 2] {
            let opts = VampSeOptions {
                samples: 100_000,
                iterations,
                seed: 1,
                ..VampSeOptions::default()
            };
            g.bench_function(
                format!("se_{estimator}_1e5_samples_{iterations}_iterations"),
                |b| {
                    b.iter(|| {
                        black_box(vamp_state_evolution(&m, std::slice::from_ref(&law), &opts))
                    })
                },
            );
        }
    }
    let m = model("map");
    let inst = Instance::sample(&m, N_IN, 1).expect("instance");
    let opts = VampOptions {
        damping: 1.0,
        max_iter: 20,
        tol: 0.0,
        ..VampOptions::default()
    };
    g.bench_function("vamp_map_run_n2000_20_iterations", |b| {
        b.iter(|| black_box(run_ml_vamp(&m, &inst, &opts)))
    });
    let problem = Committee::of_instance(&m, &inst, 1.0).expect("a committee");
    g.bench_function("adam_n2000_100_epochs", |b| {
        b.iter(|| black_box(AdamOptions::default().fit(&problem, 1)))
    });
    g.finish();
}

criterion_group!(committee, benches);
criterion_main!(committee);
