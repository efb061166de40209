//! Tail-accurate special functions of the Gaussian: Φ, log Φ, the scaled complementary error
//! function erfcx, the inverse Mills ratio φ/Φ and its derivative, log-sum-exp, log cosh and
//! the squared hyperbolic secant.
//!
//! All are finite and accurate to a few ulp over the whole real line that matters here
//! (|x| ≤ 40 and beyond): the far tails are evaluated through erfcx and a continued fraction,
//! never as a ratio of underflowed numbers.

use crate::real::Real;

/// ln √(2π).
pub const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
/// 1/√π.
const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;
/// 1/√(2π).
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// √(2/π).
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// Beyond this argument erfcx is evaluated by its continued fraction.
const CF_FROM: f64 = 8.0;
/// Terms of the continued fraction: enough for f64 round-off at x ≥ 8.
const CF_TERMS: usize = 48;
/// Beyond this `t = −x/√2` the sum `x + r(x)` is evaluated by the continued fraction. Lower
/// than [`CF_FROM`]: the explicit sum loses a factor ≈ 2t² to cancellation (≈ 130 at t = 8,
/// too much for f32), while the 48-term fraction is still exact to ~1e-20 relative at t = 3
/// (checked against mpmath).
const CF_XR_FROM: f64 = 3.0;

/// e^{x²}, with x² split into its rounded value and the rounding error (via one fma), so that
/// the result is accurate to a few ulp even where x² is large.
#[inline]
fn exp_sq<T: Real>(x: T) -> T {
    let hi = x * x;
    if !hi.is_finite() {
        // x² overflowed (or x is NaN): the rounding error would be ∞ − ∞.
        return hi.exp();
    }
    let lo = x.mul_add(x, -hi);
    hi.exp() * (T::ONE + lo)
}

/// The tail `c(x) − x` of the continued fraction
/// `c(x) = x + (1/2)/(x + 1/(x + (3/2)/(x + …)))`, for which `erfcx(x) = 1/(√π c(x))`.
/// Evaluated backwards with a fixed number of terms; exact to f64 round-off for x ≥ 3
/// (checked against mpmath: ~1e-20 relative at x = 3).
#[inline]
fn cf_tail<T: Real>(x: T) -> T {
    let mut t = x;
    let mut k = CF_TERMS;
    while k > 1 {
        t = x + T::from_usize(k) * T::HALF / t;
        k -= 1;
    }
    T::HALF / t
}

/// The scaled complementary error function erfcx(x) = e^{x²} erfc(x).
///
/// Finite for x ≥ −26 (f64); for x → +∞ it decays like 1/(x√π) without underflow. Total:
/// NaN gives NaN (every branch tests its own range, so a NaN, which fails every comparison,
/// falls through to the last one instead of recursing), and −∞ gives +∞.
pub fn erfcx<T: Real>(x: T) -> T {
    let cf = T::c(CF_FROM);
    if x >= cf {
        T::c(FRAC_1_SQRT_PI) / (x + cf_tail(x))
    } else if x >= T::ZERO {
        exp_sq(x) * x.erfc()
    } else if x < T::ZERO {
        // erfcx(−x) with −x > 0 takes one of the two branches above: no further recursion.
        if x == -T::INFINITY {
            return T::INFINITY;
        }
        T::TWO * exp_sq(x) - erfcx(-x)
    } else {
        x
    }
}

/// e^{−x²/2}, with x² split like in [`exp_sq`].
#[inline]
fn exp_neg_half_sq<T: Real>(x: T) -> T {
    let hi = x * x;
    if !hi.is_finite() {
        return (-T::HALF * hi).exp();
    }
    let lo = x.mul_add(x, -hi);
    (-T::HALF * hi).exp() * (T::ONE - T::HALF * lo)
}

/// The standard normal density φ(x) = e^{−x²/2}/√(2π), with e^{−x²/2} from the exact x² (a
/// rounded x² would cost ≈ x²/2 ulp: 4e-14 relative in f64 at x = 32).
#[inline]
pub fn norm_pdf<T: Real>(x: T) -> T {
    exp_neg_half_sq(x) * T::c(FRAC_1_SQRT_2PI)
}

/// The standard normal distribution function Φ(x) = ½ erfc(−x/√2).
///
/// For x < −1 it is `½ erfcx(−x/√2) e^{−x²/2}`: erfc's tail is so steep that the rounding of
/// −x/√2 alone would cost ≈ x² ulp (1e-5 relative in f32 at x = −12.9), whereas erfcx varies
/// slowly and e^{−x²/2} is taken from the exact x².
#[inline]
pub fn norm_cdf<T: Real>(x: T) -> T {
    let t = -x * T::c(core::f64::consts::FRAC_1_SQRT_2);
    if x < -T::ONE {
        T::HALF * erfcx(t) * exp_neg_half_sq(x)
    } else {
        T::HALF * t.erfc()
    }
}

/// The standard normal quantile: the `t` with `Φ(t) = p` ([`norm_cdf`]), for `0 < p < 1`, by
/// bisection on `[−40, 40]` (Φ is monotone; the loop stops when the midpoint no longer splits
/// the bracket, at most 200 halvings, one ulp), returning the bracket's upper end: a standard
/// normal `ξ` satisfies `ξ < t` with probability `p`. How the channels turn a probability
/// into a draw from their normal stream (mixed linear regression's component, the masked
/// output's mask). `p ≤ 0` gives `−40`'s neighbourhood and `p ≥ 1` the largest `t` with
/// `Φ(t) < 1`; callers check `p` first.
pub fn norm_quantile<T: Real>(p: T) -> T {
    let (mut lo, mut hi) = (T::c(-40.0), T::c(40.0));
    for _ in 0..200 {
        let mid = (lo + hi) * T::HALF;
        if mid <= lo || mid >= hi {
            break;
        }
        if norm_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// log Φ(x), accurate in both tails: `ln_1p(−Φ(−x))` for x > 1 (with the tail-accurate
/// [`norm_cdf`]), `ln_1p(−½ erfc(x/√2))` for 0 < x ≤ 1, and for x < −1
/// `ln(½ erfcx(−x/√2)) − x²/2`, which stays finite (≈ −x²/2) where Φ itself underflows.
pub fn log_norm_cdf<T: Real>(x: T) -> T {
    let s = T::c(core::f64::consts::FRAC_1_SQRT_2);
    if x > T::ONE {
        (-norm_cdf(-x)).ln_1p()
    } else if x > T::ZERO {
        (-T::HALF * (x * s).erfc()).ln_1p()
    } else if x > -T::ONE {
        (T::HALF * (-x * s).erfc()).ln()
    } else {
        (T::HALF * erfcx(-x * s)).ln() - T::HALF * x * x
    }
}

/// The inverse Mills ratio r(x) = φ(x)/Φ(x) = d/dx log Φ(x).
///
/// For x < −1 it is evaluated as √(2/π)/erfcx(−x/√2), which behaves like −x as x → −∞.
pub fn inv_mills<T: Real>(x: T) -> T {
    if x < -T::ONE {
        T::c(SQRT_2_OVER_PI) / erfcx(-x * T::c(core::f64::consts::FRAC_1_SQRT_2))
    } else {
        norm_pdf(x) / norm_cdf(x)
    }
}

/// `x + r(x)` with r the inverse Mills ratio, without the cancellation that the plain sum
/// suffers as x → −∞ (where both terms are ≈ ±|x| and the sum ≈ −1/x).
pub fn x_plus_inv_mills<T: Real>(x: T) -> T {
    let t = -x * T::c(core::f64::consts::FRAC_1_SQRT_2);
    if t >= T::c(CF_XR_FROM) {
        // r(x) = √2 c(t) with c(t) = t + cf_tail(t), and x = −√2 t.
        T::c(core::f64::consts::SQRT_2) * cf_tail(t)
    } else {
        x + inv_mills(x)
    }
}

/// The second derivative of log Φ: d²/dx² log Φ(x) = −r(x) (x + r(x)), in (−1, 0).
#[inline]
pub fn log_norm_cdf_dd<T: Real>(x: T) -> T {
    -inv_mills(x) * x_plus_inv_mills(x)
}

/// log(eᵃ + eᵇ) without overflow; −∞ arguments are allowed.
#[inline]
pub fn log_add_exp<T: Real>(a: T, b: T) -> T {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi == -T::INFINITY || hi == T::INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// log cosh x = |x| + ln(1 + e^{−2|x|}) − ln 2: finite for every finite x. For |x| < 1 it is
/// −½ ln(1 − tanh² x) instead, which keeps its relative accuracy as log cosh x ≈ x²/2 → 0
/// (the first form cancels there: at x = 10⁻⁸ it would return 1e-16 instead of 5e-17).
#[inline]
pub fn log_cosh<T: Real>(x: T) -> T {
    let a = x.abs();
    if a < T::ONE {
        -T::HALF * (-a.tanh().sq()).ln_1p()
    } else {
        a + (-T::TWO * a).exp().ln_1p() - T::c(core::f64::consts::LN_2)
    }
}

/// sech² x = 1 − tanh² x, evaluated as 4e^{−2|x|}/(1 + e^{−2|x|})² so that it keeps its
/// relative accuracy (and stays positive until it underflows) for huge |x|.
#[inline]
pub fn sech2<T: Real>(x: T) -> T {
    let e = (-T::TWO * x.abs()).exp();
    T::c(4.0) * e / ((T::ONE + e) * (T::ONE + e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_hold() {
        // Φ(x) + Φ(−x) = 1 and r = d log Φ: simple self-consistency (reference values live in
        // core/tests/special_reference.rs).
        for i in -60..=60 {
            let x = i as f64 * 0.25;
            assert!((norm_cdf(x) + norm_cdf(-x) - 1.0).abs() < 1e-15);
            let h = 1e-5;
            let fd = (log_norm_cdf(x + h) - log_norm_cdf(x - h)) / (2.0 * h);
            assert!(
                (fd - inv_mills(x)).abs() < 1e-7 * (1.0 + x.abs()),
                "x = {x}"
            );
        }
    }

    #[test]
    fn tails_are_finite() {
        for &x in &[-1e3, -40.0, -38.5, 38.5, 40.0, 1e3] {
            assert!(log_norm_cdf(x).is_finite());
            assert!(inv_mills(x).is_finite());
            assert!(log_norm_cdf_dd(x).is_finite() && log_norm_cdf_dd(x) <= 0.0);
            assert!(log_cosh(x).is_finite());
            assert!(sech2(x) >= 0.0);
        }
        assert!(erfcx(1e6_f64) > 0.0);
        assert!(erfcx(1e6_f32) > 0.0);
    }

    #[test]
    fn nan_in_nan_out() {
        // erfcx used to recurse forever on NaN (both comparisons false → erfcx(−NaN) → …),
        // which aborted a run whose iterate had become NaN with a stack overflow.
        let n = f64::NAN;
        assert!(erfcx(n).is_nan() && erfcx(f32::NAN).is_nan());
        for f in [
            norm_cdf,
            log_norm_cdf,
            inv_mills,
            x_plus_inv_mills,
            log_norm_cdf_dd,
        ] {
            assert!(f(n).is_nan());
        }
        assert!(norm_pdf(n).is_nan() && log_cosh(n).is_nan() && sech2(n).is_nan());
        assert!(log_add_exp(n, 0.0).is_nan() && log_add_exp(0.0, n).is_nan());
        // The infinities: erfcx(−∞) = +∞ (e^{x²} erfc(x) → 2e^{x²}), erfcx(+∞) = 0, and
        // Φ, log Φ at ±∞ are their limits.
        assert_eq!(erfcx(f64::NEG_INFINITY), f64::INFINITY);
        assert_eq!(erfcx(f64::INFINITY), 0.0);
        assert_eq!(norm_cdf(f64::INFINITY), 1.0);
        assert_eq!(log_norm_cdf(f64::INFINITY), 0.0);
    }
}
