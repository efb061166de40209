//! The group-L1 (multi-task LASSO) prior as a kind: `p(x) ∝ e^{−λ‖x‖₂}` on a row.

use super::{Draw, Laplace, Posterior, Prior, RowPriorForm};
use crate::error::Error;
use crate::quadrature::Rule;
use crate::real::Real;

/// `p(x) ∝ e^{−λ ‖x‖₂}` on a row `x ∈ R^d`: the prior whose MAP estimator is the multi-task
/// LASSO's row penalty `λ‖x‖₂` (eq. 5 of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher,
/// *Matrix inference and estimation in multi-layer models*), run by ML-Mat-VAMP with the MAP
/// row estimator [`crate::mat::GroupL1`] (its only row form).
///
/// With `d = 1` the group norm is `|x|`: as a scalar prior (ML-AMP, its state evolution) it is
/// the [`Laplace`] prior of rate λ, whose methods it forwards. A row is drawn as a radius
/// `R ~ Gamma(d, 1/λ)` (the sum of `d` exponentials `−ln u_j/λ`, from `d` uniforms) times a
/// uniform direction `ξ/‖ξ‖` (from `d` normals): the law of `e^{−λ‖x‖}` in polar
/// coordinates, whose radial density is `∝ r^{d−1} e^{−λr}`. Each entry's second moment is
/// then `E R²/d = (d + 1)/λ²` ([`Prior::row_second_moment`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroupL1Prior<T> {
    scalar: Laplace<T>,
}

impl<T: Real> GroupL1Prior<T> {
    /// The prior of weight `lambda` (finite, `> 0`, else [`Error::InvalidParameter`]).
    pub fn new(lambda: T) -> Result<Self, Error> {
        Ok(Self {
            scalar: Laplace::new(lambda)?,
        })
    }
}

impl<T: Real> Prior<T> for GroupL1Prior<T> {
    fn posterior(&self, a: T, b: T) -> Posterior<T> {
        self.scalar.posterior(a, b)
    }

    fn mean(&self) -> T {
        self.scalar.mean()
    }

    fn second_moment(&self) -> T {
        self.scalar.second_moment()
    }

    /// `(d + 1)/λ²`: `E R²/d` with `R ~ Gamma(d, 1/λ)`.
    fn row_second_moment(&self, d: usize) -> T {
        let lambda = self.scalar.lambda();
        T::c((d + 1) as f64) / (lambda * lambda)
    }

    fn law(&self, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        self.scalar.law(rule, visit)
    }

    fn sample(&self, u: T, xi: T) -> T {
        self.scalar.sample(u, xi)
    }

    fn map(&self, a: T, b: T) -> Option<Posterior<T>> {
        self.scalar.map(a, b)
    }

    /// MAP only: [`crate::mat::GroupL1`].
    fn row_form(&self, _d: usize) -> Result<RowPriorForm<'_, T>, Error> {
        Ok(RowPriorForm::GroupL1 {
            lambda: self.scalar.lambda(),
        })
    }

    /// `d` uniforms (the radius) then `d` normals (the direction); see the type's docs.
    fn sample_row(&self, draw: &mut dyn FnMut(Draw) -> T, out: &mut [T]) {
        let mut radius = T::ZERO;
        for _ in 0..out.len() {
            radius -= draw(Draw::Uniform).max(T::MIN_POSITIVE).ln();
        }
        radius /= self.scalar.lambda();
        let mut norm2 = T::ZERO;
        for x in out.iter_mut() {
            *x = draw(Draw::Normal);
            norm2 += *x * *x;
        }
        let scale = if norm2 > T::ZERO {
            radius / norm2.sqrt()
        } else {
            T::ZERO
        };
        for x in out.iter_mut() {
            *x *= scale;
        }
    }
}
