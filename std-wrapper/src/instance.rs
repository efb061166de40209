//! Seeded instances of a model: weights, the signal, every hidden layer and the observation.
//!
//! Reproducibility: one seed fixes every bit. The seed initialises a Xoshiro256++ generator;
//! each object draws from its own stream, the generator advanced by `j` jumps (2^128 steps
//! each): stream 0 the signal, stream `1 + 2k` the weights of layer `k`, stream `2 + 2k` its
//! channel noise. Each stream is consumed in a fixed order, so the instance does not depend on
//! how many threads generate it or on the order objects are generated in.

use rand_core::SeedableRng;
use rand_distr::{Distribution, StandardNormal, StandardUniform};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::Error;
use crate::model::Model;

/// One sampled instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// `n_0, …, n_L`: the signal's size first, the observation's last.
    pub sizes: Vec<usize>,
    /// `W_k` for each layer, row-major `n_{k+1} × n_k`, iid N(0, 1/n_k).
    pub weights: Vec<Vec<f64>>,
    /// `h_0 = x, h_1, …, h_L = y`: the ground truth of every layer.
    pub layers: Vec<Vec<f64>>,
}

/// The generator of stream `j` for `seed`.
pub fn stream(seed: u64, j: usize) -> Xoshiro256PlusPlus {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for _ in 0..j {
        rng.jump();
    }
    rng
}

/// A standard normal draw.
pub fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    StandardNormal.sample(rng)
}

impl Instance {
    /// Samples an instance whose signal has `n` entries.
    pub fn sample(model: &Model, n: usize, seed: u64) -> Result<Self, Error> {
        if model.d != 1 {
            return Err(Error::invalid(
                "d",
                "instances with d > 1 need the ML-Mat-VAMP driver",
            ));
        }
        let sizes = model.sizes(n)?;
        let mut rng = stream(seed, 0);
        let signal: Vec<f64> = (0..n)
            .map(|_| {
                let u: f64 = StandardUniform.sample(&mut rng);
                let xi = normal(&mut rng);
                model.prior.sample(u, xi)
            })
            .collect();
        let mut layers = vec![signal];
        let mut weights = Vec::with_capacity(model.depth());
        for (k, layer) in model.layers.iter().enumerate() {
            let (n_in, n_out) = (sizes[k], sizes[k + 1]);
            let scale = 1.0 / (n_in as f64).sqrt();
            let mut wr = stream(seed, 1 + 2 * k);
            let w: Vec<f64> = (0..n_in * n_out).map(|_| scale * normal(&mut wr)).collect();
            let input = &layers[k];
            let mut nr = stream(seed, 2 + 2 * k);
            let out: Vec<f64> = w
                .chunks_exact(n_in)
                .map(|row| {
                    let z: f64 = row.iter().zip(input).map(|(a, b)| a * b).sum();
                    layer.channel.sample(z, normal(&mut nr))
                })
                .collect();
            weights.push(w);
            layers.push(out);
        }
        Ok(Self {
            sizes,
            weights,
            layers,
        })
    }

    /// The observation `y = h_L`.
    pub fn observation(&self) -> &[f64] {
        self.layers
            .last()
            .expect("an instance has at least the signal")
    }

    /// The signal `x = h_0`.
    pub fn signal(&self) -> &[f64] {
        &self.layers[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bits_and_the_right_scalings() {
        let m = Model::from_toml(
            "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 2.0\nchannel = { type = \"linear\", noise_var = 0.25 }\n",
        )
        .unwrap();
        let a = Instance::sample(&m, 400, 7).unwrap();
        let b = Instance::sample(&m, 400, 7).unwrap();
        let c = Instance::sample(&m, 400, 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.signal(), c.signal());
        // Entries of W have variance 1/n_in; y = W x + noise has variance ≈ 1 + 0.25.
        let w = &a.weights[0];
        let ms = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
        assert!((ms * 400.0 - 1.0).abs() < 0.01, "{ms}");
        let y = a.observation();
        let vy = y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64;
        assert!((vy - 1.25).abs() < 0.15, "{vy}");
    }
}
