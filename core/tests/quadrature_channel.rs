//! The generic `QuadratureChannel` against independent references:
//! - with a Gaussian likelihood `h = z + N(0, Δ)` it must reproduce the closed-form `Linear`
//!   channel (whose formulas are the Gaussian integrals `N(y; ω, V + Δ)` and the tilted
//!   `N(h; ω, V + Δ)`);
//! - with `h = tanh(z) + N(0, σ²)` its `log Z` must match a brute-force integral written here,
//!   and its derivatives (`g`, `∂g`, mean, variance) finite differences of its own `log Z`.

mod common;

use mlamp_core::Real;
use mlamp_core::channel::{Channel, Likelihood, Linear, QuadratureChannel};
use mlamp_core::quadrature::GaussHermite;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// `h = z + N(0, Δ)`.
#[derive(Clone, Copy, Debug)]
struct AdditiveGaussian {
    delta: f64,
}

impl<T: Real> Likelihood<T> for AdditiveGaussian {
    fn log_density(&self, h: T, z: T) -> T {
        let d = T::c(self.delta);
        -(h - z).sq() / (T::TWO * d) - T::HALF * (T::c(LN_2PI) + d.ln())
    }
    fn location_scale(&self, z: T) -> (T, T) {
        (z, T::c(self.delta).sqrt())
    }
    fn sample(&self, z: T, xi: T) -> T {
        z + T::c(self.delta).sqrt() * xi
    }
}

/// `h = tanh(z) + N(0, σ²)`.
#[derive(Clone, Copy, Debug)]
struct TanhNoise {
    noise_var: f64,
}

impl<T: Real> Likelihood<T> for TanhNoise {
    fn log_density(&self, h: T, z: T) -> T {
        let d = T::c(self.noise_var);
        -(h - z.tanh()).sq() / (T::TWO * d) - T::HALF * (T::c(LN_2PI) + d.ln())
    }
    fn location_scale(&self, z: T) -> (T, T) {
        (z.tanh(), T::c(self.noise_var).sqrt())
    }
    fn sample(&self, z: T, xi: T) -> T {
        z.tanh() + T::c(self.noise_var).sqrt() * xi
    }
}

/// `|got − want| ≤ tol · max(1, |want|)`.
fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want.abs().max(1.0)
}

use common::simpson;

/// log of the normal density N(x; m, v).
fn log_normal(x: f64, m: f64, v: f64) -> f64 {
    -(x - m).powi(2) / (2.0 * v) - 0.5 * (LN_2PI + v.ln())
}

/// Five-point central differences `(f'(x), f''(x))`.
fn fd(f: impl Fn(f64) -> f64, x: f64, h1: f64, h2: f64) -> (f64, f64) {
    let d1 = (f(x - 2.0 * h1) - 8.0 * f(x - h1) + 8.0 * f(x + h1) - f(x + 2.0 * h1)) / (12.0 * h1);
    let d2 = (-f(x - 2.0 * h2) + 16.0 * f(x - h2) - 30.0 * f(x) + 16.0 * f(x + h2)
        - f(x + 2.0 * h2))
        / (12.0 * h2 * h2);
    (d1, d2)
}

const VS: [f64; 5] = [0.05, 0.3, 1.0, 2.0, 3.0];

#[test]
fn gaussian_likelihood_output_matches_linear() {
    let gh = GaussHermite::<f64, 80>::new();
    let lik = AdditiveGaussian { delta: 0.5 };
    let quad = QuadratureChannel::new(lik, gh.rule());
    let lin = Linear::new(0.5).unwrap();
    for &y in &[-2.5, -0.7, 0.0, 1.3, 3.0] {
        for &v in &VS {
            for &omega in &[-2.0, 0.0, 0.8, 2.5] {
                let q = quad.output(y, v, omega);
                let l = lin.output(y, v, omega);
                for (name, a, b) in [
                    ("g", q.g, l.g),
                    ("dg", q.dg, l.dg),
                    ("log_z", q.log_z, l.log_z),
                ] {
                    assert!(
                        close(a, b, 1e-8),
                        "y={y} V={v} ω={omega}: {name} quadrature {a} vs linear {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn gaussian_likelihood_hidden_matches_linear() {
    let gh = GaussHermite::<f64, 60>::new();
    let lik = AdditiveGaussian { delta: 0.5 };
    let quad = QuadratureChannel::new(lik, gh.rule());
    let lin = Linear::new(0.5).unwrap();
    for &a in &[0.0, 0.5, 2.0, 5.0] {
        for &b in &[-2.0, 0.0, 1.5, 3.0] {
            for &v in &VS {
                for &omega in &[-1.5, 0.0, 2.0] {
                    let q = quad.hidden(a, b, v, omega);
                    let l = lin.hidden(a, b, v, omega);
                    for (name, x, y) in [
                        ("g", q.g, l.g),
                        ("dg", q.dg, l.dg),
                        ("mean", q.mean, l.mean),
                        ("var", q.var, l.var),
                        ("log_z", q.log_z, l.log_z),
                    ] {
                        assert!(
                            close(x, y, 1e-8),
                            "A={a} B={b} V={v} ω={omega}: {name} quadrature {x} vs linear {y}"
                        );
                    }
                }
            }
        }
    }
}

const TANH_NOISE: f64 = 0.1;

/// Brute-force `log ∫ dz N(y; tanh z, σ²) N(z; ω, V)` by Simpson over ω ± 14√V.
fn tanh_output_log_z(y: f64, v: f64, omega: f64) -> f64 {
    let sd = v.sqrt();
    let z = simpson(omega - 14.0 * sd, omega + 14.0 * sd, 40_000, |z| {
        (log_normal(y, z.tanh(), TANH_NOISE) + log_normal(z, omega, v)).exp()
    });
    z.ln()
}

/// Brute-force `log ∫∫ dz dh N(h; tanh z, σ²) N(z; ω, V) e^{−A h²/2 + B h}` by Simpson in both
/// variables (h over ±14σ around tanh z, with the tilt's value at tanh z factored out).
fn tanh_hidden_log_z(a: f64, b: f64, v: f64, omega: f64) -> f64 {
    let sd = v.sqrt();
    let s = TANH_NOISE.sqrt();
    let z = simpson(omega - 14.0 * sd, omega + 14.0 * sd, 4_000, |z| {
        let m = z.tanh();
        let inner = simpson(m - 14.0 * s, m + 14.0 * s, 800, |h| {
            (log_normal(h, m, TANH_NOISE) - 0.5 * a * h * h + b * h).exp()
        });
        inner * log_normal(z, omega, v).exp()
    });
    z.ln()
}

/// The quadrature is only accurate while the likelihood is smooth on the scale √V (with
/// h = tanh z + N(0, 0.1) and V = 2 the output `log Z` is off by 4e-3), so V stays ≤ 0.3 for
/// the output function and ≤ 0.5 for the hidden one (whose h-integral smooths it).
#[test]
fn tanh_likelihood_output_matches_brute_force() {
    let gh = GaussHermite::<f64, 80>::new();
    let quad = QuadratureChannel::new(
        TanhNoise {
            noise_var: TANH_NOISE,
        },
        gh.rule(),
    );
    for &y in &[-1.2, -0.6, 0.0, 0.3, 0.9] {
        for &v in &[0.02, 0.05, 0.1, 0.3] {
            for &omega in &[-1.5, 0.0, 0.4, 2.0] {
                let at = format!("y={y} V={v} ω={omega}");
                let q = quad.output(y, v, omega);
                let want = tanh_output_log_z(y, v, omega);
                assert!(
                    close(q.log_z, want, 1e-8),
                    "{at}: log Z {} vs {want}",
                    q.log_z
                );
                // g, ∂g: derivatives in ω of the channel's own log Z and of the brute force.
                let (d1, d2) = fd(|w| quad.output(y, v, w).log_z, omega, 1e-3, 5e-3);
                let (b1, b2) = fd(|w| tanh_output_log_z(y, v, w), omega, 1e-3, 5e-3);
                for (what, g1, g2) in [("FD", d1, d2), ("brute-force FD", b1, b2)] {
                    assert!(close(q.g, g1, 1e-6), "{at}: g {} vs {what} {g1}", q.g);
                    assert!(close(q.dg, g2, 1e-5), "{at}: dg {} vs {what} {g2}", q.dg);
                }
            }
        }
    }
}

#[test]
fn tanh_likelihood_hidden_matches_brute_force() {
    let gh = GaussHermite::<f64, 60>::new();
    let quad = QuadratureChannel::new(
        TanhNoise {
            noise_var: TANH_NOISE,
        },
        gh.rule(),
    );
    for &a in &[0.0, 1.0, 4.0] {
        for &b in &[-1.5, 0.0, 2.0] {
            for &v in &[0.02, 0.1, 0.5] {
                for &omega in &[-1.0, 0.3, 1.5] {
                    let at = format!("A={a} B={b} V={v} ω={omega}");
                    let q = quad.hidden(a, b, v, omega);
                    let want = tanh_hidden_log_z(a, b, v, omega);
                    assert!(
                        close(q.log_z, want, 1e-7),
                        "{at}: log Z {} vs {want}",
                        q.log_z
                    );
                    let (d1, d2) = fd(|w| quad.hidden(a, b, v, w).log_z, omega, 1e-3, 5e-3);
                    assert!(close(q.g, d1, 1e-6), "{at}: g {} vs FD {d1}", q.g);
                    assert!(close(q.dg, d2, 1e-5), "{at}: dg {} vs FD {d2}", q.dg);
                    // The h-moments are exact derivatives of the quadrature's log Z in B.
                    let (e1, e2) = fd(|bb| quad.hidden(a, bb, v, omega).log_z, b, 1e-3, 5e-3);
                    assert!(close(q.mean, e1, 1e-9), "{at}: mean {} vs FD {e1}", q.mean);
                    assert!(close(q.var, e2, 1e-7), "{at}: var {} vs FD {e2}", q.var);
                    assert!(q.var > 0.0, "{at}: var {}", q.var);
                }
            }
        }
    }
}

#[test]
fn expect_given_integrates_the_likelihood() {
    // E[h | z] and E[h² | z] in closed form: h = m(z) + N(0, σ²).
    let gh = GaussHermite::<f64, 20>::new();
    let lin = QuadratureChannel::new(AdditiveGaussian { delta: 0.5 }, gh.rule());
    let tanh = QuadratureChannel::new(
        TanhNoise {
            noise_var: TANH_NOISE,
        },
        gh.rule(),
    );
    for &z in &[-3.0, -0.4, 0.0, 1.1, 6.0] {
        for (ch, m, s2) in [
            (&lin as &dyn Channel<f64>, z, 0.5),
            (&tanh as &dyn Channel<f64>, f64::tanh(z), TANH_NOISE),
        ] {
            let e1 = ch.expect_given(z, gh.rule(), &mut |h| h);
            let e2 = ch.expect_given(z, gh.rule(), &mut |h| h * h);
            assert!(close(e1, m, 1e-13), "z={z}: E h = {e1}, want {m}");
            assert!(
                close(e2, m * m + s2, 1e-13),
                "z={z}: E h² = {e2}, want {}",
                m * m + s2
            );
        }
    }
}
