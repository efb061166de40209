//! ML-AMP on sampled instances: exactness on Gaussian models, GAMP recovery at L = 1, and the
//! two phases of the paper's two-layer sparse regression (eq. 18).

use mlamp::core::ml_amp::VarianceMode;
use mlamp::{AmpOptions, Instance, Model, run_ml_amp};
use nalgebra::{DMatrix, DVector};

fn model(text: &str) -> Model {
    Model::from_toml(text).expect("valid model")
}

fn matrix(inst: &Instance, k: usize) -> DMatrix<f64> {
    DMatrix::from_row_slice(inst.sizes[k + 1], inst.sizes[k], &inst.weights[k])
}

fn rel(a: &[f64], b: &DVector<f64>) -> f64 {
    let d: f64 = a.iter().zip(b.iter()).map(|(x, y)| (x - y).powi(2)).sum();
    (d / b.norm_squared()).sqrt()
}

/// Gaussian prior and two linear Gaussian layers: x ~ N(0, I), h = W₁x + N(0, Δ₁),
/// y = W₂h + N(0, Δ₂). The exact posterior means are linear solves:
/// E[x|y] = W₁ᵀW₂ᵀ C⁻¹ y and E[h|y] = (W₁W₁ᵀ + Δ₁I) W₂ᵀ C⁻¹ y with
/// C = W₂(W₁W₁ᵀ + Δ₁I)W₂ᵀ + Δ₂I, the covariance of y.
#[test]
fn gaussian_fixed_point_is_the_exact_posterior_mean() {
    let (d1, d2) = (0.1, 0.05);
    let m = model(&format!(
        "[prior]\ntype = \"gaussian\"\n\
         [[layers]]\nalpha = 1.2\nchannel = {{ type = \"linear\", noise_var = {d1} }}\n\
         [[layers]]\nalpha = 0.8\nchannel = {{ type = \"linear\", noise_var = {d2} }}\n"
    ));
    let inst = Instance::sample(&m, 500, 11).unwrap();
    let (w1, w2) = (matrix(&inst, 0), matrix(&inst, 1));
    let y = DVector::from_column_slice(inst.observation());
    let n1 = inst.sizes[1];
    let cov_h = &w1 * w1.transpose() + DMatrix::identity(n1, n1) * d1;
    let c = &w2 * &cov_h * w2.transpose() + DMatrix::identity(y.len(), y.len()) * d2;
    let cy = c
        .cholesky()
        .expect("covariance is positive definite")
        .solve(&y);
    let t = w2.transpose() * cy;
    let x_exact = w1.transpose() * &t;
    let h_exact = cov_h * t;

    for variance in [VarianceMode::Full, VarianceMode::Mean] {
        let opts = AmpOptions {
            tol: 1e-24,
            max_iter: 2000,
            variance,
            ..AmpOptions::default()
        };
        let r = run_ml_amp(&m, &inst, &opts).unwrap();
        assert!(
            r.converged && !r.diverged,
            "{variance:?}: {} iterations",
            r.iterations
        );
        let (ex, eh) = (
            rel(&r.estimates[0], &x_exact),
            rel(&r.estimates[1], &h_exact),
        );
        eprintln!("{variance:?}: relative error x {ex:.2e}, h {eh:.2e}");
        // The means' fixed-point equations of a Gaussian model are the normal equations
        // whatever the variances, so both variants land on the posterior mean to round-off.
        assert!(ex < 1e-8 && eh < 1e-8, "{variance:?}: {ex} {eh}");
    }
}

fn run(text: &str, n: usize, seed: u64) -> mlamp::AmpResult {
    let m = model(text);
    let inst = Instance::sample(&m, n, seed).unwrap();
    run_ml_amp(&m, &inst, &AmpOptions::default()).unwrap()
}

#[test]
fn single_layer_gauss_bernoulli_noiseless_is_recovered() {
    let r = run(
        "[prior]\ntype = \"gauss-bernoulli\"\nrho = 0.3\n\
         [[layers]]\nalpha = 0.7\nchannel = { type = \"linear\", noise_var = 0.0 }\n",
        2000,
        1,
    );
    assert!(r.mse_signal() < 1e-4, "MSE {}", r.mse_signal());
}

#[test]
fn single_layer_binary_perceptron_is_recovered_at_alpha_2() {
    let r = run(
        "[prior]\ntype = \"binary\"\n[[layers]]\nalpha = 2.0\nchannel = { type = \"sign\" }\n",
        2000,
        2,
    );
    assert!(r.mse_signal() < 1e-4, "MSE {}", r.mse_signal());
}

/// The ML-AMP paper's eq. 18 with ρ = 0.3, α₂ = 1, Δ₁ = 1e-8, Δ₂ = 0: recovery at α = 0.8
/// (the easy phase), none at α = 0.4 (below the algorithmic threshold, which at α₂ = 1 is the
/// single-layer one, α ≈ 0.480 for ρ = 0.3 by the state evolution).
#[test]
fn two_layer_sparse_regression_has_two_phases() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/models/sparse_regression.toml"
    ))
    .unwrap();
    assert!(text.contains("alpha = 0.8 "));
    let easy = run(&text, 2000, 3);
    assert!(
        easy.mse_signal() < 1e-4,
        "α = 0.8: MSE {}",
        easy.mse_signal()
    );
    let hard = run(&text.replace("alpha = 0.8 ", "alpha = 0.4 "), 2000, 3);
    assert!(
        hard.mse_signal() > 1e-2,
        "α = 0.4: MSE {}",
        hard.mse_signal()
    );
}
