//! Damped Newton with a backtracking (Armijo) line search: the minimiser that the non-convex
//! MAP output estimators (the committee, the sketch) run from each of their starts, on a row
//! problem `f(z) = ½‖z − r‖²_Γ + (likelihood term)` whose gradient and Hessian they supply.
//! The curvature is the Hessian, or the Hessian with its eigenvalues floored where it is not
//! positive definite ([`super::precision::newton_curvature`]).

use nalgebra::{SMatrix, SVector};

use super::MatReal;
use crate::real::Real;

/// Most Newton iterations from one start.
pub(crate) const MAX_NEWTON: usize = 100;
/// Most step halvings of one backtracking line search.
const MAX_HALVINGS: usize = 60;
/// Sufficient-decrease constant of the line search (Armijo).
const ARMIJO: f64 = 1e-4;

/// `‖x‖∞`.
pub(crate) fn max_abs<T: MatReal, const D: usize>(x: &SVector<T, D>) -> T {
    x.iter().fold(T::ZERO, |m, &v| Real::max(m, Real::abs(v)))
}

/// The state of one damped Newton run: the last step's length (for the stopping rule in the
/// rounding regime) and the scale `‖r‖∞` of the tolerance.
pub(crate) struct NewtonRun<T> {
    r_norm: T,
    prev_step: T,
}

impl<T: MatReal> NewtonRun<T> {
    /// A run on a row problem centred at `r` (`r_norm = ‖r‖∞`).
    pub(crate) fn new(r_norm: T) -> Self {
        Self {
            r_norm,
            prev_step: T::INFINITY,
        }
    }

    /// One step from `z` (`f(z) = *fz`, gradient `grad`, Hessian `hess` there): the Newton
    /// direction `p = −H⁻¹∇f` of the curvature `H` (eigenvalues floored at `floor` where the
    /// Hessian is not positive definite), halved until `f(z + t p) ≤ f(z) + 1e-4 t ∇fᵀp`;
    /// where the predicted decrease `−∇fᵀp` is below `f`'s rounding (`16 ε (|f| + 1)`), the
    /// full step is taken as long as `f` does not rise by more than that rounding. Moves
    /// `z`, `fz` to the accepted point and returns whether to go on: `false` where no
    /// descent direction or acceptable step exists, where the step is below
    /// `16 ε (‖z‖∞ + ‖r‖∞ + 1)` (converged), or in the rounding regime once the steps stop
    /// shrinking (the gradient's rounding noise). `f` never rises beyond its rounding.
    pub(crate) fn step<const D: usize>(
        &mut self,
        z: &mut SVector<T, D>,
        fz: &mut T,
        grad: &SVector<T, D>,
        hess: &SMatrix<T, D, D>,
        floor: T,
        value: impl Fn(&SVector<T, D>) -> T,
    ) -> bool {
        let Some(h) = super::precision::newton_curvature(hess, floor) else {
            return false;
        };
        let p = -h.solve(grad);
        let slope = grad.dot(&p);
        if !(slope < T::ZERO && Real::is_finite(slope)) {
            return false;
        }
        let tol = T::c(16.0) * T::EPSILON * (max_abs(z) + self.r_norm + T::ONE);
        let flat = T::c(16.0) * T::EPSILON * (Real::abs(*fz) + T::ONE);
        let rounding = -slope <= flat;
        let mut t = T::ONE;
        let mut next = None;
        for _ in 0..MAX_HALVINGS {
            let zn = *z + p * t;
            let fnew = value(&zn);
            if fnew <= *fz + T::c(ARMIJO) * t * slope || (rounding && fnew <= *fz + flat) {
                next = Some((zn, fnew));
                break;
            }
            if rounding {
                break;
            }
            t *= T::HALF;
        }
        let Some((zn, fnew)) = next else {
            return false;
        };
        let step = max_abs(&(zn - *z));
        *z = zn;
        *fz = fnew;
        if step <= tol || (rounding && step > T::HALF * self.prev_step) {
            return false;
        }
        self.prev_step = step;
        true
    }
}
