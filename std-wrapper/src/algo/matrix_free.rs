//! ML-Mat-VAMP's linear step without the singular vectors: conjugate gradients on the normal
//! equations, warm-started from the previous solution, and the Jacobians from the singular
//! values alone.
//!
//! # The solve (derived)
//!
//! The linear layer's estimate (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix
//! inference and estimation in multi-layer models*, eq. 15 in the SVD's basis; see
//! [`LinearEstimator`]) is the minimiser `X` (`cols × D`) of
//!
//! `½‖W X − R_out‖²_M + ½‖X − R_in‖²_{Γ_in}` (`‖A‖²_Γ = tr(A Γ Aᵀ)`, `M` the output message's
//! precision on `W z_in`, [`LayerNoise::output_precision`]),
//!
//! i.e. `WᵀW X M + X Γ_in = Wᵀ R_out M + R_in Γ_in`. With `Γ_in = L Lᵀ` (Cholesky) and
//! `L⁻¹ M L⁻ᵀ = Q Λ Qᵀ` (symmetric, `Λ = diag(λ_k) ≻ 0`), put `P = L Q` and `T = L⁻ᵀ Q`
//! (`Pᵀ T = I`, so `P⁻¹ = Tᵀ`), and `Y = X P`: right-multiplying the equation by `T` gives
//! `WᵀW Y Λ + Y = Wᵀ (R_out P) Λ + R_in P` (`M T = L Q Λ = P Λ`, `Γ_in T = P`), so each column
//! `y_k` of `Y` solves its own symmetric positive definite system
//!
//! `(λ_k WᵀW + I) y_k = λ_k Wᵀ ρ_out,k + ρ_in,k`, `ρ_out = R_out P`, `ρ_in = R_in P`:
//!
//! `D` independent scalar conjugate-gradient runs, each product one `W p` and one `Wᵀ q` in
//! one pass over `W` ([`FastDense::apply_gram`]: the bits do not depend on the thread
//! count). Each run
//! starts from the previous call's solution (`Y₀ = X_prev P`, `X_prev` kept in the
//! workspace), and
//! stops when its residual is below `tol` times its right-hand side (Euclidean norms) or
//! below `forcing` times its warm start's residual, whichever is larger (an inexact solve
//! while the messages still move, as inexact Newton methods force theirs; as the iteration
//! settles, the warm start's residual shrinks with the messages' change and each solve
//! reaches `tol`, so the fixed point is the exact solve's), an error after `max_iter` products (never a silent inexact answer); then `X = Y Tᵀ`. The
//! forward estimate is `Ẑ_out = W X = (W Y) Tᵀ` (`W Y` kept along the iteration by the same
//! recurrence as `Y`), or
//! `(N + Γ_out)⁻¹ (N W x + Γ_out r_out)` row by row with noise `N`; the backward one is `X`.
//!
//! # The Jacobians (exact, from the singular values)
//!
//! The SVD path averages `(s² M + Γ_in)⁻¹ Γ_in` over the `cols` input directions and
//! `s² (s² M + Γ_in)⁻¹ M` over the `rows` output directions (`s = 0` outside the rank; see
//! [`LayerNoise::direction_gains`]). In the basis above `(s² M + Γ_in)⁻¹ = T (s² Λ + I)⁻¹ Tᵀ`
//! and `Tᵀ Γ_in = Pᵀ`, `Tᵀ M = Λ Pᵀ`, so with the spectral sums
//!
//! `φ(λ) = Σ_i λ s_i² / (1 + λ s_i²)` (over the singular values of `W`),
//!
//! - backward: `⟨∂ẑ_in/∂r_in⟩ = I − T diag(φ(λ_k)) Pᵀ / cols`,
//! - forward: `⟨∂ẑ_out/∂r_out⟩ = T diag(φ(λ_k)) Pᵀ / rows` without noise, and
//!   `(N + Γ_out)⁻¹ (N T diag(φ(λ_k)) Pᵀ + rows Γ_out) / rows` with noise `N`.
//!
//! They depend on `W` only through its singular values, computed once without vectors
//! ([`crate::linalg::singular_values`]: a Gram matrix's eigenvalues, a quarter of the SVD's
//! time at n = 2000 and no factors kept),
//! or taken from the generating factors of `spectrum` weights. So the Jacobians equal the SVD
//! path's up to the rounding of the sums, and the fixed point equals the SVD path's up to the
//! solves' tolerance (`tests/ml_vamp_matrix_free.rs`). No stochastic trace estimate: it
//! could not give the 1e-8 agreement.

use std::sync::atomic::{AtomicUsize, Ordering};

use mlamp_core::mat::{Message, Precision, symmetric_eigen};
use mlamp_core::ml_vamp::{LayerNoise, LinearEstimator};
use mlamp_core::operator::WeightOperator;
use nalgebra::{SMatrix, SVector};

use crate::linalg::dense::FastDense;

/// The default relative residual at which a conjugate-gradient run stops.
pub const DEFAULT_TOLERANCE: f64 = 1e-12;

/// The default forcing factor: a run also stops once its residual is this fraction of its
/// warm start's (module docs).
pub const DEFAULT_FORCING: f64 = 0.1;

/// The default cap on the products of one conjugate-gradient run.
pub const DEFAULT_MAX_ITER: usize = 5000;

/// `φ(λ) = Σ_i λ s_i² / (1 + λ s_i²)` over the squared singular values `s2`, summed in their
/// order (see the module docs): `tr(λ WᵀW (I + λ WᵀW)⁻¹)`.
pub fn spectral_sum(s2: &[f64], lambda: f64) -> f64 {
    s2.iter()
        .map(|&s| {
            let t = lambda * s;
            t / (1.0 + t)
        })
        .sum()
}

/// The basis that splits the solve into `D` scalar ones (module docs): `λ_k`, `P = L Q` and
/// `T = L⁻ᵀ Q`.
#[derive(Clone, Copy, Debug)]
struct Basis<const D: usize> {
    lambda: SVector<f64, D>,
    p: SMatrix<f64, D, D>,
    t: SMatrix<f64, D, D>,
}

impl<const D: usize> Basis<D> {
    fn new(
        gamma_in: &Precision<f64, D>,
        m: &SMatrix<f64, D, D>,
    ) -> Result<Self, mlamp_core::Error> {
        let l = gamma_in.cholesky_factor();
        let singular = mlamp_core::Error::NotPositiveDefinite {
            what: "input precision Γ_in",
        };
        let lm = l.solve_lower_triangular(m).ok_or(singular)?;
        let a = l.solve_lower_triangular(&lm.transpose()).ok_or(singular)?;
        let (lambda, q) = symmetric_eigen(&a);
        if !lambda.iter().all(|v| v.is_finite()) {
            return Err(mlamp_core::Error::NonFinite {
                what: "output precision of the linear layer",
            });
        }
        // M ≻ 0, so λ > 0 in exact arithmetic; a rounded negative one is the limit 0.
        let lambda = lambda.map(|v| v.max(0.0));
        let t = l.transpose().solve_upper_triangular(&q).ok_or(singular)?;
        Ok(Self {
            lambda,
            p: l * q,
            t,
        })
    }

    /// `T diag(φ(λ_k)) Pᵀ`.
    fn traced(&self, s2: &[f64]) -> SMatrix<f64, D, D> {
        let phi = SMatrix::<f64, D, D>::from_diagonal(&self.lambda.map(|l| spectral_sum(s2, l)));
        self.t * phi * self.p.transpose()
    }
}

/// Counts of the conjugate-gradient runs of one layer (all calls so far).
#[derive(Debug, Default)]
pub struct CgCounts {
    runs: AtomicUsize,
    products: AtomicUsize,
    most: AtomicUsize,
}

impl CgCounts {
    /// `(runs, products, most products in one run)`; a product is one `W p` with its `Wᵀ q`.
    pub fn get(&self) -> (usize, usize, usize) {
        (
            self.runs.load(Ordering::Relaxed),
            self.products.load(Ordering::Relaxed),
            self.most.load(Ordering::Relaxed),
        )
    }

    fn add(&self, products: usize) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.products.fetch_add(products, Ordering::Relaxed);
        self.most.fetch_max(products, Ordering::Relaxed);
    }
}

/// The matrix-free [`LinearEstimator`] of a dense `W` (row-major `rows × cols`, borrowed) with
/// its singular values (see the module docs). Its workspace holds `X` (`cols × D`, the warm
/// start) and the vectors of one conjugate-gradient run: `D·cols + 5 cols + 2 rows` entries.
pub struct MatrixFreeLinear<'a, const D: usize> {
    w: FastDense<'a, f64>,
    s2: Vec<f64>,
    noise: LayerNoise<f64, D>,
    tol: f64,
    forcing: f64,
    max_iter: usize,
    counts: CgCounts,
}

impl<'a, const D: usize> MatrixFreeLinear<'a, D> {
    /// The layer `z_out = W z_in + ξ` with `W` (row-major `rows × cols`) and its squared
    /// singular values `s2` (`≤ min(rows, cols)` of them; the others are zero), default
    /// tolerance, forcing and cap.
    ///
    /// Errors: a wrong length or a non-finite entry of `w`; more than `min(rows, cols)`
    /// values or a negative or non-finite one.
    pub fn new(
        w: &'a [f64],
        rows: usize,
        cols: usize,
        s2: &[f64],
        noise: LayerNoise<f64, D>,
    ) -> Result<Self, crate::error::Error> {
        if !w.iter().all(|x| x.is_finite()) {
            return Err(mlamp_core::Error::NonFinite {
                what: "weight matrix",
            }
            .into());
        }
        if s2.len() > rows.min(cols) {
            return Err(mlamp_core::Error::ShapeMismatch {
                what: "squared singular values",
                expected: rows.min(cols),
                found: s2.len(),
            }
            .into());
        }
        for &v in s2 {
            mlamp_core::error::non_negative("squared singular value", v)?;
        }
        Ok(Self {
            w: FastDense::new(w, rows, cols)?,
            s2: s2.to_vec(),
            noise,
            tol: DEFAULT_TOLERANCE,
            forcing: DEFAULT_FORCING,
            max_iter: DEFAULT_MAX_ITER,
            counts: CgCounts::default(),
        })
    }

    /// The same with another relative tolerance (in `(0, 1)`), forcing factor (in `[0, 1)`;
    /// 0: every run to the tolerance) and cap (`≥ 1`) of each run.
    ///
    /// Errors: [`crate::error::Error::Invalid`] naming the bad one.
    pub fn with_tolerance(
        self,
        tol: f64,
        forcing: f64,
        max_iter: usize,
    ) -> Result<Self, crate::error::Error> {
        if !(tol > 0.0 && tol < 1.0) {
            return Err(crate::error::Error::invalid(
                "cg tolerance",
                "must be in (0, 1)",
            ));
        }
        if !(0.0..1.0).contains(&forcing) {
            return Err(crate::error::Error::invalid(
                "cg forcing",
                "must be in [0, 1)",
            ));
        }
        if max_iter == 0 {
            return Err(crate::error::Error::invalid(
                "cg iterations",
                "must be at least 1",
            ));
        }
        Ok(Self {
            tol,
            forcing,
            max_iter,
            ..self
        })
    }

    /// The conjugate-gradient counts so far.
    pub fn counts(&self) -> &CgCounts {
        &self.counts
    }

    /// Solves for `X` (into the workspace's first `cols × D`), warm-started from what is
    /// there; with `wx = Some(z)`, also writes `W Y` (`rows × D`, `Y = X P`) into `z`.
    fn solve(
        &self,
        output: Message<'_, f64, D>,
        input: Message<'_, f64, D>,
        work: &mut [f64],
        mut wx: Option<&mut [f64]>,
    ) -> Result<Basis<D>, mlamp_core::Error> {
        let (rows, cols) = (self.w.rows(), self.w.cols());
        let m = self.noise.output_precision(output.gamma);
        let basis = Basis::new(input.gamma, &m)?;
        let (x, rest) = work.split_at_mut(cols * D);
        let (y, rest) = rest.split_at_mut(cols);
        let (r, rest) = rest.split_at_mut(cols);
        let (p, rest) = rest.split_at_mut(cols);
        let (ap, rest) = rest.split_at_mut(cols);
        let (b, rest) = rest.split_at_mut(cols);
        let (wy, rest) = rest.split_at_mut(rows);
        let (q, _) = rest.split_at_mut(rows);
        // Y₀ = X_prev P, row by row (row i of X P is Pᵀ x_i).
        let pt = basis.p.transpose();
        for row in x.chunks_exact_mut(D) {
            let v = pt * SVector::<f64, D>::from_column_slice(row);
            row.copy_from_slice(v.as_slice());
        }
        for k in 0..D {
            let lambda = basis.lambda[k];
            let pk = basis.p.column(k);
            // b = λ Wᵀ (R_out P)_k + (R_in P)_k.
            for (i, qi) in q.iter_mut().enumerate() {
                *qi = (0..D).map(|j| output.r[i * D + j] * pk[j]).sum();
            }
            self.w.apply_t(q, b);
            for (j, bj) in b.iter_mut().enumerate() {
                let rin: f64 = (0..D).map(|l| input.r[j * D + l] * pk[l]).sum();
                *bj = lambda * *bj + rin;
            }
            for (j, yj) in y.iter_mut().enumerate() {
                *yj = x[j * D + k];
            }
            let products = self.run(lambda, b, y, r, p, ap, wy, q)?;
            self.counts.add(products);
            for (j, yj) in y.iter().enumerate() {
                x[j * D + k] = *yj;
            }
            if let Some(z) = wx.as_deref_mut() {
                for (i, v) in wy.iter().enumerate() {
                    z[i * D + k] = *v;
                }
            }
        }
        // X = Y Tᵀ: row i is T y_i.
        for row in x.chunks_exact_mut(D) {
            let v = basis.t * SVector::<f64, D>::from_column_slice(row);
            row.copy_from_slice(v.as_slice());
        }
        Ok(basis)
    }

    /// One conjugate-gradient run on `(λ WᵀW + I) y = b` from `y`, keeping `wy = W y`;
    /// returns the products it took.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        lambda: f64,
        b: &[f64],
        y: &mut [f64],
        r: &mut [f64],
        p: &mut [f64],
        ap: &mut [f64],
        wy: &mut [f64],
        q: &mut [f64],
    ) -> Result<usize, mlamp_core::Error> {
        let dot = |a: &[f64], c: &[f64]| a.iter().zip(c).map(|(u, v)| u * v).sum::<f64>();
        // r = b − (λ WᵀW y + y), and W y.
        self.w.apply_gram(y, wy, ap);
        for j in 0..r.len() {
            r[j] = b[j] - (lambda * ap[j] + y[j]);
        }
        let mut rr = dot(r, r);
        let goal = (self.tol * self.tol * dot(b, b)).max(self.forcing * self.forcing * rr);
        let mut products = 1;
        if rr <= goal {
            return Ok(products);
        }
        p.copy_from_slice(r);
        while products <= self.max_iter {
            self.w.apply_gram(p, q, ap);
            products += 1;
            for (a, &pj) in ap.iter_mut().zip(p.iter()) {
                *a = lambda * *a + pj;
            }
            let pap = dot(p, ap);
            if !(pap > 0.0 && pap.is_finite() && rr.is_finite()) {
                return Err(mlamp_core::Error::NonFinite {
                    what: "the linear layer's conjugate-gradient step",
                });
            }
            let alpha = rr / pap;
            for (yj, &pj) in y.iter_mut().zip(p.iter()) {
                *yj += alpha * pj;
            }
            for (w, &qi) in wy.iter_mut().zip(q.iter()) {
                *w += alpha * qi;
            }
            for (rj, &aj) in r.iter_mut().zip(ap.iter()) {
                *rj -= alpha * aj;
            }
            let next = dot(r, r);
            if next <= goal {
                return Ok(products);
            }
            let beta = next / rr;
            rr = next;
            for (pj, &rj) in p.iter_mut().zip(r.iter()) {
                *pj = rj + beta * *pj;
            }
        }
        Err(mlamp_core::Error::Unsupported {
            field: "linear",
            reason: "the matrix-free solve did not reach its tolerance within its iteration cap \
                     (an ill-conditioned layer): use the SVD path (--linear svd)",
        })
    }
}

impl<const D: usize> LinearEstimator<f64, D> for MatrixFreeLinear<'_, D> {
    fn rows(&self) -> usize {
        self.w.rows()
    }

    fn cols(&self) -> usize {
        self.w.cols()
    }

    fn workspace_len(&self) -> usize {
        D * self.cols() + 5 * self.cols() + 2 * self.rows()
    }

    fn forward(
        &self,
        output: Message<'_, f64, D>,
        input: Message<'_, f64, D>,
        workspace: &mut [f64],
        z_out: &mut [f64],
    ) -> Result<SMatrix<f64, D, D>, mlamp_core::Error> {
        let basis = self.solve(output, input, workspace, Some(&mut *z_out))?;
        let rows = self.rows() as f64;
        let traced = basis.traced(&self.s2);
        // Ẑ_out = W X = (W Y) Tᵀ: row i is T (W Y)_i; with noise, (N + Γ_out)⁻¹ (N t + Γ_out r).
        let noisy = match &self.noise {
            LayerNoise::Noiseless => None,
            LayerNoise::Precision(n) => Some((n.add(output.gamma), *n.matrix())),
        };
        for (i, row) in z_out.chunks_exact_mut(D).enumerate() {
            let t = basis.t * SVector::<f64, D>::from_column_slice(row);
            let z = match &noisy {
                None => t,
                Some((sum, n)) => {
                    let a = SVector::<f64, D>::from_column_slice(&output.r[i * D..(i + 1) * D]);
                    sum.solve(&(n * t + output.gamma.matrix() * a))
                }
            };
            row.copy_from_slice(z.as_slice());
        }
        Ok(match &noisy {
            None => traced / rows,
            Some((sum, n)) => sum.solve_matrix(&(n * traced + output.gamma.matrix() * rows)) / rows,
        })
    }

    fn backward(
        &self,
        output: Message<'_, f64, D>,
        input: Message<'_, f64, D>,
        workspace: &mut [f64],
        z_in: &mut [f64],
    ) -> Result<SMatrix<f64, D, D>, mlamp_core::Error> {
        let basis = self.solve(output, input, workspace, None)?;
        z_in.copy_from_slice(&workspace[..self.cols() * D]);
        Ok(SMatrix::identity() - basis.traced(&self.s2) / self.cols() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::svd::Svd;
    use crate::streams::{normal, stream};
    use mlamp_core::ml_vamp::LinearLayer;

    fn gaussian(len: usize, seed: u64, scale: f64) -> Vec<f64> {
        let mut rng = stream(seed, 0);
        (0..len).map(|_| scale * normal(&mut rng)).collect()
    }

    /// A random symmetric positive definite `D × D` matrix `A Aᵀ + c I`.
    fn spd<const D: usize>(seed: u64, c: f64) -> Precision<f64, D> {
        let a = SMatrix::<f64, D, D>::from_column_slice(&gaussian(D * D, seed, 1.0));
        Precision::new(a * a.transpose() + SMatrix::identity() * c).unwrap()
    }

    fn max_rel(a: &[f64], b: &[f64]) -> f64 {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        a.iter()
            .zip(b)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs() / scale))
    }

    /// The matrix-free estimates and Jacobians against the SVD path's, on a wide, a tall and
    /// a square `W`, with and without noise, twice (the second call warm-started).
    fn against_svd<const D: usize>(rows: usize, cols: usize, noisy: bool, seed: u64) {
        let w = gaussian(rows * cols, seed, 1.0 / (cols as f64).sqrt());
        let svd = Svd::decompose(&w, rows, cols).unwrap();
        let noise = if noisy {
            LayerNoise::Precision(spd::<D>(seed + 1, 5.0))
        } else {
            LayerNoise::Noiseless
        };
        let reference = LinearLayer::<f64, D>::new(&svd, noise);
        let s2: Vec<f64> = svd.singular_values().iter().map(|s| s * s).collect();
        let free = MatrixFreeLinear::<D>::new(&w, rows, cols, &s2, noise)
            .unwrap()
            .with_tolerance(1e-14, 0.0, 500)
            .unwrap();
        let mut work_ref = vec![0.0; LinearEstimator::<f64, D>::workspace_len(&reference)];
        let mut work = vec![0.0; free.workspace_len()];
        for round in 0..2 {
            let s = seed + 10 * round;
            let (g_out, g_in) = (spd::<D>(s + 2, 0.5), spd::<D>(s + 3, 0.1));
            let r_out = gaussian(rows * D, s + 4, 1.0);
            let r_in = gaussian(cols * D, s + 5, 1.0);
            let (out, inp) = (Message::new(&r_out, &g_out), Message::new(&r_in, &g_in));
            let (mut z_ref, mut z) = (vec![0.0; rows * D], vec![0.0; rows * D]);
            let j_ref =
                LinearEstimator::forward(&reference, out, inp, &mut work_ref, &mut z_ref).unwrap();
            let j = free.forward(out, inp, &mut work, &mut z).unwrap();
            assert!(
                max_rel(&z, &z_ref) < 1e-9,
                "forward {}",
                max_rel(&z, &z_ref)
            );
            assert!(
                max_rel(j.as_slice(), j_ref.as_slice()) < 1e-12,
                "{j} vs {j_ref}"
            );
            let r_out = gaussian(rows * D, s + 6, 1.0);
            let out = Message::new(&r_out, &g_out);
            let (mut x_ref, mut x) = (vec![0.0; cols * D], vec![0.0; cols * D]);
            let j_ref =
                LinearEstimator::backward(&reference, out, inp, &mut work_ref, &mut x_ref).unwrap();
            let j = free.backward(out, inp, &mut work, &mut x).unwrap();
            assert!(
                max_rel(&x, &x_ref) < 1e-9,
                "backward {}",
                max_rel(&x, &x_ref)
            );
            assert!(
                max_rel(j.as_slice(), j_ref.as_slice()) < 1e-12,
                "{j} vs {j_ref}"
            );
        }
    }

    #[test]
    fn equals_the_svd_path() {
        for (rows, cols) in [(30, 50), (50, 30), (40, 40)] {
            for noisy in [false, true] {
                against_svd::<1>(rows, cols, noisy, 1);
                against_svd::<3>(rows, cols, noisy, 2);
            }
        }
    }
}
