//! ML-Mat-VAMP end to end: exactness on Gaussian networks, agreement with ML-AMP for d = 1 on
//! iid weights, recovery where ML-AMP's iid assumption fails, and positive definite
//! precisions through every shipped example.

use mlamp::algo::vamp::{VampOptions, VampResult, run_ml_vamp};
use mlamp::core::channel::activation::Identity;
use mlamp::core::mat::{ActivationDenoiser, ChannelDenoiser, Estimator, GaussianRow, MatReal};
use mlamp::core::ml_vamp::{
    DenseRotations, LayerNoise, LayerState, LinearLayer, MlVamp, VampLayer,
};
use mlamp::{AmpOptions, Instance, Model, run_ml_amp};
use nalgebra::{DMatrix, DVector, SMatrix, SVector};

/// Row-major `rows × cols` as a matrix.
fn matrix(data: &[f64], rows: usize, cols: usize) -> DMatrix<f64> {
    DMatrix::from_row_slice(rows, cols, data)
}

fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    let err: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    (err / norm).sqrt()
}

/// Two linear layers with Gaussian noise and an iid Gaussian prior, `d = 3`, through the
/// model file, the instance generator and the driver: the fixed point is the exact posterior
/// mean, `E[X | Y] = (I/σ² + Aᵀ C⁻¹ A)⁻¹ Aᵀ C⁻¹ Y` column by column (`A = W_1 W_0`,
/// `C = Δ_0 W_1 W_1ᵀ + Δ_1 I`), computed here by a dense solve, for MAP and MMSE alike.
#[test]
fn gaussian_network_fixed_point_is_the_exact_posterior_mean() {
    let model = Model::from_toml(
        r#"
d = 3
[prior]
type = "gaussian"
var = 1.5
[[layers]]
alpha = 0.9
channel = { type = "linear", noise_var = 0.1 }
[[layers]]
alpha = 0.8
channel = { type = "linear", noise_var = 0.05 }
"#,
    )
    .unwrap();
    let inst = Instance::sample(&model, 150, 3).unwrap();
    let s = &inst.sizes;
    let (w0, w1) = (
        matrix(&inst.weights[0], s[1], s[0]),
        matrix(&inst.weights[1], s[2], s[1]),
    );
    let a = &w1 * &w0;
    let c = &w1 * w1.transpose() * 0.1 + DMatrix::identity(s[2], s[2]) * 0.05;
    let ci = c.try_inverse().unwrap();
    let p = a.transpose() * &ci * &a + DMatrix::identity(s[0], s[0]) / 1.5;
    let y = matrix(inst.observation(), s[2], 3);
    let exact = p.lu().solve(&(a.transpose() * &ci * y)).unwrap();
    let exact: Vec<f64> = (0..s[0])
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|(i, j)| exact[(i, j)])
        .collect();
    for estimator in [Estimator::Mmse, Estimator::Map] {
        let opts = VampOptions {
            max_iter: 400,
            estimator: Some(estimator),
            ..VampOptions::default()
        };
        let r = run_ml_vamp(&model, &inst, &opts).unwrap();
        let err = relative_error(&r.estimates[0], &exact);
        assert!(r.converged, "{estimator:?}: not converged");
        assert!(err <= 1e-6, "{estimator:?}: relative error {err:e}");
        assert_eq!(r.total_interventions(), 0);
    }
}

/// The same with a full prior covariance (a `GaussianRow`), straight on the core's API with
/// the core's plain-loop rotations: columns are coupled by the prior, so the exact posterior
/// is one `(n_0 d) × (n_0 d)` solve.
#[test]
fn correlated_gaussian_rows_reach_the_exact_posterior_mean() {
    const D: usize = 3;
    let (n0, n1, n2) = (40usize, 36usize, 30usize);
    let (d0, d1) = (0.1, 0.05);
    let model = Model::from_toml(
        "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 0.9\nchannel = { type = \"linear\", noise_var = 0.1 }\n[[layers]]\nalpha = 0.8333333333333334\nchannel = { type = \"linear\", noise_var = 0.05 }\n",
    )
    .unwrap();
    let inst = Instance::sample(&model, n0, 11).unwrap();
    assert_eq!(inst.sizes, vec![n0, n1, n2]);
    let (w0, w1) = (
        matrix(&inst.weights[0], n1, n0),
        matrix(&inst.weights[1], n2, n1),
    );
    let sigma = SMatrix::<f64, D, D>::new(1.0, 0.5, 0.2, 0.5, 1.0, 0.3, 0.2, 0.3, 0.8);
    let y = DMatrix::from_fn(n2, D, |i, j| ((i * D + j) as f64 * 0.37).sin());

    let a = &w1 * &w0;
    let c = &w1 * w1.transpose() * d0 + DMatrix::identity(n2, n2) * d1;
    let ci = c.try_inverse().unwrap();
    let k = a.transpose() * &ci * &a;
    let si = sigma.try_inverse().unwrap();
    let m = n0 * D;
    // Unknowns ordered row by row: index i·D + c.
    let mut p = DMatrix::zeros(m, m);
    for i in 0..n0 {
        for c1 in 0..D {
            for c2 in 0..D {
                p[(i * D + c1, i * D + c2)] += si[(c1, c2)];
            }
            for j in 0..n0 {
                p[(i * D + c1, j * D + c1)] += k[(i, j)];
            }
        }
    }
    let rhs_m = a.transpose() * &ci * &y;
    let rhs = DVector::from_fn(m, |ic, _| rhs_m[(ic / D, ic % D)]);
    let exact = p.lu().solve(&rhs).unwrap();

    let factors = |w: &DMatrix<f64>| {
        let svd = w.clone().svd(true, true);
        let (u, vt) = (svd.u.unwrap(), svd.v_t.unwrap());
        let r = svd.singular_values.len();
        let u: Vec<f64> = (0..w.nrows() * r).map(|ij| u[(ij / r, ij % r)]).collect();
        let v: Vec<f64> = (0..w.ncols() * r).map(|ij| vt[(ij % r, ij / r)]).collect();
        (u, v, svd.singular_values.as_slice().to_vec())
    };
    let (u0, v0, s0) = factors(&w0);
    let (u1, v1, s1) = factors(&w1);
    let y_rows: Vec<f64> = (0..n2 * D).map(|ic| y[(ic / D, ic % D)]).collect();
    let factors = [(u0, v0, s0, n1, n0), (u1, v1, s1, n2, n1)];
    for estimator in [Estimator::Mmse, Estimator::Map] {
        let x = core_run::<f64>(&factors, sigma, (d0, d1), &y_rows, estimator);
        let err = relative_error(&x, exact.as_slice());
        assert!(err <= 1e-6, "{estimator:?}: relative error {err:e}");
    }
    // The same iteration in f32: the core is generic; single precision reaches the exact
    // mean to its own accuracy.
    let x32 = core_run::<f32>(&factors, sigma, (d0, d1), &y_rows, Estimator::Mmse);
    let x32: Vec<f64> = x32.iter().map(|&v| v as f64).collect();
    let err = relative_error(&x32, exact.as_slice());
    assert!(err <= 1e-4, "f32: relative error {err:e}");
}

type Factors = (Vec<f64>, Vec<f64>, Vec<f64>, usize, usize);

/// 300 iterations of the core's ML-Mat-VAMP in precision `T` on two noisy linear layers
/// (`factors`: `U`, `V`, `s`, rows, cols of each) under the prior `N(0, Σ)`; the signal's
/// estimate.
fn core_run<T: MatReal>(
    factors: &[Factors; 2],
    sigma: SMatrix<f64, 3, 3>,
    noise: (f64, f64),
    y: &[f64],
    estimator: Estimator,
) -> Vec<T> {
    const D: usize = 3;
    let cast = |x: &[f64]| x.iter().map(|&v| T::c(v)).collect::<Vec<T>>();
    let owned: Vec<_> = factors
        .iter()
        .map(|(u, v, s, r, c)| (cast(u), cast(v), cast(s), *r, *c))
        .collect();
    let rot: Vec<_> = owned
        .iter()
        .map(|(u, v, s, r, c)| DenseRotations::new(u, v, s, *r, *c).unwrap())
        .collect();
    let lin: Vec<_> = rot
        .iter()
        .map(|r| LinearLayer::<T, D>::new(r, LayerNoise::Noiseless))
        .collect();
    let g0 = ActivationDenoiser::<T, Identity, D>::new(Identity, T::c(noise.0), estimator).unwrap();
    let g1 = ActivationDenoiser::<T, Identity, D>::new(Identity, T::c(noise.1), estimator).unwrap();
    let (g0, g1): (&dyn ChannelDenoiser<T, D>, &dyn ChannelDenoiser<T, D>) = (&g0, &g1);
    let layers = [
        VampLayer {
            linear: &lin[0],
            channel: g0,
        },
        VampLayer {
            linear: &lin[1],
            channel: g1,
        },
    ];
    let prior = GaussianRow::new(SVector::zeros(), sigma.map(T::c)).unwrap();
    let y = cast(y);
    let scale = [T::c(1.0), T::c(1.0), T::c(1.1), T::c(1.1)];
    let vamp = MlVamp::new(&prior, &layers, &y, &scale).unwrap();
    let mut buf = vec![T::c(0.0); vamp.state_len()];
    let (f0, f1) = (&factors[0], &factors[1]);
    let (st0, rest) = LayerState::carve(&mut buf, f0.3, f0.4, 2 * f0.2.len() * D).unwrap();
    let (st1, _) = LayerState::carve(rest, f1.3, f1.4, 2 * f1.2.len() * D).unwrap();
    let mut state = [st0, st1];
    vamp.initialise(&mut state).unwrap();
    for _ in 0..300 {
        let rep = vamp.step(&mut state, T::c(0.8)).unwrap();
        assert!(rep.finite);
    }
    state[0].input.estimate.to_vec()
}

/// With d = 1 on iid weights, ML-VAMP and ML-AMP are two algorithms for the same
/// Bayes-optimal fixed point: on the ML-AMP paper's eq. 18 (two-layer sparse regression,
/// ρ = 0.3, α₂ = 1) at n = 2000, the same final MSE (within 0.01) in the easy phase
/// (α₁ = 0.8, SE threshold 0.480) and both failing in the hard phase (α₁ = 0.4).
#[test]
fn ml_vamp_and_ml_amp_agree_on_eq18() {
    let text = std::fs::read_to_string("examples/models/sparse_regression.toml").unwrap();
    for (alpha, easy) in [(0.8, true), (0.4, false)] {
        let model =
            Model::from_toml(&text.replace("alpha = 0.8", &format!("alpha = {alpha}"))).unwrap();
        let inst = Instance::sample(&model, 2000, 5).unwrap();
        let vamp = run_ml_vamp(&model, &inst, &VampOptions::default()).unwrap();
        let amp = run_ml_amp(&model, &inst, &AmpOptions::default()).unwrap();
        let (v, a) = (vamp.mse_signal(), amp.mse_signal());
        println!(
            "alpha1 = {alpha}: ML-VAMP {v:.3e} ({} it.), ML-AMP {a:.3e}",
            vamp.iterations
        );
        assert!((v - a).abs() < 0.01, "alpha1 = {alpha}: {v} vs {a}");
        if easy {
            assert!(v < 1e-6 && a < 1e-6, "easy phase: {v} {a}");
        } else {
            assert!(v > 0.05 && a > 0.05, "hard phase: {v} {a}");
        }
        assert_eq!(vamp.total_interventions(), 0);
    }
}

/// A single layer with a condition number 10³ weight matrix (Haar singular vectors), n = 1000:
/// ML-VAMP recovers the signal; ML-AMP, whose iteration assumes iid entries, is run on the
/// same instance and reported.
#[test]
fn ml_vamp_recovers_with_an_ill_conditioned_matrix() {
    let model = Model::from_file("examples/models/ill_conditioned.toml").unwrap();
    let inst = Instance::sample(&model, 1000, 1).unwrap();
    let svd = inst.factors[0].as_ref().and_then(|f| f.as_svd()).unwrap();
    let s = svd.singular_values();
    assert!((s[0] / s[s.len() - 1] - 1e3).abs() < 1e-6);
    let vamp = run_ml_vamp(&model, &inst, &VampOptions::default()).unwrap();
    // ML-AMP refuses a model with spectrum weights; the iid version of the model (same
    // prior and channel) runs it on this instance, which is what it costs to assume iid.
    assert!(run_ml_amp(&model, &inst, &AmpOptions::default()).is_err());
    let text = std::fs::read_to_string("examples/models/ill_conditioned.toml").unwrap();
    let iid = Model::from_toml(&text.replace(
        "weights = { type = \"spectrum\", condition_number = 1e3 }",
        "",
    ))
    .unwrap();
    assert!(iid.iid_weights());
    let amp = run_ml_amp(&iid, &inst, &AmpOptions::default()).unwrap();
    println!(
        "kappa = 1e3, n = 1000: ML-VAMP MSE {:.3e} ({} iterations, converged {}), \
         ML-AMP MSE {:.3e} (converged {}, diverged {})",
        vamp.mse_signal(),
        vamp.iterations,
        vamp.converged,
        amp.mse_signal(),
        amp.converged,
        amp.diverged
    );
    assert!(vamp.mse_signal() < 1e-3, "{}", vamp.mse_signal());
}

/// Every shipped example model, 50 iterations: every precision stays positive definite
/// (checked on its eigenvalues, not just by the type) and every estimate finite.
#[test]
fn precisions_stay_positive_definite_on_every_example() {
    let mut checked = 0;
    for entry in std::fs::read_dir("examples/models").unwrap() {
        let path = entry.unwrap().path();
        let model = Model::from_file(&path).unwrap();
        // The sketch at its example's size (its alpha is 40: 300 rows of F would be 12 000
        // rows of Newton solves per iteration, 50 s of CPU).
        let n = if path.ends_with("sketch.toml") {
            10
        } else if model.d > 1 {
            300
        } else {
            400
        };
        let inst = Instance::sample(&model, n, 2).unwrap();
        let opts = VampOptions {
            max_iter: 50,
            tol: 0.0,
            ..VampOptions::default()
        };
        let r = run_ml_vamp(&model, &inst, &opts).unwrap();
        assert!(!r.diverged, "{}", path.display());
        assert!(
            r.min_eigenvalue > 0.0 && r.min_eigenvalue.is_finite(),
            "{}: {}",
            path.display(),
            r.min_eigenvalue
        );
        assert!(r.estimates.iter().flatten().all(|v| v.is_finite()));
        checked += 1;
    }
    assert!(checked >= 4);
}

/// The row-wise estimators run in chunks on all cores (`mlamp::algo::parallel_rows`), their
/// sums added in chunk order: a run's bits do not depend on the thread count. The committee
/// (MAP, N = 2000 rows of 4) and the multi-task model (row-sparse prior), 1 and 3 threads.
#[test]
fn the_same_seed_gives_the_same_bits_on_any_thread_count() {
    for (file, n) in [
        ("examples/models/committee.toml", 100),
        ("examples/models/multitask.toml", 300),
    ] {
        let m = Model::from_file(std::path::Path::new(file)).unwrap();
        let inst = Instance::sample(&m, n, 3).unwrap();
        let opts = VampOptions {
            max_iter: 8,
            ..VampOptions::default()
        };
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| run_ml_vamp(&m, &inst, &opts).unwrap())
        };
        let (one, three) = (on(1), on(3));
        let bits = |r: &VampResult| -> Vec<u64> {
            r.estimates.iter().flatten().map(|x| x.to_bits()).collect()
        };
        assert_eq!(bits(&one), bits(&three), "{file}");
        assert_eq!(one.trace, three.trace, "{file}");
        assert!(
            one.mse_layers[0].is_finite() && one.mse_layers[0] < 1.0,
            "{file}"
        );
    }
}
