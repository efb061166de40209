//! Regression tests for the failures a hostile-user fuzzing found: each reproduces its input
//! and checks that the answer is now a finite result or a one-line error naming what to
//! change (no crash, no NaN reported as success, no work lost).

use std::path::{Path, PathBuf};

use mlamp::Error;
use mlamp::algo::{Algorithm, RunOptions, run_model_file};
use mlamp::core::estimator::Estimator;
use mlamp::experiments::phase_report::{PhaseOptions, phase_model_file};
use mlamp::se::{SeOptions, se_model_file};

/// A scratch directory of this test binary.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mlamp-robust-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `text` as a model file and returns its path.
fn model(name: &str, text: &str) -> PathBuf {
    let p = scratch(name).join("model.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn run(path: &Path, opts: RunOptions) -> Result<mlamp::algo::RunReport, Error> {
    run_model_file(path, &opts)
}

fn err_starts(r: Result<impl std::fmt::Debug, Error>, field: &str) -> String {
    let e = r.expect_err("accepted").to_string();
    assert!(
        e.starts_with(field),
        "expected an error naming `{field}`: {e}"
    );
    assert!(!e.contains('\n'), "{e}");
    e
}

const SPARSE: &str = "examples/models/sparse_regression.toml";

/// Item 1: these valid-looking files aborted with a stack overflow (erfcx on NaN); their
/// scales are now refused up front, naming the field.
#[test]
fn scales_that_overflowed_to_nan_are_refused_by_name() {
    let so = model(
        "so",
        "[prior]\ntype = \"gaussian\"\nvar = 1e308\n[[layers]]\nalpha = 2.0\n\
         channel = { type = \"sign\", noise_var = 0.0 }\n",
    );
    let opts = RunOptions {
        n: 50,
        ..RunOptions::default()
    };
    err_starts(run(&so, opts), "prior.var");
    err_starts(se_model_file(&so), "prior.var");
    let hidden = model(
        "hidden",
        "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 2.0\n\
         channel = { type = \"linear\", noise_var = 1e307 }\n[[layers]]\nalpha = 1.0\n\
         channel = { type = \"sign\" }\n",
    );
    err_starts(run(&hidden, opts), "layers[0].channel.noise_var");
    let mean = model(
        "mean154",
        "[prior]\ntype = \"gaussian\"\nmean = 1e154\n[[layers]]\nalpha = 2.0\n\
         channel = { type = \"sign\" }\n",
    );
    err_starts(run(&mean, opts), "prior.mean");
}

/// Items 2 and 3: sizes that overflowed `usize` or the machine panicked or aborted.
#[test]
fn sizes_beyond_the_machine_are_errors_before_any_allocation() {
    let big = model(
        "alpha",
        "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1e20\n\
         channel = { type = \"linear\", noise_var = 0.01 }\n",
    );
    err_starts(run(&big, RunOptions::default()), "layers[0].alpha");
    for algorithm in [Algorithm::Amp, Algorithm::Vamp] {
        let opts = RunOptions {
            algorithm,
            n: usize::MAX,
            ..RunOptions::default()
        };
        err_starts(run(SPARSE.as_ref(), opts), "n");
    }
    let d = model(
        "d",
        "d = 18446744073709551615\n[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1.0\n\
         channel = { type = \"linear\", noise_var = 0.01 }\n",
    );
    err_starts(run(&d, RunOptions::default()), "d");
    // Spectrum weights at a size whose Haar frames do not fit: the memory guard, not a panic
    // in the QR's workspace.
    let spectrum = model(
        "spectrum",
        "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1.0\n\
         channel = { type = \"linear\", noise_var = 0.01 }\n\
         weights = { type = \"spectrum\", condition_number = 10.0 }\n",
    );
    let r = run(
        &spectrum,
        RunOptions {
            algorithm: Algorithm::Vamp,
            n: 10_000_000,
            ..RunOptions::default()
        },
    );
    assert!(matches!(r, Err(Error::Memory { .. })), "{r:?}");
}

/// Item 3: `--n 200000` asked for 320 GB and aborted; the guard says what fits.
#[test]
fn the_memory_guard_names_the_n_that_fits() {
    // 2000 × 2000 and 1600 × 2000 weights: 57.6 MB, and the vectors.
    let r = run(
        SPARSE.as_ref(),
        RunOptions {
            n: 2000,
            max_memory: Some(10_000_000),
            ..RunOptions::default()
        },
    );
    let Err(Error::Memory { needed, limit, .. }) = &r else {
        panic!("{r:?}")
    };
    assert!(*needed > 57_600_000 && *needed < 60_000_000, "{needed}");
    assert_eq!(*limit, 10_000_000);
    let msg = r.unwrap_err().to_string();
    // The largest n with 8 (n² + 0.8 n²) + O(n) bytes ≤ 1e7 is just below √(1e7/14.4) ≈ 833.
    let fits: usize = msg
        .split("--n ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{msg}"));
    assert!((800..=833).contains(&fits), "{msg}");
    let ok = run(
        SPARSE.as_ref(),
        RunOptions {
            n: fits,
            iters: Some(2),
            max_memory: Some(10_000_000),
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert!(ok.memory_estimate <= 10_000_000 && ok.memory_estimate > 9_000_000);
    // Without a limit, 200000 rows need 576 GB: more than this machine has.
    let r = run(
        SPARSE.as_ref(),
        RunOptions {
            n: 200_000,
            ..RunOptions::default()
        },
    );
    assert!(matches!(r, Err(Error::Memory { .. })), "{r:?}");
}

/// Item 4: `se` said "converged" with NaN MSEs and free energies; `phase` wrote NaN cells.
#[test]
fn parameters_beyond_representation_are_refused_not_reported_as_nan() {
    for (name, text, field) in [
        (
            "mean300",
            "[prior]\ntype = \"gaussian\"\nmean = 1e300\n[[layers]]\nalpha = 2.0\n\
             channel = { type = \"linear\", noise_var = 0.01 }\n",
            "prior.mean",
        ),
        (
            "alpha300",
            "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1e300\n\
             channel = { type = \"sign\", noise_var = 0.01 }\n",
            "layers[0].alpha",
        ),
        (
            "noise308",
            "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 2.0\n\
             channel = { type = \"linear\", noise_var = 1e308 }\n",
            "layers[0].channel.noise_var",
        ),
        (
            // Each alpha in range, their product (the last variable's size) not.
            "product",
            "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1e5\nchannel = { type = \"linear\" }\n\
             [[layers]]\nalpha = 1e5\nchannel = { type = \"linear\", noise_var = 0.1 }\n",
            "layers[1].alpha",
        ),
    ] {
        err_starts(se_model_file(&model(name, text)), field);
    }
    let opts = PhaseOptions {
        layer: 1,
        from: 0.1,
        to: 1.7e308,
        steps: 3,
        out: scratch("phase-to"),
        se: SeOptions::default(),
    };
    err_starts(phase_model_file(SPARSE.as_ref(), &opts, &|| {}), "to");
    let opts = PhaseOptions {
        to: 1.0,
        steps: usize::MAX,
        ..opts
    };
    err_starts(phase_model_file(SPARSE.as_ref(), &opts, &|| {}), "steps");
}

/// Item 8: refusals that came after sampling and the SVD (9.5 s for d = 8 tanh at n = 500),
/// and values the model check let through: every one now comes before any heavy work. The
/// proof of "before": at an `n` the memory guard would refuse, the model's own error wins.
#[test]
fn estimator_and_model_errors_come_before_the_instance() {
    let huge = RunOptions {
        algorithm: Algorithm::Vamp,
        n: 1 << 30,
        ..RunOptions::default()
    };
    let tanh = model(
        "tanh8",
        "d = 8\n[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1.0\n\
         channel = { type = \"tanh\", noise_var = 0.01 }\n",
    );
    err_starts(
        run(
            &tanh,
            RunOptions {
                estimator: Some(Estimator::Mmse),
                ..huge
            },
        ),
        "layers[0].estimator",
    );
    let sign_map = model(
        "signmap",
        "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 2.0\n\
         channel = { type = \"sign\", noise_var = 0.0 }\nestimator = \"map\"\n",
    );
    err_starts(run(&sign_map, huge), "layers[0]");
    let d9 = model(
        "d9",
        "d = 9\n[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1.0\n\
         channel = { type = \"linear\", noise_var = 0.01 }\n",
    );
    err_starts(run(&d9, huge), "d");
    let tiny = model(
        "tiny",
        "[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1.0\n\
         channel = { type = \"linear\", noise_var = 5e-324 }\n",
    );
    err_starts(run(&tiny, huge), "layers[0].channel.noise_var");
}

/// Item 10: an unwritable `--out` lost the whole scan, then said "cannot read".
#[test]
fn phase_checks_its_output_directory_before_the_scan() {
    let opts = PhaseOptions {
        layer: 1,
        from: 0.1,
        to: 1.0,
        steps: 10,
        out: PathBuf::from("/dev/null/x"),
        se: SeOptions::default(),
    };
    let t = std::time::Instant::now();
    let r = phase_model_file("examples/models/decoder.toml".as_ref(), &opts, &|| {
        panic!("a grid point was computed before the directory was checked")
    });
    assert!(matches!(r, Err(Error::Write { .. })), "{r:?}");
    let msg = r.unwrap_err().to_string();
    assert!(msg.starts_with("cannot write /dev/null/x"), "{msg}");
    assert!(t.elapsed().as_secs_f64() < 1.0);
}

/// Item 10: a mean of 1e6 (standard deviation 1) made `se` report MSE 1.0 instead of
/// 0.031, and ML-Mat-VAMP 6.6e3. It is refused now; the largest accepted mean, 1e4 standard
/// deviations, gives the closed form of the centred model: for a Gaussian prior `N(μ, v)`
/// behind a linear channel of noise `Δ` the state evolution's MSE is the fixed point of
/// `E = 1/(1/v + α/(Δ + E))`, which does not depend on μ.
#[test]
fn large_prior_means_are_refused_or_exact() {
    let text = |mean: &str| {
        format!(
            "[prior]\ntype = \"gaussian\"\nmean = {mean}\n[[layers]]\nalpha = 0.5\n\
             channel = {{ type = \"linear\", noise_var = 0.1 }}\n"
        )
    };
    err_starts(se_model_file(&model("mean6", &text("1e6"))), "prior.mean");
    let (v, alpha, delta) = (1.0f64, 0.5, 0.1);
    let mut e = v;
    for _ in 0..10_000 {
        e = 1.0 / (1.0 / v + alpha / (delta + e));
    }
    for mean in ["0.0", "1e4"] {
        let r = se_model_file(&model(&format!("mean-{mean}"), &text(mean))).unwrap();
        assert!(
            (r.mse_signal_amp - e).abs() < 1e-3 * e,
            "mean {mean}: {} vs {e}",
            r.mse_signal_amp
        );
    }
}

/// A model file of `text` with the shipped sparse regression's `from` replaced by `to`.
fn sparse_with(name: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(SPARSE).unwrap();
    assert!(text.contains(from));
    model(name, &text.replace(from, to))
}

/// ML-AMP at n = 500 with the default (adaptive) damping against the state evolution's
/// signal MSE (its uninformative fixed point): converged, and within 2× of it (or below).
fn within_twice_the_se(path: &Path, want_converged: bool) -> (f64, f64, usize) {
    let se = se_model_file(path).unwrap().mse_signal_amp;
    let r = run(
        path,
        RunOptions {
            n: 500,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert!(!r.diverged, "{}: {}", path.display(), r.status());
    if want_converged {
        assert!(r.converged, "{}: {}", path.display(), r.status());
    }
    assert!(
        r.mse_signal <= 2.0 * se,
        "{}: MSE {} vs SE {se}",
        path.display(),
        r.mse_signal
    );
    (r.mse_signal, se, r.iterations)
}

/// Item 5: easy models that ML-AMP reported as diverged (fixed damping 0.8, the kept iterate
/// the one of the smallest change): a noiseless output ("diverged" after 212 iterations at
/// MSE 1.1e-8, the SE 3.6e-13), a prior of variance 1e6 (MSE 0.013, the SE 3.7e-7), the
/// shipped sparse regression at n = 500 (500 iterations, not converged), ρ = 0.999999 and a
/// 10-layer linear model (MSE 8.5e3 after 500 iterations, not flagged).
#[test]
fn adaptive_damping_converges_on_easy_models() {
    within_twice_the_se(
        &sparse_with("noiseless", "noise_var = 1e-8", "noise_var = 0.0"),
        true,
    );
    within_twice_the_se(
        &sparse_with("var6", "rho = 0.3", "rho = 0.3\nvar = 1e6"),
        true,
    );
    within_twice_the_se(SPARSE.as_ref(), true);
    for shipped in ["perceptron", "decoder"] {
        within_twice_the_se(format!("examples/models/{shipped}.toml").as_ref(), true);
    }
    // ρ = 0.999999 and the deep linear model converge slowly (the SE itself takes 187 and
    // 362 iterations): within 2× after the 500 iterations, not diverged.
    within_twice_the_se(&sparse_with("rho1", "rho = 0.3", "rho = 0.999999"), false);
    let mut deep = String::from("[prior]\ntype = \"gaussian\"\n");
    for _ in 0..9 {
        deep += "[[layers]]\nalpha = 1.0\nchannel = { type = \"linear\", noise_var = 0.0 }\n";
    }
    deep += "[[layers]]\nalpha = 0.8\nchannel = { type = \"linear\", noise_var = 1e-4 }\n";
    within_twice_the_se(&model("deep", &deep), false);
}

/// Item 5: `--damping 0.1` (fixed) on the shipped easy model reported MSE 1.22, four times
/// the zero estimate's 0.3, because the kept iterate was the one of the smallest change,
/// iteration 1. No kept iterate is worse than the prior's own estimate: the MSE stays within
/// sampling error (4 sd of a mean of 2000 squares: 0.08) of the prior's variance, 0.3.
#[test]
fn no_kept_iterate_is_worse_than_the_prior() {
    for damping in [0.1, 0.3] {
        let r = run(
            SPARSE.as_ref(),
            RunOptions {
                damping: Some(damping),
                ..RunOptions::default()
            },
        )
        .unwrap();
        assert!(r.mse_signal <= 0.38, "damping {damping}: {}", r.mse_signal);
    }
}

/// Item 9 and the shipped ReLU network: converged within 2× of the SE at n = 500 with the
/// default damping (ML-AMP: 352 and 191 iterations, 1.14× and 0.71× the SE). ML-Mat-VAMP on
/// item 9's model (Gauss–Bernoulli → ReLU → sign) ended "not converged" at the old default
/// of 200 iterations (its last mode contracts by ~0.986 an iteration at damping 0.8); with
/// the default of 500 it converges (449 iterations at n = 500, MSE 0.0203 against the SE's
/// 0.0175).
#[test]
fn adaptive_damping_converges_on_relu_models() {
    let item9 = model(
        "item9",
        "[prior]\ntype = \"gauss-bernoulli\"\nrho = 0.3\n[[layers]]\nalpha = 2.0\n\
         channel = { type = \"relu\" }\n[[layers]]\nalpha = 2.0\nchannel = { type = \"sign\" }\n",
    );
    for path in [
        item9.clone(),
        PathBuf::from("examples/models/relu_generative.toml"),
    ] {
        let (mse, se, it) = within_twice_the_se(&path, true);
        eprintln!(
            "{}: MSE {mse:.4e}, SE {se:.4e}, {it} iterations",
            path.display()
        );
    }
    let se = se_model_file(&item9).unwrap().mse_signal_amp;
    let vamp = run(
        &item9,
        RunOptions {
            algorithm: Algorithm::Vamp,
            n: 500,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert!(vamp.converged, "ML-Mat-VAMP: {}", vamp.status());
    assert!(
        vamp.mse_signal <= 2.0 * se,
        "ML-Mat-VAMP {} vs SE {se}",
        vamp.mse_signal
    );
}

/// Item 6: ML-Mat-VAMP on the sparse regression with a heavily oversampled output (α₁ = 10,
/// 1000; noise 1e-8) reported "converged" at MSE 2.1e-5 (n = 100, α₁ = 1000; 1.2e-4 at
/// α₁ = 10) where ML-AMP reaches ~5e-12, with 11–91 raised eigenvalues. The cause: damping
/// mixed the old mean and the new mean linearly but the precision too, so an early, poor mean
/// went out with nearly the new, huge precision. Damped in natural parameters
/// (`Γ r` and `Γ`), the run matches ML-AMP. Checked at n = 20 and 100: converged, no
/// intervention, MSE within 3× of ML-AMP's on the same instance.
#[test]
fn oversampled_last_layer_reaches_the_ml_amp_fixed_point() {
    for alpha in ["10.0", "1000.0"] {
        let path = sparse_with(
            &format!("over{alpha}"),
            "alpha = 0.8",
            &format!("alpha = {alpha}"),
        );
        for n in [20, 100] {
            let at = |algorithm| {
                run(
                    &path,
                    RunOptions {
                        algorithm,
                        n,
                        ..RunOptions::default()
                    },
                )
                .unwrap()
            };
            let (vamp, amp) = (at(Algorithm::Vamp), at(Algorithm::Amp));
            assert!(vamp.converged, "alpha {alpha}, n {n}: {}", vamp.status());
            assert_eq!(vamp.interventions, Some(0), "alpha {alpha}, n {n}");
            assert!(
                vamp.mse_signal <= 3.0 * amp.mse_signal.max(1e-13),
                "alpha {alpha}, n {n}: ML-Mat-VAMP {} vs ML-AMP {}",
                vamp.mse_signal,
                amp.mse_signal
            );
        }
    }
}

/// Item 11: a run tells its caller of every iteration (the CLI draws the bar from it): one
/// tick per recorded iteration, counting up to the run's iterations, of at most its cap; the
/// state evolution one tick per start (2^L).
#[test]
fn progress_counts_the_work_that_remains() {
    use mlamp::algo::{Progress, Tick};
    use std::sync::Mutex;
    for algorithm in [Algorithm::Amp, Algorithm::Vamp] {
        let seen = Mutex::new(Vec::<Tick>::new());
        let record = |t: Tick| seen.lock().unwrap().push(t);
        let r = run(
            SPARSE.as_ref(),
            RunOptions {
                algorithm,
                n: 200,
                iters: Some(300),
                progress: Progress::to(&record),
                ..RunOptions::default()
            },
        )
        .unwrap();
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), r.iterations, "{}", algorithm.name());
        for (k, t) in seen.iter().enumerate() {
            assert_eq!((t.done, t.most), (k + 1, 300), "{}", algorithm.name());
        }
        assert!(seen.last().unwrap().change < 1e-13, "{}", algorithm.name());
    }
    let done = Mutex::new(Vec::new());
    let record = |t: Tick| done.lock().unwrap().push((t.done, t.most));
    mlamp::se::se_model_file_reporting(
        SPARSE.as_ref(),
        &SeOptions::default(),
        Progress::to(&record),
    )
    .unwrap();
    let mut done = done.into_inner().unwrap();
    done.sort();
    assert_eq!(done, vec![(1, 4), (2, 4), (3, 4), (4, 4)]);
}

/// Deep models: the fuzzer's seven-layer perceptron (six sign layers) ran 93 s of `se` with
/// all 2^7 = 128 starts and the truncations' 2 + 4 + … + 64 more for the data-processing
/// check (a ten-layer decoder, 1024 + 1022, did not finish in minutes). From five layers on
/// the SE starts from the 2L monotone combinations only: the branches' starts are exactly
/// those 14, each once, with ML-AMP's (all uninformative) and the all-informed one among
/// them. (Seven linear layers under a sparse prior here, whose averages are closed forms.)
#[test]
fn deep_models_start_from_the_monotone_combinations() {
    let mut text = String::from("[prior]\ntype = \"gauss-bernoulli\"\nrho = 0.3\n");
    for _ in 0..7 {
        text += "[[layers]]\nalpha = 1.2\nchannel = { type = \"linear\", noise_var = 1e-4 }\n";
    }
    let r = se_model_file(&model("deep-sign", &text)).unwrap();
    let mut starts: Vec<String> = r.branches.iter().flat_map(|b| b.starts.clone()).collect();
    starts.sort();
    let mut want: Vec<String> = (0..=7)
        .flat_map(|k| {
            [
                "I".repeat(k) + &"U".repeat(7 - k),
                "U".repeat(7 - k) + &"I".repeat(k),
            ]
        })
        .collect();
    want.sort();
    want.dedup();
    assert_eq!(starts, want);
}
