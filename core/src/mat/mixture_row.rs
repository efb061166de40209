//! The belief of a row under a Gaussian-mixture prior: the engine shared by the MMSE row
//! denoisers whose prior on the row is a finite mixture of (possibly degenerate) Gaussians,
//! [`RowSparse`](super::RowSparse) and [`PerEntry`](super::PerEntry).

use super::{MatReal, Precision, RowEstimate};
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// The belief `b(x) ∝ p(x) exp(−½ (x − r)ᵀ Γ (x − r))` of a row `x ∈ R^d` under a
/// Gaussian-mixture prior `p`: its mean (the MMSE estimate `G_0^+` of the paper's eq. 13 for
/// the belief `b_0` of eq. 12), covariance, the Jacobian of the mean, and its log-normaliser.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowMixturePosterior<T, const D: usize> {
    /// `x̂ = E_b[x] = Σ_a w_a m_a` (the posterior weights `w_a` and component means `m_a` of
    /// [`RowMixture`]).
    pub mean: SVector<T, D>,
    /// `Cov_b[x] = Σ_a w_a (C_a + (m_a − x̂)(m_a − x̂)ᵀ)`: exactly symmetric, and positive
    /// semi-definite up to rounding.
    pub covariance: SMatrix<T, D, D>,
    /// `∂x̂/∂r = Cov_b[x] Γ` (`J[(i, j)] = ∂x̂_i/∂r_j`, the convention of
    /// [`RowEstimate::jacobian`]).
    pub jacobian: SMatrix<T, D, D>,
    /// `log ∫ p(x) exp(−½ (x − r)ᵀ Γ (x − r)) dx` (the Gaussian factor is not normalised: for
    /// `d = 1` this is the scalar priors' `log Z(A, B)` with `A = γ`, `B = γ r`, minus `γ r²/2`).
    pub log_z: T,
}

impl<T: MatReal, const D: usize> RowMixturePosterior<T, D> {
    /// The mean and the Jacobian, as a [`RowDenoiser`](super::RowDenoiser) returns them.
    pub fn estimate(&self) -> RowEstimate<T, D> {
        RowEstimate {
            mean: self.mean,
            jacobian: self.jacobian,
        }
    }
}

/// A one-pass accumulator of the belief `b_0(x) ∝ p(x) exp(−½ (x − r)ᵀ Γ (x − r))` of a row
/// (the paper's eq. 12) for a prior `p = Σ_a π_a N(μ_a, V_a)` fed component by component, and
/// of its MMSE estimate `G_0^+` (eq. 13). A prior with a combinatorial number of components,
/// like the `Π_j K_j` of an iid per-entry prior, is never stored.
///
/// Each covariance is given by a square-root factor, `V_a = S_a S_aᵀ`, which may be singular
/// (a point mass is `S = 0`; a zero row `i` pins `x_i` at `μ_i`). With `M_a = I + S_aᵀ Γ S_a`
/// (symmetric, eigenvalues `≥ 1`) and `δ_a = r − μ_a`, the component's belief is Gaussian with
///
/// - covariance `C_a = S_a M_a⁻¹ S_aᵀ` (for `S = V^{1/2}` this is
///   `V^{1/2} (I + V^{1/2} Γ V^{1/2})⁻¹ V^{1/2}`, which is `(V⁻¹ + Γ)⁻¹` when `V` is invertible
///   and stays exact when it is not),
/// - mean `m_a = μ_a + S_a z_a` with `z_a = M_a⁻¹ S_aᵀ Γ δ_a` (`= μ_a + C_a Γ δ_a`),
/// - evidence `Z_a = ∫ N(x; μ_a, V_a) exp(−½ (x − r)ᵀ Γ (x − r)) dx
///   = det(M_a)^{−½} exp(−½ Q_a)`, proportional to `N(r; μ_a, V_a + Γ⁻¹)` (the factor
///   `(2π)^{d/2} det Γ^{−½}` is common to all components), where
///   `Q_a = δ_aᵀ (V_a + Γ⁻¹)⁻¹ δ_a` is evaluated as the sum of squares
///   `Q_a = ‖r − m_a‖²_Γ + ‖z_a‖²` (the minimum over `z` of `‖S_a z − δ_a‖²_Γ + ‖z‖²`), free of
///   the cancellation of `δᵀ Γ δ − δᵀ Γ C Γ δ` when `Γ` is large.
///
/// The mixture's posterior weights are `w_a ∝ π_a Z_a`, handled in the log domain: the
/// log-weights `ln π_a − ½ ln det M_a − ½ Q_a` are combined by a streaming log-sum-exp (every
/// weight relative to the largest seen so far, the sums rescaled when it grows), and the mean
/// and covariance by West's weighted update (`S ← S + p`, `x̂ ← x̂ + (p/S)(m_a − x̂)`,
/// `M₂ ← M₂ + p C_a + (S_old p/S) (m_a − x̂_old)(m_a − x̂_old)ᵀ`), which adds only positive
/// semi-definite terms: no cancellation of `E[x xᵀ] − x̂ x̂ᵀ`. The result is
/// [`RowMixturePosterior`]: `x̂ = Σ_a w_a m_a`,
/// `Cov = Σ_a w_a (C_a + m_a m_aᵀ) − x̂ x̂ᵀ`, `J = Cov Γ` (differentiate `x̂` in `r`),
/// `log Z = log Σ_a π_a Z_a`.
///
/// Numerics: `M_a` is formed as `I + K_aᵀ K_a` with `K_a = Lᵀ S_a` in the coordinates
/// whitened by the Cholesky factor `Γ = L Lᵀ` (so it is `⪰ I` up to rounding even when the
/// stored `Γ` is slightly indefinite in rounding), and if its factorisation still fails (a
/// condition number beyond `1/ε`) its eigenvalues are floored at 1, their exact lower bound.
/// Components with `π_a = 0` (`ln π_a = −∞`) are skipped. Outputs are finite whenever the
/// inputs are and `S_aᵀ Γ S_a`, `Lᵀ δ_a` and the quadratic forms do not overflow; at least one
/// component must have a finite log-weight (else the covariance is NaN).
#[derive(Clone, Copy, Debug)]
pub struct RowMixture<'a, T, const D: usize> {
    /// The message's row `r`.
    r: &'a SVector<T, D>,
    /// The message's precision `Γ`.
    gamma: &'a Precision<T, D>,
    /// The largest log-weight so far (`−∞` before the first component).
    top: T,
    /// `Σ_a exp(l_a − top)`.
    sum: T,
    /// The weighted mean of the component means so far.
    mean: SVector<T, D>,
    /// `Σ_a exp(l_a − top) (C_a + (m_a − x̂)(m_a − x̂)ᵀ)` so far (exactly symmetric).
    m2: SMatrix<T, D, D>,
}

impl<'a, T: MatReal, const D: usize> RowMixture<'a, T, D> {
    /// An empty mixture for the message `(r, Γ)`.
    pub fn new(r: &'a SVector<T, D>, gamma: &'a Precision<T, D>) -> Self {
        Self {
            r,
            gamma,
            top: -<T as Real>::INFINITY,
            sum: T::ZERO,
            mean: SVector::from_fn(|_, _| T::ZERO),
            m2: SMatrix::from_fn(|_, _| T::ZERO),
        }
    }

    /// Adds the component `exp(log_weight) · N(mean, S Sᵀ)`, `S = factor` (any d×d matrix,
    /// singular allowed).
    pub fn add(&mut self, log_weight: T, mean: &SVector<T, D>, factor: &SMatrix<T, D, D>) {
        if log_weight == -<T as Real>::INFINITY {
            return;
        }
        let (log_z, m, c) = component(self.r, self.gamma, mean, factor);
        self.push(log_weight + log_z, &m, &c);
    }

    /// Adds the component `exp(log_weight) · N(mean, diag(var))` (`var ≥ 0` entrywise; zeros
    /// pin their coordinates at the mean), i.e. [`RowMixture::add`] with
    /// `S = diag(√var)`.
    pub fn add_diagonal(&mut self, log_weight: T, mean: &SVector<T, D>, var: &SVector<T, D>) {
        let factor =
            SMatrix::<T, D, D>::from_fn(|i, j| if i == j { Real::sqrt(var[i]) } else { T::ZERO });
        self.add(log_weight, mean, &factor);
    }

    /// The belief's moments from the components added so far.
    pub fn finish(&self) -> RowMixturePosterior<T, D> {
        let covariance = self.m2 / self.sum;
        RowMixturePosterior {
            mean: self.mean,
            covariance,
            jacobian: covariance * self.gamma.matrix(),
            log_z: self.top + Real::ln(self.sum),
        }
    }

    /// Folds in a component of log-weight `l` (prior weight times evidence), mean `m` and
    /// covariance `c` (streaming log-sum-exp and West's update, see the type's docs).
    fn push(&mut self, l: T, m: &SVector<T, D>, c: &SMatrix<T, D, D>) {
        if l == -<T as Real>::INFINITY {
            return;
        }
        if l > self.top {
            let scale = if self.top == -<T as Real>::INFINITY {
                T::ZERO
            } else {
                Real::exp(self.top - l)
            };
            self.sum *= scale;
            self.m2 *= scale;
            self.top = l;
        }
        let p = Real::exp(l - self.top);
        let old = self.sum;
        self.sum += p;
        let delta = m - self.mean;
        let f = p / self.sum;
        self.mean += delta * f;
        let g = old * f;
        for i in 0..D {
            for j in 0..D {
                self.m2[(i, j)] += p * c[(i, j)] + g * delta[i] * delta[j];
            }
        }
    }
}

/// The belief of one component `N(μ, S Sᵀ)` for the message `(r, Γ)`: `(ln Z, m, C)`.
///
/// Worked in the coordinates whitened by `Γ = L Lᵀ`: with `K = Lᵀ S` and `y = Lᵀ (r − μ)`,
/// `M = I + Kᵀ K` (`= I + Sᵀ Γ S`), `z = M⁻¹ Kᵀ y` (the minimiser of `‖K z − y‖² + ‖z‖²`),
/// `m = μ + S z`, `C = S M⁻¹ Sᵀ` (symmetrised) and `ln Z = −½ ln det M − ½ (‖y − K z‖² + ‖z‖²)`
/// (`y − K z = Lᵀ (r − m)`). Using the factor rather than the stored `Γ` keeps `M ⪰ I` even
/// when `Γ`'s rounding makes its matrix slightly indefinite; should the factorisation of `M`
/// still fail (a condition number beyond `1/ε`), its eigenvalues are floored at 1, their exact
/// lower bound ([`Precision::with_floor`]). A non-finite `M` (overflow) gives a NaN
/// log-evidence.
fn component<T: MatReal, const D: usize>(
    r: &SVector<T, D>,
    gamma: &Precision<T, D>,
    mu: &SVector<T, D>,
    s: &SMatrix<T, D, D>,
) -> (T, SVector<T, D>, SMatrix<T, D, D>) {
    let lt = gamma.cholesky_factor().transpose();
    let k = lt * s;
    let kt = k.transpose();
    let y = lt * (r - mu);
    let inner = kt * k + SMatrix::<T, D, D>::identity();
    let m = match Precision::new_named(inner, "I + SᵀΓS") {
        Ok(m) => m,
        Err(_) => match Precision::with_floor(inner, T::ONE) {
            Ok((m, _)) => m,
            Err(_) => {
                let nan = <T as Real>::c(f64::NAN);
                return (nan, *mu, SMatrix::from_fn(|_, _| nan));
            }
        },
    };
    let z = m.solve(&(kt * y));
    let resid = y - k * z;
    let log_z = -T::HALF * (m.log_det() + resid.dot(&resid) + z.dot(&z));
    let half = s * m.solve_matrix(&s.transpose());
    let c = SMatrix::<T, D, D>::from_fn(|i, j| (half[(i, j)] + half[(j, i)]) * T::HALF);
    (log_z, mu + s * z, c)
}
