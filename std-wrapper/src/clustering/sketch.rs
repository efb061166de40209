//! The sketch of a data set (Keriven, Bourrier, Gribonval, Pérez, *Sketching for large-scale
//! learning of mixture models*; section 2.2 of Pandit, Sahraee-Ardakan, Rangan, Schniter,
//! Fletcher, *Matrix inference and estimation in multi-layer models*):
//! `y_i = (1/M) Σ_m e^{√−1 x_iᵀ u_m}`, `i = 1..n`, the empirical characteristic function of the
//! points `u_m ∈ R^p` at `n` random frequencies `x_i`, computed in one pass over the data;
//! and the weights `α` of given centroids by non-negative least squares.
//!
//! For a mixture of Gaussians `Σ_j α_j N(f_j, σ² I)` the sketch's expectation is
//! `e^{−σ²‖x_i‖²/2} Σ_j α_j e^{√−1 x_iᵀ f_j}`: the output of the ML-Mat-VAMP model
//! (`Σ_j α_j e^{√−1 z_ij}`, `z_i = Fᵀ x_i`) times a known damping of each row, which
//! [`compensate`] divides out (the clusters' spread `σ²` known).

use rayon::prelude::*;

use super::check_matrix;
use crate::error::Error;
use crate::streams::{normal, stream};

/// `n` frequencies in `R^p`, iid `N(0, var I_p)`, row-major `n × p` (stream 1 of `seed`).
pub fn frequencies(n: usize, p: usize, var: f64, seed: u64) -> Result<Vec<f64>, Error> {
    if !(var.is_finite() && var > 0.0) {
        return Err(Error::invalid(
            "frequency variance",
            "must be finite and > 0",
        ));
    }
    let mut rng = stream(seed, 1);
    let sd = var.sqrt();
    Ok((0..n * p).map(|_| sd * normal(&mut rng)).collect())
}

/// The sketch `y_i = (1/M) Σ_m e^{√−1 x_iᵀ u_m}` of `data` (`M × p`) at the frequencies `x`
/// (`n × p`), as `n × 2` reals (`Re y_i`, `Im y_i`). One pass over the data per frequency
/// row, the rows in parallel; each row's sum runs in the data's order, so the bits do not
/// depend on the thread count. Errors name `data` or `frequencies`.
pub fn sketch(data: &[f64], x: &[f64], p: usize) -> Result<Vec<f64>, Error> {
    if p == 0 {
        return Err(Error::invalid("p", "must be at least 1"));
    }
    let (m, n) = (data.len() / p, x.len() / p);
    check_matrix("data", data, m, p)?;
    check_matrix("frequencies", x, n, p)?;
    let rows: Vec<[f64; 2]> = x
        .par_chunks_exact(p)
        .map(|xi| {
            let (mut re, mut im) = (0.0, 0.0);
            for u in data.chunks_exact(p) {
                let t: f64 = xi.iter().zip(u).map(|(a, b)| a * b).sum();
                re += t.cos();
                im += t.sin();
            }
            [re / m as f64, im / m as f64]
        })
        .collect();
    Ok(rows.into_iter().flatten().collect())
}

/// `y_i e^{σ² ‖x_i‖²/2}`: the sketch `y` (`n × 2`) with the damping of Gaussian clusters of
/// variance `cluster_var = σ²` per coordinate divided out (see the module docs). Errors name
/// `sketch`, `frequencies` or `cluster_var`.
pub fn compensate(y: &[f64], x: &[f64], p: usize, cluster_var: f64) -> Result<Vec<f64>, Error> {
    let n = x.len() / p.max(1);
    check_matrix("frequencies", x, n, p)?;
    check_matrix("sketch", y, n, 2)?;
    if !(cluster_var.is_finite() && cluster_var >= 0.0) {
        return Err(Error::invalid("cluster_var", "must be finite and >= 0"));
    }
    Ok(y.chunks_exact(2)
        .zip(x.chunks_exact(p))
        .flat_map(|(yi, xi)| {
            let g = (0.5 * cluster_var * xi.iter().map(|v| v * v).sum::<f64>()).exp();
            [yi[0] * g, yi[1] * g]
        })
        .collect())
}

/// The weights `α ≥ 0` minimising `Σ_i |y_i − Σ_j α_j e^{√−1 x_iᵀ f_j}|²` for the centroids
/// `f` (`p × d`, ML-Mat-VAMP's signal layout), the frequencies `x` (`n × p`) and the sketch
/// `y` (`n × 2`): exact non-negative least squares by enumerating the `2^d − 1` supports (the
/// optimum is the unconstrained least-squares fit on its support, with positive weights
/// there; every other feasible fit costs at least as much), `d ≤ 8`.
pub fn nnls_weights(
    x: &[f64],
    y: &[f64],
    f: &[f64],
    p: usize,
    d: usize,
) -> Result<Vec<f64>, Error> {
    let n = x.len() / p.max(1);
    check_matrix("frequencies", x, n, p)?;
    check_matrix("sketch", y, n, 2)?;
    check_matrix("centroids", f, p, d)?;
    if d > 8 {
        return Err(Error::invalid(
            "d",
            "at most 8 centroids (2^d supports are tried)",
        ));
    }
    // A's column j, as n complex numbers e^{i x_iᵀ f_j}; real inner products over 2n reals.
    let cols: Vec<Vec<[f64; 2]>> = (0..d)
        .map(|j| {
            x.chunks_exact(p)
                .map(|xi| {
                    let z: f64 = (0..p).map(|k| xi[k] * f[k * d + j]).sum();
                    [z.cos(), z.sin()]
                })
                .collect()
        })
        .collect();
    let dot = |a: &[[f64; 2]], b: &[[f64; 2]]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(u, v)| u[0] * v[0] + u[1] * v[1])
            .sum()
    };
    let yc: Vec<[f64; 2]> = y.chunks_exact(2).map(|v| [v[0], v[1]]).collect();
    let gram: Vec<f64> = (0..d * d)
        .map(|ij| dot(&cols[ij / d], &cols[ij % d]))
        .collect();
    let rhs: Vec<f64> = (0..d).map(|j| dot(&cols[j], &yc)).collect();
    let yy = dot(&yc, &yc);
    let mut best: Option<(f64, Vec<f64>)> = None;
    for mask in 1u32..(1 << d) {
        let support: Vec<usize> = (0..d).filter(|&j| mask & (1 << j) != 0).collect();
        let k = support.len();
        let g = nalgebra::DMatrix::from_fn(k, k, |a, b| gram[support[a] * d + support[b]]);
        let r = nalgebra::DVector::from_fn(k, |a, _| rhs[support[a]]);
        let Some(sol) = g.clone().cholesky().map(|c| c.solve(&r)) else {
            continue;
        };
        if sol.iter().any(|&v| v.is_nan() || v < 0.0) {
            continue;
        }
        // ‖y − Aα‖² = yᵀy − 2 αᵀAᵀy + αᵀ AᵀA α.
        let cost = yy - 2.0 * sol.dot(&r) + sol.dot(&(&g * &sol));
        if best.as_ref().is_none_or(|(c, _)| cost < *c) {
            let mut alpha = vec![0.0; d];
            for (a, &j) in support.iter().enumerate() {
                alpha[j] = sol[a];
            }
            best = Some((cost, alpha));
        }
    }
    Ok(best.map(|(_, a)| a).unwrap_or_else(|| vec![0.0; d]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketch_of_one_point_is_its_phasor_and_data_order_is_a_sum() {
        let p = 3;
        let x = frequencies(5, p, 0.7, 1).unwrap();
        let u = [0.3, -1.0, 2.0];
        let y = sketch(&u, &x, p).unwrap();
        for (yi, xi) in y.chunks_exact(2).zip(x.chunks_exact(p)) {
            let t: f64 = xi.iter().zip(&u).map(|(a, b)| a * b).sum();
            assert!((yi[0] - t.cos()).abs() < 1e-15 && (yi[1] - t.sin()).abs() < 1e-15);
        }
        // Two points: the mean of their phasors.
        let v = [1.0, 0.5, -0.5];
        let both: Vec<f64> = u.iter().chain(&v).copied().collect();
        let y2 = sketch(&both, &x, p).unwrap();
        let yv = sketch(&v, &x, p).unwrap();
        for i in 0..10 {
            assert!((y2[i] - 0.5 * (y[i] + yv[i])).abs() < 1e-15);
        }
        assert!(
            sketch(&[f64::NAN, 0.0, 0.0], &x, p)
                .unwrap_err()
                .to_string()
                .contains("data")
        );
        assert!(frequencies(3, 2, -1.0, 0).is_err());
    }

    #[test]
    fn compensated_sketch_of_a_gaussian_cluster_is_its_centre_phasor() {
        // 2·10⁵ points of N(f, σ² I): E e^{i xᵀu} = e^{−σ²‖x‖²/2} e^{i xᵀf}; after compensation
        // the sketch is e^{i xᵀf} within the Monte-Carlo error (sd ≲ e^{σ²‖x‖²/2}/√(2M)).
        let (p, sigma2, m) = (2, 0.5f64, 200_000);
        let f = [0.7, -0.4];
        let mut rng = stream(9, 0);
        let data: Vec<f64> = (0..m * p)
            .map(|k| f[k % p] + sigma2.sqrt() * normal(&mut rng))
            .collect();
        let x = frequencies(20, p, 1.0, 3).unwrap();
        let y = compensate(&sketch(&data, &x, p).unwrap(), &x, p, sigma2).unwrap();
        for (yi, xi) in y.chunks_exact(2).zip(x.chunks_exact(p)) {
            let t = xi[0] * f[0] + xi[1] * f[1];
            let g = (0.5 * sigma2 * (xi[0] * xi[0] + xi[1] * xi[1])).exp();
            let tol = 5.0 * g / (2.0 * m as f64).sqrt();
            assert!(
                (yi[0] - t.cos()).abs() < tol && (yi[1] - t.sin()).abs() < tol,
                "{yi:?}"
            );
        }
    }

    #[test]
    fn nnls_recovers_exact_weights_and_meets_its_kkt_conditions() {
        let (n, p, d) = (40, 2, 3);
        let x = frequencies(n, p, 1.0, 4).unwrap();
        // f is p × d: centroids (1, 0), (−1, 0.5), (0, −1).
        let f = [1.0, -1.0, 0.0, 0.0, 0.5, -1.0];
        let phasor = |i: usize, j: usize| {
            let z = x[i * p] * f[j] + x[i * p + 1] * f[d + j];
            [z.cos(), z.sin()]
        };
        let alpha = [0.5, 0.2, 0.3];
        let y: Vec<f64> = (0..n)
            .flat_map(|i| {
                (0..d).fold([0.0, 0.0], |acc, j| {
                    let e = phasor(i, j);
                    [acc[0] + alpha[j] * e[0], acc[1] + alpha[j] * e[1]]
                })
            })
            .collect();
        let a = nnls_weights(&x, &y, &f, p, d).unwrap();
        for j in 0..d {
            assert!((a[j] - alpha[j]).abs() < 1e-10, "{a:?}");
        }
        // A sketch pulling one weight negative: the optimum has it at 0, and the gradient
        // Aᵀ(Aα − y) vanishes on the support and is ≥ 0 off it (KKT, checked directly).
        let y_neg: Vec<f64> = (0..n)
            .flat_map(|i| {
                let (e0, e1) = (phasor(i, 0), phasor(i, 1));
                [e0[0] - 0.4 * e1[0], e0[1] - 0.4 * e1[1]]
            })
            .collect();
        let a = nnls_weights(&x, &y_neg, &f, p, d).unwrap();
        assert!(a.iter().all(|&v| v >= 0.0) && a[1] == 0.0, "{a:?}");
        for j in 0..d {
            let g: f64 = (0..n)
                .map(|i| {
                    let fit = (0..d).fold([0.0, 0.0], |acc, k| {
                        let e = phasor(i, k);
                        [acc[0] + a[k] * e[0], acc[1] + a[k] * e[1]]
                    });
                    let e = phasor(i, j);
                    e[0] * (fit[0] - y_neg[2 * i]) + e[1] * (fit[1] - y_neg[2 * i + 1])
                })
                .sum();
            if a[j] > 0.0 {
                assert!(g.abs() < 1e-9, "j {j}: {g}");
            } else {
                assert!(g >= -1e-9, "j {j}: {g}");
            }
        }
    }
}
