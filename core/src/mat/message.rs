//! The Gaussian message `(r, Γ)` of ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter,
//! Fletcher, *Matrix inference and estimation in multi-layer models*, eq. 12): the likelihood
//! `exp(−½ (x − r)ᵀ Γ (x − r))` on a row `x ∈ R^d`, and on all `n` rows of a variable at once
//! `exp(−½ ‖X − R‖²_Γ)`, the rows `R` sharing one precision `Γ`.
//!
//! The row and its precision travel together, so they are one value here, in three borrows:
//! [`RowMessage`] (one row, what a row estimator takes), [`Message`] (a variable's rows, read
//! only) and [`MessageMut`] (a variable's rows in a caller-owned buffer and its precision, what
//! the iteration updates).

use super::{MatReal, Precision};
use nalgebra::SVector;

/// The message `(r, Γ)` on one row: the likelihood `exp(−½ (x − r)ᵀ Γ (x − r))`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowMessage<'a, T: MatReal, const D: usize> {
    /// `r`: the row the message is centred on.
    pub r: SVector<T, D>,
    /// `Γ`: its precision (the variable's, common to all its rows).
    pub gamma: &'a Precision<T, D>,
}

impl<'a, T: MatReal, const D: usize> RowMessage<'a, T, D> {
    /// The message `(r, Γ)`.
    pub fn new(r: SVector<T, D>, gamma: &'a Precision<T, D>) -> Self {
        Self { r, gamma }
    }
}

/// The message `(R, Γ)` on the `n` rows of a variable, read only: `R` row-major `n × D`
/// (row `i` is `r[i*D .. (i+1)*D]`), one precision `Γ` for every row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Message<'a, T: MatReal, const D: usize> {
    /// `R`, row-major `n × D`.
    pub r: &'a [T],
    /// `Γ`.
    pub gamma: &'a Precision<T, D>,
}

impl<'a, T: MatReal, const D: usize> Message<'a, T, D> {
    /// The message `(R = r, Γ = gamma)`.
    pub fn new(r: &'a [T], gamma: &'a Precision<T, D>) -> Self {
        Self { r, gamma }
    }

    /// `n`, the number of rows.
    pub fn rows(&self) -> usize {
        self.r.len() / D
    }

    /// Row `i`'s message `(r_i, Γ)`. Panics unless `i < n`.
    #[inline]
    pub fn row(&self, i: usize) -> RowMessage<'a, T, D> {
        RowMessage::new(
            SVector::from_column_slice(&self.r[i * D..(i + 1) * D]),
            self.gamma,
        )
    }
}

/// The message `(R, Γ)` on the `n` rows of a variable as the iteration holds it: `R` in a
/// caller-owned row-major `n × D` buffer, `Γ` by value.
#[derive(Debug)]
pub struct MessageMut<'a, T: MatReal, const D: usize> {
    /// `R`, row-major `n × D`.
    pub r: &'a mut [T],
    /// `Γ`.
    pub gamma: Precision<T, D>,
}

impl<T: MatReal, const D: usize> MessageMut<'_, T, D> {
    /// The message, read only.
    pub fn view(&self) -> Message<'_, T, D> {
        Message::new(self.r, &self.gamma)
    }
}
