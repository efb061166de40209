//! Closed-form Gaussian integrals shared by the priors and the channels.
//!
//! The scalar denoisers of ML-AMP (Manoel, Krzakala, Mézard, Zdeborová, "Multi-layer
//! generalized linear estimation", eqs. 6, 7 and 9) integrate a Gaussian against the quadratic
//! tilt `e^{−A x²/2 + B x}` of a variable's incoming messages: a Gaussian-mixture prior does it
//! per component, the linear channel for its output `h ~ N(ω, V + Δ)`, and the ReLU channel for
//! its `z > 0` branch; the noisy channels' output functions evaluate a Gaussian log-density.
//! Each formula is written once here, in one order of operations, so that every caller gives
//! the same bits as when it wrote the formula out itself.

use crate::real::Real;
use crate::special::LN_SQRT_2PI;

/// The Gaussian `N(x; μ, v)` tilted by `e^{−A x²/2 + B x}`, integrated in closed form: with
/// `D = 1 + A v`,
///
/// `log ∫ N(x; μ, v) e^{−A x²/2 + B x} dx = −½ ln D + (2 μ B + B² v − A μ²) / (2 D)`,
///
/// and the tilted law is `N((μ + B v)/D, v/D)`. The log-normaliser is kept in its two terms
/// (the log-determinant and the exponent) so that a caller adding a constant in front adds it
/// in the order it always did: `(c − ½ ln D) + exponent`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TiltedGaussian<T> {
    /// `D = 1 + A v`.
    pub d: T,
    /// `−½ ln D`.
    pub log_det: T,
    /// `(2 μ B + B² v − A μ²) / (2 D)`.
    pub exponent: T,
    /// The tilted mean `(μ + B v)/D` (= `∂_B log Z`).
    pub mean: T,
    /// The tilted variance `v/D` (= `∂²_B log Z`).
    pub var: T,
    /// `∂_μ log Z = (B − A μ)/D`.
    pub d_mu: T,
    /// `∂²_μ log Z = −A/D`.
    pub d2_mu: T,
}

impl<T: Real> TiltedGaussian<T> {
    /// The integral of `N(x; mu, v)` (`v ≥ 0`; `v = 0` is a point mass, exact) against
    /// `e^{−a x²/2 + b x}` (`a ≥ 0`, or `1 + a v > 0`).
    #[inline]
    pub fn new(mu: T, v: T, a: T, b: T) -> Self {
        let d = T::ONE + a * v;
        Self {
            d,
            log_det: -T::HALF * d.ln(),
            exponent: (T::TWO * mu * b + b * b * v - a * mu * mu) / (T::TWO * d),
            mean: (mu + b * v) / d,
            var: v / d,
            d_mu: (b - a * mu) / d,
            d2_mu: -a / d,
        }
    }

    /// The log-normaliser `log Z = −½ ln D + (2 μ B + B² v − A μ²) / (2 D)`.
    #[inline]
    pub fn log_z(&self) -> T {
        self.log_det + self.exponent
    }
}

/// `log N(r; 0, v) = −½ ln v − ln √(2π) − r²/(2 v)`: the log-density of a residual `r` under a
/// Gaussian of variance `v > 0`.
#[inline]
pub fn log_density<T: Real>(r: T, v: T) -> T {
    -T::HALF * v.ln() - T::c(LN_SQRT_2PI) - r * r / (T::TWO * v)
}
