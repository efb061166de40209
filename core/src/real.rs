//! The float trait the whole core is generic over.
//!
//! Every transcendental function goes through the `libm` crate, for `f32` and `f64` alike, so
//! that a host build and a firmware build (e.g. `thumbv7em-none-eabihf`, whose FPU is
//! single-precision) evaluate the same formulas with the same code and, in `f64`, give the same
//! bits.

use core::fmt::{Debug, Display};
use core::iter::Sum;
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A real floating-point scalar: `f32` or `f64`.
///
/// Arithmetic comes from the operator traits; transcendental functions are methods implemented
/// with `libm`. Constants are built with [`Real::c`].
pub trait Real:
    Copy
    + Default
    + PartialEq
    + PartialOrd
    + Debug
    + Display
    + Send
    + Sync
    + Sum
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
    /// Machine epsilon (distance from 1 to the next float).
    const EPSILON: Self;
    /// Largest finite value.
    const MAX: Self;
    /// Smallest positive normal value.
    const MIN_POSITIVE: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// One half.
    const HALF: Self;
    /// Two.
    const TWO: Self;

    /// The constant `x` converted (rounded) to `Self`.
    fn c(x: f64) -> Self;
    /// Widen to `f64` (exact for both implementations).
    fn to_f64(self) -> f64;
    /// `n` as a float.
    fn from_usize(n: usize) -> Self;

    /// e^x.
    fn exp(self) -> Self;
    /// e^x − 1, accurate near 0.
    fn exp_m1(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + x), accurate near 0.
    fn ln_1p(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Hyperbolic tangent (saturates to ±1 for huge arguments, never NaN for finite input).
    fn tanh(self) -> Self;
    /// Complementary error function.
    fn erfc(self) -> Self;
    /// Fused multiply-add `self * a + b` with one rounding.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// The angle of the point `(x, self)` in `(−π, π]` (`atan2(self, x)`).
    fn atan2(self, x: Self) -> Self;
    /// Arc cosine, in `[0, π]` (NaN outside `[−1, 1]`).
    fn acos(self) -> Self;
    /// `true` unless NaN or infinite.
    fn is_finite(self) -> bool;
    /// `true` for NaN.
    fn is_nan(self) -> bool;

    /// The larger of two values (the other one if one is NaN).
    #[inline]
    fn max(self, other: Self) -> Self {
        if self >= other || other.is_nan() {
            self
        } else {
            other
        }
    }
    /// The smaller of two values (the other one if one is NaN).
    #[inline]
    fn min(self, other: Self) -> Self {
        if self <= other || other.is_nan() {
            self
        } else {
            other
        }
    }
    /// x².
    #[inline]
    fn sq(self) -> Self {
        self * self
    }
}

macro_rules! impl_real {
    ($t:ty, $exp:ident, $expm1:ident, $ln:ident, $ln1p:ident, $sqrt:ident, $tanh:ident,
     $erfc:ident, $fma:ident, $fabs:ident, $cos:ident, $sin:ident, $atan2:ident,
     $acos:ident) => {
        impl Real for $t {
            const EPSILON: Self = <$t>::EPSILON;
            const MAX: Self = <$t>::MAX;
            const MIN_POSITIVE: Self = <$t>::MIN_POSITIVE;
            const INFINITY: Self = <$t>::INFINITY;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const HALF: Self = 0.5;
            const TWO: Self = 2.0;
            #[inline]
            fn c(x: f64) -> Self {
                x as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn from_usize(n: usize) -> Self {
                n as $t
            }
            #[inline]
            fn exp(self) -> Self {
                libm::$exp(self)
            }
            #[inline]
            fn exp_m1(self) -> Self {
                libm::$expm1(self)
            }
            #[inline]
            fn ln(self) -> Self {
                libm::$ln(self)
            }
            #[inline]
            fn ln_1p(self) -> Self {
                libm::$ln1p(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                libm::$sqrt(self)
            }
            #[inline]
            fn tanh(self) -> Self {
                libm::$tanh(self)
            }
            #[inline]
            fn erfc(self) -> Self {
                libm::$erfc(self)
            }
            #[inline]
            fn mul_add(self, a: Self, b: Self) -> Self {
                libm::$fma(self, a, b)
            }
            #[inline]
            fn abs(self) -> Self {
                libm::$fabs(self)
            }
            #[inline]
            fn cos(self) -> Self {
                libm::$cos(self)
            }
            #[inline]
            fn sin(self) -> Self {
                libm::$sin(self)
            }
            #[inline]
            fn atan2(self, x: Self) -> Self {
                libm::$atan2(self, x)
            }
            #[inline]
            fn acos(self) -> Self {
                libm::$acos(self)
            }
            #[inline]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}

impl_real!(
    f64, exp, expm1, log, log1p, sqrt, tanh, erfc, fma, fabs, cos, sin, atan2, acos
);
impl_real!(
    f32, expf, expm1f, logf, log1pf, sqrtf, tanhf, erfcf, fmaf, fabsf, cosf, sinf, atan2f, acosf
);
