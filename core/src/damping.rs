//! Damping of an iteration's updates and the relative change of its estimates, the two
//! things ML-AMP (Manoel, Krzakala, Mézard, Zdeborová, *Multi-layer generalized linear
//! estimation*) and ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher,
//! *Matrix inference and estimation in multi-layer models*) do alike after each update.
//!
//! - [`Damping`]: a factor `β ∈ (0, 1]` and the update `x ← β x_new + (1 − β) x_old`
//!   (`β = 1`: no damping). Which quantities each algorithm damps is its own (ML-AMP the
//!   variances, ML-Mat-VAMP the outgoing messages); the formula is this one.
//! - [`Change`]: `‖x_new − x_old‖² / ‖x_new‖²`, summed over the entries (ML-AMP) or the rows
//!   (ML-Mat-VAMP) of an estimate, what each iteration reports and the drivers test for
//!   convergence.

use crate::error::Error;
use crate::mat::MatReal;
use crate::real::Real;
use nalgebra::SVector;

/// A damping factor `β ∈ (0, 1]`: an update `x ← β x_new + (1 − β) x_old`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Damping<T> {
    beta: T,
}

impl<T: Real> Damping<T> {
    /// `β`, checked: [`Error::InvalidParameter`] (`"damping"`) unless `0 < β ≤ 1`.
    pub(crate) fn new(beta: T) -> Result<Self, Error> {
        if beta > T::ZERO && beta <= T::ONE {
            Ok(Self { beta })
        } else {
            Err(Error::InvalidParameter {
                name: "damping",
                requirement: "in (0, 1]",
            })
        }
    }

    /// `β`.
    #[inline]
    pub(crate) fn beta(self) -> T {
        self.beta
    }

    /// `β x_new + (1 − β) x_old`, evaluated as written for every `β` (at `β = 1` a
    /// non-finite `x_old` still gives NaN, and `x_new = −0` gives `+0`).
    #[inline]
    pub(crate) fn mix(self, old: T, new: T) -> T {
        self.beta * new + (T::ONE - self.beta) * old
    }

    /// [`Damping::mix`], except that `β = 1` returns `x_new` itself: no damping forgets the
    /// old value, whatever it is.
    #[inline]
    pub(crate) fn apply(self, old: T, new: T) -> T {
        if self.beta == T::ONE {
            new
        } else {
            self.mix(old, new)
        }
    }
}

/// A value whose squared Euclidean norm [`Change`] accumulates: a scalar (`x²`) or a row
/// (`Σ_j x_j²`).
pub(crate) trait SquaredNorm<T>: Copy + core::ops::Sub<Output = Self> {
    /// `‖x‖²`.
    fn squared_norm(self) -> T;
}

impl<T: Real> SquaredNorm<T> for T {
    #[inline]
    fn squared_norm(self) -> T {
        self.sq()
    }
}

impl<T: MatReal, const D: usize> SquaredNorm<T> for SVector<T, D> {
    #[inline]
    fn squared_norm(self) -> T {
        self.norm_squared()
    }
}

/// The relative change `‖x_new − x_old‖² / ‖x_new‖²` of an estimate, accumulated over its
/// entries or rows (the denominator floored at the smallest positive float, so that an
/// estimate of zeros gives `0`, not NaN).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Change<T> {
    /// `Σ ‖x_new − x_old‖²` so far.
    diff: T,
    /// `Σ ‖x_new‖²` so far.
    norm: T,
}

impl<T: Real> Change<T> {
    /// Nothing accumulated.
    pub(crate) fn new() -> Self {
        Self {
            diff: T::ZERO,
            norm: T::ZERO,
        }
    }

    /// Adds one entry or row: `‖new − old‖²` and `‖new‖²`.
    #[inline]
    pub(crate) fn add<V: SquaredNorm<T>>(&mut self, new: V, old: V) {
        self.diff += (new - old).squared_norm();
        self.norm += new.squared_norm();
    }

    /// The sums of `self`'s entries followed by `later`'s.
    pub(crate) fn merge(self, later: Self) -> Self {
        Self {
            diff: self.diff + later.diff,
            norm: self.norm + later.norm,
        }
    }

    /// `Σ ‖x_new − x_old‖² / max(Σ ‖x_new‖², MIN_POSITIVE)`.
    pub(crate) fn relative(&self) -> T {
        self.diff / Real::max(self.norm, T::MIN_POSITIVE)
    }
}
