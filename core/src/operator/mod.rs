//! Weight matrices as operators: what ML-AMP needs of `W` (`n_out × n_in`) is `W x`, `Wᵀ u`
//! and either the products with `W∘W` (the entrywise square) or the mean of `W∘W`.
//!
//! The core's [`DenseWeights`] is a row-major matrix over a borrowed slice, with each pair of
//! products fused into one pass over the matrix (the iteration is memory bound: it reads `W`
//! exactly twice, once forward and once backward). The std side can plug in other operators
//! (structured or rotated ones) through the same trait.
//!
//! # Summation order
//!
//! Every product sums its terms in one fixed order, whatever the machine, the block size or the
//! number of threads, so a product gives the same bits everywhere (no term is ever fused into a
//! multiply-add). With `w_ij` the entry of row `i`, column `j`, and `L =` [`kernel::LANES`]:
//!
//! * forward, `(W x)_i`: lane `l ∈ 0..L` sums `w_ij x_j` over the columns `j ≡ l (mod L)`
//!   below the last multiple of `L`, in increasing `j`, starting from `0`; then
//!   `((0 + lane_0) + lane_1) + … + lane_{L−1}`, then the leftover columns in increasing `j`;
//!   `((W∘W) s)_i` is the same with the terms `(w_ij · w_ij) · s_j`;
//! * transposed, `(Wᵀ u)_j = ((0 + w_0j u_0) + w_1j u_1) + …` in increasing row `i`, and
//!   `((W∘W)ᵀ d)_j` the same with the terms `(w_ij · w_ij) · d_i`.
//!
//! The [`kernel`] module holds the loops that implement this order; the std side instantiates
//! the same generic code for wider vector units, so every code path gives the same bits.

mod dense;
pub mod kernel;
pub mod split;

pub use dense::DenseWeights;

use crate::real::Real;

/// A linear operator `W: R^{cols} → R^{rows}` with the products ML-AMP needs.
///
/// Slices passed in must have the lengths stated; implementations may panic otherwise (the
/// algorithm checks every buffer once, up front).
pub trait WeightOperator<T: Real> {
    /// Number of rows `n_out`.
    fn rows(&self) -> usize;
    /// Number of columns `n_in`.
    fn cols(&self) -> usize;
    /// `out = W x` (`x`: cols, `out`: rows).
    fn apply(&self, x: &[T], out: &mut [T]);
    /// `out = Wᵀ u` (`u`: rows, `out`: cols).
    fn apply_t(&self, u: &[T], out: &mut [T]);
    /// `out = W x` and `out_sq = (W∘W) s` in one pass (`x`, `s`: cols; outputs: rows).
    fn apply_with_square(&self, x: &[T], s: &[T], out: &mut [T], out_sq: &mut [T]);
    /// `out = Wᵀ u` and `out_sq = (W∘W)ᵀ d` in one pass (`u`, `d`: rows; outputs: cols).
    fn apply_t_with_square(&self, u: &[T], d: &[T], out: &mut [T], out_sq: &mut [T]);
    /// The mean of the squared entries, `‖W‖_F² / (rows · cols)` (≈ 1/n_in for iid weights).
    fn mean_square(&self) -> T;
}
