//! Priors P_X on the entries of the signal, and the scalar denoiser each defines.
//!
//! ML-AMP paper (Manoel, Krzakala, Mézard, Zdeborová, *Multi-layer generalized linear estimation*), eq. 9: the last layer's (our layer-0 signal's) estimator comes from
//! `Z(A, B) = ∫ dx P_X(x) e^{−A x²/2 + B x}`, with posterior mean `∂_B log Z` and variance
//! `∂²_B log Z`. (The paper's layer L, touching the signal, is our input side: its `A^(L)`,
//! `B^(L)` are the `A`, `B` of our signal.)
//!
//! A prior is defined by its potential ([`Prior`]: the log-partition and its derivatives, its
//! moments, its law, its MAP estimator where it has one). Most priors shipped here are finite
//! mixtures of Gaussians (a point mass is a Gaussian of variance zero), which
//! [`Prior::components`] exposes: the mixture gives the denoiser in closed form, the
//! quadrature of the state evolution, exact sampling, and — for ML-Mat-VAMP — the exact
//! d-dimensional denoiser of an iid-per-entry prior under a non-diagonal precision (a sum over
//! the product of the entries' components). A new prior is one file here (its potential) plus
//! one entry in the host's model-file registry.

mod binary;
mod discrete;
mod gauss_bernoulli;
mod gaussian;
mod group_l1;
mod laplace;
mod mixture;
mod row_sparse;

pub use binary::Binary;
pub use discrete::Discrete;
pub use gauss_bernoulli::GaussBernoulli;
pub use gaussian::Gaussian;
pub use group_l1::GroupL1Prior;
pub use laplace::Laplace;
pub use mixture::{
    Component, mixture_law, mixture_mean, mixture_posterior, mixture_sample, mixture_second_moment,
};
pub use row_sparse::RowSparsePrior;

use crate::error::Error;
use crate::quadrature::{Accumulator, Rule};
use crate::real::Real;
use crate::se::{SeQuadrature, SeTerms};

/// The scalar posterior of eq. 9: mean, variance and log-normaliser.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Posterior<T> {
    /// `∂_B log Z(A, B)`: the posterior mean.
    pub mean: T,
    /// `∂²_B log Z(A, B)`: the posterior variance (≥ 0).
    pub var: T,
    /// `log Z(A, B)`.
    pub log_z: T,
}

/// The row estimator a prior kind is run with in ML-Mat-VAMP (its `G_0^+` of eq. 13 of
/// Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in
/// multi-layer models*), as the family of [`crate::mat`] it belongs to and its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowPriorForm<'a, T> {
    /// `N(mean, var I_d)`: [`crate::mat::GaussianRow`] (closed form).
    Gaussian {
        /// The mean of every entry.
        mean: T,
        /// The variance of every entry.
        var: T,
    },
    /// iid entries of a Gaussian-mixture law: [`crate::mat::PerEntry`] (exact for any
    /// precision, a sum over the `K^d` product components).
    PerEntry(&'a [Component<T>]),
    /// Whole rows zero or `N(0, var I_d)`: [`crate::mat::RowSparse`].
    RowSparse {
        /// The probability that a row is non-zero.
        rho: T,
        /// The variance of an entry of a non-zero row.
        var: T,
    },
    /// iid Laplace entries `∝ e^{−λ|x|}`: [`crate::mat::LaplaceRow`] (MAP: the LASSO step).
    Laplace {
        /// The rate λ.
        lambda: T,
        /// MMSE (`d = 1`) or MAP.
        estimator: crate::estimator::Estimator,
    },
    /// The group penalty `∝ e^{−λ‖x‖₂}` on the row: [`crate::mat::GroupL1`] (MAP: the
    /// multi-task LASSO's block step).
    GroupL1 {
        /// The weight λ.
        lambda: T,
    },
}

/// What a row sampler asks its source of randomness for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Draw {
    /// A uniform number in `[0, 1)`.
    Uniform,
    /// A standard normal number.
    Normal,
}

/// A prior P_X on the iid entries of the signal, defined by its potential: the
/// log-partition `log Z(A, B) = log ∫ dx P_X(x) e^{−A x²/2 + B x}` and its `B`-derivatives
/// (the posterior mean and variance of eq. 9 of the ML-AMP paper), its moments, its law (for
/// the state evolution's averages and for sampling), and, where it has one, its MAP
/// (proximal) estimator.
///
/// A prior that is a Gaussian mixture also exposes [`Prior::components`]: the exact
/// d-dimensional per-entry denoisers of ML-Mat-VAMP ([`crate::mat::PerEntry`]) and the graded
/// quadrature of [`Prior::se`] use it. The shipped mixtures implement the trait with
/// [`mixture_prior!`](crate::mixture_prior); a prior that is not a mixture (Laplace, say)
/// implements the required methods itself.
///
/// `Sync`: one model is shared by the threads of a parallel run (the state evolution's
/// Monte-Carlo blocks).
pub trait Prior<T: Real>: Sync {
    /// The denoiser of eq. 9 (ML-AMP paper): mean, variance and `log Z(A, B)` of the tilted
    /// measure `P_X(x) e^{−A x²/2 + B x}`, for `A ≥ 0`.
    fn posterior(&self, a: T, b: T) -> Posterior<T>;

    /// E x under P_X.
    fn mean(&self) -> T;

    /// E x² under P_X (the ρ of the ML-AMP paper's eq. 12 for the signal layer).
    fn second_moment(&self) -> T;

    /// E x_j² for an entry of a row of `d` entries: [`Prior::second_moment`] for iid entries
    /// (the default) and row priors whose entries' marginal does not depend on `d`.
    fn row_second_moment(&self, d: usize) -> T {
        let _ = d;
        self.second_moment()
    }

    /// The law of P_X as a quadrature: calls `visit(x, p)` for points `x` with probabilities
    /// `p` summing to one (for a mixture: exact over point masses, the Gauss–Hermite `rule`
    /// over each Gaussian component).
    fn law(&self, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T));

    /// A draw from P_X given a uniform `u ∈ [0, 1)` and a standard normal `xi`. Keeping the
    /// randomness outside makes the core independent of any generator and the draws
    /// reproducible bit for bit.
    fn sample(&self, u: T, xi: T) -> T;

    /// The Gaussian-mixture form of P_X (weights summing to one, variances ≥ 0, zero for a
    /// point mass), for priors that have one; `None` (the default) for the others.
    fn components(&self) -> Option<&[Component<T>]> {
        None
    }

    /// The MAP (proximal) estimator, where the prior has one: the mode
    /// `x̂ = argmax_x [log P_X(x) − A x²/2 + B x]` as `mean`, its derivative `∂x̂/∂B` as `var`
    /// (the MAP analogue of the posterior variance), and `log_z` the maximised value. `None`
    /// (the default) where the mode is not a useful estimator (point masses, discrete laws).
    fn map(&self, a: T, b: T) -> Option<Posterior<T>> {
        let _ = (a, b);
        None
    }

    /// The row estimator of this prior for rows of `d` entries in ML-Mat-VAMP. Default: the
    /// exact per-entry mixture estimator for a mixture, [`Error::Unsupported`] otherwise.
    fn row_form(&self, d: usize) -> Result<RowPriorForm<'_, T>, Error> {
        let _ = d;
        self.components()
            .map(RowPriorForm::PerEntry)
            .ok_or(Error::Unsupported {
                field: "prior",
                reason: "this prior has no ML-Mat-VAMP row estimator",
            })
    }

    /// A draw of a row of `out.len()` entries, asking `draw` for its randomness. Default:
    /// iid entries, each from a uniform then a normal ([`Prior::sample`]), entry by entry.
    fn sample_row(&self, draw: &mut dyn FnMut(Draw) -> T, out: &mut [T]) {
        for x in out {
            let u = draw(Draw::Uniform);
            *x = self.sample(u, draw(Draw::Normal));
        }
    }

    /// `E_{x ~ P_X} f(x)` through [`Prior::law`].
    fn expect(&self, rule: Rule<'_, T>, f: &mut dyn FnMut(T) -> T) -> T {
        let mut acc = T::ZERO;
        self.law(rule, &mut |x, p| acc += p * f(x));
        acc
    }

    /// The state evolution's averages for the signal (ML-AMP paper, the `m^(L)` of eq. 13 and
    /// the `I^(L+1)` of eq. 15; its layer L is our signal): with `x ~ P_X` and
    /// `b ~ N(m̂ x, m̂)`, `overlap = E x̂(m̂, b)²` (= E x x̂ at the Bayes-optimal point) and
    /// `log_z = E log Z(m̂, b)`.
    ///
    /// The denoiser depends on `(x, ξ)` only through `b`, whose law under the mixture is again a
    /// mixture, `Σ_c π_c N(m̂ μ_c, m̂ + m̂² v_c)`: one Gaussian average per component, by panels
    /// graded towards `b = 0`, where the components' posterior weights switch over a width
    /// `~ min(1, √m̂)` that shrinks relative to the slab's spread `m̂ √v` as m̂ grows (a
    /// Gauss–Hermite rule in `x` misses it: 21% error in the MMSE at m̂ = 100 for ρ = 0.3).
    ///
    /// A prior without [`Prior::components`] is averaged over `x ~` [`Prior::law`] and the
    /// Gauss–Hermite rule in `ξ` (`b = m̂ x + √m̂ ξ`).
    fn se(&self, m_hat: T, q: &SeQuadrature<'_, T>) -> SeTerms<T> {
        let a = m_hat.max(T::ZERO);
        let term = |b: T| {
            let post = self.posterior(a, b);
            [post.mean * post.mean, post.log_z]
        };
        let mut acc = [T::ZERO; 2];
        match self.components() {
            Some(comps) => {
                for c in comps {
                    let mean = a * c.mean;
                    let sd = (a + a * a * c.var).sqrt();
                    let avg = if sd == T::ZERO {
                        term(mean)
                    } else {
                        q.graded
                            .expect_around(-mean / sd, a.sqrt().min(T::ONE) / sd, |t| {
                                term(mean + sd * t)
                            })
                    };
                    acc = acc.add_scaled(c.weight, avg);
                }
            }
            None => {
                let sa = a.sqrt();
                self.law(q.rule, &mut |x, p| {
                    let avg = q.rule.expect(|xi| term(a * x + sa * xi));
                    acc = acc.add_scaled(p, avg);
                });
            }
        }
        SeTerms {
            hat: T::ZERO,
            overlap: acc[0],
            log_z: acc[1],
        }
    }
}
