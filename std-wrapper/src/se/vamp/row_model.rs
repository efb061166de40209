//! The row-wise model of one variable's two messages (Theorem 1 of Pandit, Sahraee-Ardakan,
//! Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*): what
//! the state evolution carries from one update to the next.
//!
//! - The forward message `R^+ = V⁰ + E^+`: its error is correlated with the truth, so the
//!   model is the `2d×2d` second-moment matrix `K^+` of `(V⁰, E^+)` rows (the theorem's
//!   `(A, B) ~ N(0, K^+)` on a pre-activation; on an activation only its second moments enter
//!   the next linear layer, whose rotation makes them Gaussian).
//! - The backward message `R^- = κ V⁰ + C`, `C ~ N(0, τ^-)` independent of everything on the
//!   factor's side (`κ = 1`; `κ = 0, τ = 0` is the initial message `R^- = 0`).

use mlamp_core::mat::Precision;
use nalgebra::{DMatrix, DVector, SMatrix, SVector};

use super::monte_carlo::Source;

/// `K^+`: the second moments of the rows of the truth `V⁰` and of the forward message's error
/// `E^+ = R^+ − V⁰`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Forward<const D: usize> {
    /// `E[v vᵀ]`.
    pub truth: SMatrix<f64, D, D>,
    /// `E[v eᵀ]`.
    pub cross: SMatrix<f64, D, D>,
    /// `E[e eᵀ]`.
    pub error: SMatrix<f64, D, D>,
}

impl<const D: usize> Forward<D> {
    /// The initial message `R^+ = 0`: `E^+ = −V⁰`.
    pub fn zero_message(truth: SMatrix<f64, D, D>) -> Self {
        Self {
            truth,
            cross: -truth,
            error: truth,
        }
    }

    /// `K^+` as a `2d×2d` matrix, `(v, e)` order.
    pub fn joint(&self) -> DMatrix<f64> {
        let mut k = DMatrix::zeros(2 * D, 2 * D);
        k.view_mut((0, 0), (D, D)).copy_from(&self.truth);
        k.view_mut((0, D), (D, D)).copy_from(&self.cross);
        k.view_mut((D, 0), (D, D))
            .copy_from(&self.cross.transpose());
        k.view_mut((D, D), (D, D)).copy_from(&self.error);
        k
    }
}

/// The backward message `R^- = κ V⁰ + C`, `C ~ N(0, τ)` independent of the truth: `κ` is the
/// `d×d` regression of the message on the truth, `E[R^- V⁰ᵀ] (E[V⁰ V⁰ᵀ])⁻¹`.
///
/// With unbiased messages everywhere a linear layer's backward message has `κ = I` (its
/// error is uncorrelated with the truth). A non-linear factor's has not: the pseudo-observation
/// `r^- = ẑ + B (ẑ − r^+)` that a channel sends its pre-activation is correlated with the true
/// pre-activation (a saturating sigmoid's is shrunk towards the middle of its range), and the
/// next linear layer sees the second moments of `(V⁰, R^-)` in its rotated basis — exactly
/// what `(κ, τ)` keep; that layer's LMMSE step passes the bias on to its input, whose message
/// is regressed in turn ([`super::linear::backward`]). (Measured on the section-5 committee at the first iteration:
/// `‖E[(R^- − V⁰) V⁰ᵀ]‖ ≈ 0.5 √(‖E C Cᵀ‖ ‖E V⁰V⁰ᵀ‖)`; with `κ = I` the state evolution's
/// second iteration predicted an MSE of 0.31 where the algorithm had 0.83.)
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backward<const D: usize> {
    /// `κ`: `I` after a linear layer, the regression above after a channel, 0 for the
    /// initial message.
    pub kappa: SMatrix<f64, D, D>,
    /// `τ^-`.
    pub tau: SMatrix<f64, D, D>,
}

impl<const D: usize> Backward<D> {
    /// The initial message `R^- = 0`.
    pub fn zero_message() -> Self {
        Self {
            kappa: SMatrix::zeros(),
            tau: SMatrix::zeros(),
        }
    }

    /// The message of a linear layer, `R^- = V⁰ + C`, `C ~ N(0, τ)`.
    pub fn unbiased(tau: SMatrix<f64, D, D>) -> Self {
        Self {
            kappa: SMatrix::identity(),
            tau,
        }
    }

    /// The model of a message `R^- = V⁰ + E` from the second moments of the truth `V⁰` and
    /// the error `E` (`E[V⁰V⁰ᵀ]`, `E[E V⁰ᵀ]`, `E[E Eᵀ]`): `κ = I + E[E V⁰ᵀ] E[V⁰V⁰ᵀ]⁻¹`,
    /// `τ = E[E Eᵀ] − E[E V⁰ᵀ] E[V⁰V⁰ᵀ]⁻¹ E[V⁰ Eᵀ]` (the Schur complement, symmetrised). If
    /// `E[V⁰V⁰ᵀ]` is not positive definite, the error is taken as independent (`κ = I`,
    /// `τ = E[E Eᵀ]`).
    pub fn regressed(
        truth: &SMatrix<f64, D, D>,
        cross: &SMatrix<f64, D, D>,
        error: &SMatrix<f64, D, D>,
    ) -> Self {
        let Ok(t) = Precision::from_covariance(*truth) else {
            return Self::unbiased(*error);
        };
        // E[E V⁰ᵀ] E[V⁰V⁰ᵀ]⁻¹ = (E[V⁰V⁰ᵀ]⁻¹ E[V⁰ Eᵀ])ᵀ.
        let k = t.matrix() * cross.transpose();
        let k = k.transpose();
        let tau = error - k * cross.transpose();
        Self {
            kappa: SMatrix::identity() + k,
            tau: (tau + tau.transpose()) * 0.5,
        }
    }
}

/// The state evolution's state of one variable: both precisions, both message models, the
/// first-pass flags and the interventions, as the algorithm's `VariableState` holds them for
/// an instance.
#[derive(Clone, Copy, Debug)]
pub struct VariableSe<const D: usize> {
    /// `Γ^+`.
    pub gamma_plus: Precision<f64, D>,
    /// `Γ^-`.
    pub gamma_minus: Precision<f64, D>,
    /// The forward message's model.
    pub forward: Forward<D>,
    /// The backward message's model.
    pub backward: Backward<D>,
    /// `[forward, backward]`: no update of that message accepted yet.
    pub fresh: [bool; 2],
    /// Interventions of the extrinsic step so far.
    pub interventions: usize,
}

/// A factor `F` with `F Fᵀ = M` for a symmetric positive semi-definite `M` (eigenvalues below
/// zero, from rounding, taken as zero): how Gaussian rows of second moment `M` are drawn.
pub fn psd_factor(m: &DMatrix<f64>) -> DMatrix<f64> {
    let sym = (m + m.transpose()) * 0.5;
    let eig = sym.symmetric_eigen();
    let mut f = eig.eigenvectors.clone();
    for (j, &l) in eig.eigenvalues.iter().enumerate() {
        let r = l.max(0.0).sqrt();
        f.column_mut(j).scale_mut(r);
    }
    f
}

/// A row `F g` with `g` standard normal: a draw of `N(0, F Fᵀ)`.
pub fn draw(factor: &DMatrix<f64>, src: &mut Source) -> DVector<f64> {
    let g = DVector::from_fn(factor.ncols(), |_, _| src.normal());
    factor * g
}

/// The first and second halves of a `2d` vector.
pub fn halves<const D: usize>(v: &DVector<f64>) -> (SVector<f64, D>, SVector<f64, D>) {
    (
        SVector::from_fn(|i, _| v[i]),
        SVector::from_fn(|i, _| v[D + i]),
    )
}

/// A `d`-vector drawn from `N(0, F Fᵀ)` for a `d×d` factor.
pub fn draw_row<const D: usize>(factor: &DMatrix<f64>, src: &mut Source) -> SVector<f64, D> {
    let v = draw(factor, src);
    SVector::from_fn(|i, _| v[i])
}

/// A `d×d` static matrix as a dynamic one.
pub fn dynamic<const D: usize>(m: &SMatrix<f64, D, D>) -> DMatrix<f64> {
    DMatrix::from_fn(D, D, |i, j| m[(i, j)])
}
