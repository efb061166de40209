//! A Gaussian row belief conditioned on one noisy entry: the rank-one (Kalman) update shared by
//! the outputs whose likelihood observes single entries of the row — mixed linear regression
//! (one entry, which one unknown) and the masked output (the entries of its mask).

use super::MatReal;
use nalgebra::{SMatrix, SVector};

/// The belief `N(m, C)` of a row `z` after observing `y = z_k + ξ`, `ξ ~ N(0, Δ)`:
///
/// - `s = Δ + C_kk` (the variance of `y` under the belief),
/// - `m' = m + C e_k (y − m_k)/s`,
/// - `C' = C − C e_k e_kᵀ C/s`,
///
/// which is `C' = (C⁻¹ + e_k e_kᵀ/Δ)⁻¹` and `m' = C' (C⁻¹ m + e_k y/Δ)` (Sherman–Morrison)
/// written without dividing by `Δ`, so `Δ = 0` (the entry observed exactly) stays finite.
/// The belief's `y`-evidence is `N(y; m_k, s)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct EntryObservation<T: MatReal, const D: usize> {
    /// `m'`.
    pub mean: SVector<T, D>,
    /// `C'`.
    pub covariance: SMatrix<T, D, D>,
    /// `C e_k`: `m'` moves along it, `∂m'/∂m = I − C e_k e_kᵀ/s`.
    pub column: SVector<T, D>,
    /// `s = Δ + C_kk`.
    pub s: T,
}

impl<T: MatReal, const D: usize> EntryObservation<T, D> {
    /// The update of `N(mean, cov)` by `y = z_k + N(0, delta)` (see the type's docs).
    pub(crate) fn new(
        mean: &SVector<T, D>,
        cov: &SMatrix<T, D, D>,
        k: usize,
        y: T,
        delta: T,
    ) -> Self {
        let s = delta + cov[(k, k)];
        let column = cov.column(k).into_owned();
        let e = y - mean[k];
        Self {
            mean: mean + column * (e / s),
            covariance: cov - column * column.transpose() / s,
            column,
            s,
        }
    }
}
