//! The LASSO (Laplace prior) and the multi-task LASSO (group-L1 prior) as MAP priors inside
//! ML-Mat-VAMP, on a row-sparse instance with d = 4 (the multi-task regression of the
//! ML-Mat-VAMP paper's section 2.1): each converges; the group penalty, which knows that the
//! four tasks share their support, beats four scalar runs; the entry-wise LASSO, whose
//! problem separates across the columns, equals them, and its fixed point is the LASSO
//! minimiser.

use mlamp::algo::vamp::{VampOptions, run_ml_vamp};
use mlamp::{Instance, Model};

const D: usize = 4;

/// Row-sparse F (ρ = 0.2, N(0, I_4) rows), Y = X F + N(0, noise), X iid N(0, 1/p).
fn instance(alpha: f64, p: usize, seed: u64) -> Instance {
    let m = Model::from_toml(&format!(
        "d = {D}\n[prior]\ntype = \"row-sparse\"\nrho = 0.2\n\
         [[layers]]\nalpha = {alpha}\nchannel = {{ type = \"linear\", noise_var = 1e-4 }}\n"
    ))
    .unwrap();
    Instance::sample(&m, p, seed).unwrap()
}

/// The estimation model: `prior` (a TOML table body), rows of `d`.
fn model(d: usize, alpha: f64, prior: &str) -> Model {
    Model::from_toml(&format!(
        "d = {d}\n[prior]\n{prior}\n\
         [[layers]]\nalpha = {alpha}\nchannel = {{ type = \"linear\", noise_var = 1e-4 }}\n"
    ))
    .unwrap()
}

/// Column `j` of every variable: a d = 1 instance on the same weights.
fn column(inst: &Instance, j: usize) -> Instance {
    Instance {
        d: 1,
        layers: inst
            .layers
            .iter()
            .map(|h| h.chunks_exact(inst.d).map(|r| r[j]).collect())
            .collect(),
        ..inst.clone()
    }
}

/// (joint MSE, converged) and the mean MSE of the four scalar runs (the same prior with
/// d = 1 on each column: for group-L1 that is the LASSO).
fn joint_and_scalar(alpha: f64, prior: &str, seed: u64) -> ((f64, bool), f64) {
    let inst = instance(alpha, 500, seed);
    let opts = VampOptions {
        max_iter: 1000,
        damping: 0.5,
        tol: 1e-10,
        ..VampOptions::default()
    };
    let joint = run_ml_vamp(&model(D, alpha, prior), &inst, &opts).unwrap();
    let scalar = (0..D)
        .map(|j| {
            run_ml_vamp(&model(1, alpha, prior), &column(&inst, j), &opts)
                .unwrap()
                .mse_signal()
        })
        .sum::<f64>()
        / D as f64;
    ((joint.mse_signal(), joint.converged), scalar)
}

#[test]
fn group_l1_converges_and_beats_four_scalar_lasso_runs() {
    // λ = 3 ≈ √(2/E x²) with E x² = 0.2 per entry; the four scalar runs are the LASSO (the
    // group penalty with d = 1 is |x|), on each column of the same instance.
    for alpha in [0.45, 0.5, 0.6] {
        let ((g, converged), scalar) =
            joint_and_scalar(alpha, "type = \"group-l1\"\nlambda = 3.0", 3);
        println!("alpha {alpha}: group-L1 (d = 4) MSE {g:.3e}, 4 scalar LASSO runs {scalar:.3e}");
        assert!(converged, "alpha {alpha}: group-L1 did not converge");
        assert!(g < 2e-3, "alpha {alpha}: group-L1 MSE {g}");
        assert!(g * 1.5 < scalar, "alpha {alpha}: {g} vs scalar {scalar}");
    }
}

const LASSO: &str = "type = \"laplace\"\nlambda = 3.0\nestimator = \"map\"";

#[test]
fn laplace_map_with_d_4_converges_and_equals_four_scalar_runs() {
    // The LASSO separates across the columns, so the joint run and the four scalar runs solve
    // the same four problems.
    for alpha in [0.5, 0.6] {
        let ((l, converged), scalar) = joint_and_scalar(alpha, LASSO, 3);
        println!("alpha {alpha}: Laplace MAP (d = 4) MSE {l:.3e}, 4 scalar runs {scalar:.3e}");
        assert!(converged, "alpha {alpha}: Laplace MAP did not converge");
        assert!(l < 2e-3, "alpha {alpha}: Laplace MAP MSE {l}");
        assert!(
            (l - scalar).abs() < 0.01 * scalar,
            "alpha {alpha}: {l} vs {scalar}"
        );
    }
}

/// The LASSO minimiser of `½‖y − W x‖²/Δ + λ‖x‖₁` by FISTA with adaptive restart (Beck and
/// Teboulle; O'Donoghue and Candès), step `1/L` with `L = ‖W‖²/Δ` by power iteration: the
/// slow obvious solver the VAMP fixed point is checked against.
fn fista(w: &[f64], m: usize, p: usize, y: &[f64], delta: f64, lambda: f64) -> Vec<f64> {
    let wx = |x: &[f64]| -> Vec<f64> {
        (0..m)
            .map(|i| (0..p).map(|j| w[i * p + j] * x[j]).sum())
            .collect()
    };
    let wtr = |r: &[f64]| -> Vec<f64> {
        (0..p)
            .map(|j| (0..m).map(|i| w[i * p + j] * r[i]).sum())
            .collect()
    };
    let mut v = vec![1.0; p];
    let mut norm2 = 0.0;
    for _ in 0..200 {
        let u = wtr(&wx(&v));
        norm2 = u.iter().map(|a| a * a).sum::<f64>().sqrt();
        v = u.iter().map(|a| a / norm2).collect();
    }
    let step = delta / (1.01 * norm2);
    let (mut x, mut z, mut t) = (vec![0.0; p], vec![0.0; p], 1.0_f64);
    for _ in 0..20_000 {
        let r: Vec<f64> = wx(&z).iter().zip(y).map(|(a, b)| a - b).collect();
        let g = wtr(&r);
        let x_new: Vec<f64> = z
            .iter()
            .zip(&g)
            .map(|(zj, gj)| {
                let u = zj - step * gj / delta;
                u.signum() * (u.abs() - step * lambda).max(0.0)
            })
            .collect();
        // Restart when the momentum points uphill.
        let uphill: f64 = z
            .iter()
            .zip(&x_new)
            .zip(&x)
            .map(|((zj, xn), xo)| (zj - xn) * (xn - xo))
            .sum();
        let t_new = if uphill > 0.0 {
            1.0
        } else {
            (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0
        };
        z = x_new
            .iter()
            .zip(&x)
            .map(|(xn, xo)| xn + (t - 1.0) / t_new * (xn - xo))
            .collect();
        (x, t) = (x_new, t_new);
    }
    x
}

#[test]
fn laplace_map_fixed_point_is_the_lasso_minimiser() {
    // d = 1, one column of the row-sparse instance: the VAMP fixed point of a convex MAP
    // problem is its minimiser, checked against FISTA and by the KKT conditions
    // Wᵀ(y − W x̂)/Δ = λ sign(x̂_j) where x̂_j ≠ 0, |·| ≤ λ where x̂_j = 0.
    let (alpha, delta, lambda) = (0.6, 1e-4, 3.0);
    let inst = column(&instance(alpha, 200, 5), 0);
    let opts = VampOptions {
        max_iter: 2000,
        damping: 0.8,
        tol: 1e-14,
        ..VampOptions::default()
    };
    let run = run_ml_vamp(&model(1, alpha, LASSO), &inst, &opts).unwrap();
    assert!(run.converged, "{} iterations", run.iterations);
    let (p, m) = (inst.sizes[0], inst.sizes[1]);
    let (w, y) = (&inst.weights[0], inst.observation());
    let x = &run.estimates[0];
    let reference = fista(w, m, p, y, delta, lambda);
    let dist: f64 = x.iter().zip(&reference).map(|(a, b)| (a - b).powi(2)).sum();
    let norm: f64 = reference.iter().map(|a| a * a).sum();
    println!(
        "VAMP vs FISTA: relative squared distance {:.3e}",
        dist / norm
    );
    assert!(dist < 1e-10 * norm, "{} vs {}", dist, norm);
    let r: Vec<f64> = (0..m)
        .map(|i| y[i] - (0..p).map(|j| w[i * p + j] * x[j]).sum::<f64>())
        .collect();
    let mut worst = 0.0_f64;
    for j in 0..p {
        let g = (0..m).map(|i| w[i * p + j] * r[i]).sum::<f64>() / delta;
        let violation = if x[j] != 0.0 {
            (g - lambda * x[j].signum()).abs()
        } else {
            (g.abs() - lambda).max(0.0)
        };
        worst = worst.max(violation);
    }
    println!("largest KKT violation {worst:.3e} (λ = {lambda})");
    // The gradient carries 1/Δ = 1e4 and ‖W‖² ≈ 3: an error of 1e-8 in x̂ moves it by 3e-4.
    assert!(worst < 1e-3 * lambda, "KKT violation {worst}");
}

#[test]
fn laplace_mmse_with_d_4_and_bad_lambdas_are_typed_errors() {
    let inst = instance(0.5, 100, 1);
    let m = model(D, 0.5, "type = \"laplace\"\nlambda = 3.0");
    let e = run_ml_vamp(&m, &inst, &VampOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("prior") && e.contains("\"map\""), "{e}");
    for prior in ["laplace", "group-l1"] {
        for bad in ["0.0", "-1.0", "nan", "inf"] {
            let text = format!(
                "[prior]\ntype = \"{prior}\"\nlambda = {bad}\n\
                 [[layers]]\nalpha = 0.5\nchannel = {{ type = \"linear\", noise_var = 1e-4 }}\n"
            );
            let e = Model::from_toml(&text)
                .err()
                .expect("a bad lambda")
                .to_string();
            assert!(e.starts_with("prior.lambda"), "{prior} {bad}: {e}");
        }
        // A typo is named.
        let text = format!(
            "[prior]\ntype = \"{prior}\"\nlambdaa = 1.0\n\
             [[layers]]\nalpha = 0.5\nchannel = {{ type = \"linear\", noise_var = 1e-4 }}\n"
        );
        let e = Model::from_toml(&text).err().expect("a typo").to_string();
        assert!(e.contains("lambdaa"), "{e}");
    }
}
