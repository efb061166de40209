//! The priors of `mlamp_core::prior` against independent references: a brute-force integral of
//! the tilted measure `P_X(x) e^{−A x²/2 + B x}` (explicit sums over atoms, a fine Simpson rule
//! over Gaussian parts), finite differences of `log Z` in B, closed-form moments, the f64
//! evaluation for f32, and the constructors' parameter checks.

mod common;

use mlamp_core::Real;
use mlamp_core::prior::{Binary, Discrete, GaussBernoulli, Gaussian, Posterior, Prior};
use mlamp_core::quadrature::GaussHermite;
use proptest::prelude::*;

/// The parameters of one of the shipped priors.
#[derive(Clone, Copy, Debug)]
enum Spec {
    Gaussian { mean: f64, var: f64 },
    GaussBernoulli { rho: f64, mean: f64, var: f64 },
    Binary { bias: f64 },
    Discrete { atoms: [f64; 3], probs: [f64; 3] },
}

/// Runs `f` on the prior of `spec`, built in precision `T`.
fn with_prior<T: Real, R>(spec: Spec, f: impl FnOnce(&dyn Prior<T>) -> R) -> R {
    let c = T::c;
    match spec {
        Spec::Gaussian { mean, var } => f(&Gaussian::new(c(mean), c(var)).unwrap()),
        Spec::GaussBernoulli { rho, mean, var } => {
            f(&GaussBernoulli::new(c(rho), c(mean), c(var)).unwrap())
        }
        Spec::Binary { bias } => f(&Binary::new(c(bias)).unwrap()),
        Spec::Discrete { atoms, probs } => f(&Discrete::new(atoms.map(c), probs.map(c)).unwrap()),
    }
}

/// The posterior in precision `T`, widened to f64.
fn posterior<T: Real>(spec: Spec, a: f64, b: f64) -> Posterior<f64> {
    let p = with_prior::<T, _>(spec, |p| p.posterior(T::c(a), T::c(b)));
    Posterior {
        mean: p.mean.to_f64(),
        var: p.var.to_f64(),
        log_z: p.log_z.to_f64(),
    }
}

/// P(x = +1) = e^{b₀}/(2 cosh b₀) under the binary prior, written without cancellation.
fn binary_p_plus(bias: f64) -> f64 {
    1.0 / (1.0 + (-2.0 * bias).exp())
}

/// Point masses `(weight, location)`.
type Atoms = Vec<(f64, f64)>;
/// Gaussian parts `(weight, mean, var)`.
type Slabs = Vec<(f64, f64, f64)>;

/// The prior as point masses and Gaussian parts, straight from the definitions in the docs
/// (not from `components()`).
fn pieces(spec: Spec) -> (Atoms, Slabs) {
    match spec {
        Spec::Gaussian { mean, var } => (vec![], vec![(1.0, mean, var)]),
        Spec::GaussBernoulli { rho, mean, var } => (vec![(1.0 - rho, 0.0)], vec![(rho, mean, var)]),
        Spec::Binary { bias } => (
            vec![(binary_p_plus(bias), 1.0), (binary_p_plus(-bias), -1.0)],
            vec![],
        ),
        Spec::Discrete { atoms, probs } => (probs.into_iter().zip(atoms).collect(), vec![]),
    }
}

use common::simpson;

/// Brute-force `(log Z, mean, var)` of the tilted measure `P_X(x) e^{−A x²/2 + B x}`.
///
/// Each piece k gives a log-mass `ℓ_k` and the mean and variance of x within it: atoms
/// exactly; Gaussian parts by Simpson's rule over ±15 widths around the maximum of the
/// integrand's log `−(x−μ)²/(2v) − A x²/2 + B x` (at `x* = (μ/v + B)/(1/v + A)`, width
/// `(1/v + A)^{−1/2}`), with the integrand scaled by its value there.
fn brute_force(spec: Spec, a: f64, b: f64) -> (f64, f64, f64) {
    let (atoms, slabs) = pieces(spec);
    // (log mass, mean, variance) of each piece.
    let mut parts: Vec<(f64, f64, f64)> = atoms
        .iter()
        .map(|&(p, x)| (p.ln() - 0.5 * a * x * x + b * x, x, 0.0))
        .collect();
    for &(p, mu, v) in &slabs {
        let log_f = |x: f64| {
            -(x - mu).powi(2) / (2.0 * v)
                - 0.5 * (2.0 * std::f64::consts::PI * v).ln()
                - 0.5 * a * x * x
                + b * x
        };
        let c = (mu / v + b) / (1.0 / v + a);
        let w = (1.0 / v + a).powf(-0.5);
        let top = log_f(c);
        let (lo, hi, n) = (c - 15.0 * w, c + 15.0 * w, 6000);
        let j0 = simpson(lo, hi, n, |x| (log_f(x) - top).exp());
        let j1 = simpson(lo, hi, n, |x| (x - c) * (log_f(x) - top).exp());
        let j2 = simpson(lo, hi, n, |x| (x - c).powi(2) * (log_f(x) - top).exp());
        let (m, s2) = (j1 / j0, j2 / j0);
        parts.push((p.ln() + top + j0.ln(), c + m, s2 - m * m));
    }
    let top = parts.iter().map(|q| q.0).fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = parts.iter().map(|q| (q.0 - top).exp()).sum();
    let mean: f64 = parts.iter().map(|q| (q.0 - top).exp() * q.1).sum::<f64>() / total;
    let var: f64 = parts
        .iter()
        .map(|q| (q.0 - top).exp() * (q.2 + (q.1 - mean).powi(2)))
        .sum::<f64>()
        / total;
    (top + total.ln(), mean, var)
}

/// Closed forms of E x^k (k = 1, 2, 4) and E cos x under the prior.
fn closed_moments(spec: Spec) -> [f64; 4] {
    let gauss = |mu: f64, v: f64| {
        [
            mu,
            mu * mu + v,
            mu.powi(4) + 6.0 * mu * mu * v + 3.0 * v * v,
            mu.cos() * (-v / 2.0).exp(),
        ]
    };
    match spec {
        Spec::Gaussian { mean, var } => gauss(mean, var),
        Spec::GaussBernoulli { rho, mean, var } => {
            let g = gauss(mean, var);
            [rho * g[0], rho * g[1], rho * g[2], 1.0 - rho + rho * g[3]]
        }
        Spec::Binary { bias } => [bias.tanh(), 1.0, 1.0, 1f64.cos()],
        Spec::Discrete { atoms, probs } => {
            let m = |f: fn(f64) -> f64| probs.iter().zip(atoms).map(|(p, x)| p * f(x)).sum();
            [m(|x| x), m(|x| x * x), m(|x| x.powi(4)), m(f64::cos)]
        }
    }
}

/// `|got − want| ≤ tol · max(1, |want|)`.
fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want.abs().max(1.0)
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (-3.0..3.0f64, 0.1..5.0f64).prop_map(|(mean, var)| Spec::Gaussian { mean, var }),
        (0.01..=1.0f64, -3.0..3.0f64, 0.1..5.0f64)
            .prop_map(|(rho, mean, var)| Spec::GaussBernoulli { rho, mean, var }),
        Just(Spec::GaussBernoulli {
            rho: 1.0,
            mean: 0.0,
            var: 1.0
        }),
        (-3.0..3.0f64).prop_map(|bias| Spec::Binary { bias }),
        Just(Spec::Binary { bias: 0.0 }),
        (
            prop::array::uniform3(-2.0..2.0f64),
            prop::array::uniform3(0.05..1.0f64)
        )
            .prop_map(|(atoms, raw)| {
                let s: f64 = raw.iter().sum();
                Spec::Discrete {
                    atoms,
                    probs: raw.map(|r| r / s),
                }
            }),
    ]
}

/// A ∈ [0, 1e6] with its small and extreme values.
fn extreme_a() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(1e6),
        0.0..1e-6,
        0.0..1.0,
        0.0..100.0,
        0.0..=1e6,
    ]
}

/// B ∈ [−1e4, 1e4] with its small and extreme values.
fn extreme_b() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-1e4),
        Just(1e4),
        -1e-6..1e-6,
        -1.0..1.0,
        -100.0..100.0,
        -1e4..=1e4,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn outputs_are_finite_with_nonnegative_variance(
        spec in spec_strategy(), a in extreme_a(), b in extreme_b()
    ) {
        for p in [posterior::<f64>(spec, a, b), posterior::<f32>(spec, a, b)] {
            prop_assert!(p.mean.is_finite() && p.var.is_finite() && p.log_z.is_finite(),
                "{spec:?} A={a} B={b}: {p:?}");
            prop_assert!(p.var >= 0.0, "{spec:?} A={a} B={b}: {p:?}");
        }
    }

    #[test]
    fn mean_and_var_are_derivatives_of_log_z(
        spec in spec_strategy(), a in 0.0..5.0f64, b in -5.0..5.0f64
    ) {
        // Five-point stencils: truncation O(h⁴), round-off ~ ε |log Z| / h (resp. / h²).
        let lz = |db: f64| posterior::<f64>(spec, a, b + db).log_z;
        let h1 = 1e-3;
        let d1 = (lz(-2.0 * h1) - 8.0 * lz(-h1) + 8.0 * lz(h1) - lz(2.0 * h1)) / (12.0 * h1);
        let h2 = 5e-3;
        let d2 = (-lz(-2.0 * h2) + 16.0 * lz(-h2) - 30.0 * lz(0.0) + 16.0 * lz(h2)
            - lz(2.0 * h2)) / (12.0 * h2 * h2);
        let p = posterior::<f64>(spec, a, b);
        prop_assert!(close(p.mean, d1, 1e-8), "{spec:?} A={a} B={b}: mean {} vs FD {d1}", p.mean);
        prop_assert!(close(p.var, d2, 1e-6), "{spec:?} A={a} B={b}: var {} vs FD {d2}", p.var);
    }

    #[test]
    fn posterior_matches_brute_force_integral(
        spec in spec_strategy(), a in 0.0..5.0f64, b in -5.0..5.0f64
    ) {
        let (log_z, mean, var) = brute_force(spec, a, b);
        let p = posterior::<f64>(spec, a, b);
        // log Z to 1e-9 absolute is Z to 1e-9 relative.
        prop_assert!((p.log_z - log_z).abs() <= 1e-9 * log_z.abs().max(1.0),
            "{spec:?} A={a} B={b}: log Z {} vs {log_z}", p.log_z);
        prop_assert!(close(p.mean, mean, 1e-9),
            "{spec:?} A={a} B={b}: mean {} vs {mean}", p.mean);
        prop_assert!(close(p.var, var, 1e-9), "{spec:?} A={a} B={b}: var {} vs {var}", p.var);
    }

    #[test]
    fn f32_agrees_with_f64(spec in spec_strategy(), a in 0.0..5.0f64, b in -5.0..5.0f64) {
        // Same (f32-representable) inputs in both precisions.
        let (a, b) = ((a as f32) as f64, (b as f32) as f64);
        let spec = match spec {
            Spec::Gaussian { mean, var } => Spec::Gaussian {
                mean: mean as f32 as f64,
                var: var as f32 as f64,
            },
            Spec::GaussBernoulli { rho, mean, var } => Spec::GaussBernoulli {
                rho: rho as f32 as f64,
                mean: mean as f32 as f64,
                var: var as f32 as f64,
            },
            Spec::Binary { bias } => Spec::Binary { bias: bias as f32 as f64 },
            Spec::Discrete { atoms, probs } => Spec::Discrete {
                atoms: atoms.map(|x| x as f32 as f64),
                probs: probs.map(|x| x as f32 as f64),
            },
        };
        let p64 = posterior::<f64>(spec, a, b);
        let p32 = posterior::<f32>(spec, a, b);
        for (name, x32, x64) in [
            ("mean", p32.mean, p64.mean),
            ("var", p32.var, p64.var),
            ("log_z", p32.log_z, p64.log_z),
        ] {
            prop_assert!(close(x32, x64, 1e-4),
                "{spec:?} A={a} B={b}: {name} f32 {x32} vs f64 {x64}");
        }
    }

    #[test]
    fn moments_and_expectations_match_closed_forms(spec in spec_strategy()) {
        let gh = GaussHermite::<f64, 40>::new();
        let want = closed_moments(spec);
        let (mean, m2, expect) = with_prior::<f64, _>(spec, |p| {
            let e = |f: &mut dyn FnMut(f64) -> f64| p.expect(gh.rule(), f);
            (
                p.mean(),
                p.second_moment(),
                [e(&mut |x| x), e(&mut |x| x * x), e(&mut |x| x.powi(4)), e(&mut f64::cos)],
            )
        });
        prop_assert!(close(mean, want[0], 1e-13), "{spec:?}: mean() {mean} vs {}", want[0]);
        prop_assert!(close(m2, want[1], 1e-13), "{spec:?}: second_moment() {m2} vs {}", want[1]);
        for (k, (&got, &w)) in expect.iter().zip(&want).enumerate() {
            prop_assert!(close(got, w, 1e-12), "{spec:?}: expect #{k} {got} vs {w}");
        }
        // Total mass.
        let one = with_prior::<f64, _>(spec, |p| p.expect(gh.rule(), &mut |_| 1.0));
        prop_assert!((one - 1.0).abs() <= 1e-14, "{spec:?}: total mass {one}");
    }
}

#[test]
fn gauss_bernoulli_with_rho_one_is_the_gaussian() {
    // P_X = N(μ, v): log Z = −½ ln(1 + A v) + (2μB + B²v − Aμ²)/(2(1 + A v)) (completing the
    // square), mean (μ + B v)/(1 + A v), var v/(1 + A v).
    let (mu, v) = (0.7, 1.9);
    let gb = GaussBernoulli::new(1.0, mu, v).unwrap();
    let g = Gaussian::new(mu, v).unwrap();
    for &(a, b) in &[(0.0, 0.0), (0.3, -2.0), (4.0, 3.5), (1e6, 1e4)] {
        let d: f64 = 1.0 + a * v;
        let want = Posterior {
            mean: (mu + b * v) / d,
            var: v / d,
            log_z: -0.5 * d.ln() + (2.0 * mu * b + b * b * v - a * mu * mu) / (2.0 * d),
        };
        for p in [gb.posterior(a, b), g.posterior(a, b)] {
            assert!(close(p.mean, want.mean, 1e-14), "{p:?} vs {want:?}");
            assert!(close(p.var, want.var, 1e-14), "{p:?} vs {want:?}");
            assert!(close(p.log_z, want.log_z, 1e-14), "{p:?} vs {want:?}");
        }
    }
}

#[test]
fn binary_weights_are_accurate_for_strong_biases() {
    // P(x = +1) = e^{b₀}/(2 cosh b₀) = 1/(1 + e^{−2b₀}): relative accuracy for the rare sign
    // too (E 1{x = +1} through `expect`, whose point masses are exact).
    let gh = GaussHermite::<f64, 4>::new();
    for &bias in &[-15.0, -8.0, -2.5, 0.0, 1.0, 7.0, 15.0] {
        let prior = Binary::new(bias).unwrap();
        for (sign, want) in [(1.0, binary_p_plus(bias)), (-1.0, binary_p_plus(-bias))] {
            let got = prior.expect(gh.rule(), &mut |x| if x == sign { 1.0 } else { 0.0 });
            assert!(
                (got - want).abs() <= 1e-13 * want,
                "bias {bias}: P(x = {sign}) = {got}, want {want}"
            );
        }
    }
}

/// Draws `sample(u, xi)` on the uniform grid `u_i = (i + ½)/n` and returns them.
fn draws(prior: &dyn Prior<f64>, n: usize, xi: f64) -> Vec<f64> {
    (0..n)
        .map(|i| prior.sample((i as f64 + 0.5) / n as f64, xi))
        .collect()
}

#[test]
fn sampling_frequencies_match_the_weights() {
    let n = 10_000;
    let tol = 1.0 / n as f64;
    let freq = |d: &[f64], x: f64| d.iter().filter(|&&y| y == x).count() as f64 / d.len() as f64;

    // Gaussian: always μ + √v ξ.
    let g = Gaussian::new(0.5, 4.0).unwrap();
    for &xi in &[-2.0, 0.0, 1.3] {
        assert!(draws(&g, 100, xi).iter().all(|&y| y == 0.5 + 2.0 * xi));
    }

    // Gauss–Bernoulli, ρ = 0.3: the spike at 0 with frequency 0.7, else μ + √v ξ.
    let gb = GaussBernoulli::new(0.3, 0.5, 4.0).unwrap();
    let d = draws(&gb, n, 1.5);
    assert!(
        (freq(&d, 0.0) - 0.7).abs() <= tol,
        "spike {}",
        freq(&d, 0.0)
    );
    assert!((freq(&d, 3.5) - 0.3).abs() <= tol, "slab {}", freq(&d, 3.5));
    // ρ = 1: never the spike.
    let gb1 = GaussBernoulli::new(1.0, 0.5, 4.0).unwrap();
    assert!(draws(&gb1, n, 1.5).iter().all(|&y| y == 3.5));

    // Binary: P(+1) = (1 + tanh b₀)/2, ξ ignored.
    for &bias in &[0.0, 0.8, -1.7] {
        let d = draws(&Binary::new(bias).unwrap(), n, 0.9);
        let p = binary_p_plus(bias);
        assert!(
            (freq(&d, 1.0) - p).abs() <= tol,
            "bias {bias}: {}",
            freq(&d, 1.0)
        );
        assert!((freq(&d, -1.0) - (1.0 - p)).abs() <= tol);
    }

    // Discrete: the atom whose cumulative probability first exceeds u, in the given order.
    let atoms = [-1.0, 0.25, 3.0];
    let probs = [0.2, 0.5, 0.3];
    let disc = Discrete::new(atoms, probs).unwrap();
    let d = draws(&disc, n, -0.4);
    for (a, p) in atoms.iter().zip(probs) {
        assert!(
            (freq(&d, *a) - p).abs() <= tol,
            "atom {a}: {}",
            freq(&d, *a)
        );
    }
    for &(u, want) in &[
        (0.0, -1.0),
        (0.199, -1.0),
        (0.201, 0.25),
        (0.699, 0.25),
        (0.701, 3.0),
        (0.999_999, 3.0),
    ] {
        assert_eq!(disc.sample(u, 2.0), want, "u = {u}");
    }
}

#[test]
fn constructors_reject_bad_parameters() {
    use mlamp_core::Error;
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    let invalid = |r: Result<(), Error>, name: &str| matches!(r, Err(Error::InvalidParameter { name: n, .. }) if n == name);

    for rho in [0.0, -0.1, 1.0 + 1e-12, 2.0, nan, inf, -inf] {
        let r = GaussBernoulli::new(rho, 0.0, 1.0).map(|_| ());
        assert!(invalid(r, "rho"), "rho = {rho}: {r:?}");
    }
    for var in [0.0, -1.0, nan, inf] {
        let r = GaussBernoulli::new(0.5, 0.0, var).map(|_| ());
        assert!(invalid(r, "var"), "GB var = {var}: {r:?}");
        let r = Gaussian::new(0.0, var).map(|_| ());
        assert!(invalid(r, "var"), "Gaussian var = {var}: {r:?}");
    }
    for mean in [nan, inf, -inf] {
        assert!(invalid(Gaussian::new(mean, 1.0).map(|_| ()), "mean"));
        assert!(invalid(
            GaussBernoulli::new(0.5, mean, 1.0).map(|_| ()),
            "mean"
        ));
    }
    for bias in [nan, inf, -inf] {
        assert!(invalid(Binary::new(bias).map(|_| ()), "bias"));
    }
    // Valid edge cases.
    assert!(GaussBernoulli::new(1.0, 0.0, 1.0).is_ok());
    // The edges of the representable ranges (core::error::scale_range, the bias's ±30) are
    // valid; beyond them (a variance of 1e-300, a bias of −700: a constant signal) not.
    assert!(GaussBernoulli::new(1e-300, 0.0, 1e-30).is_ok());
    assert!(invalid(
        GaussBernoulli::new(0.5, 0.0, 1e-300).map(|_| ()),
        "var"
    ));
    assert!(Binary::new(-30.0).is_ok());
    assert!(invalid(Binary::new(-700.0).map(|_| ()), "bias"));

    let atoms = [-1.0, 0.0, 1.0];
    for probs in [
        [0.2, 0.2, 0.2],
        [0.5, 0.5, 0.5],
        [0.5, 0.5 + 2e-6, 0.0 + 1e-300],
        [0.5, 0.6, -0.1],
        [0.5, 0.5, 0.0],
        [nan, 0.5, 0.5],
        [inf, 0.5, 0.5],
    ] {
        let r = Discrete::new(atoms, probs).map(|_| ());
        assert!(invalid(r, "probs"), "probs {probs:?}: {r:?}");
    }
    for bad in [nan, inf] {
        let r = Discrete::new([bad, 0.0, 1.0], [0.2, 0.3, 0.5]).map(|_| ());
        assert_eq!(r, Err(Error::NonFinite { what: "atoms" }));
    }
    assert_eq!(
        Discrete::<f64, 0>::new([], []).map(|_| ()),
        Err(Error::EmptyModel)
    );
    // Within the 1e-6 slack: accepted and renormalised.
    let d = Discrete::new(atoms, [0.2, 0.3, 0.5 + 5e-7]).unwrap();
    let gh = GaussHermite::<f64, 2>::new();
    assert!((d.expect(gh.rule(), &mut |_| 1.0) - 1.0).abs() <= 1e-15);
    assert!((d.mean() - (0.3 + 5e-7) / (1.0 + 5e-7)).abs() <= 1e-15);
}
