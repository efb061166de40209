//! The MMSE estimate of [`ActivationDenoiser`] for `d = 1`: the moments of the
//! one-dimensional belief `b(z) ∝ e^{−f(z)}` of eq. 12 of ML-Mat-VAMP (Pandit,
//! Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in
//! multi-layer models*) with `h` eliminated, by Gauss–Legendre panels graded geometrically
//! towards the belief's modes (found by [`Objective`]), its starts and the kink of `φ`, over
//! the support where the prior factor alone can reach `e^{−50}` of the peak; redone if a
//! lower `f` turns up. See [`ActivationDenoiser`]'s docs for the formulas.

use super::map::Objective;
use super::{ActivationDenoiser, GRADING, MAX_GRADING, TAIL, noise_factors, side_offset};
use crate::channel::Activation;
use crate::mat::{MatReal, PairEstimate, Precision, RowEstimate, RowMessage};
use crate::quadrature::GaussLegendre;
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// Gauss–Legendre nodes per panel of the MMSE quadrature.
const GL_NODES: usize = 16;
/// Most centres the MMSE quadrature grades towards (two starts, their modes, two
/// refinements).
const MAX_CENTRES: usize = 6;

/// The Gauss–Legendre rule of [`GL_NODES`] nodes on `[−1, 1]` that every panel of the
/// quadrature maps to its interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Rule<T> {
    /// The nodes on `[−1, 1]`.
    nodes: [T; GL_NODES],
    /// Their weights (summing to 2).
    weights: [T; GL_NODES],
}

impl<T: Real> Rule<T> {
    /// The rule of [`GaussLegendre`].
    pub(super) fn new() -> Self {
        // The nodes and weights on [−1, 1], read off `integrate`: on [−1, 1] the node is the
        // argument itself, and a one-hot accumulator returns each weight.
        let gl = GaussLegendre::<T, GL_NODES>::new();
        let mut nodes = [T::ZERO; GL_NODES];
        let mut i = 0;
        let weights = gl.integrate(-T::ONE, T::ONE, |x| {
            let mut one_hot = [T::ZERO; GL_NODES];
            if i < GL_NODES {
                nodes[i] = x;
                one_hot[i] = T::ONE;
            }
            i += 1;
            one_hot
        });
        Self { nodes, weights }
    }
}

impl<T: MatReal, A: Activation<T>, const D: usize> ActivationDenoiser<T, A, D> {
    /// The MMSE estimate of the hidden layer, `D = 1`, by quadrature.
    pub(super) fn mmse_pair(
        &self,
        output: RowMessage<'_, T, D>,
        input: RowMessage<'_, T, D>,
    ) -> PairEstimate<T, D> {
        let (go, gi) = (output.gamma.matrix()[(0, 0)], input.gamma.matrix()[(0, 0)]);
        let (ro, ri) = (output.r[0], input.r[0]);
        let delta = self.noise_var;
        // a = 1/(1 + Δγ), 1 − a = Δγ/(1 + Δγ), Var(h | z) = Δ a.
        let (m, a, s) = if delta == T::ZERO {
            (go, T::ONE, T::ZERO)
        } else {
            noise_factors(delta, go)
        };
        let mom = self.mmse_1d(m, ro, gi, ri);
        let var_h_given_z = if delta == T::ZERO {
            T::ZERO
        } else {
            T::ONE / (T::ONE / delta + go)
        };
        let mean_h = a * mom.mean_phi + s * ro;
        let var_h = var_h_given_z + a * a * mom.var_phi;
        PairEstimate {
            output: RowEstimate {
                mean: SVector::from_element(mean_h),
                jacobian: SMatrix::from_element(var_h * go),
            },
            input: mom.z_estimate(gi),
        }
    }

    /// The MMSE estimate of the observed layer, `D = 1`: the moments of `z` for `t = y`,
    /// `m = 1/Δ`, and `∂ẑ/∂r = Var(z) γ`.
    pub(super) fn mmse_output(
        &self,
        m: T,
        y: &SVector<T, D>,
        message: RowMessage<'_, T, D>,
    ) -> RowEstimate<T, D> {
        let gi = message.gamma.matrix()[(0, 0)];
        self.mmse_1d(m, y[0], gi, message.r[0]).z_estimate(gi)
    }

    /// Mean and variance of `z` and `φ(z)` under `b(z) ∝ e^{−f(z)}`,
    /// `f = ½ m (φ(z) − t)² + ½ γ (z − r)²` (see the type's docs).
    ///
    /// The centres are the local minima of [`Objective::modes`] and their starts; if the
    /// quadrature meets a node where `f` is below the lowest of them, a mode was missed:
    /// Newton from that node adds it as a centre and the integral is redone (at most twice).
    fn mmse_1d(&self, m: T, t: T, gamma: T, r: T) -> Moments<T> {
        let gamma_p = Precision::<T, 1>::identity_scaled(gamma)
            .unwrap_or_else(|_| Precision::identity_scaled(T::ONE).expect("1 > 0"));
        let obj = Objective::new(
            &self.activation,
            SMatrix::<T, 1, 1>::from_element(m),
            SVector::<T, 1>::from_element(t),
            &gamma_p,
            SVector::<T, 1>::from_element(r),
        );
        let (first, second) = obj.modes();
        let mut centres = [T::ZERO; MAX_CENTRES];
        let mut n = 0;
        let (mut best_z, mut best_f) = (first.z[0], first.f);
        // Both starts are centres too: the belief may have a shoulder at the prior's or the
        // likelihood's centre even where Newton left it.
        let mut candidates = [first.z[0], r, r, r];
        if let Some((start, s)) = second {
            candidates[2] = s.z[0];
            candidates[3] = start[0];
            if s.f < best_f {
                best_z = s.z[0];
                best_f = s.f;
            }
        }
        for c in candidates {
            if !centres[..n].contains(&c) {
                centres[n] = c;
                n += 1;
            }
        }
        let scalars = Scalar1d { m, t, gamma, r };
        self.mmse_refined(&obj, &scalars, centres, n, best_z, best_f)
    }

    /// [`ActivationDenoiser::integrate_1d`] over `centres[..n]` (`best_z` the lowest known
    /// minimum, `best_f = f(best_z)`), redone (at most twice) with the mode Newton finds from
    /// a node where the quadrature met an `f` below `best_f`.
    fn mmse_refined(
        &self,
        obj: &Objective<'_, T, A, 1>,
        scalars: &Scalar1d<T>,
        mut centres: [T; MAX_CENTRES],
        mut n: usize,
        mut best_z: T,
        mut best_f: T,
    ) -> Moments<T> {
        let mut pass = 0;
        loop {
            let (moments, lower) = self.integrate_1d(scalars, &centres[..n], best_z, best_f);
            pass += 1;
            let Some(z_low) = lower else {
                return moments;
            };
            if pass >= 3 || n >= MAX_CENTRES {
                return moments;
            }
            let mode = obj.minimise(SVector::<T, 1>::from_element(z_low));
            if !(mode.f < best_f && Real::is_finite(mode.f)) {
                return moments;
            }
            best_z = mode.z[0];
            best_f = mode.f;
            centres[n] = best_z;
            n += 1;
        }
    }

    /// One pass of the MMSE quadrature of [`ActivationDenoiser::mmse_1d`] with the given
    /// centres (`c0` the lowest, `f0 = f(c0)`): the moments, and the lowest node if `f` there is
    /// below `f0` by more than its rounding.
    fn integrate_1d(
        &self,
        p: &Scalar1d<T>,
        centres: &[T],
        c0: T,
        f0: T,
    ) -> (Moments<T>, Option<T>) {
        let act = &self.activation;
        let (m, t, gamma, r) = (p.m, p.t, p.gamma, p.r);
        let sigma_prior = T::ONE / Real::sqrt(gamma);
        // f' and f'' at z, with φ's derivatives taken at `zd` (to read one side of a kink).
        let derivs = |z: T, zd: T| -> (T, T) {
            let phi = act.value(z);
            let (_, d1, d2) = act.eval(zd);
            let e = phi - t;
            (
                d1 * (m * e) + gamma * (z - r),
                m * (d1 * d1 + d2 * e) + gamma,
            )
        };
        // Laplace-type scale of a centre: 1/√|f''| from both sides (and 1/|f'| at a kink).
        let scale_at = |c: T, with_slope: bool| -> T {
            let off = side_offset(c);
            let (g_l, h_l) = derivs(c, c - off);
            let (g_r, h_r) = derivs(c, c + off);
            let (_, h_c) = derivs(c, c);
            let curv = Real::max(
                Real::max(Real::abs(h_l), Real::abs(h_r)),
                Real::max(Real::abs(h_c), gamma),
            );
            let mut s = T::ONE / Real::sqrt(curv);
            if with_slope {
                let slope = Real::max(Real::abs(g_l), Real::abs(g_r));
                if slope > T::ZERO {
                    s = Real::min(s, T::ONE / slope);
                }
            }
            if Real::is_finite(s) && s > T::ZERO {
                s
            } else {
                sigma_prior
            }
        };
        // Centres closer than a quarter of their scale to an earlier one are merged into it
        // (keeping the smaller scale), except that the kink always stays an edge.
        let mut graded = [(T::ZERO, T::ZERO); MAX_CENTRES + 1];
        let mut n_graded = 0;
        let kink = act.kink();
        let candidates = centres
            .iter()
            .map(|&c| (c, false))
            .chain(kink.map(|k| (k, true)));
        for (c, is_kink) in candidates {
            let s = scale_at(c, is_kink);
            let close = graded[..n_graded].iter().position(|&(c2, s2)| {
                Real::abs(c - c2) <= T::c(0.25) * Real::min(s, s2) && (!is_kink || c == c2)
            });
            match close {
                Some(i) => graded[i].1 = Real::min(graded[i].1, s),
                None => {
                    graded[n_graded] = (c, s);
                    n_graded += 1;
                }
            }
        }
        let graded = &graded[..n_graded];
        let s0 = scale_at(c0, false);
        let s_min = graded.iter().fold(s0, |acc, &(_, s)| Real::min(acc, s));
        // The support: f ≥ ½ γ (z − r)², so beyond |z − r| = σ √(2 budget) the weight
        // e^{f0 − f} is below e^{−TAIL} times the ratio of scales.
        let ratio = sigma_prior / s_min;
        let log_ratio = if ratio > T::ONE {
            Real::ln(ratio)
        } else {
            T::ZERO
        };
        let budget = Real::max(f0, T::ZERO) + T::c(TAIL) + log_ratio;
        let mut reach = sigma_prior * Real::sqrt(T::TWO * budget);
        if !Real::is_finite(reach) {
            reach = T::MAX;
        }
        let (lo, hi) = (r - reach, r + reach);
        let lo = if Real::is_finite(lo) { lo } else { -T::MAX };
        let hi = if Real::is_finite(hi) { hi } else { T::MAX };

        // Panel edges: the merge of each centre's graded edges (ascending), so no edge list
        // is stored.
        let mut gens = [Grading::empty(); MAX_CENTRES + 1];
        for (g, &(c, s)) in gens.iter_mut().zip(graded) {
            *g = Grading::new(c, s, lo, hi);
        }
        let gens = &mut gens[..graded.len()];

        // Streaming moments about (c0, φ(c0)), weights e^{f_ref − f}.
        let phi0 = act.value(c0);
        let mut f_ref = f0;
        let mut z_low = c0;
        let mut acc = [T::ZERO; 5];
        let mut a = lo;
        while a < hi {
            let mut b = hi;
            for g in gens.iter_mut() {
                while let Some(e) = g.peek() {
                    if e <= a {
                        g.advance();
                    } else {
                        b = Real::min(b, e);
                        break;
                    }
                }
            }
            let (mid, half) = ((a + b) * T::HALF, (b - a) * T::HALF);
            for k in 0..GL_NODES {
                let z = mid + half * self.rule.nodes[k];
                let phi = act.value(z);
                let e = phi - t;
                let d = z - r;
                let f = T::HALF * ((m * e) * e) + T::HALF * ((gamma * d) * d);
                if !Real::is_finite(f) {
                    continue;
                }
                if f < f_ref {
                    let shrink = Real::exp(f - f_ref);
                    for v in acc.iter_mut() {
                        *v *= shrink;
                    }
                    f_ref = f;
                    z_low = z;
                }
                let wt = half * self.rule.weights[k] * Real::exp(f_ref - f);
                let dz = z - c0;
                let dp = phi - phi0;
                acc[0] += wt;
                acc[1] += wt * dz;
                acc[2] += wt * dz * dz;
                acc[3] += wt * dp;
                acc[4] += wt * dp * dp;
            }
            a = b;
        }
        let missed = f_ref < f0 - T::c(1024.0) * T::EPSILON * (Real::abs(f0) + T::ONE);
        let lower = missed.then_some(z_low);
        let laplace = || {
            let (_, d1, _) = act.eval(c0);
            Moments {
                mean_z: c0,
                var_z: s0 * s0,
                mean_phi: phi0,
                var_phi: d1 * d1 * s0 * s0,
            }
        };
        if !(acc[0] > T::ZERO && Real::is_finite(acc[0])) {
            return (laplace(), lower);
        }
        let mz = acc[1] / acc[0];
        let var_z = acc[2] / acc[0] - mz * mz;
        if !(var_z > T::ZERO && Real::is_finite(var_z)) {
            return (laplace(), lower);
        }
        let mp = acc[3] / acc[0];
        let var_phi = Real::max(acc[4] / acc[0] - mp * mp, T::ZERO);
        (
            Moments {
                mean_z: c0 + mz,
                var_z,
                mean_phi: phi0 + mp,
                var_phi,
            },
            lower,
        )
    }
}

/// The scalars of the `d = 1` objective `f = ½ m (φ(z) − t)² + ½ γ (z − r)²`.
struct Scalar1d<T> {
    m: T,
    t: T,
    gamma: T,
    r: T,
}

/// Mean and variance of `z` and `φ(z)` under a 1-D belief.
#[derive(Clone, Copy, Debug)]
struct Moments<T> {
    mean_z: T,
    var_z: T,
    mean_phi: T,
    var_phi: T,
}

impl<T: MatReal> Moments<T> {
    /// The estimate of `z` from the belief's moments and the message's precision `γ`: the
    /// mean `ẑ = E[z]` and `∂ẑ/∂r = Var(z) γ` (the derivative of the mean in the belief's
    /// linear parameter `γ r`).
    fn z_estimate<const D: usize>(&self, gamma: T) -> RowEstimate<T, D> {
        RowEstimate {
            mean: SVector::from_element(self.mean_z),
            jacobian: SMatrix::from_element(self.var_z * gamma),
        }
    }
}

/// The panel edges graded towards one centre `c` with scale `s`, in ascending order, inside
/// `(lo, hi)`: `c − w_j`, …, `c − w_0`, `c`, `c + w_0`, …, `c + w_j` with `w_j = (s/4) 1.5^j`,
/// out to the first edge beyond the support (at most [`MAX_GRADING`] per side).
#[derive(Clone, Copy, Debug)]
struct Grading<T> {
    c: T,
    /// Offset of the next left edge (decreasing) and how many are left.
    w_left: T,
    n_left: usize,
    /// Whether `c` itself is still to come.
    centre: bool,
    /// Offset of the next right edge (increasing) and how many are left.
    w_right: T,
    n_right: usize,
}

impl<T: Real> Grading<T> {
    fn empty() -> Self {
        Self {
            c: T::ZERO,
            w_left: T::ZERO,
            n_left: 0,
            centre: false,
            w_right: T::ZERO,
            n_right: 0,
        }
    }

    fn new(c: T, s: T, lo: T, hi: T) -> Self {
        let w0 = s * T::c(0.25);
        // The edges c ± w_j inside (lo, hi): count them, and find the farthest on the left.
        let (mut w, mut n_left, mut w_far) = (w0, 0, w0);
        while n_left < MAX_GRADING && c - w > lo {
            w_far = w;
            n_left += 1;
            w *= T::c(GRADING);
        }
        let (mut w, mut n_right) = (w0, 0);
        while n_right < MAX_GRADING && c + w < hi {
            n_right += 1;
            w *= T::c(GRADING);
        }
        Self {
            c,
            w_left: w_far,
            n_left,
            centre: c > lo && c < hi,
            w_right: w0,
            n_right,
        }
    }

    fn peek(&self) -> Option<T> {
        if self.n_left > 0 {
            Some(self.c - self.w_left)
        } else if self.centre {
            Some(self.c)
        } else if self.n_right > 0 {
            Some(self.c + self.w_right)
        } else {
            None
        }
    }

    fn advance(&mut self) {
        if self.n_left > 0 {
            self.n_left -= 1;
            self.w_left /= T::c(GRADING);
        } else if self.centre {
            self.centre = false;
        } else if self.n_right > 0 {
            self.n_right -= 1;
            self.w_right *= T::c(GRADING);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::activation::Tanh;
    use crate::mat::Estimator;

    /// Mean and variance of `z` under `e^{−f}` by a dense Simpson rule on `[−60, 60]`.
    fn simpson_moments(f: impl Fn(f64) -> f64) -> (f64, f64) {
        let n = 600_000;
        let h = 120.0 / n as f64;
        let top = (0..=n)
            .map(|i| -f(-60.0 + i as f64 * h))
            .fold(f64::NEG_INFINITY, f64::max);
        let mut s = [0.0; 3];
        for i in 0..=n {
            let z = -60.0 + i as f64 * h;
            let w = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            } * (-f(z) - top).exp();
            s[0] += w;
            s[1] += w * z;
            s[2] += w * z * z;
        }
        let mean = s[1] / s[0];
        (mean, s[2] / s[0] - mean * mean)
    }

    /// The safety nets of the 1-D quadrature: started from a single centre far from the
    /// belief (its `f` ≈ 1000 above the minimum, so weights `e^{f0 − f}` would overflow without
    /// the on-the-fly rescaling), the refinement passes find the modes and the moments still
    /// match brute force.
    #[test]
    fn refinement_recovers_missed_modes() {
        let den = ActivationDenoiser::<f64, Tanh, 1>::new(Tanh, 0.0, Estimator::Mmse).unwrap();
        for &(m, t, gamma, r, bad) in &[
            (4.0, 0.95, 0.3, -4.0, -4.0),
            (400.0, 0.95, 4.0, -20.0, 10.0),
            (4.0, 0.95, 0.3, -4.0, 25.0),
        ] {
            let f = |z: f64| 0.5 * m * (z.tanh() - t).powi(2) + 0.5 * gamma * (z - r).powi(2);
            let (mean, var) = simpson_moments(f);
            let gamma_p = Precision::<f64, 1>::identity_scaled(gamma).unwrap();
            let obj = Objective::new(
                &den.activation,
                SMatrix::from_element(m),
                SVector::from_element(t),
                &gamma_p,
                SVector::from_element(r),
            );
            let scalars = Scalar1d { m, t, gamma, r };
            let mut centres = [0.0; MAX_CENTRES];
            centres[0] = bad;
            let got = den.mmse_refined(&obj, &scalars, centres, 1, bad, f(bad));
            assert!(
                (got.mean_z - mean).abs() < 1e-9 * var.sqrt(),
                "{:?}: mean {} vs {mean}",
                (m, t, gamma, r, bad),
                got.mean_z
            );
            assert!(
                (got.var_z - var).abs() < 1e-8 * var,
                "{:?}: var {} vs {var}",
                (m, t, gamma, r, bad),
                got.var_z
            );
            // One pass with the right centres but the far centre's f as the reference: the
            // weights are rescaled on the fly, so the moments are right, and the lower f is
            // reported.
            let (first, second) = obj.modes();
            let mut cs = [bad, first.z[0], r, r];
            if let Some((start, s)) = second {
                cs[2] = s.z[0];
                cs[3] = start[0];
            }
            let (one, lower) = den.integrate_1d(&scalars, &cs, bad, f(bad));
            assert!(lower.is_some());
            assert!(
                (one.mean_z - mean).abs() < 1e-9 * var.sqrt(),
                "one pass: {one:?}"
            );
            assert!((one.var_z - var).abs() < 1e-8 * var, "one pass: {one:?}");
            // And the full path agrees.
            let full = den.mmse_1d(m, t, gamma, r);
            assert!((full.mean_z - mean).abs() < 1e-9 * var.sqrt());
            assert!((full.var_z - var).abs() < 1e-8 * var);
        }
    }
}
