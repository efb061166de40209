//! The error between an estimate of `d` centroids and the truth, up to the centroids' order
//! (the sketch, like k-means, cannot tell which centroid is which).

use super::{check_matrix, squared_distance};
use crate::error::Error;

/// The best matching of [`centroid_error`].
#[derive(Clone, Debug, PartialEq)]
pub struct CentroidError {
    /// `perm[j]`: the estimated centroid matched with true centroid `j`.
    pub perm: Vec<usize>,
    /// `Σ_j ‖f̂_{perm[j]} − f_j‖² / Σ_j ‖f_j‖²` (the minimum over all matchings).
    pub relative: f64,
    /// `max_j ‖f̂_{perm[j]} − f_j‖` under that matching.
    pub max_distance: f64,
}

/// The matching of the estimated centroids `estimate` (`d × p`) to `truth` (`d × p`) with
/// the least total squared distance, by brute force over the `d!` orders (`d ≤ 8`). Errors
/// name `estimate` or `truth` (shapes, non-finite values, `d > 8`).
pub fn centroid_error(estimate: &[f64], truth: &[f64], p: usize) -> Result<CentroidError, Error> {
    let d = truth.len() / p.max(1);
    check_matrix("truth", truth, d, p)?;
    check_matrix("estimate", estimate, d, p)?;
    if d > 8 {
        return Err(Error::invalid(
            "truth",
            "at most 8 centroids (d! orders are tried)",
        ));
    }
    let cost: Vec<f64> = (0..d * d)
        .map(|ij| {
            let (i, j) = (ij / d, ij % d);
            squared_distance(&estimate[i * p..(i + 1) * p], &truth[j * p..(j + 1) * p])
        })
        .collect();
    let mut perm: Vec<usize> = (0..d).collect();
    let mut best = (f64::INFINITY, perm.clone());
    permutations(&mut perm, 0, &mut |perm| {
        let total: f64 = (0..d).map(|j| cost[perm[j] * d + j]).sum();
        if total < best.0 {
            best = (total, perm.to_vec());
        }
    });
    let norm: f64 = truth.iter().map(|v| v * v).sum();
    let max_distance = (0..d)
        .map(|j| cost[best.1[j] * d + j].sqrt())
        .fold(0.0, f64::max);
    Ok(CentroidError {
        relative: best.0 / norm,
        max_distance,
        perm: best.1,
    })
}

/// Calls `visit` with every order of `perm[k..]` (Heap's recursion by swaps).
fn permutations(perm: &mut [usize], k: usize, visit: &mut dyn FnMut(&[usize])) {
    if k == perm.len() {
        visit(perm);
        return;
    }
    for i in k..perm.len() {
        perm.swap(k, i);
        permutations(perm, k + 1, visit);
        perm.swap(k, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permuted_copy_has_no_error_and_the_matching_undoes_it() {
        let truth = [1.0, 2.0, -3.0, 0.5, 4.0, 4.0, 0.0, -1.0];
        let order = [2, 0, 3, 1];
        let est: Vec<f64> = order
            .iter()
            .flat_map(|&j| truth[j * 2..j * 2 + 2].to_vec())
            .collect();
        let e = centroid_error(&est, &truth, 2).unwrap();
        assert_eq!(e.relative, 0.0);
        for (i, &j) in order.iter().enumerate() {
            assert_eq!(e.perm[j], i);
        }
        // One centroid moved by (3, 4): distance 5, relative 25/Σ‖f‖².
        let mut moved = est.clone();
        moved[0] += 3.0;
        moved[1] += 4.0;
        let e = centroid_error(&moved, &truth, 2).unwrap();
        let norm: f64 = truth.iter().map(|v| v * v).sum();
        assert!((e.relative - 25.0 / norm).abs() < 1e-15 && (e.max_distance - 5.0).abs() < 1e-15);
        let err = centroid_error(&moved[..6], &truth, 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains("estimate"), "{err}");
    }
}
