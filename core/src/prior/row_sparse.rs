//! The row-sparse (multi-task, MMV) prior as a kind: whole rows are zero or Gaussian.

use super::{Component, Draw, GaussBernoulli, RowPriorForm};
use crate::error::Error;
use crate::real::Real;

/// `p(x) = (1 − ρ) δ(x) + ρ N(x; 0, σ² I_d)` on a row `x ∈ R^d`: the rows of the signal share
/// their support across the `d` columns (multi-task regression, multiple measurement
/// vectors). Each entry's marginal is Gauss–Bernoulli with mean 0, which is what it is as a
/// scalar [`super::Prior`] (ML-AMP, `d = 1`); its row estimator is
/// [`crate::mat::RowSparse`], and a row is drawn from one uniform (the support) and `d`
/// normals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowSparsePrior<T> {
    marginal: GaussBernoulli<T>,
    rho: T,
    var: T,
}

impl<T: Real> RowSparsePrior<T> {
    /// Density `rho ∈ (0, 1]` of non-zero rows, variance `var > 0` of their entries.
    pub fn new(rho: T, var: T) -> Result<Self, Error> {
        Ok(Self {
            marginal: GaussBernoulli::new(rho, T::ZERO, var)?,
            rho,
            var,
        })
    }

    fn marginal_components(&self) -> &[Component<T>] {
        self.marginal.mixture()
    }
}

crate::mixture_prior!(
    RowSparsePrior<T>,
    components = |p| p.marginal_components(),
    {
        fn row_form(&self, _d: usize) -> Result<RowPriorForm<'_, T>, Error> {
            Ok(RowPriorForm::RowSparse {
                rho: self.rho,
                var: self.var,
            })
        }

        /// One uniform for the whole row (the zero row, or `N(0, σ²)` entries from the
        /// normals that follow it): with `d = 1` the draws of the scalar Gauss–Bernoulli prior.
        fn sample_row(&self, draw: &mut dyn FnMut(Draw) -> T, out: &mut [T]) {
            let u = draw(Draw::Uniform);
            for x in out {
                *x = self.sample(u, draw(Draw::Normal));
            }
        }
    }
);
