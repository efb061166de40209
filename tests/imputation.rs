//! Imputation / matrix completion (section 2.4, eq. 10 of Pandit, Sahraee-Ardakan, Rangan,
//! Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*) with the
//! `masked` output: ML-Mat-VAMP's estimate of the missing entries against the exact posterior
//! mean of a Gaussian network (a direct solve per column), the example's headline at a
//! smaller size against its state evolution and the baselines, and the typed errors.

use mlamp::algo::vamp::{VampOptions, run_ml_vamp};
use mlamp::core::estimator::Estimator;
use mlamp::experiments::imputation::{
    Observed, SoftImputeOptions, data_matrix, impute_by_columns, impute_ml_vamp, mean_imputation,
    mse_missing, soft_impute_cv, zero_imputation,
};
use mlamp::se::vamp::report::model_laws;
use mlamp::se::vamp::{VampSeOptions, vamp_state_evolution};
use mlamp::{AmpOptions, Instance, Model, run_ml_amp};
use nalgebra::{DMatrix, DVector};

/// Gaussian signal, a hidden layer `hidden` (alpha 2), the masked output (`alpha2`).
fn model(
    d: usize,
    hidden: &str,
    estimator: &str,
    observed: f64,
    noise_var: f64,
    alpha2: f64,
) -> Model {
    Model::from_toml(&format!(
        "d = {d}\n[prior]\ntype = \"gaussian\"\n\
         [[layers]]\nalpha = 2.0\nchannel = {{ type = \"{hidden}\", noise_var = 0.0 }}\nestimator = \"{estimator}\"\n\
         [[layers]]\nalpha = {alpha2:?}\nchannel = {{ type = \"masked\", observed = {observed:?}, noise_var = {noise_var:?} }}\n"
    ))
    .unwrap()
}

#[test]
fn gaussian_network_imputes_the_exact_posterior_mean() {
    // Y0 = W2 W1 X, X (60 × 2) iid N(0, 1), observed on 40 % of its entries with noise 0.05.
    // Column by column the posterior of x is Gaussian: with A = W2 W1 and O the rows observed
    // in that column, E[x | y] = (I + A_Oᵀ A_O/Δ)⁻¹ A_Oᵀ y_O/Δ, and the data matrix's estimate
    // is A E[x | y]. ML-Mat-VAMP's fixed point on a Gaussian network is that mean (measured:
    // 1.7e-12 on the worst missing entry after 164 iterations to a relative change of 1e-26;
    // the default tolerance 1e-13 stops at 5e-6).
    let (n, d, delta) = (60, 2, 0.05);
    let m = model(d, "linear", "mmse", 0.4, delta, 1.5);
    let inst = Instance::sample(&m, n, 5).unwrap();
    let obs = Observed::from_masked_rows(inst.observation(), d).unwrap();
    let opts = VampOptions {
        tol: 1e-26,
        max_iter: 3000,
        ..VampOptions::default()
    };
    let (z, run) = impute_ml_vamp(&m, &inst, &opts).unwrap();
    println!("{} iterations, converged {}", run.iterations, run.converged);
    let (n1, n2) = (inst.sizes[1], inst.sizes[2]);
    let w1 = DMatrix::from_row_slice(n1, n, &inst.weights[0]);
    let w2 = DMatrix::from_row_slice(n2, n1, &inst.weights[1]);
    let a = &w2 * &w1;
    let mut worst = 0.0_f64;
    for j in 0..d {
        let rows: Vec<usize> = (0..n2).filter(|&i| obs.mask[i * d + j]).collect();
        let a_o = DMatrix::from_fn(rows.len(), n, |r, c| a[(rows[r], c)]);
        let y_o = DVector::from_fn(rows.len(), |r, _| obs.values[rows[r] * d + j]);
        let lhs = DMatrix::identity(n, n) + a_o.transpose() * &a_o / delta;
        let x = lhs
            .cholesky()
            .unwrap()
            .solve(&(a_o.transpose() * y_o / delta));
        let exact = &a * x;
        for i in 0..n2 {
            if !obs.mask[i * d + j] {
                worst = worst.max((z[i * d + j] - exact[i]).abs());
            }
        }
    }
    println!("largest difference on a missing entry {worst:e}");
    assert!(
        worst < 1e-9,
        "largest difference on a missing entry {worst:e}"
    );
}

/// The mean and standard error of `v`.
fn mean_sem(v: &[f64]) -> (f64, f64) {
    let k = v.len() as f64;
    let mean = v.iter().sum::<f64>() / k;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean, (var / k).sqrt())
}

#[test]
fn relu_generative_model_against_its_state_evolution_and_the_baselines() {
    // The example's model and size (Y0 = W2 relu(W1 Z0), d = 4, noise 1e-2, n = 250, N = 1000
    // rows) at two of its fractions observed, three seeds each (the example prints one). The
    // MMSE (column by column, d = 1) on the missing entries within 5 % + 3 standard errors
    // (the seeds' and the Monte Carlo's) of the state evolution's prediction; every baseline
    // at least 10× worse (they reach about the data's variance, 0.43; the model-based error
    // is of the noise's order).
    let n = 250;
    let opts = VampOptions {
        max_iter: 300,
        ..VampOptions::default()
    };
    for observed in [0.3, 0.7] {
        let mk = |d: usize, est: &str| model(d, "relu", est, observed, 1e-2, 2.0);
        let m1 = mk(1, "mmse");
        let (mut mmse, mut best_baseline) = (Vec::new(), f64::INFINITY);
        for seed in 1..=3 {
            let inst = Instance::sample(&mk(4, "map"), n, seed).unwrap();
            let truth = data_matrix(&inst).unwrap();
            let obs = Observed::from_masked_rows(inst.observation(), 4).unwrap();
            let (z, runs) = impute_by_columns(&m1, &inst, &opts).unwrap();
            assert!(runs.iter().all(|r| r.converged));
            mmse.push(mse_missing(&z, &truth, &obs));
            let soft = soft_impute_cv(&obs, 0.2, 20, seed, &SoftImputeOptions::default()).unwrap();
            for est in [zero_imputation(&obs), mean_imputation(&obs), soft.estimate] {
                best_baseline = best_baseline.min(mse_missing(&est, &truth, &obs));
            }
        }
        let (mean, sem) = mean_sem(&mmse);
        let laws = model_laws(&m1, &m1.sizes(n).unwrap()).unwrap();
        let se = vamp_state_evolution(
            &m1,
            &laws,
            &VampSeOptions {
                samples: 20_000,
                iterations: 30,
                seed: 2,
                estimator: Some(Estimator::Mmse),
                ..VampSeOptions::default()
            },
        )
        .unwrap();
        let pred = se.iterations.last().unwrap().mse_unobserved.unwrap();
        let tol = 0.05 * pred.value + 3.0 * (sem * sem + pred.se * pred.se).sqrt();
        println!(
            "observed {observed}: MMSE on missing entries {mean:.4e} ± {sem:.1e} ({mmse:?}), \
             SE {:.4e} ± {:.1e}, best baseline {best_baseline:.4e}",
            pred.value, pred.se
        );
        assert!((mean - pred.value).abs() < tol, "tolerance {tol:.2e}");
        assert!(best_baseline > 10.0 * mean);
    }
}

#[test]
fn bad_models_and_observations_are_typed_errors() {
    let base = |d: usize, observed: &str, last: bool| {
        let masked =
            format!("channel = {{ type = \"masked\", observed = {observed}, noise_var = 0.1 }}");
        let linear = "channel = { type = \"linear\", noise_var = 0.1 }";
        let (a, b) = if last {
            (linear, masked.as_str())
        } else {
            (masked.as_str(), linear)
        };
        format!(
            "d = {d}\n[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1.0\n{a}\n[[layers]]\nalpha = 1.0\n{b}\n"
        )
    };
    // observed = 0: a mask with no observed entry; above 1.
    for observed in ["0.0", "1.5"] {
        let err = Model::from_toml(&base(2, observed, true))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("observed"), "{err}");
    }
    // Only the last layer.
    let err = Model::from_toml(&base(2, "0.5", false))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("last layer"), "{err}");
    // ML-AMP has no form for it.
    let m = Model::from_toml(&base(1, "0.5", true)).unwrap();
    let inst = Instance::sample(&m, 50, 1).unwrap();
    assert!(run_ml_amp(&m, &inst, &AmpOptions::default()).is_err());
    // A mask that happens to observe nothing (3 rows, 0.1 %): the run names `observed`.
    let m = Model::from_toml(&base(1, "0.001", true)).unwrap();
    let inst = Instance::sample(&m, 3, 1).unwrap();
    assert!(inst.observation().chunks_exact(2).all(|r| r[1] == 0.0));
    let err = run_ml_vamp(&m, &inst, &VampOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("observed"), "{err}");
    // A d = 2 observation read as d = 3, a d = 2 instance for a d = 3 model, and rows of d
    // values without their mask: each refused, naming what.
    let m2 = Model::from_toml(&base(2, "0.5", true)).unwrap();
    let mut inst = Instance::sample(&m2, 40, 1).unwrap();
    let err = Observed::from_masked_rows(inst.observation(), 3).unwrap_err();
    assert!(err.to_string().contains("observation"), "{err}");
    let m3 = Model::from_toml(&base(3, "0.5", true)).unwrap();
    let err = run_ml_vamp(&m3, &inst, &VampOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("instance.d") && err.contains("model's d"),
        "{err}"
    );
    let last = inst.layers.len() - 1;
    let y: Vec<f64> = inst.layers[last]
        .chunks_exact(4)
        .flat_map(|r| [r[0], r[1]])
        .collect();
    inst.layers[last] = y;
    let err = run_ml_vamp(&m2, &inst, &VampOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("instance.layers[2]"), "{err}");
    // A mask entry that is neither 0 nor 1.
    let mut inst = Instance::sample(&m2, 40, 1).unwrap();
    inst.layers[last][2] = 0.5;
    let err = run_ml_vamp(&m2, &inst, &VampOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("mask"), "{err}");
}

#[test]
fn a_mask_file_equal_to_the_seeded_mask_gives_the_same_bits() {
    // imputation.toml's network (d = 4, observed 0.5), n = 50: the mask the seed draws, saved
    // as .npy and as .csv next to a copy of the model with `mask = "FILE"` (a path relative
    // to the model file) in place of `observed`, gives the same instance, bit for bit; a
    // different mask file observes exactly its own entries.
    let dir = std::env::temp_dir().join(format!("mlamp-mask-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string("examples/models/imputation.toml").unwrap();
    let seeded = Model::from_toml(&text).unwrap();
    let (n, d, seed) = (50, 4, 3);
    let inst = Instance::sample(&seeded, n, seed).unwrap();
    let y = inst.observation();
    let mask: Vec<f64> = y
        .chunks_exact(2 * d)
        .flat_map(|r| r[d..].to_vec())
        .collect();
    let rows = mask.len() / d;
    assert_eq!(rows, 200);
    let seen = mask.iter().filter(|&&m| m == 1.0).count();
    assert!(seen > 0 && seen < mask.len());
    mlamp::arrays::write_npy(&dir.join("mask.npy"), &[rows, d], &mask).unwrap();
    let csv: String = mask
        .chunks_exact(d)
        .map(|r| {
            r.iter()
                .map(|v| format!("{v}"))
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    std::fs::write(dir.join("mask.csv"), csv).unwrap();
    let with_file = |file: &str| {
        let path = dir.join(format!("model-{file}.toml"));
        std::fs::write(
            &path,
            text.replace("observed = 0.5", &format!("mask = \"{file}\"")),
        )
        .unwrap();
        Model::from_file(&path)
    };
    for file in ["mask.npy", "mask.csv"] {
        let model = with_file(file).unwrap();
        let again = Instance::sample(&model, n, seed).unwrap();
        for (a, b) in inst.layers.iter().zip(&again.layers) {
            assert!(
                a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits()),
                "{file}"
            );
        }
        // The state evolution's masks: iid at the file's fraction.
        let form = model.layers[1]
            .channel
            .row_form(Estimator::Mmse, d)
            .unwrap();
        match form {
            mlamp::core::channel::RowChannelForm::Masked { observed, .. } => {
                assert_eq!(observed, seen as f64 / mask.len() as f64)
            }
            _ => panic!("not masked"),
        }
    }
    // Another mask: the first column observed everywhere, nothing else.
    let own: Vec<f64> = (0..rows * d).map(|i| f64::from(i % d == 0)).collect();
    mlamp::arrays::write_npy(&dir.join("own.npy"), &[rows, d], &own).unwrap();
    let other = Instance::sample(&with_file("own.npy").unwrap(), n, seed).unwrap();
    for (r, (a, b)) in other
        .observation()
        .chunks_exact(2 * d)
        .zip(y.chunks_exact(2 * d))
        .enumerate()
    {
        assert_eq!(&a[d..], &own[r * d..(r + 1) * d]);
        // The first column's value is the pre-activation plus the same noise draw: where
        // the seed's mask observed it too, the same number.
        if b[d] == 1.0 {
            assert_eq!(a[0].to_bits(), b[0].to_bits());
        }
        assert!(a[1..d].iter().all(|&v| v == 0.0));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_mask_files_are_typed_errors_naming_the_file_or_the_field() {
    let dir = std::env::temp_dir().join(format!("mlamp-badmask-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string("examples/models/imputation.toml").unwrap();
    let d = 4;
    let load = |channel: &str| {
        let path = dir.join("model.toml");
        std::fs::write(
            &path,
            text.replace("observed = 0.5, noise_var = 1e-2", channel),
        )
        .unwrap();
        Model::from_file(&path)
    };
    let write = |name: &str, rows: usize, cols: usize, f: &dyn Fn(usize) -> f64| {
        let v: Vec<f64> = (0..rows * cols).map(f).collect();
        mlamp::arrays::write_npy(&dir.join(name), &[rows, cols], &v).unwrap();
    };
    write("good.npy", 200, d, &|i| f64::from(i % 3 == 0));
    write("cols.npy", 200, 3, &|_| 1.0);
    write("half.npy", 200, d, &|i| if i == 9 { 0.5 } else { 1.0 });
    write("none.npy", 200, d, &|_| 0.0);
    let err = |channel: &str| load(channel).err().expect("accepted").to_string();
    // Exactly one of observed and mask.
    for channel in [
        "observed = 0.5, mask = \"good.npy\", noise_var = 1e-2",
        "noise_var = 1e-2",
    ] {
        let e = err(channel);
        assert!(
            e.contains("layers[1].channel.observed") && e.contains("exactly one"),
            "{e}"
        );
    }
    // The file: missing, wrong columns, an entry 0.5, no observed entry.
    for (file, what) in [
        ("missing.npy", "missing.npy"),
        ("cols.npy", "200×3"),
        ("half.npy", "entry [2, 1]"),
        ("none.npy", "observes no entry"),
    ] {
        let e = err(&format!("mask = \"{file}\", noise_var = 1e-2"));
        let path = dir.join(file).display().to_string();
        assert!(e.contains(&path) && e.contains(what), "{file}: {e}");
    }
    // The right columns but not the output's rows: at sampling, naming the file.
    let model = load("mask = \"good.npy\", noise_var = 1e-2").unwrap();
    assert!(Instance::sample(&model, 50, 0).is_ok());
    let e = Instance::sample(&model, 60, 0).unwrap_err().to_string();
    assert!(
        e.contains("good.npy") && e.contains("200 rows") && e.contains("240"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
