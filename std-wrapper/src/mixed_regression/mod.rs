//! Mixed linear regression, the ML-Mat-VAMP paper's eq. 6 (Pandit, Sahraee-Ardakan, Rangan,
//! Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*, section 2.2,
//! `d = 2`): `y_i = q_i x_iᵀ f₁ + (1 − q_i) x_iᵀ f₂ + ξ_i`, `q_i ~ Bernoulli(π)`,
//! `ξ_i ~ N(0, Δ)`, with the entries of `F = [f₁ f₂]` iid `N(0, σ²)` a priori.
//!
//! - [`MixedRegression`]: a training set and the model's parameters, its log-posterior;
//! - [`em`]: the baseline, EM for a mixture of two linear regressions;
//! - [`spectral`]: EM's spectral start (the top two eigenvectors of a moment matrix);
//! - [`mse_up_to_swap`]: the error of an estimate of `F`, whichever label each regressor has.
//!
//! Shapes: `X` is `N × p` row-major (row `i` is `x_iᵀ`), `F` is `p × 2` row-major (row `j` is
//! `(f₁_j, f₂_j)`), the layout of a `d = 2` instance's signal; `y` has `N` entries. The
//! paper's `q_i = 1` picks `f₁`, as [`mlamp_core::channel::MixedLinear`]'s component `z₀`.

pub mod em;
pub mod spectral;

use mlamp_core::channel::RowChannelForm;
use mlamp_core::estimator::Estimator;

use crate::error::Error;
use crate::instance::Instance;
use crate::model::Model;

/// A training set of mixed linear regression and the model's three parameters: what the
/// log-posterior of `F` depends on.
#[derive(Clone, Copy, Debug)]
pub struct MixedRegression<'a> {
    /// The inputs `X`, `N × p` row-major.
    pub x: &'a [f64],
    /// The responses `y`, length `N`.
    pub y: &'a [f64],
    /// The number of unknowns per regressor, `p` (columns of `X`, rows of `F`).
    pub p: usize,
    /// `π`, the probability that a sample follows `f₁`, `0 < π < 1`.
    pub pi: f64,
    /// The noise variance `Δ > 0`.
    pub noise_var: f64,
    /// The prior variance `σ² > 0` of each entry of `F`.
    pub prior_var: f64,
}

impl<'a> MixedRegression<'a> {
    /// The training set of an instance of a one-layer model with a `mixed-linear` output:
    /// `X` its weights, `y` its observation, `π` and `Δ` its output's, `p` its signal's rows;
    /// `prior_var` is `σ²` (the `gaussian` prior's variance).
    ///
    /// Errors: [`Error::Invalid`] naming `layers` unless the model is one layer with a
    /// `mixed-linear` output.
    pub fn of_instance(
        model: &'a Model,
        inst: &'a Instance,
        prior_var: f64,
    ) -> Result<Self, Error> {
        let form = match model.layers.as_slice() {
            [layer] => layer.channel.row_form(Estimator::Mmse, model.d),
            _ => {
                return Err(Error::invalid(
                    "layers",
                    "a mixed linear regression model has one layer",
                ));
            }
        };
        let Ok(RowChannelForm::MixedLinear { pi, noise_var }) = form else {
            return Err(Error::invalid(
                "layers",
                "the model's output is not mixed-linear",
            ));
        };
        Ok(Self {
            x: &inst.weights[0],
            y: inst.observation(),
            p: inst.sizes[0],
            pi,
            noise_var,
            prior_var,
        })
    }

    /// Checks the shapes (`N ≥ 1`, `p ≥ 1`, `X` of `N·p` entries), finiteness of `X` and `y`,
    /// `0 < π < 1` and `Δ, σ² > 0` (finite); the error names the field. Returns `N`.
    pub fn check(&self) -> Result<usize, Error> {
        let n = self.y.len();
        if n == 0 {
            return Err(Error::invalid("mixed_regression.y", "must not be empty"));
        }
        if self.p == 0 {
            return Err(Error::invalid("mixed_regression.p", "must be at least 1"));
        }
        let cells = n.checked_mul(self.p).ok_or_else(|| {
            Error::invalid("mixed_regression.x", "N · p overflows the address space")
        })?;
        mlamp_core::error::length("mixed regression inputs X (N × p)", self.x, cells)?;
        finite("mixed regression inputs X", self.x)?;
        finite("mixed regression responses y", self.y)?;
        if !(self.pi > 0.0 && self.pi < 1.0) {
            return Err(Error::invalid(
                "mixed_regression.pi",
                format!("must be strictly between 0 and 1, got {}", self.pi),
            ));
        }
        for (field, v) in [
            ("mixed_regression.noise_var", self.noise_var),
            ("mixed_regression.prior_var", self.prior_var),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::invalid(
                    field,
                    format!("must be finite and > 0, got {v}"),
                ));
            }
        }
        Ok(n)
    }

    /// Checks that `f` is a finite `p × 2` matrix.
    fn check_f(&self, f: &[f64]) -> Result<(), Error> {
        mlamp_core::error::length("regressors F (p × 2)", f, 2 * self.p)?;
        finite("regressors F", f)
    }

    /// The log-posterior of `F` up to its constant (`−N ln(2πΔ)/2 − p ln(2πσ²)`):
    ///
    /// `L(F) = Σ_i ln[π e^{−(y_i − x_iᵀf₁)²/(2Δ)} + (1 − π) e^{−(y_i − x_iᵀf₂)²/(2Δ)}]
    ///        − ‖F‖²_F/(2σ²)`
    ///
    /// (each sum of exponentials in the log domain, so a sample far from both regressors
    /// adds its finite logarithm). `f` is `p × 2` row-major.
    pub fn log_posterior(&self, f: &[f64]) -> Result<f64, Error> {
        self.check()?;
        self.check_f(f)?;
        let mut sum = 0.0;
        for (row, &y) in self.x.chunks_exact(self.p).zip(self.y) {
            let (z0, z1) = row_products(row, f);
            sum += self.log_components(y, z0, z1).log_sum;
        }
        Ok(sum - f.iter().map(|v| v * v).sum::<f64>() / (2.0 * self.prior_var))
    }

    /// The two components' log-weights for one sample (`ln π − (y − z₀)²/(2Δ)` and
    /// `ln(1 − π) − (y − z₁)²/(2Δ)`), their log-sum-exp and the responsibility of `f₁`.
    fn log_components(&self, y: f64, z0: f64, z1: f64) -> Components {
        let a0 = self.pi.ln() - (y - z0) * (y - z0) / (2.0 * self.noise_var);
        let a1 = (1.0 - self.pi).ln() - (y - z1) * (y - z1) / (2.0 * self.noise_var);
        let (top, low) = if a0 >= a1 { (a0, a1) } else { (a1, a0) };
        let e = (low - top).exp();
        let log_sum = top + e.ln_1p();
        // w₀ = 1/(1 + e^{a₁ − a₀}), written from the larger log-weight so it never overflows.
        let w0 = if a0 >= a1 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        Components { log_sum, w0 }
    }
}

/// What [`MixedRegression::log_components`] returns.
struct Components {
    /// `ln(e^{a₀} + e^{a₁})`.
    log_sum: f64,
    /// `e^{a₀}/(e^{a₀} + e^{a₁})`, the posterior probability that the sample follows `f₁`.
    w0: f64,
}

/// `(xᵀf₁, xᵀf₂)` for `f` `p × 2` row-major.
fn row_products(x: &[f64], f: &[f64]) -> (f64, f64) {
    x.iter()
        .zip(f.chunks_exact(2))
        .fold((0.0, 0.0), |(a, b), (&xk, fk)| {
            (a + xk * fk[0], b + xk * fk[1])
        })
}

/// `Ok` if every entry of `data` is finite, else the core's non-finite error naming `what`.
fn finite(what: &'static str, data: &[f64]) -> Result<(), Error> {
    if data.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(mlamp_core::Error::NonFinite { what }.into())
    }
}

/// The MSE of an estimate `F̂` of `F` (both `p × 2` row-major) up to the label swap: the
/// smaller of `‖F̂ − F‖²_F` and `‖F̂ P − F‖²_F` (`P` swaps the two columns), over the `2p`
/// entries. Mixed linear regression with `π = ½` cannot tell `f₁` from `f₂`; with `π ≠ ½`
/// only the weight tells them apart, which an estimator may or may not use.
///
/// Errors: shapes that differ or are not a whole number of rows of 2, non-finite entries.
pub fn mse_up_to_swap(estimate: &[f64], truth: &[f64]) -> Result<f64, Error> {
    if truth.is_empty() || !truth.len().is_multiple_of(2) {
        return Err(Error::invalid(
            "truth",
            format!("must be p × 2 with p ≥ 1, has {} entries", truth.len()),
        ));
    }
    mlamp_core::error::length("estimate F̂ (p × 2)", estimate, truth.len())?;
    finite("estimate F̂", estimate)?;
    finite("truth F", truth)?;
    let (same, swapped) =
        estimate
            .chunks_exact(2)
            .zip(truth.chunks_exact(2))
            .fold((0.0, 0.0), |(s, w), (e, t)| {
                (
                    s + (e[0] - t[0]).powi(2) + (e[1] - t[1]).powi(2),
                    w + (e[1] - t[0]).powi(2) + (e[0] - t[1]).powi(2),
                )
            });
    Ok(same.min(swapped) / truth.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_posterior_is_the_sum_of_the_mixture_densities() {
        // p = 1, N = 2: L written out with plain exponentials (moderate values, no overflow).
        let (x, y) = ([0.5, -1.0], [0.3, 0.8]);
        let f = [0.4, -0.6];
        let (pi, delta, s2) = (0.3, 0.2, 2.0);
        let m = MixedRegression {
            x: &x,
            y: &y,
            p: 1,
            pi,
            noise_var: delta,
            prior_var: s2,
        };
        let mut expect = -(0.4f64 * 0.4 + 0.6 * 0.6) / (2.0 * s2);
        for i in 0..2 {
            let e0 = y[i] - x[i] * f[0];
            let e1 = y[i] - x[i] * f[1];
            expect += (pi * (-e0 * e0 / (2.0 * delta)).exp()
                + (1.0 - pi) * (-e1 * e1 / (2.0 * delta)).exp())
            .ln();
        }
        assert!((m.log_posterior(&f).unwrap() - expect).abs() < 1e-14);
        // Far from both regressors (each exponential underflows): finite, the larger term.
        let far = MixedRegression {
            y: &[1e3, 0.0],
            ..m
        };
        let v = far.log_posterior(&f).unwrap();
        assert!(v.is_finite() && v < -1e5, "{v}");
        let c = m.log_components(1e3, 0.0, 1.0);
        assert!(c.w0.is_finite() && c.w0 < 1e-100 && c.log_sum.is_finite());
    }

    #[test]
    fn bad_inputs_are_typed_errors_naming_the_field() {
        let (x, y) = ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0]);
        let ok = MixedRegression {
            x: &x,
            y: &y,
            p: 2,
            pi: 0.3,
            noise_var: 0.1,
            prior_var: 1.0,
        };
        assert_eq!(ok.check().unwrap(), 2);
        let msg = |m: MixedRegression| m.check().unwrap_err().to_string();
        for pi in [0.0, 1.0, -0.5, f64::NAN] {
            assert!(msg(MixedRegression { pi, ..ok }).contains("pi"), "{pi}");
        }
        assert!(
            msg(MixedRegression {
                noise_var: 0.0,
                ..ok
            })
            .contains("noise_var")
        );
        assert!(
            msg(MixedRegression {
                prior_var: f64::INFINITY,
                ..ok
            })
            .contains("prior_var")
        );
        assert!(msg(MixedRegression { p: 3, ..ok }).contains("X"));
        assert!(
            msg(MixedRegression {
                y: &[1.0, f64::NAN],
                ..ok
            })
            .contains("y")
        );
        assert!(
            ok.log_posterior(&[1.0; 3])
                .unwrap_err()
                .to_string()
                .contains("F")
        );
    }

    #[test]
    fn the_swap_is_undone() {
        let truth = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(mse_up_to_swap(&[2.0, 1.0, 4.0, 3.0], &truth).unwrap(), 0.0);
        // Unswapped errors 0 and 1 (mean 0.25) beat the swapped ones (1 + 1 + 1 + 1)/4.
        assert_eq!(mse_up_to_swap(&[1.0, 2.0, 3.0, 5.0], &truth).unwrap(), 0.25);
        assert!(mse_up_to_swap(&[1.0; 3], &truth).is_err());
        assert!(mse_up_to_swap(&[1.0; 3], &[1.0; 3]).is_err());
        assert!(mse_up_to_swap(&[f64::NAN; 4], &truth).is_err());
    }
}
