//! A prior with finite support.

use super::Component;
use crate::error::Error;
use crate::real::Real;

/// P_X(x) = Σ_k p_k δ(x − a_k) over `K` atoms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Discrete<T, const K: usize> {
    comps: [Component<T>; K],
}

impl<T: Real, const K: usize> Discrete<T, K> {
    /// Atoms `a_k` with probabilities `p_k > 0` summing to one (to 1e-6 relative; they are
    /// renormalised).
    pub fn new(atoms: [T; K], probs: [T; K]) -> Result<Self, Error> {
        if K == 0 {
            return Err(Error::EmptyModel);
        }
        let mut total = T::ZERO;
        for (&a, &p) in atoms.iter().zip(&probs) {
            if !a.is_finite() {
                return Err(Error::NonFinite { what: "atoms" });
            }
            if !(p.is_finite() && p > T::ZERO) {
                return Err(Error::InvalidParameter {
                    name: "probs",
                    requirement: "all > 0",
                });
            }
            total += p;
        }
        if (total - T::ONE).abs() > T::c(1e-6) {
            return Err(Error::InvalidParameter {
                name: "probs",
                requirement: "summing to 1",
            });
        }
        Ok(Self {
            comps: core::array::from_fn(|k| Component {
                weight: probs[k] / total,
                mean: atoms[k],
                var: T::ZERO,
            }),
        })
    }
}

crate::mixture_prior!(Discrete<T, const K>, components = |p| &p.comps);
