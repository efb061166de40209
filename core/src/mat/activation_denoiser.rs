//! The layer `h = φ(z) + ξ`, `ξ ~ N(0, Δ I)`, as the MAP or MMSE row estimators of a
//! non-linear layer of ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*, eqs. 12–13).

use super::{
    ChannelDenoiser, MatReal, PairEstimate, Precision, RowEstimate, RowMessage,
    check_observation_row, symmetric_eigen,
};
use crate::channel::Activation;
use crate::error::{self, Error};
use crate::quadrature::GaussLegendre;
use crate::real::Real;

pub use crate::estimator::Estimator;
use nalgebra::{SMatrix, SVector};

/// Gauss–Legendre nodes per panel of the MMSE quadrature.
const GL_NODES: usize = 16;
/// Most Newton iterations of one mode search.
const MAX_NEWTON: usize = 200;
/// Most step halvings of one backtracking line search.
const MAX_HALVINGS: usize = 60;
/// Sufficient-decrease constant of the line search (Armijo).
const ARMIJO: f64 = 1e-4;
/// A Newton step below `STEP_TOL · ε · (‖z‖ + ‖r‖ + scale)` (∞-norms) ends the search.
const STEP_TOL: f64 = 16.0;
/// Ratio of successive panel edges' distances from a centre (1.5: a panel is at most half
/// as wide as its distance from the centre).
const GRADING: f64 = 1.5;
/// Panel edges grade geometrically from each centre, at most this many per side (out to
/// `1.5^90 ≈ 7e15` times the centre's scale; beyond, one panel reaches the support's end).
const MAX_GRADING: usize = 90;
/// Most centres the MMSE quadrature grades towards (two starts, their modes, two
/// refinements).
const MAX_CENTRES: usize = 6;
/// The support of the MMSE integral keeps every `z` whose prior factor alone can reach
/// `e^{−TAIL}` of the belief's peak (plus a term for the ratio of scales).
const TAIL: f64 = 50.0;

/// The channel `h = φ(z) + ξ`, `ξ ~ N(0, Δ I)` (`Δ ≥ 0`; `Δ = 0` is the noiseless layer
/// `h = φ(z)`), with `φ` an [`Activation`] applied to each of the row's `d` entries, as the
/// estimators of eq. 13 (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*) for the belief of eq. 12.
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
    /// Gauss–Legendre nodes on `[−1, 1]`.
    nodes: [T; GL_NODES],
    /// Their weights (summing to 2).
    weights: [T; GL_NODES],
}

impl<T: MatReal, A: Activation<T>, const D: usize> ActivationDenoiser<T, A, D> {
    /// The layer `h = φ(z) + ξ`, `ξ ~ N(0, noise_var · I)`, with `φ = activation`, estimated
    /// by `estimator`.
    ///
    /// Errors ([`Error::InvalidParameter`]): `"noise_var"` unless it is finite and `≥ 0` with
    /// a finite reciprocal when `> 0`; `"estimator"` if [`Estimator::supports`] is false for
    /// `(activation, D)` — [`Estimator::Mmse`] with `D > 1` and a non-identity activation.
    pub fn new(activation: A, noise_var: T, estimator: Estimator) -> Result<Self, Error> {
        error::non_negative("noise_var", noise_var)?;
        if noise_var > T::ZERO && !Real::is_finite(T::ONE / noise_var) {
            return Err(Error::InvalidParameter {
                name: "noise_var",
                requirement: "0, or > 0 with a finite reciprocal",
            });
        }
        if !estimator.supports(&activation, D) {
            return Err(Error::InvalidParameter {
                name: "estimator",
                requirement: "Map, or Mmse with d = 1 or the identity activation",
            });
        }
        // The rule's nodes and weights on [−1, 1], read off `integrate`: on [−1, 1] the node
        // is the argument itself, and a one-hot accumulator returns each weight.
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
        Ok(Self {
            activation,
            noise_var,
            estimator,
            nodes,
            weights,
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

    /// The MAP estimate of the hidden layer.
    fn map_pair(
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

    /// The MMSE estimate of the hidden layer, `D = 1`, by quadrature.
    fn mmse_pair(
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
            input: RowEstimate {
                mean: SVector::from_element(mom.mean_z),
                jacobian: SMatrix::from_element(mom.var_z * gi),
            },
        }
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
                let z = mid + half * self.nodes[k];
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
                let wt = half * self.weights[k] * Real::exp(f_ref - f);
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
        let (r, gamma) = (&message.r, message.gamma);
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
            let gi = gamma.matrix()[(0, 0)];
            let mom = self.mmse_1d(inv, y[0], gi, r[0]);
            return RowEstimate {
                mean: SVector::from_element(mom.mean_z),
                jacobian: SMatrix::from_element(mom.var_z * gi),
            };
        }
        let m = SMatrix::<T, D, D>::from_diagonal_element(inv);
        let obj = Objective::new(&self.activation, m, y, gamma, *r);
        let mode = obj.best_mode();
        RowEstimate {
            mean: mode.z,
            jacobian: mode.solve_free(gamma.matrix()),
        }
    }

    /// `D` entries, every one finite ([`check_observation_row`]), and
    /// [`ActivationDenoiser::check_output`].
    fn check_observation(&self, y: &[T]) -> Result<(), Error> {
        check_observation_row(y, D)?;
        self.check_output()
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
struct Objective<'a, T: MatReal, A: ?Sized, const D: usize> {
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
struct Mode<T: MatReal, const D: usize> {
    z: SVector<T, D>,
    f: T,
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
    fn new(
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
    fn modes(&self) -> (Mode<T, D>, Option<(SVector<T, D>, Mode<T, D>)>) {
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

    /// Damped Newton from `z` (see [`ActivationDenoiser`]'s docs).
    fn minimise(&self, start: SVector<T, D>) -> Mode<T, D> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::activation::Tanh;

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
