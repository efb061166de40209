//! The ML-Mat-VAMP state evolution (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher,
//! *Matrix inference and estimation in multi-layer models*, Theorem 1) against independent
//! references: the closed-form posterior of an all-Gaussian network, the ML-AMP state
//! evolution (Manoel, Krzakala, Mézard, Zdeborová) at d = 1, and the algorithm itself at
//! every iteration.

use mlamp::Model;
use mlamp::algo::vamp::{VampOptions, run_ml_vamp};
use mlamp::instance::Instance;
use mlamp::se::spectral_law::SpectralLaw;
use mlamp::se::vamp::{VampSeOptions, VampSeResult, vamp_state_evolution};
use mlamp::se::{SeOptions, StateEvolution};
use nalgebra::DMatrix;

/// Marchenko–Pastur laws of a model's iid Gaussian weights at signal size `n`.
fn mp_laws(m: &Model, n: usize) -> Vec<SpectralLaw> {
    let sizes = m.sizes(n).unwrap();
    (0..m.depth())
        .map(|k| SpectralLaw::marchenko_pastur(sizes[k + 1], sizes[k], 64).unwrap())
        .collect()
}

fn se(m: &Model, n: usize, iterations: usize, samples: usize, seed: u64) -> VampSeResult {
    let opts = VampSeOptions {
        samples,
        iterations,
        seed,
        ..VampSeOptions::default()
    };
    vamp_state_evolution(m, &mp_laws(m, n), &opts).unwrap()
}

/// x ~ N(0, I_3) rows, h = W1 x + N(0, 0.1), y = W2 h + N(0, 0.01).
const GAUSSIAN: &str = "d = 3\n[prior]\ntype = \"gaussian\"\n\
    [[layers]]\nalpha = 1.2\nchannel = { type = \"linear\", noise_var = 0.1 }\n\
    [[layers]]\nalpha = 0.8\nchannel = { type = \"linear\", noise_var = 0.01 }\n";

/// The exact posterior MSE per entry of x on an instance: y = A x + noise with A = W2 W1 and
/// noise covariance C = 0.1 W2 W2ᵀ + 0.01 I, so Σ_post = (I + Aᵀ C⁻¹ A)⁻¹ for each of the
/// d independent columns.
fn gaussian_posterior_mse(inst: &Instance) -> f64 {
    let s = &inst.sizes;
    let w1 = DMatrix::from_row_slice(s[1], s[0], &inst.weights[0]);
    let w2 = DMatrix::from_row_slice(s[2], s[1], &inst.weights[1]);
    let a = &w2 * &w1;
    let c = &w2 * w2.transpose() * 0.1 + DMatrix::identity(s[2], s[2]) * 0.01;
    let ca = c.cholesky().unwrap().solve(&a);
    let p = DMatrix::identity(s[0], s[0]) + a.transpose() * ca;
    let cov = p.cholesky().unwrap().inverse();
    cov.trace() / s[0] as f64
}

#[test]
fn all_gaussian_network_matches_the_closed_form_posterior() {
    // Every factor is linear-Gaussian, so the SE takes its rows at sigma points (exact) and
    // its MSE is a deterministic function of the laws: at the fixed point it is the MMSE.
    let m = Model::from_toml(GAUSSIAN).unwrap();
    let n = 600;
    let r = se(&m, n, 12, 1, 0);
    let exact: f64 = (0..3)
        .map(|seed| gaussian_posterior_mse(&Instance::sample(&m, n, seed).unwrap()))
        .sum::<f64>()
        / 3.0;
    for (t, it) in r.iterations.iter().enumerate() {
        println!(
            "t {}: SE {:.6e} (se {:.1e})",
            t + 1,
            it.mse_layers[0].value,
            it.mse_layers[0].se
        );
        assert_eq!(it.mse_layers[0].se, 0.0);
    }
    let fixed = r.iterations.last().unwrap().mse_layers[0].value;
    println!("exact posterior MSE (n = {n}, 3 instances) {exact:.6e}, SE {fixed:.6e}");
    assert!((fixed - exact).abs() < 1e-3 * exact, "{fixed} vs {exact}");
}

/// The two-layer sparse regression of the ML-AMP paper's eq. 18 (ρ = 0.3, noiseless middle
/// layer, output noise 1e-8) with the output layer's alpha `alpha`.
fn sparse_regression(alpha: f64) -> Model {
    Model::from_toml(&format!(
        "[prior]\ntype = \"gauss-bernoulli\"\nrho = 0.3\n\
         [[layers]]\nalpha = 1.0\nchannel = {{ type = \"linear\", noise_var = 0.0 }}\n\
         [[layers]]\nalpha = {alpha}\nchannel = {{ type = \"linear\", noise_var = 1e-8 }}\n"
    ))
    .unwrap()
}

#[test]
fn d_1_fixed_point_equals_the_ml_amp_state_evolution() {
    // Hard (the uninformative branch, MSE ~ 0.08), near the algorithmic threshold (between
    // 0.45 and 0.5: slow), and easy. Each replica (its own seed) averages its last 10
    // iterations; the error bar is the spread of 4 replicas, or the mean jackknife error if
    // larger: it includes the Monte-Carlo error carried from iteration to iteration.
    for (alpha, iterations) in [(0.45, 60), (0.5, 120), (0.8, 30)] {
        let m = sparse_regression(alpha);
        let amp = StateEvolution::new(&m, SeOptions::default())
            .unwrap()
            .analyse()
            .amp
            .mse_signal();
        let replicas: Vec<(f64, f64)> = (0..4)
            .map(|seed| {
                let r = se(&m, 1000, iterations, 20_000, seed);
                let tail = &r.iterations[iterations - 10..];
                let mean = tail.iter().map(|i| i.mse_layers[0].value).sum::<f64>() / 10.0;
                let se = tail.iter().map(|i| i.mse_layers[0].se).sum::<f64>() / 10.0;
                (mean, se)
            })
            .collect();
        let mean = replicas.iter().map(|r| r.0).sum::<f64>() / 4.0;
        let spread = (replicas.iter().map(|r| (r.0 - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
        let jack = replicas.iter().map(|r| r.1).sum::<f64>() / 4.0;
        let err = (spread / 2.0).max(jack / 2.0);
        println!("alpha {alpha}: ML-VAMP SE {mean:.4e} ± {err:.1e}, ML-AMP SE {amp:.4e}");
        assert!(
            (mean - amp).abs() < 3.0 * err,
            "alpha {alpha}: {mean} ± {err} vs {amp}"
        );
    }
}

/// The algorithm's per-iteration MSE of every layer, undamped, over `seeds` instances: the
/// mean and its standard error (sample standard deviation / √seeds).
fn algorithm_trace(m: &Model, n: usize, iterations: usize, seeds: u64) -> Vec<Vec<(f64, f64)>> {
    let opts = VampOptions {
        damping: 1.0,
        max_iter: iterations,
        tol: 0.0,
        ..VampOptions::default()
    };
    let runs: Vec<Vec<Vec<f64>>> = (0..seeds)
        .map(|seed| {
            let inst = Instance::sample(m, n, 100 + seed).unwrap();
            let run = run_ml_vamp(m, &inst, &opts).unwrap();
            assert_eq!(run.trace.len(), iterations);
            run.trace
        })
        .collect();
    let k = seeds as f64;
    (0..iterations)
        .map(|t| {
            (0..m.depth())
                .map(|layer| {
                    let v: Vec<f64> = runs.iter().map(|r| r[t][layer]).collect();
                    let mean = v.iter().sum::<f64>() / k;
                    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
                    (mean, (var / k).sqrt())
                })
                .collect()
        })
        .collect()
}

/// Asserts that each iteration's SE value is within 5 % + 3 combined standard errors (the
/// SE's Monte Carlo and the algorithm's over instances) of the algorithm's mean; prints every
/// iteration.
fn assert_tracks(name: &str, r: &VampSeResult, algo: &[Vec<(f64, f64)>]) {
    for (t, (it, a)) in r.iterations.iter().zip(algo).enumerate() {
        for (k, (e, &(av, ase))) in it.mse_layers.iter().zip(a).enumerate() {
            println!(
                "{name} t {} layer {k}: SE {:.4e} ± {:.1e}, algorithm {av:.4e} ± {ase:.1e}",
                t + 1,
                e.value,
                e.se
            );
            let tol = 0.05 * av + 3.0 * e.se.hypot(ase);
            assert!(
                (e.value - av).abs() <= tol,
                "{name} t {} layer {k}: SE {} vs algorithm {av} ± {ase}",
                t + 1,
                e.value
            );
        }
    }
}

#[test]
fn state_evolution_tracks_the_algorithm_at_every_iteration() {
    // Multi-task sparse regression (d = 4, row-sparse, alpha 0.35) and the all-Gaussian
    // network, each iteration within 5 % + 3 standard errors of the mean of 4 runs. "Large
    // N": at n = 2000 (700 observed rows) the multitask runs lag the SE by 10–20 % in
    // iterations 3–9, at n = 4000 by at most 3.5 %, at n = 8000 by 2 %: finite size.
    for (name, text, n) in [
        (
            "multitask",
            std::fs::read_to_string("examples/models/multitask.toml").unwrap(),
            4000,
        ),
        ("gaussian", GAUSSIAN.to_string(), 1000),
    ] {
        let m = Model::from_toml(&text).unwrap();
        let iterations = 12;
        let r = se(&m, n, iterations, 40_000, 1);
        let algo = algorithm_trace(&m, n, iterations, 4);
        assert_tracks(name, &r, &algo);
    }
}

/// The section-5 committee at `n` samples (`N_in = 100`, d = 4, sigmoid, F2 from seed 7),
/// `db` dB relative to the output's power, MAP output estimator.
fn committee(n: usize, db: f64) -> Model {
    committee_with(n, db, "map")
}

/// [`committee`] with the output estimator `estimator` (`map` or `mmse`).
fn committee_with(n: usize, db: f64, estimator: &str) -> Model {
    Model::from_toml(&format!(
        "d = 4\n[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = {:?}\n\
         channel = {{ type = \"committee\", activation = \"sigmoid\", snr_db = {db:?}, f2_seed = 7 }}\n\
         estimator = \"{estimator}\"\n",
        n as f64 / 100.0
    ))
    .unwrap()
}

#[test]
fn committee_state_evolution_tracks_the_algorithm_at_every_iteration() {
    // The committee at N = 2000, 15 dB, with the MMSE and the MAP output estimators: the MSE
    // of F1 and of Z = X F1 at each of 12 iterations, SE (20 000 rows) against the mean of 6
    // instances (the tolerance of `assert_tracks`). At N_in = 100 the instances differ by up
    // to 25 % (iteration 8, MMSE: 0.69, 0.74, 0.91 for seeds 1–3 of the shipped model), hence
    // the instances' standard error in the tolerance. Before the backward messages were
    // regressed on the truth (row_model::Backward::regressed) the SE predicted 0.31 (κ = I
    // everywhere) and then 0.50 (κ at the output only) at t = 2 for MAP, against 0.83.
    for estimator in ["mmse", "map"] {
        let m = committee_with(2000, 15.0, estimator);
        let iterations = 12;
        let r = se(&m, 100, iterations, 20_000, 3);
        let algo = algorithm_trace(&m, 100, iterations, 6);
        assert_tracks(&format!("committee {estimator}"), &r, &algo);
    }
}

/// One (N, dB) point of the section-5 experiment: the SE's predicted normalised test error at
/// iteration 20, and eq. 17 on ML-Mat-VAMP MAP's and ADAM's estimates, each per seed.
struct CommitteePoint {
    se: mlamp::se::vamp::Estimate,
    vamp: Vec<f64>,
    adam: Vec<f64>,
}

fn committee_point(n: usize, db: f64, seeds: u64) -> CommitteePoint {
    use mlamp::committee::adam::{AdamOptions, Committee};
    use mlamp::committee::test_error::{eq17_covariance, predicted_test_error};
    use mlamp::core::channel::RowChannelForm;
    use mlamp::core::estimator::Estimator;
    let m = committee(n, db);
    let Ok(RowChannelForm::Committee { phi, f2, noise_var }) =
        m.layers[0].channel.row_form(Estimator::Map, 4)
    else {
        panic!("the output is a committee")
    };
    let iterations = 20;
    let opts = VampSeOptions {
        samples: 10_000,
        iterations,
        seed: 11,
        estimator: Some(Estimator::Map),
        ..VampSeOptions::default()
    };
    let se = vamp_state_evolution(&m, &mp_laws(&m, 100), &opts).unwrap();
    let run_opts = VampOptions {
        damping: 1.0,
        max_iter: iterations,
        tol: 0.0,
        estimator: Some(Estimator::Map),
        ..VampOptions::default()
    };
    let (mut vamp, mut adam) = (Vec::new(), Vec::new());
    for seed in 0..seeds {
        let inst = Instance::sample(&m, 100, 200 + seed).unwrap();
        let eq17 = |f1_hat: &[f64]| {
            let k = eq17_covariance(&inst.layers[0], f1_hat, 100).unwrap();
            predicted_test_error(&k, f2, phi, noise_var)
                .unwrap()
                .normalised
        };
        let run = run_ml_vamp(&m, &inst, &run_opts).unwrap();
        vamp.push(eq17(&run.estimates[0]));
        let problem = Committee {
            x: &inst.weights[0],
            y: inst.observation(),
            n_in: 100,
            f2,
            activation: phi,
            noise_var,
            prior_var: 1.0,
        };
        let fit = AdamOptions::default().fit(&problem, 300 + seed).unwrap();
        adam.push(eq17(&fit.f1));
    }
    CommitteePoint {
        se: se.iterations[iterations - 1].test_error.unwrap(),
        vamp,
        adam,
    }
}

#[test]
fn committee_se_vamp_and_adam_agree_at_every_size_and_noise_level() {
    // The section-5 committee (d = 4, N_in = 100, sigmoid), MAP, undamped, 20 iterations from
    // the uninformative start, at N ∈ {500, 2000, 4000} and 10 / 15 dB, 4 instances each: the
    // SE's predicted normalised test error within 5 % + 3 SE of the algorithm's mean (eq. 17
    // on its estimates); ADAM (100 epochs, minibatch 32, step 0.01) on the same MAP loss
    // within 10 % of ML-Mat-VAMP; and no run above twice the median of its point.
    use rayon::prelude::*;
    let points: Vec<(usize, f64)> = [10.0, 15.0]
        .into_iter()
        .flat_map(|db| [500, 2000, 4000].map(|n| (n, db)))
        .collect();
    let results: Vec<CommitteePoint> = points
        .par_iter()
        .map(|&(n, db)| committee_point(n, db, 4))
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let median = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        0.5 * (s[(s.len() - 1) / 2] + s[s.len() / 2])
    };
    for (&(n, db), p) in points.iter().zip(&results) {
        let (v, a) = (mean(&p.vamp), mean(&p.adam));
        println!(
            "N {n} {db} dB: SE {:.4} ± {:.1e}, ML-Mat-VAMP {v:.4} {:.4?}, ADAM {a:.4} {:.4?}",
            p.se.value, p.se.se, p.vamp, p.adam
        );
        assert!(
            (p.se.value - v).abs() <= 0.05 * v + 3.0 * p.se.se,
            "N {n} {db} dB: SE {} vs algorithm {v}",
            p.se.value
        );
        assert!(
            (a - v).abs() <= 0.1 * v,
            "N {n} {db} dB: ADAM {a} vs VAMP {v}"
        );
        let m = median(&p.vamp);
        assert!(
            p.vamp.iter().all(|&e| e <= 2.0 * m),
            "a blow-up: {:?}",
            p.vamp
        );
    }
}

#[test]
fn committee_mmse_is_not_worse_than_map() {
    // ML-Mat-VAMP with the Bayes-optimal (MMSE, 6⁴-node cubature) output estimator against the
    // MAP one on the same instances (N = 200, 15 dB, 3 seeds, 20 iterations): the posterior
    // mean minimises the MSE of F̂1, so its MSE cannot exceed the mode's beyond the seeds'
    // scatter. (The test error of eq. 17 plugs F̂1 into σ, and the plug-in of the posterior
    // mean is not the Bayes-optimal predictor: no such bound holds for it, and at this N the
    // MMSE plug-in's test error is 0.6–3 % above the MAP's.)
    use mlamp::core::estimator::Estimator;
    let m = committee(200, 15.0);
    let mut diffs = Vec::new();
    for seed in 0..3 {
        let inst = Instance::sample(&m, 100, 400 + seed).unwrap();
        let mse = |estimator| {
            let opts = VampOptions {
                damping: 1.0,
                max_iter: 20,
                tol: 0.0,
                estimator: Some(estimator),
                ..VampOptions::default()
            };
            run_ml_vamp(&m, &inst, &opts).unwrap().mse_signal()
        };
        let (mmse, map) = (mse(Estimator::Mmse), mse(Estimator::Map));
        println!("seed {seed}: MSE of F1 by MMSE {mmse:.4}, by MAP {map:.4}");
        diffs.push(mmse - map);
    }
    let mean = diffs.iter().sum::<f64>() / 3.0;
    let sd = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!(mean <= 2.0 * sd / 3f64.sqrt(), "MMSE − MAP: {diffs:?}");
}
