//! The group-L1 (multi-task LASSO) row penalty `λ ‖x‖₂` as a MAP row estimator of
//! ML-Mat-VAMP.

use super::{MatReal, Precision, RowDenoiser, RowEstimate, symmetric_eigen};
use crate::error::Error;
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// Most iterations of the safeguarded Newton solve of the secular equation.
const MAX_ITER: usize = 200;

/// The row prior `p(x) ∝ e^{−λ ‖x‖₂}` on `x ∈ R^d` — the multi-task (group) LASSO's row
/// penalty: a row is zero or not as a whole — with its MAP row estimator `G_0^+` of eq. 13
/// (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*) for the belief of eq. 12 under a full precision `Γ`:
///
/// `x̂ = argmin_x ½ (x − r)ᵀ Γ (x − r) + λ ‖x‖₂`
///
/// (strictly convex, so unique). MAP only: there is no MMSE counterpart here.
///
/// **Solution.** With `c = Γ r`, the optimality condition `Γ (x − r) + λ g = 0`,
/// `g ∈ ∂‖x‖₂`, gives `x̂ = 0` iff `‖Γ r‖₂ ≤ λ`. Otherwise `x̂ = (Γ + μ I)⁻¹ Γ r` with
/// `μ = λ/‖x̂‖`. In the eigenbasis `Γ = Q diag(γ) Qᵀ` ([`symmetric_eigen`]),
/// `ĉ = diag(γ) Qᵀ r`, the norm `t = ‖x̂‖` solves the secular equation
///
/// `Σ_i ĉ_i² / (λ + γ_i t)² = 1`,
///
/// whose root lies in `[(‖ĉ‖ − λ)/γ_max, (‖ĉ‖ − λ)/γ_min]` (the bracket is a point for
/// `Γ = γ I`). It is solved by Newton's method on `1/‖u(t)‖ − 1`, `u_i = ĉ_i/(λ + γ_i t)`
/// (nearly linear in `t`: exactly so when one eigenvalue carries `ĉ`), safeguarded by
/// bisection of the bracket, at most 200 iterations, to a few ulp of `t`. Then
/// `x̂ = t Q v` with `v = u/‖u‖`. For `Γ = γ I` this is the block soft threshold
/// `x̂ = max(0, 1 − λ/(γ ‖r‖)) r`.
///
/// **Jacobian** (`J[(i, j)] = ∂x̂_i/∂r_j`), by implicit differentiation of
/// `Γ (x − r) + λ x/‖x‖ = 0`:
///
/// `J = (Γ + (λ/t) (I − x xᵀ/t²))⁻¹ Γ`, zero where `x̂ = 0`,
///
/// evaluated in the eigenbasis by Sherman–Morrison, without ever forming `λ/t` (which is
/// unbounded as `‖Γ r‖ ↓ λ`): with `b_i = v_i/(γ_i t + λ)`,
/// `J = Q (diag(γ_i t/(γ_i t + λ)) + λ b (b ∘ γ)ᵀ / Σ_k γ_k v_k b_k) Qᵀ`.
/// At `‖Γ r‖ = λ` exactly the one-sided (zero) Jacobian is returned.
///
/// Eigenvalues below zero by rounding (a `Γ` ill-conditioned to working precision) are taken
/// as zero. Everything stays finite for huge or tiny `r`, `λ` and `Γ`; a non-finite `r`
/// gives NaN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroupL1<T, const D: usize> {
    /// λ > 0.
    lambda: T,
}

impl<T: MatReal, const D: usize> GroupL1<T, D> {
    /// The penalty `λ ‖x‖₂` with `λ = lambda`.
    ///
    /// Errors: [`Error::InvalidParameter`] (`"lambda"`) unless `lambda` is finite and `> 0`.
    pub fn new(lambda: T) -> Result<Self, Error> {
        crate::error::scale("lambda", lambda)?;
        Ok(Self { lambda })
    }

    /// λ, the penalty's weight.
    pub fn lambda(&self) -> T {
        self.lambda
    }

    /// The MAP estimate and its Jacobian for the message `(r, Γ)` (see the type's docs).
    pub fn map(&self, r: &SVector<T, D>, gamma: &Precision<T, D>) -> RowEstimate<T, D> {
        let lambda = self.lambda;
        let zero = RowEstimate {
            mean: SVector::from_fn(|_, _| T::ZERO),
            jacobian: SMatrix::from_fn(|_, _| T::ZERO),
        };
        let c = gamma.matrix() * r;
        let nc = norm(&c);
        if !Real::is_finite(nc) {
            let nan = <T as Real>::c(f64::NAN);
            return RowEstimate {
                mean: SVector::from_fn(|_, _| nan),
                jacobian: SMatrix::from_fn(|_, _| nan),
            };
        }
        if nc <= lambda {
            return zero;
        }
        let (values, q) = symmetric_eigen(gamma.matrix());
        let gam = values.map(|v| Real::max(v, T::ZERO));
        let rt = q.transpose() * r;
        let ch = SVector::<T, D>::from_fn(|i, _| gam[i] * rt[i]);
        let nch = norm(&ch);
        if nch <= lambda {
            return zero;
        }
        let (gmin, gmax) = gam.iter().fold((T::INFINITY, T::ZERO), |(lo, hi), &g| {
            (Real::min(lo, g), Real::max(hi, g))
        });
        let excess = nch - lambda;
        let t = secular_root(&ch, &gam, lambda, excess / gmax, excess / gmin);
        // u_i = ĉ_i/(λ + γ_i t), v = u/‖u‖ (‖u‖ = 1 at the root, up to rounding).
        let u = SVector::<T, D>::from_fn(|i, _| ch[i] / (lambda + gam[i] * t));
        let v = u / norm(&u);
        let mean = q * (v * t);
        let b = SVector::<T, D>::from_fn(|i, _| v[i] / (gam[i] * t + lambda));
        let mut den = T::ZERO;
        for k in 0..D {
            den += gam[k] * v[k] * b[k];
        }
        let jt = SMatrix::<T, D, D>::from_fn(|i, j| {
            let diag = if i == j {
                gam[i] * t / (gam[i] * t + lambda)
            } else {
                T::ZERO
            };
            diag + lambda * b[i] * (b[j] * gam[j]) / den
        });
        RowEstimate {
            mean,
            jacobian: q * jt * q.transpose(),
        }
    }
}

impl<T: MatReal, const D: usize> RowDenoiser<T, D> for GroupL1<T, D> {
    /// The MAP estimate ([`GroupL1::map`]).
    fn denoise(&self, r: &SVector<T, D>, gamma: &Precision<T, D>) -> RowEstimate<T, D> {
        self.map(r, gamma)
    }
}

/// `‖v‖₂`, scaled by the largest entry so that it neither overflows nor underflows.
fn norm<T: MatReal, const D: usize>(v: &SVector<T, D>) -> T {
    let m = v.iter().fold(T::ZERO, |m, &x| Real::max(m, Real::abs(x)));
    if m == T::ZERO || !Real::is_finite(m) {
        return m;
    }
    let mut s = T::ZERO;
    for &x in v.iter() {
        s += Real::sq(x / m);
    }
    m * Real::sqrt(s)
}

/// The root `t > 0` of `Σ_i ĉ_i²/(λ + γ_i t)² = 1` in `[lo, hi]` (`hi` may be `+∞` when the
/// smallest eigenvalue is 0): Newton on `φ(t) = 1/‖u(t)‖ − 1` (increasing in `t`), falling
/// back to bisection (or doubling, while `hi` is unbounded) when a step leaves the bracket.
fn secular_root<T: MatReal, const D: usize>(
    ch: &SVector<T, D>,
    gam: &SVector<T, D>,
    lambda: T,
    lo: T,
    hi: T,
) -> T {
    let (mut lo, mut hi) = (Real::max(lo, T::ZERO), hi);
    if hi <= lo {
        return lo;
    }
    // φ(t) and φ'(t) = Σ γ_i v_i²/(λ + γ_i t) / ‖u‖ (v = u/‖u‖), without ‖u‖³.
    let phi = |t: T| {
        let u = SVector::<T, D>::from_fn(|i, _| ch[i] / (lambda + gam[i] * t));
        let n = norm(&u);
        let mut d = T::ZERO;
        for i in 0..D {
            d += gam[i] * Real::sq(u[i] / n) / (lambda + gam[i] * t);
        }
        (T::ONE / n - T::ONE, d / n)
    };
    let mut t = lo;
    for _ in 0..MAX_ITER {
        let (f, df) = phi(t);
        if f == T::ZERO {
            return t;
        }
        if f < T::ZERO {
            lo = t;
        } else {
            hi = t;
        }
        let mut next = t - f / df;
        if !(next > lo && next < hi) {
            next = if Real::is_finite(hi) {
                (lo + hi) * T::HALF
            } else {
                Real::max(lo + lo, T::MIN_POSITIVE)
            };
        }
        let tol = T::c(4.0) * T::EPSILON * Real::abs(next);
        if Real::abs(next - t) <= tol || (hi - lo) <= tol {
            return next;
        }
        t = next;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Matrix2, Vector2};

    #[test]
    fn isotropic_is_the_block_soft_threshold() {
        // Γ = 2 I, r = (3, 4) (‖r‖ = 5), λ = 4: x = (1 − 4/10) r = 0.6 r.
        let g = Precision::identity_scaled(2.0).unwrap();
        let est = GroupL1::<f64, 2>::new(4.0)
            .unwrap()
            .map(&Vector2::new(3.0, 4.0), &g);
        assert!((est.mean - Vector2::new(1.8, 2.4)).abs().max() < 1e-14);
        // J = (1 − a) I + a r̂ r̂ᵀ, a = λ/(γ‖r‖) = 0.4.
        let rr = Matrix2::new(9.0, 12.0, 12.0, 16.0) / 25.0;
        let j = Matrix2::identity() * 0.6 + rr * 0.4;
        assert!((est.jacobian - j).abs().max() < 1e-14);
        // Below the threshold: ‖Γ r‖ = 10 ≤ λ = 10.
        let est = GroupL1::<f64, 2>::new(10.0)
            .unwrap()
            .map(&Vector2::new(3.0, 4.0), &g);
        assert_eq!(est.mean, Vector2::zeros());
        assert_eq!(est.jacobian, Matrix2::zeros());
    }

    #[test]
    fn constructor_checks() {
        assert!(GroupL1::<f64, 3>::new(0.0).is_err());
        assert!(GroupL1::<f64, 3>::new(f64::NAN).is_err());
        assert_eq!(GroupL1::<f32, 1>::new(2.0).map(|g| g.lambda()), Ok(2.0));
    }
}
