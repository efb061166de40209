//! Gaussian mixtures: the closed-form denoiser, expectations and sampling that every prior
//! shipped in [`crate::prior`] is built on.

use super::Posterior;
use crate::quadrature::Rule;
use crate::real::Real;

/// One component `weight · N(mean, var)` of a mixture; `var == 0` is a point mass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Component<T> {
    /// Mixture weight in (0, 1].
    pub weight: T,
    /// Mean of the component.
    pub mean: T,
    /// Variance of the component (≥ 0).
    pub var: T,
}

impl<T: Real> Component<T> {
    /// `log ∫ N(x; μ, v) e^{−A x²/2 + B x} dx` (without the weight) and the tilted mean and
    /// variance:
    /// `−½ ln(1 + A v) + (2 μ B + B² v − A μ²) / (2 (1 + A v))`,
    /// mean `(μ + B v)/(1 + A v)`, variance `v/(1 + A v)`.
    #[inline]
    pub fn tilted(&self, a: T, b: T) -> Posterior<T> {
        let d = T::ONE + a * self.var;
        let log_z = -T::HALF * d.ln()
            + (T::TWO * self.mean * b + b * b * self.var - a * self.mean * self.mean)
                / (T::TWO * d);
        Posterior {
            mean: (self.mean + b * self.var) / d,
            var: self.var / d,
            log_z,
        }
    }
}

/// The posterior of eq. 9 (ML-AMP paper) for a Gaussian mixture prior:
/// `log Z = log Σ_c π_c Z_c`, mean `Σ_c p_c m_c`, and variance
/// `Σ_c p_c v_c + Σ_c p_c (m_c − mean)²` (the between-component term written around the mean,
/// free of cancellation), with `p_c ∝ π_c Z_c` computed in the log domain.
pub fn mixture_posterior<T: Real>(comps: &[Component<T>], a: T, b: T) -> Posterior<T> {
    let mut top = -T::INFINITY;
    for c in comps {
        top = top.max(c.weight.ln() + c.tilted(a, b).log_z);
    }
    let (mut s, mut m) = (T::ZERO, T::ZERO);
    for c in comps {
        let t = c.tilted(a, b);
        let p = (c.weight.ln() + t.log_z - top).exp();
        s += p;
        m += p * t.mean;
    }
    let mean = m / s;
    let mut var = T::ZERO;
    for c in comps {
        let t = c.tilted(a, b);
        let p = (c.weight.ln() + t.log_z - top).exp() / s;
        var += p * (t.var + (t.mean - mean).sq());
    }
    Posterior {
        mean,
        var,
        log_z: top + s.ln(),
    }
}

/// Visits `(μ_c + √v_c x_i, π_c w_i)` for every component and node of the `rule`, or
/// `(μ_c, π_c)` once for a point mass: the mixture as a quadrature.
pub fn mixture_law<T: Real>(
    comps: &[Component<T>],
    rule: Rule<'_, T>,
    visit: &mut dyn FnMut(T, T),
) {
    for c in comps {
        if c.var == T::ZERO {
            visit(c.mean, c.weight);
        } else {
            let sd = c.var.sqrt();
            for (x, w) in rule.iter() {
                visit(c.mean + sd * x, c.weight * w);
            }
        }
    }
}

/// The component whose cumulative weight first exceeds `u`, then `μ + √v ξ`.
pub fn mixture_sample<T: Real>(comps: &[Component<T>], u: T, xi: T) -> T {
    let mut cum = T::ZERO;
    let last = comps.len() - 1;
    for (i, c) in comps.iter().enumerate() {
        cum += c.weight;
        if u < cum || i == last {
            return c.mean + c.var.sqrt() * xi;
        }
    }
    unreachable!("a mixture has at least one component")
}
