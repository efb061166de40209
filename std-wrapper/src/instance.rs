//! Seeded instances of a model: weights, the signal, every hidden layer and the observation.
//!
//! Reproducibility: one seed fixes every bit. The seed initialises a Xoshiro256++ generator;
//! each object draws from its own stream, the generator advanced by `j` jumps (2^128 steps
//! each): stream 0 the signal, stream `1 + 2k` the weights of layer `k`, stream `2 + 2k` its
//! channel noise. Each stream is consumed in a fixed order, so the instance does not depend on
//! how many threads generate it or on the order objects are generated in.
//!
//! With `d` columns, every variable is a row-major `n × d` matrix. The signal's stream gives,
//! row after row, a uniform `u` and a standard normal per entry (`u, ξ, u, ξ, …` for the
//! scalar priors, entry by entry; `u, ξ_1, …, ξ_d` for a row-sparse prior, whose `u` picks
//! the whole row), the noise stream one standard normal per entry of the layer's output.
//! For `d = 1` the draws are those of the scalar model.

use rand_core::SeedableRng;
use rand_distr::{Distribution, StandardNormal, StandardUniform};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::Error;
use crate::model::{Model, PriorSpec, WeightsSpec};
use crate::svd::{Svd, spectrum};

/// One sampled instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// `n_0, …, n_L`: the signal's rows first, the observation's last.
    pub sizes: Vec<usize>,
    /// Columns per row.
    pub d: usize,
    /// `W_k` for each layer, row-major `n_{k+1} × n_k` (iid N(0, 1/n_k) by default).
    pub weights: Vec<Vec<f64>>,
    /// For each layer whose model generates `W_k` from its singular value decomposition
    /// (`spectrum` weights), those factors, kept instead of decomposing `W_k` again.
    pub factors: Vec<Option<Svd>>,
    /// `h_0 = x, h_1, …, h_L = y`: the ground truth of every layer, row-major `n_k × d`.
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
    /// Samples an instance whose signal has `n` rows (of `model.d` entries).
    pub fn sample(model: &Model, n: usize, seed: u64) -> Result<Self, Error> {
        let d = model.d;
        let sizes = model.sizes(n)?;
        let mut rng = stream(seed, 0);
        let mut signal = Vec::with_capacity(n * d);
        let row_sparse = matches!(model.prior_spec, PriorSpec::RowSparse { .. });
        for _ in 0..n {
            if row_sparse {
                // One u for the whole row: its entries are the per-entry prior's draws with
                // that u (the zero row, or N(0, var) entries).
                let u: f64 = StandardUniform.sample(&mut rng);
                for _ in 0..d {
                    signal.push(model.prior.sample(u, normal(&mut rng)));
                }
            } else {
                for _ in 0..d {
                    let u: f64 = StandardUniform.sample(&mut rng);
                    signal.push(model.prior.sample(u, normal(&mut rng)));
                }
            }
        }
        let mut layers = vec![signal];
        let mut weights = Vec::with_capacity(model.depth());
        let mut factors = Vec::with_capacity(model.depth());
        for (k, layer) in model.layers.iter().enumerate() {
            let (n_in, n_out) = (sizes[k], sizes[k + 1]);
            let mut wr = stream(seed, 1 + 2 * k);
            let (w, svd) = match layer.weights {
                WeightsSpec::Gaussian => {
                    let scale = 1.0 / (n_in as f64).sqrt();
                    let w: Vec<f64> = (0..n_in * n_out).map(|_| scale * normal(&mut wr)).collect();
                    (w, None)
                }
                WeightsSpec::Spectrum { condition_number } => {
                    let svd = spectrum(n_out, n_in, condition_number, &mut wr).map_err(|e| {
                        Error::invalid(format!("layers[{k}].weights"), e.to_string())
                    })?;
                    (svd.dense(), Some(svd))
                }
            };
            let input = &layers[k];
            let mut nr = stream(seed, 2 + 2 * k);
            let channel = layer.channel.as_deref();
            let mut out = Vec::with_capacity(n_out * d);
            let mut z = vec![0.0; d];
            for row in w.chunks_exact(n_in) {
                z.iter_mut().for_each(|v| *v = 0.0);
                for (a, h) in row.iter().zip(input.chunks_exact(d)) {
                    for (zc, hc) in z.iter_mut().zip(h) {
                        *zc += a * hc;
                    }
                }
                for &zc in &z {
                    out.push(layer.spec.sample(channel, zc, normal(&mut nr)));
                }
            }
            weights.push(w);
            factors.push(svd);
            layers.push(out);
        }
        Ok(Self {
            sizes,
            d,
            weights,
            factors,
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
