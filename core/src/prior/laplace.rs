//! The Laplace prior of the LASSO, `P_X(x) = (λ/2) e^{−λ|x|}`: exact MMSE and MAP (soft
//! threshold) scalar denoisers.

use super::RowPriorForm;
use super::{Posterior, Prior};
use crate::error::Error;
use crate::estimator::Estimator;
use crate::quadrature::{GaussLegendre, Rule};
use crate::real::Real;
use crate::special::{
    LN_SQRT_2PI, erfcx, log_add_exp, log_norm_cdf, log_norm_cdf_dd, x_plus_inv_mills,
};

/// From `y = κ/√(2A) ≥ 3` on, a half-line's moments come from the continued fraction of
/// erfcx (exact to f64 round-off there with [`CF_TERMS`] terms).
const CF_FROM: f64 = 3.0;
/// Terms of the continued fraction (as in [`crate::special`]).
const CF_TERMS: usize = 48;
/// Gauss–Legendre nodes per panel of [`Laplace::law`].
const LAW_NODES: usize = 8;
/// Panel edges of [`Laplace::law`] in `s = λ|x|` (an Exp(1) variable on each half-line):
/// graded geometrically (ratio 4) towards the kink at 0 down to `4^{−10} ≈ 1e-6`, then panels
/// widening with `s` up to 48 (`e^{−48} ≈ 1.4e-21`: the neglected tail of E s² is ~3e-18
/// relative).
const LAW_EDGES: [f64; 27] = [
    0.0,
    9.536_743_164_062_5e-7,
    3.814_697_265_625e-6,
    1.525_878_906_25e-5,
    6.103_515_625e-5,
    2.441_406_25e-4,
    9.765_625e-4,
    3.906_25e-3,
    1.562_5e-2,
    6.25e-2,
    0.25,
    1.0,
    1.5,
    2.0,
    3.0,
    4.0,
    5.5,
    7.0,
    9.0,
    11.5,
    14.5,
    18.0,
    22.0,
    27.0,
    33.0,
    40.0,
    48.0,
];

/// The Laplace (double-exponential) prior `P_X(x) = (λ/2) e^{−λ|x|}`, `λ > 0`: the prior whose
/// MAP estimator is the LASSO's soft threshold. Mean 0, variance `2/λ²`.
///
/// **MMSE** ([`Prior::posterior`]): the scalar denoiser of eq. 9 of Manoel, Krzakala, Mézard,
/// Zdeborová, "Multi-layer generalized linear estimation", for this prior. The tilted measure
/// `P_X(x) e^{−A x²/2 + B x}` is two truncated Gaussians, `e^{−A x²/2 − κ₊ x}` on `x > 0` and
/// `e^{−A x²/2 + κ₋ x}` on `x < 0`, with `κ₊ = λ − B` and `κ₋ = λ + B`. Each half-line
/// `h(κ) = ∫_0^∞ e^{−A x²/2 − κ x} dx` has, with `t = −κ/√A` and `y = −t/√2 = κ/√(2A)`,
///
/// - `h = √(2π/A) e^{t²/2} Φ(t) = √(π/(2A)) erfcx(y)`,
/// - mean `m = (t + φ(t)/Φ(t))/√A` and variance `v = (1 + (log Φ)''(t))/A`,
///
/// evaluated in the log domain: `ln h = ln √(2π) − ½ ln A + ln(½ erfcx(y))` for `t ≤ 0`,
/// `… + t²/2 + log Φ(t)` for `t > 0`. In the far tail `y ≥ 3` (the branch is an exponential
/// of rate `κ` barely bent by `A`) the continued fraction
/// `erfcx(y) = 1/(√π (y + τ(y)))`, `τ = ½/(y + τ₂)`, `τ₂ = 1/(y + (3/2)/(y + …))`, gives
/// without cancellation `h = 1/(κ (1 + τ/y))`, `m = 2yτ/κ`, and
/// `v = 2y(τ₂ − τ)/(κ² (1 + τ₂/y))` (from `(log Φ)'' = 2cτ − 1` rewritten as
/// `−(τ₂ − τ)/(y + τ₂)`, `c = y + τ`; the plain form loses ~`t²` ulp). Then
/// `log Z = ln(λ/2) + ln(h₊ + h₋)` (log-sum-exp), with branch weights `w± = h±/(h₊ + h₋)`:
///
/// - mean `w₊ m₊ − w₋ m₋`,
/// - variance `w₊ v₊ + w₋ v₋ + w₊ w₋ (m₊ + m₋)²` (every term `≥ 0`).
///
/// Finite and accurate for `|B|` up to 1e8 and `A` from 1e-8 to 1e8 (and beyond). At `A = 0`
/// the measure is integrable only for `|B| < λ`: `log Z = ln(λ²/(λ² − B²))`, mean
/// `2B/(λ² − B²)`, variance `2(λ² + B²)/(λ² − B²)²` (the same formulas with `h = 1/κ`); for
/// `A = 0`, `|B| ≥ λ` it returns `log Z = +∞`, mean `±∞` (the sign of `B`), variance `+∞`.
///
/// **MAP** ([`Prior::map`]): the soft threshold `x̂ = sign(B) max(|B| − λ, 0)/A`,
/// `∂x̂/∂B = 1/A` for `|B| > λ` and 0 otherwise, maximised value
/// `ln(λ/2) + max(|B| − λ, 0)²/(2A)`. (At `A = 0`: 0 for `|B| ≤ λ`, else unbounded: `±∞`.)
///
/// **Law** ([`Prior::law`]): by symmetry, `x = ±s/λ` with `s ~ Exp(1)`, each sign with
/// probability ½; `s` by 8-point Gauss–Legendre panels on `[0, 48]`, graded geometrically
/// towards the kink at 0 (down to `1e-6`) and widening away from it, weights `e^{−s}`
/// renormalised to sum exactly to one: 416 points, `E x²` and `E x⁴` exact to 1e-12 relative
/// or better. The
/// Gauss–Hermite `rule` is not used. The state evolution averages over this law through the
/// default [`Prior::se`].
///
/// **Sampling** ([`Prior::sample`]): the inverse CDF at `u`: `ln(2u)/λ` for `u < ½`,
/// `−ln(2(1 − u))/λ` otherwise (`u = 0` is taken as the smallest positive normal float, so the
/// draw stays finite); the normal `xi` is unused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Laplace<T> {
    /// λ > 0.
    lambda: T,
    /// `ln(λ/2)`.
    log_half_lambda: T,
    /// The estimator of its ML-Mat-VAMP row form.
    row_estimator: Estimator,
}

impl<T: Real> Laplace<T> {
    /// The prior of rate `lambda` (`P_X(x) = (λ/2) e^{−λ|x|}`).
    ///
    /// Errors: [`Error::InvalidParameter`] (`"lambda"`) unless `lambda` is finite and `> 0`.
    pub fn new(lambda: T) -> Result<Self, Error> {
        crate::error::scale("lambda", lambda)?;
        Ok(Self {
            lambda,
            log_half_lambda: (lambda * T::HALF).ln(),
            row_estimator: Estimator::Mmse,
        })
    }

    /// The same prior whose ML-Mat-VAMP row estimator ([`Prior::row_form`]) is `estimator`
    /// (MMSE by default: exact for `d = 1`; MAP, the LASSO's proximal step, in any `d`).
    pub fn with_row_estimator(self, estimator: Estimator) -> Self {
        Self {
            row_estimator: estimator,
            ..self
        }
    }

    /// λ, the rate.
    pub fn lambda(&self) -> T {
        self.lambda
    }
}

/// `(ln h, m, v)` of the half-line measure `e^{−A x²/2 − κ x}` on `x > 0` (see [`Laplace`]):
/// its log-mass, mean and variance. For `A = 0` and `κ ≤ 0` the mass is infinite.
fn half_line<T: Real>(kappa: T, a: T) -> Posterior<T> {
    if a == T::ZERO {
        if kappa > T::ZERO {
            let m = T::ONE / kappa;
            return Posterior {
                mean: m,
                var: m * m,
                log_z: -kappa.ln(),
            };
        }
        return Posterior {
            mean: T::INFINITY,
            var: T::INFINITY,
            log_z: T::INFINITY,
        };
    }
    let sa = a.sqrt();
    let y = kappa / (sa * T::c(core::f64::consts::SQRT_2));
    if y >= T::c(CF_FROM) {
        half_line_tail(kappa, y)
    } else {
        half_line_direct(kappa, a, sa, y)
    }
}

/// [`half_line`] in the far tail, `y = κ/√(2A) ≥ 3`, from the continued fraction.
fn half_line_tail<T: Real>(kappa: T, y: T) -> Posterior<T> {
    // Backwards to D₂ = y + (3/2)/(y + 2/(y + …)); τ₂ = 1/D₂, τ = ½/(y + τ₂).
    let mut d = y;
    let mut k = CF_TERMS;
    while k > 2 {
        d = y + T::from_usize(k) * T::HALF / d;
        k -= 1;
    }
    let tau2 = T::ONE / d;
    let tau = T::HALF / (y + tau2);
    let (q1, q2) = (y * tau, y * tau2);
    Posterior {
        mean: (q1 + q1) / kappa,
        var: ((q2 - q1) * T::TWO / (T::ONE + tau2 / y) / kappa / kappa).max(T::ZERO),
        log_z: -kappa.ln() - (tau / y).ln_1p(),
    }
}

/// [`half_line`] through Φ and erfcx (`sa = √A`, `y = κ/√(2A)`), for `y < 3`.
fn half_line_direct<T: Real>(kappa: T, a: T, sa: T, y: T) -> Posterior<T> {
    let t = -kappa / sa;
    let g = if t <= T::ZERO {
        (T::HALF * erfcx(y)).ln()
    } else {
        T::HALF * t * t + log_norm_cdf(t)
    };
    Posterior {
        mean: x_plus_inv_mills(t) / sa,
        var: ((T::ONE + log_norm_cdf_dd(t)) / a).max(T::ZERO),
        log_z: T::c(LN_SQRT_2PI) - T::HALF * a.ln() + g,
    }
}

impl<T: Real> Prior<T> for Laplace<T> {
    /// The exact MMSE denoiser (see the type's docs).
    fn posterior(&self, a: T, b: T) -> Posterior<T> {
        let pos = half_line(self.lambda - b, a);
        let neg = half_line(self.lambda + b, a);
        if pos.log_z == T::INFINITY || neg.log_z == T::INFINITY {
            let sign = if b < T::ZERO { -T::ONE } else { T::ONE };
            return Posterior {
                mean: sign * T::INFINITY,
                var: T::INFINITY,
                log_z: T::INFINITY,
            };
        }
        let lse = log_add_exp(pos.log_z, neg.log_z);
        let wp = (pos.log_z - lse).exp();
        let wn = (neg.log_z - lse).exp();
        let spread = pos.mean + neg.mean;
        Posterior {
            mean: wp * pos.mean - wn * neg.mean,
            var: wp * pos.var + wn * neg.var + wp * wn * spread * spread,
            log_z: self.log_half_lambda + lse,
        }
    }

    /// 0.
    fn mean(&self) -> T {
        T::ZERO
    }

    /// `2/λ²`.
    fn second_moment(&self) -> T {
        T::TWO / (self.lambda * self.lambda)
    }

    /// Graded Gauss–Legendre panels on each half-line (see the type's docs); `rule` unused.
    fn law(&self, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        let _ = rule;
        let gl = GaussLegendre::<T, LAW_NODES>::new();
        // The rule's nodes and weights on [−1, 1], read off through `integrate`.
        let mut nodes = [T::ZERO; LAW_NODES];
        let mut k = 0;
        let weights: [T; LAW_NODES] = gl.integrate(-T::ONE, T::ONE, |x| {
            let mut e = [T::ZERO; LAW_NODES];
            if k < LAW_NODES {
                e[k] = T::ONE;
                nodes[k] = x;
            }
            k += 1;
            e
        });
        let each = |f: &mut dyn FnMut(T, T)| {
            for w in LAW_EDGES.windows(2) {
                let (lo, hi) = (T::c(w[0]), T::c(w[1]));
                let (c, h) = ((lo + hi) * T::HALF, (hi - lo) * T::HALF);
                for (&x, &wt) in nodes.iter().zip(&weights) {
                    let s = c + h * x;
                    f(s, h * wt * (-s).exp());
                }
            }
        };
        let mut total = T::ZERO;
        each(&mut |_, p| total += p);
        let scale = T::HALF / total;
        let inv = T::ONE / self.lambda;
        each(&mut |s, p| {
            visit(-s * inv, p * scale);
            visit(s * inv, p * scale);
        });
    }

    /// [`crate::mat::LaplaceRow`] with the prior's row estimator; MMSE needs `d = 1` (for
    /// `d > 1` the precisions are not diagonal, and the belief is a non-Gaussian integral).
    fn row_form(&self, d: usize) -> Result<RowPriorForm<'_, T>, Error> {
        if self.row_estimator == Estimator::Mmse && d > 1 {
            return Err(Error::Unsupported {
                field: "prior.estimator",
                reason: "the Laplace prior's MMSE row estimator needs d = 1 (with d > 1 the \
                         precisions are not diagonal): use estimator = \"map\" (the LASSO)",
            });
        }
        Ok(RowPriorForm::Laplace {
            lambda: self.lambda,
            estimator: self.row_estimator,
        })
    }

    /// The inverse CDF at `u` (see the type's docs); `xi` unused.
    fn sample(&self, u: T, xi: T) -> T {
        let _ = xi;
        if u < T::HALF {
            (T::TWO * u.max(T::MIN_POSITIVE)).ln() / self.lambda
        } else {
            -(T::TWO * (T::ONE - u)).ln() / self.lambda
        }
    }

    /// The soft threshold (see the type's docs).
    fn map(&self, a: T, b: T) -> Option<Posterior<T>> {
        let excess = (b.abs() - self.lambda).max(T::ZERO);
        let sign = if b < T::ZERO { -T::ONE } else { T::ONE };
        if excess == T::ZERO {
            return Some(Posterior {
                mean: T::ZERO,
                var: T::ZERO,
                log_z: self.log_half_lambda,
            });
        }
        Some(Posterior {
            mean: sign * excess / a,
            var: T::ONE / a,
            log_z: self.log_half_lambda + excess * (excess / a) * T::HALF,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quadrature::GaussHermite;

    #[test]
    fn constructor_checks() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                Laplace::new(bad),
                Err(Error::InvalidParameter {
                    name: "lambda",
                    requirement: crate::error::SCALE_REQUIREMENT
                })
            );
        }
        assert_eq!(Laplace::new(2.0).map(|p| p.lambda()), Ok(2.0));
    }

    #[test]
    fn zero_precision_closed_form() {
        // A = 0, λ = 2, B = 1: Z = λ²/(λ² − B²) = 4/3, mean 2/3, var 2·5/9 = 10/9.
        let p = Laplace::new(2.0).unwrap().posterior(0.0, 1.0);
        assert!((p.log_z - (4.0f64 / 3.0).ln()).abs() < 1e-15);
        assert!((p.mean - 2.0 / 3.0).abs() < 1e-15);
        assert!((p.var - 10.0 / 9.0).abs() < 1e-15);
        let p = Laplace::new(2.0).unwrap().posterior(0.0, -3.0);
        assert_eq!(
            (p.mean, p.var, p.log_z),
            (-f64::INFINITY, f64::INFINITY, f64::INFINITY)
        );
    }

    #[test]
    fn tail_branch_matches_direct_branch() {
        // Both evaluations of a half-line agree on 3 ≤ y ≤ 6 (where the direct one loses at
        // most a factor t² = 2y² ≤ 72 to cancellation in the variance).
        for a in [1e-3, 1.0, 1e4] {
            for i in 0..=30 {
                let y = 3.0 + 0.1 * i as f64;
                let sa = f64::sqrt(a);
                let k = y * (2.0 * a).sqrt();
                let cf = half_line_tail(k, y);
                let dir = half_line_direct(k, a, sa, y);
                let rel = |p: f64, q: f64| (p - q).abs() / q.abs().max(1e-300);
                assert!((cf.log_z - dir.log_z).abs() < 1e-13 * dir.log_z.abs().max(1.0));
                assert!(rel(cf.mean, dir.mean) < 1e-14, "y = {y}");
                assert!(
                    rel(cf.var, dir.var) < 1e-13,
                    "y = {y}: {}",
                    rel(cf.var, dir.var)
                );
            }
        }
    }

    #[test]
    fn law_sums_to_one_and_integrates_moments() {
        let gh = GaussHermite::<f64, 4>::new();
        let prior = Laplace::new(0.7).unwrap();
        let (mut s0, mut s2, mut s4) = (0.0, 0.0, 0.0);
        prior.law(gh.rule(), &mut |x, p| {
            s0 += p;
            s2 += p * x * x;
            s4 += p * x.powi(4);
        });
        assert!((s0 - 1.0).abs() < 1e-15);
        assert!((s2 / prior.second_moment() - 1.0).abs() < 1e-13);
        // E x⁴ = 24/λ⁴.
        assert!((s4 * 0.7f64.powi(4) / 24.0 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sample_is_the_inverse_cdf() {
        let prior = Laplace::new(2.0).unwrap();
        for &u in &[0.0, 1e-300, 0.1, 0.5, 0.75, 1.0 - 1e-16] {
            let x: f64 = prior.sample(u, 0.0);
            assert!(x.is_finite());
            let cdf = if x < 0.0 {
                0.5 * (2.0 * x).exp()
            } else {
                1.0 - 0.5 * (-2.0 * x).exp()
            };
            if u > 1e-300 {
                assert!((cdf - u).abs() < 1e-15 * u.max(1e-300) + 1e-16, "u = {u}");
            }
        }
    }
}
