//! The Gauss–Bernoulli (spike-and-slab) prior of sparse regression.

use super::Component;
use crate::error::{Error, mean_within, scale};
use crate::real::Real;

/// P_X(x) = (1 − ρ) δ(x) + ρ N(x; mean, var): the prior of the ML-AMP paper's eq. 18 (with
/// mean 0, var 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussBernoulli<T> {
    comps: [Component<T>; 2],
}

impl<T: Real> GaussBernoulli<T> {
    /// ρ ∈ (0, 1], finite mean, var > 0. (ρ = 1 is the Gaussian prior; the zero-weight spike
    /// is then kept with weight 0, which the log-domain mixture handles.)
    pub fn new(rho: T, mean: T, var: T) -> Result<Self, Error> {
        if !(rho > T::ZERO && rho <= T::ONE) {
            return Err(Error::InvalidParameter {
                name: "rho",
                requirement: "in (0, 1]",
            });
        }
        scale("var", var)?;
        mean_within("mean", mean, var)?;
        Ok(Self {
            comps: [
                Component {
                    weight: T::ONE - rho,
                    mean: T::ZERO,
                    var: T::ZERO,
                },
                Component {
                    weight: rho,
                    mean,
                    var,
                },
            ],
        })
    }
}

// With ρ = 1 the spike has weight 0: it is dropped so that ln 0 never enters.
crate::mixture_prior!(
    GaussBernoulli<T>,
    components = |p| if p.comps[0].weight == T::ZERO {
        &p.comps[1..]
    } else {
        &p.comps
    }
);
