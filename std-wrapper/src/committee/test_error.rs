//! Test error of an estimate `F̂1` of the committee's input layer, after Pandit,
//! Sahraee-Ardakan, Rangan, Schniter and Fletcher, "Matrix inference and estimation in
//! multi-layer models", section 5, eq. 17.
//!
//! For a fresh input `x ~ N(0, I/N_in)` the true and predicted pre-activations
//! `z = F1⁰ᵀx` and `ẑ = F̂1ᵀx` are jointly Gaussian, `(z, ẑ) ~ N(0, K)`, with `K` the
//! empirical `2d × 2d` covariance of the rows of `F1⁰` and `F̂1` (eq. 17):
//!
//! `K = (1/N_in) Σ_k u_kᵀ u_k`,  `u_k = [F1⁰_k, F̂1_k]` (row `k` of each, side by side).
//!
//! The test error against noiseless labels is then `E|F2ᵀ(σ(z) − σ(ẑ))|²` over that
//! Gaussian ([`predicted_test_error`], by cubature), and against a fresh noisy label
//! `y = F2ᵀσ(z) + ξ`, `ξ ~ N(0, Δ)` independent of everything else, it is that plus `Δ`.
//! The authors normalise the test MSE on noisy labels by `Δ` (the Bayes-optimal MSE, reached
//! by `F̂1 = F1⁰`), so the normalised test error has floor 1. [`TestSet::measure`] estimates
//! the same numbers on `M` sampled test points.

use mlamp_core::channel::Activation;
use mlamp_core::quadrature::{GaussHermite, GradedNormal, Rule};

use super::{check_finite, check_len, check_positive, forward};
use crate::error::Error;
use crate::streams::{normal, stream};

/// Nodes per dimension of [`predicted_test_error`]'s Gauss–Hermite product rule.
pub const DEFAULT_NODES: usize = 64;

/// A test error, in three clearly separated forms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TestError {
    /// `E|F2ᵀσ(z) − ŷ|²` with `ŷ = F2ᵀσ(ẑ)`: the error against noiseless labels (the
    /// "excess" over the noise; 0 for `F̂1 = F1⁰`).
    pub excess: f64,
    /// `E|y − ŷ|²` against noisy labels `y = F2ᵀσ(z) + ξ`: `excess + Δ` when predicted, the
    /// sample mean when measured.
    pub noisy: f64,
    /// `noisy / Δ`: the normalised test error the paper plots (1 is the floor).
    pub normalised: f64,
}

/// Eq. 17 of Pandit et al.: `K = (1/N_in) Σ_k u_kᵀ u_k`, `u_k = [F1⁰_k, F̂1_k]`, returned
/// `2d × 2d` row-major; its block `[0..d, 0..d]` is the covariance of `z = F1⁰ᵀx`, block
/// `[d..2d, d..2d]` that of `ẑ = F̂1ᵀx`, and the off-diagonal blocks their cross-covariance,
/// for `x ~ N(0, I/N_in)`.
///
/// `f1_true` and `f1_hat` are `N_in × d` row-major, `d ≥ 1` inferred from their length.
///
/// # Errors
/// `n_in = 0`, lengths that are not the same multiple of `n_in`, or non-finite entries.
pub fn eq17_covariance(f1_true: &[f64], f1_hat: &[f64], n_in: usize) -> Result<Vec<f64>, Error> {
    if n_in == 0 || f1_true.is_empty() || !f1_true.len().is_multiple_of(n_in) {
        return Err(Error::invalid(
            "committee.n_in",
            format!("must be ≥ 1 and divide the length {} of F1⁰", f1_true.len()),
        ));
    }
    let d = f1_true.len() / n_in;
    check_len("estimate F̂1 (N_in × d)", f1_hat, n_in * d)?;
    check_finite("true first layer F1⁰", f1_true)?;
    check_finite("estimate F̂1", f1_hat)?;
    let w = 2 * d;
    let mut k = vec![0.0; w * w];
    let mut u = vec![0.0; w];
    for (t, h) in f1_true.chunks_exact(d).zip(f1_hat.chunks_exact(d)) {
        u[..d].copy_from_slice(t);
        u[d..].copy_from_slice(h);
        for (row, &ua) in k.chunks_exact_mut(w).zip(&u) {
            for (kab, &ub) in row.iter_mut().zip(&u) {
                *kab += ua * ub;
            }
        }
    }
    let inv = 1.0 / n_in as f64;
    k.iter_mut().for_each(|v| *v *= inv);
    Ok(k)
}

/// Gauss–Legendre points per panel of [`Cubature::Graded`].
pub const GRADED_POINTS: usize = 16;

/// How [`pair_expectation`] integrates over the plane.
#[derive(Clone, Copy, Debug)]
pub enum Cubature<'a> {
    /// The product of a one-dimensional rule for `N(0, 1)` (Gauss–Hermite, say) in the two
    /// whitened variables: geometric convergence for a smooth activation (the sigmoid), only
    /// algebraic for one with a kink (ReLU: about 2e-3 absolute error at 64 nodes).
    Product(Rule<'a, f64>),
    /// Gauss–Legendre panels ([`GradedNormal`]) in each whitened variable, with a panel edge
    /// at the activation's kink: the inner integral has its kink exactly on an edge, the outer
    /// one has an edge at the first factor's kink and is graded towards it down to the width
    /// `l22/|l21|` of the inner integral's smoothed kink. That smoothed kink sits at the same
    /// point only for a kink at 0 (ReLU, the only kinked activation of the core); for a kink
    /// elsewhere it is not resolved when `l22 ≪ |l21|`.
    Graded(&'a GradedNormal<f64, GRADED_POINTS>),
}

/// `E[σ(a) σ(b)]` for `(a, b) ~ N(0, [[k_aa, k_ab], [k_ab, k_bb]])`, after a Cholesky
/// factorisation `a = l11 u`, `b = l21 u + l22 v`, `u, v` iid `N(0, 1)`, `l11 = √k_aa`,
/// `l21 = k_ab / l11`, `l22 = √(k_bb − l21²)`, as the iterated integral
/// `E_u[σ(l11 u) E_v σ(l21 u + l22 v)]`, each level by `cubature`.
///
/// A singular covariance is handled without NaN: `k_aa = 0` gives `l11 = l21 = 0` (`a ≡ 0`),
/// and `k_bb − l21²` is clamped at 0 (`b` a multiple of `a`, e.g. identical variables). The
/// caller has checked `k_aa, k_bb ≥ 0` and `k_ab² ≤ k_aa k_bb` up to rounding.
pub fn pair_expectation(
    act: &dyn Activation<f64>,
    k_aa: f64,
    k_ab: f64,
    k_bb: f64,
    cubature: Cubature<'_>,
) -> f64 {
    pair_expectation_of(|t| act.value(t), act.kink(), k_aa, k_ab, k_bb, cubature)
}

/// [`pair_expectation`] for any function `f` in place of `σ`, with its kink: `E[f(a) f(b)]`.
fn pair_expectation_of(
    f: impl Fn(f64) -> f64,
    kink: Option<f64>,
    k_aa: f64,
    k_ab: f64,
    k_bb: f64,
    cubature: Cubature<'_>,
) -> f64 {
    let l11 = k_aa.max(0.0).sqrt();
    let l21 = if l11 > 0.0 { k_ab / l11 } else { 0.0 };
    let l22 = (k_bb - l21 * l21).max(0.0).sqrt();
    match cubature {
        Cubature::Product(rule) => rule.expect(|u| {
            let inner = rule.expect(|v| f(l21 * u + l22 * v));
            f(l11 * u) * inner
        }),
        Cubature::Graded(panels) => {
            // Without a kink, edges at 0 (the panels' own) serve as well as any.
            let kink = kink.unwrap_or(0.0);
            let inner = |u: f64| {
                let c = l21 * u;
                if l22 > 0.0 {
                    panels.expect_around((kink - c) / l22, 1.0, |v| f(c + l22 * v))
                } else {
                    f(c)
                }
            };
            let center = if l11 > 0.0 { kink / l11 } else { 0.0 };
            let fine = if l21 != 0.0 { l22 / l21.abs() } else { 1.0 };
            panels.expect_around(center, fine, |u| f(l11 * u) * inner(u))
        }
    }
}

/// The predicted test error from a covariance `K` (`2d × 2d` row-major) of `(z, ẑ)`, the
/// true and estimated pre-activations of a fresh input; see [`predicted_test_error_with`].
/// The cubature is the product Gauss–Hermite rule of [`DEFAULT_NODES`] nodes per dimension
/// for a smooth activation, [`Cubature::Graded`] for one with a kink.
///
/// `K` is eq. 17's ([`eq17_covariance`]) for an actual estimate; the state evolution of
/// ML-Mat-VAMP predicts the same `K` (the covariance of a true row of `F1` and its estimate,
/// the rows being what eq. 17 averages over) and can pass its prediction here.
///
/// # Errors
/// See [`predicted_test_error_with`].
pub fn predicted_test_error(
    k: &[f64],
    f2: &[f64],
    act: &dyn Activation<f64>,
    noise_var: f64,
) -> Result<TestError, Error> {
    if act.kink().is_some() {
        let panels = GradedNormal::<f64, GRADED_POINTS>::new();
        predicted_test_error_with(k, f2, act, noise_var, Cubature::Graded(&panels))
    } else {
        let gh = GaussHermite::<f64, DEFAULT_NODES>::new();
        predicted_test_error_with(k, f2, act, noise_var, Cubature::Product(gh.rule()))
    }
}

/// The test error of eq. 17's Gaussian, by deterministic cubature:
///
/// `excess = E|F2ᵀ(σ(z) − σ(ẑ))|² = cᵀ M c`, `c = [F2, −F2]`,
/// `M_ab = E[σ(w_a) σ(w_b)]` for `w = (z, ẑ) ~ N(0, K)`,
///
/// each `M_ab` a two-dimensional expectation over the `2 × 2` covariance
/// `[[K_aa, K_ab], [K_ab, K_bb]]` ([`pair_expectation`] by `cubature`), with `σ`
/// shifted by `σ(0)` (the shift cancels since `Σ_a c_a = 0`). Then `noisy = excess + Δ` and
/// `normalised = noisy / Δ`. The excess is clamped at 0 (rounding can leave it at `−1e-17`).
///
/// # Errors
/// `K` not `2d × 2d` for `d = F2.len() ≥ 1`, non-finite, not symmetric (beyond `1e-9` of its
/// largest diagonal entry), a negative diagonal entry or a `2 × 2` principal block that is not
/// positive semi-definite (beyond rounding); non-finite `F2`; `Δ ≤ 0`.
pub fn predicted_test_error_with(
    k: &[f64],
    f2: &[f64],
    act: &dyn Activation<f64>,
    noise_var: f64,
    cubature: Cubature<'_>,
) -> Result<TestError, Error> {
    if f2.is_empty() {
        return Err(Error::invalid("committee.f2", "must not be empty"));
    }
    let w = 2 * f2.len();
    check_len("covariance K (2d × 2d)", k, w * w)?;
    check_finite("covariance K", k)?;
    check_finite("second layer F2", f2)?;
    check_positive("committee.noise_var", noise_var)?;
    let diag = |a: usize| k[a * w + a];
    let scale = (0..w).map(diag).fold(0.0, f64::max);
    for a in 0..w {
        if diag(a) < 0.0 {
            return Err(Error::invalid(
                "committee.k",
                format!("diagonal entry {a} is negative"),
            ));
        }
        for b in a + 1..w {
            let (kab, kba) = (k[a * w + b], k[b * w + a]);
            if (kab - kba).abs() > 1e-9 * scale {
                return Err(Error::invalid(
                    "committee.k",
                    format!("not symmetric at ({a}, {b})"),
                ));
            }
            let kab = 0.5 * (kab + kba);
            if kab * kab > diag(a) * diag(b) * (1.0 + 1e-9) {
                return Err(Error::invalid(
                    "committee.k",
                    format!("the 2 × 2 block at ({a}, {b}) is not positive semi-definite"),
                ));
            }
        }
    }
    // σ − σ(0): the shift cancels in Σ_a c_a σ(w_a) since Σ_a c_a = 0, and centring the
    // sigmoid (mean ½ under a symmetric law) shrinks the second moments the cubature sums, so
    // less cancels between them.
    let offset = act.value(0.0);
    let centred = |t: f64| act.value(t) - offset;
    let pair = |a: usize, kab: f64, b: usize| {
        pair_expectation_of(centred, act.kink(), diag(a), kab, diag(b), cubature)
    };
    let c = |a: usize| {
        if a < f2.len() {
            f2[a]
        } else {
            -f2[a - f2.len()]
        }
    };
    let mut excess = 0.0;
    for a in 0..w {
        excess += c(a) * c(a) * pair(a, diag(a), a);
        for b in a + 1..w {
            let kab = 0.5 * (k[a * w + b] + k[b * w + a]);
            excess += 2.0 * c(a) * c(b) * pair(a, kab, b);
        }
    }
    Ok(from_excess(
        excess.max(0.0),
        excess.max(0.0) + noise_var,
        noise_var,
    ))
}

/// A [`TestError`] from its excess and noisy forms.
fn from_excess(excess: f64, noisy: f64, noise_var: f64) -> TestError {
    TestError {
        excess,
        noisy,
        normalised: noisy / noise_var,
    }
}

/// The empirical test error on `samples` fresh test points, seeded.
///
/// [`Default`]: the paper's 1000 test samples, seed 0.
#[derive(Clone, Debug, PartialEq)]
pub struct TestSet {
    /// The number `M ≥ 1` of test points.
    pub samples: usize,
    /// The seed: inputs from its stream 0, label noise from its stream 1.
    pub seed: u64,
}

impl Default for TestSet {
    fn default() -> Self {
        Self {
            samples: 1000,
            seed: 0,
        }
    }
}

impl TestSet {
    /// Draws `M` inputs `x_m ~ N(0, I/N_in)` and noisy labels `y_m = F2ᵀσ(F1⁰ᵀx_m) + ξ_m`,
    /// `ξ_m ~ N(0, Δ)`, predicts `ŷ_m = F2ᵀσ(F̂1ᵀx_m)` and returns
    /// `excess = (1/M) Σ_m (ŷ_m − F2ᵀσ(F1⁰ᵀx_m))²`, `noisy = (1/M) Σ_m (ŷ_m − y_m)²` and
    /// `normalised = noisy / Δ`: the Monte-Carlo counterparts of [`predicted_test_error`]
    /// for eq. 17's `K`. `f1_true`, `f1_hat` are `N_in × d` row-major, `d = F2.len()`.
    ///
    /// # Errors
    /// `samples = 0`, `n_in = 0`, `F2` empty, shapes, non-finite inputs, `Δ ≤ 0`.
    pub fn measure(
        &self,
        f1_true: &[f64],
        f1_hat: &[f64],
        n_in: usize,
        f2: &[f64],
        act: &dyn Activation<f64>,
        noise_var: f64,
    ) -> Result<TestError, Error> {
        for (field, len) in [
            ("test_set.samples", self.samples),
            ("committee.n_in", n_in),
            ("committee.f2", f2.len()),
        ] {
            if len == 0 {
                return Err(Error::invalid(field, "must not be empty (zero)"));
            }
        }
        check_len("true first layer F1⁰ (N_in × d)", f1_true, n_in * f2.len())?;
        check_len("estimate F̂1 (N_in × d)", f1_hat, n_in * f2.len())?;
        check_finite("true first layer F1⁰", f1_true)?;
        check_finite("estimate F̂1", f1_hat)?;
        check_finite("second layer F2", f2)?;
        check_positive("committee.noise_var", noise_var)?;
        let (mut inputs, mut noise) = (stream(self.seed, 0), stream(self.seed, 1));
        let sd_x = (1.0 / n_in as f64).sqrt();
        let sd_noise = noise_var.sqrt();
        let mut x = vec![0.0; n_in];
        let mut z = vec![0.0; f2.len()];
        let (mut excess, mut noisy) = (0.0, 0.0);
        for _ in 0..self.samples {
            x.iter_mut().for_each(|v| *v = sd_x * normal(&mut inputs));
            let clean = forward(&x, f1_true, f2, act, &mut z);
            let y = clean + sd_noise * normal(&mut noise);
            let y_hat = forward(&x, f1_hat, f2, act, &mut z);
            excess += (y_hat - clean).powi(2);
            noisy += (y_hat - y).powi(2);
        }
        let m = self.samples as f64;
        Ok(from_excess(excess / m, noisy / m, noise_var))
    }
}

#[cfg(test)]
mod tests {
    use mlamp_core::channel::activation::{Relu, Sigmoid};

    use super::*;

    /// Cho and Saul's arc-cosine kernel of degree 1: `E[relu(a) relu(b)]` in closed form,
    /// `s_a s_b (sin θ + (π − θ) cos θ) / (2π)`, `cos θ` the correlation of `(a, b)`.
    fn relu_pair_closed_form(k_aa: f64, k_ab: f64, k_bb: f64) -> f64 {
        let s = (k_aa * k_bb).sqrt();
        if s == 0.0 {
            return 0.0;
        }
        let theta = (k_ab / s).clamp(-1.0, 1.0).acos();
        s * (theta.sin() + (std::f64::consts::PI - theta) * theta.cos())
            / (2.0 * std::f64::consts::PI)
    }

    /// `(F2, F1⁰, F̂1 = 0.8 F1⁰ + 0.5 G)` with `F2`, `F1⁰`, `G` iid `N(0, 1)`, `d = 4`.
    fn estimate(n_in: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut rng = stream(seed, 5);
        let f2: Vec<f64> = (0..4).map(|_| normal(&mut rng)).collect();
        let f1: Vec<f64> = (0..4 * n_in).map(|_| normal(&mut rng)).collect();
        let hat = f1
            .iter()
            .map(|f| 0.8 * f + 0.5 * normal(&mut rng))
            .collect();
        (f2, f1, hat)
    }

    /// Correlations, including the singular ends, at unequal variances.
    const PAIRS: [(f64, f64, f64); 9] = [
        (1.0, 1.0, 1.0),
        (1.0, -1.0, 1.0),
        (0.7, 0.0, 1.3),
        (0.7, 0.5, 1.3),
        (0.7, -0.8, 1.3),
        (2.0, 0.999 * 2.0, 2.0),
        (0.0, 0.0, 1.5),
        (1.5, 0.0, 0.0),
        (4.0, 1.0, 0.3),
    ];

    #[test]
    fn pair_rules_match_the_arc_cosine_kernel_and_a_finer_rule() {
        let (gh, fine) = (
            GaussHermite::<f64, DEFAULT_NODES>::new(),
            GaussHermite::<f64, 160>::new(),
        );
        let panels = GradedNormal::<f64, GRADED_POINTS>::new();
        let (product, product_fine, graded) = (
            Cubature::Product(gh.rule()),
            Cubature::Product(fine.rule()),
            Cubature::Graded(&panels),
        );
        // Largest absolute errors: ReLU against the closed form by each cubature, the sigmoid
        // against the 160-node product rule.
        let mut relu = [0.0f64; 3];
        let mut sigmoid = [0.0f64; 2];
        for &(a, ab, b) in &PAIRS {
            let want = relu_pair_closed_form(a, ab, b);
            for (e, c) in relu.iter_mut().zip([product, product_fine, graded]) {
                let got = pair_expectation(&Relu, a, ab, b, c);
                assert!(got.is_finite());
                *e = e.max((got - want).abs());
            }
            let want = pair_expectation(&Sigmoid, a, ab, b, product_fine);
            for (e, c) in sigmoid.iter_mut().zip([product, graded]) {
                let got = pair_expectation(&Sigmoid, a, ab, b, c);
                assert!(got.is_finite());
                *e = e.max((got - want).abs());
            }
        }
        eprintln!(
            "relu vs closed form: product {DEFAULT_NODES} {:.2e}, product 160 {:.2e}, graded \
             {:.2e}; sigmoid vs product 160: product {DEFAULT_NODES} {:.2e}, graded {:.2e}",
            relu[0], relu[1], relu[2], sigmoid[0], sigmoid[1]
        );
        assert!(relu[0] < 5e-3 && relu[1] < relu[0], "{relu:?}");
        assert!(relu[2] < 1e-12, "{relu:?}");
        assert!(sigmoid[0] < 1e-10 && sigmoid[1] < 1e-12, "{sigmoid:?}");
    }

    #[test]
    fn the_truth_has_zero_excess_and_unit_normalised_error() {
        let (f2, f1, _) = estimate(50, 1);
        let k = eq17_covariance(&f1, &f1, 50).unwrap();
        for act in [&Sigmoid as &dyn Activation<f64>, &Relu] {
            let t = predicted_test_error(&k, &f2, act, 0.01).unwrap();
            assert!(t.excess < 1e-13, "{}: {}", act.name(), t.excess);
            assert!((t.normalised - 1.0).abs() < 1e-10);
        }
    }

    /// `cᵀ M c` with the arc-cosine kernel for `M`: the ReLU test error in closed form.
    fn relu_excess_closed_form(k: &[f64], f2: &[f64]) -> f64 {
        let (d, w) = (f2.len(), 2 * f2.len());
        let c = |a: usize| if a < d { f2[a] } else { -f2[a - d] };
        let mut s = 0.0;
        for a in 0..w {
            for b in 0..w {
                s += c(a) * c(b) * relu_pair_closed_form(k[a * w + a], k[a * w + b], k[b * w + b]);
            }
        }
        s
    }

    /// Monte-Carlo mean and standard error of `|F2ᵀ(σ(z) − σ(ẑ))|²` over `(z, ẑ) ~ N(0, K)`
    /// drawn by a Cholesky factor of `K` (independently of the cubature and of
    /// [`TestSet::measure`]).
    fn monte_carlo(k: &[f64], f2: &[f64], act: &dyn Activation<f64>, draws: usize) -> (f64, f64) {
        let (d, w) = (f2.len(), 2 * f2.len());
        let l = nalgebra::DMatrix::from_row_slice(w, w, k)
            .cholesky()
            .unwrap()
            .l();
        let mut rng = stream(77, 3);
        let (mut s1, mut s2) = (0.0, 0.0);
        for _ in 0..draws {
            let g = nalgebra::DVector::from_fn(w, |_, _| normal(&mut rng));
            let zz = &l * g;
            let e: f64 = (0..d)
                .map(|j| f2[j] * (act.value(zz[j]) - act.value(zz[d + j])))
                .sum();
            s1 += e * e;
            s2 += e.powi(4);
        }
        let m = draws as f64;
        let mean = s1 / m;
        (mean, ((s2 / m - mean * mean) / (m - 1.0)).sqrt())
    }

    #[test]
    fn cubature_matches_monte_carlo_and_the_relu_closed_form() {
        let (f2, f1, hat) = estimate(100, 2);
        let k = eq17_covariance(&f1, &hat, 100).unwrap();
        let fine = GaussHermite::<f64, 160>::new();
        for act in [&Sigmoid as &dyn Activation<f64>, &Relu] {
            let t = predicted_test_error(&k, &f2, act, 0.01).unwrap();
            let t_fine =
                predicted_test_error_with(&k, &f2, act, 0.01, Cubature::Product(fine.rule()))
                    .unwrap();
            let (mc, se) = monte_carlo(&k, &f2, act, 400_000);
            eprintln!(
                "{}: cubature {:.6e} (160-node product {:.6e}), Monte Carlo {mc:.6e} ± {se:.1e}",
                act.name(),
                t.excess,
                t_fine.excess
            );
            assert!((t.excess - mc).abs() < 4.0 * se, "{}", act.name());
            assert_eq!(t.noisy, t.excess + 0.01);
            assert!((t.normalised - t.noisy / 0.01).abs() < 1e-12 * t.normalised);
        }
        let closed = relu_excess_closed_form(&k, &f2);
        let t = predicted_test_error(&k, &f2, &Relu, 0.01).unwrap();
        eprintln!(
            "relu: cubature {:.6e} vs closed form {closed:.6e}, relative {:.2e}",
            t.excess,
            (t.excess - closed).abs() / closed
        );
        assert!((t.excess - closed).abs() < 1e-10 * closed);
    }

    #[test]
    fn measured_test_error_agrees_with_the_prediction() {
        let (f2, f1, hat) = estimate(100, 3);
        let noise_var = 0.05;
        let k = eq17_covariance(&f1, &hat, 100).unwrap();
        let want = predicted_test_error(&k, &f2, &Sigmoid, noise_var).unwrap();
        // 20 independent test sets: their spread gives the standard error of the mean.
        let runs: Vec<TestError> = (0..20)
            .map(|seed| {
                TestSet {
                    samples: 10_000,
                    seed,
                }
                .measure(&f1, &hat, 100, &f2, &Sigmoid, noise_var)
                .unwrap()
            })
            .collect();
        let stats = |v: &dyn Fn(&TestError) -> f64| -> (f64, f64) {
            let n = runs.len() as f64;
            let mean = runs.iter().map(v).sum::<f64>() / n;
            let var = runs.iter().map(|r| (v(r) - mean).powi(2)).sum::<f64>() / (n - 1.0);
            (mean, (var / n).sqrt())
        };
        let (excess, se_e) = stats(&|r| r.excess);
        let (norm, se_n) = stats(&|r| r.normalised);
        eprintln!(
            "excess: measured {excess:.5e} ± {se_e:.1e}, predicted {:.5e}; normalised: measured \
             {norm:.5} ± {se_n:.1e}, predicted {:.5}",
            want.excess, want.normalised
        );
        assert!((excess - want.excess).abs() < 4.0 * se_e);
        assert!((norm - want.normalised).abs() < 4.0 * se_n);
        let one = &runs[0];
        assert_eq!(one.normalised, one.noisy / noise_var);
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let (f2, f1, hat) = estimate(10, 4);
        assert!(eq17_covariance(&f1, &hat[1..], 10).is_err());
        assert!(eq17_covariance(&f1, &hat, 0).is_err());
        assert!(eq17_covariance(&f1, &hat, 3).is_err());
        let mut nan = hat.clone();
        nan[0] = f64::NAN;
        assert!(eq17_covariance(&f1, &nan, 10).is_err());
        let k = eq17_covariance(&f1, &hat, 10).unwrap();
        assert!(predicted_test_error(&k, &f2, &Sigmoid, 0.1).is_ok());
        let bad_k = |i: usize, v: f64| {
            let mut b = k.clone();
            b[i] = v;
            b
        };
        for kk in [
            k[1..].to_vec(),
            bad_k(0, f64::INFINITY),
            bad_k(1, k[1] + 1.0), // asymmetric
            bad_k(0, -1.0),       // negative variance
        ] {
            assert!(predicted_test_error(&kk, &f2, &Sigmoid, 0.1).is_err());
        }
        // A symmetric 2 × 2 block with |k_ab| > √(k_aa k_bb).
        let mut not_psd = k.clone();
        let big = 2.0 * (k[0] * k[9]).sqrt();
        not_psd[1] = big;
        not_psd[8] = big;
        assert!(predicted_test_error(&not_psd, &f2, &Sigmoid, 0.1).is_err());
        assert!(predicted_test_error(&k, &f2, &Sigmoid, 0.0).is_err());
        assert!(predicted_test_error(&k, &f2[1..], &Sigmoid, 0.1).is_err());
        assert!(predicted_test_error(&[], &[], &Sigmoid, 0.1).is_err());
        let set = TestSet::default();
        assert!(set.measure(&f1, &hat, 10, &f2, &Sigmoid, 0.1).is_ok());
        assert!(set.measure(&f1, &hat, 10, &f2, &Sigmoid, -0.1).is_err());
        assert!(set.measure(&f1, &hat[1..], 10, &f2, &Sigmoid, 0.1).is_err());
        assert!(set.measure(&f1, &nan, 10, &f2, &Sigmoid, 0.1).is_err());
        assert!(set.measure(&f1, &hat, 0, &f2, &Sigmoid, 0.1).is_err());
        let empty = TestSet {
            samples: 0,
            seed: 0,
        };
        assert!(empty.measure(&f1, &hat, 10, &f2, &Sigmoid, 0.1).is_err());
    }
}
