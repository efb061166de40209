//! The committee experiment of Pandit, Sahraee-Ardakan, Rangan, Schniter and Fletcher,
//! "Matrix inference and estimation in multi-layer models" (section 2.3 and section 5):
//! learning the input layer `F1` (`N_in × d`) of the two-layer network
//! `y_n = F2ᵀ σ(x_nᵀ F1) + ξ_n`, `ξ_n ~ N(0, Δ)`, with `F2 ∈ R^d` known.
//!
//! - [`adam`]: the paper's baseline, MAP estimation of `F1` by ADAM;
//! - [`test_error`]: the test error of an estimate, predicted from the covariance `K` of
//!   eq. 17 by a deterministic cubature, and measured on fresh test samples.
//!
//! Shapes: `X` is `N × N_in` and `F1` is `N_in × d`, both row-major; `F2` and `y` are plain
//! vectors. The paper's `Y = σ(X F1) F2 + Ξ` (its eq. 7) is the same model with the rows
//! stacked.

pub mod adam;
pub mod test_error;

use mlamp_core::channel::Activation;

use crate::error::Error;

/// `Ok` if `data` has `expected` entries, else the core's shape error naming `what`.
fn check_len(what: &'static str, data: &[f64], expected: usize) -> Result<(), Error> {
    if data.len() == expected {
        Ok(())
    } else {
        Err(mlamp_core::Error::ShapeMismatch {
            what,
            expected,
            found: data.len(),
        }
        .into())
    }
}

/// `Ok` if every entry of `data` is finite, else the core's non-finite error naming `what`.
fn check_finite(what: &'static str, data: &[f64]) -> Result<(), Error> {
    if data.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(mlamp_core::Error::NonFinite { what }.into())
    }
}

/// `Ok` if `value` is finite and strictly positive, else an [`Error::Invalid`] for `field`.
fn check_positive(field: &str, value: f64) -> Result<(), Error> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("must be finite and > 0, got {value}"),
        ))
    }
}

/// The network's noiseless output for one input row: `F2ᵀ σ(xᵀ F1)`, with the
/// pre-activations `z = F1ᵀ x` (length `d`) left in `z`.
///
/// `x` has length `N_in`, `f1` is `N_in × d` row-major and `f2`, `z` have length `d`; the
/// callers have checked the shapes.
fn forward(x: &[f64], f1: &[f64], f2: &[f64], act: &dyn Activation<f64>, z: &mut [f64]) -> f64 {
    let d = f2.len();
    z.fill(0.0);
    for (&xk, row) in x.iter().zip(f1.chunks_exact(d)) {
        for (zj, &f) in z.iter_mut().zip(row) {
            *zj += xk * f;
        }
    }
    z.iter().zip(f2).map(|(&zj, &w)| w * act.value(zj)).sum()
}
