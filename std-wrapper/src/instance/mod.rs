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
//! the whole row), the noise stream what the channel's row sampler asks for
//! ([`mlamp_core::channel::ChannelKind::sample_row`]: one standard normal per entry of the
//! layer's output, in column order; one per row for a committee output, whose rows have
//! `observation_dim(d) = 1` entry).
//! For `d = 1` the draws are those of the scalar model.

use mlamp_core::ml_vamp::Rotations;
use mlamp_core::prior::Draw;
use rand_distr::{Distribution, StandardUniform};

use crate::arrays::Matrix;
use crate::error::{DataProblem, Error};
use crate::linalg::dct::SubsampledDct;
use crate::linalg::operator::WeightOperator;
use crate::model::{Model, WeightsSpec};

pub mod ensembles;

use crate::streams::{normal, stream};
use ensembles::spectrum;

/// One sampled instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// `n_0, …, n_L`: the signal's rows first, the observation's last.
    pub sizes: Vec<usize>,
    /// Columns per row.
    pub d: usize,
    /// `W_k` for each layer, row-major `n_{k+1} × n_k` (iid N(0, 1/n_k) by default); empty
    /// for `dct` weights, which are only an operator (in [`Instance::factors`]).
    pub weights: Vec<Vec<f64>>,
    /// For each layer whose model generates `W_k` from its singular value decomposition,
    /// that decomposition, kept instead of decomposing `W_k` again: the dense factors of
    /// `spectrum` weights, the transform of `dct` weights (the only form they have).
    pub factors: Vec<Option<WeightOperator>>,
    /// `h_0 = x, h_1, …, h_L = y`: the ground truth of every layer, row-major `n_k × d`
    /// (`y`: `n_L × p`, `p` the output channel's observation dimension, `d` or fewer). In an
    /// instance made of given data ([`Instance::from_data`]) the truths not given are empty:
    /// those of `h_j, …, h_{L−1}` for some `j` (all of them if none is given).
    pub layers: Vec<Vec<f64>>,
}

/// Given data for [`Instance::from_data`]: matrices read from array files.
#[derive(Clone, Debug)]
pub struct Data {
    /// `W_1, …, W_L` (our order, from the signal): `W_k` is `n_k × n_{k−1}`.
    pub weights: Vec<Matrix>,
    /// `y`: `n_L × p` (a vector for `p = 1`).
    pub observation: Matrix,
    /// The ground truth of `h_0 = x, h_1, …` as far as known (possibly none), each `n_k × d`.
    pub truth: Vec<Matrix>,
}

impl Instance {
    /// Samples an instance whose signal has `n` rows (of `model.d` entries).
    pub fn sample(model: &Model, n: usize, seed: u64) -> Result<Self, Error> {
        let d = model.d;
        let sizes = model.sizes(n)?;
        crate::memory::check(
            model,
            n,
            crate::memory::Usage::Instance,
            None,
            "the instance",
        )?;
        let mut rng = stream(seed, 0);
        let mut signal = vec![0.0; n * d];
        // The prior's row sampler asks for its draws in its own order (see the module docs).
        let mut draw = |k: Draw| match k {
            Draw::Uniform => StandardUniform.sample(&mut rng),
            Draw::Normal => normal(&mut rng),
        };
        for row in signal.chunks_exact_mut(d) {
            model.prior.sample_row(&mut draw, row);
        }
        let mut layers = vec![signal];
        let mut weights = Vec::with_capacity(model.depth());
        let mut factors = Vec::with_capacity(model.depth());
        for (k, layer) in model.layers.iter().enumerate() {
            let (n_in, n_out) = (sizes[k], sizes[k + 1]);
            let mut wr = stream(seed, 1 + 2 * k);
            let (w, svd) = match layer.weights {
                WeightsSpec::Gaussian {} => {
                    let scale = 1.0 / (n_in as f64).sqrt();
                    let w: Vec<f64> = (0..n_in * n_out).map(|_| scale * normal(&mut wr)).collect();
                    (w, None)
                }
                WeightsSpec::Spectrum { condition_number } => {
                    let svd = spectrum(n_out, n_in, condition_number, &mut wr).map_err(|e| {
                        Error::invalid(format!("layers[{k}].weights"), e.to_string())
                    })?;
                    (svd.dense(), Some(WeightOperator::Svd(svd)))
                }
                WeightsSpec::Dct {} => {
                    let dct = SubsampledDct::sample(n_out, n_in, &mut wr).map_err(|e| {
                        Error::invalid(format!("layers[{k}].weights"), e.to_string())
                    })?;
                    (Vec::new(), Some(WeightOperator::Dct(dct)))
                }
            };
            let input = &layers[k];
            // `W h` all at once when `W` is a transform (no dense rows to loop over).
            let transformed = match &svd {
                Some(WeightOperator::Dct(dct)) => dct.apply(input, d),
                _ => Vec::new(),
            };
            let mut nr = stream(seed, 2 + 2 * k);
            let p = layer.channel.observation_dim(d);
            let mut out = vec![0.0; n_out * p];
            let mut z = vec![0.0; d];
            if let Some(mask) = &layer.mask {
                mask.check_rows(n_out)?;
            }
            for (i, out_row) in out.chunks_exact_mut(p).enumerate() {
                if transformed.is_empty() {
                    z.iter_mut().for_each(|v| *v = 0.0);
                    let row = &w[i * n_in..(i + 1) * n_in];
                    for (a, h) in row.iter().zip(input.chunks_exact(d)) {
                        for (zc, hc) in z.iter_mut().zip(h) {
                            *zc += a * hc;
                        }
                    }
                } else {
                    z.copy_from_slice(&transformed[i * d..(i + 1) * d]);
                }
                let mut xi = || normal(&mut nr);
                match &layer.mask {
                    // The mask file's row instead of one drawn from the seed.
                    Some(mask) => mask.sample_row(i, &z, &mut xi, out_row)?,
                    None => layer
                        .channel
                        .sample_row(&z, &mut xi, out_row)
                        .map_err(|e| Error::at(&format!("layers[{k}].channel"), e))?,
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

    /// The instance of given data: the sizes `n_0 = ` columns of `W_1`, `n_k = ` rows of
    /// `W_k`; `model`'s alphas are set to the ratios of these sizes (its file's alphas are
    /// only for sampling). Every shape is checked against the model (`L` weights, `y` with
    /// the output channel's `p` columns, truths of `d` columns) and against its neighbours;
    /// the error names the file, the layer and both shapes.
    pub fn from_data(model: &mut Model, data: Data) -> Result<Self, Error> {
        let Data {
            weights,
            observation,
            truth,
        } = data;
        let depth = model.depth();
        let d = model.d;
        if weights.len() != depth {
            return Err(Error::invalid(
                "weights",
                format!(
                    "the model has {depth} layers, {} weight files were given (one per layer, \
                     from the signal to the observation)",
                    weights.len()
                ),
            ));
        }
        if truth.len() > depth {
            let which = match depth {
                1 => "the signal x = h_0's".to_string(),
                2 => "x = h_0, then h_1".to_string(),
                _ => format!("x = h_0, then h_1, …, h_{}", depth - 1),
            };
            return Err(Error::invalid(
                "truth",
                format!(
                    "{} files given, at most {depth}: {which} (the observation is h_{depth})",
                    truth.len()
                ),
            ));
        }
        let shape_err = |m: &Matrix, what: String| Error::Data {
            path: m.path.clone(),
            problem: DataProblem::Shape(what),
        };
        let mut sizes = vec![weights[0].cols];
        for (k, w) in weights.iter().enumerate() {
            if k > 0 && w.cols != weights[k - 1].rows {
                let prev = &weights[k - 1];
                return Err(shape_err(
                    w,
                    format!(
                        "layers[{k}]: W_{} is {} but W_{k} ({}) is {}: W_{} needs {} columns",
                        k + 1,
                        w.shape(),
                        prev.path,
                        prev.shape(),
                        k + 1,
                        prev.rows
                    ),
                ));
            }
            sizes.push(w.rows);
        }
        let p = model.layers[depth - 1].channel.observation_dim(d);
        let last = &weights[depth - 1];
        if observation.rows != last.rows || observation.cols != p {
            return Err(shape_err(
                &observation,
                format!(
                    "layers[{}]: the observation is {} but needs {}×{p} (the rows of W_{depth} \
                     ({}, {}), and the output's {p} entries per row)",
                    depth - 1,
                    observation.shape(),
                    last.rows,
                    last.path,
                    last.shape()
                ),
            ));
        }
        for (k, h) in truth.iter().enumerate() {
            if h.rows != sizes[k] || h.cols != d {
                let w = &weights[k];
                return Err(shape_err(
                    h,
                    format!(
                        "h_{k}: the truth is {} but needs {}×{d} (the columns of {} ({}), and d = {d})",
                        h.shape(),
                        sizes[k],
                        w.path,
                        w.shape()
                    ),
                ));
            }
        }
        model.set_sizes(&sizes)?;
        let mut layers: Vec<Vec<f64>> = truth.into_iter().map(|m| m.values).collect();
        layers.resize(depth, Vec::new());
        layers.push(observation.values);
        Ok(Self {
            sizes,
            d,
            weights: weights.into_iter().map(|m| m.values).collect(),
            factors: vec![None; depth],
            layers,
        })
    }

    /// How many of `h_0 = x, …, h_{L−1}` have a known ground truth (all of them in a sampled
    /// instance; those given in one made of data).
    pub fn known_truths(&self) -> usize {
        let hidden = self.layers.len().saturating_sub(1);
        self.layers[..hidden]
            .iter()
            .take_while(|h| !h.is_empty())
            .count()
    }

    /// Checks that the instance fits `model` (layers, sizes, `d`, the weights' shapes) and
    /// holds only finite values; the error names the part.
    pub fn check_against(&self, model: &Model) -> Result<(), Error> {
        let depth = model.depth();
        if self.d != model.d {
            return Err(Error::invalid("instance.d", "differs from the model's d"));
        }
        if self.weights.len() != depth
            || self.factors.len() != depth
            || self.layers.len() != depth + 1
            || self.sizes.len() != depth + 1
        {
            return Err(Error::invalid(
                "instance",
                "does not have the model's number of layers",
            ));
        }
        let known = self.known_truths();
        for (k, (h, &n)) in self.layers.iter().zip(&self.sizes).enumerate() {
            // Unknown truths (empty) come after the known ones, never the observation.
            if k >= known && k < depth {
                if h.is_empty() {
                    continue;
                }
                return Err(Error::invalid(
                    format!("instance.layers[{k}]"),
                    format!("is known but h_{known} before it is not"),
                ));
            }
            // Every variable has rows of d, except an output that observes fewer per row.
            let width = match k.checked_sub(1) {
                Some(j) => model.layers[j].channel.observation_dim(self.d),
                None => self.d,
            };
            if h.len() != n * width {
                return Err(Error::invalid(
                    format!("instance.layers[{k}]"),
                    format!("has {} entries, sizes say {n} × {width}", h.len()),
                ));
            }
            if h.iter().any(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    format!("instance.layers[{k}]"),
                    "contains NaN or infinite values",
                ));
            }
        }
        for (k, (w, f)) in self.weights.iter().zip(&self.factors).enumerate() {
            let (n_out, n_in) = (self.sizes[k + 1], self.sizes[k]);
            if let Some(f) = f
                && (f.rows(), f.cols()) != (n_out, n_in)
            {
                return Err(Error::invalid(
                    format!("instance.factors[{k}]"),
                    "is not n_out × n_in",
                ));
            }
            // `dct` weights are only their operator.
            let entries = match f {
                Some(WeightOperator::Dct(_)) => 0,
                _ => n_out * n_in,
            };
            if w.len() != entries {
                return Err(Error::invalid(
                    format!("instance.weights[{k}]"),
                    "does not have n_out × n_in entries (none for dct weights)",
                ));
            }
        }
        Ok(())
    }

    /// The observation `y = h_L`.
    pub fn observation(&self) -> &[f64] {
        self.layers
            .last()
            .expect("an instance has at least the signal")
    }

    /// The signal `x = h_0` (empty if unknown: see [`Instance::known_truths`]).
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

    fn row_sparse(d: usize, rho: f64, var: f64) -> Model {
        Model::from_toml(&format!(
            "d = {d}\n[prior]\ntype = \"row-sparse\"\nrho = {rho}\nvar = {var}\n\
             [[layers]]\nalpha = 0.5\nchannel = {{ type = \"linear\", noise_var = 1e-4 }}\n"
        ))
        .unwrap()
    }

    #[test]
    fn row_sparse_rows_are_all_zero_or_all_non_zero() {
        let (n, rho, var) = (4000, 0.3, 2.0);
        let m = row_sparse(3, rho, var);
        let inst = Instance::sample(&m, n, 21).unwrap();
        assert_eq!(inst.d, 3);
        assert_eq!(inst.sizes, vec![n, n / 2]);
        let x = inst.signal();
        assert_eq!(x.len(), n * 3);
        let mut support = 0;
        let (mut sum_sq, mut entries) = (0.0, 0usize);
        for row in x.chunks_exact(3) {
            let zeros = row.iter().filter(|&&v| v == 0.0).count();
            assert!(zeros == 0 || zeros == 3, "a partly zero row: {row:?}");
            if zeros == 0 {
                support += 1;
                sum_sq += row.iter().map(|v| v * v).sum::<f64>();
                entries += 3;
            }
        }
        // The support is Binomial(n, ρ): sd √(ρ(1 − ρ)/n) ≈ 0.0072 of a fraction; 0.03 is 4 sd.
        let frac = support as f64 / n as f64;
        assert!((frac - rho).abs() < 0.03, "{frac}");
        // The non-zero rows' entries are N(0, var): the mean square over ≈ 3600 of them has a
        // relative sd of √(2/3600) ≈ 0.024; 0.1 is 4 sd.
        let ms = sum_sq / entries as f64;
        assert!((ms / var - 1.0).abs() < 0.1, "{ms}");
        // The observation has d columns too, and every entry of W x is a sum over the support:
        // E y² = ρ var + noise.
        let y = inst.observation();
        assert_eq!(y.len(), (n / 2) * 3);
        let vy = y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64;
        assert!((vy / (rho * var + 1e-4) - 1.0).abs() < 0.15, "{vy}");
        // One seed, one instance; another seed, another support.
        assert_eq!(inst, Instance::sample(&m, n, 21).unwrap());
        let other = Instance::sample(&m, n, 22).unwrap();
        assert_ne!(inst.signal(), other.signal());
    }

    #[test]
    fn row_sparse_density_is_rho_for_several_d() {
        for (d, rho) in [(2, 0.1), (5, 0.5), (8, 0.9)] {
            let n = 3000;
            let inst = Instance::sample(&row_sparse(d, rho, 1.0), n, 3).unwrap();
            let rows: Vec<&[f64]> = inst.signal().chunks_exact(d).collect();
            assert_eq!(rows.len(), n);
            assert!(
                rows.iter()
                    .all(|r| r.iter().all(|&v| v == 0.0) || r.iter().all(|&v| v != 0.0))
            );
            let frac = rows.iter().filter(|r| r[0] != 0.0).count() as f64 / n as f64;
            // 4 sd of Binomial(n, ρ)/n.
            let tol = 4.0 * (rho * (1.0 - rho) / n as f64).sqrt();
            assert!((frac - rho).abs() < tol, "d = {d}: {frac} vs {rho}");
        }
        // ρ = 1: every row non-zero.
        let inst = Instance::sample(&row_sparse(4, 1.0, 1.0), 500, 9).unwrap();
        assert!(inst.signal().iter().all(|&v| v != 0.0));
    }

    #[test]
    fn row_sparse_with_d_1_is_gauss_bernoulli_with_mean_0() {
        // With d = 1 a row is an entry: the same u, ξ per entry, the same bits.
        for (rho, var, seed) in [(0.3, 1.0, 0), (0.05, 2.5, 17), (1.0, 0.5, 123)] {
            let layers = "[[layers]]\nalpha = 1.5\nchannel = { type = \"relu\", noise_var = 0.0 }\n\
                          [[layers]]\nalpha = 0.7\nchannel = { type = \"linear\", noise_var = 1e-3 }\n";
            let rs = Model::from_toml(&format!(
                "[prior]\ntype = \"row-sparse\"\nrho = {rho}\nvar = {var}\n{layers}"
            ))
            .unwrap();
            let gb = Model::from_toml(&format!(
                "d = 1\n[prior]\ntype = \"gauss-bernoulli\"\nrho = {rho}\nmean = 0.0\nvar = {var}\n{layers}"
            ))
            .unwrap();
            let a = Instance::sample(&rs, 700, seed).unwrap();
            let b = Instance::sample(&gb, 700, seed).unwrap();
            assert_eq!(a.d, 1);
            assert_eq!(a, b, "rho = {rho}, var = {var}, seed = {seed}");
            // Bit for bit, not just up to rounding.
            assert!(
                a.layers
                    .iter()
                    .flatten()
                    .zip(b.layers.iter().flatten())
                    .all(|(u, v)| u.to_bits() == v.to_bits())
            );
        }
    }

    #[test]
    fn dct_weights_are_an_operator_and_the_observation_is_w_x() {
        // y = W x exactly (no noise), W = c S H D written entry by entry from the orthonormal
        // DCT-II's definition, for a wide and a tall layer, d = 2.
        for alpha in [0.625, 1.5] {
            let m = Model::from_toml(&format!(
                "d = 2\n[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = {alpha}\n\
                 channel = {{ type = \"linear\", noise_var = 0.0 }}\nweights = {{ type = \"dct\" }}\n"
            ))
            .unwrap();
            let n = 32;
            let inst = Instance::sample(&m, n, 4).unwrap();
            let (rows, cols) = (inst.sizes[1], inst.sizes[0]);
            assert!(inst.weights[0].is_empty());
            let Some(WeightOperator::Dct(op)) = &inst.factors[0] else {
                panic!("no operator")
            };
            let big = rows.max(cols);
            let c = (rows as f64 / rows.min(cols) as f64).sqrt();
            // Q[p][j] = a_k cos(π k (2j + 1) / 2N) D_jj with k = sel_p.
            let q = |p: usize, j: usize| {
                let k = op.selected()[p];
                let a = if k == 0 { 1.0 } else { 2.0f64 }.sqrt() / (big as f64).sqrt();
                let angle = std::f64::consts::PI * (k * (2 * j + 1)) as f64 / (2 * big) as f64;
                a * angle.cos() * op.signs()[j]
            };
            let (x, y) = (inst.signal(), inst.observation());
            for i in 0..rows {
                for col in 0..2 {
                    let want: f64 = (0..cols)
                        .map(|j| c * if rows <= cols { q(i, j) } else { q(j, i) } * x[j * 2 + col])
                        .sum();
                    assert!((y[i * 2 + col] - want).abs() < 1e-12, "{alpha}: {i}");
                }
            }
            assert!(inst.check_against(&m).is_ok());
            // A dense copy beside the operator is not an instance of dct weights.
            let mut dense = inst.clone();
            dense.weights[0] = vec![0.0; rows * cols];
            assert!(dense.check_against(&m).is_err());
            assert_eq!(inst, Instance::sample(&m, n, 4).unwrap());
        }
    }

    fn matrix(path: &str, rows: usize, cols: usize, values: Vec<f64>) -> Matrix {
        Matrix {
            path: path.into(),
            rows,
            cols,
            values,
        }
    }

    #[test]
    fn data_sets_the_sizes_and_alphas_and_refuses_mismatched_shapes() {
        let text = "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1.0\n\
                    channel = { type = \"relu\" }\n[[layers]]\nalpha = 1.0\n\
                    channel = { type = \"linear\", noise_var = 0.1 }\n";
        let data = |w2_cols: usize, y_rows: usize, truth: Vec<Matrix>| Data {
            weights: vec![
                matrix("W1", 6, 4, vec![0.5; 24]),
                matrix("W2", 3, w2_cols, vec![0.5; 3 * w2_cols]),
            ],
            observation: matrix("y", y_rows, 1, vec![1.0; y_rows]),
            truth,
        };
        let mut m = Model::from_toml(text).unwrap();
        let inst = Instance::from_data(&mut m, data(6, 3, vec![])).unwrap();
        assert_eq!(inst.sizes, [4, 6, 3]);
        assert_eq!((m.layers[0].alpha, m.layers[1].alpha), (1.5, 0.5));
        assert_eq!(m.sizes(4).unwrap(), [4, 6, 3]);
        assert_eq!(inst.known_truths(), 0);
        assert!(inst.check_against(&m).is_ok());
        assert!(inst.signal().is_empty() && inst.observation() == [1.0; 3]);
        // The signal's truth only.
        let x = matrix("x", 4, 1, vec![0.1, 0.2, 0.3, 0.4]);
        let inst = Instance::from_data(&mut m, data(6, 3, vec![x.clone()])).unwrap();
        assert_eq!(
            (inst.known_truths(), inst.signal()),
            (1, &[0.1, 0.2, 0.3, 0.4][..])
        );
        assert!(inst.check_against(&m).is_ok());
        // A known truth after an unknown one is refused by the check.
        let mut gap = inst.clone();
        gap.layers[0].clear();
        gap.layers[1] = vec![0.0; 6];
        assert!(gap.check_against(&m).is_err());
        // Mismatches: the file, the layer, both shapes.
        let shape = |r: Result<Instance, Error>| match r {
            Err(Error::Data {
                path,
                problem: DataProblem::Shape(s),
            }) => format!("{path}: {s}"),
            other => panic!("{other:?}"),
        };
        let e = shape(Instance::from_data(&mut m, data(5, 3, vec![])));
        assert!(
            e.starts_with("W2: layers[1]") && e.contains("3×5") && e.contains("6×4"),
            "{e}"
        );
        let e = shape(Instance::from_data(&mut m, data(6, 2, vec![])));
        assert!(
            e.starts_with("y: layers[1]") && e.contains("2×1") && e.contains("3×1"),
            "{e}"
        );
        let h1 = matrix("h1", 4, 1, vec![0.0; 4]);
        let e = shape(Instance::from_data(&mut m, data(6, 3, vec![x, h1])));
        assert!(
            e.starts_with("h1: h_1") && e.contains("4×1") && e.contains("6×1"),
            "{e}"
        );
        let mut short = data(6, 3, vec![]);
        short.weights.pop();
        assert!(Instance::from_data(&mut m, short).is_err());
    }
}
