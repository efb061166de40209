//! Building blocks of ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix
//! inference and estimation in multi-layer models*): row beliefs with d×d precision matrices.
//!
//! ML-Mat-VAMP (the paper's Algorithm 1) passes, for every row of an n×d matrix, a Gaussian
//! message `(r, Γ)`: a row `r ∈ R^d` and a d×d symmetric positive definite precision `Γ`,
//! standing for the likelihood `exp(−½ (x − r)ᵀ Γ (x − r))` of eq. 12 (the paper writes rows as
//! row vectors and `‖Z − R‖²_Γ = Tr((Z − R)ᵀ (Z − R) Γ)`, which is the sum over rows of this
//! quadratic form). The non-linear layers' estimators `G_ℓ^±` of eq. 13 act row by row: a
//! [`RowDenoiser`] takes `(r, Γ)` and returns the row's estimate and its d×d Jacobian.
//!
//! - [`RowMessage`], [`Message`], [`MessageMut`]: the message `(r, Γ)` on one row, and
//!   `(R, Γ)` on all rows of a variable (read only, or as the iteration updates it).
//! - [`Precision`]: a d×d matrix that is symmetric positive definite by construction (with its
//!   Cholesky factor), plus the eigenvalue floor [`Precision::with_floor`] for the
//!   differences `Γ⁺ = Λ − Γ⁻` of Algorithm 1, which need not stay positive definite.
//! - [`GaussianRow`]: the denoiser of a Gaussian prior `N(μ, Σ)` on the row.
//!
//! Everything here lives on the stack (`nalgebra`'s `SMatrix`/`SVector`), with `d` a const
//! generic `D`; nothing allocates. The scalar bound is [`MatReal`] = [`Real`] + nalgebra's
//! `RealField` (for the matrix arithmetic); call `Real`'s functions with UFCS
//! (`Real::sqrt(x)`), since both traits have methods of the same names.
//!
//! ## Jacobian convention
//!
//! [`RowEstimate::jacobian`] is `J[(i, j)] = ∂x̂_i/∂r_j` (column-vector convention: `x̂` and `r`
//! are `SVector`s). The paper's `∂G/∂R` for row vectors is the transpose. Its line 5,
//! `Λ = ⟨∂G/∂R⟩⁻¹ Γ`, reads in our convention `Λ = (⟨J⟩ᵀ)⁻¹ Γ`. For an MMSE denoiser
//! `J = C Γ` with `C` the posterior covariance of the row (differentiate the posterior mean
//! in `r`), so `⟨J⟩ = ⟨C⟩ Γ` and `Λ = ⟨C⟩⁻¹ = Γ ⟨J⟩⁻¹`, a symmetric matrix (up to rounding).

mod activation;
mod committee;
mod entry_observation;
mod gaussian_row;
mod group_l1;
mod laplace_row;
mod masked;
mod message;
mod mixed_linear;
mod mixture_row;
mod newton;
mod per_entry;
mod precision;
mod row_sparse;
mod scalar_channel;
mod sketch;

pub use activation::{ActivationDenoiser, Estimator};
pub use committee::{CommitteeDenoiser, CommitteeMap, CommitteeMmse, default_nodes};
pub use gaussian_row::{GaussianRow, GaussianRowPosterior};
pub use group_l1::GroupL1;
pub use laplace_row::LaplaceRow;
pub use masked::{MaskedDenoiser, check_mask_not_empty};
pub use message::{Message, MessageMut, RowMessage};
pub use mixed_linear::MixedLinearDenoiser;
pub(crate) use mixed_linear::{NO_MAP as MIXED_LINEAR_NO_MAP, check_pi as mixed_linear_check_pi};
pub use mixture_row::{RowMixture, RowMixturePosterior};
pub use per_entry::PerEntry;
pub use precision::{Precision, symmetric_eigen};
pub use row_sparse::RowSparse;
pub use scalar_channel::ScalarChannelDenoiser;
pub(crate) use sketch::NO_MMSE as SKETCH_NO_MMSE;
pub use sketch::{SketchDenoiser, SketchMap};

use crate::real::Real;
use nalgebra::{RealField, SMatrix, SVector};

/// The scalar of the matrix code: a [`Real`] that is also a nalgebra `RealField` (`f32`,
/// `f64`). Blanket-implemented; exists only to shorten bounds.
///
/// Both supertraits define `sqrt`, `abs`, `ln`, …: call [`Real`]'s with UFCS
/// (`Real::sqrt(x)`), as everything in the core goes through `libm`.
pub trait MatReal: Real + RealField {}

impl<T: Real + RealField> MatReal for T {}

/// A row estimate: the estimate of a row `x ∈ R^d` and its Jacobian in the message's row `r`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowEstimate<T, const D: usize> {
    /// The estimate `x̂(r, Γ)` (the posterior mean for an MMSE denoiser, the mode for MAP).
    pub mean: SVector<T, D>,
    /// `J[(i, j)] = ∂x̂_i/∂r_j` (see the module docs for how it enters `Λ` of Algorithm 1).
    pub jacobian: SMatrix<T, D, D>,
}

/// A row-wise estimator of ML-Mat-VAMP (the paper's `G_ℓ^±` of eq. 13 for a non-linear layer,
/// or `G_0^+` for the signal's prior, restricted to one row).
///
/// Given the message `(r, Γ)` — a likelihood `∝ exp(−½ (x − r)ᵀ Γ (x − r))` on the row `x` —
/// return the estimate of `x` under the belief `p(x) · exp(−½ (x − r)ᵀ Γ (x − r))` and its
/// Jacobian `∂x̂/∂r` (d×d, convention of [`RowEstimate::jacobian`]). Algorithm 1 averages
/// the Jacobians over the rows (`⟨∂G/∂R⟩`, lines 5, 10, 16, 21) to update `Λ`.
///
/// Implemented here by [`GaussianRow`] (closed form). Meant for the row denoisers still to
/// come: a row-sparse (Bernoulli–Gaussian on whole rows) prior, iid per-entry priors (a
/// Gaussian-mixture sum over the `2^d` — or `Π_j K_j` — supports of the row, since a
/// non-diagonal `Γ` couples the entries), and MAP denoisers by Newton's method (Jacobian
/// `(∇²H + Γ)⁻¹ Γ` at the mode).
///
/// Infallible, like the scalar denoisers of [`crate::prior`]: `Γ` is positive definite by
/// the type; non-finite `r` gives non-finite output.
///
/// `Sync`: one model is shared by the threads of a parallel run (the state evolution's
/// Monte-Carlo blocks).
pub trait RowDenoiser<T: MatReal, const D: usize>: Sync {
    /// The estimate of the row and its Jacobian in `r`, for the message `(r, Γ = gamma)`.
    fn denoise(&self, r: &SVector<T, D>, gamma: &Precision<T, D>) -> RowEstimate<T, D>;
}

/// The estimates of both ends of a non-linear layer (one row of each): the pair
/// `(G_ℓ^+, G_ℓ^-)` of the paper's eq. 13 for an even `ℓ`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairEstimate<T, const D: usize> {
    /// The layer's output row `ẑ_out` (the paper's `G_ℓ^+`, its `Ẑ_ℓ^+`) and its Jacobian
    /// `∂ẑ_out/∂r_out` in the output's message row (enters `Λ_ℓ^+`, line 10).
    pub output: RowEstimate<T, D>,
    /// The layer's input row `ẑ_in` (the paper's `G_ℓ^-`, its `Ẑ_{ℓ−1}^-`) and its Jacobian
    /// `∂ẑ_in/∂r_in` in the input's message row (enters `Λ_{ℓ−1}^-`, line 21).
    pub input: RowEstimate<T, D>,
}

impl<T: MatReal, const D: usize> PairEstimate<T, D> {
    /// NaN estimates and Jacobians: what an output-only channel (one whose kind refuses to
    /// be a hidden layer, [`crate::channel::ChannelKind::check_as_hidden`]) returns from
    /// [`ChannelDenoiser::denoise_pair`], so a caller that ignored that check sees it at once
    /// rather than a plausible number.
    pub fn undefined() -> Self {
        let nan = RowEstimate {
            mean: SVector::from_element(T::c(f64::NAN)),
            jacobian: SMatrix::from_element(T::c(f64::NAN)),
        };
        Self {
            output: nan,
            input: nan,
        }
    }
}

/// A layer's channel `P(h | z)` as the row-wise estimators of ML-Mat-VAMP: with `d > 1` the
/// scalar channel acts on each of the row's `d` entries, `P(h | z) = Π_j P(h_j | z_j)`, the
/// noise independent per entry.
///
/// - [`ChannelDenoiser::denoise_pair`]: a hidden layer (the paper's even `ℓ < L`, whose
///   input `z = Z_{ℓ−1}` is a pre-activation and output `h = Z_ℓ` an activation), the belief
///   of eq. 12, `b(h, z) ∝ P(h | z) exp(−½ ‖h − r_out‖²_{Γ_out} − ½ ‖z − r_in‖²_{Γ_in})`;
/// - [`ChannelDenoiser::denoise_output`]: the observed layer (`ℓ = L`, `G_L^-`),
///   `b(z) ∝ P(y | z) exp(−½ ‖z − r‖²_Γ)`, for an observed row `y` of
///   [`ChannelDenoiser::observation_dim`] entries: `d` for a channel acting entry by entry,
///   but an output may observe a function of the whole row (a committee's
///   `y = F₂ᵀ σ(z) + ξ` observes one number per row).
///
/// Whether the estimate is the belief's mean (MMSE) or mode (MAP) is the implementor's; the
/// Jacobians follow [`RowEstimate::jacobian`]'s convention. Object safe, so a model can mix
/// channels of different kinds.
///
/// `Sync`: one model is shared by the threads of a parallel run (the state evolution's
/// Monte-Carlo blocks).
pub trait ChannelDenoiser<T: MatReal, const D: usize>: Sync {
    /// A short name, for errors.
    fn name(&self) -> &'static str;

    /// The hidden-layer estimates for the messages `output = (r_out, Γ_out)` on the
    /// activation `h` and `input = (r_in, Γ_in)` on the pre-activation `z`.
    ///
    /// Default: [`PairEstimate::undefined`], for the output-only channels (committee,
    /// mixed-linear, masked, sketch: their kinds refuse to be a hidden layer,
    /// [`crate::channel::ChannelKind::check_as_hidden`]); every channel that can be a hidden
    /// layer implements it.
    fn denoise_pair(
        &self,
        _output: RowMessage<'_, T, D>,
        _input: RowMessage<'_, T, D>,
    ) -> PairEstimate<T, D> {
        PairEstimate::undefined()
    }

    /// The number `p ≥ 1` of entries of one observed row `y` (the observation is `n_L × p`).
    /// Default: `D`, one observation per entry of the row.
    fn observation_dim(&self) -> usize {
        D
    }

    /// The output layer's estimate of the pre-activation `z` given the observed row `y`
    /// ([`ChannelDenoiser::observation_dim`] entries, else the implementation may panic) and
    /// the message `(r, Γ)` on `z`, and its Jacobian `∂ẑ/∂r`.
    fn denoise_output(&self, y: &[T], message: RowMessage<'_, T, D>) -> RowEstimate<T, D>;

    /// `Ok(())` if the observed row `y` is possible under the channel (its
    /// [`ChannelDenoiser::observation_dim`] entries, every one finite, `±1` for a sign
    /// channel, …), else a typed error. Default: [`check_observation_row`].
    fn check_observation(&self, y: &[T]) -> Result<(), crate::Error> {
        check_observation_row(y, self.observation_dim())
    }

    /// `Ok(())` if the whole observation `y` (rows of [`ChannelDenoiser::observation_dim`]
    /// entries, its length checked by the caller) is possible: by default every row by
    /// [`ChannelDenoiser::check_observation`]; an output whose observation must satisfy
    /// something across rows adds to it (the masked output: at least one observed entry).
    fn check_observations(&self, y: &[T]) -> Result<(), crate::Error> {
        for row in y.chunks(self.observation_dim().max(1)) {
            self.check_observation(row)?;
        }
        Ok(())
    }
}

/// `Ok(())` if the observed row `y` has `dim` entries, all finite; else
/// [`crate::Error::ShapeMismatch`] or [`crate::Error::NonFinite`]. The default of
/// [`ChannelDenoiser::check_observation`], for implementations that add to it.
pub fn check_observation_row<T: Real>(y: &[T], dim: usize) -> Result<(), crate::Error> {
    crate::error::length("observation row", y, dim)?;
    if y.iter().all(|v| Real::is_finite(*v)) {
        Ok(())
    } else {
        Err(crate::Error::NonFinite {
            what: "observation",
        })
    }
}
