//! Building blocks of the ML-AMP state evolution (ML-AMP paper (Manoel, Krzakala, Mézard, Zdeborová, *Multi-layer generalized linear estimation*), eqs. 11–13) and of
//! the replica free energy (eq. 15): the quadrature they are computed with and the averages
//! each layer contributes. The layer-by-layer averages are provided methods of
//! [`crate::prior::Prior`] (`se`) and [`crate::channel::Channel`] (`se_output`, `se_hidden`),
//! computed by quadrature by default and in closed form where a prior or channel overrides
//! them; the iteration over layers lives on the std side.

use crate::quadrature::{GradedNormal, Rule};
use crate::real::Real;

/// Gauss–Legendre points per panel of the graded integrator used by the state evolution.
pub const SE_PANEL_POINTS: usize = 12;

/// The quadrature of the state evolution: a Gauss–Hermite `rule` for smooth Gaussian
/// averages (noise, the field `b`) and a graded integrator for the pre-activation mean `w`,
/// whose integrand has a feature of width `√(V/m)` at 0 for sign-like channels.
#[derive(Clone, Debug)]
pub struct SeQuadrature<'a, T> {
    /// The Gauss–Hermite rule.
    pub rule: Rule<'a, T>,
    /// The graded integrator.
    pub graded: GradedNormal<T, SE_PANEL_POINTS>,
}

impl<'a, T: Real> SeQuadrature<'a, T> {
    /// The quadrature with Gauss–Hermite `rule`.
    pub fn new(rule: Rule<'a, T>) -> Self {
        Self {
            rule,
            graded: GradedNormal::new(),
        }
    }
}

/// A layer's averages at one point of the state evolution.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct SeTerms<T> {
    /// `E g²`, the factor's contribution to the m̂ of its input: `m̂ = α · hat` (0 for a
    /// prior).
    pub hat: T,
    /// `E ĥ²`: the overlap m of the variable the layer estimates (its output for a hidden
    /// channel, the signal for a prior; 0 for an output channel).
    pub overlap: T,
    /// `E log Z`: the layer's `I` in the free energy of eq. 15.
    pub log_z: T,
}

/// The width, in standard deviations of `w ~ N(0, m)`, of the feature a channel's averages
/// have at `w = 0`: `√(V/m)` (NaN or ∞ when `m = 0` mean "none": the integrator clamps).
#[inline]
pub fn fine_scale<T: Real>(v: T, m: T) -> T {
    (v / m).sqrt()
}
