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

use common::{simpson, simpson_grid};
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
            let mut acc = [0.0; 2];
            for (xi, w) in simpson_grid(-12.0, 12.0, 800) {
                let v = g(xi);
                acc[0] += w * v[0];
                acc[1] += w * v[1];
            }
            acc
        };
        // x = ±s/λ, s ~ Exp(1), by Simpson in u = √s (smooth near the kink) on [0, 8].
        let mut acc = [0.0; 2];
        for (u, w) in simpson_grid(0.0, 8.0, 1600) {
            let dens = 2.0 * u * (-u * u).exp(); // ds = 2u du
            let (p, m) = (inner(u * u / lambda), inner(-u * u / lambda));
            acc[0] += w * dens * 0.5 * (p[0] + m[0]);
            acc[1] += w * dens * 0.5 * (p[1] + m[1]);
        }
        let d_ov = (se.overlap - acc[0]).abs() / acc[0];
        let d_lz = (se.log_z - acc[1]).abs() / acc[1].abs().max(1.0);
        println!("SE λ = {lambda}, m̂ = {m_hat}: overlap {d_ov:e}, log_z {d_lz:e}");
        assert!(
            d_ov < 1e-9 && d_lz < 1e-9,
            "λ = {lambda}, m̂ = {m_hat}: {se:?} vs {acc:?}"
        );
    }
}

#[test]
fn laplace_constructor_errors() {
    for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            Laplace::new(bad),
            Err(Error::InvalidParameter { name: "lambda", .. })
        ));
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

// ---------------------------------------------------------------------------------------------
// Row estimators: LaplaceRow (MAP = LASSO, MMSE for diagonal Γ) and GroupL1 (MAP)
// ---------------------------------------------------------------------------------------------

use mlamp_core::mat::{Estimator, GroupL1, LaplaceRow, MatReal, Precision, RowDenoiser};
use nalgebra::{SMatrix, SVector};

/// Which row estimator.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Row {
    LassoMap,
    LaplaceMmse,
    Group,
}

/// The estimate and Jacobian of `kind` for `(r, Γ = g)`, computed in precision `T`, widened.
fn row<T: MatReal, const D: usize>(
    kind: Row,
    lambda: f64,
    g: &SMatrix<f64, D, D>,
    r: &SVector<f64, D>,
) -> (SVector<f64, D>, SMatrix<f64, D, D>) {
    let c = <T as Real>::c;
    let gamma = Precision::new(SMatrix::<T, D, D>::from_fn(|i, j| c(g[(i, j)]))).unwrap();
    let rt = SVector::<T, D>::from_fn(|i, _| c(r[i]));
    let est = match kind {
        Row::LassoMap => LaplaceRow::new(c(lambda), Estimator::Map)
            .unwrap()
            .denoise(&rt, &gamma),
        Row::LaplaceMmse => LaplaceRow::new(c(lambda), Estimator::Mmse)
            .unwrap()
            .try_denoise(&rt, &gamma)
            .unwrap(),
        Row::Group => GroupL1::new(c(lambda)).unwrap().denoise(&rt, &gamma),
    };
    (
        est.mean.map(|v| v.to_f64()),
        est.jacobian.map(|v| v.to_f64()),
    )
}

/// `Γ = s (A Aᵀ + ridge I)` from the entries of `A`.
fn spd<const D: usize>(entries: &[f64], ridge: f64, s: f64) -> SMatrix<f64, D, D> {
    let a = SMatrix::<f64, D, D>::from_fn(|i, j| entries[i * D + j]);
    let m = (a * a.transpose() + SMatrix::<f64, D, D>::identity() * ridge) * s;
    (m + m.transpose()) * 0.5
}

/// The largest eigenvalue of a symmetric positive definite `g`, by power iteration.
fn top_eigenvalue<const D: usize>(g: &SMatrix<f64, D, D>) -> f64 {
    let mut v = SVector::<f64, D>::from_fn(|i, _| 1.0 + 0.1 * i as f64);
    let mut l = 0.0;
    for _ in 0..2000 {
        let w = g * v;
        l = w.norm() / v.norm();
        v = w / w.norm();
    }
    l
}

/// `argmin ½ (x − r)ᵀ Γ (x − r) + pen(x)` by proximal gradient (ISTA, step 1/L), run until
/// the iterate stops moving: independent of the homotopy and the secular equation.
fn proximal_gradient<const D: usize>(
    g: &SMatrix<f64, D, D>,
    r: &SVector<f64, D>,
    prox: impl Fn(&SVector<f64, D>, f64) -> SVector<f64, D>,
) -> SVector<f64, D> {
    let step = 1.0 / (1.000001 * top_eigenvalue(g));
    let mut x = SVector::<f64, D>::zeros();
    for _ in 0..1_000_000 {
        let next = prox(&(x - g * (x - r) * step), step);
        let moved = (next - x).amax();
        x = next;
        if moved <= 1e-16 * (1.0 + x.amax()) {
            break;
        }
    }
    x
}

fn lasso_reference<const D: usize>(
    g: &SMatrix<f64, D, D>,
    r: &SVector<f64, D>,
    lambda: f64,
) -> SVector<f64, D> {
    proximal_gradient(g, r, |v, s| {
        v.map(|y| y.signum() * (y.abs() - s * lambda).max(0.0))
    })
}

fn group_reference<const D: usize>(
    g: &SMatrix<f64, D, D>,
    r: &SVector<f64, D>,
    lambda: f64,
) -> SVector<f64, D> {
    proximal_gradient(g, r, |v, s| v * (1.0 - s * lambda / v.norm()).max(0.0))
}

/// The LASSO's KKT residual, relative to the scale `λ + ‖Γ r‖∞`: on the support
/// `|(Γ (r − x))_j − λ sign x_j|`, off it `(|(Γ (r − x))_j| − λ)⁺`.
fn lasso_kkt<const D: usize>(
    g: &SMatrix<f64, D, D>,
    r: &SVector<f64, D>,
    lambda: f64,
    x: &SVector<f64, D>,
) -> f64 {
    let grad = g * (r - x);
    let scale = lambda + (g * r).amax() + (g * x).amax();
    (0..D)
        .map(|j| {
            if x[j] != 0.0 {
                (grad[j] - lambda * x[j].signum()).abs()
            } else {
                (grad[j].abs() - lambda).max(0.0)
            }
        })
        .fold(0.0, f64::max)
        / scale
}

/// The group penalty's KKT residual (relative): `‖Γ (r − x) − λ x/‖x‖‖` for `x ≠ 0`,
/// `(‖Γ r‖ − λ)⁺` for `x = 0`.
fn group_kkt<const D: usize>(
    g: &SMatrix<f64, D, D>,
    r: &SVector<f64, D>,
    lambda: f64,
    x: &SVector<f64, D>,
) -> f64 {
    let scale = lambda + (g * r).norm() + (g * x).norm();
    if x.norm() == 0.0 {
        ((g * r).norm() - lambda).max(0.0) / scale
    } else {
        (g * (r - x) - x * (lambda / x.norm())).norm() / scale
    }
}

/// A row estimate and its Jacobian, widened to f64.
type RowOut<const D: usize> = (SVector<f64, D>, SMatrix<f64, D, D>);

/// Central finite differences of the estimate in `r`, column `j` only where the support (or
/// whether the row is zero) is the same at `r ± h e_j` as at `r`; the max deviation from
/// `jac` relative to `1 + |J|max`, or `None` if no column qualified.
fn fd_jacobian_error<const D: usize>(
    f: &dyn Fn(&SVector<f64, D>) -> RowOut<D>,
    r: &SVector<f64, D>,
    h: f64,
) -> Option<f64> {
    let (x, jac) = f(r);
    let support = |x: &SVector<f64, D>| x.map(|v| v != 0.0);
    let mut worst: Option<f64> = None;
    for j in 0..D {
        let mut e = SVector::<f64, D>::zeros();
        e[j] = h;
        let (xp, _) = f(&(r + e));
        let (xm, _) = f(&(r - e));
        if support(&xp) != support(&x) || support(&xm) != support(&x) {
            continue;
        }
        let col = (xp - xm) / (2.0 * h);
        let err = (col - jac.column(j)).amax() / (1.0 + jac.amax());
        worst = Some(worst.map_or(err, |w| w.max(err)));
    }
    worst
}

/// The group-L1 Jacobian formula of the docs, evaluated here with nalgebra's inverse.
fn group_jacobian_formula<const D: usize>(
    g: &SMatrix<f64, D, D>,
    lambda: f64,
    x: &SVector<f64, D>,
) -> SMatrix<f64, D, D> {
    let t = x.norm();
    let id = SMatrix::<f64, D, D>::identity();
    let h = g + (id - x * x.transpose() / (t * t)) * (lambda / t);
    h.try_inverse().unwrap() * g
}

/// One random case of the row tests: `Γ`, `r`, `λ` for dimension `D`.
fn row_case<const D: usize>(
    entries: &[f64],
    ridge: f64,
    log_scale: f64,
    rv: &[f64],
    lambda: f64,
) -> (SMatrix<f64, D, D>, SVector<f64, D>, f64) {
    let s = 10f64.powf(log_scale);
    let g = spd::<D>(entries, ridge, s);
    let r = SVector::<f64, D>::from_fn(|i, _| rv[i]);
    // λ relative to ‖Γ r‖∞ so that every regime (all zero, some, none) turns up.
    let lam = lambda * (g * r).amax().max(1e-300);
    (g, r, lam)
}

/// The checks of one random case, dimension `D`; returns the max errors
/// `[lasso vs ISTA, lasso KKT, lasso FD, group vs ISTA, group KKT, group FD, group formula]`.
fn check_rows<const D: usize>(
    g: &SMatrix<f64, D, D>,
    r: &SVector<f64, D>,
    lambda: f64,
) -> [f64; 7] {
    let mut out = [0.0; 7];
    let scale = r.amax() + lambda / g.diagonal().min();
    // LASSO.
    let (x, _) = row::<f64, D>(Row::LassoMap, lambda, g, r);
    let want = lasso_reference(g, r, lambda);
    out[0] = (x - want).amax() / scale;
    out[1] = lasso_kkt(g, r, lambda, &x);
    let h = 1e-6 * (1.0 + r.amax());
    out[2] =
        fd_jacobian_error(&|rr| row::<f64, D>(Row::LassoMap, lambda, g, rr), r, h).unwrap_or(0.0);
    // Group.
    let (x, jac) = row::<f64, D>(Row::Group, lambda, g, r);
    let want = group_reference(g, r, lambda);
    out[3] = (x - want).amax() / scale;
    out[4] = group_kkt(g, r, lambda, &x);
    // Smooth away from ‖Γ r‖ = λ: differences of step h, truncation ~h².
    let margin = ((g * r).norm() - lambda).abs() / lambda;
    if margin > 1e-2 {
        let h = 1e-5 * r.amax();
        out[5] =
            fd_jacobian_error(&|rr| row::<f64, D>(Row::Group, lambda, g, rr), r, h).unwrap_or(0.0);
    }
    if x.norm() > 0.0 {
        out[6] = (jac - group_jacobian_formula(g, lambda, &x)).amax() / (1.0 + jac.amax());
    } else {
        assert_eq!(jac, SMatrix::<f64, D, D>::zeros());
    }
    out
}

/// Proptest strategy pieces: 16 matrix entries, a ridge, log₁₀ of Γ's scale, 4 entries of r,
/// log₁₀ of λ/‖Γr‖∞.
fn row_inputs() -> impl Strategy<Value = (Vec<f64>, f64, f64, Vec<f64>, f64)> {
    (
        prop::collection::vec(-1.0f64..1.0, 16),
        0.2f64..2.0,
        -3.0f64..3.0,
        prop::collection::vec(-3.0f64..3.0, 4),
        -4.0f64..0.1,
    )
}

/// Runs [`check_rows`] and asserts the tolerances.
fn assert_rows<const D: usize>(
    input: &(Vec<f64>, f64, f64, Vec<f64>, f64),
) -> Result<(), TestCaseError> {
    let (entries, ridge, ls, rv, lam) = input;
    let (g, r, lambda) = row_case::<D>(entries, *ridge, *ls, rv, 10f64.powf(*lam));
    let e = check_rows::<D>(&g, &r, lambda);
    let tol = [1e-9, 1e-13, 1e-7, 1e-9, 1e-13, 1e-5, 1e-10];
    for k in 0..7 {
        prop_assert!(
            e[k] <= tol[k],
            "check {k}: {e:?}, Γ = {g}, r = {r}, λ = {lambda}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rows_d1(input in row_inputs()) { assert_rows::<1>(&input)?; }
    #[test]
    fn rows_d2(input in row_inputs()) { assert_rows::<2>(&input)?; }
    #[test]
    fn rows_d3(input in row_inputs()) { assert_rows::<3>(&input)?; }
    #[test]
    fn rows_d4(input in row_inputs()) { assert_rows::<4>(&input)?; }
}

#[test]
fn row_maxima_report() {
    // Deterministic sweep printing the max errors of the checks above (d = 1..4).
    let mut worst = [0.0f64; 7];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..300 {
        let entries: Vec<f64> = (0..16).map(|_| 2.0 * next() - 1.0).collect();
        let rv: Vec<f64> = (0..4).map(|_| 6.0 * next() - 3.0).collect();
        let (ridge, ls) = (0.2 + 1.8 * next(), 6.0 * next() - 3.0);
        let lam = 10f64.powf(-4.0 + 4.1 * next());
        let mut merge = |e: [f64; 7]| {
            for k in 0..7 {
                worst[k] = worst[k].max(e[k]);
            }
        };
        let (g, r, l) = row_case::<1>(&entries, ridge, ls, &rv, lam);
        merge(check_rows::<1>(&g, &r, l));
        let (g, r, l) = row_case::<2>(&entries, ridge, ls, &rv, lam);
        merge(check_rows::<2>(&g, &r, l));
        let (g, r, l) = row_case::<3>(&entries, ridge, ls, &rv, lam);
        merge(check_rows::<3>(&g, &r, l));
        let (g, r, l) = row_case::<4>(&entries, ridge, ls, &rv, lam);
        merge(check_rows::<4>(&g, &r, l));
    }
    println!(
        "rows: lasso vs ISTA {:e}, KKT {:e}, FD {:e}; group vs ISTA {:e}, KKT {:e}, FD {:e}, formula {:e}",
        worst[0], worst[1], worst[2], worst[3], worst[4], worst[5], worst[6]
    );
    let tol = [1e-9, 1e-13, 1e-7, 1e-9, 1e-13, 1e-5, 1e-10];
    for k in 0..7 {
        assert!(worst[k] <= tol[k], "check {k}: {worst:?}");
    }
}

#[test]
fn group_isotropic_is_the_block_soft_threshold() {
    for &gamma in &[1e-6, 0.3, 1.0, 40.0, 1e6] {
        for &lambda in &[1e-3, 0.5, 2.0, 100.0] {
            for &rv in &[
                [0.3, -0.2, 0.1],
                [3.0, 4.0, 0.0],
                [-50.0, 2.0, 7.0],
                [1e-3, 0.0, 0.0],
            ] {
                let g = SMatrix::<f64, 3, 3>::identity() * gamma;
                let r = SVector::<f64, 3>::from(rv);
                let (x, jac) = row::<f64, 3>(Row::Group, lambda, &g, &r);
                let nr = r.norm();
                let shrink = (1.0 - lambda / (gamma * nr)).max(0.0);
                let want = r * shrink;
                assert!(
                    (x - want).amax() <= 1e-13 * nr,
                    "γ = {gamma}, λ = {lambda}, r = {r}: {x} vs {want}"
                );
                let a = lambda / (gamma * nr);
                let jwant = if a < 1.0 {
                    SMatrix::<f64, 3, 3>::identity() * (1.0 - a)
                        + r * r.transpose() * (a / (nr * nr))
                } else {
                    SMatrix::zeros()
                };
                assert!(
                    (jac - jwant).amax() <= 1e-12,
                    "γ = {gamma}, λ = {lambda}: {jac} vs {jwant}"
                );
            }
        }
    }
}

/// argmin over a grid in d = 2, refined ten times around the best point.
fn grid_min_2d(f: &dyn Fn(f64, f64) -> f64, scale: f64) -> (f64, f64) {
    let (mut c, mut w) = ((0.0, 0.0), scale);
    for _ in 0..12 {
        let mut best = (f(c.0, c.1), c);
        for i in -60..=60 {
            for j in -60..=60 {
                let p = (c.0 + w * i as f64 / 60.0, c.1 + w * j as f64 / 60.0);
                let v = f(p.0, p.1);
                if v < best.0 {
                    best = (v, p);
                }
            }
        }
        c = best.1;
        w /= 15.0;
    }
    c
}

#[test]
fn row_maps_match_a_grid_in_two_dimensions() {
    let g = SMatrix::<f64, 2, 2>::new(2.0, -1.3, -1.3, 1.5);
    for &(r0, r1, lambda) in &[
        (1.0, 2.0, 0.4),
        (2.0, 0.1, 1.0),
        (-1.5, 0.7, 0.3),
        (0.2, 0.1, 2.0),
    ] {
        let r = SVector::<f64, 2>::new(r0, r1);
        let quad = |x0: f64, x1: f64| {
            let d = SVector::<f64, 2>::new(x0, x1) - r;
            0.5 * (d.transpose() * g * d)[0]
        };
        let scale = 2.0 * (r.amax() + 1.0);
        for kind in [Row::LassoMap, Row::Group] {
            let pen = |x0: f64, x1: f64| match kind {
                Row::Group => lambda * (x0 * x0 + x1 * x1).sqrt(),
                _ => lambda * (x0.abs() + x1.abs()),
            };
            let f = |x0: f64, x1: f64| quad(x0, x1) + pen(x0, x1);
            let (x, _) = row::<f64, 2>(kind, lambda, &g, &r);
            let best = grid_min_2d(&f, scale);
            assert!(
                f(x[0], x[1]) <= f(best.0, best.1) + 1e-13,
                "{kind:?} r = {r}, λ = {lambda}"
            );
            assert!(
                (x[0] - best.0).abs().max((x[1] - best.1).abs()) < 1e-6,
                "{kind:?} r = {r}, λ = {lambda}: {x} vs {best:?}"
            );
        }
    }
}

#[test]
fn diagonal_and_one_dimensional_cases_reduce_to_the_scalar_prior() {
    let prior = Laplace::new(0.8).unwrap();
    let gd = SMatrix::<f64, 3, 3>::from_diagonal(&SVector::<f64, 3>::new(0.5, 2.0, 9.0));
    for rv in [[0.1, -2.0, 0.05], [3.0, 0.3, -0.2], [-1e3, 1e-4, 4.0]] {
        let r = SVector::<f64, 3>::from(rv);
        let (xm, jm) = row::<f64, 3>(Row::LassoMap, 0.8, &gd, &r);
        let (xe, je) = row::<f64, 3>(Row::LaplaceMmse, 0.8, &gd, &r);
        for j in 0..3 {
            let a = gd[(j, j)];
            let m = prior.map(a, a * r[j]).unwrap();
            assert!((xm[j] - m.mean).abs() <= 1e-15 * m.mean.abs());
            assert!((jm[(j, j)] - m.var * a).abs() <= 1e-15);
            let p = prior.posterior(a, a * r[j]);
            assert_eq!(xe[j], p.mean);
            assert!((je[(j, j)] - p.var * a).abs() <= 1e-15 * p.var * a);
        }
        assert_eq!(
            jm - SMatrix::<f64, 3, 3>::from_diagonal(&jm.diagonal()),
            SMatrix::<f64, 3, 3>::zeros()
        );
        assert_eq!(
            je - SMatrix::<f64, 3, 3>::from_diagonal(&je.diagonal()),
            SMatrix::<f64, 3, 3>::zeros()
        );
        // Jacobian of the diagonal MMSE against finite differences.
        let err = fd_jacobian_error(
            &|rr| row::<f64, 3>(Row::LaplaceMmse, 0.8, &gd, rr),
            &r,
            1e-5,
        )
        .unwrap();
        assert!(err < 1e-6, "{err}");
    }
    // d = 1: ‖x‖₂ = |x|, so the group penalty's MAP is the soft threshold too.
    for &(gamma, rv, lambda) in &[(2.0, 0.3, 0.8), (0.5, -7.0, 1.0), (1e4, 1e-3, 0.5)] {
        let g = SMatrix::<f64, 1, 1>::new(gamma);
        let r = SVector::<f64, 1>::new(rv);
        let (xg, jg) = row::<f64, 1>(Row::Group, lambda, &g, &r);
        let (xl, jl) = row::<f64, 1>(Row::LassoMap, lambda, &g, &r);
        let want = rv.signum() * (gamma * rv.abs() - lambda).max(0.0) / gamma;
        assert!((xg[0] - want).abs() <= 1e-15 * (1.0 + want.abs()));
        assert!((xl[0] - want).abs() <= 1e-15 * (1.0 + want.abs()));
        assert!((jg[(0, 0)] - jl[(0, 0)]).abs() <= 1e-12);
    }
}

#[test]
fn mmse_with_a_non_diagonal_precision_is_a_typed_error() {
    let g = Precision::new(SMatrix::<f64, 2, 2>::new(2.0, 0.5, 0.5, 1.0)).unwrap();
    let row = LaplaceRow::<f64, 2>::new(1.0, Estimator::Mmse).unwrap();
    let r = SVector::<f64, 2>::new(1.0, -1.0);
    assert!(matches!(
        row.try_denoise(&r, &g),
        Err(Error::Unsupported {
            field: "estimator",
            ..
        })
    ));
    assert!(matches!(row.mmse(&r, &g), Err(Error::Unsupported { .. })));
    assert!(row.check_precision(&g).is_err());
    assert!(row.denoise(&r, &g).mean.iter().all(|v| v.is_nan()));
    // MAP is available for it.
    let map = LaplaceRow::<f64, 2>::new(1.0, Estimator::Map).unwrap();
    assert!(map.check_precision(&g).is_ok());
    assert!(map.try_denoise(&r, &g).is_ok());
    assert!(LaplaceRow::<f64, 2>::new(0.0, Estimator::Map).is_err());
    assert!(GroupL1::<f64, 2>::new(-1.0).is_err());
}

#[test]
fn row_extreme_inputs_stay_finite_and_optimal() {
    // A rotation, to make the precisions non-diagonal.
    let (c, s) = (0.6f64, 0.8f64);
    let q = SMatrix::<f64, 3, 3>::new(c, -s, 0.0, s * c, c * c, -s, s * s, s * c, c);
    let mut worst = (0.0f64, 0.0f64);
    for &(e0, e1, e2) in &[
        (1.0, 1.0, 1.0),
        (1e-10, 1e-10, 1e-10),
        (1e10, 1e10, 1e10),
        (1e-6, 1.0, 1e6),
        (1.0, 1.0 + 1e-9, 1e-3),
    ] {
        let d = SMatrix::<f64, 3, 3>::from_diagonal(&SVector::<f64, 3>::new(e0, e1, e2));
        let g = q * d * q.transpose();
        let g = (g + g.transpose()) * 0.5;
        for &rs in &[1e-12, 1.0, 1e12] {
            for &lambda in &[1e-10, 1e-3, 1.0, 1e10] {
                let r = SVector::<f64, 3>::new(0.7, -1.1, 0.4) * rs;
                for kind in [Row::LassoMap, Row::Group] {
                    let (x, jac) = row::<f64, 3>(kind, lambda, &g, &r);
                    assert!(
                        x.iter().chain(jac.iter()).all(|v| v.is_finite()),
                        "{kind:?} eig ({e0}, {e1}, {e2}), r × {rs}, λ = {lambda}: {x} {jac}"
                    );
                    let kkt = match kind {
                        Row::Group => group_kkt(&g, &r, lambda, &x),
                        _ => lasso_kkt(&g, &r, lambda, &x),
                    };
                    // Relative to the scale; an ill-conditioned Γ costs ~ε cond.
                    assert!(
                        kkt < 1e-9,
                        "{kind:?} eig ({e0}, {e1}, {e2}), r × {rs}, λ = {lambda}: KKT {kkt:e}"
                    );
                    if kind == Row::Group {
                        worst.1 = worst.1.max(kkt);
                    } else {
                        worst.0 = worst.0.max(kkt);
                    }
                }
                // In f32 too, where Γ is positive definite in f32.
                let g32 = SMatrix::<f32, 3, 3>::from_fn(|i, j| g[(i, j)] as f32);
                if let Ok(p32) = Precision::new(g32) {
                    let r32 = r.map(|v| v as f32);
                    let l32 = lambda as f32;
                    let a = LaplaceRow::new(l32, Estimator::Map)
                        .unwrap()
                        .denoise(&r32, &p32);
                    let b = GroupL1::new(l32).unwrap().denoise(&r32, &p32);
                    for v in a.mean.iter().chain(a.jacobian.iter()) {
                        assert!(
                            v.is_finite(),
                            "f32 lasso eig ({e0}, {e1}, {e2}), r × {rs}, λ = {lambda}"
                        );
                    }
                    for v in b.mean.iter().chain(b.jacobian.iter()) {
                        assert!(
                            v.is_finite(),
                            "f32 group eig ({e0}, {e1}, {e2}), r × {rs}, λ = {lambda}"
                        );
                    }
                }
            }
        }
    }
    println!(
        "extreme KKT residuals: lasso {:e}, group {:e}",
        worst.0, worst.1
    );
}

#[test]
fn rows_f32_agree_with_f64() {
    let mut worst = (0.0f64, 0.0f64);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..200 {
        let entries: Vec<f64> = (0..16).map(|_| 2.0 * next() - 1.0).collect();
        let rv: Vec<f64> = (0..4).map(|_| 6.0 * next() - 3.0).collect();
        let (g, r, lambda) = row_case::<3>(&entries, 0.5 + next(), 0.0, &rv, 0.05 + next());
        for kind in [Row::LassoMap, Row::Group] {
            let (x64, j64) = row::<f64, 3>(kind, lambda, &g, &r);
            let (x32, j32) = row::<f32, 3>(kind, lambda, &g, &r);
            let scale = x64.amax() + r.amax();
            let dx = (x32 - x64).amax() / scale;
            assert!(dx < 1e-4, "{kind:?}: {x32} vs {x64}");
            worst.0 = worst.0.max(dx);
            // The Jacobian jumps where the support changes: compare it away from there.
            let same = x64.map(|v| v != 0.0) == x32.map(|v| v != 0.0);
            let margin = ((g * r).norm() - lambda).abs() / lambda;
            let near_kink = x64.iter().any(|&v| v != 0.0 && v.abs() < 1e-3 * scale);
            if same && margin > 1e-3 && !near_kink {
                let dj = (j32 - j64).amax() / (1.0 + j64.amax());
                assert!(dj < 1e-3, "{kind:?}: {j32} vs {j64}");
                worst.1 = worst.1.max(dj);
            }
        }
    }
    println!(
        "rows f32 vs f64: estimate {:e}, Jacobian {:e}",
        worst.0, worst.1
    );
}

#[test]
fn lasso_path_with_an_entry_leaving_and_rejoining() {
    // On this path entry 2 enters with sign −1, leaves at μ ≈ 3.4e-3 and re-enters with
    // sign +1 further down: the solution at small λ has all three entries active.
    let (c, s) = (0.6f64, 0.8f64);
    let q = SMatrix::<f64, 3, 3>::new(c, -s, 0.0, s * c, c * c, -s, s * s, s * c, c);
    let d = SMatrix::<f64, 3, 3>::from_diagonal(&SVector::<f64, 3>::new(1.0, 1.0 + 1e-9, 1e-3));
    let g = q * d * q.transpose();
    let g = (g + g.transpose()) * 0.5;
    let r = SVector::<f64, 3>::new(0.7, -1.1, 0.4);
    for &lambda in &[1e-10, 1e-6, 1e-4, 1e-3, 3e-3, 1e-2, 0.1] {
        let (x, _) = row::<f64, 3>(Row::LassoMap, lambda, &g, &r);
        let kkt = lasso_kkt(&g, &r, lambda, &x);
        assert!(kkt < 1e-14, "λ = {lambda}: x = {x}, KKT {kkt:e}");
    }
    let (x, _) = row::<f64, 3>(Row::LassoMap, 1e-4, &g, &r);
    assert!(x[2] > 0.0);
}
