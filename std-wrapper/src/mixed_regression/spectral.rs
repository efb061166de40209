//! The spectral start of EM for mixed linear regression, after Yi, Caramanis, Sanghavi,
//! *Alternating minimization for mixed linear regression* (ICML 2014, their Algorithm 2's
//! initialisation): the top two eigenvectors of a moment matrix span `f₁, f₂`, and the
//! regressors are then found inside that plane, where a few random starts cover the four
//! unknowns.
//!
//! For `x ~ N(0, I/p)` and `y = xᵀf_q + ξ` (Isserlis' theorem on the fourth moments of `x`),
//!
//! `M = E[y² x xᵀ] = (1/p²)[(π‖f₁‖² + (1 − π)‖f₂‖² + pΔ) I + 2π f₁f₁ᵀ + 2(1 − π) f₂f₂ᵀ]`,
//!
//! so the eigenvectors of the two largest eigenvalues of the sample moment
//! `M̂ = (1/N) Σ_i y_i² x_i x_iᵀ` span `f₁, f₂` once `N` is large enough (the rest of the
//! spectrum is flat). With `U` (`p × 2`) those eigenvectors and `x̃_i = Uᵀx_i`, the model in the
//! plane is `y_i = x̃_iᵀa_q + ξ̃_i` with `f_k ≈ U a_k`; its noise `ξ̃` also holds the part of
//! `F` outside the plane, so EM there estimates its variance `v` too (M-step
//! `v = (1/N) Σ_i Σ_k w_ik (y_i − x̃_iᵀa_k)²`, floored at `Δ`). The start is `F₀ = U [a₁ a₂]`
//! of the plane's best log-likelihood over [`PLANE_STARTS`] random starts.

use nalgebra::{DMatrix, Matrix2, Vector2};

use super::MixedRegression;
use crate::streams::{normal, stream};

/// Random starts of EM in the plane.
pub const PLANE_STARTS: usize = 20;
/// EM iterations per start in the plane.
const PLANE_ITER: usize = 100;

/// The spectral start `F₀` (`p × 2` row-major) of a checked `problem` with `p ≥ 2`, the
/// starts in the plane drawn from `stream(seed, j)`.
pub(super) fn spectral_start(problem: &MixedRegression, seed: u64, j: usize) -> Vec<f64> {
    let p = problem.p;
    let n = problem.y.len();
    // M̂ = (1/N) Σ y_i² x_i x_iᵀ, the Gram matrix of the rows |y_i| x_i.
    let mut moment = DMatrix::<f64>::zeros(p, p);
    let mut gram_rows = faer::Mat::<f64>::zeros(n, p);
    for (i, (row, &y)) in problem.x.chunks_exact(p).zip(problem.y).enumerate() {
        for (k, &v) in row.iter().enumerate() {
            gram_rows[(i, k)] = y.abs() * v;
        }
    }
    let mut gram = faer::Mat::<f64>::zeros(p, p);
    faer::linalg::matmul::matmul(
        gram.as_mut(),
        faer::Accum::Replace,
        gram_rows.transpose(),
        gram_rows.as_ref(),
        1.0 / n as f64,
        faer::Par::Seq,
    );
    for a in 0..p {
        for b in 0..p {
            moment[(a, b)] = gram[(a, b)];
        }
    }
    let eig = moment.symmetric_eigen();
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let u: Vec<[f64; 2]> = (0..p)
        .map(|r| {
            [
                eig.eigenvectors[(r, order[0])],
                eig.eigenvectors[(r, order[1])],
            ]
        })
        .collect();
    // x̃_i = Uᵀ x_i.
    let xt: Vec<Vector2<f64>> = problem
        .x
        .chunks_exact(p)
        .map(|row| {
            row.iter().zip(&u).fold(Vector2::zeros(), |acc, (&v, uj)| {
                acc + Vector2::new(uj[0], uj[1]) * v
            })
        })
        .collect();
    let mut rng = stream(seed, j);
    // ‖a_k‖² ≈ ‖f_k‖² ≈ p σ² a priori: each of the two coordinates N(0, p σ²/2).
    let sd = (p as f64 * problem.prior_var / 2.0).sqrt();
    let mut best: Option<(f64, [Vector2<f64>; 2])> = None;
    for _ in 0..PLANE_STARTS {
        let mut a = [0, 1].map(|_| Vector2::new(sd * normal(&mut rng), sd * normal(&mut rng)));
        let (l, fitted) = plane_em(problem, &xt, &mut a);
        if fitted && best.as_ref().is_none_or(|(b, _)| l > *b) {
            best = Some((l, a));
        }
    }
    let a = best.map_or([Vector2::zeros(); 2], |(_, a)| a);
    u.iter()
        .flat_map(|uj| {
            let uj = Vector2::new(uj[0], uj[1]);
            [uj.dot(&a[0]), uj.dot(&a[1])]
        })
        .collect()
}

/// EM in the plane from `a`, the noise variance estimated (starting from the mean of `y²`);
/// returns the final log-likelihood `Σ_i ln[π N(y_i; x̃_iᵀa₁, v) + (1 − π) N(y_i; x̃_iᵀa₂, v)]`
/// and whether everything stayed finite.
fn plane_em(
    problem: &MixedRegression,
    xt: &[Vector2<f64>],
    a: &mut [Vector2<f64>; 2],
) -> (f64, bool) {
    let n = problem.y.len() as f64;
    let floor = problem.noise_var;
    let mut v = (problem.y.iter().map(|y| y * y).sum::<f64>() / n).max(floor);
    let log_pi = [problem.pi.ln(), (1.0 - problem.pi).ln()];
    let mut l = f64::NEG_INFINITY;
    for _ in 0..PLANE_ITER {
        let mut gram = [Matrix2::<f64>::zeros(); 2];
        let mut rhs = [Vector2::<f64>::zeros(); 2];
        let mut sq = [0.0; 2];
        let mut sum = 0.0;
        let mut w = Vec::with_capacity(xt.len());
        for (x, &y) in xt.iter().zip(problem.y) {
            let e = [y - x.dot(&a[0]), y - x.dot(&a[1])];
            let lw = [0, 1].map(|k| log_pi[k] - e[k] * e[k] / (2.0 * v));
            let top = lw[0].max(lw[1]);
            let u = lw.map(|t| (t - top).exp());
            let w0 = u[0] / (u[0] + u[1]);
            sum += top + (u[0] + u[1]).ln() - 0.5 * (2.0 * std::f64::consts::PI * v).ln();
            w.push((w0, e));
            for (k, wk) in [w0, 1.0 - w0].into_iter().enumerate() {
                gram[k] += x * x.transpose() * wk;
                rhs[k] += x * (wk * y);
            }
        }
        l = sum;
        for k in 0..2 {
            let ridge = Matrix2::identity() * (v / problem.prior_var);
            match (gram[k] + ridge).try_inverse() {
                Some(inv) => a[k] = inv * rhs[k],
                None => return (l, false),
            }
        }
        for ((w0, _), (x, &y)) in w.iter().zip(xt.iter().zip(problem.y)) {
            let e = [y - x.dot(&a[0]), y - x.dot(&a[1])];
            sq[0] += w0 * e[0] * e[0];
            sq[1] += (1.0 - w0) * e[1] * e[1];
        }
        v = ((sq[0] + sq[1]) / n).max(floor);
    }
    (
        l,
        l.is_finite() && a.iter().all(|ak| ak.iter().all(|c| c.is_finite())),
    )
}
