//! The law of the singular values of a weight matrix, as a quadrature: what the state
//! evolution of ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix
//! inference and estimation in multi-layer models*) averages its linear layers' matrix-valued
//! functions `f(s)` over, exactly, without sampling a matrix.
//!
//! # What a law holds
//! `W` is `n_out × n_in` (rows × columns) of rank `r ≤ min(n_out, n_in)`. Its thin SVD
//! `W = U diag(s) Vᵀ` pairs `r` input directions (columns of `V`) with `r` output directions
//! (columns of `U`) through a singular value `s_i > 0`; the other `n_in − r` input directions
//! are mapped to 0 and the other `n_out − r` output directions are not reached. A
//! [`SpectralLaw`] holds those counts as fractions,
//!
//! - `nonzero_in = r / n_in`, `null_in = 1 − r / n_in`,
//! - `nonzero_out = r / n_out`, `null_out = 1 − r / n_out`,
//!
//! and the *normalised* law of the nonzero singular values as atoms `(s_k, w_k)`, `Σ w_k = 1`.
//! An average over the `n_in` input directions is then
//! `null_in · f_null + nonzero_in · Σ_k w_k f(s_k)` ([`SpectralLaw::average_in`]), and the
//! same with the output fractions over the `n_out` output directions
//! ([`SpectralLaw::average_out`]).
//!
//! # Three laws
//! - [`SpectralLaw::empirical`]: the singular values of one matrix, equal weights `1/r`;
//! - [`SpectralLaw::marchenko_pastur`]: the large-size law of a matrix of iid `N(0, 1/n_in)`
//!   entries, as a Gauss quadrature (see there for the derivation);
//! - [`SpectralLaw::from_svd_spectrum`]: the deterministic singular values of the `spectrum`
//!   weights of model files ([`spectrum_singular_values`]).

use faer::Mat;
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{ComputeEigenvectors, self_adjoint_evd, self_adjoint_evd_scratch};
use std::ops::{Add, Mul};

use crate::error::Error;
use crate::instance::ensembles::spectrum_singular_values;
use crate::linalg::svd::PAR;

/// One atom of the normalised law of the nonzero singular values: `weight` is the probability
/// of the singular value `s`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Atom {
    /// The singular value `s > 0`.
    pub s: f64,
    /// Its probability `w ≥ 0` (the atoms' weights sum to 1).
    pub weight: f64,
}

/// The law of the singular values of an `n_out × n_in` weight matrix of rank `r`: the
/// fractions of null and nonzero directions on each side and the normalised law of the
/// nonzero singular values (see the module's docs).
#[derive(Clone, Debug, PartialEq)]
pub struct SpectralLaw {
    n_out: usize,
    n_in: usize,
    rank: usize,
    atoms: Vec<Atom>,
}

/// `Ok(())` if both sizes are positive.
fn check_sizes(n_out: usize, n_in: usize) -> Result<(), Error> {
    if n_out == 0 || n_in == 0 {
        return Err(mlamp_core::Error::InvalidParameter {
            name: "n_out and n_in",
            requirement: "positive",
        }
        .into());
    }
    Ok(())
}

impl SpectralLaw {
    /// The law of the `rank = s.len()` nonzero singular values `s` (all finite and `> 0`,
    /// `s.len() ≤ min(n_out, n_in)`, checked by the callers), each of weight `1/rank`.
    fn equal_atoms(s: &[f64], n_out: usize, n_in: usize) -> Self {
        let w = 1.0 / s.len() as f64;
        Self {
            n_out,
            n_in,
            rank: s.len(),
            atoms: s.iter().map(|&s| Atom { s, weight: w }).collect(),
        }
    }

    /// The empirical law of the singular values `s` of one `n_out × n_in` matrix (e.g.
    /// [`crate::linalg::svd::Svd::singular_values`]): every `s_i` above the rank tolerance
    /// `τ = max(n_out, n_in) · ε · max_i s_i` (`ε` = [`f64::EPSILON`], the tolerance of
    /// LAPACK-style numerical rank) is an atom of weight `1/r`, `r` the number of them; the
    /// `s_i ≤ τ` are counted as null directions, like the `min(n_out, n_in) − s.len()`
    /// singular values a thin factorisation may leave out. So
    /// `nonzero_in = r/n_in` and `Σ_k w_k f(s_k) = (1/r) Σ_{s_i > τ} f(s_i)`.
    ///
    /// A zero matrix (`r = 0`, e.g. `s` empty or all zero) has no atoms: every direction is
    /// null.
    ///
    /// Errors (in [`Error::Core`]): `InvalidParameter` if `n_out` or `n_in` is zero, if
    /// `s.len() > min(n_out, n_in)` or if some `s_i < 0`; `NonFinite` if some `s_i` is NaN or
    /// infinite.
    pub fn empirical(s: &[f64], n_out: usize, n_in: usize) -> Result<Self, Error> {
        check_sizes(n_out, n_in)?;
        if s.len() > n_out.min(n_in) {
            return Err(mlamp_core::Error::InvalidParameter {
                name: "s",
                requirement: "at most min(n_out, n_in) singular values",
            }
            .into());
        }
        if !s.iter().all(|x| x.is_finite()) {
            return Err(mlamp_core::Error::NonFinite {
                what: "singular values",
            }
            .into());
        }
        if s.iter().any(|&x| x < 0.0) {
            return Err(mlamp_core::Error::InvalidParameter {
                name: "s",
                requirement: "non-negative",
            }
            .into());
        }
        let tol = n_out.max(n_in) as f64 * f64::EPSILON * s.iter().fold(0.0_f64, |m, &x| m.max(x));
        let nonzero: Vec<f64> = s.iter().copied().filter(|&x| x > tol).collect();
        Ok(Self::equal_atoms(&nonzero, n_out, n_in))
    }

    /// The Marchenko–Pastur law of an `n_out × n_in` matrix `W` of iid `N(0, 1/n_in)` entries
    /// (the project's scaling: pre-activations keep the second moment of the input), as an
    /// `nodes`-point Gauss quadrature of the nonzero part; `r = min(n_out, n_in)`.
    ///
    /// # The law (`β = n_out / n_in`)
    /// `W Wᵀ = X Xᵀ / n_in` with `X` an `n_out × n_in` standard Gaussian matrix, so by the
    /// Marchenko–Pastur theorem (ratio `β`, variance 1) the eigenvalues `λ = s²` of the
    /// `n_out × n_out` matrix `W Wᵀ` have the limiting law
    /// `(1 − 1/β)₊ δ_0 + ρ_β(λ) dλ`, `ρ_β(λ) = √((λ₊ − λ)(λ − λ₋)) / (2π β λ)` on
    /// `[λ₋, λ₊] = [(1 − √β)², (1 + √β)²]`, whose mass is `min(1, 1/β)`. For `β ≤ 1` the
    /// `r = n_out` eigenvalues are all nonzero with law `ρ_β`; for `β > 1` there are
    /// `n_out − n_in` zeros and the `r = n_in` nonzero ones have law `β ρ_β` (equivalently,
    /// `WᵀW = β · XᵀX / n_out` is `β` times a Marchenko–Pastur matrix of ratio `1/β < 1`). The
    /// normalised law of the nonzero `λ` is therefore, for every `β`,
    ///
    /// `ρ(λ) = √((λ₊ − λ)(λ − λ₋)) / (2π min(1, β) λ)` on `[λ₋, λ₊]`,
    ///
    /// with mean `n_out / r = max(1, β)` (so `E_in s² = nonzero_in · max(1, β) = β`, i.e.
    /// `tr(WᵀW)/n_in = n_out/n_in`) and variance `β`. Of `s = √λ` it is `2s ρ(s²) ds`; at
    /// `β = 1` (`λ₋ = 0`, `ρ(λ) = √(4 − λ)/(2π √λ)`) that is the quarter circle
    /// `√(4 − s²)/π` on `[0, 2]`.
    ///
    /// # The quadrature
    /// Rather than a fixed rule in a substituted variable (whose convergence degrades without
    /// bound as `β → 1`, where `ρ` grows a `1/√λ` spike of width `λ₋ = (1 − √β)²`), the atoms
    /// are the Gauss rule of `ρ` itself, from its Jacobi matrix (Golub–Welsch): the nodes
    /// `λ_k` are the eigenvalues of the symmetric tridiagonal `J` with diagonal
    /// `(max(1, β), 1 + β, 1 + β, …)` and off-diagonal `√β`, the weights the squared first
    /// components of its unit eigenvectors, and `s_k = √λ_k`. That is the recurrence
    /// `λ p_n = p_{n+1} + a_n p_n + b_n p_{n−1}` with `a_0 = max(1, β)`, `a_n = 1 + β`,
    /// `b_n = β` (`n ≥ 1`): for `β ≤ 1` the constant tail `T = 1/(z − 1 − β − βT)` gives
    /// `S = 1/(z − 1 − βT) = T/(1 + βT)`, which solves `βz S² − (z + β − 1) S + 1 = 0`, the
    /// equation of the Marchenko–Pastur Stieltjes transform `S(z) = ∫ ρ(λ)/(z − λ) dλ`; for
    /// `β > 1` scaling a law of ratio `1/β` by `β` multiplies the `a_n` by `β` and the `b_n`
    /// by `β²`. The rule is exact for polynomials in `λ = s²` of degree `≤ 2·nodes − 1`
    /// whatever `β` (the spike is in the weight), so it converges geometrically for every `f`
    /// analytic in `λ` around `[λ₋, λ₊]` (e.g. `(a + b s²)⁻¹`). The state evolution only
    /// averages such functions: `W = U diag(s) Vᵀ` is unchanged by `(u_i, s_i) → (−u_i, −s_i)`,
    /// so its functionals of a rotationally invariant `W` are even in `s`. A function analytic
    /// in `s` but not in `s²` (odd in `s`) is still analytic in `λ` for `β ≠ 1`; at `β = 1` it
    /// has a `√λ` branch point at the end `λ₋ = 0` and converges only like `nodes⁻²` (`E s`:
    /// error 6.5e-6 at 200 nodes, see the tests).
    ///
    /// The fractions (`r/n_in`, `r/n_out`) are those of the given sizes; the law of the
    /// nonzero singular values is the large-size limit at the ratio `β`.
    ///
    /// Errors (in [`Error::Core`]): `InvalidParameter` if `n_out`, `n_in` or `nodes` is zero;
    /// [`Error::Invalid`] if the eigendecomposition does not converge.
    pub fn marchenko_pastur(n_out: usize, n_in: usize, nodes: usize) -> Result<Self, Error> {
        check_sizes(n_out, n_in)?;
        if nodes == 0 {
            return Err(mlamp_core::Error::InvalidParameter {
                name: "nodes",
                requirement: "at least 1",
            }
            .into());
        }
        let beta = n_out as f64 / n_in as f64;
        let off = beta.sqrt();
        let mut j = Mat::<f64>::zeros(nodes, nodes);
        for k in 0..nodes {
            j[(k, k)] = if k == 0 { beta.max(1.0) } else { 1.0 + beta };
            if k + 1 < nodes {
                j[(k, k + 1)] = off;
                j[(k + 1, k)] = off;
            }
        }
        let mut lambda = Diag::<f64>::zeros(nodes);
        let mut vectors = Mat::<f64>::zeros(nodes, nodes);
        let mut mem = MemBuffer::new(self_adjoint_evd_scratch::<f64>(
            nodes,
            ComputeEigenvectors::Yes,
            PAR,
            Default::default(),
        ));
        self_adjoint_evd(
            j.as_ref(),
            lambda.as_mut(),
            Some(vectors.as_mut()),
            PAR,
            MemStack::new(&mut mem),
            Default::default(),
        )
        .map_err(|_| {
            Error::invalid(
                "marchenko_pastur",
                "the eigendecomposition of the Jacobi matrix did not converge",
            )
        })?;
        let weights: Vec<f64> = (0..nodes).map(|k| vectors[(0, k)].powi(2)).collect();
        let total: f64 = weights.iter().sum();
        let atoms = lambda
            .column_vector()
            .iter()
            .zip(&weights)
            .map(|(&l, &w)| Atom {
                // Gauss nodes are inside (λ₋, λ₊); the clamp only guards rounding at β = 1.
                s: l.max(0.0).sqrt(),
                weight: w / total,
            })
            .collect();
        Ok(Self {
            n_out,
            n_in,
            rank: n_out.min(n_in),
            atoms,
        })
    }

    /// The law of the `spectrum` weights of model files (rows × cols, condition number `κ`):
    /// their singular values are deterministic given `(rows, cols, κ)`, so the law is the
    /// `r = min(rows, cols)` atoms `s_i = c κ^{−i/(r−1)}` of [`spectrum_singular_values`]
    /// (`Σ s_i² = rows`), each of weight `1/r`, with `n_out = rows`, `n_in = cols`. All `r`
    /// count as nonzero, however large `κ`.
    ///
    /// Errors: those of [`spectrum_singular_values`] (`κ` not finite and `≥ 1`, a zero size).
    pub fn from_svd_spectrum(
        rows: usize,
        cols: usize,
        condition_number: f64,
    ) -> Result<Self, Error> {
        let s = spectrum_singular_values(rows, cols, condition_number)?;
        Ok(Self::equal_atoms(&s, rows, cols))
    }

    /// `n_out`: the rows of `W`.
    pub fn n_out(&self) -> usize {
        self.n_out
    }

    /// `n_in`: the columns of `W`.
    pub fn n_in(&self) -> usize {
        self.n_in
    }

    /// `r`: the number of nonzero singular values.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The atoms `(s_k, w_k)` of the normalised law of the nonzero singular values
    /// (`Σ w_k = 1`; empty iff `r = 0`).
    pub fn atoms(&self) -> &[Atom] {
        &self.atoms
    }

    /// `nonzero_in = r / n_in`: the fraction of input directions with a nonzero singular
    /// value.
    pub fn nonzero_in(&self) -> f64 {
        self.rank as f64 / self.n_in as f64
    }

    /// `null_in = 1 − r / n_in`: the fraction of input directions in the kernel of `W`.
    pub fn null_in(&self) -> f64 {
        (self.n_in - self.rank) as f64 / self.n_in as f64
    }

    /// `nonzero_out = r / n_out`: the fraction of output directions with a nonzero singular
    /// value.
    pub fn nonzero_out(&self) -> f64 {
        self.rank as f64 / self.n_out as f64
    }

    /// `null_out = 1 − r / n_out`: the fraction of output directions orthogonal to the range
    /// of `W`.
    pub fn null_out(&self) -> f64 {
        (self.n_out - self.rank) as f64 / self.n_out as f64
    }

    /// `Σ_k w_k f(s_k)`: the average of `f` over the nonzero singular values (`f` may be
    /// matrix-valued, e.g. an `nalgebra` matrix). `None` iff `r = 0`.
    pub fn expect_nonzero<A>(&self, mut f: impl FnMut(f64) -> A) -> Option<A>
    where
        A: Add<Output = A> + Mul<f64, Output = A>,
    {
        let mut atoms = self.atoms.iter();
        let first = atoms.next()?;
        Some(atoms.fold(f(first.s) * first.weight, |acc, a| acc + f(a.s) * a.weight))
    }

    /// `p_null · f_null + p_nonzero · Σ_k w_k f(s_k)`, each term left out when its fraction is
    /// 0 (so an `f_null` that only makes sense when null directions exist is never
    /// multiplied by 0).
    fn average<A>(&self, p_null: f64, p_nonzero: f64, f_null: A, f: impl FnMut(f64) -> A) -> A
    where
        A: Add<Output = A> + Mul<f64, Output = A>,
    {
        let nonzero = self.expect_nonzero(f).map(|e| e * p_nonzero);
        match nonzero {
            Some(e) if p_null > 0.0 => f_null * p_null + e,
            Some(e) => e,
            None => f_null * p_null,
        }
    }

    /// The average of `f` over the `n_in` input directions:
    /// `null_in · f_null + nonzero_in · Σ_k w_k f(s_k)`, `f_null` being the value on the
    /// kernel of `W` (e.g. `f(0)`, or what the layer does without a singular value).
    pub fn average_in<A>(&self, f_null: A, f: impl FnMut(f64) -> A) -> A
    where
        A: Add<Output = A> + Mul<f64, Output = A>,
    {
        self.average(self.null_in(), self.nonzero_in(), f_null, f)
    }

    /// The average of `f` over the `n_out` output directions:
    /// `null_out · f_null + nonzero_out · Σ_k w_k f(s_k)`, `f_null` being the value on the
    /// directions outside the range of `W`.
    pub fn average_out<A>(&self, f_null: A, f: impl FnMut(f64) -> A) -> A
    where
        A: Add<Output = A> + Mul<f64, Output = A>,
    {
        self.average(self.null_out(), self.nonzero_out(), f_null, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::ensembles::spectrum;
    use crate::linalg::svd::Svd;
    use crate::streams::{normal, stream};

    /// `∫ ρ_y(λ)/(t + λ) dλ` for the full Marchenko–Pastur law of ratio `y` (atom at 0
    /// included), from the root of `y z m² + (z + y − 1) m + 1 = 0` at `z = −t` that decays
    /// like `1/t`, rationalised: `2 / (t + 1 − y + √((t + 1 + y)² − 4y))`.
    fn mp_stieltjes(y: f64, t: f64) -> f64 {
        2.0 / (t + 1.0 - y + ((t + 1.0 + y).powi(2) - 4.0 * y).sqrt())
    }

    /// `∫ ρ(λ) f(√λ) dλ` for the normalised nonzero law of ratio `beta` straight from its
    /// density: `λ = c + h cos θ` (`c = 1 + β`, `h = 2√β`) turns it into
    /// `∫₀^π (λ₊ − λ)(λ − λ₋)/(2π min(1, β) λ) f dθ`, a smooth periodic integrand for
    /// `β ≠ 1`, summed by the midpoint rule with `n` points.
    fn density_integral(beta: f64, n: usize, f: impl Fn(f64) -> f64) -> f64 {
        let (c, h) = (1.0 + beta, 2.0 * beta.sqrt());
        let (lo, hi) = (c - h, c + h);
        (0..n)
            .map(|k| {
                let l = c + h * ((k as f64 + 0.5) * std::f64::consts::PI / n as f64).cos();
                (hi - l) * (l - lo) / (2.0 * beta.min(1.0) * l) * f(l.sqrt())
            })
            .sum::<f64>()
            / n as f64
    }

    /// `(n_out, n_in)` for β = 1, 3 and 0.25.
    const SHAPES: [(usize, usize); 3] = [(200, 200), (300, 100), (50, 200)];

    #[test]
    fn mp_weights_sum_to_one_and_nodes_lie_in_the_support() {
        for (n_out, n_in) in SHAPES {
            let law = SpectralLaw::marchenko_pastur(n_out, n_in, 30).unwrap();
            let beta = n_out as f64 / n_in as f64;
            let total: f64 = law.atoms().iter().map(|a| a.weight).sum();
            assert!((total - 1.0).abs() < 1e-14);
            assert!(law.atoms().iter().all(|a| a.weight > 0.0
                && a.s >= (1.0 - beta.sqrt()).abs()
                && a.s <= 1.0 + beta.sqrt()));
            assert_eq!(law.rank(), n_out.min(n_in));
        }
    }

    #[test]
    fn mp_moments_match_the_closed_forms() {
        // tr(WᵀW) = tr(WWᵀ) → n_out; tr((WWᵀ)²)/n_out → 1 + β.
        for (n_out, n_in) in SHAPES {
            let beta = n_out as f64 / n_in as f64;
            let law = SpectralLaw::marchenko_pastur(n_out, n_in, 8).unwrap();
            let checks = [
                (law.average_in(0.0, |s| s * s), beta),
                (law.average_out(0.0, |s| s * s), 1.0),
                (law.average_in(0.0, |s| s.powi(4)), beta * (1.0 + beta)),
                (law.average_out(0.0, |s| s.powi(4)), 1.0 + beta),
            ];
            for (k, (got, want)) in checks.into_iter().enumerate() {
                assert!(
                    (got - want).abs() <= 1e-13 * want,
                    "β = {beta}, {k}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn mp_resolvent_matches_the_stieltjes_transform() {
        for (n_out, n_in) in SHAPES {
            let beta = n_out as f64 / n_in as f64;
            let law = SpectralLaw::marchenko_pastur(n_out, n_in, 40).unwrap();
            for t in [1.0, 0.3, 3.0] {
                let out = law.average_out(1.0 / t, |s| 1.0 / (t + s * s));
                let inp = law.average_in(1.0 / t, |s| 1.0 / (t + s * s));
                let e_out = (out - mp_stieltjes(beta, t)).abs();
                let e_in = (inp - mp_stieltjes(1.0 / beta, t / beta) / beta).abs();
                assert!(
                    e_out < 1e-12 && e_in < 1e-12,
                    "β = {beta}, t = {t}: {e_out:e} {e_in:e}"
                );
            }
        }
    }

    #[test]
    fn mp_resolvent_converges_geometrically_even_at_beta_one() {
        // E 1/(1 + s²) and, harder, E 1/(0.01 + s²) at β = 1, whose pole sits 0.01 from
        // the end λ₋ = 0 where ρ ~ 1/√λ.
        for (t, nodes, tol) in [(1.0, 10, 1e-6), (1.0, 20, 1e-14), (0.01, 200, 1e-11)] {
            let law = SpectralLaw::marchenko_pastur(100, 100, nodes).unwrap();
            let got = law.expect_nonzero(|s| 1.0 / (t + s * s)).unwrap();
            let e = (got - mp_stieltjes(1.0, t)).abs();
            assert!(e < tol, "t = {t}, {nodes} nodes: {e:e}");
        }
        // Near β = 1 (λ₋ = 2.5e-5) the same rule is as good.
        let law = SpectralLaw::marchenko_pastur(1010, 1000, 20).unwrap();
        let e = (law.average_out(1.0, |s| 1.0 / (1.0 + s * s)) - mp_stieltjes(1.01, 1.0)).abs();
        assert!(e < 1e-14, "β = 1.01: {e:e}");
    }

    #[test]
    fn mp_odd_functions_of_s() {
        // β ≠ 1: √λ is analytic on the support; against the density's own quadrature.
        for (n_out, n_in) in [(300, 100), (50, 200)] {
            let beta = n_out as f64 / n_in as f64;
            let law = SpectralLaw::marchenko_pastur(n_out, n_in, 40).unwrap();
            let fs: [fn(f64) -> f64; 3] = [|s| s, |s| s.powi(3), |s| (-s).exp()];
            for f in fs {
                let got = law.expect_nonzero(f).unwrap();
                let want = density_integral(beta, 4000, f);
                assert!((got - want).abs() < 1e-13, "β = {beta}: {got} vs {want}");
            }
        }
        // β = 1: E s over the quarter circle √(4 − s²)/π is 8/(3π); algebraic convergence.
        let want = 8.0 / (3.0 * std::f64::consts::PI);
        let errors: Vec<f64> = [25, 50, 100, 200]
            .iter()
            .map(|&n| {
                let law = SpectralLaw::marchenko_pastur(10, 10, n).unwrap();
                (law.expect_nonzero(|s| s).unwrap() - want).abs()
            })
            .collect();
        // Measured: 4.0e-4, 1.0e-4, 2.6e-5, 6.5e-6, i.e. O(nodes⁻²).
        assert!(errors.windows(2).all(|p| p[1] < p[0] / 3.5), "{errors:?}");
        assert!(errors[3] < 1e-5, "{errors:?}");
    }

    #[test]
    fn empirical_law_of_a_gaussian_matrix_is_close_to_mp() {
        let (n_out, n_in) = (400, 200);
        let mut rng = stream(7, 1);
        let scale = 1.0 / (n_in as f64).sqrt();
        let w: Vec<f64> = (0..n_out * n_in)
            .map(|_| scale * normal(&mut rng))
            .collect();
        let svd = Svd::decompose(&w, n_out, n_in).unwrap();
        let emp = SpectralLaw::empirical(svd.singular_values(), n_out, n_in).unwrap();
        let mp = SpectralLaw::marchenko_pastur(n_out, n_in, 40).unwrap();
        assert_eq!(emp.rank(), 200);
        let f = |s: f64| 1.0 / (1.0 + s * s);
        let e = (emp.expect_nonzero(f).unwrap() - mp.expect_nonzero(f).unwrap()).abs();
        // Measured: 2.3e-5 (0.414191 against √2 − 1, the value at β = 2).
        assert!(e < 1e-3, "{e:e}");
        let e_out = (emp.average_out(1.0, f) - mp_stieltjes(2.0, 1.0)).abs();
        assert!(e_out < 1e-3, "{e_out:e}");
    }

    #[test]
    fn empirical_counts_tiny_and_missing_singular_values_as_null() {
        let law = SpectralLaw::empirical(&[2.0, 1.0, 0.0, 1e-20], 5, 4).unwrap();
        assert_eq!(law.rank(), 2);
        assert_eq!(
            law.atoms(),
            &[
                Atom {
                    s: 2.0,
                    weight: 0.5
                },
                Atom {
                    s: 1.0,
                    weight: 0.5
                }
            ]
        );
        assert_eq!((law.nonzero_in(), law.null_in()), (0.5, 0.5));
        assert_eq!((law.nonzero_out(), law.null_out()), (0.4, 0.6));
        // On the input side: ½ f_null + ½ (f(2) + f(1))/2.
        assert_eq!(law.average_in(10.0, |s| s), 0.5 * 10.0 + 0.5 * 1.5);
        let thin = SpectralLaw::empirical(&[3.0], 2, 3).unwrap();
        assert_eq!((thin.rank(), thin.null_out()), (1, 0.5));
        let zero = SpectralLaw::empirical(&[0.0, 0.0], 2, 3).unwrap();
        assert_eq!(zero.expect_nonzero(|s| s), None);
        assert_eq!(zero.average_out(4.0, |s| s), 4.0);
    }

    #[test]
    fn averages_take_matrix_values() {
        let law = SpectralLaw::empirical(&[1.0, 2.0], 2, 4).unwrap();
        let m = law.average_in(nalgebra::Matrix2::identity(), |s| {
            nalgebra::Matrix2::new(s, 0.0, 0.0, s * s)
        });
        assert_eq!(m, nalgebra::Matrix2::new(0.5 + 0.75, 0.0, 0.0, 0.5 + 1.25));
    }

    #[test]
    fn spectrum_law_is_the_spectrum_weights_singular_values() {
        for (rows, cols, kappa) in [(120, 80, 5.0), (40, 90, 1.0), (1, 7, 3.0)] {
            let law = SpectralLaw::from_svd_spectrum(rows, cols, kappa).unwrap();
            let svd = spectrum(rows, cols, kappa, &mut stream(3, 1)).unwrap();
            let s: Vec<f64> = law.atoms().iter().map(|a| a.s).collect();
            assert_eq!(s, svd.singular_values());
            // Σ s_i² = r · E s² = rows.
            let total = law.rank() as f64 * law.expect_nonzero(|s| s * s).unwrap();
            assert!((total - rows as f64).abs() < 1e-12 * rows as f64);
            assert_eq!(law.average_in(0.0, |s| s * s) * cols as f64, total);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let core = |r: Result<SpectralLaw, Error>| matches!(r, Err(Error::Core(_)));
        assert!(core(SpectralLaw::marchenko_pastur(0, 3, 5)));
        assert!(core(SpectralLaw::marchenko_pastur(3, 0, 5)));
        assert!(core(SpectralLaw::marchenko_pastur(3, 3, 0)));
        assert!(core(SpectralLaw::empirical(&[1.0], 0, 3)));
        assert!(core(SpectralLaw::empirical(&[1.0, f64::NAN], 3, 3)));
        assert!(core(SpectralLaw::empirical(&[f64::INFINITY], 3, 3)));
        assert!(core(SpectralLaw::empirical(&[1.0, -1.0], 3, 3)));
        assert!(core(SpectralLaw::empirical(&[1.0, 1.0, 1.0], 2, 3)));
        for kappa in [0.5, f64::NAN, f64::INFINITY] {
            assert!(core(SpectralLaw::from_svd_spectrum(4, 3, kappa)));
        }
        assert!(core(SpectralLaw::from_svd_spectrum(0, 3, 2.0)));
    }
}
