//! Random weight ensembles with a prescribed spectrum: Haar-distributed orthogonal frames and
//! `W = U diag(s) Vᵀ` with geometric singular values (the `spectrum` weights of model files).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder;
use faer::linalg::qr::no_pivoting::factor as qr;
use faer::{Conj, Mat};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::normal;
use crate::error::Error;
use crate::linalg::svd::{PAR, Svd, column_major, transpose};

/// [`haar_columns`], column-major in a faer matrix.
fn haar_mat(n: usize, r: usize, rng: &mut Xoshiro256PlusPlus) -> Result<Mat<f64>, Error> {
    if r > n {
        return Err(mlamp_core::Error::InvalidParameter {
            name: "r",
            requirement: "at most n (the columns of an n × n orthogonal matrix)",
        }
        .into());
    }
    // G: n × r standard Gaussian, drawn column by column.
    let mut g = Mat::<f64>::zeros(n, r);
    for j in 0..r {
        for i in 0..n {
            g[(i, j)] = normal(rng);
        }
    }
    if r == 0 {
        return Ok(g);
    }
    // G = QR (Householder, in place: R on and above the diagonal, the reflectors below).
    let block = qr::recommended_block_size::<f64>(n, r);
    let mut coeff = Mat::<f64>::zeros(block, r);
    let mut mem = MemBuffer::try_new(qr::qr_in_place_scratch::<f64>(
        n,
        r,
        block,
        PAR,
        Default::default(),
    ))
    .map_err(|_| crate::memory::allocation_failed("the QR's workspace"))?;
    qr::qr_in_place(
        g.as_mut(),
        coeff.as_mut(),
        PAR,
        MemStack::new(&mut mem),
        Default::default(),
    );
    // Mezzadri's fix: Q diag(sign R_jj) is the Q of the QR with a positive diagonal, which is
    // unique, so its law is the law of G's left-invariant frame: Haar.
    let signs: Vec<f64> = (0..r)
        .map(|j| if g[(j, j)] < 0.0 { -1.0 } else { 1.0 })
        .collect();
    for j in 0..r {
        for i in 0..=j {
            g[(i, j)] = if i == j { 1.0 } else { 0.0 };
        }
    }
    let mut q = Mat::<f64>::identity(n, r);
    let mut mem = MemBuffer::try_new(
        householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(
            n, block, r,
        ),
    )
    .map_err(|_| crate::memory::allocation_failed("the QR's workspace"))?;
    householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
        g.as_ref(),
        coeff.as_ref(),
        Conj::No,
        q.as_mut(),
        PAR,
        MemStack::new(&mut mem),
    );
    for (j, &sg) in signs.iter().enumerate() {
        for i in 0..n {
            q[(i, j)] *= sg;
        }
    }
    Ok(q)
}

/// The first `r` columns of a Haar-distributed `n × n` orthogonal matrix, row-major `n × r`:
/// the `Q` of the QR decomposition of an `n × r` standard Gaussian matrix (drawn column by
/// column from `rng` with [`normal`]), with the signs of `R`'s diagonal moved into `Q`
/// (Mezzadri's fix), which makes the law exactly Haar.
///
/// Errors: [`mlamp_core::Error::InvalidParameter`] (in [`Error::Core`]) if `r > n`.
pub fn haar_columns(n: usize, r: usize, rng: &mut Xoshiro256PlusPlus) -> Result<Vec<f64>, Error> {
    let q = haar_mat(n, r, rng)?;
    Ok(transpose(&column_major(q.as_ref()), r, n))
}

/// The singular values of the `spectrum` weights: `r = min(rows, cols)` values
/// `s_i = c κ^{−i/(r−1)}` for `i = 0, …, r − 1` (`s = c` if `r = 1`), `κ = condition_number`,
/// with `c` such that `Σ s_i² = rows` (the `‖W‖_F²` of a matrix of iid `N(0, 1/cols)`
/// entries). Deterministic: [`spectrum`] puts Haar singular vectors around them, and
/// [`crate::se::spectral_law::SpectralLaw::from_svd_spectrum`] averages over them.
///
/// Errors (in [`Error::Core`]): `InvalidParameter` if `κ` is not finite and `≥ 1`, or if
/// `rows` or `cols` is zero.
pub fn spectrum_singular_values(
    rows: usize,
    cols: usize,
    condition_number: f64,
) -> Result<Vec<f64>, Error> {
    let kappa = condition_number;
    if !(kappa.is_finite() && kappa >= 1.0) {
        return Err(mlamp_core::Error::InvalidParameter {
            name: "condition_number",
            requirement: "finite and >= 1",
        }
        .into());
    }
    let r = rows.min(cols);
    if r == 0 {
        return Err(mlamp_core::Error::InvalidParameter {
            name: "rows and cols",
            requirement: "positive",
        }
        .into());
    }
    let mut s: Vec<f64> = (0..r)
        .map(|i| {
            if r == 1 {
                1.0
            } else {
                kappa.powf(-(i as f64) / (r - 1) as f64)
            }
        })
        .collect();
    let c = (rows as f64 / s.iter().map(|x| x * x).sum::<f64>()).sqrt();
    s.iter_mut().for_each(|x| *x *= c);
    Ok(s)
}

/// A `rows × cols` weight matrix with Haar singular vectors and condition number `κ =
/// condition_number`: `U` (`rows × r`, first) then `V` (`cols × r`) from [`haar_columns`] on
/// `rng`, `r = min(rows, cols)`, and the singular values of [`spectrum_singular_values`]
/// (`s_i = c κ^{−i/(r−1)}`, `Σ s_i² = rows`).
///
/// Errors: those of [`spectrum_singular_values`], raised before `rng` is used.
pub fn spectrum(
    rows: usize,
    cols: usize,
    condition_number: f64,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<Svd, Error> {
    let s = spectrum_singular_values(rows, cols, condition_number)?;
    let r = s.len();
    let u = haar_mat(rows, r, rng)?;
    let v = haar_mat(cols, r, rng)?;
    Ok(Svd::from_column_major(
        column_major(u.as_ref()),
        s,
        column_major(v.as_ref()),
        rows,
        cols,
    ))
}
