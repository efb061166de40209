//! The layer `h = φ(z) + ξ`, `ξ ~ N(0, Δ I)`, as the MAP or MMSE row estimators of a
//! non-linear layer of ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher,
//! *Matrix inference and estimation in multi-layer models*, eqs. 12–13).
//!
//! One concept a file: here the estimator's configuration ([`Estimator`],
//! [`ActivationDenoiser`]), the noise algebra shared by both estimates and the
//! [`ChannelDenoiser`] face that picks one; `map` the mode of the belief by damped Newton
//! (any `d`); `mmse` the mean of a one-dimensional belief by graded Gauss–Legendre panels.
//! The formulas are in [`ActivationDenoiser`]'s docs.

mod map;
mod mmse;

use super::{
    ChannelDenoiser, MatReal, PairEstimate, Precision, RowEstimate, RowMessage,
    check_observation_row, symmetric_eigen,
};
use crate::channel::Activation;
use crate::error::{self, Error};
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// Ratio of successive panel edges' distances from a centre (1.5: a panel is at most half
/// as wide as its distance from the centre).
const GRADING: f64 = 1.5;
/// Panel edges grade geometrically from each centre, at most this many per side (out to
/// `1.5^90 ≈ 7e15` times the centre's scale; beyond, one panel reaches the support's end).
const MAX_GRADING: usize = 90;
/// The support of the MMSE integral keeps every `z` whose prior factor alone can reach
/// `e^{−TAIL}` of the belief's peak (plus a term for the ratio of scales).
const TAIL: f64 = 50.0;

pub use crate::estimator::Estimator;

/// The channel `h = φ(z) + ξ`, `ξ ~ N(0, Δ I)` (`Δ ≥ 0`; `Δ = 0` is the noiseless layer
/// `h = φ(z)`), with `φ` an [`Activation`] applied to each of the row's `d` entries, as the
/// estimators of eq. 13 (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference
/// and estimation in multi-layer models*) for the belief of eq. 12.
///
/// The paper's non-linear layer `ℓ` has `Z_ℓ` = our output `h` (message `(r_out, Γ_out)` =
/// its `(R_ℓ^-, Γ_ℓ^-)`) and `Z_{ℓ−1}` = our input `z` (message `(r_in, Γ_in)` = its
/// `(R_{ℓ−1}^+, Γ_{ℓ−1}^+)`); row by row, eq. 12 reads
///
/// `b(h, z) ∝ N(h; φ(z), Δ I) exp(−½ ‖h − r_out‖²_{Γ_out} − ½ ‖z − r_in‖²_{Γ_in})`.
///
/// **Eliminating `h`.** For fixed `z` the belief of `h` is Gaussian with precision
/// `I/Δ + Γ_out`, covariance `Δ P⁻¹` and mean `h*(z) = P⁻¹ (φ(z) + Δ Γ_out r_out)`, where
/// `P = I + Δ Γ_out` (`h*(z) = φ(z)` at `Δ = 0`). What is left for `z` is `b(z) ∝ e^{−f(z)}`,
///
/// `f(z) = ½ (φ(z) − r_out)ᵀ M (φ(z) − r_out) + ½ (z − r_in)ᵀ Γ_in (z − r_in)`,
/// `M = (Δ I + Γ_out⁻¹)⁻¹ = Γ_out P⁻¹`
///
/// (`M = Γ_out` at `Δ = 0`), both the exact marginal of `z` and the joint objective
/// `−log b(h, z)` minimised over `h`. `M`, `P⁻¹` and `Δ P⁻¹ Γ_out` are formed from the
/// eigen-decomposition `Γ_out = Q diag(γ) Qᵀ` as `Q diag(1/(1/γ + Δ)) Qᵀ`, `Q diag(1/(1 + Δγ))
/// Qᵀ` and `Q diag(Δγ/(1 + Δγ)) Qᵀ`, finite however large `γ` or small `Δ`.
///
/// **The observed layer** ([`ChannelDenoiser::denoise_output`], the paper's `G_L^-`): `y`
/// replaces `r_out` and `M = I/Δ` (the likelihood `N(y; φ(z), Δ I)`), which needs `Δ > 0`
/// — except for the identity activation, where `Δ = 0` means `z = y` is observed: then
/// `ẑ = y` and the Jacobian is `0`. For another activation with `Δ = 0`,
/// [`ChannelDenoiser::check_observation`] returns an error and `denoise_output` returns NaN.
///
/// **MAP** ([`Estimator::Map`], any `d`): the mode `ẑ = argmin f` by damped Newton in `d`
/// dimensions — gradient `D_φ M (φ − r_out) + Γ_in (z − r_in)`, Hessian
/// `H = D_φ M D_φ + diag(φ''_j [M (φ − r_out)]_j) + Γ_in` (`D_φ = diag(φ'(z_j))`), shifted by
/// `τ I` (Levenberg) when it is not positive definite, a backtracking (Armijo) line search on
/// `f` (the full step is also taken when it raises `f` by no more than its rounding, where
/// `f` is flat to working precision but `z` still converges), at most 200 iterations,
/// stopped when a step falls below `16 ε (‖z‖∞ + ‖r_in‖∞ + 1/√H)` or, below `√ε` times that,
/// stops shrinking (the gradient's rounding noise). `f` need not be convex (a saturating `φ`
/// and a message `r_out` far from `φ(r_in)` give two modes), so Newton runs from several
/// starts and the lowest mode is kept: `r_in`; the likelihood's side `s` — `φ⁻¹(r_out_j)` for
/// the entries where `r_out_j` is in the range of `φ`, and for the others (the likelihood
/// then keeps decreasing towards `±∞`) the lowest point of `f` on the ray
/// `r_in_j ± σ_j 1.5^k`, `σ_j² = (Γ_in⁻¹)_jj`, scanned out to where the prior alone costs
/// `f(r_in) + 50`; and for `d > 1` the `2d` one-entry swaps between `r_in` and `s` (all `2^d`
/// mixtures for `d ≤ 3`), for modes with some entries on the prior's side and others on the
/// likelihood's. (A global minimum is not guaranteed in general.) Then `ĥ = h*(ẑ)` and, by implicit differentiation of `∇f(ẑ) = 0`,
/// `∂ẑ/∂r_in = H⁻¹ Γ_in`, `∂ẑ/∂r_out = H⁻¹ D_φ M`,
/// `∂ĥ/∂r_out = P⁻¹ (D_φ ∂ẑ/∂r_out + Δ Γ_out)`. For the identity activation `f` is
/// quadratic (one start) and the first Newton step lands on the mode, which is also the mean:
/// MAP = MMSE exactly.
///
/// At a kink of `φ` (ReLU at 0) `f` is only piecewise smooth: the line search stops at the
/// first kink its step crosses, an entry on a kink whose one-sided derivatives of `f` bracket
/// 0 is held there (a corner minimum), and so is, for one iteration, an entry that the
/// Newton step would take off the kink on the side opposite to its gradient's (an active
/// set). A held entry's rows of the Jacobians are 0; the other entries' come from `H`
/// restricted to the free entries.
///
/// **MMSE** ([`Estimator::Mmse`]), `d = 1` (for the identity, any `d`: the MAP above): the
/// moments of `e^{−f(z)}` by Gauss–Legendre panels (16 nodes each) whose edges grade
/// geometrically (ratio 1.5) away from each centre — the modes of both Newton starts, the
/// starts themselves (the prior's and the likelihood's centres: the belief may have a
/// shoulder there) and the kink, the smallest panel a quarter of the centre's Laplace scale `1/√|f''|` (at a
/// kink also `1/|f'|`, one side's decay rate) — out to the whole support
/// `|z − r_in| ≤ √(2 (f(ẑ) + 50 + ln⁺(σ/s))/γ_in)` (`σ = 1/√γ_in`, `s` the smallest scale;
/// outside it `e^{f(ẑ) − f}` is below `e^{−50}` times the prior tail, since
/// `f ≥ ½ γ_in (z − r_in)²`). The kink is a panel edge, so each panel's integrand is smooth.
/// Weights `e^{f(ẑ) − f(z)}` are rescaled on the fly if a lower `f` turns up; if one does
/// (a mode the starts missed), Newton from that node adds its mode as a centre and the
/// integral is redone (at most twice). Then, with `a = 1/(1 + Δγ_out)`:
/// `E[h] = a E[φ(z)] + (1 − a) r_out`, `Var h = Δ a + a² Var φ(z)`, and
/// `∂ẑ/∂r_in = Var(z) γ_in`, `∂ĥ/∂r_out = Var(h) γ_out` (the derivatives of the belief's
/// mean in its linear parameters). If the belief is narrower than the floating-point spacing
/// at `ẑ` (no panel is resolvable), its Laplace approximation is returned (mean `ẑ`,
/// variance `1/max(|f''(ẑ)|, γ_in)`). Cost: a few hundred to a thousand evaluations of `φ` per row
/// (15–30 µs in f64 on a desktop core); relative accuracy `~1e-9` or better against
/// brute-force integration in the tests, `~1e-13` for unimodal beliefs.
///
/// Everything stays finite for huge fields, tiny `Δ` (down to where `1/Δ` overflows) and
/// huge or tiny precisions; variances are `≥ 0`, and `Var z > 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivationDenoiser<T, A, const D: usize> {
    /// `φ`.
    activation: A,
    /// `Δ ≥ 0`.
    noise_var: T,
    /// MAP or MMSE.
    estimator: Estimator,
    /// The Gauss–Legendre rule of the MMSE quadrature's panels.
    rule: mmse::Rule<T>,
}

impl<T: MatReal, A: Activation<T>, const D: usize> ActivationDenoiser<T, A, D> {
    /// The layer `h = φ(z) + ξ`, `ξ ~ N(0, noise_var · I)`, with `φ = activation`, estimated
    /// by `estimator`.
    ///
    /// Errors ([`Error::InvalidParameter`]): `"noise_var"` unless it is 0 or a representable
    /// scale ([`error::noise_scale`]); `"estimator"` if [`Estimator::supports`] is false for
    /// `(activation, D)` — [`Estimator::Mmse`] with `D > 1` and a non-identity activation.
    pub fn new(activation: A, noise_var: T, estimator: Estimator) -> Result<Self, Error> {
        error::noise_scale("noise_var", noise_var)?;
        if !estimator.supports(&activation, D) {
            return Err(Error::InvalidParameter {
                name: "estimator",
                requirement: "Map, or Mmse with d = 1 or the identity activation",
            });
        }
        Ok(Self {
            activation,
            noise_var,
            estimator,
            rule: mmse::Rule::new(),
        })
    }

    /// `φ`.
    pub fn activation(&self) -> &A {
        &self.activation
    }

    /// `Δ`.
    pub fn noise_var(&self) -> T {
        self.noise_var
    }

    /// The estimator.
    pub fn estimator(&self) -> Estimator {
        self.estimator
    }

    /// `Ok(())` if the layer can be the observed one: `Δ > 0`, or the identity activation.
    /// Else [`Error::InvalidParameter`] (`"noise_var"`): the likelihood `N(y; φ(z), 0)` of a
    /// noiseless non-linear observation is not a density this denoiser integrates.
    pub fn check_output(&self) -> Result<(), Error> {
        if self.noise_var > T::ZERO || self.activation.is_identity() {
            Ok(())
        } else {
            Err(Error::InvalidParameter {
                name: "noise_var",
                requirement: "> 0 for an observed layer with a non-identity activation",
            })
        }
    }

    /// Whether the MMSE estimate is the 1-D quadrature (else it is the MAP's closed form).
    fn uses_quadrature(&self) -> bool {
        self.estimator == Estimator::Mmse && D == 1 && !self.activation.is_identity()
    }

    /// `(M, P⁻¹, Δ P⁻¹ Γ_out)` for the hidden layer (see the type's docs).
    fn noise_matrices(
        &self,
        gamma_out: &Precision<T, D>,
    ) -> (SMatrix<T, D, D>, SMatrix<T, D, D>, SMatrix<T, D, D>) {
        let delta = self.noise_var;
        if delta == T::ZERO {
            return (*gamma_out.matrix(), SMatrix::identity(), SMatrix::zeros());
        }
        let (values, q) = symmetric_eigen(gamma_out.matrix());
        let mut m = SVector::<T, D>::zeros();
        let mut p_inv = SVector::<T, D>::zeros();
        let mut s = SVector::<T, D>::zeros();
        for k in 0..D {
            let (mk, pk, sk) = noise_factors(delta, values[k]);
            m[k] = mk;
            p_inv[k] = pk;
            s[k] = sk;
        }
        (spectral(&q, &m), spectral(&q, &p_inv), spectral(&q, &s))
    }
}

impl<T: MatReal, A: Activation<T>, const D: usize> ChannelDenoiser<T, D>
    for ActivationDenoiser<T, A, D>
{
    fn name(&self) -> &'static str {
        self.activation.name()
    }

    /// The hidden layer's estimates (eq. 13 for the belief of eq. 12), MAP or MMSE as
    /// constructed; see the type's docs for the formulas.
    fn denoise_pair(
        &self,
        output: RowMessage<'_, T, D>,
        input: RowMessage<'_, T, D>,
    ) -> PairEstimate<T, D> {
        if self.uses_quadrature() {
            self.mmse_pair(output, input)
        } else {
            self.map_pair(output, input)
        }
    }

    /// The observed layer's estimate of `z` for the belief
    /// `b(z) ∝ N(y; φ(z), Δ I) exp(−½ ‖z − r‖²_Γ)`: `f` with `r_out = y`, `M = I/Δ`. The
    /// identity with `Δ = 0` gives `ẑ = y`, Jacobian 0; another activation with `Δ = 0` gives
    /// NaN (rejected by [`ChannelDenoiser::check_observation`]).
    fn denoise_output(&self, y: &[T], message: RowMessage<'_, T, D>) -> RowEstimate<T, D> {
        let y = SVector::<T, D>::from_column_slice(y);
        let delta = self.noise_var;
        if delta == T::ZERO {
            if self.activation.is_identity() {
                return RowEstimate {
                    mean: y,
                    jacobian: SMatrix::zeros(),
                };
            }
            let nan = T::c(f64::NAN);
            return RowEstimate {
                mean: SVector::from_element(nan),
                jacobian: SMatrix::from_element(nan),
            };
        }
        let inv = T::ONE / delta;
        if self.uses_quadrature() {
            self.mmse_output(inv, &y, message)
        } else {
            self.map_output(inv, &y, message)
        }
    }

    /// `D` entries, every one finite ([`check_observation_row`]), and
    /// [`ActivationDenoiser::check_output`].
    fn check_observation(&self, y: &[T]) -> Result<(), Error> {
        check_observation_row(y, D)?;
        self.check_output()
    }
}

/// For one eigenvalue `γ ≥ 0` of `Γ_out` (clamped at 0) and `Δ > 0`:
/// `(γ/(1 + Δγ), 1/(1 + Δγ), Δγ/(1 + Δγ))`, finite for every finite `γ` (also where `Δγ`
/// overflows).
fn noise_factors<T: Real>(delta: T, gamma: T) -> (T, T, T) {
    let g = Real::max(gamma, T::ZERO);
    let x = delta * g;
    if !Real::is_finite(x) {
        return (T::ONE / delta, T::ZERO, T::ONE);
    }
    let p = T::ONE / (T::ONE + x);
    let m = if x <= T::ONE {
        g * p
    } else {
        T::ONE / (delta + T::ONE / g)
    };
    (m, p, x * p)
}

/// `Q diag(v) Qᵀ`, exactly symmetric.
fn spectral<T: MatReal, const D: usize>(
    q: &SMatrix<T, D, D>,
    v: &SVector<T, D>,
) -> SMatrix<T, D, D> {
    let mut out = SMatrix::<T, D, D>::zeros();
    for i in 0..D {
        for j in i..D {
            let mut acc = T::ZERO;
            for k in 0..D {
                acc += q[(i, k)] * v[k] * q[(j, k)];
            }
            out[(i, j)] = acc;
            out[(j, i)] = acc;
        }
    }
    out
}

/// The offset at which to read the other side of a kink at `k`.
fn side_offset<T: Real>(k: T) -> T {
    T::c(4.0) * T::EPSILON * Real::max(T::ONE, Real::abs(k))
}
