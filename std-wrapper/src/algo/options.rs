//! What every driver's options share.

use crate::error::Error;

/// The checks every driver's options share: `max_iter ≥ 1`, `damping ∈ (0, 1]`, a finite
/// `tol ≥ 0`, `blowup > 1`; the error names the command-line option.
pub fn validate_iteration(
    max_iter: usize,
    damping: f64,
    tol: f64,
    blowup: f64,
) -> Result<(), Error> {
    if max_iter == 0 {
        return Err(Error::invalid("iters", "must be >= 1"));
    }
    if !(damping > 0.0 && damping <= 1.0) {
        return Err(Error::invalid("damping", "must be in (0, 1]"));
    }
    if !(tol.is_finite() && tol >= 0.0) {
        return Err(Error::invalid("tol", "must be finite and >= 0"));
    }
    if blowup.is_nan() || blowup <= 1.0 {
        return Err(Error::invalid("blowup", "must be > 1"));
    }
    Ok(())
}
