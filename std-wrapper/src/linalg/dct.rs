//! The subsampled randomised discrete cosine transform as a weight matrix: the `dct` weights of
//! model files, applied in `O(N log N)` (rustdct) and never stored.
//!
//! With `N = max(rows, cols)` and `K = min(rows, cols)`, let
//!
//! - `D` be the `N × N` diagonal of random signs `±1`,
//! - `H` the orthonormal DCT-II, `H_{kj} = a_k cos(π k (2j + 1) / (2N))` with `a_0 = √(1/N)`,
//!   `a_k = √(2/N)` for `k ≥ 1` (`HᵀH = I`),
//! - `S` the `K × N` selection of `K` distinct outputs drawn uniformly,
//!
//! and `Q = S H D` (`K × N`, orthonormal rows: `QQᵀ = I_K`). The weight matrix is
//!
//! - `W = c Q` if `rows ≤ cols` (a wide or square `W`: its thin SVD is `U = I`, `s = c`,
//!   `V = Qᵀ`);
//! - `W = c Qᵀ` if `rows > cols` (a tall `W`: `U = Qᵀ`, `s = c`, `V = I`),
//!
//! with the `K` equal singular values `c = √(rows / K)` of
//! [`spectrum_singular_values`]`(rows, cols, 1)`, so `‖W‖_F² = rows` and the mean square of
//! an entry is `1 / cols`, as for the iid `N(0, 1/n_in)` weights of conventions.md: a
//! pre-activation has the second moment of the layer's input. In ML-Mat-VAMP's notation
//! (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in
//! multi-layer models*, section 3, `W_ℓ = V_ℓ diag(S_ℓ) V_{ℓ−1}ᵀ`) our `U` is its `V_ℓ` and
//! our `V` its `V_{ℓ−1}`; the four products of [`Rotations`] are two copies and the two
//! fast transforms `x ↦ Q x` and `y ↦ Qᵀ y`, column by column of the `n × d` row matrices.
//!
//! Its spectral law is exact and needs no sample: `K` singular values `c`, the rest of the
//! `N` directions null, which is [`crate::se::spectral_law::SpectralLaw::from_svd_spectrum`]
//! with condition number 1.
//!
//! Draws (from the layer's weight stream, in this order): one uniform `u` per sign,
//! `D_ii = −1` iff `u < 1/2`, for `i = 0, …, N − 1`; then, if `K < N`, a partial
//! Fisher–Yates shuffle of `0, …, N − 1` (`K` uniforms: step `i` swaps position `i` with
//! `i + ⌊u (N − i)⌋`), whose first `K` entries, sorted, are the selected outputs.

use std::sync::Arc;

use mlamp_core::ml_vamp::Rotations;
use rand_distr::{Distribution, StandardUniform};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use rustdct::{DctPlanner, TransformType2And3};

use crate::error::Error;
use crate::instance::ensembles::spectrum_singular_values;

/// The `rows × cols` weight matrix `c S H D` (or its transpose when `rows > cols`; see the
/// module's docs), as the [`Rotations`] of its exact thin SVD.
#[derive(Clone)]
pub struct SubsampledDct {
    rows: usize,
    cols: usize,
    /// The diagonal of `D`, `N = max(rows, cols)` entries `±1`.
    signs: Vec<f64>,
    /// The `K = min(rows, cols)` outputs of `H` that `S` keeps, increasing.
    selected: Vec<usize>,
    /// `K` copies of `c`.
    s: Vec<f64>,
    /// rustdct's plan of the (unnormalised) DCT-II and DCT-III of length `N`.
    plan: Arc<dyn TransformType2And3<f64>>,
}

impl std::fmt::Debug for SubsampledDct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubsampledDct")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("c", &self.s.first())
            .finish_non_exhaustive()
    }
}

impl PartialEq for SubsampledDct {
    /// The same matrix: the same shape, signs and selection (the plan follows from `N`).
    fn eq(&self, other: &Self) -> bool {
        (self.rows, self.cols) == (other.rows, other.cols)
            && self.signs == other.signs
            && self.selected == other.selected
            && self.s == other.s
    }
}

impl SubsampledDct {
    /// Draws the signs and the selection of a `rows × cols` operator from `rng` (see the
    /// module's docs for the order of the draws).
    ///
    /// Errors: [`mlamp_core::Error::InvalidParameter`] (in [`Error::Core`]) if `rows` or
    /// `cols` is zero, raised before `rng` is used.
    pub fn sample(rows: usize, cols: usize, rng: &mut Xoshiro256PlusPlus) -> Result<Self, Error> {
        let s = spectrum_singular_values(rows, cols, 1.0)?;
        let (big, small) = (rows.max(cols), rows.min(cols));
        let signs: Vec<f64> = (0..big)
            .map(|_| {
                let u: f64 = StandardUniform.sample(rng);
                if u < 0.5 { -1.0 } else { 1.0 }
            })
            .collect();
        let selected = if small == big {
            (0..big).collect()
        } else {
            let mut perm: Vec<usize> = (0..big).collect();
            for i in 0..small {
                let u: f64 = StandardUniform.sample(rng);
                let left = big - i;
                let j = i + ((u * left as f64) as usize).min(left - 1);
                perm.swap(i, j);
            }
            perm.truncate(small);
            perm.sort_unstable();
            perm
        };
        let plan = DctPlanner::new().plan_dct2(big);
        Ok(Self {
            rows,
            cols,
            signs,
            selected,
            s,
            plan,
        })
    }

    /// `N = max(rows, cols)`: the length of the transform.
    pub fn len(&self) -> usize {
        self.signs.len()
    }

    /// Never empty (both sizes are positive); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.signs.is_empty()
    }

    /// The diagonal of `D` (`N` entries `±1`).
    pub fn signs(&self) -> &[f64] {
        &self.signs
    }

    /// The `K` outputs of `H` that `S` keeps, increasing.
    pub fn selected(&self) -> &[usize] {
        &self.selected
    }

    /// `c = √(rows / K)`, every singular value.
    pub fn scale(&self) -> f64 {
        self.s[0]
    }

    /// Whether `W = c Q` (`rows ≤ cols`) rather than `c Qᵀ`.
    fn wide(&self) -> bool {
        self.rows <= self.cols
    }

    /// `a_k`, the factor that makes row `k` of the unnormalised DCT-II orthonormal.
    fn norm(&self, k: usize) -> f64 {
        let n = self.len() as f64;
        if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        }
    }

    /// `out = Q x`, `x` row-major `N × d`, `out` row-major `K × d`.
    fn forward(&self, x: &[f64], d: usize, out: &mut [f64]) {
        let big = self.len();
        let column = |j: usize| -> Vec<f64> {
            let mut buf: Vec<f64> = (0..big).map(|i| x[i * d + j] * self.signs[i]).collect();
            let mut scratch = vec![0.0; self.plan.get_scratch_len()];
            self.plan.process_dct2_with_scratch(&mut buf, &mut scratch);
            self.selected
                .iter()
                .map(|&k| self.norm(k) * buf[k])
                .collect()
        };
        self.by_columns(d, column, out);
    }

    /// `out = Qᵀ y`, `y` row-major `K × d`, `out` row-major `N × d`. rustdct's DCT-III of `z`
    /// is `z_0 / 2 + Σ_{k ≥ 1} z_k cos(π k (2j + 1) / (2N))`, so `(Hᵀ y)_j` is that of
    /// `z_0 = 2 a_0 y_0`, `z_k = a_k y_k`.
    fn backward(&self, y: &[f64], d: usize, out: &mut [f64]) {
        let big = self.len();
        let column = |j: usize| -> Vec<f64> {
            let mut buf = vec![0.0; big];
            for (p, &k) in self.selected.iter().enumerate() {
                let twice = if k == 0 { 2.0 } else { 1.0 };
                buf[k] = twice * self.norm(k) * y[p * d + j];
            }
            let mut scratch = vec![0.0; self.plan.get_scratch_len()];
            self.plan.process_dct3_with_scratch(&mut buf, &mut scratch);
            buf.iter().zip(&self.signs).map(|(b, s)| b * s).collect()
        };
        self.by_columns(d, column, out);
    }

    /// Fills the row-major `out` column by column with `column(j)`: the columns on rayon's
    /// threads when `d > 1`, each computed alone, so the bits do not depend on the threads.
    fn by_columns(
        &self,
        d: usize,
        column: impl Fn(usize) -> Vec<f64> + Sync + Send,
        out: &mut [f64],
    ) {
        if d == 1 {
            let c = column(0);
            out[..c.len()].copy_from_slice(&c);
            return;
        }
        let columns: Vec<Vec<f64>> = (0..d).into_par_iter().map(column).collect();
        for (j, c) in columns.iter().enumerate() {
            for (i, &v) in c.iter().enumerate() {
                out[i * d + j] = v;
            }
        }
    }

    /// `W x`, `x` row-major `cols × d`: the pre-activation the instance's channel observes.
    pub fn apply(&self, x: &[f64], d: usize) -> Vec<f64> {
        let k = self.s.len();
        let mut t = vec![0.0; k * d];
        self.right_t(x, d, &mut t);
        t.iter_mut().for_each(|v| *v *= self.scale());
        let mut out = vec![0.0; self.rows * d];
        self.left(&t, d, &mut out);
        out
    }
}

/// `out = x` on the first `len` entries (the identity factor of the SVD).
fn copy(x: &[f64], len: usize, out: &mut [f64]) {
    out[..len].copy_from_slice(&x[..len]);
}

impl Rotations<f64> for SubsampledDct {
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
        if self.wide() {
            copy(x, self.rows * d, out);
        } else {
            self.forward(x, d, out);
        }
    }

    fn left(&self, x: &[f64], d: usize, out: &mut [f64]) {
        if self.wide() {
            copy(x, self.rows * d, out);
        } else {
            self.backward(x, d, out);
        }
    }

    fn right_t(&self, x: &[f64], d: usize, out: &mut [f64]) {
        if self.wide() {
            self.forward(x, d, out);
        } else {
            copy(x, self.cols * d, out);
        }
    }

    fn right(&self, x: &[f64], d: usize, out: &mut [f64]) {
        if self.wide() {
            self.backward(x, d, out);
        } else {
            copy(x, self.cols * d, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::{normal, stream};

    /// The orthonormal DCT-II matrix written from its definition, `O(N²)`, row-major.
    fn dct_matrix(n: usize) -> Vec<f64> {
        let mut h = vec![0.0; n * n];
        for k in 0..n {
            let a = if k == 0 {
                (1.0 / n as f64).sqrt()
            } else {
                (2.0 / n as f64).sqrt()
            };
            for j in 0..n {
                let angle = std::f64::consts::PI * k as f64 * (2 * j + 1) as f64 / (2 * n) as f64;
                h[k * n + j] = a * angle.cos();
            }
        }
        h
    }

    /// `c S H D` (or its transpose) built from the drawn signs and selection and
    /// [`dct_matrix`], row-major `rows × cols`.
    fn expected_dense(op: &SubsampledDct) -> Vec<f64> {
        let (m, n) = (op.rows(), op.cols());
        let big = m.max(n);
        let h = dct_matrix(big);
        // Q[p][j] = H[sel_p][j] D_jj, K × N.
        let q = |p: usize, j: usize| h[op.selected()[p] * big + j] * op.signs()[j];
        let c = (m as f64 / m.min(n) as f64).sqrt();
        let mut w = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                w[i * n + j] = c * if m <= n { q(i, j) } else { q(j, i) };
            }
        }
        w
    }

    /// The operator's `W` column by column: `apply` to the unit vectors.
    fn dense_by_unit_vectors(op: &SubsampledDct) -> Vec<f64> {
        let (m, n) = (op.rows(), op.cols());
        let mut w = vec![0.0; m * n];
        for j in 0..n {
            let mut e = vec![0.0; n];
            e[j] = 1.0;
            for (i, v) in op.apply(&e, 1).into_iter().enumerate() {
                w[i * n + j] = v;
            }
        }
        w
    }

    fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
    }

    #[test]
    fn the_operator_is_the_dense_matrix_it_stands_for() {
        for (rows, cols, seed) in [(64, 64, 1), (40, 64, 2), (64, 40, 3), (1, 7, 4), (9, 2, 5)] {
            let op = SubsampledDct::sample(rows, cols, &mut stream(seed, 1)).unwrap();
            let e = max_abs_diff(&dense_by_unit_vectors(&op), &expected_dense(&op));
            assert!(e < 1e-13, "{rows}×{cols}: {e:e}");
            // Entries have mean square 1/cols, ‖W‖_F² = rows.
            let f2: f64 = expected_dense(&op).iter().map(|v| v * v).sum();
            assert!((f2 / rows as f64 - 1.0).abs() < 1e-12, "{f2}");
        }
    }

    #[test]
    fn signs_are_fair_and_the_selection_distinct_and_uniform() {
        let op = SubsampledDct::sample(3000, 10_000, &mut stream(7, 1)).unwrap();
        let neg = op.signs().iter().filter(|&&s| s == -1.0).count();
        assert!(op.signs().iter().all(|&s| s == 1.0 || s == -1.0));
        // Binomial(10⁴, 1/2): sd 50; 250 is 5 sd.
        assert!((neg as f64 - 5000.0).abs() < 250.0, "{neg}");
        let sel = op.selected();
        assert_eq!(sel.len(), 3000);
        assert!(sel.windows(2).all(|p| p[0] < p[1]) && sel[2999] < 10_000);
        // The selected indices' mean is that of a uniform sample without replacement:
        // (N − 1)/2 with sd ≈ √((N²/12)(1 − K/N)/K) ≈ 44; 250 is > 5 sd.
        let mean = sel.iter().sum::<usize>() as f64 / 3000.0;
        assert!((mean - 4999.5).abs() < 250.0, "{mean}");
        // Same seed, same bits; another seed, another operator.
        assert_eq!(
            op,
            SubsampledDct::sample(3000, 10_000, &mut stream(7, 1)).unwrap()
        );
        assert_ne!(
            op,
            SubsampledDct::sample(3000, 10_000, &mut stream(8, 1)).unwrap()
        );
    }

    /// Row-major `N × d` Gaussian.
    fn gaussian(len: usize, seed: u64) -> Vec<f64> {
        let mut rng = stream(seed, 0);
        (0..len).map(|_| normal(&mut rng)).collect()
    }

    #[test]
    fn the_four_products_are_those_of_the_thin_svd() {
        for (rows, cols) in [(48, 80), (80, 48), (64, 64)] {
            let op = SubsampledDct::sample(rows, cols, &mut stream(11, 3)).unwrap();
            let w = expected_dense(&op);
            let (k, c) = (rows.min(cols), op.scale());
            assert_eq!(op.singular_values(), vec![c; k].as_slice());
            // U and V from the products on unit vectors (d = 1), against the dense W: U diag(s)
            // Vᵀ = W, UᵀU = I, VᵀV = I.
            let factor = |apply: &dyn Fn(&[f64], &mut [f64]), n: usize| -> Vec<f64> {
                // Row-major n × k: column p is the image of e_p.
                let mut a = vec![0.0; n * k];
                for p in 0..k {
                    let mut e = vec![0.0; k];
                    e[p] = 1.0;
                    let mut col = vec![0.0; n];
                    apply(&e, &mut col);
                    for i in 0..n {
                        a[i * k + p] = col[i];
                    }
                }
                a
            };
            let u = factor(&|x, o| op.left(x, 1, o), rows);
            let v = factor(&|x, o| op.right(x, 1, o), cols);
            let mut usv = vec![0.0; rows * cols];
            for i in 0..rows {
                for j in 0..cols {
                    usv[i * cols + j] = (0..k).map(|p| u[i * k + p] * c * v[j * k + p]).sum();
                }
            }
            assert!(max_abs_diff(&usv, &w) < 1e-13, "{rows}×{cols}");
            for (a, n) in [(&u, rows), (&v, cols)] {
                for p in 0..k {
                    for q in 0..k {
                        let g: f64 = (0..n).map(|i| a[i * k + p] * a[i * k + q]).sum();
                        let want = if p == q { 1.0 } else { 0.0 };
                        assert!((g - want).abs() < 1e-13, "{rows}×{cols} ({p}, {q}): {g}");
                    }
                }
            }
            // The products with d = 3 columns (on threads) are those of the factors U and V
            // found above: `Aᵀ x` and `A y` with plain loops.
            type Product<'a> = &'a dyn Fn(&[f64], &mut [f64]);
            let d = 3;
            let (lt, l, rt, r) = (
                |x: &[f64], o: &mut [f64]| op.left_t(x, d, o),
                |x: &[f64], o: &mut [f64]| op.left(x, d, o),
                |x: &[f64], o: &mut [f64]| op.right_t(x, d, o),
                |x: &[f64], o: &mut [f64]| op.right(x, d, o),
            );
            let pairs: [(Product, Product, &Vec<f64>, usize); 2] =
                [(&lt, &l, &u, rows), (&rt, &r, &v, cols)];
            for (fwd, bwd, a, n) in pairs {
                let x = gaussian(n * d, 5);
                let mut got = vec![f64::NAN; k * d];
                fwd(&x, &mut got);
                // Aᵀ x with plain loops.
                let mut want = vec![0.0; k * d];
                for p in 0..k {
                    for j in 0..d {
                        want[p * d + j] = (0..n).map(|i| a[i * k + p] * x[i * d + j]).sum();
                    }
                }
                assert!(max_abs_diff(&got, &want) < 1e-12, "{rows}×{cols} Aᵀx");
                let y = gaussian(k * d, 6);
                let mut got = vec![f64::NAN; n * d];
                bwd(&y, &mut got);
                let mut want = vec![0.0; n * d];
                for i in 0..n {
                    for j in 0..d {
                        want[i * d + j] = (0..k).map(|p| a[i * k + p] * y[p * d + j]).sum();
                    }
                }
                assert!(max_abs_diff(&got, &want) < 1e-12, "{rows}×{cols} A y");
            }
        }
    }

    #[test]
    fn a_zero_size_is_refused() {
        for (rows, cols) in [(0, 5), (5, 0)] {
            let e = SubsampledDct::sample(rows, cols, &mut stream(1, 1)).unwrap_err();
            assert!(e.to_string().contains("positive"), "{e}");
        }
    }
}
