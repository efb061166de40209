//! Thin singular value decompositions of weight matrices, as the [`Rotations`] ML-Mat-VAMP
//! applies. (Weight matrices with a prescribed spectrum are drawn in
//! [`crate::instance::ensembles`].)
//!
//! [`Svd`] holds `W = U diag(s) Vᵀ` (`rows × cols`, rank `r = min(rows, cols)` when
//! decomposed) and runs the four products of [`Rotations`] with faer's matrix multiply on the
//! row-major `n × d` slices, viewed in place (no copy of `x` or `out`).
//!
//! Layout. Each factor is kept twice, row-major and column-major, so that every product is a
//! sequence of dot products over contiguous memory (`Ux` reads the rows of `U`, `Uᵀx` its
//! columns). faer's kernels run at about the speed of memory in that form, and 2.5–3× slower
//! in the other (the outer-product form) as soon as `d ≥ 2` (measured at `n = 2000`, see
//! `benches/svd.rs`); the price is twice the factors' memory.
//!
//! Determinism. Everything here (decomposition, QR, products) runs single-threaded
//! (`Par::Seq`, whatever faer's global setting), so the same input gives the same bits on every
//! run on a given machine. faer picks its SIMD kernels at run time (AVX-512, AVX2+FMA, …), so
//! two CPUs with different instruction sets may differ in the last bits.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::matmul;
use faer::linalg::svd::{ComputeSvdVectors, svd, svd_scratch};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use mlamp_core::ml_vamp::{DenseRotations, Rotations};

use crate::error::Error;

/// Every faer call here runs on one thread (see the module's note on determinism).
pub(crate) const PAR: Par = Par::Seq;

/// A thin singular value decomposition `W = U diag(s) Vᵀ` of a `rows × cols` matrix: `U` is
/// `rows × rank`, `V` is `cols × rank`, both with orthonormal columns, and `s ≥ 0` has `rank`
/// entries.
#[derive(Clone, PartialEq)]
pub struct Svd {
    rows: usize,
    cols: usize,
    s: Vec<f64>,
    /// `U`, row-major `rows × rank` (for `U x`).
    u_rows: Vec<f64>,
    /// `U`, column-major: `Uᵀ` row-major `rank × rows` (for `Uᵀ x`).
    u_cols: Vec<f64>,
    /// `V`, row-major `cols × rank` (for `V x`).
    v_rows: Vec<f64>,
    /// `V`, column-major: `Vᵀ` row-major `rank × cols` (for `Vᵀ x`).
    v_cols: Vec<f64>,
}

impl std::fmt::Debug for Svd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Svd")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("rank", &self.rank())
            .field("s", &self.s)
            .finish_non_exhaustive()
    }
}

/// `a` (row-major `n × m`) transposed: row-major `m × n`.
pub(crate) fn transpose(a: &[f64], n: usize, m: usize) -> Vec<f64> {
    let mut t = vec![0.0; n * m];
    for (i, row) in a.chunks_exact(m.max(1)).take(n).enumerate() {
        for (j, &x) in row.iter().enumerate() {
            t[j * n + i] = x;
        }
    }
    t
}

/// The entries of `a` in column-major order (`Mat` may pad its columns).
pub(crate) fn column_major(a: MatRef<'_, f64>) -> Vec<f64> {
    let mut v = Vec::with_capacity(a.nrows() * a.ncols());
    for j in 0..a.ncols() {
        v.extend((0..a.nrows()).map(|i| a[(i, j)]));
    }
    v
}

/// `out = A x` for `A` row-major `m × k`, `x` row-major `k × d`, `out` row-major `m × d`:
/// dot products of the rows of `A`, single-threaded.
fn product(a: &[f64], m: usize, k: usize, x: &[f64], d: usize, out: &mut [f64]) {
    let lhs = MatRef::from_row_major_slice(&a[..m * k], m, k);
    let rhs = MatRef::from_row_major_slice(&x[..k * d], k, d);
    let dst = MatMut::from_row_major_slice_mut(&mut out[..m * d], m, d);
    matmul(dst, Accum::Replace, lhs, rhs, 1.0, PAR);
}

impl Svd {
    /// The factors given column-major (`u`: `rows × rank`, `v`: `cols × rank`).
    pub(crate) fn from_column_major(
        u_cols: Vec<f64>,
        s: Vec<f64>,
        v_cols: Vec<f64>,
        rows: usize,
        cols: usize,
    ) -> Self {
        let r = s.len();
        Self {
            rows,
            cols,
            u_rows: transpose(&u_cols, r, rows),
            v_rows: transpose(&v_cols, r, cols),
            s,
            u_cols,
            v_cols,
        }
    }

    /// The thin SVD of `w` (row-major `rows × cols`, finite): `rank = min(rows, cols)`, `s`
    /// sorted in non-increasing order (faer's divide and conquer, single-threaded).
    ///
    /// Errors: [`mlamp_core::Error::ShapeMismatch`] unless `w.len() = rows·cols`;
    /// [`mlamp_core::Error::NonFinite`] for a NaN or an infinity (both wrapped in
    /// [`Error::Core`]); [`Error::Invalid`] if the iteration does not converge.
    pub fn decompose(w: &[f64], rows: usize, cols: usize) -> Result<Self, Error> {
        check_weights(w, rows, cols)?;
        let r = rows.min(cols);
        if r == 0 {
            return Ok(Self::from_column_major(
                Vec::new(),
                Vec::new(),
                Vec::new(),
                rows,
                cols,
            ));
        }
        let a = MatRef::from_row_major_slice(w, rows, cols);
        let mut u = Mat::<f64>::zeros(rows, r);
        let mut v = Mat::<f64>::zeros(cols, r);
        let mut s = Diag::<f64>::zeros(r);
        let thin = ComputeSvdVectors::Thin;
        let mut mem = MemBuffer::try_new(svd_scratch::<f64>(
            rows,
            cols,
            thin,
            thin,
            PAR,
            Default::default(),
        ))
        .map_err(|_| crate::memory::allocation_failed("the decomposition's workspace"))?;
        svd(
            a,
            s.as_mut(),
            Some(u.as_mut()),
            Some(v.as_mut()),
            PAR,
            MemStack::new(&mut mem),
            Default::default(),
        )
        .map_err(|_| {
            Error::invalid(
                "weight matrix",
                "the singular value decomposition did not converge",
            )
        })?;
        let s: Vec<f64> = s.column_vector().iter().copied().collect();
        debug_assert!(s.windows(2).all(|p| p[0] >= p[1]));
        Ok(Self::from_column_major(
            column_major(u.as_ref()),
            s,
            column_major(v.as_ref()),
            rows,
            cols,
        ))
    }

    /// Keeps the factors of a model that generates `W = U diag(s) Vᵀ` itself: `u` row-major
    /// `rows × rank`, `v` row-major `cols × rank`, `rank = s.len() ≤ min(rows, cols)`, as
    /// [`DenseRotations`] takes them. Orthonormality of the columns is the caller's; `s` need
    /// not be sorted.
    ///
    /// Errors (wrapped in [`Error::Core`]): those of [`DenseRotations::new`], i.e.
    /// `ShapeMismatch` for a wrong length or a rank above `min(rows, cols)`, `NonFinite` for a
    /// non-finite entry of `u` or `v`, `InvalidParameter` for a negative or non-finite `s_i`.
    pub fn from_factors(
        u: Vec<f64>,
        s: Vec<f64>,
        v: Vec<f64>,
        rows: usize,
        cols: usize,
    ) -> Result<Self, Error> {
        DenseRotations::new(&u, &v, &s, rows, cols)?;
        let r = s.len();
        Ok(Self {
            rows,
            cols,
            u_cols: transpose(&u, rows, r),
            v_cols: transpose(&v, cols, r),
            u_rows: u,
            v_rows: v,
            s,
        })
    }

    /// `rows`: the number of rows of `W`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// `cols`: the number of columns of `W`.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The number of singular values kept (`min(rows, cols)` for [`Svd::decompose`] and
    /// [`Svd::from_factors`]).
    pub fn rank(&self) -> usize {
        self.s.len()
    }

    /// The singular values `s` (non-increasing unless given otherwise to
    /// [`Svd::from_factors`]).
    pub fn singular_values(&self) -> &[f64] {
        &self.s
    }

    /// `U`, row-major `rows × rank`.
    pub fn u(&self) -> &[f64] {
        &self.u_rows
    }

    /// `V`, row-major `cols × rank`.
    pub fn v(&self) -> &[f64] {
        &self.v_rows
    }

    /// The core's plain-loop [`Rotations`] over the same factors (the reference of the tests
    /// and the bench).
    pub fn dense_rotations(&self) -> DenseRotations<'_, f64> {
        DenseRotations::new(&self.u_rows, &self.v_rows, &self.s, self.rows, self.cols)
            .expect("the factors were checked when the decomposition was built")
    }

    /// `W = U diag(s) Vᵀ`, row-major `rows × cols` (single-threaded matrix multiply).
    pub fn dense(&self) -> Vec<f64> {
        let (m, n, r) = (self.rows, self.cols, self.rank());
        let mut w = vec![0.0; m * n];
        // U diag(s), row-major rows × rank.
        let us: Vec<f64> = self
            .u_rows
            .chunks_exact(r.max(1))
            .take(m)
            .flat_map(|row| row.iter().zip(&self.s).map(|(a, b)| a * b))
            .collect();
        product(&us, m, r, &self.v_cols, n, &mut w);
        w
    }
}

impl Rotations<f64> for Svd {
    fn rows(&self) -> usize {
        self.rows
    }

    fn cols(&self) -> usize {
        self.cols
    }

    fn singular_values(&self) -> &[f64] {
        &self.s
    }

    fn left_t(&self, x: &[f64], d: usize, out: &mut [f64]) {
        product(&self.u_cols, self.rank(), self.rows, x, d, out);
    }

    fn left(&self, x: &[f64], d: usize, out: &mut [f64]) {
        product(&self.u_rows, self.rows, self.rank(), x, d, out);
    }

    fn right_t(&self, x: &[f64], d: usize, out: &mut [f64]) {
        product(&self.v_cols, self.rank(), self.cols, x, d, out);
    }

    fn right(&self, x: &[f64], d: usize, out: &mut [f64]) {
        product(&self.v_rows, self.cols, self.rank(), x, d, out);
    }
}

/// `Ok(())` if `w` is a `rows × cols` weight matrix (`w.len() = rows·cols`, no overflow) of
/// finite entries: [`Svd::decompose`]'s and the singular values' checks.
///
/// Errors: [`Error::Invalid`] if `rows·cols` overflows; [`mlamp_core::Error::ShapeMismatch`]
/// or [`mlamp_core::Error::NonFinite`] (wrapped in [`Error::Core`]).
pub(crate) fn check_weights(w: &[f64], rows: usize, cols: usize) -> Result<(), Error> {
    let len = rows
        .checked_mul(cols)
        .ok_or_else(|| Error::invalid("weight matrix", "rows · cols overflows"))?;
    mlamp_core::error::length("weight matrix", w, len)?;
    if !w.iter().all(|x| x.is_finite()) {
        return Err(mlamp_core::Error::NonFinite {
            what: "weight matrix",
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::ensembles::{haar_columns, spectrum};
    use crate::streams::{normal, stream};

    fn gaussian(len: usize, seed: u64) -> Vec<f64> {
        let mut rng = stream(seed, 0);
        (0..len).map(|_| normal(&mut rng)).collect()
    }

    fn frobenius(a: &[f64]) -> f64 {
        a.iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    /// `U diag(s) Vᵀ` with plain loops.
    fn reconstruct(svd: &Svd) -> Vec<f64> {
        let (m, n, r) = (svd.rows(), svd.cols(), svd.rank());
        let (u, v, s) = (svd.u(), svd.v(), svd.singular_values());
        let mut w = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                w[i * n + j] = (0..r).map(|k| u[i * r + k] * s[k] * v[j * r + k]).sum();
            }
        }
        w
    }

    /// `max |AᵀA − I|` for `A` row-major `n × r`.
    fn orthonormality_error(a: &[f64], n: usize, r: usize) -> f64 {
        let mut e: f64 = 0.0;
        for p in 0..r {
            for q in 0..r {
                let g: f64 = (0..n).map(|i| a[i * r + p] * a[i * r + q]).sum();
                e = e.max((g - if p == q { 1.0 } else { 0.0 }).abs());
            }
        }
        e
    }

    fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    fn check_decomposition(w: &[f64], rows: usize, cols: usize) -> Svd {
        let svd = Svd::decompose(w, rows, cols).unwrap();
        let r = rows.min(cols);
        assert_eq!((svd.rows(), svd.cols(), svd.rank()), (rows, cols, r));
        let s = svd.singular_values();
        assert!(s.windows(2).all(|p| p[0] >= p[1]), "not sorted: {s:?}");
        assert!(s.iter().all(|&x| x >= 0.0));
        let norm = if w.iter().any(|&x| x != 0.0) {
            frobenius(w)
        } else {
            1.0
        };
        let e = frobenius(
            &reconstruct(&svd)
                .iter()
                .zip(w)
                .map(|(a, b)| a - b)
                .collect::<Vec<_>>(),
        ) / norm;
        assert!(
            e <= 1e-12,
            "{rows}×{cols}: relative reconstruction error {e:e}"
        );
        let e = max_abs_diff(&svd.dense(), w) / norm;
        assert!(e <= 1e-12, "{rows}×{cols}: dense() error {e:e}");
        let eu = orthonormality_error(svd.u(), rows, r);
        let ev = orthonormality_error(svd.v(), cols, r);
        assert!(
            eu <= 1e-12 && ev <= 1e-12,
            "{rows}×{cols}: UᵀU − I {eu:e}, VᵀV − I {ev:e}"
        );
        svd
    }

    #[test]
    fn decomposition_reconstructs_with_orthonormal_factors() {
        for (rows, cols, seed) in [
            (200, 100, 1),
            (100, 200, 2),
            (1, 7, 3),
            (7, 1, 4),
            (5, 5, 5),
        ] {
            check_decomposition(&gaussian(rows * cols, seed), rows, cols);
        }
    }

    #[test]
    fn rank_deficient_matrix() {
        // W = A B, A: 150 × 40, B: 40 × 100, so rank 40 of 100.
        let (m, k, n) = (150, 40, 100);
        let a = gaussian(m * k, 11);
        let b = gaussian(k * n, 12);
        let mut w = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                w[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
            }
        }
        let svd = check_decomposition(&w, m, n);
        let s = svd.singular_values();
        assert!(s[k - 1] > 1e-3 * s[0]);
        assert!(s[k..].iter().all(|&x| x <= 1e-12 * s[0]), "{:?}", &s[k..]);
        // The zero matrix too.
        let svd = check_decomposition(&[0.0; 12], 3, 4);
        assert!(svd.singular_values().iter().all(|&x| x == 0.0));
    }

    /// Product `k` of `rot` (0: `Uᵀx`, 1: `Ux`, 2: `Vᵀx`, 3: `Vx`).
    fn apply(rot: &impl Rotations<f64>, k: usize, x: &[f64], d: usize, out: &mut [f64]) {
        match k {
            0 => rot.left_t(x, d, out),
            1 => rot.left(x, d, out),
            2 => rot.right_t(x, d, out),
            _ => rot.right(x, d, out),
        }
    }

    /// Every product of `svd` against the core's plain loops on the same factors, then again
    /// (same bits) with `x` and `out` at another alignment.
    fn check_products(svd: &Svd, d: usize) {
        let dense = svd.dense_rotations();
        let (m, n, r) = (svd.rows(), svd.cols(), svd.rank());
        for (k, (inp, outp)) in [(m, r), (r, m), (n, r), (r, n)].into_iter().enumerate() {
            let x = gaussian(inp * d, 100 + k as u64);
            let mut a = vec![f64::NAN; outp * d];
            let mut b = vec![f64::NAN; outp * d];
            apply(svd, k, &x, d, &mut a);
            apply(&dense, k, &x, d, &mut b);
            let scale = b.iter().fold(1.0f64, |s, v| s.max(v.abs()));
            let e = max_abs_diff(&a, &b) / scale;
            assert!(e <= 1e-12, "{m}×{n}, d = {d}, product {k}: {e:e}");
            let mut again = vec![0.0; outp * d + 1];
            let mut shifted = vec![0.0; inp * d + 1];
            shifted[1..].copy_from_slice(&x);
            apply(svd, k, &shifted[1..], d, &mut again[1..]);
            assert!(
                a.iter()
                    .zip(&again[1..])
                    .all(|(p, q)| p.to_bits() == q.to_bits()),
                "product {k} not reproducible"
            );
        }
    }

    #[test]
    fn products_match_the_plain_loops() {
        for (rows, cols, seed) in [(200, 100, 21), (100, 200, 22), (300, 300, 23)] {
            let svd = Svd::decompose(&gaussian(rows * cols, seed), rows, cols).unwrap();
            for d in [1, 3, 4] {
                check_products(&svd, d);
            }
        }
        let svd = spectrum(120, 80, 5.0, &mut stream(3, 1)).unwrap();
        check_products(&svd, 2);
    }

    #[test]
    fn from_factors_keeps_the_factors() {
        let mut rng = stream(4, 1);
        let (rows, cols, r) = (30, 20, 12);
        let u = haar_columns(rows, r, &mut rng).unwrap();
        let v = haar_columns(cols, r, &mut rng).unwrap();
        let s: Vec<f64> = (0..r).map(|i| 1.0 + i as f64).collect();
        let svd = Svd::from_factors(u.clone(), s.clone(), v.clone(), rows, cols).unwrap();
        assert_eq!(
            (svd.u(), svd.v(), svd.singular_values()),
            (&u[..], &v[..], &s[..])
        );
        assert_eq!(svd.rank(), r);
        assert!(max_abs_diff(&svd.dense(), &reconstruct(&svd)) <= 1e-13);
        check_products(&svd, 3);
        assert!(orthonormality_error(&u, rows, r) <= 1e-13);
    }

    #[test]
    fn spectrum_has_the_requested_condition_number_and_scale() {
        for (rows, cols, kappa) in [
            (60, 40, 10.0),
            (40, 60, 1e3),
            (50, 50, 1.0),
            (1, 9, 4.0),
            (9, 1, 4.0),
        ] {
            let svd = spectrum(rows, cols, kappa, &mut stream(9, 1)).unwrap();
            let s = svd.singular_values();
            let r = rows.min(cols);
            assert_eq!(s.len(), r);
            assert!(s.windows(2).all(|p| p[0] >= p[1]));
            let ratio = s[0] / s[r - 1];
            let want = if r == 1 { 1.0 } else { kappa };
            assert!((ratio / want - 1.0).abs() <= 1e-12, "κ = {kappa}: {ratio}");
            let f2: f64 = s.iter().map(|x| x * x).sum();
            assert!((f2 / rows as f64 - 1.0).abs() <= 1e-12, "Σ s² = {f2}");
            let w2: f64 = svd.dense().iter().map(|x| x * x).sum();
            assert!((w2 / rows as f64 - 1.0).abs() <= 1e-12, "‖W‖² = {w2}");
            assert!(orthonormality_error(svd.u(), rows, r) <= 1e-13);
            assert!(orthonormality_error(svd.v(), cols, r) <= 1e-13);
        }
    }

    #[test]
    fn same_seed_same_bits() {
        let bits = |svd: &Svd| -> Vec<u64> {
            [svd.u(), svd.v(), svd.singular_values()]
                .iter()
                .flat_map(|a| a.iter().map(|x| x.to_bits()))
                .collect()
        };
        let a = spectrum(70, 50, 8.0, &mut stream(5, 3)).unwrap();
        let b = spectrum(70, 50, 8.0, &mut stream(5, 3)).unwrap();
        let c = spectrum(70, 50, 8.0, &mut stream(6, 3)).unwrap();
        assert_eq!(bits(&a), bits(&b));
        assert_ne!(bits(&a), bits(&c));
        let w = gaussian(70 * 50, 8);
        let (p, q) = (
            Svd::decompose(&w, 70, 50).unwrap(),
            Svd::decompose(&w, 70, 50).unwrap(),
        );
        assert_eq!(bits(&p), bits(&q));
    }

    /// Moments of a Haar frame, from `draws` independent draws (fixed seed, so the test is
    /// deterministic; the tolerances are 5 standard errors of the estimates, so a wrong law —
    /// e.g. without the sign fix, whose Householder `Q` has a biased diagonal — fails).
    #[test]
    fn haar_moments() {
        let (n, draws) = (6usize, 4000usize);
        let mut rng = stream(17, 2);
        let (mut mean, mut mean_sq) = (vec![0.0; n * n], vec![0.0; n * n]);
        let (mut trace, mut trace_sq) = (0.0, 0.0);
        for _ in 0..draws {
            let q = haar_columns(n, n, &mut rng).unwrap();
            assert!(orthonormality_error(&q, n, n) <= 1e-14);
            for (k, &x) in q.iter().enumerate() {
                mean[k] += x / draws as f64;
                mean_sq[k] += x * x / draws as f64;
            }
            let t: f64 = (0..n).map(|i| q[i * n + i]).sum();
            trace += t / draws as f64;
            trace_sq += t * t / draws as f64;
        }
        let nf = n as f64;
        // Each entry: mean 0, variance 1/n; E[x⁴] = 3 / (n (n + 2)).
        let se_mean = (1.0 / nf / draws as f64).sqrt();
        let se_sq = ((3.0 / (nf * (nf + 2.0)) - 1.0 / (nf * nf)) / draws as f64).sqrt();
        for k in 0..n * n {
            assert!(mean[k].abs() <= 5.0 * se_mean, "E[Q_{k}] = {}", mean[k]);
            assert!(
                (mean_sq[k] - 1.0 / nf).abs() <= 5.0 * se_sq,
                "E[Q_{k}²] = {}",
                mean_sq[k]
            );
        }
        // tr Q over O(n), n ≥ 4: E = 0, E[(tr Q)²] = 1, E[(tr Q)⁴] = 3 (Diaconis–Shahshahani).
        let d = draws as f64;
        assert!(trace.abs() <= 5.0 / d.sqrt(), "E[tr Q] = {trace}");
        assert!(
            (trace_sq - 1.0).abs() <= 5.0 * (2.0 / d).sqrt(),
            "E[(tr Q)²] = {trace_sq}"
        );
        // And a thin frame's first column: uniform on the sphere, E[q_0²] = 1/n.
        let n = 50;
        let mut m = 0.0;
        for _ in 0..draws {
            let q = haar_columns(n, 3, &mut rng).unwrap();
            m += q[0] * q[0] / draws as f64;
        }
        let se =
            ((3.0 / (n as f64 * (n as f64 + 2.0)) - 1.0 / (n * n) as f64) / draws as f64).sqrt();
        assert!((m - 1.0 / n as f64).abs() <= 5.0 * se, "E[Q_00²] = {m}");
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        use mlamp_core::Error as Core;
        assert!(matches!(
            Svd::decompose(&[1.0; 5], 2, 3),
            Err(Error::Core(Core::ShapeMismatch {
                expected: 6,
                found: 5,
                ..
            }))
        ));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut w = vec![1.0; 6];
            w[4] = bad;
            assert!(matches!(
                Svd::decompose(&w, 2, 3),
                Err(Error::Core(Core::NonFinite { .. }))
            ));
        }
        for kappa in [0.5, 0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                spectrum(4, 3, kappa, &mut stream(1, 1)),
                Err(Error::Core(Core::InvalidParameter {
                    name: "condition_number",
                    ..
                }))
            ));
        }
        assert!(matches!(
            spectrum(0, 3, 2.0, &mut stream(1, 1)),
            Err(Error::Core(Core::InvalidParameter { .. }))
        ));
        assert!(matches!(
            haar_columns(3, 4, &mut stream(1, 1)),
            Err(Error::Core(Core::InvalidParameter { name: "r", .. }))
        ));
        // from_factors: a wrong length, a rank above min(rows, cols), NaN, a negative s.
        let (u, v, s) = (vec![0.0; 6], vec![0.0; 4], vec![1.0, 0.5]);
        assert!(Svd::from_factors(u.clone(), s.clone(), v.clone(), 3, 2).is_ok());
        assert!(matches!(
            Svd::from_factors(u.clone(), s.clone(), vec![0.0; 5], 3, 2),
            Err(Error::Core(Core::ShapeMismatch { .. }))
        ));
        assert!(matches!(
            Svd::from_factors(u.clone(), s.clone(), v.clone(), 3, 1),
            Err(Error::Core(Core::ShapeMismatch { .. }))
        ));
        let mut un = u.clone();
        un[2] = f64::NAN;
        assert!(matches!(
            Svd::from_factors(un, s.clone(), v.clone(), 3, 2),
            Err(Error::Core(Core::NonFinite { .. }))
        ));
        assert!(matches!(
            Svd::from_factors(u, vec![1.0, -0.5], v, 3, 2),
            Err(Error::Core(Core::InvalidParameter { .. }))
        ));
        // Empty matrices decompose to rank 0.
        assert_eq!(Svd::decompose(&[], 0, 5).unwrap().rank(), 0);
    }
}
