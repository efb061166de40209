//! The core's error type: small, `Copy`, and usable without allocation.

use core::fmt;

/// What went wrong, with the name of the offending field where there is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is outside its domain (e.g. a non-positive variance, ρ outside (0, 1]).
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// What it must satisfy.
        requirement: &'static str,
    },
    /// A buffer or vector has the wrong length.
    ShapeMismatch {
        /// What the buffer holds.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// Input data contain NaN or an infinity.
    NonFinite {
        /// Which input.
        what: &'static str,
    },
    /// An observation is impossible under the channel (e.g. y ∉ {−1, +1} for a sign channel).
    UnsupportedObservation {
        /// The channel's name.
        channel: &'static str,
    },
    /// A model with no layers, or with a layer the algorithm cannot run.
    EmptyModel,
    /// An estimator, a dimension or a form that this prior or channel does not provide (MAP
    /// for a step likelihood, say, or an MMSE estimate that would be a non-Gaussian
    /// d-dimensional integral): `field` is what to change, `reason` says why and what to use.
    Unsupported {
        /// The setting to change (`"estimator"`, `"d"`, `"prior"`, …).
        field: &'static str,
        /// Why, and what to use instead.
        reason: &'static str,
    },
    /// A matrix that must be symmetric positive definite (a precision or a covariance) is not:
    /// its Cholesky factorisation broke down.
    NotPositiveDefinite {
        /// Which matrix.
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidParameter { name, requirement } => {
                write!(f, "invalid parameter `{name}`: must be {requirement}")
            }
            Error::ShapeMismatch {
                what,
                expected,
                found,
            } => {
                write!(
                    f,
                    "wrong length for {what}: expected {expected}, found {found}"
                )
            }
            Error::NonFinite { what } => write!(f, "{what} contains NaN or infinite values"),
            Error::UnsupportedObservation { channel } => {
                write!(f, "observation impossible under the {channel} channel")
            }
            Error::EmptyModel => write!(f, "the model has no layers"),
            Error::Unsupported { field, reason } => write!(f, "{field}: {reason}"),
            Error::NotPositiveDefinite { what } => {
                write!(f, "{what} is not symmetric positive definite")
            }
        }
    }
}

impl core::error::Error for Error {}

/// `Ok(())` if `x` is finite and `> 0`, else an [`Error::InvalidParameter`] naming it.
pub fn positive<T: crate::Real>(name: &'static str, x: T) -> Result<(), Error> {
    if x.is_finite() && x > T::ZERO {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            requirement: "finite and > 0",
        })
    }
}

/// `Ok(())` if `x` is finite and `≥ 0`, else an [`Error::InvalidParameter`] naming it.
pub fn non_negative<T: crate::Real>(name: &'static str, x: T) -> Result<(), Error> {
    if x.is_finite() && x >= T::ZERO {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            requirement: "finite and >= 0",
        })
    }
}

/// The range `[lo, hi]` a scale parameter (a variance, a noise variance, a rate) must lie
/// in: the square roots of the smallest normal and the largest finite number of `T`, capped
/// at `1e∓30` (`[1e-30, 1e30]` in f64, `[1.1e-19, 1.8e19]` in f32). Within it the squares of the
/// scales and their products with each other and with the moments of the model stay finite
/// and normal; beyond it NaN and ∞ appear in the iterations long before any result.
pub fn scale_range<T: crate::Real>() -> (T, T) {
    let hi = T::MAX.sqrt().min(T::c(1e30));
    let lo = T::MIN_POSITIVE.sqrt().max(T::c(1e-30));
    (lo, hi)
}

/// What [`scale`] requires, as the error says it.
pub(crate) const SCALE_REQUIREMENT: &str =
    "finite and in [1e-30, 1e30] (f32: [1.1e-19, 1.8e19]), so that its square stays representable";

/// `Ok(())` if `x` is a representable scale (finite, `> 0`, within [`scale_range`]), else an
/// [`Error::InvalidParameter`] naming it.
pub fn scale<T: crate::Real>(name: &'static str, x: T) -> Result<(), Error> {
    let (lo, hi) = scale_range::<T>();
    if x.is_finite() && x >= lo && x <= hi {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            requirement: SCALE_REQUIREMENT,
        })
    }
}

/// `Ok(())` if `x` is 0 (a noiseless channel) or a representable [`scale`], else an
/// [`Error::InvalidParameter`] naming it.
pub fn noise_scale<T: crate::Real>(name: &'static str, x: T) -> Result<(), Error> {
    if x == T::ZERO {
        return Ok(());
    }
    scale(name, x).map_err(|_| Error::InvalidParameter {
        name,
        requirement: "0, or finite and in [1e-30, 1e30] (f32: [1.1e-19, 1.8e19])",
    })
}

/// How many standard deviations from 0 a prior's mean may be: beyond, `x = μ + √v ξ` keeps
/// fewer than 8 of the 16 digits of f64 for its fluctuation `√v ξ`, and every estimate of it
/// (an average of terms of size `μ²` to recover a part of size `v`) loses the rest.
pub const MAX_MEAN_OVER_SD: f64 = 1e4;

/// `Ok(())` if `mean` is finite and `|mean| ≤` [`MAX_MEAN_OVER_SD`]` · √var`, else an
/// [`Error::InvalidParameter`] naming it (`var` must have passed [`scale`]).
pub fn mean_within<T: crate::Real>(name: &'static str, mean: T, var: T) -> Result<(), Error> {
    if mean.is_finite() && mean.abs() <= T::c(MAX_MEAN_OVER_SD) * var.sqrt() {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            requirement: "finite and at most 1e4 standard deviations (1e4 sqrt(var)) from 0: \
                          subtract the mean from the data",
        })
    }
}

/// `Ok(())` if `x` is finite, else an [`Error::InvalidParameter`] naming it.
pub fn finite<T: crate::Real>(name: &'static str, x: T) -> Result<(), Error> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            requirement: "finite",
        })
    }
}

/// `Ok(())` if the slice has length `expected`, else [`Error::ShapeMismatch`].
pub fn length<T>(what: &'static str, s: &[T], expected: usize) -> Result<(), Error> {
    if s.len() == expected {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what,
            expected,
            found: s.len(),
        })
    }
}
