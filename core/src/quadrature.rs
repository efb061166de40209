//! Gauss–Hermite quadrature for expectations over a standard normal variable, without
//! allocation: the nodes and weights of an `N`-point rule live in const-generic arrays.
//!
//! `E_{ξ ~ N(0,1)} f(ξ) ≈ Σ_i w_i f(x_i)`, exact for polynomials of degree ≤ 2N − 1.

use crate::real::Real;

/// A quadrature rule for the standard normal measure, borrowed as two slices of equal length.
///
/// This is what priors, channels and the state evolution take, so that they need not be
/// generic over the number of nodes.
#[derive(Clone, Copy, Debug)]
pub struct Rule<'a, T> {
    nodes: &'a [T],
    weights: &'a [T],
}

impl<'a, T: Real> Rule<'a, T> {
    /// A rule from nodes and weights (weights summing to 1). `None` if the lengths differ or
    /// the rule is empty.
    pub fn new(nodes: &'a [T], weights: &'a [T]) -> Option<Self> {
        (nodes.len() == weights.len() && !nodes.is_empty()).then_some(Self { nodes, weights })
    }

    /// The nodes x_i.
    pub fn nodes(&self) -> &'a [T] {
        self.nodes
    }

    /// The weights w_i (they sum to 1).
    pub fn weights(&self) -> &'a [T] {
        self.weights
    }

    /// `(x_i, w_i)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (T, T)> + 'a {
        self.nodes.iter().copied().zip(self.weights.iter().copied())
    }

    /// `Σ_i w_i f(x_i) ≈ E_{ξ ~ N(0,1)} f(ξ)`.
    pub fn expect(&self, mut f: impl FnMut(T) -> T) -> T {
        self.iter().map(|(x, w)| w * f(x)).sum()
    }
}

/// An `N`-point Gauss–Hermite rule for the standard normal measure (probabilists' form).
#[derive(Clone, Debug)]
pub struct GaussHermite<T, const N: usize> {
    nodes: [T; N],
    weights: [T; N],
}

impl<T: Real, const N: usize> GaussHermite<T, N> {
    /// Computes the rule: the roots of the physicists' Hermite polynomial H_N by Newton's
    /// method on the orthonormal three-term recurrence (in `f64`), rescaled to the measure
    /// e^{−x²/2}/√(2π): x_i = √2 t_i, w_i = ω_i/√π.
    ///
    /// # Panics
    /// At compile time if `N == 0`.
    pub fn new() -> Self {
        const { assert!(N > 0, "a quadrature rule needs at least one node") };
        let mut t = [0.0f64; N];
        let mut om = [0.0f64; N];
        let n = N as f64;
        let pim4 = 0.751_125_544_464_942_5; // π^{-1/4}
        let half = N.div_ceil(2);
        let mut z = 0.0f64;
        for i in 0..half {
            z = match i {
                0 => libm::sqrt(2.0 * n + 1.0) - 1.85575 * libm::pow(2.0 * n + 1.0, -1.0 / 6.0),
                1 => z - 1.14 * libm::pow(n, 0.426) / z,
                2 => 1.86 * z - 0.86 * t[0],
                3 => 1.91 * z - 0.91 * t[1],
                _ => 2.0 * z - t[i - 2],
            };
            let mut pp = 1.0;
            for _ in 0..100 {
                let (mut p1, mut p2) = (pim4, 0.0);
                for j in 1..=N {
                    let p3 = p2;
                    p2 = p1;
                    let jf = j as f64;
                    p1 = z * libm::sqrt(2.0 / jf) * p2 - libm::sqrt((jf - 1.0) / jf) * p3;
                }
                pp = libm::sqrt(2.0 * n) * p2;
                let dz = p1 / pp;
                z -= dz;
                if libm::fabs(dz) <= 1e-15 * libm::fabs(z).max(1.0) {
                    break;
                }
            }
            t[i] = z;
            t[N - 1 - i] = -z;
            om[i] = 2.0 / (pp * pp);
            om[N - 1 - i] = om[i];
        }
        if N % 2 == 1 {
            t[N / 2] = 0.0;
        }
        let sqrt2 = core::f64::consts::SQRT_2;
        let inv_sqrt_pi = 0.564_189_583_547_756_3;
        // Ascending order, weights normalised to sum exactly to one in f64.
        let total: f64 = om.iter().sum::<f64>() * inv_sqrt_pi;
        Self {
            nodes: core::array::from_fn(|i| T::c(sqrt2 * t[N - 1 - i])),
            weights: core::array::from_fn(|i| T::c(om[N - 1 - i] * inv_sqrt_pi / total)),
        }
    }

    /// The borrowed rule.
    pub fn rule(&self) -> Rule<'_, T> {
        Rule {
            nodes: &self.nodes,
            weights: &self.weights,
        }
    }
}

impl<T: Real, const N: usize> Default for GaussHermite<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// E ξ^{2k} = (2k − 1)!! for a standard normal ξ.
    fn double_factorial(k: u32) -> f64 {
        (1..=k).map(|j| (2 * j - 1) as f64).product()
    }

    #[test]
    fn moments_are_exact() {
        let gh = GaussHermite::<f64, 20>::new();
        let r = gh.rule();
        for k in 0..20u32 {
            let m = r.expect(|x| x.powi(k as i32));
            let want = if k % 2 == 1 {
                0.0
            } else {
                double_factorial(k / 2)
            };
            // Odd moments cancel to 0 from terms of the size of the next even moment.
            let scale = double_factorial(k.div_ceil(2));
            assert!(
                (m - want).abs() <= 1e-12 * scale,
                "moment {k}: {m} vs {want}"
            );
        }
    }

    #[test]
    fn large_rules_integrate_smooth_functions() {
        // E cos(ξ) = e^{-1/2}, E e^{ξ} = e^{1/2}.
        let gh = GaussHermite::<f64, 120>::new();
        let r = gh.rule();
        assert!((r.expect(|x| x.cos()) - (-0.5f64).exp()).abs() < 1e-13);
        assert!((r.expect(|x| x.exp()) - 0.5f64.exp()).abs() < 1e-12);
        let gh32 = GaussHermite::<f32, 40>::new();
        assert!((gh32.rule().expect(|x| x * x) - 1.0).abs() < 1e-5);
    }
}
