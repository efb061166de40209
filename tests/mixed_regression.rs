//! The mixed linear regression example's headline (`examples/mixed_regression.rs`) at a
//! smaller size: ML-Mat-VAMP with the MMSE row estimator against its state evolution and
//! against EM for a mixture of two regressions (`mlamp::mixed_regression::em`, independent
//! code: weighted ridge regressions and log-domain responsibilities), on the model
//! `π = 0.3`, `Δ = 0.01`, `F` iid `N(0, 1)`, `X` iid `N(0, 1/p)`.

use mlamp::algo::vamp::{VampOptions, run_ml_vamp};
use mlamp::mixed_regression::em::{EmOptions, em, em_from};
use mlamp::mixed_regression::{MixedRegression, mse_up_to_swap};
use mlamp::se::vamp::report::model_laws;
use mlamp::se::vamp::{Estimate, VampSeOptions, vamp_state_evolution};
use mlamp::{Instance, Model};

fn model(alpha: f64) -> Model {
    Model::from_toml(&format!(
        "d = 2\n[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = {alpha:?}\n\
         channel = {{ type = \"mixed-linear\", pi = 0.3, noise_var = 0.01 }}\n\
         estimator = \"mmse\"\n"
    ))
    .unwrap()
}

/// The SE's MSE of `F` for `p` rows (the example's options).
fn se(m: &Model, p: usize) -> Estimate {
    let opts = VampSeOptions {
        samples: 20_000,
        iterations: 100,
        seed: 1,
        ..VampSeOptions::default()
    };
    let laws = model_laws(m, &m.sizes(p).unwrap()).unwrap();
    vamp_state_evolution(m, &laws, &opts)
        .unwrap()
        .iterations
        .last()
        .unwrap()
        .mse_layers[0]
}

/// Mean and standard error of the mean.
fn mean_sem(v: &[f64]) -> (f64, f64) {
    let k = v.len() as f64;
    let mean = v.iter().sum::<f64>() / k;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean, (var / k).sqrt())
}

/// ML-Mat-VAMP's MSE (up to the swap) on `inst` (300 iterations at most, as the example)
/// and whether it converged.
fn vamp_mse(m: &Model, inst: &Instance) -> (f64, bool) {
    let opts = VampOptions {
        max_iter: 300,
        ..VampOptions::default()
    };
    let r = run_ml_vamp(m, inst, &opts).unwrap();
    (
        mse_up_to_swap(&r.estimates[0], inst.signal()).unwrap(),
        r.converged,
    )
}

/// `|mean − SE| ≤ 5 % SE + 3 standard errors` (of the seeds' mean and of the SE's Monte Carlo).
fn assert_matches_se(what: &str, runs: &[f64], se: Estimate) {
    let (mean, sem) = mean_sem(runs);
    let tol = 0.05 * se.value + 3.0 * (sem * sem + se.se * se.se).sqrt();
    println!(
        "{what}: ML-Mat-VAMP {mean:.4} ± {sem:.4} (runs {runs:.4?}), SE {:.4} ± {:.4}",
        se.value, se.se
    );
    assert!(
        (mean - se.value).abs() <= tol,
        "{what}: {mean} vs SE {}",
        se.value
    );
}

#[test]
fn headline_at_a_smaller_size() {
    // p = 100 (the example: 200), α = 4 and 6, five seeds. Checked:
    // - ML-Mat-VAMP converges in 300 iterations on at least 4 of the 5 instances;
    // - ML-Mat-VAMP's MSE against its SE (5 % + 3 standard errors);
    // - against the posterior mode EM reaches from the truth (the local maximum of the
    //   posterior in the truth's basin, computed by EM alone): the seeds' mean of the paired
    //   differences of the MSEs within 25 % of the mode's MSE + 3 standard errors (measured
    //   at p = 200: 0.054 vs 0.051 at α = 4, 0.0113 vs 0.0119 at α = 6; the truth-started
    //   mode is no estimator, it is told the answer, and at small α it stays nearer the
    //   truth than any estimator can);
    // - EM from its own starts (2 random, the spectral one): where it misses (MSE above twice
    //   the truth-started run's), its log-posterior is below that run's — a local maximum,
    //   not a better optimum of the same objective — and at α = 6 it finds the mode on some
    //   instances.
    let p = 100;
    for alpha in [4.0, 6.0] {
        let m = model(alpha);
        let (mut vamp, mut mode, mut found, mut converged) = (Vec::new(), Vec::new(), 0, 0);
        for seed in 1..=5 {
            let inst = Instance::sample(&m, p, seed).unwrap();
            let truth = inst.signal();
            let (v, c) = vamp_mse(&m, &inst);
            vamp.push(v);
            converged += usize::from(c);
            let problem = MixedRegression::of_instance(&m, &inst, 1.0).unwrap();
            let opts = EmOptions {
                starts: 2,
                max_iter: 200,
                seed,
                ..EmOptions::default()
            };
            let baseline = em(&problem, &opts).unwrap();
            let oracle = em_from(&problem, truth, 200, opts.tol).unwrap();
            let (b, o) = (
                mse_up_to_swap(&baseline.best.estimate, truth).unwrap(),
                mse_up_to_swap(&oracle.estimate, truth).unwrap(),
            );
            println!(
                "alpha {alpha} seed {seed}: EM {b:.4} (log-posterior {:.1}), from the truth {o:.4} ({:.1})",
                baseline.best.log_posterior, oracle.log_posterior
            );
            if b > 2.0 * o {
                assert!(
                    baseline.best.log_posterior < oracle.log_posterior,
                    "alpha {alpha} seed {seed}: EM's worse estimate has the higher posterior"
                );
            } else {
                found += 1;
            }
            mode.push(o);
        }
        assert_matches_se(&format!("alpha {alpha}"), &vamp, se(&m, p));
        assert!(
            converged >= 4,
            "alpha {alpha}: {converged} of 5 runs converged"
        );
        let diff: Vec<f64> = vamp.iter().zip(&mode).map(|(v, o)| v - o).collect();
        let ((d, d_sem), o) = (mean_sem(&diff), mean_sem(&mode).0);
        assert!(
            d.abs() <= 0.25 * o + 3.0 * d_sem,
            "alpha {alpha}: ML-Mat-VAMP − the posterior mode {d} ± {d_sem}, mode {o}"
        );
        if alpha == 6.0 {
            // Measured: 2 of 5 here (seeds 1, 2), 3 of 4 at the example's p = 200.
            assert!(found >= 2, "EM found the mode in {found} of 5 seeds");
        }
    }
}

#[test]
fn state_evolution_at_the_example_size() {
    // p = 200, four seeds, as the example prints them: ML-Mat-VAMP within 5 % + 3 standard
    // errors of the SE at α = 2.5, 3, 4, 6 (measured: 0.262 ± 0.034 vs 0.215, 0.153 ± 0.023
    // vs 0.148, 0.054 ± 0.014 vs 0.051, 0.0113 ± 0.0016 vs 0.0105; 3.4 s of CPU). At α ≤ 2
    // the runs at p = 200 sit above the SE by more than that, a finite-size effect: at
    // p = 800 (four seeds) α = 2 gives 0.358 ± 0.011 against the SE's 0.331, α = 1.5
    // 0.566 ± 0.027 against 0.561 (p = 200: 0.443 and 0.703).
    let p = 200;
    for alpha in [2.5, 3.0, 4.0, 6.0] {
        let m = model(alpha);
        let runs: Vec<f64> = (1..=4)
            .map(|seed| vamp_mse(&m, &Instance::sample(&m, p, seed).unwrap()).0)
            .collect();
        assert_matches_se(&format!("alpha {alpha}"), &runs, se(&m, p));
    }
}
