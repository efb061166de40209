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

/// The multi-task (group) LASSO minimiser `F̂` of
/// `P(F) = ½‖Y − W F‖²_F/Δ + λ Σ_j ‖F_j‖₂` (`W` m×p, `F` p×d, `Y` m×d, all row-major; for
/// d = 1 the LASSO) by FISTA with adaptive restart (Beck and Teboulle; O'Donoghue and Candès),
/// step `1/L` with `L = ‖W‖²/Δ` by power iteration, the proximal step the block soft threshold
/// `F_j ← max(0, 1 − tλ/‖U_j‖) U_j`: the slow obvious solver the VAMP fixed point is checked
/// against. It runs until the duality gap `P(F) − D(Θ)` is below `gap` (every 25 steps), with
/// the dual point `Θ = s R/Δ`, `R = Y − W F`, scaled by `s = min(1, λ/max_j ‖(WᵀR)_j‖/Δ)`
/// into the dual's feasible set `{‖(WᵀΘ)_j‖ ≤ λ}` and `D(Θ) = ⟨Θ, Y⟩ − Δ‖Θ‖²/2`.
/// Returns `F̂` and the gap reached (`None` if not within 100 000 steps).
fn fista(
    (w, m, p): (&[f64], usize, usize),
    (y, d): (&[f64], usize),
    delta: f64,
    lambda: f64,
    gap: f64,
) -> (Vec<f64>, Option<f64>) {
    // W X and Wᵀ R for row-major X (p × d) and R (m × d).
    let wx = |x: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; m * d];
        for i in 0..m {
            for j in 0..p {
                for k in 0..d {
                    out[i * d + k] += w[i * p + j] * x[j * d + k];
                }
            }
        }
        out
    };
    let wtr = |r: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; p * d];
        for i in 0..m {
            for j in 0..p {
                for k in 0..d {
                    out[j * d + k] += w[i * p + j] * r[i * d + k];
                }
            }
        }
        out
    };
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let residual = |x: &[f64]| -> Vec<f64> { y.iter().zip(wx(x)).map(|(b, a)| b - a).collect() };
    let duality_gap = |x: &[f64]| -> f64 {
        let r = residual(x);
        let g = wtr(&r);
        let worst = g.chunks_exact(d).map(norm).fold(0.0, f64::max) / delta;
        let s = if worst > lambda { lambda / worst } else { 1.0 };
        let primal = 0.5 * r.iter().map(|a| a * a).sum::<f64>() / delta
            + lambda * x.chunks_exact(d).map(norm).sum::<f64>();
        let theta: Vec<f64> = r.iter().map(|a| s * a / delta).collect();
        let dual = theta.iter().zip(y).map(|(t, b)| t * b).sum::<f64>()
            - 0.5 * delta * theta.iter().map(|t| t * t).sum::<f64>();
        primal - dual
    };
    let mut v = vec![1.0; p * d];
    let mut norm2 = 0.0;
    for _ in 0..200 {
        let u = wtr(&wx(&v));
        norm2 = norm(&u);
        v = u.iter().map(|a| a / norm2).collect();
    }
    let step = delta / (1.01 * norm2);
    let (mut x, mut z, mut t) = (vec![0.0; p * d], vec![0.0; p * d], 1.0_f64);
    for it in 0..100_000 {
        if it % 25 == 0 {
            let g = duality_gap(&x);
            if g < gap {
                return (x, Some(g));
            }
        }
        let g = wtr(&residual(&z));
        let mut x_new: Vec<f64> = z
            .iter()
            .zip(&g)
            .map(|(zj, gj)| zj + step * gj / delta)
            .collect();
        for row in x_new.chunks_exact_mut(d) {
            let n = norm(row);
            let shrink = if n > 0.0 {
                (1.0 - step * lambda / n).max(0.0)
            } else {
                0.0
            };
            row.iter_mut().for_each(|a| *a *= shrink);
        }
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
    (x, None)
}

/// The largest violation of the (group) LASSO's optimality conditions at `F̂` (row-major
/// p × d): `g_j = (Wᵀ(Y − W F̂))_j/Δ` equals `λ F̂_j/‖F̂_j‖` on a non-zero row, `‖g_j‖ ≤ λ` on a
/// zero row.
fn kkt_violation(
    (w, m, p): (&[f64], usize, usize),
    (y, d): (&[f64], usize),
    x: &[f64],
    delta: f64,
    lambda: f64,
) -> f64 {
    let mut worst = 0.0_f64;
    for j in 0..p {
        let row = &x[j * d..(j + 1) * d];
        let norm = row.iter().map(|a| a * a).sum::<f64>().sqrt();
        let g: Vec<f64> = (0..d)
            .map(|k| {
                (0..m)
                    .map(|i| {
                        let fit: f64 = (0..p).map(|l| w[i * p + l] * x[l * d + k]).sum();
                        w[i * p + j] * (y[i * d + k] - fit)
                    })
                    .sum::<f64>()
                    / delta
            })
            .collect();
        let violation = if norm > 0.0 {
            g.iter()
                .zip(row)
                .map(|(gk, xk)| (gk - lambda * xk / norm).powi(2))
                .sum::<f64>()
                .sqrt()
        } else {
            (g.iter().map(|a| a * a).sum::<f64>().sqrt() - lambda).max(0.0)
        };
        worst = worst.max(violation);
    }
    worst
}

/// Runs the MAP ML-Mat-VAMP of `prior` (rows of `d`) on `inst` to convergence and checks its
/// fixed point against [`fista`] (the same minimiser, relative squared distance below 1e-10)
/// and by [`kkt_violation`].
fn check_against_fista(inst: &Instance, prior: &str, alpha: f64, delta: f64, lambda: f64) {
    let opts = VampOptions {
        max_iter: 2000,
        damping: 0.8,
        tol: 1e-14,
        ..VampOptions::default()
    };
    let d = inst.d;
    let run = run_ml_vamp(&model(d, alpha, prior), inst, &opts).unwrap();
    assert!(run.converged, "{} iterations", run.iterations);
    let (p, m) = (inst.sizes[0], inst.sizes[1]);
    let (w, y) = (&inst.weights[0][..], inst.observation());
    let x = &run.estimates[0];
    let (reference, gap) = fista((w, m, p), (y, d), delta, lambda, 1e-8);
    let gap = gap.expect("FISTA reaches a duality gap of 1e-8");
    let dist: f64 = x.iter().zip(&reference).map(|(a, b)| (a - b).powi(2)).sum();
    let norm: f64 = reference.iter().map(|a| a * a).sum();
    let zero_rows = reference
        .chunks_exact(d)
        .filter(|r| r.iter().all(|&a| a == 0.0))
        .count();
    println!(
        "d = {d}: VAMP vs FISTA (duality gap {gap:.1e}, {zero_rows} of {p} rows zero): \
         relative squared distance {:.3e}",
        dist / norm
    );
    assert!(
        zero_rows > 0 && zero_rows < p,
        "{zero_rows} zero rows: not a sparse problem"
    );
    assert!(dist < 1e-10 * norm, "{} vs {}", dist, norm);
    let worst = kkt_violation((w, m, p), (y, d), x, delta, lambda);
    println!("largest KKT violation {worst:.3e} (λ = {lambda})");
    // The gradient carries 1/Δ = 1e4 and ‖W‖² ≈ 3: an error of 1e-8 in x̂ moves it by 3e-4.
    assert!(worst < 1e-3 * lambda, "KKT violation {worst}");
}

#[test]
fn laplace_map_fixed_point_is_the_lasso_minimiser() {
    // d = 1, one column of the row-sparse instance: the VAMP fixed point of a convex MAP
    // problem is its minimiser, checked against FISTA and by the KKT conditions
    // Wᵀ(y − W x̂)/Δ = λ sign(x̂_j) where x̂_j ≠ 0, |·| ≤ λ where x̂_j = 0.
    let alpha = 0.6;
    check_against_fista(
        &column(&instance(alpha, 200, 5), 0),
        LASSO,
        alpha,
        1e-4,
        3.0,
    );
}

#[test]
fn group_l1_map_fixed_point_is_the_multi_task_lasso_minimiser() {
    // d = 4 (the ML-Mat-VAMP paper's eq. 5): the MAP ML-Mat-VAMP fixed point with the
    // group-L1 row prior is the minimiser of ½‖Y − X F‖²/Δ + λ Σ_j ‖F_j‖₂, checked against the
    // block-soft-threshold FISTA run to a duality gap of 1e-8 and by the KKT conditions.
    let alpha = 0.6;
    let prior = "type = \"group-l1\"\nlambda = 3.0";
    check_against_fista(&instance(alpha, 200, 5), prior, alpha, 1e-4, 3.0);
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
