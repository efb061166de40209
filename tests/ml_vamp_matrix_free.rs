//! ML-Mat-VAMP's matrix-free linear path against the SVD path and against dense algebra: its
//! solve equals a dense solve of the Kronecker system, its Jacobians equal the dense
//! inverse's block traces, and the fixed point of whole runs equals the SVD path's on the
//! shipped models. (`std-wrapper/src/algo/matrix_free.rs` derives what is checked here.)

use mlamp::algo::linear_path::LinearPath;
use mlamp::algo::matrix_free::MatrixFreeLinear;
use mlamp::algo::vamp::{VampOptions, VampResult, run_ml_vamp};
use mlamp::core::mat::{Message, Precision};
use mlamp::core::ml_vamp::{LayerNoise, LinearEstimator};
use mlamp::linalg::singular_values::squared_singular_values;
use mlamp::{Instance, Model};
use nalgebra::{DMatrix, DVector, SMatrix};

/// A deterministic pseudo-random sequence in [−1, 1) (no dependence on the crate's streams).
fn sequence(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

const D: usize = 2;

/// The dense system of the linear step, unknowns `vec(X)` ordered row by row (entry
/// `(i, a)` at `i D + a`): `(WᵀW ⊗ M + I ⊗ Γ_in) vec(X) = vec(Wᵀ R_out M + R_in Γ_in)`
/// (row `i` of `WᵀW X M` is `Σ_j (WᵀW)_ij M x_j`).
fn dense_system(
    w: &DMatrix<f64>,
    m: &SMatrix<f64, D, D>,
    g_in: &SMatrix<f64, D, D>,
    r_out: &[f64],
    r_in: &[f64],
) -> (DMatrix<f64>, DVector<f64>) {
    let (rows, cols) = w.shape();
    let wtw = w.transpose() * w;
    let mut a = DMatrix::zeros(cols * D, cols * D);
    for i in 0..cols {
        for j in 0..cols {
            for p in 0..D {
                for q in 0..D {
                    let mut v = wtw[(i, j)] * m[(p, q)];
                    if i == j {
                        v += g_in[(p, q)];
                    }
                    a[(i * D + p, j * D + q)] = v;
                }
            }
        }
    }
    let r_out = DMatrix::from_row_slice(rows, D, r_out);
    let r_in = DMatrix::from_row_slice(cols, D, r_in);
    let m = DMatrix::from_fn(D, D, |p, q| m[(p, q)]);
    let g = DMatrix::from_fn(D, D, |p, q| g_in[(p, q)]);
    let rhs = w.transpose() * r_out * m + r_in * g;
    let b = DVector::from_fn(cols * D, |k, _| rhs[(k / D, k % D)]);
    (a, b)
}

/// The conjugate-gradient solve (backward estimate) equals the dense solve, and the forward
/// estimate equals `W` times it; the Jacobians equal the dense inverse's: backward
/// `⟨∂ẑ_in/∂r_in⟩_{pq} = (1/cols) Σ_i [A⁻¹ (I ⊗ Γ_in)]_{(i,p),(i,q)}`, forward
/// `(1/rows) Σ_k [W A⁻¹ (Wᵀ ⊗ M)]_{(k,p),(k,q)}` (noiseless).
#[test]
fn the_solve_and_the_jacobians_equal_dense_algebra() {
    for (rows, cols) in [(24, 40), (40, 24), (32, 32)] {
        let w: Vec<f64> = sequence(rows * cols, 1)
            .iter()
            .map(|v| v / (cols as f64).sqrt())
            .collect();
        let s = squared_singular_values(&w, rows, cols).unwrap();
        let free = MatrixFreeLinear::<D>::new(&w, rows, cols, &s, LayerNoise::Noiseless)
            .unwrap()
            .with_tolerance(1e-14, 0.0, 1000)
            .unwrap();
        let g_out = Precision::new(SMatrix::<f64, D, D>::new(3.0, 1.0, 1.0, 2.0)).unwrap();
        let g_in = Precision::new(SMatrix::<f64, D, D>::new(0.5, -0.2, -0.2, 0.8)).unwrap();
        let r_out = sequence(rows * D, 2);
        let r_in = sequence(cols * D, 3);
        let wd = DMatrix::from_row_slice(rows, cols, &w);
        let (a, b) = dense_system(&wd, g_out.matrix(), g_in.matrix(), &r_out, &r_in);
        let x = a.clone().lu().solve(&b).unwrap();
        let mut work = vec![0.0; free.workspace_len()];
        let (mut z, mut xs) = (vec![0.0; rows * D], vec![0.0; cols * D]);
        let (out, inp) = (Message::new(&r_out, &g_out), Message::new(&r_in, &g_in));
        let j_out = free.forward(out, inp, &mut work, &mut z).unwrap();
        let j_in = free.backward(out, inp, &mut work, &mut xs).unwrap();
        let scale = x.amax();
        for (k, v) in xs.iter().enumerate() {
            assert!((v - x[k]).abs() < 1e-10 * scale, "x[{k}] {v} vs {}", x[k]);
        }
        let xm = DMatrix::from_fn(cols, D, |i, p| x[i * D + p]);
        let zd = &wd * xm;
        for (k, v) in z.iter().enumerate() {
            let want = zd[(k / D, k % D)];
            assert!((v - want).abs() < 1e-10 * scale, "z[{k}] {v} vs {want}");
        }
        let inv = a.try_inverse().unwrap();
        // Backward: A⁻¹ (I ⊗ Γ_in).
        let mut gi = DMatrix::zeros(cols * D, cols * D);
        for i in 0..cols {
            for p in 0..D {
                for q in 0..D {
                    gi[(i * D + p, i * D + q)] = g_in.matrix()[(p, q)];
                }
            }
        }
        let din = &inv * gi;
        // Forward: (W ⊗ I) A⁻¹ (Wᵀ ⊗ M).
        let kron = |m: &DMatrix<f64>, b: &SMatrix<f64, D, D>| {
            DMatrix::from_fn(m.nrows() * D, m.ncols() * D, |r, c| {
                m[(r / D, c / D)] * b[(r % D, c % D)]
            })
        };
        let dout = kron(&wd, &SMatrix::identity()) * &inv * kron(&wd.transpose(), g_out.matrix());
        for p in 0..D {
            for q in 0..D {
                let back: f64 =
                    (0..cols).map(|i| din[(i * D + p, i * D + q)]).sum::<f64>() / cols as f64;
                let fwd: f64 =
                    (0..rows).map(|k| dout[(k * D + p, k * D + q)]).sum::<f64>() / rows as f64;
                assert!((j_in[(p, q)] - back).abs() < 1e-11, "{j_in} vs {back}");
                assert!((j_out[(p, q)] - fwd).abs() < 1e-11, "{j_out} vs {fwd}");
            }
        }
    }
}

/// A run on each path, iterated far past the default tolerance so that both reach the fixed
/// point (relative squared change 1e-26 per iteration).
fn runs(model: &Model, n: usize, seed: u64) -> (VampResult, VampResult) {
    let inst = Instance::sample(model, n, seed).unwrap();
    let run = |linear| {
        let opts = VampOptions {
            linear,
            tol: 1e-26,
            max_iter: 400,
            ..VampOptions::default()
        };
        run_ml_vamp(model, &inst, &opts).unwrap()
    };
    (run(LinearPath::Svd), run(LinearPath::MatrixFree))
}

/// The largest relative difference `‖x̂_cg − x̂_svd‖ / ‖x̂_svd‖` over the estimated variables.
fn difference(a: &VampResult, b: &VampResult) -> f64 {
    a.estimates
        .iter()
        .zip(&b.estimates)
        .map(|(x, y)| {
            let err: f64 = x.iter().zip(y).map(|(u, v)| (u - v).powi(2)).sum();
            let norm: f64 = y.iter().map(|v| v * v).sum();
            (err / norm).sqrt()
        })
        .fold(0.0, f64::max)
}

fn shipped(name: &str, estimator: Option<&str>) -> Model {
    let text = std::fs::read_to_string(format!("examples/models/{name}.toml")).unwrap();
    let mut model = Model::from_toml(&text).unwrap();
    if let Some(e) = estimator {
        for l in &mut model.layers {
            l.estimator = e.parse().unwrap();
        }
    }
    model
}

/// The fixed points of both paths agree to 1e-8 relative on the shipped models (n = 200–500,
/// about 15 s; `n = 2000` on eq. 18 is the ignored test below). MMSE only: where the shipped
/// models' MAP differs from their MMSE (the ReLU network) the MAP run does not converge
/// (README), so there is no fixed point to compare.
#[test]
fn the_fixed_point_equals_the_svd_paths() {
    for (name, estimator, n) in [
        ("sparse_regression", "mmse", 500),
        ("multitask", "mmse", 300),
        ("ill_conditioned", "mmse", 300),
        ("relu_generative", "mmse", 200),
        ("perceptron", "mmse", 300),
        ("decoder", "mmse", 300),
    ] {
        let model = shipped(name, Some(estimator));
        let (svd, cg) = runs(&model, n, 1);
        assert_eq!(svd.linear, LinearPath::Svd);
        assert_eq!(cg.linear, LinearPath::MatrixFree);
        assert!(cg.cg_products > 0);
        let diff = difference(&cg, &svd);
        eprintln!(
            "{name} {estimator} n {n}: relative difference {diff:.2e} ({} / {} iterations, {} cg products)",
            svd.iterations, cg.iterations, cg.cg_products
        );
        assert!(diff < 1e-8, "{name} {estimator}: {diff}");
    }
}

/// The same at n = 2000 on eq. 18 (about a minute: two SVDs of 2000 × 2000 and 1600 × 2000,
/// and the singular values again): `cargo test --release --test ml_vamp_matrix_free -- --ignored`.
#[test]
#[ignore]
fn the_fixed_point_equals_the_svd_paths_at_n_2000() {
    let model = shipped("sparse_regression", Some("mmse"));
    let (svd, cg) = runs(&model, 2000, 0);
    let diff = difference(&cg, &svd);
    eprintln!("sparse_regression mmse n 2000: relative difference {diff:.2e}");
    assert!(diff < 1e-8, "{diff}");
}

/// Bad settings of the matrix-free solver are typed errors, not panics.
#[test]
fn bad_solver_settings_are_errors() {
    let w = sequence(6, 4);
    let s = squared_singular_values(&w, 2, 3).unwrap();
    let make = || MatrixFreeLinear::<1>::new(&w, 2, 3, &s, LayerNoise::Noiseless).unwrap();
    assert!(make().with_tolerance(0.0, 0.0, 10).is_err());
    assert!(make().with_tolerance(1e-8, 1.0, 10).is_err());
    assert!(make().with_tolerance(1e-8, 0.1, 0).is_err());
    assert!(MatrixFreeLinear::<1>::new(&w, 2, 3, &[1.0, 1.0, 1.0], LayerNoise::Noiseless).is_err());
    let bad = [f64::NAN, 0.0, 0.0, 0.0, 0.0, 0.0];
    assert!(MatrixFreeLinear::<1>::new(&bad, 2, 3, &s, LayerNoise::Noiseless).is_err());
    assert!(MatrixFreeLinear::<1>::new(&w, 2, 3, &[-1.0], LayerNoise::Noiseless).is_err());
}
