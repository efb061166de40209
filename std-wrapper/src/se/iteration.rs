//! The fixed-point iteration of the ML-AMP state evolution, `m ← F(m)` (ML-AMP paper
//! (Manoel, Krzakala, Mézard, Zdeborová, *Multi-layer generalized linear estimation*),
//! eqs. 11–13; `F` is one sweep over the layers, [`super::StateEvolution`]): its stopping
//! rule and its acceleration by safeguarded Newton steps.
//!
//! # Stopping rule
//! Converged when, for every variable, the distance to the fixed point estimated from a
//! plain step, `|Δm_j| / (1 − r)` with `r` the contraction of the step over the last sweep,
//! is within `tol · (ρ_j − m_j)` (relative to the MSE: near perfect recovery φ depends on
//! log MSE), or the step itself within [`FLOOR`]` · ρ_j`, a few dozen units in the last place
//! of `m_j ≈ ρ_j`. Without the rate a slowly contracting iteration (r → 1) stopped
//! `1/(1 − r)` times further from its fixed point than the tolerance says; without the floor
//! an MSE of 1e-8 asked for changes of 1e-16 in `m ≈ 0.3`, one floating-point step, which the
//! sweep's rounding may never deliver (points of a sparse-regression scan ran to the
//! 20 000-iteration cap).
//!
//! # Acceleration
//! Where the plain iteration contracts slowly (the step shrinks, but by less than a factor
//! [`SLOW_RATE`] per sweep: near a spinodal, or at `α = 1` of a noiseless linear layer, where
//! `V ← V − V²/ρ` decays like `1/t`) and monotonically (the last two steps moved every overlap
//! the same way: the Bayes-optimal SE map is nondecreasing, so from there the plain iteration
//! runs monotonically to the nearest fixed point in that direction), a Newton step on
//! `G(m) = F(m) − m` is tried, with the Jacobian by forward differences (one sweep per
//! variable), in the log-MSEs `u_j = ln(ρ_j − m_j)`: `u(p) = u + (I − J)⁻¹ (U(u) − u)`, `U`
//! the map in those coordinates, which is closer to linear where the MSE changes by factors
//! (the `1/t` decay above, an MSE approaching its floor) and cannot step past `m = ρ`.
//!
//! It is kept only if it looks like staying on the branch the plain iteration follows: each
//! overlap moves the way the plain step moves it; at `p` the residual `G(p)` has the same sign
//! per variable as `G(m)` (it did not step over the fixed point; halved up to three times
//! when it did), unless it is a tenth of its size at most (it landed on it, up to rounding)
//! or the step moved that variable's MSE by less than 10 %; and the residual is smaller.
//! These checks are heuristics, not a proof (a step could leap over an unstable and a stable
//! fixed point together); near a saddle-node pair the map is convex from below, where Newton
//! steps do not overshoot. A kept step is followed by a plain step from `p`, whose change is
//! what the stopping rule tests. `tests/state_evolution.rs` compares the branches reached
//! with the plain iteration's.

use super::{MIN_RELATIVE_MSE, SeOptions};

/// The smallest change of an overlap asked of the iteration, relative to its second moment ρ:
/// 64 ulp of 1 (1.4e-14). The sweep's own rounding in `m ≈ ρ` is of a few ulp to a few tens
/// (sums of a few hundred quadrature terms).
pub const FLOOR: f64 = 64.0 * f64::EPSILON;

/// A Newton step is tried when the plain step shrank by less than this factor over the last
/// sweep (a faster iteration gains little from a step that costs `L + 1` sweeps).
pub const SLOW_RATE: f64 = 0.5;

/// The most sweeps between two Newton steps tried (the wait doubles after each rejection).
const MAX_WAIT: usize = 8;

/// How many times a Newton step that stepped over the fixed point is halved before it is
/// given up.
const HALVINGS: usize = 3;

/// What the iteration reached.
#[derive(Clone, Debug, PartialEq)]
pub struct Iterated {
    /// The last overlaps (finite).
    pub m: Vec<f64>,
    /// Sweeps of `F` run, the Newton steps' included.
    pub sweeps: usize,
    /// The stopping rule was met.
    pub converged: bool,
    /// A sweep returned a non-finite overlap (the iteration stopped at the last finite
    /// overlaps).
    pub diverged: bool,
}

/// The iteration of `map` (one sweep: the new overlaps, unclamped) from `m` for variables of
/// second moments `rho`, each overlap kept in `[0, (1 − MIN_RELATIVE_MSE) ρ_j]`; at most
/// `opts.max_iter` sweeps.
pub fn iterate(
    rho: &[f64],
    mut m: Vec<f64>,
    opts: SeOptions,
    mut map: impl FnMut(&[f64]) -> Vec<f64>,
) -> Iterated {
    let n = rho.len();
    let hi: Vec<f64> = rho.iter().map(|r| (1.0 - MIN_RELATIVE_MSE) * r).collect();
    let clamp =
        |v: &[f64]| -> Vec<f64> { v.iter().zip(&hi).map(|(&x, &h)| x.clamp(0.0, h)).collect() };
    // The step from `m` to `next` in units of the change the stopping rule allows.
    let size = |m: &[f64], next: &[f64]| {
        (0..n)
            .map(|j| (next[j] - m[j]).abs() / (opts.tol * (rho[j] - next[j]) + FLOOR * rho[j]))
            .fold(0.0, f64::max)
    };
    // Converged: the distance to the fixed point, estimated as step / (1 − rate), within
    // tol of the MSE, or the step itself within the floor.
    let done = |m: &[f64], next: &[f64], rate: f64| {
        let keep = (1.0 - rate).clamp(0.0, 1.0);
        (0..n).all(|j| {
            (next[j] - m[j]).abs() <= opts.tol * (rho[j] - next[j]) * keep + FLOOR * rho[j]
        }) || next
            .iter()
            .zip(rho)
            .all(|(a, r)| r - a <= 1.5 * MIN_RELATIVE_MSE * r)
    };
    let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
    let mut sweeps = 0;
    let mut last_size = f64::INFINITY;
    // The direction of the last plain step if every overlap moved the same way (up: `Some(true)`;
    // changes within the stopping rule's allowance count as either way).
    let direction = |m: &[f64], next: &[f64]| -> Option<bool> {
        let (mut up, mut down) = (false, false);
        for j in 0..n {
            let d = next[j] - m[j];
            if d.abs() > opts.tol * (rho[j] - next[j]) + FLOOR * rho[j] {
                up |= d > 0.0;
                down |= d < 0.0;
            }
        }
        match (up, down) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        }
    };
    let mut last_direction = None;
    // Sweeps until the next Newton step may be tried (doubled after each failure).
    let (mut wait, mut backoff) = (2usize, 2usize);
    while sweeps < opts.max_iter {
        sweeps += 1;
        let raw = map(&m);
        // A NaN passes `clamp` and `f64::max` ignores it: stop at the last finite overlaps.
        if !finite(&raw) {
            return Iterated {
                m,
                sweeps,
                converged: false,
                diverged: true,
            };
        }
        let next = clamp(&raw);
        let step = size(&m, &next);
        // The contraction over the last sweep (0 on the first: no estimate yet).
        let rate = if last_size.is_finite() && last_size > 0.0 {
            step / last_size
        } else {
            0.0
        };
        if done(&m, &next, rate) {
            return Iterated {
                m: next,
                sweeps,
                converged: true,
                diverged: false,
            };
        }
        last_size = step;
        let dir = direction(&m, &next);
        let monotone = dir.is_some() && dir == last_direction;
        last_direction = dir;
        wait = wait.saturating_sub(1);
        // Contracting, but slowly, and monotone: the last two steps moved every overlap the
        // same way. Where the step does not shrink (an escape from a plateau, an MSE falling
        // geometrically towards perfect recovery) the linear model of Newton's step has no
        // fixed point to aim at; and a start informed in some variables and not in others
        // first moves them in opposite directions, towards one branch or another, which a
        // Newton step can change (measured: the start IU of sparse regression at α1 = 0.38).
        let slow = monotone && rate > SLOW_RATE && rate < 1.0;
        if slow && wait == 0 && sweeps + n + 1 < opts.max_iter {
            match newton(rho, &hi, &m, &next, &mut map, &mut sweeps) {
                Some((p, fp)) => {
                    // Continue with the plain step from p (the next sweep's rate compares
                    // two plain steps).
                    last_size = size(&p, &fp);
                    m = fp;
                    backoff = 2;
                    wait = 1;
                    continue;
                }
                None => {
                    backoff = (2 * backoff).min(MAX_WAIT);
                    wait = backoff;
                }
            }
        }
        m = next;
    }
    Iterated {
        m,
        sweeps,
        converged: false,
        diverged: false,
    }
}

/// One safeguarded Newton step from `m`, whose plain step is `fm` (clamped): `Some((p, F(p)))`
/// (`F(p)` clamped) if it is kept (see the module's docs), counting its sweeps in `sweeps`.
fn newton(
    rho: &[f64],
    hi: &[f64],
    m: &[f64],
    fm: &[f64],
    map: &mut impl FnMut(&[f64]) -> Vec<f64>,
    sweeps: &mut usize,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let n = m.len();
    let g: Vec<f64> = (0..n).map(|j| fm[j] - m[j]).collect();
    // Newton in the log-MSEs u_j = ln(ρ_j − m_j), where the SE's map is closer to linear
    // (near perfect recovery it moves the MSE by factors) and a step cannot cross ρ.
    let log_mse = |v: &[f64]| -> Vec<f64> { (0..n).map(|j| (rho[j] - v[j]).ln()).collect() };
    let (u, fu) = (log_mse(m), log_mse(fm));
    let gu: Vec<f64> = (0..n).map(|j| fu[j] - u[j]).collect();
    // Jacobian of U(u) = ln(ρ − F(m(u))) by forward differences: each MSE 0.1 % larger (or
    // smaller where m would turn negative).
    let mut a = nalgebra::DMatrix::<f64>::identity(n, n);
    for k in 0..n {
        let h = if rho[k] - (rho[k] - m[k]) * 1e-3f64.exp() >= 0.0 {
            1e-3
        } else {
            -1e-3
        };
        let mut mk = m.to_vec();
        mk[k] = (rho[k] - (u[k] + h).exp()).clamp(0.0, hi[k]);
        *sweeps += 1;
        let fk = map(&mk);
        if fk.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let uk = log_mse(&mk);
        let fuk = log_mse(
            &fk.iter()
                .zip(hi)
                .map(|(&x, &c)| x.clamp(0.0, c))
                .collect::<Vec<_>>(),
        );
        for j in 0..n {
            // I − J, J_jk = ∂U_j/∂u_k.
            a[(j, k)] -= (fuk[j] - fu[j]) / (uk[k] - u[k]);
        }
    }
    let d = a.lu().solve(&nalgebra::DVector::from_column_slice(&gu))?;
    let moves_along = (0..n).all(|j| gu[j] == 0.0 || d[j] == 0.0 || (d[j] > 0.0) == (gu[j] > 0.0));
    if !moves_along || d.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let residual = |p: &[f64], fp: &[f64]| {
        (0..n)
            .map(|j| (fp[j] - p[j]).abs() / (rho[j] - p[j]).max(MIN_RELATIVE_MSE * rho[j]))
            .fold(0.0, f64::max)
    };
    let before = residual(m, fm);
    let mut scale = 1.0;
    for _ in 0..=HALVINGS {
        let p: Vec<f64> = (0..n)
            .map(|j| (rho[j] - (u[j] + scale * d[j]).exp()).clamp(0.0, hi[j]))
            .collect();
        *sweeps += 1;
        let raw = map(&p);
        if raw.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let fp: Vec<f64> = raw.iter().zip(hi).map(|(&x, &h)| x.clamp(0.0, h)).collect();
        // Same side of the fixed point in every variable still moving; or so close to it
        // that the residual fell tenfold (a step that lands on the fixed point flips the
        // residual's sign by rounding); or a variable the step moved by less than a tenth of
        // its MSE (a fast variable slaved to a slow one overshoots a little as the slow one
        // leaps; no branch lies that close).
        let same_side = (0..n).all(|j| {
            let gp = fp[j] - p[j];
            gp == 0.0
                || g[j] == 0.0
                || (gp > 0.0) == (g[j] > 0.0)
                || gp.abs() <= 0.1 * g[j].abs()
                || (scale * d[j]).abs() <= 0.1
        });
        if same_side {
            return (residual(&p, &fp) < before).then_some((p, fp));
        }
        scale *= 0.5;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> SeOptions {
        SeOptions::default()
    }

    /// `V ← V − V²/ρ + Δ`-type recursion of a noiseless square linear layer (α = 1) with a
    /// Gaussian prior of variance ρ, in overlaps: `V' = 1/(1/ρ + 1/(Δ + V))`, whose fixed
    /// point solves `V² + ΔV − ρΔ = 0`. The plain iteration decays like `1/t` until `V`
    /// nears `√(ρΔ)`.
    #[test]
    fn critical_slowing_down_is_accelerated_to_the_closed_form() {
        let (rho, delta) = (1.0, 1e-8);
        let map = |m: &[f64]| {
            let v = rho - m[0];
            vec![rho - 1.0 / (1.0 / rho + 1.0 / (delta + v))]
        };
        let want_v = (-delta + (delta * delta + 4.0 * rho * delta).sqrt()) / 2.0;
        let got = iterate(&[rho], vec![1e-6], opts(), map);
        assert!(got.converged && !got.diverged);
        let v = rho - got.m[0];
        assert!(
            (v - want_v).abs() <= 2e-8 * want_v,
            "V = {v:e}, closed form {want_v:e}"
        );
        // The plain iteration needs ~ρ/V ≈ 1e4 sweeps; Newton a few dozen.
        assert!(got.sweeps < 200, "{} sweeps", got.sweeps);
    }

    /// A monotone map with three fixed points (stable 0.2, unstable 0.5, stable 0.8) and slow
    /// contraction at the stable ones: from below 0.5 the iteration must stop at 0.2, from
    /// above at 0.8, however far a Newton step would reach.
    #[test]
    fn newton_steps_never_change_the_branch() {
        // F(m) = m − c (m − 0.2)(m − 0.5)(m − 0.8) with F' = 1 − c·(0.3·0.6)... at 0.2:
        // F'(0.2) = 1 − 0.18 c; c = 0.5 gives 0.91 (slow).
        let c = 0.5;
        let map = |m: &[f64]| {
            let x = m[0];
            vec![x - c * (x - 0.2) * (x - 0.5) * (x - 0.8)]
        };
        for (start, want) in [
            (1e-6, 0.2),
            (0.35, 0.2),
            (0.499, 0.2),
            (0.501, 0.8),
            (0.7, 0.8),
            (0.999, 0.8),
        ] {
            let got = iterate(&[1.0], vec![start], opts(), map);
            assert!(got.converged, "from {start}");
            // The stopping rule's accuracy: tol of the MSE (with slack 2 for the estimate of
            // the rate).
            assert!(
                (got.m[0] - want).abs() <= 2e-8 * (1.0 - want),
                "from {start}: {} (want {want})",
                got.m[0]
            );
        }
    }

    /// A map at whose fixed point the overlap sits at MSE 1e-8 of ρ: with the floor the
    /// iteration stops; the plain rule alone asked for changes below one ulp of m.
    #[test]
    fn the_floor_stops_at_tiny_mse() {
        let rho = 0.3;
        let target = rho * (1.0 - 1e-8);
        // Contraction 0.9 towards the target, plus a rounding jitter of a few ulp that a
        // tolerance of 1e-8 · MSE (1e-16 · ρ) cannot see through.
        let mut t = 0u64;
        let map = move |m: &[f64]| {
            t += 1;
            let jitter = if t.is_multiple_of(2) { 4.0 } else { -4.0 } * f64::EPSILON * rho;
            vec![target + 0.9 * (m[0] - target) + jitter]
        };
        let got = iterate(&[rho], vec![0.0], opts(), map);
        assert!(got.converged && got.sweeps < 1000, "{} sweeps", got.sweeps);
        let mse = rho - got.m[0];
        assert!((mse - 1e-8 * rho).abs() < 1e-3 * mse, "MSE {mse:e}");
    }

    #[test]
    fn a_nan_stops_the_iteration_at_the_last_finite_point() {
        let map = |m: &[f64]| vec![if m[0] > 0.5 { f64::NAN } else { m[0] + 0.2 }];
        let got = iterate(&[1.0], vec![0.1], opts(), map);
        assert!(got.diverged && !got.converged);
        assert!(got.m[0].is_finite() && got.m[0] > 0.5);
    }
}
