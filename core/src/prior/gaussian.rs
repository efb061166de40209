//! The Gaussian prior N(mean, var).

use super::Component;
use crate::error::{Error, mean_within, scale};
use crate::real::Real;

/// P_X(x) = N(x; mean, var).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gaussian<T> {
    comps: [Component<T>; 1],
}

impl<T: Real> Gaussian<T> {
    /// N(mean, var); `var` must be finite and > 0.
    pub fn new(mean: T, var: T) -> Result<Self, Error> {
        scale("var", var)?;
        mean_within("mean", mean, var)?;
        Ok(Self {
            comps: [Component {
                weight: T::ONE,
                mean,
                var,
            }],
        })
    }
}

crate::mixture_prior!(Gaussian<T>, components = |p| &p.comps, {
    /// The Gaussian row prior `N(μ, v I_d)` (closed form).
    fn row_form(&self, _d: usize) -> Result<super::RowPriorForm<'_, T>, crate::error::Error> {
        let c = self.comps[0];
        Ok(super::RowPriorForm::Gaussian {
            mean: c.mean,
            var: c.var,
        })
    }
});
