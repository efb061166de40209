//! The MAP estimate of [`ActivationDenoiser`]: the mode of the belief of eq. 12 of
//! ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and
//! estimation in multi-layer models*) with `h` eliminated, by damped Newton on the reduced
//! objective `f(z) = ½ (φ(z) − t)ᵀ M (φ(z) − t) + ½ (z − r)ᵀ Γ (z − r)` from several starts,
//! the kinks of `φ` handled as an active set; the Jacobians by implicit differentiation of
//! `∇f(ẑ) = 0`. See [`ActivationDenoiser`]'s docs for the formulas and the stopping rules.

use super::{ActivationDenoiser, GRADING, MAX_GRADING, TAIL, side_offset};
use crate::channel::Activation;
use crate::mat::{MatReal, PairEstimate, Precision, RowEstimate, RowMessage};
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// Most Newton iterations of one mode search.
const MAX_NEWTON: usize = 200;
/// Most step halvings of one backtracking line search.
const MAX_HALVINGS: usize = 60;
/// Sufficient-decrease constant of the line search (Armijo).
const ARMIJO: f64 = 1e-4;
/// A Newton step below `STEP_TOL · ε · (‖z‖ + ‖r‖ + scale)` (∞-norms) ends the search.
const STEP_TOL: f64 = 16.0;

impl<T: MatReal, A: Activation<T>, const D: usize> ActivationDenoiser<T, A, D> {
    /// The MAP estimate of the hidden layer.
    pub(super) fn map_pair(
        &self,
        output: RowMessage<'_, T, D>,
        input: RowMessage<'_, T, D>,
    ) -> PairEstimate<T, D> {
        let (m, p_inv, s) = self.noise_matrices(output.gamma);
        let obj = Objective::new(&self.activation, m, output.r, input.gamma, input.r);
        let mode = obj.best_mode();
        let dphi = SMatrix::<T, D, D>::from_diagonal(&mode.local.d1);
        let jz_in = mode.solve_free(input.gamma.matrix());
        let jz_out = mode.solve_free(&(dphi * m));
        let (h, jh) = if self.noise_var == T::ZERO {
            (mode.local.phi, dphi * jz_out)
        } else {
            (
                p_inv * mode.local.phi + s * output.r,
                p_inv * dphi * jz_out + s,
            )
        };
        PairEstimate {
            output: RowEstimate {
                mean: h,
                jacobian: jh,
            },
            input: RowEstimate {
                mean: mode.z,
                jacobian: jz_in,
            },
        }
    }

    /// The MAP estimate of the observed layer: the mode of `f` with `t = y`, `M = m I`
    /// (`m = 1/Δ`), and its Jacobian `∂ẑ/∂r = H⁻¹ Γ`.
    pub(super) fn map_output(
        &self,
        m: T,
        y: &SVector<T, D>,
        message: RowMessage<'_, T, D>,
    ) -> RowEstimate<T, D> {
        let m = SMatrix::<T, D, D>::from_diagonal_element(m);
        let obj = Objective::new(&self.activation, m, *y, message.gamma, message.r);
        let mode = obj.best_mode();
        RowEstimate {
            mean: mode.z,
            jacobian: mode.solve_free(message.gamma.matrix()),
        }
    }
}

/// `Σ_ij x_i a_ij x_j`.
fn quad<T: MatReal, const D: usize>(a: &SMatrix<T, D, D>, x: &SVector<T, D>) -> T {
    let mut acc = T::ZERO;
    for i in 0..D {
        let mut row = T::ZERO;
        for j in 0..D {
            row += a[(i, j)] * x[j];
        }
        acc += x[i] * row;
    }
    acc
}

/// `‖x‖∞`.
fn max_abs<T: MatReal, const D: usize>(x: &SVector<T, D>) -> T {
    x.iter().fold(T::ZERO, |m, &v| Real::max(m, Real::abs(v)))
}

/// The reduced objective `f(z) = ½ (φ(z) − t)ᵀ M (φ(z) − t) + ½ (z − r)ᵀ Γ (z − r)`.
pub(super) struct Objective<'a, T: MatReal, A: ?Sized, const D: usize> {
    act: &'a A,
    kink: Option<T>,
    m: SMatrix<T, D, D>,
    t: SVector<T, D>,
    gamma: &'a Precision<T, D>,
    r: SVector<T, D>,
}

/// The derivatives of `f` at a point, with the entries held at a kink.
struct Local<T, const D: usize> {
    /// `φ(z_j)`.
    phi: SVector<T, D>,
    /// `φ'(z_j)` (the side the step will take, at a kink).
    d1: SVector<T, D>,
    /// `∇f`, 0 in held entries.
    grad: SVector<T, D>,
    /// `∇²f` with held entries' rows and columns replaced by the identity's.
    hess: SMatrix<T, D, D>,
    /// Entries held at the kink (a corner minimum in that entry).
    held: [bool; D],
    /// For entries at the kink and not held, the side they leave it by (`±1`), else 0.
    side: [i8; D],
}

impl<T: MatReal, const D: usize> Local<T, D> {
    /// Holds entry `j`: its gradient entry becomes 0 and its Hessian row and column the
    /// identity's.
    fn hold(&mut self, j: usize) {
        self.held[j] = true;
        self.side[j] = 0;
        self.grad[j] = T::ZERO;
        for i in 0..D {
            self.hess[(i, j)] = T::ZERO;
            self.hess[(j, i)] = T::ZERO;
        }
        self.hess[(j, j)] = T::ONE;
    }
}

/// A local minimum of `f`.
pub(super) struct Mode<T: MatReal, const D: usize> {
    /// The mode `ẑ`.
    pub(super) z: SVector<T, D>,
    /// `f(ẑ)`.
    pub(super) f: T,
    local: Local<T, D>,
    /// The (shifted if need be) Hessian on the free entries, factored.
    hess: Precision<T, D>,
}

impl<T: MatReal, const D: usize> Mode<T, D> {
    /// `H⁻¹ B` with the held entries' rows of `B` (and so of the result) set to 0.
    fn solve_free(&self, b: &SMatrix<T, D, D>) -> SMatrix<T, D, D> {
        let mut b = *b;
        for i in 0..D {
            if self.local.held[i] {
                for j in 0..D {
                    b[(i, j)] = T::ZERO;
                }
            }
        }
        self.hess.solve_matrix(&b)
    }
}

impl<'a, T: MatReal, A: Activation<T> + ?Sized, const D: usize> Objective<'a, T, A, D> {
    /// The objective of `φ = act` for `(M = m, t, Γ = gamma, r)`.
    pub(super) fn new(
        act: &'a A,
        m: SMatrix<T, D, D>,
        t: SVector<T, D>,
        gamma: &'a Precision<T, D>,
        r: SVector<T, D>,
    ) -> Self {
        Self {
            act,
            kink: act.kink(),
            m,
            t,
            gamma,
            r,
        }
    }

    fn value(&self, z: &SVector<T, D>) -> T {
        let e = SVector::<T, D>::from_fn(|j, _| self.act.value(z[j]) - self.t[j]);
        T::HALF * quad(&self.m, &e) + T::HALF * self.gamma.quad_form(&(z - self.r))
    }

    fn local(&self, z: &SVector<T, D>) -> Local<T, D> {
        let mut phi = SVector::<T, D>::zeros();
        let mut d1 = SVector::<T, D>::zeros();
        let mut d2 = SVector::<T, D>::zeros();
        for j in 0..D {
            let (v, a, b) = self.act.eval(z[j]);
            phi[j] = v;
            d1[j] = a;
            d2[j] = b;
        }
        let u = self.m * (phi - self.t);
        let c = self.gamma.matrix() * (z - self.r);
        let mut held = [false; D];
        let mut side = [0i8; D];
        if let Some(k) = self.kink {
            for j in 0..D {
                if z[j] == k {
                    let off = side_offset(k);
                    let (_, dl, d2l) = self.act.eval(k - off);
                    let (_, dr, d2r) = self.act.eval(k + off);
                    let g_left = dl * u[j] + c[j];
                    let g_right = dr * u[j] + c[j];
                    // Moving right descends if g_right < 0, moving left if g_left > 0.
                    let right = g_right < T::ZERO;
                    let left = g_left > T::ZERO;
                    if right && (!left || -g_right >= g_left) {
                        d1[j] = dr;
                        d2[j] = d2r;
                        side[j] = 1;
                    } else if left {
                        d1[j] = dl;
                        d2[j] = d2l;
                        side[j] = -1;
                    } else {
                        held[j] = true;
                    }
                }
            }
        }
        let mut grad = SVector::<T, D>::zeros();
        let mut hess = SMatrix::<T, D, D>::zeros();
        for i in 0..D {
            if held[i] {
                hess[(i, i)] = T::ONE;
                continue;
            }
            grad[i] = d1[i] * u[i] + c[i];
            for j in 0..D {
                if !held[j] {
                    hess[(i, j)] = d1[i] * self.m[(i, j)] * d1[j] + self.gamma.matrix()[(i, j)];
                }
            }
            hess[(i, i)] += d2[i] * u[i];
        }
        Local {
            phi,
            d1,
            grad,
            hess,
            held,
            side,
        }
    }

    /// The second start, towards the likelihood's minimum: `φ⁻¹(t_j)` where `t_j` is in `φ`'s
    /// range; where it is not, the likelihood decreases all the way to `±∞` (the side where
    /// `φ` moves towards `t_j`), and those entries scan the ray `r_j ± σ_j 1.5^k`
    /// (`σ_j² = (Γ⁻¹)_jj`, out to where the prior alone costs more than `f(r) + 50`), keeping
    /// the point of lowest `f`.
    fn second_start(&self) -> SVector<T, D> {
        let mut start = self.r;
        let mut ray = [T::ZERO; D];
        let mut any_ray = false;
        for j in 0..D {
            match self.act.inverse(self.t[j]) {
                Some(z) if Real::is_finite(z) => start[j] = z,
                _ => {
                    any_ray = true;
                    ray[j] = if self.t[j] > self.act.value(self.r[j]) {
                        T::ONE
                    } else {
                        -T::ONE
                    };
                }
            }
        }
        if !any_ray {
            return start;
        }
        let cov = self.gamma.inverse();
        let sd = SVector::<T, D>::from_fn(|j, _| Real::sqrt(Real::max(cov[(j, j)], T::ZERO)));
        let reach = Real::sqrt(T::TWO * (Real::max(self.value(&self.r), T::ZERO) + T::c(TAIL)));
        let mut best_z = start;
        let mut best_f = self.value(&start);
        let mut lambda = T::ONE;
        for _ in 0..MAX_GRADING {
            if !(lambda <= reach && Real::is_finite(lambda)) {
                break;
            }
            let z = SVector::<T, D>::from_fn(|j, _| {
                if ray[j] == T::ZERO {
                    start[j]
                } else {
                    self.r[j] + ray[j] * sd[j] * lambda
                }
            });
            let f = self.value(&z);
            if f < best_f {
                best_f = f;
                best_z = z;
            }
            lambda *= T::c(GRADING);
        }
        best_z
    }

    /// The local minima reached from `r` and from [`Objective::second_start`]; the second is
    /// `None` when its start is `r` or `φ` is the identity (`f` convex: one minimum), else it
    /// comes with its start.
    #[allow(clippy::type_complexity)]
    pub(super) fn modes(&self) -> (Mode<T, D>, Option<(SVector<T, D>, Mode<T, D>)>) {
        let first = self.minimise(self.r);
        if self.act.is_identity() {
            return (first, None);
        }
        let start = self.second_start();
        if start == self.r {
            return (first, None);
        }
        let second = self.minimise(start);
        (first, Some((start, second)))
    }

    /// The lowest of the local minima reached from `r`, from `s` = [`Objective::second_start`]
    /// and, for `d > 1`, from the one-entry swaps of the two (`r` with its entry `j` from `s`,
    /// `s` with its entry `j` from `r`: all `2^d` mixtures for `d ≤ 3`), which catch modes
    /// where some entries sit near the prior's centre and others near the likelihood's.
    fn best_mode(&self) -> Mode<T, D> {
        let mut best = self.minimise(self.r);
        if self.act.is_identity() {
            return best;
        }
        let s = self.second_start();
        if s == self.r {
            return best;
        }
        let consider = |start: SVector<T, D>, best: &mut Mode<T, D>| {
            let mode = self.minimise(start);
            if mode.f < best.f {
                *best = mode;
            }
        };
        consider(s, &mut best);
        if D > 1 {
            // Modes whose entries sit at neither `r_j` nor `s_j` (a correlated Γ or M moves an
            // entry to its conditional optimum): one start from each coordinate sweep.
            consider(self.sweep(s), &mut best);
            consider(self.sweep(self.r), &mut best);
            for j in 0..D {
                if s[j] == self.r[j] {
                    continue;
                }
                let mut a = self.r;
                a[j] = s[j];
                let mut b = s;
                b[j] = self.r[j];
                consider(a, &mut best);
                // For d = 2 the second swaps repeat the first ones.
                if D > 2 && b != self.r {
                    consider(b, &mut best);
                }
            }
        }
        best
    }

    /// Two coordinate sweeps from `z`, each entry set in turn to the best point of a scan of
    /// `u ↦ f(z₁ … u … z_d)` (the others held): `u = c_j + σ_j k/2` for `|k| ≤ 12` around the
    /// conditional prior mean `c_j = z_j − (Γ (z − r))_j / Γ_jj` (`σ_j = Γ_jj^{−1/2}`), and 16
    /// points on the segment from `c_j` to the conditional likelihood target `φ⁻¹(τ_j)`,
    /// `τ_j = t_j − Σ_{k≠j} M_jk (φ(z_k) − t_k) / M_jj` (where `τ_j` is in `φ`'s range). The
    /// result is a start for [`Objective::minimise`], not a mode.
    fn sweep(&self, mut z: SVector<T, D>) -> SVector<T, D> {
        const HALF_WIDTH: i32 = 12;
        const SEGMENT: i32 = 16;
        let g = self.gamma.matrix();
        for _ in 0..2 {
            for j in 0..D {
                let gjj = g[(j, j)];
                if !(gjj > T::ZERO && Real::is_finite(gjj)) {
                    continue;
                }
                let c = z[j] - (g * (z - self.r))[j] / gjj;
                let sd = T::ONE / Real::sqrt(gjj);
                let mjj = self.m[(j, j)];
                let target = if mjj > T::ZERO && Real::is_finite(mjj) {
                    let cross = (0..D).filter(|&k| k != j).fold(T::ZERO, |acc, k| {
                        acc + self.m[(j, k)] * (self.act.value(z[k]) - self.t[k])
                    });
                    self.act
                        .inverse(self.t[j] - cross / mjj)
                        .filter(|u| Real::is_finite(*u))
                } else {
                    None
                };
                let mut best_u = z[j];
                let mut best_f = self.value(&z);
                let mut try_u = |u: T, z: &mut SVector<T, D>| {
                    let keep = z[j];
                    z[j] = u;
                    let f = self.value(z);
                    if f < best_f {
                        best_f = f;
                        best_u = u;
                    }
                    z[j] = keep;
                };
                for k in -HALF_WIDTH..=HALF_WIDTH {
                    try_u(c + sd * T::c(f64::from(k) * 0.5), &mut z);
                }
                if let Some(u) = target {
                    for k in 1..=SEGMENT {
                        let w = T::c(f64::from(k) / f64::from(SEGMENT));
                        try_u(c + (u - c) * w, &mut z);
                    }
                }
                z[j] = best_u;
            }
        }
        z
    }

    /// Damped Newton from `z` (see [`ActivationDenoiser`]'s docs).
    pub(super) fn minimise(&self, start: SVector<T, D>) -> Mode<T, D> {
        let mut z = start;
        let mut fz = self.value(&z);
        let r_norm = max_abs(&self.r);
        let mut prev_step = T::INFINITY;
        for _ in 0..MAX_NEWTON {
            let mut loc = self.local(&z);
            // The Newton step; an entry at the kink that the step would take to the other side
            // than its gradient's is held for this iteration (active set), and the step
            // recomputed.
            let mut p = SVector::<T, D>::zeros();
            for _ in 0..=D {
                p = -factor_shifted(&loc.hess).solve(&loc.grad);
                let mut changed = false;
                for j in 0..D {
                    if loc.side[j] != 0 && p[j] * T::c(f64::from(loc.side[j])) < T::ZERO {
                        loc.hold(j);
                        changed = true;
                    }
                }
                if !changed {
                    break;
                }
            }
            if loc.grad.iter().all(|&g| g == T::ZERO) {
                break;
            }
            let mut slope = loc.grad.dot(&p);
            if !(slope < T::ZERO && Real::is_finite(slope)) {
                // Not a descent direction (rounding in a huge Hessian): steepest descent.
                let diag = (0..D).fold(T::ZERO, |m, i| Real::max(m, Real::abs(loc.hess[(i, i)])));
                let scale = if diag > T::ZERO && Real::is_finite(diag) {
                    T::ONE / diag
                } else {
                    T::ONE
                };
                p = -loc.grad * scale;
                slope = loc.grad.dot(&p);
                if !(slope < T::ZERO && Real::is_finite(slope)) {
                    break;
                }
            }
            // The first kink the step crosses, as a step fraction.
            let mut t_break = T::ONE;
            if let Some(k) = self.kink {
                for j in 0..D {
                    let (a, b) = (z[j] - k, z[j] + p[j] - k);
                    if a != T::ZERO
                        && ((a > T::ZERO && b < T::ZERO) || (a < T::ZERO && b > T::ZERO))
                    {
                        let tj = (k - z[j]) / p[j];
                        if tj > T::ZERO && tj < t_break {
                            t_break = tj;
                        }
                    }
                }
            }
            let mut t = t_break;
            let mut accepted = None;
            for _ in 0..MAX_HALVINGS {
                let mut zn = z + p * t;
                if t == t_break
                    && t_break < T::ONE
                    && let Some(k) = self.kink
                {
                    // Snap the entries that reach the kink at this fraction onto it.
                    for j in 0..D {
                        let tj = (k - z[j]) / p[j];
                        if z[j] != k && tj == t_break {
                            zn[j] = k;
                        }
                    }
                }
                let fn_ = self.value(&zn);
                // Sufficient decrease; or, for the full Newton step (or the step to the first
                // kink), no increase beyond the rounding of f: near the mode f is flat to
                // working precision while z still converges quadratically, and a step onto a
                // kink may be tiny.
                let rounding = T::c(STEP_TOL) * T::EPSILON * Real::abs(fz);
                if fn_ <= fz + T::c(ARMIJO) * t * slope || (t == t_break && fn_ <= fz + rounding) {
                    accepted = Some((zn, fn_));
                    break;
                }
                t *= T::HALF;
            }
            let Some((zn, fn_)) = accepted else {
                break;
            };
            let step = max_abs(&(zn - z));
            z = zn;
            fz = fn_;
            let diag = (0..D).fold(T::ZERO, |m, i| Real::max(m, Real::abs(loc.hess[(i, i)])));
            let scale = if diag > T::ZERO {
                T::ONE / Real::sqrt(diag)
            } else {
                T::ZERO
            };
            let size = max_abs(&z) + r_norm + scale;
            // Converged; or stalled at the rounding noise of the gradient (steps no longer
            // shrinking, and already tiny).
            if step <= T::c(STEP_TOL) * T::EPSILON * size
                || (step >= prev_step && step <= Real::sqrt(T::EPSILON) * size)
            {
                break;
            }
            prev_step = step;
        }
        let local = self.local(&z);
        let hess = factor_shifted(&local.hess);
        Mode {
            z,
            f: fz,
            local,
            hess,
        }
    }
}

/// The Cholesky factorisation of `H`, or of `H + τ I` for the smallest `τ = 4^k √ε ‖H‖_max`
/// that is positive definite (Levenberg); `I` if `H` is not finite.
fn factor_shifted<T: MatReal, const D: usize>(h: &SMatrix<T, D, D>) -> Precision<T, D> {
    if let Ok(p) = Precision::new(*h) {
        return p;
    }
    let scale = h.iter().fold(T::ZERO, |m, &v| Real::max(m, Real::abs(v)));
    if Real::is_finite(scale) && scale > T::ZERO {
        let mut tau = scale * Real::sqrt(T::EPSILON);
        for _ in 0..64 {
            let shifted = h + SMatrix::<T, D, D>::from_diagonal_element(tau);
            if let Ok(p) = Precision::new(shifted) {
                return p;
            }
            tau *= T::c(4.0);
        }
    }
    Precision::identity_scaled(T::ONE).expect("1 > 0")
}
