//! Tests of the closed-form channels `Linear`, `Sign` and `Relu` (`mlamp_core::channel`).
//!
//! Expected values come from outside the code under test:
//! - `log Z` of the output function (ML-AMP eq. 7) and of the hidden function (eq. 6) against
//!   brute-force integrals written here: composite Simpson in the log domain (the integrand is
//!   shifted by its maximum), over a range found numerically (golden-section search for the
//!   mode of the log-concave integrand, bisection for where it has dropped by `DROP`), split
//!   at the kinks of the likelihood; an explicit sum over h = ±1 for the sign channel, a
//!   nested numerical integral over h for continuous h, the delta integrated analytically for
//!   noiseless layers;
//! - `g`, `∂g`, mean and variance against central finite differences of `log Z`;
//! - closed forms derived by hand (the Gaussian moment generating function, `log Φ`);
//! - the laws `expect_given` and `sample` against their definitions, with Φ from `libm::erfc`.
//!
//! Tolerances (all of the form `|got − want| ≤ tol · max(|want|, floor)`):
//! - brute-force `log Z`: `BRUTE_TOL = 1e-7`, floor 1;
//! - finite differences: `FD_TOL = 1e-5`, floor the natural size of the quantity (`1/√V` for
//!   `g`, `1/V` for `∂g`, `max(1, √S)` for the mean, `max(1, S)` for the variance,
//!   `S = V + Δ`); steps `1e-4·scale` (first differences) and `1e-3·scale` (second
//!   differences), with scale `√V` in ω and `min(1, 1/√S)` in B;
//! - f32 against f64: `F32_TOL = 1e-4`, floor 1;
//! - closed forms and laws: `1e-12`, floor 1.

mod common;

use mlamp_core::channel::{Channel, ChannelKind, Linear, Relu, Sign};
use mlamp_core::error::Error;
use mlamp_core::quadrature::GaussHermite;
use proptest::prelude::*;
use std::f64::consts::{PI, SQRT_2};

const BRUTE_TOL: f64 = 1e-7;
const FD_TOL: f64 = 1e-5;
const F32_TOL: f64 = 1e-4;
const EXACT_TOL: f64 = 1e-12;

// ---------------------------------------------------------------------------------------------
// Channels under test.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Linear,
    Sign,
    Relu,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    kind: Kind,
    delta: f64,
}

const fn case(kind: Kind, delta: f64) -> Case {
    Case { kind, delta }
}

/// Channels tested as hidden layers.
const HIDDEN: [Case; 9] = [
    case(Kind::Linear, 0.0),
    case(Kind::Linear, 1e-8),
    case(Kind::Linear, 0.3),
    case(Kind::Sign, 0.0),
    case(Kind::Sign, 0.1),
    case(Kind::Sign, 1.0),
    case(Kind::Relu, 0.0),
    case(Kind::Relu, 0.05),
    case(Kind::Relu, 1.0),
];

/// Channels tested as the output channel (a ReLU output needs Δ > 0 for a density of y).
const OUTPUT: [Case; 8] = [
    case(Kind::Linear, 0.0),
    case(Kind::Linear, 1e-8),
    case(Kind::Linear, 0.3),
    case(Kind::Sign, 0.0),
    case(Kind::Sign, 0.1),
    case(Kind::Sign, 1.0),
    case(Kind::Relu, 0.05),
    case(Kind::Relu, 1.0),
];

fn ch64(c: Case) -> Box<dyn Channel<f64>> {
    match c.kind {
        Kind::Linear => Box::new(Linear::new(c.delta).unwrap()),
        Kind::Sign => Box::new(Sign::new(c.delta).unwrap()),
        Kind::Relu => Box::new(Relu::new(c.delta).unwrap()),
    }
}

fn ch32(c: Case) -> Box<dyn Channel<f32>> {
    let d = c.delta as f32;
    match c.kind {
        Kind::Linear => Box::new(Linear::new(d).unwrap()),
        Kind::Sign => Box::new(Sign::new(d).unwrap()),
        Kind::Relu => Box::new(Relu::new(d).unwrap()),
    }
}

/// A moderate observation for the channel from `u ∈ [0, 1)`.
fn moderate_y(kind: Kind, u: f64) -> f64 {
    match kind {
        Kind::Linear => -4.0 + 8.0 * u,
        Kind::Sign => {
            if u < 0.5 {
                -1.0
            } else {
                1.0
            }
        }
        Kind::Relu => -1.0 + 4.0 * u,
    }
}

/// `cases` cases, without writing a regressions file into the tree.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `|got − want| ≤ tol · max(|want|, floor)` (false for NaN).
fn close(got: f64, want: f64, tol: f64, floor: f64) -> bool {
    (got - want).abs() <= tol * want.abs().max(floor)
}

// ---------------------------------------------------------------------------------------------
// Independent special functions and brute-force integrals (f64 only).

/// ln N(x; mean, var).
fn ln_npdf(x: f64, mean: f64, var: f64) -> f64 {
    -0.5 * (2.0 * PI * var).ln() - (x - mean) * (x - mean) / (2.0 * var)
}

/// Φ(x) = ½ erfc(−x/√2), straight from libm.
fn phi_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / SQRT_2)
}

/// ln Φ(x): from libm's erfc where Φ is far from underflow, else the asymptotic series
/// ln Φ(x) = −x²/2 − ln(−x√(2π)) + ln(1 − 1/x² + 3/x⁴ − 15/x⁶ + 105/x⁸ − 945/x¹⁰)
/// (at x ≤ −30 the first omitted term is below 1e-14).
fn ln_phi_cdf(x: f64) -> f64 {
    if x > -30.0 {
        phi_cdf(x).ln()
    } else {
        let t = 1.0 / (x * x);
        let series = 1.0 - t * (1.0 - t * (3.0 - t * (15.0 - t * (105.0 - t * 945.0))));
        -0.5 * x * x - (-x * (2.0 * PI).sqrt()).ln() + series.ln()
    }
}

fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// How far below its maximum the log-integrand is cut off (e^{−60} ≈ 1e-26).
const DROP: f64 = 60.0;
/// Simpson intervals for one-dimensional integrals and for the outer (z) integral.
const N_OUTER: usize = 3000;
/// Simpson intervals for the inner (h) integral: its integrand is a smooth Gaussian in h, on
/// which the composite rule converges geometrically.
const N_INNER: usize = 300;

/// The maximiser of a unimodal `f` on `[a, b]` (golden-section search).
fn argmax_unimodal(f: &dyn Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
    let r = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - r * (b - a);
    let mut d = a + r * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..300 {
        if b - a <= 1e-15 * a.abs().max(b.abs()) + 1e-300 {
            break;
        }
        if fc >= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - r * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + r * (b - a);
            fd = f(d);
        }
    }
    0.5 * (a + b)
}

/// A point of `[lo, hi]` where `f` crosses `target`, with `f(lo) < target ≤ f(hi)` or the
/// reverse (bisection).
fn crossing(f: &dyn Fn(f64) -> f64, mut lo: f64, mut hi: f64, target: f64) -> f64 {
    let lo_below = f(lo) < target;
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo.min(hi) || mid >= lo.max(hi) {
            break;
        }
        if (f(mid) < target) == lo_below {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// `ln ∫_a^b e^{f(x)} dx` for a unimodal (here: log-concave) log-integrand `f`.
///
/// A "hard" end is a boundary of the domain (a kink of the likelihood, the support of a
/// step); a "soft" end only brackets the mass and must be negligible (asserted).
fn log_integral(
    f: &dyn Fn(f64) -> f64,
    (a, a_hard): (f64, bool),
    (b, b_hard): (f64, bool),
    n: usize,
) -> f64 {
    assert!(a < b, "empty bracket [{a}, {b}]");
    let xm = argmax_unimodal(f, a, b);
    let (fa, fb, fm) = (f(a), f(b), f(xm));
    let (xmax, fmax) =
        [(a, fa), (xm, fm), (b, fb)]
            .into_iter()
            .fold(
                (xm, f64::NEG_INFINITY),
                |acc, p| if p.1 > acc.1 { p } else { acc },
            );
    assert!(
        fmax.is_finite(),
        "log-integrand not finite at its mode {xmax}"
    );
    let target = fmax - DROP;
    let left = if fa >= target {
        assert!(
            a_hard,
            "soft lower end {a} not negligible: f = {fa}, max {fmax}"
        );
        a
    } else {
        crossing(f, a, xmax, target)
    };
    let right = if fb >= target {
        assert!(
            b_hard,
            "soft upper end {b} not negligible: f = {fb}, max {fmax}"
        );
        b
    } else {
        crossing(f, xmax, b, target)
    };
    assert!(right > left, "degenerate integration range");
    let sum: f64 = common::simpson_grid(left, right, n)
        .into_iter()
        .map(|(x, w)| w * (f(x) - fmax).exp())
        .sum();
    fmax + sum.ln()
}

/// A bracket `[c − r, c + r]` around the prior mean ω wide enough for every integrand here.
fn z_bracket(omega: f64, v: f64, extra: f64) -> (f64, f64) {
    let r = 60.0 * v.sqrt() + extra + 10.0;
    (omega - r, omega + r)
}

/// `ln ∫ dh N(h; m, Δ) e^{−A h²/2 + B h}` by numerical integration over h (Δ > 0).
fn inner_h(m: f64, delta: f64, a: f64, b: f64) -> f64 {
    let f = |h: f64| ln_npdf(h, m, delta) - 0.5 * a * h * h + b * h;
    // The mode, (m + BΔ)/(1 + AΔ), lies between 0 and m + BΔ.
    let sd = delta.sqrt();
    let (c1, c2) = (m.min(m + b * delta).min(0.0), m.max(m + b * delta).max(0.0));
    log_integral(
        &f,
        (c1 - 60.0 * sd - 1.0, false),
        (c2 + 60.0 * sd + 1.0, false),
        N_INNER,
    )
}

/// `ln ∫ dz N(z; ω, V) Φ(y z/√Δ)`, the sign channel's output `log Z` (Δ = 0: a step).
fn brute_sign_output(delta: f64, y: f64, v: f64, omega: f64) -> f64 {
    let (lo, hi) = z_bracket(omega, v, 0.0);
    if delta == 0.0 {
        let f = |z: f64| ln_npdf(z, omega, v);
        if y > 0.0 {
            log_integral(&f, (0.0, true), (hi.max(1.0), false), N_OUTER)
        } else {
            log_integral(&f, (lo.min(-1.0), false), (0.0, true), N_OUTER)
        }
    } else {
        let sd = delta.sqrt();
        let f = |z: f64| ln_npdf(z, omega, v) + ln_phi_cdf(y * z / sd);
        log_integral(&f, (lo, false), (hi, false), N_OUTER)
    }
}

/// Brute-force `log Z(y, V, ω)` of eq. 7.
fn brute_output(c: Case, y: f64, v: f64, omega: f64) -> f64 {
    let delta = c.delta;
    match c.kind {
        Kind::Linear => {
            if delta == 0.0 {
                // P_out(y|z) = δ(y − z): the z-integral is the prior density at y.
                ln_npdf(y, omega, v)
            } else {
                let f = |z: f64| ln_npdf(y, z, delta) + ln_npdf(z, omega, v);
                let w = 60.0 * v.max(delta).sqrt() + 10.0;
                log_integral(
                    &f,
                    (omega.min(y) - w, false),
                    (omega.max(y) + w, false),
                    N_OUTER,
                )
            }
        }
        Kind::Sign => brute_sign_output(delta, y, v, omega),
        Kind::Relu => {
            assert!(delta > 0.0);
            let w = 60.0 * v.max(delta).sqrt() + 10.0;
            let lo = omega.min(y).min(0.0) - w;
            let hi = omega.max(y).max(0.0) + w;
            let neg = |z: f64| ln_npdf(y, 0.0, delta) + ln_npdf(z, omega, v);
            let pos = |z: f64| ln_npdf(y, z, delta) + ln_npdf(z, omega, v);
            log_add_exp(
                log_integral(&neg, (lo, false), (0.0, true), N_OUTER),
                log_integral(&pos, (0.0, true), (hi, false), N_OUTER),
            )
        }
    }
}

/// Brute-force `log Z(A, B, V, ω)` of eq. 6.
fn brute_hidden(c: Case, a: f64, b: f64, v: f64, omega: f64) -> f64 {
    let delta = c.delta;
    let (lo, hi) = z_bracket(omega, v, v * b.abs());
    match c.kind {
        Kind::Linear => {
            if delta == 0.0 {
                // h = z exactly: the h-integral of the delta leaves the tilt at h = z.
                let f = |z: f64| ln_npdf(z, omega, v) - 0.5 * a * z * z + b * z;
                log_integral(&f, (lo, false), (hi, false), N_OUTER)
            } else {
                let f = |z: f64| ln_npdf(z, omega, v) + inner_h(z, delta, a, b);
                log_integral(&f, (lo, false), (hi, false), N_OUTER)
            }
        }
        Kind::Sign => {
            // Σ_{h = ±1} e^{−A/2 + B h} ∫ dz N(z; ω, V) P_out(h|z).
            let plus = -0.5 * a + b + brute_sign_output(delta, 1.0, v, omega);
            let minus = -0.5 * a - b + brute_sign_output(delta, -1.0, v, omega);
            log_add_exp(plus, minus)
        }
        Kind::Relu => {
            // The h-integral given m = max(0, z).
            let inner = |m: f64| {
                if delta == 0.0 {
                    -0.5 * a * m * m + b * m
                } else {
                    inner_h(m, delta, a, b)
                }
            };
            let at_zero = inner(0.0);
            let neg = |z: f64| ln_npdf(z, omega, v) + at_zero;
            let pos = |z: f64| ln_npdf(z, omega, v) + inner(z);
            log_add_exp(
                log_integral(&neg, (lo.min(-1.0), false), (0.0, true), N_OUTER),
                log_integral(&pos, (0.0, true), (hi.max(1.0), false), N_OUTER),
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. log Z against brute-force integrals.

const V_GRID: [f64; 4] = [0.05, 0.3, 1.2, 4.0];
const OMEGA_GRID: [f64; 5] = [-3.0, -1.3, 0.0, 0.6, 3.0];

fn y_grid(kind: Kind) -> &'static [f64] {
    match kind {
        Kind::Linear => &[-4.0, -0.5, 0.8, 3.0],
        Kind::Sign => &[-1.0, 1.0],
        Kind::Relu => &[-1.0, 0.0, 0.3, 2.5],
    }
}

#[test]
fn output_log_z_matches_brute_force() {
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut worst = 0.0f64;
    for c in OUTPUT {
        let ch = ch64(c);
        for &y in y_grid(c.kind) {
            for v in V_GRID {
                for omega in OMEGA_GRID {
                    let got = ch.output(y, v, omega).log_z;
                    let want = brute_output(c, y, v, omega);
                    checked += 1;
                    worst = worst.max((got - want).abs() / want.abs().max(1.0));
                    if !close(got, want, BRUTE_TOL, 1.0) {
                        failures.push(format!(
                            "{c:?} y={y} V={v} ω={omega}: log Z {got} vs brute force {want}"
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 300);
    println!("output log Z: worst scaled error {worst:.2e} over {checked} points");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_hidden_brute(c: Case) {
    let ch = ch64(c);
    let mut failures = Vec::new();
    let mut worst = 0.0f64;
    for v in [0.05, 0.6, 4.0] {
        for omega in [-3.0, -0.7, 0.4, 3.0] {
            for a in [0.0, 1.1, 5.0] {
                for b in [-3.0, 0.3, 3.0] {
                    let got = ch.hidden(a, b, v, omega).log_z;
                    let want = brute_hidden(c, a, b, v, omega);
                    worst = worst.max((got - want).abs() / want.abs().max(1.0));
                    if !close(got, want, BRUTE_TOL, 1.0) {
                        failures.push(format!(
                            "{c:?} A={a} B={b} V={v} ω={omega}: log Z {got} vs brute force {want}"
                        ));
                    }
                }
            }
        }
    }
    println!("{c:?} hidden log Z: worst scaled error {worst:.2e}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hidden_log_z_matches_brute_force_linear_noiseless() {
    check_hidden_brute(case(Kind::Linear, 0.0));
}

#[test]
fn hidden_log_z_matches_brute_force_linear_tiny_noise() {
    check_hidden_brute(case(Kind::Linear, 1e-8));
}

#[test]
fn hidden_log_z_matches_brute_force_linear_noisy() {
    check_hidden_brute(case(Kind::Linear, 0.3));
}

#[test]
fn hidden_log_z_matches_brute_force_sign() {
    for delta in [0.0f64, 0.1, 1.0] {
        check_hidden_brute(case(Kind::Sign, delta));
    }
}

#[test]
fn hidden_log_z_matches_brute_force_relu_noiseless() {
    check_hidden_brute(case(Kind::Relu, 0.0));
}

#[test]
fn hidden_log_z_matches_brute_force_relu_small_noise() {
    check_hidden_brute(case(Kind::Relu, 0.05));
}

#[test]
fn hidden_log_z_matches_brute_force_relu_unit_noise() {
    check_hidden_brute(case(Kind::Relu, 1.0));
}

/// The brute-force integrator itself, on integrals with known values: a Gaussian normalising
/// constant, a one-sided Gaussian mass, and the Gaussian moment generating function.
#[test]
fn brute_force_integrator_is_accurate() {
    for (v, omega) in [(0.05, -3.0), (1.0, 0.0), (4.0, 2.5), (1e-8, 0.3)] {
        let f = |z: f64| ln_npdf(z, omega, v);
        let (lo, hi) = z_bracket(omega, v, 0.0);
        let total = log_integral(&f, (lo, false), (hi, false), N_OUTER);
        assert!(total.abs() < 1e-12, "normalisation {total}");
        let upper = log_integral(&f, (0.0, true), (hi.max(1.0), false), N_OUTER);
        let want = phi_cdf(omega / v.sqrt()).ln();
        assert!(close(upper, want, 1e-10, 1.0), "{upper} vs {want}");
    }
    // ∫ N(h; m, Δ) e^{B h} dh = e^{B m + B² Δ/2}.
    for (m, delta, b) in [(0.3, 1e-8, 3.0), (-2.0, 1.0, -3.0), (1.0, 0.05, 0.7)] {
        let got = inner_h(m, delta, 0.0, b);
        let want = b * m + 0.5 * b * b * delta;
        assert!(close(got, want, 1e-12, 1.0), "{got} vs {want}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Derivatives against finite differences.

/// Central differences of `f` at `x` with steps `1e-4·scale` and `1e-3·scale`: (first
/// derivative of f, first derivative of f', second difference of f).
fn central(f: &dyn Fn(f64) -> (f64, f64), x: f64, scale: f64) -> (f64, f64, f64) {
    let h1 = 1e-4 * scale;
    let (lp, dp) = f(x + h1);
    let (lm, dm) = f(x - h1);
    let h2 = 1e-3 * scale;
    let (l0, _) = f(x);
    let (lpp, _) = f(x + h2);
    let (lmm, _) = f(x - h2);
    (
        (lp - lm) / (2.0 * h1),
        (dp - dm) / (2.0 * h1),
        (lpp - 2.0 * l0 + lmm) / (h2 * h2),
    )
}

fn check_derivative(
    what: &str,
    analytic: f64,
    fd: f64,
    floor: f64,
    ctx: &dyn Fn() -> String,
) -> Result<(), TestCaseError> {
    prop_assert!(
        close(analytic, fd, FD_TOL, floor),
        "{}: analytic {} vs finite difference {} ({})",
        what,
        analytic,
        fd,
        ctx()
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn output_derivatives_match_finite_differences(
        u in 0.0f64..1.0,
        v in 0.05f64..4.0,
        omega in -3.0f64..3.0,
    ) {
        for c in OUTPUT {
            let ch = ch64(c);
            let y = moderate_y(c.kind, u);
            let m = ch.output(y, v, omega);
            let sc = v.sqrt();
            let f = |w: f64| {
                let o = ch.output(y, v, w);
                (o.log_z, o.g)
            };
            let (g_fd, dg_fd, dg_fd2) = central(&f, omega, sc);
            let ctx = || format!("{c:?} y={y} V={v} ω={omega}");
            check_derivative("g", m.g, g_fd, 1.0 / sc, &ctx)?;
            check_derivative("dg (from g)", m.dg, dg_fd, 1.0 / v, &ctx)?;
            check_derivative("dg (from log Z)", m.dg, dg_fd2, 1.0 / v, &ctx)?;
        }
    }

    #[test]
    fn hidden_derivatives_match_finite_differences(
        a in 0.0f64..5.0,
        b in -3.0f64..3.0,
        v in 0.05f64..4.0,
        omega in -3.0f64..3.0,
    ) {
        for c in HIDDEN {
            let ch = ch64(c);
            let m = ch.hidden(a, b, v, omega);
            let ctx = || format!("{c:?} A={a} B={b} V={v} ω={omega}");
            // In ω.
            let sc = v.sqrt();
            let f = |w: f64| {
                let o = ch.hidden(a, b, v, w);
                (o.log_z, o.g)
            };
            let (g_fd, dg_fd, dg_fd2) = central(&f, omega, sc);
            check_derivative("g", m.g, g_fd, 1.0 / sc, &ctx)?;
            check_derivative("dg (from g)", m.dg, dg_fd, 1.0 / v, &ctx)?;
            check_derivative("dg (from log Z)", m.dg, dg_fd2, 1.0 / v, &ctx)?;
            // In B.
            let s = v + c.delta;
            let sb = 1.0f64.min(1.0 / s.sqrt());
            let fb = |bb: f64| {
                let o = ch.hidden(a, bb, v, omega);
                (o.log_z, o.mean)
            };
            let (mean_fd, var_fd, var_fd2) = central(&fb, b, sb);
            check_derivative("mean", m.mean, mean_fd, 1.0 / sb, &ctx)?;
            check_derivative("var (from mean)", m.var, var_fd, 1.0 / (sb * sb), &ctx)?;
            check_derivative("var (from log Z)", m.var, var_fd2, 1.0 / (sb * sb), &ctx)?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Extreme inputs.

/// `10^e` for `e` uniform in `[lo, hi]`.
fn log_uniform(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    (lo..=hi).prop_map(|e| 10f64.powf(e))
}

/// ± a log-uniform magnitude up to `10^hi`, zero, or the endpoints.
fn signed_wide(hi: f64) -> impl Strategy<Value = f64> {
    let top = 10f64.powf(hi);
    prop_oneof![
        4 => (any::<bool>(), log_uniform(-3.0, hi)).prop_map(|(s, x)| if s { x } else { -x }),
        2 => -top..=top,
        1 => Just(0.0),
        1 => Just(top),
        1 => Just(-top),
    ]
}

fn extreme_v() -> impl Strategy<Value = f64> {
    prop_oneof![6 => log_uniform(-30.0, 6.0), 1 => Just(1e-30), 1 => Just(1e6)]
}

fn extreme_a() -> impl Strategy<Value = f64> {
    prop_oneof![3 => log_uniform(-8.0, 8.0), 1 => Just(0.0), 1 => Just(1e8)]
}

/// The checks of part 3 for one channel in precision `T`; `y` is mapped to the channel's
/// observation space (±1 for the sign channel, opposite in sign to ω when `against` is set so
/// that y·ω is very negative).
fn check_extremes<T: mlamp_core::Real>(
    ch: &dyn Channel<T>,
    c: Case,
    (y, v, omega, a, b): (f64, f64, f64, f64, f64),
    against: bool,
) -> Result<(), TestCaseError> {
    let y = match c.kind {
        Kind::Sign if against => {
            if omega > 0.0 {
                -1.0
            } else {
                1.0
            }
        }
        Kind::Sign => {
            if y >= 0.0 {
                1.0
            } else {
                -1.0
            }
        }
        Kind::Relu => y.clamp(-1e3, 1e3),
        Kind::Linear => y,
    };
    let t = T::c;
    let ctx = format!(
        "{c:?} {} y={y} V={v} ω={omega} A={a} B={b}",
        core::any::type_name::<T>()
    );
    if c.kind != Kind::Relu || c.delta > 0.0 {
        let o = ch.output(t(y), t(v), t(omega));
        prop_assert!(
            o.g.is_finite() && o.dg.is_finite() && o.log_z.is_finite(),
            "output not finite: {:?} ({})",
            o,
            ctx
        );
        // Linear and sign likelihoods are log-concave in z, hence Z in ω (see
        // `relu_output_is_not_log_concave` for the ReLU).
        if c.kind != Kind::Relu {
            prop_assert!(o.dg <= T::ZERO, "output dg > 0: {:?} ({})", o, ctx);
        }
    }
    let h = ch.hidden(t(a), t(b), t(v), t(omega));
    prop_assert!(
        h.g.is_finite()
            && h.dg.is_finite()
            && h.mean.is_finite()
            && h.var.is_finite()
            && h.log_z.is_finite(),
        "hidden not finite: {:?} ({})",
        h,
        ctx
    );
    prop_assert!(h.var >= T::ZERO, "hidden var < 0: {:?} ({})", h, ctx);
    if c.kind == Kind::Sign {
        prop_assert!(
            h.mean.abs() <= T::ONE && h.var <= T::ONE,
            "{:?} ({})",
            h,
            ctx
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn extreme_inputs_give_finite_messages_f64(
        y in signed_wide(4.0),
        v in extreme_v(),
        omega in signed_wide(4.0),
        a in extreme_a(),
        b in signed_wide(4.0),
        against in any::<bool>(),
    ) {
        for c in HIDDEN {
            check_extremes::<f64>(&*ch64(c), c, (y, v, omega, a, b), against)?;
        }
    }

    #[test]
    fn extreme_inputs_give_finite_messages_f32(
        y in signed_wide(4.0),
        v in extreme_v(),
        omega in signed_wide(4.0),
        a in extreme_a(),
        b in signed_wide(4.0),
        against in any::<bool>(),
    ) {
        for c in HIDDEN {
            check_extremes::<f32>(&*ch32(c), c, (y, v, omega, a, b), against)?;
        }
    }
}

/// The corners of the extreme box, which random sampling rarely hits exactly.
#[test]
fn extreme_corners_give_finite_messages() {
    for c in HIDDEN {
        for y in [-1e4, -1.0, 0.0, 1.0, 1e4] {
            for v in [1e-30, 1e-12, 1.0, 1e6] {
                for omega in [-1e4, -1.0, 0.0, 1.0, 1e4] {
                    for a in [0.0, 1e-8, 1.0, 1e8] {
                        for b in [-1e4, -1.0, 0.0, 1.0, 1e4] {
                            for against in [false, true] {
                                let args = (y, v, omega, a, b);
                                check_extremes::<f64>(&*ch64(c), c, args, against).unwrap();
                                check_extremes::<f32>(&*ch32(c), c, args, against).unwrap();
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The ReLU likelihood `N(y; max(0, z), Δ)` is not log-concave in z for y > 0 (the slope of
/// its log jumps from 0 to y/Δ at z = 0), and neither is its output `Z` in ω: just below
/// ω = 0 with a small V (here y = 1, Δ = 0.05, V = 0.01, ω = −0.09) the brute-force
/// `∂²_ω log Z ≈ +100`, and the code agrees, so `∂g ≤ 0` is not asserted for the ReLU output.
#[test]
fn relu_output_is_not_log_concave() {
    let c = case(Kind::Relu, 0.05);
    let ch = ch64(c);
    let (y, v, omega) = (1.0, 0.01, -0.09);
    let h = 2e-3;
    let second = (brute_output(c, y, v, omega + h) - 2.0 * brute_output(c, y, v, omega)
        + brute_output(c, y, v, omega - h))
        / (h * h);
    let dg = ch.output(y, v, omega).dg;
    assert!(second > 50.0, "brute-force ∂²log Z = {second}");
    assert!(
        close(dg, second, 1e-3, 1.0),
        "dg {dg} vs brute force {second}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. f32 against f64.

fn f32_agrees(
    what: &str,
    x32: f32,
    x64: f64,
    ctx: &dyn Fn() -> String,
) -> Result<(), TestCaseError> {
    prop_assert!(
        close(x32 as f64, x64, F32_TOL, 1.0),
        "{}: f32 {} vs f64 {} ({})",
        what,
        x32,
        x64,
        ctx()
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn f32_agrees_with_f64(
        u in 0.0f32..1.0,
        a in 0.0f32..5.0,
        b in -3.0f32..3.0,
        v in 0.05f32..4.0,
        omega in -3.0f32..3.0,
    ) {
        for c in HIDDEN {
            let (c64, c32) = (ch64(c), ch32(c));
            // The same (f32-representable) arguments in both precisions.
            let (a64, b64, v64, w64) = (a as f64, b as f64, v as f64, omega as f64);
            let ctx = || format!("{c:?} A={a} B={b} V={v} ω={omega}");
            let h32 = c32.hidden(a, b, v, omega);
            let h64 = c64.hidden(a64, b64, v64, w64);
            f32_agrees("hidden g", h32.g, h64.g, &ctx)?;
            f32_agrees("hidden dg", h32.dg, h64.dg, &ctx)?;
            f32_agrees("hidden mean", h32.mean, h64.mean, &ctx)?;
            f32_agrees("hidden var", h32.var, h64.var, &ctx)?;
            f32_agrees("hidden log_z", h32.log_z, h64.log_z, &ctx)?;
        }
        for c in OUTPUT {
            let (c64, c32) = (ch64(c), ch32(c));
            let y = moderate_y(c.kind, u as f64) as f32;
            let ctx = || format!("{c:?} y={y} V={v} ω={omega}");
            let o32 = c32.output(y, v, omega);
            let o64 = c64.output(y as f64, v as f64, omega as f64);
            f32_agrees("output g", o32.g, o64.g, &ctx)?;
            f32_agrees("output dg", o32.dg, o64.dg, &ctx)?;
            f32_agrees("output log_z", o32.log_z, o64.log_z, &ctx)?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. The law: expect_given and sample.

const Z_GRID: [f64; 9] = [-4.0, -1.5, -0.3, -1e-9, 0.0, 1e-9, 0.2, 1.0, 3.7];
const XI_GRID: [f64; 9] = [-3.5, -2.0, -1.0, -0.25, 0.0, 0.3, 1.0, 2.2, 4.0];

#[test]
fn linear_expect_given_and_sample() {
    let gh = GaussHermite::<f64, 40>::new();
    for delta in [0.0f64, 1e-8, 0.3] {
        let ch = Linear::new(delta).unwrap();
        for z in Z_GRID {
            let e1 = ch.expect_given(z, gh.rule(), &mut |h| h);
            let e2 = ch.expect_given(z, gh.rule(), &mut |h| h * h);
            // E cos(h) = cos(z) e^{−Δ/2} (the characteristic function of N(z, Δ)).
            let ec = ch.expect_given(z, gh.rule(), &mut |h| h.cos());
            assert!(close(e1, z, EXACT_TOL, 1.0), "Δ={delta} z={z}: E h = {e1}");
            assert!(
                close(e2, z * z + delta, EXACT_TOL, 1.0),
                "Δ={delta} z={z}: E h² = {e2}"
            );
            let want = z.cos() * (-0.5 * delta).exp();
            assert!(
                close(ec, want, EXACT_TOL, 1.0),
                "Δ={delta} z={z}: E cos h = {ec}"
            );
            for xi in XI_GRID {
                let want = z + delta.sqrt() * xi;
                assert!(close(ch.sample(z, xi), want, EXACT_TOL, 1.0));
            }
        }
    }
}

#[test]
fn sign_expect_given_and_sample() {
    let gh = GaussHermite::<f64, 40>::new();
    for delta in [0.0f64, 0.1, 1.0] {
        let ch = Sign::new(delta).unwrap();
        for z in Z_GRID {
            let p_plus = if delta == 0.0 {
                // The noiseless step; at z = 0 the Δ → 0 limit Φ(0) = ½.
                if z > 0.0 {
                    1.0
                } else if z < 0.0 {
                    0.0
                } else {
                    0.5
                }
            } else {
                phi_cdf(z / delta.sqrt())
            };
            let e1 = ch.expect_given(z, gh.rule(), &mut |h| h);
            let e0 = ch.expect_given(z, gh.rule(), &mut |_| 1.0);
            let e2 = ch.expect_given(z, gh.rule(), &mut |h| h * h);
            // Only h = ±1 may be evaluated.
            let ebad = ch.expect_given(z, gh.rule(), &mut |h| {
                if h == 1.0 || h == -1.0 { 0.0 } else { 1.0 }
            });
            // An asymmetric f separates the two probabilities.
            let eup = ch.expect_given(z, gh.rule(), &mut |h| if h > 0.0 { 1.0 } else { 0.0 });
            assert!(
                close(e1, 2.0 * p_plus - 1.0, EXACT_TOL, 1.0),
                "Δ={delta} z={z}: {e1}"
            );
            assert!(close(eup, p_plus, EXACT_TOL, 1.0), "Δ={delta} z={z}: {eup}");
            assert!(close(e0, 1.0, EXACT_TOL, 1.0) && close(e2, 1.0, EXACT_TOL, 1.0));
            assert_eq!(ebad, 0.0);
            for xi in XI_GRID {
                let pre = z + delta.sqrt() * xi;
                let s = ch.sample(z, xi);
                assert!(s == 1.0 || s == -1.0);
                if pre != 0.0 {
                    assert_eq!(s, pre.signum(), "Δ={delta} z={z} ξ={xi}");
                }
            }
        }
    }
}

#[test]
fn relu_expect_given_and_sample() {
    let gh = GaussHermite::<f64, 40>::new();
    for delta in [0.0f64, 0.05, 1.0] {
        let ch = Relu::new(delta).unwrap();
        for z in Z_GRID {
            let m = z.max(0.0);
            let e1 = ch.expect_given(z, gh.rule(), &mut |h| h);
            let e2 = ch.expect_given(z, gh.rule(), &mut |h| h * h);
            let ec = ch.expect_given(z, gh.rule(), &mut |h| h.cos());
            assert!(close(e1, m, EXACT_TOL, 1.0), "Δ={delta} z={z}: E h = {e1}");
            assert!(
                close(e2, m * m + delta, EXACT_TOL, 1.0),
                "Δ={delta} z={z}: {e2}"
            );
            let want = m.cos() * (-0.5 * delta).exp();
            assert!(
                close(ec, want, EXACT_TOL, 1.0),
                "Δ={delta} z={z}: E cos h = {ec}"
            );
            for xi in XI_GRID {
                let want = m + delta.sqrt() * xi;
                assert!(close(ch.sample(z, xi), want, EXACT_TOL, 1.0));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Closed forms.

/// With A = 0 the linear hidden Z is the moment generating function of N(ω, V + Δ):
/// `log Z = Bω + B²S/2`, so mean = ω + B S and var = S (mean = ω at B = 0).
#[test]
fn linear_hidden_without_prior_precision_is_the_gaussian_mgf() {
    for delta in [0.0f64, 1e-8, 0.3] {
        let ch = Linear::new(delta).unwrap();
        for v in [0.05, 0.7, 4.0] {
            for omega in [-3.0, -0.2, 1.9] {
                for b in [0.0, -2.5, 0.4, 3.0] {
                    let s = v + delta;
                    let m = ch.hidden(0.0, b, v, omega);
                    let ctx = format!("Δ={delta} V={v} ω={omega} B={b}: {m:?}");
                    assert!(close(m.mean, omega + b * s, EXACT_TOL, 1.0), "{ctx}");
                    assert!(close(m.var, s, EXACT_TOL, 1.0), "{ctx}");
                    assert!(
                        close(m.log_z, b * omega + 0.5 * b * b * s, EXACT_TOL, 1.0),
                        "{ctx}"
                    );
                    assert!(close(m.g, b, EXACT_TOL, 1.0) && m.dg == 0.0, "{ctx}");
                    if b == 0.0 {
                        assert!(close(m.mean, omega, EXACT_TOL, 1.0), "{ctx}");
                    }
                }
            }
        }
    }
}

/// `Z = P(sign(z + ξ) = y) = Φ(y ω/√(V + Δ))`.
#[test]
fn sign_output_is_log_phi() {
    for delta in [0.0f64, 0.1, 1.0] {
        let ch = Sign::new(delta).unwrap();
        for v in [0.05, 0.3, 1.0, 4.0] {
            for omega in [-3.0, -0.5, 0.0, 0.25, 3.0] {
                for y in [-1.0, 1.0] {
                    let got = ch.output(y, v, omega).log_z;
                    let want = phi_cdf(y * omega / (v + delta).sqrt()).ln();
                    assert!(
                        close(got, want, EXACT_TOL, 1.0),
                        "Δ={delta} y={y} V={v} ω={omega}: {got} vs {want}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Observations and parameters.

#[test]
fn sign_checks_observations() {
    let ch = Sign::new(0.1).unwrap();
    assert_eq!(Channel::<f64>::check_observation(&ch, 1.0), Ok(()));
    assert_eq!(Channel::<f64>::check_observation(&ch, -1.0), Ok(()));
    for y in [0.5, f64::NAN, 0.0, -0.5, 2.0, f64::INFINITY] {
        assert_eq!(
            Channel::<f64>::check_observation(&ch, y),
            Err(Error::UnsupportedObservation { channel: "sign" }),
            "y = {y}"
        );
    }
    let ch32 = Sign::new(0.0f32).unwrap();
    assert!(ch32.check_observation(-1.0).is_ok());
    assert!(ch32.check_observation(0.5).is_err() && ch32.check_observation(f32::NAN).is_err());
}

#[test]
fn continuous_channels_accept_finite_observations() {
    let chans: [Box<dyn Channel<f64>>; 2] = [
        Box::new(Linear::new(0.3).unwrap()),
        Box::new(Relu::new(0.3).unwrap()),
    ];
    for ch in &chans {
        for y in [-3.0, 0.0, 0.5, 1e10] {
            assert_eq!(ch.check_observation(y), Ok(()));
        }
        for y in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                ch.check_observation(y),
                Err(Error::NonFinite { .. })
            ));
        }
    }
}

#[test]
fn constructors_reject_invalid_noise() {
    for d in [-1e-12, -1.0, f64::NAN, f64::INFINITY] {
        assert!(Linear::new(d).is_err() && Sign::new(d).is_err() && Relu::new(d).is_err());
    }
    assert!(Linear::new(0.0).is_ok() && Sign::new(0.0).is_ok() && Relu::new(0.0).is_ok());
}
