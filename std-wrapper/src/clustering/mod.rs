//! Sketched clustering (section 2.2 of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher,
//! *Matrix inference and estimation in multi-layer models*) and its baseline:
//!
//! - [`kmeans`]: k-means on the full data set, Lloyd's iterations from k-means++ seeding (the
//!   baseline the sketch is compared with);
//! - [`sketch`]: the frequencies, the sketch `y_i = (1/M) Σ_m e^{√−1 x_iᵀ u_m}` of a data set
//!   in one pass, and the non-negative least-squares weights `α` of given centroids;
//! - [`matching`]: the error between two sets of centroids up to their order;
//! - [`recovery`]: the centroids from the sketch alone, by ML-Mat-VAMP.
//!
//! Shapes: a data set is `M × p` row-major (one point a row); a set of centroids is `d × p`
//! row-major (one centroid a row); the signal `F` of ML-Mat-VAMP is its transpose, `p × d`
//! (one coordinate of all centroids a row). The frequencies `X` are `n × p` (one frequency a
//! row).

pub mod kmeans;
pub mod matching;
pub mod recovery;
pub mod sketch;

use crate::error::Error;

/// `Ok` if `data` holds `rows × cols` finite entries with `rows, cols ≥ 1`; else an
/// [`Error::Invalid`] naming `field`.
fn check_matrix(field: &str, data: &[f64], rows: usize, cols: usize) -> Result<(), Error> {
    if rows == 0 || cols == 0 {
        return Err(Error::invalid(
            field,
            "must have at least one row and one column",
        ));
    }
    if data.len() != rows * cols {
        return Err(Error::invalid(
            field,
            format!("has {} entries, expected {rows} × {cols}", data.len()),
        ));
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(field, "contains NaN or infinite values"));
    }
    Ok(())
}

/// `‖a − b‖²`.
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The `p × d` matrix `F` (row-major) of a `d × p` set of centroids, or back (a transpose).
pub fn transpose(data: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut out = vec![0.0; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            out[j * rows + i] = data[i * cols + j];
        }
    }
    out
}
