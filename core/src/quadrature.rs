//! Gauss–Hermite quadrature for expectations over a standard normal variable, without
//! allocation: the nodes and weights of an `N`-point rule live in const-generic arrays.
//!
//! `E_{ξ ~ N(0,1)} f(ξ) ≈ Σ_i w_i f(x_i)`, exact for polynomials of degree ≤ 2N − 1.

use crate::real::Real;

/// What a quadrature can sum: a scalar, or a fixed-size vector of them (several expectations
/// of the same law in one pass).
pub trait Accumulator<T>: Copy {
    /// The zero.
    fn zero() -> Self;
    /// `self + w · x`.
    fn add_scaled(self, w: T, x: Self) -> Self;
}

impl<T: Real> Accumulator<T> for T {
    #[inline]
    fn zero() -> Self {
        T::ZERO
    }
    #[inline]
    fn add_scaled(self, w: T, x: Self) -> Self {
        self + w * x
    }
}

impl<T: Real, const K: usize> Accumulator<T> for [T; K] {
    #[inline]
    fn zero() -> Self {
        [T::ZERO; K]
    }
    #[inline]
    fn add_scaled(mut self, w: T, x: Self) -> Self {
        for (a, b) in self.iter_mut().zip(x) {
            *a += w * b;
        }
        self
    }
}

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
    pub fn expect<A: Accumulator<T>>(&self, mut f: impl FnMut(T) -> A) -> A {
        self.iter()
            .fold(A::zero(), |acc, (x, w)| acc.add_scaled(w, f(x)))
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

/// An `N`-point Gauss–Legendre rule on [−1, 1].
#[derive(Clone, Debug)]
pub struct GaussLegendre<T, const N: usize> {
    nodes: [T; N],
    weights: [T; N],
}

impl<T: Real, const N: usize> GaussLegendre<T, N> {
    /// The roots of the Legendre polynomial P_N by Newton's method (in `f64`) from
    /// `cos(π(i + 3/4)/(N + 1/2))`, with weights `2/((1 − x²) P_N'(x)²)`.
    pub fn new() -> Self {
        const { assert!(N > 0, "a quadrature rule needs at least one node") };
        let mut x = [0.0f64; N];
        let mut w = [0.0f64; N];
        let n = N as f64;
        for i in 0..N {
            let mut z = libm::cos(core::f64::consts::PI * (i as f64 + 0.75) / (n + 0.5));
            let mut dp = 1.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, z);
                for j in 2..=N {
                    let jf = j as f64;
                    let p2 = ((2.0 * jf - 1.0) * z * p1 - (jf - 1.0) * p0) / jf;
                    p0 = p1;
                    p1 = p2;
                }
                let p = if N == 1 { z } else { p1 };
                let pm1 = if N == 1 { 1.0 } else { p0 };
                dp = n * (z * p - pm1) / (z * z - 1.0);
                let dz = p / dp;
                z -= dz;
                if libm::fabs(dz) < 1e-16 {
                    break;
                }
            }
            x[i] = z;
            w[i] = 2.0 / ((1.0 - z * z) * dp * dp);
        }
        Self {
            nodes: core::array::from_fn(|i| T::c(x[i])),
            weights: core::array::from_fn(|i| T::c(w[i])),
        }
    }

    /// `∫_a^b f(t) dt ≈ (b − a)/2 Σ_i w_i f((a + b)/2 + (b − a)/2 x_i)`.
    pub fn integrate<A: Accumulator<T>>(&self, a: T, b: T, mut f: impl FnMut(T) -> A) -> A {
        let (c, h) = ((a + b) * T::HALF, (b - a) * T::HALF);
        let mut s = A::zero();
        for (&x, &w) in self.nodes.iter().zip(&self.weights) {
            s = s.add_scaled(h * w, f(c + h * x));
        }
        s
    }
}

impl<T: Real, const N: usize> Default for GaussLegendre<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Panel edges (in standard deviations) of [`GradedNormal`] away from its graded region.
const OUTER_EDGES: [f64; 9] = [1.0, 1.5, 2.0, 3.0, 4.0, 5.5, 7.0, 9.0, 12.0];

/// Most panel edges [`GradedNormal::expect_around`] uses: 19 fixed ones, the centre, and two
/// per halving from 2 down to 1e-12 (41 halvings).
const MAX_EDGES: usize = 19 + 1 + 2 * 42;

/// Expectations over a standard normal variable of functions with a narrow feature.
///
/// `E_{t ~ N(0,1)} f(t) = ∫ φ(t) f(t) dt` by `N`-point Gauss–Legendre panels on [−12, 12]:
/// fixed edges 0, ±1, ±1.5, ±2, ±3, ±4, ±5.5, ±7, ±9, ±12, and edges graded geometrically
/// towards a centre `c`, at `c ± fine · 2^j` up to `c ± 2`. A kink or a step of width `fine`
/// at `t = c` (a sign channel as its variance vanishes, the spike of a sparse prior as the
/// signal-to-noise ratio grows) is integrated to the rule's accuracy at a cost logarithmic in
/// `1/fine`, where a Gauss–Hermite rule would need `O(1/fine)` nodes.
#[derive(Clone, Debug)]
pub struct GradedNormal<T, const N: usize> {
    gl: GaussLegendre<T, N>,
}

impl<T: Real, const N: usize> GradedNormal<T, N> {
    /// The integrator.
    pub fn new() -> Self {
        Self {
            gl: GaussLegendre::new(),
        }
    }

    /// `E_{t ~ N(0,1)} f(t)`, the panels graded towards 0 down to `fine` (see
    /// [`GradedNormal::expect_around`]).
    pub fn expect<A: Accumulator<T>>(&self, fine: T, f: impl FnMut(T) -> A) -> A {
        self.expect_around(T::ZERO, fine, f)
    }

    /// `E_{t ~ N(0,1)} f(t)`, the panels graded towards `center` down to `fine` (clamped to
    /// [1e-12, 1]; NaN is taken as 1).
    pub fn expect_around<A: Accumulator<T>>(
        &self,
        center: T,
        fine: T,
        mut f: impl FnMut(T) -> A,
    ) -> A {
        let fine = if fine.is_nan() {
            T::ONE
        } else {
            fine.max(T::c(1e-12)).min(T::ONE)
        };
        let lim = T::c(12.0);
        let mut edges = [T::ZERO; MAX_EDGES];
        let mut n = 0;
        let push = |e: T, edges: &mut [T; MAX_EDGES], n: &mut usize| {
            if e.is_finite() && e > -lim && e < lim && *n < MAX_EDGES {
                edges[*n] = e;
                *n += 1;
            }
        };
        for &e in &OUTER_EDGES {
            push(T::c(e), &mut edges, &mut n);
            push(-T::c(e), &mut edges, &mut n);
        }
        push(T::ZERO, &mut edges, &mut n);
        // `push` keeps edges strictly inside (−12, 12): add the ends explicitly.
        edges[n] = -lim;
        edges[n + 1] = lim;
        n += 2;
        push(center, &mut edges, &mut n);
        let mut h = fine;
        while h < T::TWO {
            push(center - h, &mut edges, &mut n);
            push(center + h, &mut edges, &mut n);
            h *= T::TWO;
        }
        let edges = &mut edges[..n];
        // Insertion sort: at most ~100 edges.
        for i in 1..edges.len() {
            let mut j = i;
            while j > 0 && edges[j - 1] > edges[j] {
                edges.swap(j - 1, j);
                j -= 1;
            }
        }
        let mut total = A::zero();
        for w in edges.windows(2) {
            if w[1] > w[0] {
                let panel = self.gl.integrate(w[0], w[1], |t| {
                    A::zero().add_scaled(crate::special::norm_pdf(t), f(t))
                });
                total = total.add_scaled(T::ONE, panel);
            }
        }
        total
    }
}

impl<T: Real, const N: usize> Default for GradedNormal<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod graded_tests {
    use super::*;

    #[test]
    fn legendre_integrates_polynomials() {
        let gl = GaussLegendre::<f64, 8>::new();
        for k in 0..16 {
            let got = gl.integrate(-1.0, 1.0, |x| x.powi(k));
            let want = if k % 2 == 1 {
                0.0
            } else {
                2.0 / (k as f64 + 1.0)
            };
            assert!((got - want).abs() < 1e-14, "x^{k}: {got}");
        }
        assert!((gl.integrate(0.0, 2.0, |x| x * x) - 8.0 / 3.0).abs() < 1e-14);
    }

    #[test]
    fn graded_normal_resolves_narrow_steps() {
        let g = GradedNormal::<f64, 12>::new();
        assert!((g.expect(1.0, |_| 1.0) - 1.0).abs() < 1e-14);
        assert!((g.expect(1e-3, |t| t * t) - 1.0).abs() < 1e-14);
        // E Φ(t/ε)·2 for the standard normal t: P(Z₁ < Z₂/ε) = 1/2 for any ε, a step at 0 of
        // width ε; and E |t| = √(2/π), a kink.
        for eps in [1e-1, 1e-3, 1e-6, 1e-9] {
            let got = g.expect(eps, |t| crate::special::norm_cdf(t / eps));
            assert!((got - 0.5).abs() < 1e-13, "ε = {eps}: {got}");
            // E[φ(t/ε)/ε] = φ-convolution = N(0; 0, 1 + ε²) density at 0.
            let bump = g.expect(eps, |t| crate::special::norm_pdf(t / eps) / eps);
            let want = 1.0 / (2.0 * core::f64::consts::PI * (1.0 + eps * eps)).sqrt();
            assert!(
                (bump - want).abs() < 1e-11 * want,
                "ε = {eps}: {bump} vs {want}"
            );
        }
        let abs = g.expect(1.0, |t| t.abs());
        assert!((abs - (2.0 / core::f64::consts::PI).sqrt()).abs() < 1e-14);
        // A step at t = 1.3 of width ε: E Φ((t − 1.3)/ε) = Φ(−1.3/√(1 + ε²)).
        for eps in [1e-2, 1e-5, 1e-9] {
            let got = g.expect_around(1.3, eps, |t| crate::special::norm_cdf((t - 1.3) / eps));
            let want = crate::special::norm_cdf(-1.3 / (1.0 + eps * eps).sqrt());
            assert!((got - want).abs() < 1e-13, "ε = {eps}: {got} vs {want}");
        }
    }
}
