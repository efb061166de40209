//! Scalar activation functions `φ`, with the first two derivatives the MAP and MMSE
//! denoisers of a deterministic-plus-noise layer `h = φ(z) + ξ` need (see
//! [`crate::mat::ActivationDenoiser`]).
//!
//! Every activation here is non-decreasing and continuous, twice differentiable except at
//! most at one point (its [`Activation::kink`], where `φ'` jumps), and evaluated without
//! overflow or NaN for every finite argument.

use crate::real::Real;

/// A scalar activation `φ: R → R`: its value, first and second derivatives, and a
/// (generalised) inverse.
///
/// Requirements the denoisers rely on: `φ` is continuous and non-decreasing; it is twice
/// continuously differentiable except at most at the point [`Activation::kink`], where `φ'`
/// may jump (then `φ'` and `φ''` evaluated exactly at the kink return one of the one-sided
/// values, and just beside it the other side's); every method returns finite values for every
/// finite argument. Object safe.
///
/// `Sync`: one model is shared by the threads of a parallel run (the state evolution's
/// Monte-Carlo blocks).
pub trait Activation<T: Real>: Sync {
    /// A short name, for errors and display.
    fn name(&self) -> &'static str;

    /// `φ(z)`.
    fn value(&self, z: T) -> T;

    /// `φ'(z)`.
    fn derivative(&self, z: T) -> T;

    /// `φ''(z)`.
    fn second_derivative(&self, z: T) -> T;

    /// `(φ(z), φ'(z), φ''(z))` in one call; the default calls the three methods, an
    /// activation can share work between them.
    fn eval(&self, z: T) -> (T, T, T) {
        (self.value(z), self.derivative(z), self.second_derivative(z))
    }

    /// A `z` with `φ(z) = y` if `y` is a value `φ` takes (for a flat piece, the end of the
    /// piece nearest to where `φ` increases), `None` if `y` lies outside the range of `φ`.
    /// The denoisers start their mode search there: it minimises `(φ(z) − y)²`.
    fn inverse(&self, y: T) -> Option<T>;

    /// The point where `φ'` jumps, if there is one (`None` by default).
    fn kink(&self) -> Option<T> {
        None
    }

    /// `true` only for `φ(z) = z` (default `false`): the layer is then linear-Gaussian and its
    /// beliefs Gaussian in any dimension, which the denoisers exploit.
    fn is_identity(&self) -> bool {
        false
    }

    /// `(sup |φ'|, sup |φ''|)` over the real line, for a smooth `φ` whose bounds are known
    /// (`None` by default): with them an estimator can certify that its objective is convex
    /// and skip a search for other minima (the committee's MAP, see
    /// [`crate::mat::CommitteeDenoiser`]). A bound may exceed the supremum, never
    /// fall below it.
    fn derivative_bounds(&self) -> Option<(T, T)> {
        None
    }

    /// `(sup |φ'|, sup |φ''|)` over `[lo, hi]` (`lo ≤ hi`), where known; by default the
    /// global [`Activation::derivative_bounds`], which hold on every interval.
    fn derivative_bounds_on(&self, lo: T, hi: T) -> Option<(T, T)> {
        let _ = (lo, hi);
        self.derivative_bounds()
    }
}

/// `(sup |φ'|, sup |φ''|)` over `[lo, hi]` for the bell shape shared by the sigmoid and
/// tanh: `φ'` even and decreasing in `|z|` (its supremum at the point of the interval nearest
/// 0), `|φ''|` even with its only maxima at `±peak` and increasing on `[0, peak]` (so its
/// supremum is at an end of the interval or at `±peak` inside it).
fn bell_bounds_on<T: Real, A: Activation<T> + ?Sized>(
    act: &A,
    lo: T,
    hi: T,
    peak: T,
) -> Option<(T, T)> {
    // A NaN or reversed interval: the global bounds.
    if lo
        .partial_cmp(&hi)
        .is_none_or(|o| o == core::cmp::Ordering::Greater)
    {
        return act.derivative_bounds();
    }
    let nearest = Real::min(Real::max(T::ZERO, lo), hi);
    let d1 = act.derivative(nearest);
    let mut d2 = Real::max(
        Real::abs(act.second_derivative(lo)),
        Real::abs(act.second_derivative(hi)),
    );
    for p in [peak, -peak] {
        if lo <= p && p <= hi {
            d2 = Real::max(d2, Real::abs(act.second_derivative(p)));
        }
    }
    Some((d1, d2))
}

/// `φ(z) = z`: `φ' = 1`, `φ'' = 0`, `φ⁻¹(y) = y`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identity;

impl<T: Real> Activation<T> for Identity {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn value(&self, z: T) -> T {
        z
    }

    fn derivative(&self, _z: T) -> T {
        T::ONE
    }

    fn second_derivative(&self, _z: T) -> T {
        T::ZERO
    }

    fn inverse(&self, y: T) -> Option<T> {
        Some(y)
    }

    fn is_identity(&self) -> bool {
        true
    }

    /// `(1, 0)`.
    fn derivative_bounds(&self) -> Option<(T, T)> {
        Some((T::ONE, T::ZERO))
    }
}

/// `φ(z) = max(0, z)`: `φ'(z) = 1` for `z > 0` and `0` for `z ≤ 0` (the left derivative at
/// the kink `z = 0`), `φ'' = 0`. Inverse: `y` for `y > 0`, `0` for `y = 0` (the end of the
/// flat piece `z ≤ 0`), `None` for `y < 0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relu;

impl<T: Real> Activation<T> for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn value(&self, z: T) -> T {
        if z > T::ZERO { z } else { T::ZERO }
    }

    fn derivative(&self, z: T) -> T {
        if z > T::ZERO { T::ONE } else { T::ZERO }
    }

    fn second_derivative(&self, _z: T) -> T {
        T::ZERO
    }

    fn inverse(&self, y: T) -> Option<T> {
        (y >= T::ZERO).then_some(y)
    }

    fn kink(&self) -> Option<T> {
        Some(T::ZERO)
    }
}

/// The logistic sigmoid `φ(z) = σ(z) = 1/(1 + e^{−z})`, `φ' = σ(z) σ(−z)`,
/// `φ'' = φ' (1 − 2σ(z)) = −φ' tanh(z/2)`; inverse `ln(y/(1 − y))` on `(0, 1)`.
///
/// Evaluated through `e = e^{−|z|} ∈ (0, 1]` only: `σ(|z|) = 1/(1 + e)`,
/// `σ(−|z|) = e/(1 + e)`, `φ' = e/(1 + e)²`, `tanh(|z|/2) = (1 − e)/(1 + e)`, so nothing
/// overflows for huge `|z|` (the tails underflow gracefully to `0` and `1`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid;

impl Sigmoid {
    /// `(e^{−|z|}, 1/(1 + e^{−|z|}))`.
    #[inline]
    fn parts<T: Real>(z: T) -> (T, T) {
        let e = Real::exp(-Real::abs(z));
        (e, T::ONE / (T::ONE + e))
    }
}

impl<T: Real> Activation<T> for Sigmoid {
    fn name(&self) -> &'static str {
        "sigmoid"
    }

    fn value(&self, z: T) -> T {
        let (e, inv) = Self::parts(z);
        if z >= T::ZERO { inv } else { e * inv }
    }

    fn derivative(&self, z: T) -> T {
        let (e, inv) = Self::parts(z);
        e * inv * inv
    }

    fn second_derivative(&self, z: T) -> T {
        let (e, inv) = Self::parts(z);
        let d1 = e * inv * inv;
        let t = (T::ONE - e) * inv;
        if z >= T::ZERO { -d1 * t } else { d1 * t }
    }

    fn eval(&self, z: T) -> (T, T, T) {
        let (e, inv) = Self::parts(z);
        let d1 = e * inv * inv;
        let t = (T::ONE - e) * inv;
        if z >= T::ZERO {
            (inv, d1, -d1 * t)
        } else {
            (e * inv, d1, d1 * t)
        }
    }

    /// `ln y − ln(1 − y)` for `0 < y < 1`.
    fn inverse(&self, y: T) -> Option<T> {
        (y > T::ZERO && y < T::ONE).then(|| Real::ln(y) - Real::ln_1p(-y))
    }

    /// `(1/4, 1/(6√3))`: `φ' = σ(1 − σ) ≤ 1/4` at `z = 0`; `|φ''| = φ' |1 − 2σ|` is largest
    /// where `σ = ½ ± 1/(2√3)`, `φ' = 1/6`, `|1 − 2σ| = 1/√3`.
    fn derivative_bounds(&self) -> Option<(T, T)> {
        Some((T::c(0.25), T::ONE / (T::c(6.0) * Real::sqrt(T::c(3.0)))))
    }

    /// The peaks of `|φ''|` at `±ln(2 + √3)` (where `σ = ½ ± 1/(2√3)`).
    fn derivative_bounds_on(&self, lo: T, hi: T) -> Option<(T, T)> {
        bell_bounds_on(self, lo, hi, Real::ln(T::TWO + Real::sqrt(T::c(3.0))))
    }
}

/// `φ(z) = tanh z`, `φ' = sech² z`, `φ'' = −2 tanh z sech² z`; inverse
/// `atanh y = ½ (ln(1 + y) − ln(1 − y))` on `(−1, 1)`. `sech²` is evaluated as
/// `4e^{−2|z|}/(1 + e^{−2|z|})²` ([`crate::special::sech2`]), finite and non-negative for
/// every `z`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tanh;

impl<T: Real> Activation<T> for Tanh {
    fn name(&self) -> &'static str {
        "tanh"
    }

    fn value(&self, z: T) -> T {
        Real::tanh(z)
    }

    fn derivative(&self, z: T) -> T {
        crate::special::sech2(z)
    }

    fn second_derivative(&self, z: T) -> T {
        -T::TWO * Real::tanh(z) * crate::special::sech2(z)
    }

    fn eval(&self, z: T) -> (T, T, T) {
        let t = Real::tanh(z);
        let s = crate::special::sech2(z);
        (t, s, -T::TWO * t * s)
    }

    fn inverse(&self, y: T) -> Option<T> {
        (y > -T::ONE && y < T::ONE).then(|| T::HALF * (Real::ln_1p(y) - Real::ln_1p(-y)))
    }

    /// `(1, 4/(3√3))`: `sech² ≤ 1` at `z = 0`; `|φ''| = 2 |t| (1 − t²)`, `t = tanh z`, is
    /// largest at `t² = 1/3`.
    fn derivative_bounds(&self) -> Option<(T, T)> {
        Some((T::ONE, T::c(4.0) / (T::c(3.0) * Real::sqrt(T::c(3.0)))))
    }

    /// The peaks of `|φ''|` at `±atanh(1/√3) = ±½ ln(2 + √3)`.
    fn derivative_bounds_on(&self, lo: T, hi: T) -> Option<(T, T)> {
        bell_bounds_on(
            self,
            lo,
            hi,
            T::HALF * Real::ln(T::TWO + Real::sqrt(T::c(3.0))),
        )
    }
}

/// A reference to an activation is the activation (every method forwarded, overrides
/// included), so estimators can hold `&dyn Activation<T>`.
impl<T: Real, A: Activation<T> + ?Sized> Activation<T> for &A {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn value(&self, z: T) -> T {
        (**self).value(z)
    }
    fn derivative(&self, z: T) -> T {
        (**self).derivative(z)
    }
    fn second_derivative(&self, z: T) -> T {
        (**self).second_derivative(z)
    }
    fn eval(&self, z: T) -> (T, T, T) {
        (**self).eval(z)
    }
    fn inverse(&self, y: T) -> Option<T> {
        (**self).inverse(y)
    }
    fn kink(&self) -> Option<T> {
        (**self).kink()
    }
    fn is_identity(&self) -> bool {
        (**self).is_identity()
    }
    fn derivative_bounds(&self) -> Option<(T, T)> {
        (**self).derivative_bounds()
    }
    fn derivative_bounds_on(&self, lo: T, hi: T) -> Option<(T, T)> {
        (**self).derivative_bounds_on(lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        let acts: [&dyn Activation<f64>; 4] = [&Identity, &Relu, &Sigmoid, &Tanh];
        for act in acts {
            for i in -40..=40 {
                let z = i as f64 * 0.173 + 0.01;
                let h = 1e-5;
                let d1 = (act.value(z + h) - act.value(z - h)) / (2.0 * h);
                let d2 = (act.derivative(z + h) - act.derivative(z - h)) / (2.0 * h);
                let (v, a, b) = act.eval(z);
                assert_eq!(v, act.value(z));
                assert_eq!(a, act.derivative(z));
                assert_eq!(b, act.second_derivative(z));
                assert!((d1 - a).abs() < 1e-8, "{} φ' at {z}", act.name());
                assert!((d2 - b).abs() < 1e-8, "{} φ'' at {z}", act.name());
                if let Some(x) = act.inverse(v)
                    && act.derivative(z) > 1e-3
                {
                    assert!((x - z).abs() < 1e-9, "{} inverse at {z}", act.name());
                }
            }
        }
    }

    /// The bounds hold on a fine grid and are attained there to 1e-6 (a bound far above the
    /// supremum would make the certificate that uses it fail needlessly).
    #[test]
    fn derivative_bounds_are_the_suprema() {
        let acts: [&dyn Activation<f64>; 3] = [&Identity, &Sigmoid, &Tanh];
        for act in acts {
            let (b1, b2) = act.derivative_bounds().unwrap();
            let (mut m1, mut m2) = (0.0f64, 0.0f64);
            for i in -200_000..=200_000 {
                let (_, d1, d2) = act.eval(i as f64 * 1e-4);
                m1 = m1.max(d1.abs());
                m2 = m2.max(d2.abs());
            }
            assert!(m1 <= b1 && m1 >= b1 - 1e-6, "{}: {m1} vs {b1}", act.name());
            assert!(m2 <= b2 && m2 >= b2 - 1e-6, "{}: {m2} vs {b2}", act.name());
        }
        assert!(Activation::<f64>::derivative_bounds(&Relu).is_none());
    }

    /// On intervals on either side of and across the peaks, the local bounds hold at every
    /// point of a fine grid of the interval and are attained there to 1e-6.
    #[test]
    fn local_derivative_bounds_are_the_suprema_on_the_interval() {
        let acts: [&dyn Activation<f64>; 2] = [&Sigmoid, &Tanh];
        for act in acts {
            for (lo, hi) in [
                (-3.0, -2.0),
                (-2.0, -0.5),
                (-0.5, 0.2),
                (0.3, 1.0),
                (1.0, 4.0),
                (-9.0, 9.0),
                (2.5, 2.5),
            ] {
                let (b1, b2) = act.derivative_bounds_on(lo, hi).unwrap();
                let (mut m1, mut m2) = (0.0f64, 0.0f64);
                for i in 0..=100_000 {
                    let (_, d1, d2) = act.eval(lo + (hi - lo) * i as f64 / 1e5);
                    m1 = m1.max(d1.abs());
                    m2 = m2.max(d2.abs());
                }
                let what = (act.name(), lo, hi);
                assert!(
                    m1 <= b1 * (1.0 + 1e-12) && m1 >= b1 - 1e-6,
                    "{what:?}: {m1} vs {b1}"
                );
                assert!(
                    m2 <= b2 * (1.0 + 1e-12) && m2 >= b2 - 1e-6,
                    "{what:?}: {m2} vs {b2}"
                );
            }
        }
    }

    #[test]
    fn tails_are_finite() {
        for z in [-1e300, -800.0, -40.0, 40.0, 800.0, 1e300] {
            for act in [&Sigmoid as &dyn Activation<f64>, &Tanh] {
                let (v, a, b) = act.eval(z);
                assert!(v.is_finite() && a.is_finite() && b.is_finite());
                assert!(a >= 0.0);
            }
        }
        assert_eq!(Activation::<f64>::value(&Sigmoid, -800.0), 0.0);
        assert_eq!(Activation::<f64>::value(&Sigmoid, 800.0), 1.0);
        assert_eq!(Activation::<f64>::inverse(&Sigmoid, 1.0), None);
        assert_eq!(Activation::<f64>::inverse(&Relu, -1.0), None);
        assert_eq!(Activation::<f64>::inverse(&Relu, 0.0), Some(0.0));
    }
}
