//! k-means on a full data set: k-means++ seeding (Arthur and Vassilvitskii, *k-means++: the
//! advantages of careful seeding*) then Lloyd's iterations, the baseline of sketched
//! clustering.

use rand_distr::{Distribution, StandardUniform};

use super::{check_matrix, squared_distance};
use crate::error::Error;
use crate::streams::stream;

/// What [`kmeans`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct KMeans {
    /// The centroids, `d × p` row-major.
    pub centroids: Vec<f64>,
    /// The sum of squared distances of every point to its nearest centroid.
    pub sse: f64,
    /// Lloyd's iterations run.
    pub iterations: usize,
    /// The assignments stopped changing (else `max_iter` was reached).
    pub converged: bool,
}

/// The index of the centroid (`d × p`) nearest `x` and the squared distance to it (the first
/// one on a tie).
pub fn nearest(x: &[f64], centroids: &[f64], p: usize) -> (usize, f64) {
    centroids
        .chunks_exact(p)
        .enumerate()
        .fold((0, f64::INFINITY), |(bi, bd), (j, c)| {
            let dist = squared_distance(x, c);
            if dist < bd { (j, dist) } else { (bi, bd) }
        })
}

/// The clustering cost of `centroids` (`d × p`) on `data` (`M × p`): the sum over the points
/// of the squared distance to the nearest centroid. Errors name `data` or `centroids`.
pub fn sse(data: &[f64], p: usize, centroids: &[f64]) -> Result<f64, Error> {
    check_matrix("data", data, data.len() / p.max(1), p)?;
    check_matrix("centroids", centroids, centroids.len() / p.max(1), p)?;
    Ok(data
        .chunks_exact(p)
        .map(|x| nearest(x, centroids, p).1)
        .sum())
}

/// k-means++ seeding: the first centroid a uniformly drawn point, each next one a point drawn
/// with probability proportional to its squared distance to the nearest centroid so far (a
/// uniform point again if every point coincides with one); seeded by `seed` (stream 0).
pub fn kmeans_pp(data: &[f64], p: usize, d: usize, seed: u64) -> Result<Vec<f64>, Error> {
    let m = check(data, p, d)?;
    let mut rng = stream(seed, 0);
    let mut uniform = || -> f64 { StandardUniform.sample(&mut rng) };
    let first = ((uniform() * m as f64) as usize).min(m - 1);
    let mut centroids = data[first * p..(first + 1) * p].to_vec();
    let mut dist: Vec<f64> = data
        .chunks_exact(p)
        .map(|x| squared_distance(x, &centroids))
        .collect();
    for _ in 1..d {
        let total: f64 = dist.iter().sum();
        let u = uniform();
        let pick = if total > 0.0 {
            let target = u * total;
            let mut acc = 0.0;
            dist.iter()
                .position(|&v| {
                    acc += v;
                    acc > target
                })
                .unwrap_or(m - 1)
        } else {
            ((u * m as f64) as usize).min(m - 1)
        };
        let c = data[pick * p..(pick + 1) * p].to_vec();
        for (v, x) in dist.iter_mut().zip(data.chunks_exact(p)) {
            *v = v.min(squared_distance(x, &c));
        }
        centroids.extend_from_slice(&c);
    }
    Ok(centroids)
}

/// Lloyd's iterations from `start` (`d × p`): assign every point to its nearest centroid,
/// move every centroid to the mean of its points (a centroid without points stays), until the
/// assignments stop changing or after `max_iter` iterations.
pub fn lloyd(data: &[f64], p: usize, start: &[f64], max_iter: usize) -> Result<KMeans, Error> {
    let d = start.len() / p.max(1);
    check(data, p, d)?;
    check_matrix("start", start, d, p)?;
    let mut centroids = start.to_vec();
    let mut assign = vec![usize::MAX; data.len() / p];
    let (mut iterations, mut converged) = (0, false);
    while iterations < max_iter {
        iterations += 1;
        let mut changed = false;
        for (a, x) in assign.iter_mut().zip(data.chunks_exact(p)) {
            let (j, _) = nearest(x, &centroids, p);
            changed |= *a != j;
            *a = j;
        }
        if !changed {
            converged = true;
            break;
        }
        let mut sums = vec![0.0; d * p];
        let mut counts = vec![0usize; d];
        for (&a, x) in assign.iter().zip(data.chunks_exact(p)) {
            counts[a] += 1;
            for (s, v) in sums[a * p..(a + 1) * p].iter_mut().zip(x) {
                *s += v;
            }
        }
        for j in 0..d {
            if counts[j] > 0 {
                for k in 0..p {
                    centroids[j * p + k] = sums[j * p + k] / counts[j] as f64;
                }
            }
        }
    }
    let sse = sse(data, p, &centroids)?;
    Ok(KMeans {
        centroids,
        sse,
        iterations,
        converged,
    })
}

/// k-means: [`kmeans_pp`] seeding then [`lloyd`] (at most `max_iter` iterations). Errors
/// ([`Error::Invalid`]): `data` not `M × p` finite values, `d` not in `1..=M`.
pub fn kmeans(
    data: &[f64],
    p: usize,
    d: usize,
    seed: u64,
    max_iter: usize,
) -> Result<KMeans, Error> {
    let start = kmeans_pp(data, p, d, seed)?;
    lloyd(data, p, &start, max_iter)
}

/// Checks `data` (`M × p`) and `d ∈ 1..=M`; returns `M`.
fn check(data: &[f64], p: usize, d: usize) -> Result<usize, Error> {
    if p == 0 {
        return Err(Error::invalid("p", "must be at least 1"));
    }
    let m = data.len() / p;
    check_matrix("data", data, m, p)?;
    if d == 0 || d > m {
        return Err(Error::invalid(
            "d",
            format!("must be between 1 and the number of points {m}, got {d}"),
        ));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::normal;

    /// `d` clusters of `per` points in `R^p`: centres `10·e_j`-like (far apart), unit spread.
    fn blobs(p: usize, d: usize, per: usize, spread: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = stream(seed, 1);
        let centres: Vec<f64> = (0..d * p).map(|_| 10.0 * normal(&mut rng)).collect();
        let mut data = Vec::with_capacity(d * per * p);
        for i in 0..d * per {
            let j = i % d;
            for k in 0..p {
                data.push(centres[j * p + k] + spread * normal(&mut rng));
            }
        }
        (data, centres)
    }

    #[test]
    fn lloyd_stops_at_a_fixed_point() {
        // At convergence every centroid is the mean of the points nearest it and the SSE is
        // that of the nearest-centroid assignment, both recomputed here by plain loops.
        let (p, d) = (3, 4);
        let (data, _) = blobs(p, d, 200, 3.0, 5);
        let km = kmeans(&data, p, d, 11, 300).unwrap();
        assert!(km.converged);
        let mut sums = vec![0.0; d * p];
        let mut counts = vec![0usize; d];
        let mut cost = 0.0;
        for x in data.chunks_exact(p) {
            let mut best = (0, f64::INFINITY);
            for j in 0..d {
                let dist: f64 = (0..p)
                    .map(|k| (x[k] - km.centroids[j * p + k]).powi(2))
                    .sum();
                if dist < best.1 {
                    best = (j, dist);
                }
            }
            cost += best.1;
            counts[best.0] += 1;
            for k in 0..p {
                sums[best.0 * p + k] += x[k];
            }
        }
        for j in 0..d {
            for k in 0..p {
                let mean = sums[j * p + k] / counts[j] as f64;
                assert!((km.centroids[j * p + k] - mean).abs() < 1e-12);
            }
        }
        assert!((km.sse - cost).abs() < 1e-9 * cost);
    }

    #[test]
    fn separated_blobs_are_found() {
        // Four clusters 10 sd apart: k-means++ seeds one point in each (with high probability)
        // and the centroids are the clusters' sample means, within 4 standard errors of the
        // true centres (spread/√per per coordinate).
        let (p, d, per) = (5, 4, 500);
        let (data, centres) = blobs(p, d, per, 1.0, 2);
        let km = kmeans(&data, p, d, 3, 100).unwrap();
        let err = crate::clustering::matching::centroid_error(&km.centroids, &centres, p).unwrap();
        let tol = 4.0 * (1.0 / per as f64).sqrt();
        assert!(err.max_distance < tol * (p as f64).sqrt(), "{err:?}");
    }

    #[test]
    fn duplicated_points_give_zero_cost() {
        // Three distinct points repeated: k-means++ never picks a point twice while another
        // has positive distance, so the three are the centroids and the SSE is 0.
        let pts = [[0.0, 0.0], [5.0, 1.0], [-3.0, 4.0]];
        let data: Vec<f64> = (0..30).flat_map(|i| pts[i % 3]).collect();
        for seed in 0..10 {
            let km = kmeans(&data, 2, 3, seed, 10).unwrap();
            assert_eq!(km.sse, 0.0, "seed {seed}");
        }
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let data = vec![0.0, 1.0, 2.0, 3.0];
        for (d, field) in [(0, "d"), (3, "d")] {
            let e = kmeans(&data, 2, d, 0, 10).unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
        let e = kmeans(&[0.0, f64::NAN], 2, 1, 0, 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("data") && e.contains("NaN"), "{e}");
        let e = kmeans(&[0.0, 1.0, 2.0], 2, 1, 0, 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("data"), "{e}");
    }
}
