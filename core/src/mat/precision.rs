//! Symmetric positive definite d×d precision matrices, always carried with their Cholesky
//! factor, and the eigenvalue floor that keeps ML-Mat-VAMP's precisions positive definite.

use super::MatReal;
use crate::error::{self, Error};
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// A d×d symmetric positive definite matrix — in ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*) a precision `Γ`
/// of a row message (the `Γ_ℓ^±` of eq. 12 and Algorithm 1, or a posterior precision `Λ`) —
/// stored with its lower Cholesky factor `L`, `Γ = L Lᵀ`, `L_ii > 0`.
///
/// Every constructor either factors the matrix or builds the factor so that it is positive
/// definite by construction, so a `Precision` is always symmetric (exactly: entry `(i, j)` and
/// `(j, i)` are the same float), finite, and has a finite factor with a positive diagonal.
/// Solves, inverse, determinant and quadratic form all go through `L`; nothing allocates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Precision<T, const D: usize> {
    /// `Γ`, exactly symmetric.
    matrix: SMatrix<T, D, D>,
    /// Lower-triangular `L` (zeros above the diagonal) with `Γ = L Lᵀ` up to rounding.
    chol: SMatrix<T, D, D>,
}

impl<T: MatReal, const D: usize> Precision<T, D> {
    /// `Γ = (M + Mᵀ)/2`, if it is symmetric positive definite: [`Error::NonFinite`] if `M` has
    /// a NaN or an infinity, [`Error::NotPositiveDefinite`] if the Cholesky factorisation of
    /// the symmetrised matrix meets a pivot that is not `> 0` (or overflows).
    pub fn new(m: SMatrix<T, D, D>) -> Result<Self, Error> {
        Self::new_named(m, "precision matrix")
    }

    /// [`Precision::new`], naming the matrix `what` in the error.
    pub fn new_named(m: SMatrix<T, D, D>, what: &'static str) -> Result<Self, Error> {
        check_finite(&m, what)?;
        let matrix = symmetrise(&m);
        match cholesky(&matrix) {
            Some(chol) => Ok(Self { matrix, chol }),
            None => Err(Error::NotPositiveDefinite { what }),
        }
    }

    /// The precision `Γ = Σ⁻¹` of a covariance `Σ` (symmetrised as in [`Precision::new`]).
    ///
    /// Computed without forming an inverse and refactoring it: with `J` the reversal
    /// permutation, the Cholesky factor `L̃` of `J Σ J` gives `Σ = U Uᵀ` with `U = J L̃ J` upper
    /// triangular, hence `Σ⁻¹ = U⁻ᵀ U⁻¹`, whose lower Cholesky factor is `U⁻ᵀ = J L̃⁻ᵀ J`.
    /// So any covariance that passes a Cholesky factorisation gives a valid precision, however
    /// ill-conditioned. Errors as [`Precision::new`] (on `Σ`), with `what = "covariance"`.
    pub fn from_covariance(cov: SMatrix<T, D, D>) -> Result<Self, Error> {
        Self::from_covariance_named(cov, "covariance")
    }

    /// [`Precision::from_covariance`], naming the covariance `what` in the error.
    pub fn from_covariance_named(cov: SMatrix<T, D, D>, what: &'static str) -> Result<Self, Error> {
        check_finite(&cov, what)?;
        let sym = symmetrise(&cov);
        let rev = SMatrix::<T, D, D>::from_fn(|i, j| sym[(D - 1 - i, D - 1 - j)]);
        let lt = cholesky(&rev).ok_or(Error::NotPositiveDefinite { what })?;
        let w = lower_inverse(&lt);
        // With W = L̃⁻¹: U⁻ᵀ = J Wᵀ J, i.e. (U⁻ᵀ)_ij = W_{D−1−j, D−1−i}, lower triangular.
        let chol = SMatrix::<T, D, D>::from_fn(|i, j| w[(D - 1 - j, D - 1 - i)]);
        let matrix = gram_lower(&chol);
        if all_finite(&chol) && all_finite(&matrix) {
            Ok(Self { matrix, chol })
        } else {
            Err(Error::NotPositiveDefinite { what })
        }
    }

    /// The eigenvalue floor: the symmetrised `S = (M + Mᵀ)/2 = Q diag(λ) Qᵀ` (see
    /// [`symmetric_eigen`]) with every eigenvalue `λ_i < floor` raised to `floor`,
    /// `Γ = Q diag(max(λ_i, floor)) Qᵀ`, and the number of eigenvalues so raised.
    ///
    /// This is the counted intervention of the ML-Mat-VAMP issue: Algorithm 1's updates
    /// `Γ⁺ = Λ⁺ − Γ⁻` and `Γ⁻ = Λ⁻ − Γ⁺` (lines 6, 11, 17, 22) are differences of positive
    /// definite matrices and can lose definiteness (through averaging of Jacobians over finite
    /// n, or rounding); the caller floors them here and reports the count, instead of
    /// silently clamping. With no eigenvalue below the floor, the result is exactly
    /// [`Precision::new`]`(m)` (the count is 0) — unless that factorisation fails anyway
    /// (eigenvalues at the rounding level of `‖S‖`), in which case the factor is rebuilt as
    /// below, still with count 0.
    ///
    /// When an eigenvalue is raised, the factor is built as the Cholesky factor of
    /// `floor·I + Σ_i (max(λ_i, floor) − floor) q_i q_iᵀ`, starting from `√floor · I` and
    /// applying one positive rank-one update per eigenvector (Givens rotations, which cannot
    /// break down), so the result is positive definite whatever the conditioning. The count
    /// is exact up to the accuracy of the eigenvalues (absolute `~ ε ‖S‖`).
    ///
    /// Errors: [`Error::NonFinite`] for a non-finite `M`, [`Error::InvalidParameter`] unless
    /// `floor` is finite and `> 0`.
    pub fn with_floor(m: SMatrix<T, D, D>, floor: T) -> Result<(Self, usize), Error> {
        check_finite(&m, "precision matrix")?;
        error::positive("floor", floor)?;
        let sym = symmetrise(&m);
        let (values, vectors) = symmetric_eigen(&sym);
        let clipped = values.iter().filter(|&&v| v < floor).count();
        if clipped == 0
            && let Some(chol) = cholesky(&sym)
        {
            return Ok((Self { matrix: sym, chol }, 0));
        }
        let raised = values.map(|v| Real::max(v, floor));
        let root = Real::sqrt(floor);
        let mut chol = SMatrix::<T, D, D>::from_fn(|i, j| if i == j { root } else { T::ZERO });
        for k in 0..D {
            let extra = raised[k] - floor;
            if extra > T::ZERO {
                let scale = Real::sqrt(extra);
                let mut x = SVector::<T, D>::from_fn(|i, _| vectors[(i, k)] * scale);
                rank_one_update(&mut chol, &mut x);
            }
        }
        let matrix = symmetric_from_fn(|i, j| {
            let mut acc = T::ZERO;
            for k in 0..D {
                acc += vectors[(i, k)] * raised[k] * vectors[(j, k)];
            }
            acc
        });
        Ok((Self { matrix, chol }, clipped))
    }

    /// `Γ = s I`, for finite `s > 0` (else [`Error::InvalidParameter`]). The isotropic
    /// precision `γ I` of a `d = 1`-style (ML-VAMP) message, e.g. Algorithm 1's initial `Γ_0ℓ⁻`.
    pub fn identity_scaled(s: T) -> Result<Self, Error> {
        error::positive("s", s)?;
        let root = Real::sqrt(s);
        Ok(Self {
            matrix: SMatrix::from_fn(|i, j| if i == j { s } else { T::ZERO }),
            chol: SMatrix::from_fn(|i, j| if i == j { root } else { T::ZERO }),
        })
    }

    /// `Γ` itself (exactly symmetric).
    pub fn matrix(&self) -> &SMatrix<T, D, D> {
        &self.matrix
    }

    /// `Γ`, by value.
    pub fn into_matrix(self) -> SMatrix<T, D, D> {
        self.matrix
    }

    /// The lower Cholesky factor `L` of `Γ = L Lᵀ` (zeros above the diagonal, `L_ii > 0`).
    pub fn cholesky_factor(&self) -> &SMatrix<T, D, D> {
        &self.chol
    }

    /// `Γ⁻¹ b`, by forward substitution with `L` and back substitution with `Lᵀ`. Serves the
    /// right multiplications by `(Γ⁺)⁻¹` and `(Γ⁻)⁻¹` of Algorithm 1 (lines 7, 12, 18, 23;
    /// for a row vector `ρ`, `ρ Γ⁻¹ = (Γ⁻¹ ρᵀ)ᵀ` as `Γ` is symmetric).
    pub fn solve(&self, b: &SVector<T, D>) -> SVector<T, D> {
        let mut x = *b;
        self.solve_in_place(x.as_mut_slice());
        x
    }

    /// `Γ⁻¹ B` for a d×C matrix `B`, column by column as [`Precision::solve`].
    pub fn solve_matrix<const C: usize>(&self, b: &SMatrix<T, D, C>) -> SMatrix<T, D, C> {
        let mut x = *b;
        for mut col in x.column_iter_mut() {
            let mut v = SVector::<T, D>::from_fn(|i, _| col[i]);
            self.solve_in_place(v.as_mut_slice());
            col.copy_from(&v);
        }
        x
    }

    /// `Γ⁻¹` — the covariance of the Gaussian with precision `Γ` — as `L⁻ᵀ L⁻¹`, exactly
    /// symmetric.
    pub fn inverse(&self) -> SMatrix<T, D, D> {
        let w = lower_inverse(&self.chol);
        symmetric_from_fn(|i, j| {
            let mut acc = T::ZERO;
            for k in i.max(j)..D {
                acc += w[(k, i)] * w[(k, j)];
            }
            acc
        })
    }

    /// `ln det Γ = 2 Σ_i ln L_ii` (no overflow of the determinant itself): the Gaussian
    /// normaliser `½ ln det(Γ/2π)` of a row belief (eq. 12) and of a Gaussian prior.
    pub fn log_det(&self) -> T {
        let mut acc = T::ZERO;
        for i in 0..D {
            acc += Real::ln(self.chol[(i, i)]);
        }
        acc + acc
    }

    /// `Γ₁ + Γ₂`, again positive definite: the product of two Gaussian beliefs on a row has
    /// precision the sum (a posterior precision `Σ⁻¹ + Γ`, or `Λ = Γ⁺ + Γ⁻` of Algorithm 1,
    /// lines 6, 11, 17, 22 read backwards).
    ///
    /// The factor is `L₁` updated by the positive rank-one terms `c cᵀ` for the columns `c`
    /// of `L₂` (Givens rotations), so it cannot break down, unlike a fresh factorisation of a
    /// nearly singular sum. Only overflow of the entries (beyond `T::MAX`) would make it
    /// non-finite.
    pub fn add(&self, other: &Self) -> Self {
        let matrix = self.matrix + other.matrix;
        let mut chol = self.chol;
        for k in 0..D {
            let mut x = SVector::<T, D>::from_fn(|i, _| other.chol[(i, k)]);
            rank_one_update(&mut chol, &mut x);
        }
        Self { matrix, chol }
    }

    /// `xᵀ Γ x = ‖Lᵀ x‖² ≥ 0`: the squared norm `‖x‖²_Γ` of the paper's inner product
    /// `⟨A, B⟩_Γ = Tr(Aᵀ B Γ)` for one row (the exponents of eq. 12).
    pub fn quad_form(&self, x: &SVector<T, D>) -> T {
        let mut acc = T::ZERO;
        for i in 0..D {
            let mut y = T::ZERO;
            for k in i..D {
                y += self.chol[(k, i)] * x[k];
            }
            acc += y * y;
        }
        acc
    }

    /// Overwrites `b` (length D) with `Γ⁻¹ b`.
    fn solve_in_place(&self, b: &mut [T]) {
        let l = &self.chol;
        for i in 0..D {
            let mut s = b[i];
            for k in 0..i {
                s -= l[(i, k)] * b[k];
            }
            b[i] = s / l[(i, i)];
        }
        for i in (0..D).rev() {
            let mut s = b[i];
            for k in i + 1..D {
                s -= l[(k, i)] * b[k];
            }
            b[i] = s / l[(i, i)];
        }
    }
}

/// A modified Newton method's curvature: `h` itself if it is positive definite, else `h`
/// with its eigenvalues floored at `max(floor, 16 ε max|h_ij|)` ([`Precision::with_floor`]);
/// `None` if even that fails (non-finite `h`). The MAP row estimators' Newton steps
/// (the committee's, the sketch's) solve with it.
pub(crate) fn newton_curvature<T: MatReal, const D: usize>(
    h: &SMatrix<T, D, D>,
    floor: T,
) -> Option<Precision<T, D>> {
    if let Ok(p) = Precision::new(*h) {
        return Some(p);
    }
    let scale = h.iter().fold(T::ZERO, |m, &v| Real::max(m, Real::abs(v)));
    let floor = Real::max(floor, T::c(16.0) * T::EPSILON * scale);
    Precision::with_floor(*h, floor).ok().map(|(p, _)| p)
}

/// The eigen-decomposition of the symmetrised `(A + Aᵀ)/2 = Q diag(λ) Qᵀ`: eigenvalues in
/// ascending order and the orthonormal eigenvectors as the columns of `Q` (column `k` goes
/// with `λ_k`). `A` must be finite.
///
/// Cyclic Jacobi: sweeps of plane rotations, each zeroing one off-diagonal entry, until every
/// off-diagonal entry is below `ε ‖A‖_F / D` (at most 64 sweeps; for small `D` it takes a
/// handful). Written here rather than taken from nalgebra's `SymmetricEigen`, whose bound
/// `Const<D>: DimSub<U1>` would spread to every generic caller; Jacobi is accurate to
/// `~ ε ‖A‖` in each eigenvalue and allocation-free.
pub fn symmetric_eigen<T: MatReal, const D: usize>(
    a: &SMatrix<T, D, D>,
) -> (SVector<T, D>, SMatrix<T, D, D>) {
    const MAX_SWEEPS: usize = 64;
    let mut a = symmetrise(a);
    let mut q = SMatrix::<T, D, D>::from_fn(|i, j| if i == j { T::ONE } else { T::ZERO });
    let scale = a.iter().fold(T::ZERO, |m, &x| Real::max(m, Real::abs(x)));
    if scale > T::ZERO && Real::is_finite(scale) {
        let mut ss = T::ZERO;
        for &x in a.iter() {
            ss += Real::sq(x / scale);
        }
        let tol = T::EPSILON * scale * Real::sqrt(ss) / <T as Real>::from_usize(D);
        for _ in 0..MAX_SWEEPS {
            let mut rotated = false;
            for p in 0..D {
                for r in p + 1..D {
                    let apr = a[(p, r)];
                    if Real::abs(apr) <= tol {
                        a[(p, r)] = T::ZERO;
                        a[(r, p)] = T::ZERO;
                        continue;
                    }
                    rotated = true;
                    // Zero a_pr: t = tan of the rotation angle, the smaller root of
                    // t² + 2θt − 1 = 0 with θ = (a_rr − a_pp)/(2 a_pr).
                    let theta = (a[(r, r)] - a[(p, p)]) / (apr + apr);
                    let t = if Real::abs(theta) > T::ONE {
                        let inv = T::ONE / theta;
                        T::ONE / (theta * (T::ONE + Real::sqrt(T::ONE + inv * inv)))
                    } else {
                        let sign = if theta < T::ZERO { -T::ONE } else { T::ONE };
                        sign / (Real::abs(theta) + Real::sqrt(theta * theta + T::ONE))
                    };
                    let c = T::ONE / Real::sqrt(t * t + T::ONE);
                    let s = t * c;
                    for k in 0..D {
                        let (akp, akr) = (a[(k, p)], a[(k, r)]);
                        a[(k, p)] = c * akp - s * akr;
                        a[(k, r)] = s * akp + c * akr;
                    }
                    for k in 0..D {
                        let (apk, ark) = (a[(p, k)], a[(r, k)]);
                        a[(p, k)] = c * apk - s * ark;
                        a[(r, k)] = s * apk + c * ark;
                    }
                    a[(p, r)] = T::ZERO;
                    a[(r, p)] = T::ZERO;
                    for k in 0..D {
                        let (qkp, qkr) = (q[(k, p)], q[(k, r)]);
                        q[(k, p)] = c * qkp - s * qkr;
                        q[(k, r)] = s * qkp + c * qkr;
                    }
                }
            }
            if !rotated {
                break;
            }
        }
    }
    let mut values = SVector::<T, D>::from_fn(|i, _| a[(i, i)]);
    // Selection sort, ascending, carrying the eigenvectors along.
    for i in 0..D {
        let mut min = i;
        for j in i + 1..D {
            if values[j] < values[min] {
                min = j;
            }
        }
        if min != i {
            values.swap_rows(i, min);
            q.swap_columns(i, min);
        }
    }
    (values, q)
}

/// [`Error::NonFinite`] naming `what` if an entry of `m` is NaN or infinite.
fn check_finite<T: MatReal, const D: usize>(
    m: &SMatrix<T, D, D>,
    what: &'static str,
) -> Result<(), Error> {
    if all_finite(m) {
        Ok(())
    } else {
        Err(Error::NonFinite { what })
    }
}

/// `true` if every entry is finite.
fn all_finite<T: MatReal, const R: usize, const C: usize>(m: &SMatrix<T, R, C>) -> bool {
    m.iter().all(|&x| Real::is_finite(x))
}

/// `(M + Mᵀ)/2`, exactly symmetric.
fn symmetrise<T: MatReal, const D: usize>(m: &SMatrix<T, D, D>) -> SMatrix<T, D, D> {
    symmetric_from_fn(|i, j| (m[(i, j)] + m[(j, i)]) * T::HALF)
}

/// The symmetric matrix whose entries `(i, j)`, `i ≤ j`, are `f(i, j)` (each evaluated once
/// and mirrored, so the result is exactly symmetric).
fn symmetric_from_fn<T: MatReal, const D: usize>(
    mut f: impl FnMut(usize, usize) -> T,
) -> SMatrix<T, D, D> {
    let mut m = SMatrix::<T, D, D>::from_fn(|_, _| T::ZERO);
    for i in 0..D {
        for j in i..D {
            let v = f(i, j);
            m[(i, j)] = v;
            m[(j, i)] = v;
        }
    }
    m
}

/// The lower Cholesky factor of a symmetric `A` (only its lower triangle is read), or `None`
/// if a pivot is not `> 0` or an entry of the factor is not finite.
fn cholesky<T: MatReal, const D: usize>(a: &SMatrix<T, D, D>) -> Option<SMatrix<T, D, D>> {
    let mut l = SMatrix::<T, D, D>::from_fn(|_, _| T::ZERO);
    for j in 0..D {
        let mut d = a[(j, j)];
        for k in 0..j {
            d -= l[(j, k)] * l[(j, k)];
        }
        // `!(d > 0)` also rejects NaN.
        if !(d > T::ZERO && Real::is_finite(d)) {
            return None;
        }
        let ljj = Real::sqrt(d);
        l[(j, j)] = ljj;
        for i in j + 1..D {
            let mut s = a[(i, j)];
            for k in 0..j {
                s -= l[(i, k)] * l[(j, k)];
            }
            l[(i, j)] = s / ljj;
        }
    }
    all_finite(&l).then_some(l)
}

/// `L` becomes the Cholesky factor of `L Lᵀ + x xᵀ` (`x` is used as scratch). Each step is a
/// Givens rotation of column `k` of `L` against `x` that zeroes `x_k`; the diagonal only grows
/// (`L_kk ← √(L_kk² + x_k²)`), so it cannot break down.
fn rank_one_update<T: MatReal, const D: usize>(l: &mut SMatrix<T, D, D>, x: &mut SVector<T, D>) {
    for k in 0..D {
        let xk = x[k];
        if xk == T::ZERO {
            continue;
        }
        let lkk = l[(k, k)];
        let r = hypot(lkk, xk);
        let c = lkk / r;
        let s = xk / r;
        l[(k, k)] = r;
        for i in k + 1..D {
            let (lik, xi) = (l[(i, k)], x[i]);
            l[(i, k)] = c * lik + s * xi;
            x[i] = c * xi - s * lik;
        }
    }
}

/// `√(a² + b²)` without intermediate overflow or underflow.
fn hypot<T: MatReal>(a: T, b: T) -> T {
    let (a, b) = (Real::abs(a), Real::abs(b));
    let m = Real::max(a, b);
    if m == T::ZERO {
        return T::ZERO;
    }
    m * Real::sqrt(Real::sq(a / m) + Real::sq(b / m))
}

/// `L⁻¹` for a lower-triangular `L` with non-zero diagonal (lower triangular again).
pub(crate) fn lower_inverse<T: MatReal, const D: usize>(l: &SMatrix<T, D, D>) -> SMatrix<T, D, D> {
    let mut w = SMatrix::<T, D, D>::from_fn(|_, _| T::ZERO);
    for j in 0..D {
        w[(j, j)] = T::ONE / l[(j, j)];
        for i in j + 1..D {
            let mut s = T::ZERO;
            for k in j..i {
                s += l[(i, k)] * w[(k, j)];
            }
            w[(i, j)] = -s / l[(i, i)];
        }
    }
    w
}

/// `L Lᵀ` for a lower-triangular `L`, exactly symmetric.
fn gram_lower<T: MatReal, const D: usize>(l: &SMatrix<T, D, D>) -> SMatrix<T, D, D> {
    symmetric_from_fn(|i, j| {
        let mut acc = T::ZERO;
        for k in 0..=i.min(j) {
            acc += l[(i, k)] * l[(j, k)];
        }
        acc
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Matrix2, Matrix3, Vector2, Vector3};

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn two_by_two_by_hand() {
        // Γ = [[4, 2], [2, 3]]: L = [[2, 0], [1, √2]], det = 8, Γ⁻¹ = [[3, −2], [−2, 4]]/8.
        let g = Precision::new(Matrix2::new(4.0, 2.0, 2.0, 3.0)).unwrap();
        let l = g.cholesky_factor();
        assert!(close(l[(0, 0)], 2.0, 1e-15) && close(l[(1, 0)], 1.0, 1e-15));
        assert!(close(l[(1, 1)], 2f64.sqrt(), 1e-15) && l[(0, 1)] == 0.0);
        assert!(close(g.log_det(), 8f64.ln(), 1e-15));
        let inv = g.inverse();
        let expect = [[0.375, -0.25], [-0.25, 0.5]];
        for i in 0..2 {
            for j in 0..2 {
                assert!(close(inv[(i, j)], expect[i][j], 1e-15));
            }
        }
        // Γ x = b for x = (1, −1): b = (2, −1).
        let x = g.solve(&Vector2::new(2.0, -1.0));
        assert!(close(x[0], 1.0, 1e-15) && close(x[1], -1.0, 1e-15));
        // xᵀ Γ x for x = (1, 2): 4 + 2·2·2 + 3·4 = 24.
        assert!(close(g.quad_form(&Vector2::new(1.0, 2.0)), 24.0, 1e-15));
    }

    #[test]
    fn new_symmetrises_and_rejects() {
        let a = Precision::new(Matrix2::new(4.0, 1.0, 3.0, 3.0)).unwrap();
        assert_eq!(a.matrix()[(0, 1)], 2.0);
        assert_eq!(a.matrix()[(1, 0)], 2.0);
        // Eigenvalues 3 and −1.
        assert_eq!(
            Precision::new(Matrix2::new(1.0, 2.0, 2.0, 1.0)),
            Err(Error::NotPositiveDefinite {
                what: "precision matrix"
            })
        );
        assert_eq!(
            Precision::new(Matrix2::new(1.0, f64::NAN, 0.0, 1.0)),
            Err(Error::NonFinite {
                what: "precision matrix"
            })
        );
        assert!(Precision::<f64, 2>::new(Matrix2::zeros()).is_err());
        assert!(Precision::<f64, 2>::identity_scaled(0.0).is_err());
        assert!(Precision::<f64, 2>::identity_scaled(f64::INFINITY).is_err());
    }

    #[test]
    fn from_covariance_inverts() {
        let cov = Matrix3::new(2.0, 0.5, 0.1, 0.5, 1.0, -0.3, 0.1, -0.3, 0.7);
        let p = Precision::from_covariance(cov).unwrap();
        let prod = p.matrix() * cov;
        for i in 0..3 {
            for j in 0..3 {
                let e = if i == j { 1.0 } else { 0.0 };
                assert!((prod[(i, j)] - e).abs() < 1e-14, "{prod}");
            }
        }
        assert!(close(
            p.log_det(),
            -Precision::new(cov).unwrap().log_det(),
            1e-14
        ));
        assert!(Precision::from_covariance(Matrix2::new(1.0, 2.0, 2.0, 1.0)).is_err());
    }

    #[test]
    fn add_matches_the_sum() {
        let a = Precision::new(Matrix2::new(4.0, 2.0, 2.0, 3.0)).unwrap();
        let b = Precision::new(Matrix2::new(1.0, -0.5, -0.5, 2.0)).unwrap();
        let s = a.add(&b);
        assert_eq!(*s.matrix(), Matrix2::new(5.0, 1.5, 1.5, 5.0));
        let l = s.cholesky_factor();
        assert_eq!(l[(0, 1)], 0.0);
        let llt = l * l.transpose();
        for i in 0..2 {
            for j in 0..2 {
                assert!((llt[(i, j)] - s.matrix()[(i, j)]).abs() < 1e-14);
            }
        }
        // det = 25 − 2.25.
        assert!(close(s.log_det(), 22.75f64.ln(), 1e-14));
    }

    #[test]
    fn eigen_of_a_known_matrix() {
        // [[2, 1, 0], [1, 2, 0], [0, 0, 5]]: eigenvalues 1, 3, 5.
        let m = Matrix3::new(2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 5.0);
        let (vals, q) = symmetric_eigen(&m);
        for (v, e) in vals.iter().zip([1.0, 3.0, 5.0]) {
            assert!(close(*v, e, 1e-14), "{vals}");
        }
        let qtq = q.transpose() * q;
        let back = q * Matrix3::from_diagonal(&vals) * q.transpose();
        for i in 0..3 {
            for j in 0..3 {
                assert!((qtq[(i, j)] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-14);
                assert!((back[(i, j)] - m[(i, j)]).abs() < 1e-14);
            }
        }
        // The eigenvector of 1 is ±(1, −1, 0)/√2.
        let v = Vector3::new(q[(0, 0)], q[(1, 0)], q[(2, 0)]);
        assert!((v[0] + v[1]).abs() < 1e-14 && v[2].abs() < 1e-14);
    }

    #[test]
    fn floor_on_a_diagonal_matrix() {
        let m = Matrix3::from_diagonal(&Vector3::new(-1.0, 0.5, 2.0));
        let (p, clipped) = Precision::with_floor(m, 1.0).unwrap();
        assert_eq!(clipped, 2);
        let expect = Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, 2.0));
        assert!((p.matrix() - expect).abs().max() < 1e-15);
        let (p, clipped) = Precision::with_floor(m, 1e-300).unwrap();
        assert_eq!(clipped, 1);
        assert!(close(p.matrix()[(0, 0)], 1e-300, 1e-12));
        // Nothing below the floor: the same as `new`.
        let m = Matrix2::new(4.0, 2.0, 2.0, 3.0);
        assert_eq!(
            Precision::with_floor(m, 0.1).unwrap(),
            (Precision::new(m).unwrap(), 0)
        );
        assert!(Precision::with_floor(m, 0.0).is_err());
        assert!(Precision::with_floor(m, f64::NAN).is_err());
        assert!(Precision::with_floor(Matrix2::new(f64::NAN, 0.0, 0.0, 1.0), 1.0).is_err());
    }

    #[test]
    fn works_in_f32() {
        let g = Precision::<f32, 2>::new(Matrix2::new(4.0, 2.0, 2.0, 3.0)).unwrap();
        let x = g.solve(&Vector2::new(2.0, -1.0));
        assert!((x[0] - 1.0).abs() < 1e-6 && (x[1] + 1.0).abs() < 1e-6);
        assert!((g.log_det() - 8f32.ln()).abs() < 1e-6);
    }
}
