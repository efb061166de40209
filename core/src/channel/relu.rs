//! The ReLU channel with additive Gaussian noise: `h = max(0, z) + ξ`, `ξ ~ N(0, Δ)`.

use super::activation;
use super::kind::{ChannelKind, RowChannelForm, activation_form};
use super::output_needs_noise;
use super::{
    Channel, HiddenMessage, OutputMessage, Term, gaussian_law, log_mix2, log_probit, var_floor,
};
use crate::error::{Error, noise_scale};
use crate::estimator::Estimator;
use crate::gaussian::{TiltedGaussian, log_density};
use crate::quadrature::{Accumulator, GaussHermite, GradedNormal, Rule};
use crate::real::Real;
use crate::se::{SeQuadrature, SeTerms, fine_scale};
use crate::special::{erfcx, inv_mills, log_norm_cdf, log_norm_cdf_dd, norm_cdf, x_plus_inv_mills};

/// The slope `β` (see [`Relu::se_average`]) above which the `z > 0` branch is integrated in
/// the posterior coordinates (ẑ, w) rather than in (w, o). Gauss–Hermite in `o` given `w`
/// resolves the weight `Φ(α + βx)` only while its step is wide (with 32 nodes, measured:
/// relative error 1e-16 at β = 0.32, 5e-9 at β = 0.72, 1.4e-7 at β = 1); the posterior
/// coordinates lose about `2 log₁₀(1/β)` digits to the cancellation in `o` as β → 0.
const STEEP_SLOPE: f64 = 0.25;

/// Gauss–Hermite nodes of the hidden layer's averages over a Gaussian (the blur `σ ξ` of the
/// point mass, `w` given ẑ): their integrands vary on the scale of the Gaussian's width or
/// slower (16 nodes agree with 32 to 1e-9 at the test points). The output layer's likelihood
/// is steep in `y` where Δ is small, and it takes the state evolution's 32-node rule.
const HIDDEN_POINTS: usize = 16;

/// Gauss–Legendre points per panel of the outer graded rule (10 agree with the state
/// evolution's 12 to 1e-9 at the test points).
const PANEL_POINTS: usize = 10;

/// A weight below which a node is skipped: `Φ(−w/√V)` for `w > 9.3 √V`, `Φ(ẑ/√P)` for
/// `ẑ < −9.3 √P` (what is skipped is below 1e-20 of the average, for integrands bounded by
/// polynomials).
const NEGLIGIBLE: f64 = 1e-20;

/// `P_out(h|z) = N(h; max(0, z), Δ)`. As a hidden layer Δ ≥ 0 (Δ = 0: a noiseless ReLU); as
/// the output channel the density of `y` needs Δ > 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Relu<T> {
    noise_var: T,
}

impl<T: Real> Relu<T> {
    /// Noise variance Δ ≥ 0.
    pub fn new(noise_var: T) -> Result<Self, Error> {
        noise_scale("noise_var", noise_var)?;
        Ok(Self { noise_var })
    }

    /// The state evolution's 2-D average `E f(o, w)` over the pre-activation mean
    /// `w ~ N(0, m)` and a Gaussian observation `o = c·max(0, z) + σ ξ` of the ReLU's
    /// noiseless output, `z = w + √V η`, `V = ρ − m`, `η, ξ ~ N(0, 1)`, `σ² = s0_sq`: the field
    /// `b = Â h + √Â ξ'` of a hidden layer (`c = Â`, `σ² = Â(1 + ÂΔ)`: `h = max(0, z) + √Δ ε`)
    /// or the observation `y` of an output layer (`c = 1`, `σ² = Δ`). The law of `o` given `w`
    /// is known in closed form (no quadrature over z), a point mass at `z < 0` and a
    /// truncated Gaussian at `z > 0`, each blurred by `σ ξ`:
    /// - `z < 0`, probability `Φ(−w/√V)`: `o ~ N(0, σ²)` — the graded rule over w (fine scale
    ///   `√(V/m)`) times the Gauss–Hermite `rule` over `o/σ`;
    /// - `z > 0`: the Gaussian model `o = c z + σ ξ` weighted by `P(z > 0 | w, o) = Φ(ẑ/√P)`,
    ///   `ẑ = P (w/V + c o/σ²)` and `P = V/(1 + β²)` the posterior mean and variance of z,
    ///   `β = c √V/σ`. Where the step is steep, `β >` [`STEEP_SLOPE`], in the coordinates it
    ///   lives in: `ẑ ~ N(0, ρ − P)` by the graded rule (fine scale `√(P/(ρ − P))`) times
    ///   `w | ẑ ~ N(m ẑ/(ρ − P), m (V − P)/(ρ − P))` by `rule`, with `o = (ẑ/P − w/V) σ²/c`.
    ///   Otherwise over w as above, then `o = c w + s x`, `s² = c² V + σ²`, by `rule` in x
    ///   with the weight `Φ(α + β x)`, `α = w s/(σ √V)`.
    ///
    /// The graded rule has [`PANEL_POINTS`] per panel; nodes of weight below [`NEGLIGIBLE`]
    /// are skipped. Degenerate cases: `c = 0` (then `o = σ ξ` whatever z) and `σ = 0`
    /// (`o = c·max(0, z)`: the Gaussian over `z` with the kink as a panel edge).
    fn se_average<A: Accumulator<T>>(
        rho: T,
        m: T,
        c: T,
        s0_sq: T,
        rule: Rule<'_, T>,
        mut f: impl FnMut(T, T) -> A,
    ) -> A {
        let graded = GradedNormal::<T, PANEL_POINTS>::new();
        let negligible = T::c(NEGLIGIBLE);
        let m = m.max(T::ZERO);
        let v = (rho - m).max(T::ZERO);
        let (sm, sv) = (m.sqrt(), var_floor(v).sqrt());
        let sigma = s0_sq.max(T::ZERO).sqrt();
        let over_w = |g: &mut dyn FnMut(T) -> A| graded.expect(fine_scale(v, m), |t| g(sm * t));
        if sigma == T::ZERO {
            // o = c·max(0, z): z = w + √V x > 0 for x > −w/√V.
            return over_w(&mut |w| {
                let cut = -w / sv;
                graded.expect_around(cut, T::ONE, |x| f(c * (w + sv * x).max(T::ZERO), w))
            });
        }
        // z < 0 (and z > 0 when c = 0), weight Φ(∓w/√V).
        let mut blurred_mass = |sign: T| {
            over_w(&mut |w| {
                let p = norm_cdf(sign * w / sv);
                if p < negligible {
                    return A::zero();
                }
                A::zero().add_scaled(p, rule.expect(|x| f(sigma * x, w)))
            })
        };
        let neg = blurred_mass(-T::ONE);
        if c == T::ZERO {
            return neg.add_scaled(T::ONE, blurred_mass(T::ONE));
        }
        let beta = c * sv / sigma;
        let pos = if beta > T::c(STEEP_SLOPE) {
            let p = v / (T::ONE + beta * beta);
            let var_zh = m + v - p;
            let sd_w = (m * (v - p) / var_zh).max(T::ZERO).sqrt();
            let (sp, sz) = (p.sqrt(), var_zh.sqrt());
            let k = sigma * sigma / c;
            graded.expect(fine_scale(p, var_zh), |t| {
                let zh = sz * t;
                let weight = norm_cdf(zh / sp);
                if weight < negligible {
                    return A::zero();
                }
                let mean_w = m * zh / var_zh;
                let inner = rule.expect(|y| {
                    let w = mean_w + sd_w * y;
                    f((zh / p - w / v) * k, w)
                });
                A::zero().add_scaled(weight, inner)
            })
        } else {
            let s = (c * c * v + sigma * sigma).sqrt();
            over_w(&mut |w| {
                let alpha = w * s / (sigma * sv);
                rule.expect(|x| {
                    A::zero().add_scaled(norm_cdf(alpha + beta * x), f(c * w + s * x, w))
                })
            })
        };
        neg.add_scaled(T::ONE, pos)
    }

    /// The `z < 0` branch as a function of ω: `log Φ(−ω/√V)` plus `extra`.
    #[inline]
    fn negative_branch(omega: T, v: T, extra: T) -> Term<T> {
        let t = log_probit(-T::ONE, omega, v);
        Term {
            value: extra + t.value,
            ..t
        }
    }
}

impl<T: Real> Channel<T> for Relu<T> {
    /// `Z = N(y; 0, Δ) Φ(−ω/√V) + N(y; ω, S) Φ(m/√s)` with `S = V + Δ`,
    /// `m = (ωΔ + yV)/S`, `s = VΔ/S` (the `z > 0` part is the probability that the
    /// posterior of `z` given `y` is positive). Derivatives from each branch, combined by
    /// the two-term log-mixture rule.
    fn output(&self, y: T, v: T, omega: T) -> OutputMessage<T> {
        let v = var_floor(v);
        let delta = var_floor(self.noise_var);
        let s_tot = v + delta;
        let neg = Self::negative_branch(omega, v, log_density(y, delta));
        let sd_post = (v * delta / s_tot).sqrt();
        let u = (omega * delta + y * v) / s_tot / sd_post;
        let du = delta / s_tot / sd_post;
        let pos = Term {
            value: log_density(y - omega, s_tot) + log_norm_cdf(u),
            d1: (y - omega) / s_tot + inv_mills(u) * du,
            d2: -T::ONE / s_tot + log_norm_cdf_dd(u) * du * du,
        };
        let (_, m) = log_mix2(neg, pos);
        OutputMessage {
            g: m.d1,
            dg: m.d2,
            log_z: m.value,
        }
    }

    /// With `k = 1/(1 + AΔ)`, `A' = A k`, `B' = B k` (the h-integral of the noise given z),
    /// `c₀ = −½ ln(1 + AΔ) + B² Δ k/2`, `D = 1 + A'V` and `u = (ω + B'V)/√(V D)`:
    /// `Z = e^{c₀} [Φ(−ω/√V) + e^{−½ ln D + (2ωB' + B'² V − A' ω²)/(2D)} Φ(u)]`,
    /// the second term the `z > 0` part, a Gaussian `N(z; ω, V) e^{−A' z²/2 + B' z}` (a
    /// `gaussian::TiltedGaussian` with `μ = ω`, `v = V`) truncated to z > 0. Each branch is
    /// differentiated in ω and in B, then combined. For u < 0 the second branch is evaluated as
    /// `c₀ − ½ ln D − ω²/(2V) + ln(½ erfcx(−u/√2))` (the same value, without the cancellation
    /// of two terms of size u²/2).
    fn hidden(&self, a: T, b: T, v: T, omega: T) -> HiddenMessage<T> {
        let v = var_floor(v);
        let delta = self.noise_var;
        let k = T::ONE / (T::ONE + a * delta);
        let (ap, bp) = (a * k, b * k);
        let c0 = T::HALF * k.ln() + b * b * delta * k * T::HALF;
        // The z > 0 branch is `N(z; ω, V)` tilted by `e^{−A' z²/2 + B' z}`, then truncated.
        let t = TiltedGaussian::new(omega, v, ap, bp);
        let d = t.d;
        let sd = (v * d).sqrt();
        let u = (omega + bp * v) / sd;
        let ddu = log_norm_cdf_dd(u);
        // The z > 0 branch: its value, its ω-slope and its B-slope (less the noise part).
        let (pos_value, pos_dw, pos_db) = if u < T::ZERO {
            // Where Φ(u) is tiny, log Φ(u) ≈ −u²/2 cancels against the quadratic term: written
            // through erfcx, the quadratic minus u²/2 is exactly −ω²/(2V), and the slopes go
            // through u + r(u), so nothing large is ever subtracted.
            let upr = x_plus_inv_mills(u);
            let lerfcx = (T::HALF * erfcx(-u * T::c(core::f64::consts::FRAC_1_SQRT_2))).ln();
            (
                c0 + t.log_det - omega * omega / (T::TWO * v) + lerfcx,
                -omega / v + upr / sd,
                k * (v / d).sqrt() * upr,
            )
        } else {
            let ru = inv_mills(u);
            (
                c0 + t.log_det + t.exponent + log_norm_cdf(u),
                t.d_mu + ru / sd,
                k * (omega + bp * v) / d + ru * k * v / sd,
            )
        };
        // Branches in ω.
        let neg_w = Self::negative_branch(omega, v, c0);
        let pos_w = Term {
            value: pos_value,
            d1: pos_dw,
            d2: t.d2_mu + ddu / (v * d),
        };
        // Branches in B (same values, so the same weights).
        let neg_b = Term {
            value: neg_w.value,
            d1: b * delta * k,
            d2: delta * k,
        };
        let pos_b = Term {
            value: pos_value,
            d1: b * delta * k + pos_db,
            // The variance of the truncated Gaussian, V/D · (1 + (log Φ)''(u)): the factor lies
            // in (0, 1) but rounds to slightly below 0 as u → −∞, hence the clamp.
            d2: delta * k + k * k * v / d * (T::ONE + ddu).max(T::ZERO),
        };
        let (_, w) = log_mix2(neg_w, pos_w);
        let (_, bb) = log_mix2(neg_b, pos_b);
        HiddenMessage {
            g: w.d1,
            dg: w.d2,
            mean: bb.d1,
            var: bb.d2,
            log_z: w.value,
        }
    }

    /// ML-AMP paper, eq. 13, with the law of `y` given `w` in closed form
    /// (`Relu::se_average` with `c = 1`, `σ² = Δ`): one 2-D quadrature over (w, y) instead
    /// of one over w, z and the noise nested.
    fn se_output(&self, rho: T, m: T, q: &SeQuadrature<'_, T>) -> SeTerms<T> {
        let v = (rho - m).max(T::ZERO);
        let [hat, log_z] = Self::se_average(rho, m, T::ONE, self.noise_var, q.rule, |y, w| {
            let o = self.output(y, v, w);
            [o.g * o.g, o.log_z]
        });
        SeTerms {
            hat,
            overlap: T::ZERO,
            log_z,
        }
    }

    /// ML-AMP paper, eqs. 11–12, with the law of the field `b = Â h + √Â ξ` given `w` in
    /// closed form: `h = max(0, z) + √Δ ε`, so `b = Â max(0, z) + N(0, Â(1 + ÂΔ))`
    /// (`Relu::se_average` with `c = Â`, `σ² = Â(1 + ÂΔ)`). The hidden function depends on
    /// `h` only through `b`: one 2-D quadrature over (w, b) instead of the nested ones over w,
    /// z, the noise and ξ. Its own rules (`HIDDEN_POINTS` Gauss–Hermite nodes,
    /// `PANEL_POINTS` per graded panel), not the state evolution's.
    fn se_hidden(&self, rho: T, m: T, a_hat: T, _q: &SeQuadrature<'_, T>) -> SeTerms<T> {
        let v = (rho - m).max(T::ZERO);
        let a = a_hat.max(T::ZERO);
        let s0_sq = a * (T::ONE + a * self.noise_var);
        let gh = GaussHermite::<T, HIDDEN_POINTS>::new();
        let [hat, overlap, log_z] = Self::se_average(rho, m, a, s0_sq, gh.rule(), |b, w| {
            let o = self.hidden(a, b, v, w);
            [o.g * o.g, o.mean * o.mean, o.log_z]
        });
        SeTerms {
            hat,
            overlap,
            log_z,
        }
    }
}

impl<T: Real> ChannelKind<T> for Relu<T> {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn law(&self, z: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        gaussian_law(z.max(T::ZERO), self.noise_var, rule, visit);
    }

    fn sample(&self, z: T, xi: T) -> T {
        z.max(T::ZERO) + self.noise_var.sqrt() * xi
    }

    fn amp(&self) -> Option<&dyn Channel<T>> {
        Some(self)
    }

    /// `Δ > 0` for an output layer: `y` has a density only with noise.
    fn check_as_output(&self) -> Result<(), Error> {
        output_needs_noise(self.noise_var)
    }

    /// MMSE with `d = 1`: the closed-form scalar channel; otherwise the activation form
    /// (MAP by Newton in any `d`).
    fn row_form(&self, estimator: Estimator, d: usize) -> Result<RowChannelForm<'_, T>, Error> {
        if estimator == Estimator::Mmse && d == 1 {
            return Ok(RowChannelForm::Scalar(self));
        }
        activation_form(&activation::Relu, self.noise_var, estimator, d)
    }
}

#[cfg(test)]
mod tests {
    //! The closed-form state-evolution averages against the nested quadrature they replace,
    //! written out plainly: the same graded rule over `w`, then the pre-activation `z` given `w`
    //! split at the kink of `max(0, z)`, then the Gaussian noise of the observation by the
    //! 32-point Gauss–Hermite rule: `h = max(0, z)` (plus `√Δ ε`) pushed through the channel
    //! by brute force. (Before the closed forms the provided methods of `Channel` nested
    //! Gauss–Hermite over z without the split, 1e-6–1e-4 off at these points.)
    use super::*;
    use crate::quadrature::GaussHermite;
    use std::format;

    /// Agreement asked of the closed forms: `|got − want| ≤ TOL · max(|want|, 1)`.
    const TOL: f64 = 1e-8;

    /// The nested average `E_w E_{z ~ N(w, V)} E_ξ f(c·max(0, z) + σ ξ, w)`: `z = w + √V x`
    /// by the graded rule centred on the kink `x = −w/√V` (an edge, so each panel's integrand
    /// is smooth) with fine scale `σ/(c√V)`, the width of the blur of the kink.
    fn nested<const K: usize>(
        rho: f64,
        m: f64,
        c: f64,
        sigma: f64,
        q: &SeQuadrature<'_, f64>,
        mut f: impl FnMut(f64, f64) -> [f64; K],
    ) -> [f64; K] {
        let v = rho - m;
        let sv = v.sqrt();
        let fine = (sigma / (c * sv)).min(1.0);
        q.graded.expect(fine_scale(v, m), |t| {
            let w = m.sqrt() * t;
            q.graded.expect_around(-w / sv, fine, |x| {
                let zp = (w + sv * x).max(0.0);
                q.rule.expect(|xi| f(c * zp + sigma * xi, w))
            })
        })
    }

    fn close<const K: usize>(got: [f64; K], want: [f64; K], what: &str) {
        for k in 0..K {
            let err = (got[k] - want[k]).abs();
            assert!(
                err <= TOL * want[k].abs().max(1.0),
                "{what}, component {k}: {} vs {} (error {err:e})",
                got[k],
                want[k]
            );
        }
    }

    fn terms(t: SeTerms<f64>) -> [f64; 3] {
        [t.hat, t.overlap, t.log_z]
    }

    /// One hidden-layer case: `se_hidden` against the nested quadrature.
    fn check_hidden(delta: f64, rho: f64, m: f64, a: f64) {
        let gh = GaussHermite::<f64, 32>::new();
        let q = SeQuadrature::new(gh.rule());
        let ch = Relu::new(delta).unwrap();
        let v = rho - m;
        let want = nested(rho, m, a, (a * (1.0 + a * delta)).sqrt(), &q, |b, w| {
            let o = ch.hidden(a, b, v, w);
            [o.g * o.g, o.mean * o.mean, o.log_z]
        });
        let got = terms(ch.se_hidden(rho, m, a, &q));
        close(
            got,
            want,
            &format!("hidden: Δ = {delta}, ρ = {rho}, m = {m}, Â = {a}"),
        );
    }

    /// One output-layer case: `se_output` against the nested quadrature.
    fn check_output(delta: f64, rho: f64, m: f64) {
        let gh = GaussHermite::<f64, 32>::new();
        let q = SeQuadrature::new(gh.rule());
        let ch = Relu::new(delta).unwrap();
        let v = rho - m;
        let want = nested(rho, m, 1.0, delta.sqrt(), &q, |y, w| {
            let o = ch.output(y, v, w);
            [o.g * o.g, 0.0, o.log_z]
        });
        let got = terms(ch.se_output(rho, m, &q));
        close(
            got,
            want,
            &format!("output: Δ = {delta}, ρ = {rho}, m = {m}"),
        );
    }

    /// Both integration schemes (β = √(ÂV) = 0.63 and 1) and a steep output (β = √(V/Δ) =
    /// 3.2), where the reference is cheapest (V = m: fewest panels). 4 s of CPU in all.
    #[test]
    fn closed_forms_match_nested_quadrature() {
        check_hidden(0.0, 1.0, 0.5, 0.8);
        check_hidden(0.0, 1.0, 0.5, 2.0);
        check_output(0.05, 1.0, 0.5);
    }

    /// The shipped 3-layer ReLU model near its fixed point: its second layer (β ≈ 0.72,
    /// Gauss–Hermite in b) and its first (β ≈ 1, posterior coordinates). Ignored: 5 s.
    #[test]
    #[ignore]
    fn hidden_at_the_shipped_models_fixed_point() {
        check_hidden(0.0, 0.5, 0.4996, 1297.0);
        check_hidden(0.0, 1.0, 0.986, 71.0);
    }

    /// Steep (β ≈ 3), noisy and nearly uninformed hidden layers. Ignored: 5 s.
    #[test]
    #[ignore]
    fn hidden_steep_noisy_and_uninformed() {
        check_hidden(0.0, 1.0, 0.9, 90.0);
        check_hidden(0.05, 1.0, 0.6, 10.0);
        check_hidden(1.0, 2.0, 1e-3, 0.5);
    }

    /// β = √(V/Δ) from 0.3 to 55. Ignored: 5 s.
    #[test]
    #[ignore]
    fn output_over_noise_levels() {
        check_output(1.0, 1.0, 0.9);
        check_output(0.05, 1.0, 0.5);
        check_output(1e-4, 0.5, 0.2);
    }

    #[test]
    fn degenerate_observations() {
        let gh = GaussHermite::<f64, 32>::new();
        let q = SeQuadrature::new(gh.rule());
        // σ = 0, c = 1: the law of max(0, z) itself, z ~ N(0, ρ): E o = √(ρ/(2π)),
        // E o² = ρ/2, and E o·w = E max(0, z) w = m/2 (w = E[z | w]).
        let (rho, m) = (0.8, 0.3);
        let got = Relu::<f64>::se_average(rho, m, 1.0, 0.0, q.rule, |o, w| [o, o * o, o * w]);
        let want = [
            (rho / (2.0 * core::f64::consts::PI)).sqrt(),
            rho / 2.0,
            m / 2.0,
        ];
        close(got, want, "σ = 0");
        // c = 0 (Â = 0 for a hidden layer): o = σ ξ, E o² = σ², E w² = m.
        let got = Relu::<f64>::se_average(rho, m, 0.0, 0.25, q.rule, |o, w| [o * o, w * w]);
        close(got, [0.25, m], "c = 0");
    }
}
