//! The sparsity-promoting priors — the scalar Laplace prior (`mlamp_core::prior::Laplace`),
//! its row estimator `LaplaceRow` and the group-L1 row estimator `GroupL1`
//! (`mlamp_core::mat`) — against independent references written here:
//!
//! - the Laplace MMSE against a brute-force Simpson integral of the tilted density
//!   `(λ/2) e^{−λ|x|} e^{−A x²/2 + B x}` on each half-line (tails included: `A` from 1e-8 to
//!   1e8, `|B|` up to 1e8), and against finite differences of its own `log Z`;
//! - the soft threshold against its closed form and a brute-force grid minimisation;
//! - the law's moments, sampling by the inverse CDF, and the default state evolution against
//!   a brute-force double integral;
//! - the row estimators' modes against a proximal-gradient (ISTA) solver and a grid written
//!   here, the KKT conditions, the closed-form block soft threshold for `Γ = γ I`, and every
//!   Jacobian against central finite differences (proptest over `r`, `Γ`, `λ`, `d = 1..4`);
//! - extreme inputs finite, and f32 against f64.

mod common;

use common::simpson;
use mlamp_core::prior::{Laplace, Posterior, Prior};
use mlamp_core::quadrature::GaussHermite;
use mlamp_core::se::SeQuadrature;
use mlamp_core::{Error, Real};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Scalar Laplace prior
// ---------------------------------------------------------------------------------------------

/// Brute-force `(log mass, mean, var)` of `e^{−A x²/2 − κ x}` on `x > 0`, by Simpson's rule
/// over the range where the log-integrand is within 60 of its maximum, the integrand scaled by
/// its maximum and the moments centred on the maximiser.
fn half_line_brute(kappa: f64, a: f64) -> (f64, f64, f64) {
    let xc = if a > 0.0 {
        -kappa / a
    } else {
        f64::NEG_INFINITY
    };
    // The log-integrand relative to its maximum, written without cancellation: about the
    // interior maximiser `xc` it is exactly −A (x − xc)²/2.
    // In z = x − peak (so that a far peak costs no resolution).
    let (lo, hi, peak, top): (f64, f64, f64, f64) = if xc > 0.0 {
        let w = (120.0 / a).sqrt();
        ((-w).max(-xc), w, xc, 0.5 * kappa * kappa / a)
    } else {
        // Peak at 0; f(x) ≥ −60 ⇔ x ≤ 120/(κ + √(κ² + 120 A)).
        (
            0.0,
            120.0 / (kappa + (kappa * kappa + 120.0 * a).sqrt()),
            0.0,
            0.0,
        )
    };
    let rel = |z: f64| {
        if xc > 0.0 {
            -0.5 * a * z * z
        } else {
            -0.5 * a * z * z - kappa * z
        }
    };
    let n = 40_000;
    let j0 = simpson(lo, hi, n, |z| rel(z).exp());
    let j1 = simpson(lo, hi, n, |z| z * rel(z).exp());
    let j2 = simpson(lo, hi, n, |z| z * z * rel(z).exp());
    let m = j1 / j0;
    (top + j0.ln(), peak + m, j2 / j0 - m * m)
}

/// Brute-force posterior of the Laplace prior: the two half-lines of the tilted density.
fn laplace_brute(lambda: f64, a: f64, b: f64) -> Posterior<f64> {
    let (lp, mp, vp) = half_line_brute(lambda - b, a);
    let (ln, mn, vn) = half_line_brute(lambda + b, a);
    let (mn, top) = (-mn, lp.max(ln));
    let (wp, wn) = ((lp - top).exp(), (ln - top).exp());
    let s = wp + wn;
    let (wp, wn) = (wp / s, wn / s);
    let mean = wp * mp + wn * mn;
    let var = wp * (vp + (mp - mean).powi(2)) + wn * (vn + (mn - mean).powi(2));
    Posterior {
        mean,
        var,
        log_z: (0.5 * lambda).ln() + top + s.ln(),
    }
}

/// The Laplace posterior in precision `T`, widened.
fn laplace_post<T: Real>(lambda: f64, a: f64, b: f64) -> Posterior<f64> {
    let p = Laplace::new(T::c(lambda))
        .unwrap()
        .posterior(T::c(a), T::c(b));
    Posterior {
        mean: p.mean.to_f64(),
        var: p.var.to_f64(),
        log_z: p.log_z.to_f64(),
    }
}

/// Grid of (A, B/λ-ish) test points: A over 16 decades, B across the threshold and far out.
fn grid() -> Vec<(f64, f64, f64)> {
    let mut pts = vec![];
    for &lambda in &[0.3, 1.0, 5.0] {
        for &a in &[0.0, 1e-8, 1e-5, 1e-2, 0.3, 1.0, 7.0, 1e2, 1e4, 1e6, 1e8] {
            for &b in &[
                0.0, 0.1, 0.5, 0.9, 0.999, 1.0, 1.001, 1.1, 2.0, 5.0, 30.0, 1e3, 1e5, 1e8,
            ] {
                for s in [1.0, -1.0] {
                    let b = s * b * lambda;
                    if a == 0.0 && b.abs() >= lambda {
                        continue;
                    }
                    pts.push((lambda, a, b));
                }
            }
        }
    }
    pts
}

#[test]
fn laplace_mmse_matches_brute_force_integration() {
    let (mut e_log, mut e_mean, mut e_var) = (0.0f64, 0.0f64, 0.0f64);
    for (lambda, a, b) in grid() {
        let got = laplace_post::<f64>(lambda, a, b);
        let want = laplace_brute(lambda, a, b);
        let sd = want.var.sqrt();
        let d_log = (got.log_z - want.log_z).abs() / want.log_z.abs().max(1.0);
        let d_mean = (got.mean - want.mean).abs() / (want.mean.abs() + sd);
        let d_var = (got.var - want.var).abs() / want.var;
        assert!(
            d_log < 1e-12 && d_mean < 1e-12 && d_var < 1e-11,
            "λ = {lambda}, A = {a}, B = {b}: {got:?} vs {want:?} ({d_log:e}, {d_mean:e}, {d_var:e})"
        );
        assert!(got.var >= 0.0);
        e_log = e_log.max(d_log);
        e_mean = e_mean.max(d_mean);
        e_var = e_var.max(d_var);
    }
    println!("max rel. errors vs brute force: log Z {e_log:e}, mean {e_mean:e}, var {e_var:e}");
}

#[test]
fn laplace_mean_and_var_are_derivatives_of_log_z() {
    // Central differences of log Z in B (step relative to the posterior's width).
    let mut worst = (0.0f64, 0.0f64);
    for (lambda, a, b) in grid() {
        let p = laplace_post::<f64>(lambda, a, b);
        if p.log_z.abs() > 1e6 {
            continue; // log Z's rounding would swamp the differences
        }
        // B is conjugate to x: log Z varies on the scale 1/sd in B.
        let h = 1e-3 / p.var.sqrt();
        let lz = |bb: f64| laplace_post::<f64>(lambda, a, bb).log_z;
        let mean = |bb: f64| laplace_post::<f64>(lambda, a, bb).mean;
        let fd_mean = (lz(b + h) - lz(b - h)) / (2.0 * h);
        let fd_var = (mean(b + h) - mean(b - h)) / (2.0 * h);
        // Truncation ~(h/sd)² = 1e-6, plus the rounding of the differenced values.
        let round_m = 1e-14 * (1.0 + p.log_z.abs()) / h;
        let round_v = 1e-14 * (p.mean.abs() + p.var.sqrt()) / h;
        let dm = (fd_mean - p.mean).abs() / (p.mean.abs() + p.var.sqrt() + round_m);
        let dv = (fd_var - p.var).abs() / (p.var + round_v);
        assert!(
            dm < 1e-5,
            "λ = {lambda}, A = {a}, B = {b}: mean {} vs {fd_mean}",
            p.mean
        );
        assert!(
            dv < 1e-5,
            "λ = {lambda}, A = {a}, B = {b}: var {} vs {fd_var}",
            p.var
        );
        worst = (worst.0.max(dm), worst.1.max(dv));
    }
    println!("finite differences: mean {:e}, var {:e}", worst.0, worst.1);
}

#[test]
fn laplace_extreme_inputs_stay_finite() {
    for &lambda in &[1e-6, 1e-2, 1.0, 1e3, 1e6] {
        for &a in &[1e-8, 1e-4, 1.0, 1e4, 1e8] {
            for &b in &[0.0, 1e-10, 1.0, 1e2, 1e5, 1e8] {
                for s in [1.0, -1.0] {
                    let p = laplace_post::<f64>(lambda, a, s * b);
                    assert!(
                        p.mean.is_finite() && p.var.is_finite() && p.log_z.is_finite(),
                        "f64 λ = {lambda}, A = {a}, B = {}: {p:?}",
                        s * b
                    );
                    assert!(p.var >= 0.0 && p.mean * s >= 0.0);
                    let q = laplace_post::<f32>(lambda, a, s * b);
                    assert!(
                        q.mean.is_finite() && q.var.is_finite() && q.log_z.is_finite(),
                        "f32 λ = {lambda}, A = {a}, B = {}: {q:?}",
                        s * b
                    );
                    assert!(q.var >= 0.0);
                    let m = Laplace::new(lambda).unwrap().map(a, s * b).unwrap();
                    assert!(m.mean.is_finite() && m.var.is_finite() && m.log_z.is_finite());
                }
            }
        }
    }
}

#[test]
fn laplace_f32_agrees_with_f64() {
    let mut worst = 0.0f64;
    for &lambda in &[0.3, 1.0, 5.0] {
        for &a in &[1e-3, 0.1, 1.0, 10.0, 1e3] {
            for &b in &[0.0, 0.2, 0.9, 1.3, 4.0, 50.0] {
                for s in [1.0, -1.0] {
                    let b = s * b * lambda;
                    let p = laplace_post::<f64>(lambda, a, b);
                    let q = laplace_post::<f32>(lambda, a, b);
                    let sd = p.var.sqrt();
                    let d = [
                        (q.mean - p.mean).abs() / (p.mean.abs() + sd),
                        (q.var - p.var).abs() / p.var,
                        (q.log_z - p.log_z).abs() / p.log_z.abs().max(1.0),
                    ];
                    for e in d {
                        assert!(e < 1e-4, "λ = {lambda}, A = {a}, B = {b}: {p:?} vs {q:?}");
                        worst = worst.max(e);
                    }
                }
            }
        }
    }
    println!("f32 vs f64: {worst:e}");
}

/// argmin_x λ|x| + A x²/2 − B x by a grid, refined around the best point ten times.
fn soft_threshold_grid(lambda: f64, a: f64, b: f64) -> f64 {
    let f = |x: f64| lambda * x.abs() + 0.5 * a * x * x - b * x;
    let (mut c, mut w) = (0.0, 2.0 * (b.abs() + lambda) / a + 1.0);
    for _ in 0..12 {
        let mut best = (f(c), c);
        for i in -200..=200 {
            let x = c + w * i as f64 / 200.0;
            if f(x) < best.0 {
                best = (f(x), x);
            }
        }
        c = best.1;
        w /= 40.0;
    }
    c
}

#[test]
fn laplace_map_is_the_soft_threshold() {
    for &lambda in &[0.1, 1.0, 3.0] {
        for &a in &[1e-3, 0.5, 1.0, 20.0] {
            for &b in &[0.0, 0.05, 0.5, 0.99, 1.01, 2.0, 10.0] {
                for s in [1.0, -1.0] {
                    let b: f64 = s * b * lambda;
                    let m = Laplace::new(lambda).unwrap().map(a, b).unwrap();
                    let want = if b.abs() > lambda {
                        b.signum() * (b.abs() - lambda) / a
                    } else {
                        0.0
                    };
                    let dwant = if b.abs() > lambda { 1.0 / a } else { 0.0 };
                    assert!((m.mean - want).abs() <= 1e-14 * want.abs(), "{b}");
                    assert_eq!(m.var, dwant);
                    // The grid resolves the flat minimum to ~√(ε |f| / A): compare objective
                    // values, and positions loosely.
                    let grid = soft_threshold_grid(lambda, a, b);
                    let f = |x: f64| lambda * x.abs() + 0.5 * a * x * x - b * x;
                    assert!(f(m.mean) <= f(grid) + 1e-13 * (1.0 + f(grid).abs()));
                    assert!(
                        (m.mean - grid).abs() < 1e-6 * (1.0 + want.abs()),
                        "λ = {lambda}, A = {a}, B = {b}: {} vs grid {grid}",
                        m.mean
                    );
                    // log_z is the maximised value of log P(x) − A x²/2 + B x.
                    let val = (0.5 * lambda).ln() - lambda * want.abs() - 0.5 * a * want * want
                        + b * want;
                    assert!((m.log_z - val).abs() < 1e-12 * val.abs().max(1.0));
                }
            }
        }
    }
}

#[test]
fn laplace_law_and_sampling() {
    let gh = GaussHermite::<f64, 8>::new();
    for &lambda in &[0.01, 0.7, 1.0, 40.0] {
        let prior = Laplace::new(lambda).unwrap();
        let (mut s0, mut s1, mut sa, mut s2, mut s4, mut n) = (0.0, 0.0, 0.0, 0.0, 0.0, 0);
        prior.law(gh.rule(), &mut |x, p| {
            assert!(p > 0.0 && x.is_finite());
            s0 += p;
            s1 += p * x;
            sa += p * x.abs();
            s2 += p * x * x;
            s4 += p * x.powi(4);
            n += 1;
        });
        assert!((s0 - 1.0).abs() < 1e-14);
        assert!(s1.abs() < 1e-14 / lambda);
        assert!((sa * lambda - 1.0).abs() < 1e-12);
        // E x² = 2/λ², E x⁴ = 24/λ⁴, computed here.
        assert!((s2 * lambda * lambda / 2.0 - 1.0).abs() < 1e-12, "{s2}");
        assert!((s4 * lambda.powi(4) / 24.0 - 1.0).abs() < 1e-11);
        assert_eq!(prior.mean(), 0.0);
        assert!((prior.second_moment() * lambda * lambda - 2.0).abs() < 1e-15);
        // Inverse CDF: a midpoint grid of u gives the moments.
        let m = 200_000;
        let (mut t1, mut t2) = (0.0, 0.0);
        for i in 0..m {
            let u = (i as f64 + 0.5) / m as f64;
            let x = prior.sample(u, 123.0);
            t1 += x.abs() / m as f64;
            t2 += x * x / m as f64;
        }
        assert!((t1 * lambda - 1.0).abs() < 1e-4);
        assert!((t2 * lambda * lambda / 2.0 - 1.0).abs() < 1e-3);
        assert!(prior.sample(0.0, 0.0).is_finite());
    }
    assert!(Laplace::new(1.0f32).unwrap().sample(0.0, 0.0).is_finite());
}

#[test]
fn laplace_state_evolution_matches_a_double_integral() {
    // overlap = E x̂(m̂, m̂ x + √m̂ ξ)² and log_z = E log Z over x ~ Laplace, ξ ~ N(0, 1): the
    // default `se` (law × Gauss–Hermite) against Simpson in both variables.
    let gh = GaussHermite::<f64, 64>::new();
    let q = SeQuadrature::new(gh.rule());
    for &(lambda, m_hat) in &[(1.0, 0.5), (1.0, 5.0), (2.0, 100.0), (0.5, 1e3)] {
        let prior = Laplace::new(lambda).unwrap();
        let se = prior.se(m_hat, &q);
        let sa = f64::sqrt(m_hat);
        let inner = |x: f64| {
            let g = |xi: f64| {
                let p = prior.posterior(m_hat, m_hat * x + sa * xi);
                let w = (-0.5 * xi * xi).exp() / (2.0 * std::f64::consts::PI).sqrt();
                [w * p.mean * p.mean, w * p.log_z]
            };
            let n = 800;
            let h = 24.0 / n as f64;
            let mut acc = [0.0; 2];
            for i in 0..=n {
                let w = if i == 0 || i == n {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                } * h
                    / 3.0;
                let v = g(-12.0 + i as f64 * h);
                acc[0] += w * v[0];
                acc[1] += w * v[1];
            }
            acc
        };
        // x = ±s/λ, s ~ Exp(1), by Simpson in u = √s (smooth near the kink) on [0, 8].
        let n = 1600;
        let mut acc = [0.0; 2];
        let h = 8.0 / n as f64;
        for i in 0..=n {
            let u = i as f64 * h;
            let w = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            } * h
                / 3.0;
            let dens = 2.0 * u * (-u * u).exp(); // ds = 2u du
            let (p, m) = (inner(u * u / lambda), inner(-u * u / lambda));
            acc[0] += w * dens * 0.5 * (p[0] + m[0]);
            acc[1] += w * dens * 0.5 * (p[1] + m[1]);
        }
        let d_ov = (se.overlap - acc[0]).abs() / acc[0];
        let d_lz = (se.log_z - acc[1]).abs() / acc[1].abs().max(1.0);
        assert!(
            d_ov < 1e-6 && d_lz < 1e-6,
            "λ = {lambda}, m̂ = {m_hat}: {se:?} vs {acc:?}"
        );
    }
}

#[test]
fn laplace_constructor_errors() {
    for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            Laplace::new(bad),
            Err(Error::InvalidParameter {
                name: "lambda",
                requirement: "finite and > 0"
            })
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn laplace_posterior_is_consistent(lambda in 0.05f64..20.0, la in -6.0f64..6.0, b in -50.0f64..50.0) {
        let a = 10f64.powf(la);
        let got = laplace_post::<f64>(lambda, a, b);
        let want = laplace_brute(lambda, a, b);
        let sd = want.var.sqrt();
        prop_assert!((got.mean - want.mean).abs() < 1e-9 * (want.mean.abs() + sd));
        prop_assert!((got.var - want.var).abs() < 1e-8 * want.var);
        prop_assert!((got.log_z - want.log_z).abs() < 1e-10 * want.log_z.abs().max(1.0));
    }
}
