//! Inverting a random 3-layer ReLU network (a deep generative prior) with ML-VAMP (`d = 1`):
//! `examples/models/relu_generative.toml`, `z ~ N(0, I)` of `n` entries expanded to `2n` and
//! `4n` by two ReLU layers, observed through `2n` noisy linear measurements (noise 1e-4).
//!
//! Prints, for the MMSE and the MAP estimators, the MSE of every layer's estimate and the
//! iterations, on three seeds.
//!
//! `cargo run --release --example relu_inversion [-- --n 500]`

use mlamp::algo::vamp::{VampOptions, run_ml_vamp};
use mlamp::core::estimator::Estimator;
use mlamp::{Instance, Model};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = args
        .iter()
        .position(|a| a == "--n")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(500usize);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/models/relu_generative.toml"
    );
    let model = Model::from_file(path).expect("model");
    println!(
        "3-layer ReLU network, latent n = {n}, sizes {:?}",
        model.sizes(n).expect("sizes")
    );
    println!(
        "{:>4}  {:>9}  {:>10}  {:>10}  {:>10}  {:>5}",
        "seed", "estimator", "MSE z", "MSE h1", "MSE h2", "iter."
    );
    for seed in 0..3 {
        let inst = Instance::sample(&model, n, seed).expect("instance");
        for (name, est) in [("mmse", Estimator::Mmse), ("map", Estimator::Map)] {
            let opts = VampOptions {
                max_iter: 300,
                estimator: Some(est),
                ..VampOptions::default()
            };
            let r = run_ml_vamp(&model, &inst, &opts).expect("run");
            let m = &r.mse_layers;
            println!(
                "{seed:>4}  {name:>9}  {:>10.3e}  {:>10.3e}  {:>10.3e}  {:>5}",
                m[0], m[1], m[2], r.iterations
            );
        }
    }
}
