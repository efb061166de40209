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
