//! The baseline of the committee experiment in Pandit, Sahraee-Ardakan, Rangan, Schniter and
//! Fletcher, "Matrix inference and estimation in multi-layer models" (section 5): MAP
//! estimation of the input layer `F1` by ADAM (Kingma and Ba, "Adam: a method for stochastic
//! optimization", Algorithm 1), written here rather than taken from Keras.
//!
//! # The loss
//! The Bayesian model is `y_n = F2ᵀ σ(x_nᵀ F1) + ξ_n`, `ξ_n ~ N(0, Δ)`, with the entries of
//! `F1` iid `N(0, ρ)` a priori. Its MAP loss (minus the log-posterior, up to a constant) is
//!
//! `L(F1) = Σ_n (y_n − ŷ_n)² / (2Δ) + ‖F1‖²_F / (2ρ)`,  `ŷ_n = F2ᵀ σ(x_nᵀ F1)`.
//!
//! ADAM minimises the per-sample normalisation `ℓ = (Δ/N) L`,
//!
//! `ℓ(F1) = (1/N) Σ_n (y_n − ŷ_n)²/2 + λ ‖F1‖²_F / 2`,  `λ = Δ / (ρ N)`,
//!
//! and each step follows the gradient of the unbiased minibatch estimate of `ℓ`: the mean of
//! `(y_n − ŷ_n)²/2` over the `B` samples of the batch plus the whole regulariser `λ‖F1‖²/2`.
//! ADAM's steps are invariant to a constant rescaling of the loss except through `ε`, so this
//! choice of normalisation only matters at the scale of `ε` (the gradients here are many
//! orders of magnitude larger); what fixes the estimate is the regulariser's weight relative to
//! the data term, which is the MAP one, `λ = Δ/(ρN)` per sample-mean of `(y − ŷ)²/2`. (The
//! authors' Keras loss, per the project's notes, used a weight that equals this one only at
//! `N = 400`; this implementation keeps the MAP weight at every `N`.)
//!
//! The reported loss trace is `L` itself, evaluated on all `N` samples.

use mlamp_core::channel::Activation;
use rand_distr::{Distribution, Uniform};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{check_finite, check_len, check_positive, forward};
use crate::error::Error;
use crate::instance::Instance;
use crate::model::Model;
use crate::streams::{normal, stream};
use mlamp_core::channel::RowChannelForm;
use mlamp_core::estimator::Estimator;

/// A training set of the committee model and the Bayesian model's two variances: what the
/// MAP loss `L(F1) = Σ_n (y_n − F2ᵀσ(x_nᵀF1))²/(2Δ) + ‖F1‖²_F/(2ρ)` depends on.
#[derive(Clone, Copy)]
pub struct Committee<'a> {
    /// The inputs `X`, `N × N_in` row-major (row `n` is `x_nᵀ`).
    pub x: &'a [f64],
    /// The labels `y`, length `N`.
    pub y: &'a [f64],
    /// The number of inputs `N_in` (columns of `X`, rows of `F1`).
    pub n_in: usize,
    /// The known second layer `F2`, length `d` (the number of hidden units).
    pub f2: &'a [f64],
    /// The activation `σ` (e.g. [`mlamp_core::channel::activation::Sigmoid`] or
    /// [`mlamp_core::channel::activation::Relu`]).
    pub activation: &'a dyn Activation<f64>,
    /// The noise variance `Δ > 0`.
    pub noise_var: f64,
    /// The prior variance `ρ > 0` of the entries of `F1` (the paper's experiment: 1).
    pub prior_var: f64,
}

/// Shapes of a validated [`Committee`].
#[derive(Clone, Copy)]
struct Dims {
    /// Samples `N`.
    n: usize,
    /// Hidden units `d`.
    d: usize,
}

impl<'a> Committee<'a> {
    /// The training set of an instance of a one-layer committee model: `X` its weights, `y`
    /// its observation, `σ`, `F2` and `Δ` its output's, `N_in` its signal's rows; `prior_var`
    /// is `ρ`.
    ///
    /// Errors: [`Error::Invalid`] naming `layers` if the model is not one layer with a
    /// committee output.
    pub fn of_instance(
        model: &'a Model,
        inst: &'a Instance,
        prior_var: f64,
    ) -> Result<Self, Error> {
        let form = match model.layers.as_slice() {
            [layer] => layer.channel.row_form(Estimator::Map, model.d),
            _ => return Err(Error::invalid("layers", "a committee model has one layer")),
        };
        let Ok(RowChannelForm::Committee { phi, f2, noise_var }) = form else {
            return Err(Error::invalid(
                "layers",
                "the model's output is not a committee",
            ));
        };
        Ok(Self {
            x: &inst.weights[0],
            y: inst.observation(),
            n_in: inst.sizes[0],
            f2,
            activation: phi,
            noise_var,
            prior_var,
        })
    }
}

impl Committee<'_> {
    /// Checks shapes (`N ≥ 1`, `N_in ≥ 1`, `d ≥ 1`, `X` of `N·N_in` entries), finiteness of
    /// `X`, `y` and `F2`, and `Δ, ρ > 0`.
    fn dims(&self) -> Result<Dims, Error> {
        let (n, d) = (self.y.len(), self.f2.len());
        for (field, len) in [
            ("committee.y", n),
            ("committee.n_in", self.n_in),
            ("committee.f2", d),
        ] {
            if len == 0 {
                return Err(Error::invalid(field, "must not be empty (zero)"));
            }
        }
        let cells = n
            .checked_mul(self.n_in)
            .ok_or_else(|| Error::invalid("committee.x", "N · N_in overflows the address space"))?;
        check_len("committee inputs X (N × N_in)", self.x, cells)?;
        check_finite("committee inputs X", self.x)?;
        check_finite("committee labels y", self.y)?;
        check_finite("committee second layer F2", self.f2)?;
        check_positive("committee.noise_var", self.noise_var)?;
        check_positive("committee.prior_var", self.prior_var)?;
        Ok(Dims { n, d })
    }

    /// Checks that `f1` is a finite `N_in × d` matrix.
    fn check_f1(&self, f1: &[f64], dims: Dims) -> Result<(), Error> {
        check_len("first layer F1 (N_in × d)", f1, self.n_in * dims.d)?;
        check_finite("first layer F1", f1)
    }

    /// The MAP loss `L(F1) = Σ_n (y_n − F2ᵀσ(x_nᵀF1))²/(2Δ) + ‖F1‖²_F/(2ρ)` on all `N`
    /// samples; `f1` is `N_in × d` row-major.
    pub fn loss(&self, f1: &[f64]) -> Result<f64, Error> {
        let dims = self.dims()?;
        self.check_f1(f1, dims)?;
        Ok(self.loss_unchecked(f1, dims))
    }

    /// The gradient `∇L(F1)` of [`Committee::loss`], `N_in × d` row-major:
    /// `∂L/∂F1_kj = Σ_n (ŷ_n − y_n) F2_j σ'(z_nj) x_nk / Δ + F1_kj / ρ`, `z_n = F1ᵀ x_n`.
    pub fn loss_gradient(&self, f1: &[f64]) -> Result<Vec<f64>, Error> {
        let dims = self.dims()?;
        self.check_f1(f1, dims)?;
        let rows: Vec<usize> = (0..dims.n).collect();
        let mut grad = vec![0.0; f1.len()];
        let mut z = vec![0.0; dims.d];
        self.scaled_gradient(f1, &rows, dims, &mut grad, &mut z);
        let scale = dims.n as f64 / self.noise_var;
        grad.iter_mut().for_each(|g| *g *= scale);
        Ok(grad)
    }

    /// `L(F1)` without the checks.
    fn loss_unchecked(&self, f1: &[f64], dims: Dims) -> f64 {
        let mut z = vec![0.0; dims.d];
        let data: f64 = self
            .x
            .chunks_exact(self.n_in)
            .zip(self.y)
            .map(|(x, &y)| (y - forward(x, f1, self.f2, self.activation, &mut z)).powi(2))
            .sum();
        data / (2.0 * self.noise_var)
            + f1.iter().map(|f| f * f).sum::<f64>() / (2.0 * self.prior_var)
    }

    /// Writes into `grad` the gradient of the minibatch estimate of `ℓ = (Δ/N) L` over the
    /// samples `rows` (`B` of them):
    /// `(1/B) Σ_{n ∈ rows} (ŷ_n − y_n) (F2 ⊙ σ'(z_n)) ⊗ x_n + λ F1`, `λ = Δ/(ρN)`.
    /// `z` is scratch of length `d`.
    fn scaled_gradient(
        &self,
        f1: &[f64],
        rows: &[usize],
        dims: Dims,
        grad: &mut [f64],
        z: &mut [f64],
    ) {
        let lambda = self.noise_var / (self.prior_var * dims.n as f64);
        for (g, &f) in grad.iter_mut().zip(f1) {
            *g = lambda * f;
        }
        let inv_b = 1.0 / rows.len() as f64;
        for &n in rows {
            let x = &self.x[n * self.n_in..(n + 1) * self.n_in];
            let r = (forward(x, f1, self.f2, self.activation, z) - self.y[n]) * inv_b;
            // z_j ← r F2_j σ'(z_j): the back-propagated signal at hidden unit j.
            for (zj, &w) in z.iter_mut().zip(self.f2) {
                *zj = r * w * self.activation.derivative(*zj);
            }
            for (&xk, grow) in x.iter().zip(grad.chunks_exact_mut(dims.d)) {
                for (gkj, &dj) in grow.iter_mut().zip(z.iter()) {
                    *gkj += xk * dj;
                }
            }
        }
    }
}

/// ADAM's settings. [`Default`] is the paper's experiment (section 5): minibatches of 32,
/// 100 epochs, learning rate 0.01, and Keras' defaults for the rest, `β1 = 0.9`,
/// `β2 = 0.999`, `ε = 1e-7` (the authors ran Keras; Kingma and Ba suggest `ε = 1e-8`, which
/// changes nothing visible here since the gradients are far larger than either).
#[derive(Clone, Debug, PartialEq)]
pub struct AdamOptions {
    /// Samples per minibatch `B` (the last batch of an epoch holds the remainder).
    pub batch_size: usize,
    /// Passes over the training set, each in a fresh seeded random order.
    pub epochs: usize,
    /// The step size `α`.
    pub learning_rate: f64,
    /// Decay `β1 ∈ [0, 1)` of the first-moment estimate.
    pub beta1: f64,
    /// Decay `β2 ∈ [0, 1)` of the second-moment estimate.
    pub beta2: f64,
    /// `ε > 0` in the step's denominator `√v̂ + ε`.
    pub epsilon: f64,
}

impl Default for AdamOptions {
    fn default() -> Self {
        Self {
            batch_size: 32,
            epochs: 100,
            learning_rate: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        }
    }
}

/// What [`AdamOptions::fit`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamFit {
    /// The estimate `F̂1`, `N_in × d` row-major: the iterate after the last epoch.
    pub f1: Vec<f64>,
    /// The MAP loss `L` on all samples: entry 0 at the initialisation, entry `e` after
    /// epoch `e` (`epochs + 1` entries).
    pub loss_trace: Vec<f64>,
}

impl AdamOptions {
    /// Checks the settings' domains.
    fn check(&self) -> Result<(), Error> {
        if self.batch_size == 0 {
            return Err(Error::invalid("adam.batch_size", "must be ≥ 1"));
        }
        check_positive("adam.learning_rate", self.learning_rate)?;
        check_positive("adam.epsilon", self.epsilon)?;
        for (field, beta) in [("adam.beta1", self.beta1), ("adam.beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(Error::invalid(
                    field,
                    format!("must be in [0, 1), got {beta}"),
                ));
            }
        }
        Ok(())
    }

    /// The initial `F1`: entries iid `N(0, ρ · 2/(N_in + d))`, from stream 0 of `seed`.
    ///
    /// The factor `2/(N_in + d)` is Glorot's variance (Keras' default initialiser for a dense
    /// layer has this variance, uniformly distributed): it starts the pre-activations `z =
    /// F1ᵀx` with variance `2ρ/(N_in + d)`, small against the prior's `ρ`, so every unit starts
    /// in the activation's central region with distinct random directions breaking the
    /// permutation symmetry of the hidden units.
    pub fn initial_f1(n_in: usize, d: usize, prior_var: f64, seed: u64) -> Vec<f64> {
        let sd = (prior_var * 2.0 / (n_in + d) as f64).sqrt();
        let mut rng = stream(seed, 0);
        (0..n_in * d).map(|_| sd * normal(&mut rng)).collect()
    }

    /// MAP estimate of `F1` by ADAM (Kingma and Ba, Algorithm 1) on the per-sample loss
    /// `ℓ = (Δ/N) L` described in the [module documentation](self), from
    /// [`AdamOptions::initial_f1`]; each epoch visits the samples in an order shuffled
    /// (Fisher–Yates) by stream 1 of `seed`, so the same seed gives the same bits.
    ///
    /// With `g` the minibatch gradient at step `t = 1, 2, …`:
    /// `m ← β1 m + (1 − β1) g`, `v ← β2 v + (1 − β2) g²`,
    /// `F1 ← F1 − α (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)`, entrywise.
    ///
    /// # Errors
    /// Shapes, non-finite data, `Δ ≤ 0` or `ρ ≤ 0` (see [`Committee`]), settings outside their
    /// domains, or iterates that become non-finite (a learning rate far too large).
    pub fn fit(&self, problem: &Committee<'_>, seed: u64) -> Result<AdamFit, Error> {
        self.check()?;
        let dims = problem.dims()?;
        let mut f1 = Self::initial_f1(problem.n_in, dims.d, problem.prior_var, seed);
        let mut m = vec![0.0; f1.len()];
        let mut v = vec![0.0; f1.len()];
        let mut grad = vec![0.0; f1.len()];
        let mut z = vec![0.0; dims.d];
        let mut order: Vec<usize> = (0..dims.n).collect();
        let mut shuffler = stream(seed, 1);
        let mut loss_trace = Vec::with_capacity(self.epochs + 1);
        loss_trace.push(problem.loss_unchecked(&f1, dims));
        let (mut p1, mut p2) = (1.0, 1.0); // β1ᵗ, β2ᵗ
        for epoch in 1..=self.epochs {
            shuffle(&mut order, &mut shuffler);
            for batch in order.chunks(self.batch_size) {
                problem.scaled_gradient(&f1, batch, dims, &mut grad, &mut z);
                p1 *= self.beta1;
                p2 *= self.beta2;
                let (c1, c2) = (1.0 / (1.0 - p1), 1.0 / (1.0 - p2));
                for ((f, &g), (mi, vi)) in f1.iter_mut().zip(&grad).zip(m.iter_mut().zip(&mut v)) {
                    *mi = self.beta1 * *mi + (1.0 - self.beta1) * g;
                    *vi = self.beta2 * *vi + (1.0 - self.beta2) * g * g;
                    *f -= self.learning_rate * (*mi * c1) / ((*vi * c2).sqrt() + self.epsilon);
                }
            }
            let loss = problem.loss_unchecked(&f1, dims);
            if !loss.is_finite() {
                return Err(Error::invalid(
                    "adam.learning_rate",
                    format!("the iterates became non-finite at epoch {epoch}"),
                ));
            }
            loss_trace.push(loss);
        }
        Ok(AdamFit { f1, loss_trace })
    }
}

/// Fisher–Yates shuffle of `order` by `rng`.
fn shuffle(order: &mut [usize], rng: &mut Xoshiro256PlusPlus) {
    for i in (1..order.len()).rev() {
        // `0..=i` is never empty, so the distribution always exists.
        if let Ok(pick) = Uniform::new_inclusive(0, i) {
            order.swap(i, pick.sample(rng));
        }
    }
}

#[cfg(test)]
mod tests {
    use mlamp_core::channel::activation::{Relu, Sigmoid};

    use super::*;

    /// A seeded committee instance: `X` iid `N(0, 1/N_in)`, `F1⁰` iid `N(0, 1)`, labels with
    /// noise of variance `noise_var`. Returns `(X, y, F1⁰)`.
    fn instance(
        n: usize,
        n_in: usize,
        f2: &[f64],
        act: &dyn Activation<f64>,
        noise_var: f64,
        seed: u64,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut rng = stream(seed, 7);
        let f1: Vec<f64> = (0..n_in * f2.len()).map(|_| normal(&mut rng)).collect();
        let sd = (1.0 / n_in as f64).sqrt();
        let x: Vec<f64> = (0..n * n_in).map(|_| sd * normal(&mut rng)).collect();
        let mut z = vec![0.0; f2.len()];
        let y = x
            .chunks_exact(n_in)
            .map(|xr| forward(xr, &f1, f2, act, &mut z) + noise_var.sqrt() * normal(&mut rng))
            .collect();
        (x, y, f1)
    }

    fn problem<'a>(
        x: &'a [f64],
        y: &'a [f64],
        n_in: usize,
        f2: &'a [f64],
        act: &'a dyn Activation<f64>,
        noise_var: f64,
    ) -> Committee<'a> {
        Committee {
            x,
            y,
            n_in,
            f2,
            activation: act,
            noise_var,
            prior_var: 1.0,
        }
    }

    #[test]
    fn gradient_matches_central_differences() {
        let f2 = [1.0, -0.7, 0.4];
        for act in [&Sigmoid as &dyn Activation<f64>, &Relu] {
            let (x, y, f1_true) = instance(60, 5, &f2, act, 0.05, 1);
            let p = problem(&x, &y, 5, &f2, act, 0.05);
            // A point away from the truth, so the data term's gradient is not small.
            let f1: Vec<f64> = f1_true.iter().map(|f| 0.6 * f + 0.1).collect();
            let grad = p.loss_gradient(&f1).unwrap();
            let h = 1e-6;
            for i in 0..f1.len() {
                let (mut up, mut down) = (f1.clone(), f1.clone());
                up[i] += h;
                down[i] -= h;
                let fd = (p.loss(&up).unwrap() - p.loss(&down).unwrap()) / (2.0 * h);
                let err = (fd - grad[i]).abs();
                assert!(
                    err <= 1e-6 * grad[i].abs().max(1.0),
                    "{} entry {i}: analytic {} vs differences {fd}",
                    act.name(),
                    grad[i]
                );
            }
        }
    }

    /// Full-batch gradient descent on `L` with Armijo backtracking, from `f1`, until the
    /// gradient's norm is below `tol` or `max_iter` steps: the reference minimum.
    fn gradient_descent(
        p: &Committee<'_>,
        mut f1: Vec<f64>,
        tol: f64,
        max_iter: usize,
    ) -> Vec<f64> {
        let mut step = 1e-3;
        for it in 0..max_iter {
            let g = p.loss_gradient(&f1).unwrap();
            let g2: f64 = g.iter().map(|v| v * v).sum();
            if g2.sqrt() < tol {
                eprintln!("descent: |grad| = {:.2e} after {it} steps", g2.sqrt());
                break;
            }
            let l0 = p.loss(&f1).unwrap();
            loop {
                let trial: Vec<f64> = f1.iter().zip(&g).map(|(f, g)| f - step * g).collect();
                if p.loss(&trial).unwrap() <= l0 - 0.5 * step * g2 {
                    f1 = trial;
                    step *= 2.0;
                    break;
                }
                step *= 0.5;
            }
        }
        f1
    }

    #[test]
    fn adam_reaches_the_minimum_of_full_batch_descent() {
        // A well-determined sigmoid problem: N = 1000 samples for N_in · d = 8 unknowns,
        // small noise, distinct second-layer weights (no permutation symmetry).
        let (n_in, f2, noise_var) = (4, [1.0, 0.5], 1e-3);
        let (x, y, f1_true) = instance(1000, n_in, &f2, &Sigmoid, noise_var, 2);
        let p = problem(&x, &y, n_in, &f2, &Sigmoid, noise_var);
        let fit = AdamOptions::default().fit(&p, 3).unwrap();
        let start = AdamOptions::initial_f1(n_in, f2.len(), 1.0, 3);
        let gd = gradient_descent(&p, start, 1e-3, 200_000);
        let (l_adam, l_gd) = (p.loss(&fit.f1).unwrap(), p.loss(&gd).unwrap());
        let dist = |a: &[f64], b: &[f64]| -> f64 {
            a.iter()
                .zip(b)
                .map(|(u, v)| (u - v).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        eprintln!(
            "L_adam = {l_adam}, L_gd = {l_gd}, rel {:.3e}; |F_adam − F_gd| = {:.3e}, |F_gd − F⁰| = {:.3e}, |F⁰| = {:.3}",
            (l_adam - l_gd) / l_gd,
            dist(&fit.f1, &gd),
            dist(&gd, &f1_true),
            dist(&f1_true, &[0.0; 8])
        );
        assert_eq!(fit.loss_trace.len(), 101);
        assert_eq!(*fit.loss_trace.last().unwrap(), l_adam);
        assert!(
            l_gd <= l_adam * (1.0 + 1e-9),
            "descent must end at least as low"
        );
        assert!(
            (l_adam - l_gd) / l_gd < 1e-2,
            "ADAM {l_adam} vs descent {l_gd}"
        );
        // ADAM's distance to the minimiser is small against the estimation error itself.
        assert!(dist(&fit.f1, &gd) < 0.5 * dist(&gd, &f1_true));
    }

    #[test]
    fn same_seed_same_bits() {
        let f2 = [1.0, -1.0, 0.5];
        let (x, y, _) = instance(100, 6, &f2, &Relu, 0.1, 4);
        let p = problem(&x, &y, 6, &f2, &Relu, 0.1);
        let opts = AdamOptions {
            epochs: 5,
            ..AdamOptions::default()
        };
        let bits = |fit: &AdamFit| -> Vec<u64> {
            fit.f1
                .iter()
                .chain(&fit.loss_trace)
                .map(|v| v.to_bits())
                .collect()
        };
        let (a, b, c) = (
            opts.fit(&p, 9).unwrap(),
            opts.fit(&p, 9).unwrap(),
            opts.fit(&p, 10).unwrap(),
        );
        assert_eq!(bits(&a), bits(&b));
        assert_ne!(bits(&a), bits(&c));
        assert!(a.loss_trace[5] < a.loss_trace[0]);
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let f2 = [1.0, 0.5];
        let (x, y, _) = instance(40, 3, &f2, &Sigmoid, 0.1, 5);
        let good = problem(&x, &y, 3, &f2, &Sigmoid, 0.1);
        let opts = AdamOptions {
            epochs: 1,
            ..AdamOptions::default()
        };
        assert!(opts.fit(&good, 0).is_ok());
        let mut nan_y = y.clone();
        nan_y[3] = f64::NAN;
        let inf_f2 = [1.0, f64::INFINITY];
        let bad = [
            Committee { x: &x[1..], ..good },
            Committee { y: &y[1..], ..good },
            Committee { n_in: 0, ..good },
            Committee { f2: &[], ..good },
            Committee { y: &nan_y, ..good },
            Committee {
                f2: &inf_f2,
                ..good
            },
            Committee {
                noise_var: 0.0,
                ..good
            },
            Committee {
                noise_var: -1.0,
                ..good
            },
            Committee {
                noise_var: f64::NAN,
                ..good
            },
            Committee {
                prior_var: 0.0,
                ..good
            },
        ];
        for (i, p) in bad.iter().enumerate() {
            assert!(opts.fit(p, 0).is_err(), "case {i}");
            assert!(p.loss(&[0.0; 6]).is_err(), "case {i}");
        }
        assert!(good.loss(&[0.0; 5]).is_err());
        assert!(good.loss_gradient(&[f64::NAN; 6]).is_err());
        for o in [
            AdamOptions {
                batch_size: 0,
                ..opts.clone()
            },
            AdamOptions {
                learning_rate: 0.0,
                ..opts.clone()
            },
            AdamOptions {
                beta1: 1.0,
                ..opts.clone()
            },
            AdamOptions {
                beta2: -0.1,
                ..opts.clone()
            },
            AdamOptions {
                epsilon: f64::NAN,
                ..opts.clone()
            },
        ] {
            assert!(o.fit(&good, 0).is_err(), "{o:?}");
        }
        // A step size so large the ReLU network's iterates overflow.
        let (xr, yr, _) = instance(40, 3, &f2, &Relu, 0.1, 6);
        let relu = problem(&xr, &yr, 3, &f2, &Relu, 0.1);
        let huge = AdamOptions {
            learning_rate: 1e300,
            epochs: 3,
            ..AdamOptions::default()
        };
        assert!(huge.fit(&relu, 0).is_err());
    }
}
