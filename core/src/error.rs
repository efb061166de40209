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
