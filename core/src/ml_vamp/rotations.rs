//! The singular value decomposition of a weight matrix, as the rotations ML-Mat-VAMP applies.

use crate::real::Real;

/// A weight matrix `W` (`rows × cols`, our layer's outputs × inputs) given by a thin singular
/// value decomposition `W = U diag(s) Vᵀ`, with `U` (`rows × rank`) and `V` (`cols × rank`)
/// having orthonormal columns and `s_i ≥ 0`: the ML-Mat-VAMP paper's (Pandit,
/// Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in
/// multi-layer models*, section 3, with the transpose its text drops in one place)
/// `W_ℓ = V_ℓ diag(S_ℓ) V_{ℓ−1}ᵀ`, so our `U` is its `V_ℓ` (output side) and our `V` its
/// `V_{ℓ−1}` (input side), restricted to the first `rank` columns. The directions outside
/// the span of `U` (resp. `V`) are those of the paper's zero-padded singular values:
/// ML-Mat-VAMP treats them in closed form, so a thin decomposition is all it needs.
///
/// Matrices of rows (`n × d`, the ML-Mat-VAMP variables) are row-major slices of length
/// `n·d`: row `i` is `x[i*d .. (i+1)*d]`. Each product checks nothing (the algorithm checks
/// every buffer once); implementations may panic on a slice of the wrong length.
pub trait Rotations<T: Real> {
    /// `rows`: the number of outputs `n_out` (rows of `W`).
    fn rows(&self) -> usize;

    /// `cols`: the number of inputs `n_in` (columns of `W`).
    fn cols(&self) -> usize;

    /// The singular values `s_1, …, s_rank` (`rank ≤ min(rows, cols)`, each `≥ 0`; zeros
    /// allowed).
    fn singular_values(&self) -> &[T];

    /// `out = Uᵀ x`: `x` is `rows × d`, `out` is `rank × d`.
    fn left_t(&self, x: &[T], d: usize, out: &mut [T]);

    /// `out = U x`: `x` is `rank × d`, `out` is `rows × d`.
    fn left(&self, x: &[T], d: usize, out: &mut [T]);

    /// `out = Vᵀ x`: `x` is `cols × d`, `out` is `rank × d`.
    fn right_t(&self, x: &[T], d: usize, out: &mut [T]);

    /// `out = V x`: `x` is `rank × d`, `out` is `cols × d`.
    fn right(&self, x: &[T], d: usize, out: &mut [T]);
}

/// [`Rotations`] over caller-owned dense factors, with plain loops (no allocation; the
/// std wrapper has a blocked implementation for large matrices).
///
/// `u` is `rows × rank` and `v` is `cols × rank`, both row-major; `s` has `rank` entries.
#[derive(Clone, Copy, Debug)]
pub struct DenseRotations<'a, T> {
    u: &'a [T],
    v: &'a [T],
    s: &'a [T],
    rows: usize,
    cols: usize,
}

impl<'a, T: Real> DenseRotations<'a, T> {
    /// The factors `U` (`rows × rank`, row-major), `V` (`cols × rank`) and `s` (`rank`).
    ///
    /// Errors: [`crate::Error::ShapeMismatch`] unless `u.len() = rows·rank` and
    /// `v.len() = cols·rank` with `rank = s.len() ≤ min(rows, cols)`;
    /// [`crate::Error::NonFinite`] for a non-finite entry; [`crate::Error::InvalidParameter`]
    /// for a negative singular value. Orthonormality is the caller's.
    pub fn new(
        u: &'a [T],
        v: &'a [T],
        s: &'a [T],
        rows: usize,
        cols: usize,
    ) -> Result<Self, crate::Error> {
        let rank = s.len();
        if rank > rows.min(cols) {
            return Err(crate::Error::ShapeMismatch {
                what: "singular values",
                expected: rows.min(cols),
                found: rank,
            });
        }
        crate::error::length("left singular vectors", u, rows * rank)?;
        crate::error::length("right singular vectors", v, cols * rank)?;
        for (what, xs) in [("left singular vectors", u), ("right singular vectors", v)] {
            if !xs.iter().all(|x| x.is_finite()) {
                return Err(crate::Error::NonFinite { what });
            }
        }
        for &si in s {
            crate::error::non_negative("singular value", si)?;
        }
        Ok(Self {
            u,
            v,
            s,
            rows,
            cols,
        })
    }
}

/// `out = Aᵀ x` for `A` (`n × r`, row-major) and `x` (`n × d`): `out[j, :] = Σ_i A[i, j] x[i, :]`.
fn product_t<T: Real>(a: &[T], n: usize, r: usize, x: &[T], d: usize, out: &mut [T]) {
    out[..r * d].iter_mut().for_each(|o| *o = T::ZERO);
    for i in 0..n {
        let xi = &x[i * d..(i + 1) * d];
        for j in 0..r {
            let aij = a[i * r + j];
            for (o, &xv) in out[j * d..(j + 1) * d].iter_mut().zip(xi) {
                *o += aij * xv;
            }
        }
    }
}

/// `out = A x` for `A` (`n × r`, row-major) and `x` (`r × d`): `out[i, :] = Σ_j A[i, j] x[j, :]`.
fn product<T: Real>(a: &[T], n: usize, r: usize, x: &[T], d: usize, out: &mut [T]) {
    for i in 0..n {
        let o = &mut out[i * d..(i + 1) * d];
        o.iter_mut().for_each(|v| *v = T::ZERO);
        for j in 0..r {
            let aij = a[i * r + j];
            for (ov, &xv) in o.iter_mut().zip(&x[j * d..(j + 1) * d]) {
                *ov += aij * xv;
            }
        }
    }
}

impl<T: Real> Rotations<T> for DenseRotations<'_, T> {
    fn rows(&self) -> usize {
        self.rows
    }

    fn cols(&self) -> usize {
        self.cols
    }

    fn singular_values(&self) -> &[T] {
        self.s
    }

    fn left_t(&self, x: &[T], d: usize, out: &mut [T]) {
        product_t(self.u, self.rows, self.s.len(), x, d, out);
    }

    fn left(&self, x: &[T], d: usize, out: &mut [T]) {
        product(self.u, self.rows, self.s.len(), x, d, out);
    }

    fn right_t(&self, x: &[T], d: usize, out: &mut [T]) {
        product_t(self.v, self.cols, self.s.len(), x, d, out);
    }

    fn right(&self, x: &[T], d: usize, out: &mut [T]) {
        product(self.v, self.cols, self.s.len(), x, d, out);
    }
}
