//! Gaussian mixtures: the closed-form denoiser, expectations and sampling that the mixture
//! priors of [`crate::prior`] are built on, and [`mixture_prior!`](crate::mixture_prior),
//! which implements [`Prior`](super::Prior) for a mixture from its components.

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
        let t = crate::gaussian::TiltedGaussian::new(self.mean, self.var, a, b);
        Posterior {
            mean: t.mean,
            var: t.var,
            log_z: t.log_z(),
        }
    }
}

/// The posterior of eq. 9 (ML-AMP paper) for a Gaussian mixture prior:
/// `log Z = log Σ_c π_c Z_c`, mean `Σ_c p_c m_c`, and variance
/// `Σ_c p_c v_c + Σ_c p_c (m_c − mean)²`, with `p_c ∝ π_c Z_c`.
///
/// One pass over the components: the weights are kept relative to the largest log-weight seen
/// so far (rescaled when it grows, so nothing overflows), and the mean and the
/// between-component spread are accumulated by West's weighted update
/// (`M₂ += p v_c + S p (m_c − mean)² / (S + p)`), free of the cancellation of
/// `E m² − (E m)²`.
pub fn mixture_posterior<T: Real>(comps: &[Component<T>], a: T, b: T) -> Posterior<T> {
    let mut top = -T::INFINITY;
    let (mut s, mut mean, mut m2) = (T::ZERO, T::ZERO, T::ZERO);
    for c in comps {
        let t = c.tilted(a, b);
        let l = c.weight.ln() + t.log_z;
        if l > top {
            let scale = if top == -T::INFINITY {
                T::ZERO
            } else {
                (top - l).exp()
            };
            s *= scale;
            m2 *= scale;
            top = l;
        }
        let p = (l - top).exp();
        let s_new = s + p;
        if s_new > T::ZERO {
            let delta = t.mean - mean;
            mean += p / s_new * delta;
            m2 += p * t.var + s * p / s_new * delta * delta;
        }
        s = s_new;
    }
    Posterior {
        mean,
        var: m2 / s,
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

/// Implements [`Prior`](crate::prior::Prior) for a Gaussian-mixture prior from its
/// components: the posterior by [`mixture_posterior`] (or by a closed form given as
/// `posterior = path`, a function `(&Self, A, B) -> Posterior`), the moments, the law by
/// [`mixture_law`], sampling by [`mixture_sample`], and [`Prior::components`](crate::prior::Prior::components);
/// a last `{ … }` holds further items of the `Prior` impl (overrides of provided methods).
///
/// ```ignore
/// mixture_prior!(Gaussian<T>, components = |p| &p.comps);
/// mixture_prior!(Binary<T>, components = |p| &p.comps, posterior = Binary::closed_form);
/// mixture_prior!(Discrete<T, const K>, components = |p| &p.comps);
/// ```
#[macro_export]
macro_rules! mixture_prior {
    ($name:ident < T $(, const $k:ident)? >, components = |$p:ident| $comps:expr $(, posterior = $post:path)? $(, { $($extra:tt)* })?) => {
        impl<T: $crate::real::Real $(, const $k: usize)?> $crate::prior::Prior<T> for $name<T $(, $k)?> {
            fn posterior(&self, a: T, b: T) -> $crate::prior::Posterior<T> {
                $crate::mixture_prior!(@posterior self, a, b $(, $post)?)
            }
            fn mean(&self) -> T {
                $crate::prior::mixture_mean(self.mixture())
            }
            fn second_moment(&self) -> T {
                $crate::prior::mixture_second_moment(self.mixture())
            }
            fn law(&self, rule: $crate::quadrature::Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
                $crate::prior::mixture_law(self.mixture(), rule, visit)
            }
            fn sample(&self, u: T, xi: T) -> T {
                $crate::prior::mixture_sample(self.mixture(), u, xi)
            }
            fn components(&self) -> Option<&[$crate::prior::Component<T>]> {
                Some(self.mixture())
            }
            $($($extra)*)?
        }
        impl<T: $crate::real::Real $(, const $k: usize)?> $name<T $(, $k)?> {
            /// The mixture components (what [`Prior::components`](crate::prior::Prior::components) returns).
            pub fn mixture(&self) -> &[$crate::prior::Component<T>] {
                let $p = self;
                $comps
            }
        }
    };
    (@posterior $s:ident, $a:ident, $b:ident) => {
        $crate::prior::mixture_posterior($s.mixture(), $a, $b)
    };
    (@posterior $s:ident, $a:ident, $b:ident, $post:path) => {
        $post($s, $a, $b)
    };
}

/// E x under the mixture: `Σ_c π_c μ_c`.
pub fn mixture_mean<T: Real>(comps: &[Component<T>]) -> T {
    comps.iter().map(|c| c.weight * c.mean).sum()
}

/// E x² under the mixture: `Σ_c π_c (v_c + μ_c²)`.
pub fn mixture_second_moment<T: Real>(comps: &[Component<T>]) -> T {
    comps
        .iter()
        .map(|c| c.weight * (c.var + c.mean * c.mean))
        .sum()
}
