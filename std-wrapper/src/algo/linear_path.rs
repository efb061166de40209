//! How ML-Mat-VAMP solves its linear layers: by the SVD of each weight matrix
//! ([`mlamp_core::ml_vamp::LinearLayer`]) or matrix-free ([`crate::algo::matrix_free`]), and
//! the cost model that chooses between them.
//!
//! # The cost model
//!
//! For a layer `W` of `m × n` (`r = min(m, n)`), `d` columns per row and `I` iterations, in
//! seconds on one core (rough constants: the SVD bench's 0.6 s for 2000 × 1000, a quarter of
//! that per `m n r` for the Gram eigenvalues, memory speed for the products; the loaded runs
//! of `cargo run --release --example ml_vamp_paths` in the README put the crossover on
//! eq. 18 nearer n = 2000 than the model's ~3750, so recalibrating on a quiet machine is
//! left to do):
//!
//! - SVD path: `C_SVD · m n r` once (faer's divide and conquer with thin vectors), then per
//!   iteration five products with the factors, `C_READ · 5 (m + n) r` (the factors are read
//!   at about memory speed, whatever `d ≤ 8`);
//! - matrix-free path: `C_VALUES · m n r` once (the singular values alone; none for
//!   `spectrum` weights, whose values are known), then per iteration two solves of
//!   `K` conjugate-gradient products each per column, each product a `W p` and a `Wᵀ q`:
//!   `C_READ · 4 K d m n` (two reads of `W` per product; [`crate::linalg::dense::FastDense::apply_gram`]
//!   streams it once, which the model does not yet credit).
//!
//! `Auto` takes the path of lower total time for `I = `[`EXPECTED_ITERATIONS`] and
//! `K = `[`EXPECTED_PRODUCTS`] (the warm-started solves' typical count), summed over the
//! layers; and the matrix-free path whenever the SVD path's memory estimate does not fit the
//! limit while the matrix-free one does. The choice depends on the sizes (and the limit) only,
//! never on the data, so a run's bits do not depend on the machine's load.

use std::fmt;
use std::str::FromStr;

use crate::model::Model;

/// Which linear solver ML-Mat-VAMP uses (`--linear svd|cg|auto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LinearPath {
    /// The SVD of every weight matrix, once, with its vectors (the reference).
    Svd,
    /// Conjugate gradients on the normal equations, the Jacobians from the singular values.
    MatrixFree,
    /// Chosen by the cost model (module docs).
    #[default]
    Auto,
}

impl LinearPath {
    /// `svd`, `cg` or `auto`, as the option and the JSON spell it.
    pub fn name(self) -> &'static str {
        match self {
            LinearPath::Svd => "svd",
            LinearPath::MatrixFree => "cg",
            LinearPath::Auto => "auto",
        }
    }
}

impl fmt::Display for LinearPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LinearPath {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "svd" => Ok(LinearPath::Svd),
            "cg" => Ok(LinearPath::MatrixFree),
            "auto" => Ok(LinearPath::Auto),
            _ => Err(format!("unknown linear solver `{s}`: svd, cg or auto")),
        }
    }
}

/// Seconds per `m n r` of faer's thin SVD on one core (measured: module docs).
pub const C_SVD: f64 = 3.0e-10;
/// Seconds per `m n r` of the singular values alone on one core (measured).
pub const C_VALUES: f64 = 1.0e-10;
/// Seconds per matrix entry read by a product (measured, out of cache).
pub const C_READ: f64 = 2.5e-10;
/// The iterations the cost model assumes.
pub const EXPECTED_ITERATIONS: f64 = 100.0;
/// The conjugate-gradient products per solve the cost model assumes.
pub const EXPECTED_PRODUCTS: f64 = 10.0;

/// The cost model's seconds for the whole run on each path, `(svd, matrix_free)`, for the
/// sizes `n_0, …, n_L` and `d` (`spectrum[k]`: layer `k`'s singular values are known).
pub fn costs(sizes: &[f64], d: usize, spectrum: &[bool]) -> (f64, f64) {
    let (mut svd, mut cg) = (0.0, 0.0);
    for (k, pair) in sizes.windows(2).enumerate() {
        let (n, m) = (pair[0], pair[1]);
        let r = m.min(n);
        let known = spectrum.get(k).copied().unwrap_or(false);
        if !known {
            svd += C_SVD * m * n * r;
            cg += C_VALUES * m * n * r;
        }
        svd += EXPECTED_ITERATIONS * C_READ * 5.0 * (m + n) * r;
        cg += EXPECTED_ITERATIONS * C_READ * 4.0 * EXPECTED_PRODUCTS * d as f64 * m * n;
    }
    (svd, cg)
}

/// The path a run of `model` with `n` rows takes: `path` itself unless it is
/// [`LinearPath::Auto`], which the cost model resolves (module docs); with a `limit`
/// in bytes, the matrix-free path if only its memory estimate fits.
pub fn resolve(path: LinearPath, model: &Model, n: usize, limit: Option<u64>) -> LinearPath {
    if path != LinearPath::Auto {
        return path;
    }
    let mut sizes = vec![n as f64];
    for l in &model.layers {
        let next = (l.alpha * sizes.last().copied().unwrap_or(0.0)).round();
        sizes.push(next);
    }
    let spectrum: Vec<bool> = model
        .layers
        .iter()
        .map(|l| !matches!(l.weights, crate::model::WeightsSpec::Gaussian {}))
        .collect();
    let (svd, cg) = costs(&sizes, model.d, &spectrum);
    let by_time = if cg < svd {
        LinearPath::MatrixFree
    } else {
        LinearPath::Svd
    };
    if let Some(limit) = limit {
        use crate::memory::{Usage, estimate};
        let fits = |p: LinearPath| estimate(model, n, Usage::Vamp(p)) <= limit as f64;
        if !fits(LinearPath::Svd) && fits(LinearPath::MatrixFree) {
            return LinearPath::MatrixFree;
        }
    }
    by_time
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_are_errors() {
        for p in [LinearPath::Svd, LinearPath::MatrixFree, LinearPath::Auto] {
            assert_eq!(p.name().parse::<LinearPath>(), Ok(p));
        }
        let e = "lu".parse::<LinearPath>().unwrap_err();
        assert!(e.contains("svd, cg or auto"), "{e}");
    }

    #[test]
    fn the_svd_for_small_layers_and_cg_for_large_ones() {
        // The SVD's n³ against the solves' K I n² d: the matrix-free path wins from
        // n ≈ 4 K I C_READ / (C_SVD − C_VALUES) (minus the SVD path's own products) on.
        let square = |n: f64| costs(&[n, n, n], 1, &[false, false]);
        let (svd, cg) = square(500.0);
        assert!(svd < cg, "{svd} {cg}");
        let (svd, cg) = square(16000.0);
        assert!(cg < svd, "{svd} {cg}");
        // Known spectra remove the values' cost, not the SVD's... nor the products'.
        let (_, cg_known) = costs(&[16000.0, 16000.0], 1, &[true]);
        let (_, cg_unknown) = costs(&[16000.0, 16000.0], 1, &[false]);
        assert!(cg_known < cg_unknown);
        // More columns per row cost the matrix-free path d products per solve.
        let (_, cg4) = costs(&[16000.0, 16000.0], 4, &[false]);
        assert!(cg4 > cg_unknown);
    }
}
