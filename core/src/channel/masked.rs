//! The masked Gaussian output of imputation / matrix completion (section 2.4, eq. 10 of
//! Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in
//! multi-layer models*): the data matrix is the last layer's pre-activation `Z_{L−1}` (the
//! paper's `Z_{L−1}`, our `z_{K−1}`, `n × d`), observed only on a set `Ω` of entries,
//! `y_ij = z_ij + N(0, Δ)` for `(i, j) ∈ Ω`; each entry is in `Ω` independently with
//! probability `observed`.
//!
//! Only ML-Mat-VAMP runs it, and only as the model's output layer: an observed row holds the
//! `d` values and then the `d` mask entries (1 observed, 0 missing; a missing entry's value is
//! 0), so no NaN marks a missing entry. Its row estimator is [`crate::mat::MaskedDenoiser`]
//! (MAP = MMSE: the belief is Gaussian).

use super::kind::{ChannelKind, RowChannelForm};
use super::{Channel, gaussian_law};
use crate::error::Error;
use crate::estimator::Estimator;
use crate::quadrature::Rule;
use crate::real::Real;
use crate::special::norm_quantile;

/// `y_ij = z_ij + N(0, Δ)` on the entries of a random mask `Ω`, each entry observed
/// independently with probability `observed ∈ (0, 1]` (eq. 10 of Pandit, Sahraee-Ardakan,
/// Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*, whose
/// `‖Y − Z_{L−1}‖²_Ω` is `2Δ` times this likelihood's negative logarithm).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Masked<T> {
    observed: T,
    noise_var: T,
    /// `t` with `Φ(t) = observed`: an entry is observed when its standard normal is below `t`
    /// (`None` for `observed = 1`: every entry).
    threshold: Option<T>,
}

impl<T: Real> Masked<T> {
    /// Entries observed with probability `observed`, with noise variance `noise_var`.
    ///
    /// Errors ([`Error::InvalidParameter`]): `"observed"` unless `0 < observed ≤ 1` (a mask
    /// with no observed entry observes nothing); `"noise_var"` unless `Δ` is 0 or in
    /// `[1e-30, 1e30]`.
    pub fn new(observed: T, noise_var: T) -> Result<Self, Error> {
        let inside = observed > T::ZERO && observed <= T::ONE;
        if !inside {
            return Err(Error::InvalidParameter {
                name: "observed",
                requirement: "in (0, 1]: the probability that an entry is observed (0 would be \
                              a mask with no observed entry)",
            });
        }
        crate::error::noise_scale("noise_var", noise_var)?;
        Ok(Self {
            observed,
            noise_var,
            threshold: (observed < T::ONE).then(|| norm_quantile(observed)),
        })
    }

    /// The probability that an entry is observed.
    pub fn observed(&self) -> T {
        self.observed
    }

    /// `Δ`.
    pub fn noise_var(&self) -> T {
        self.noise_var
    }

    /// [`ChannelKind::sample_row`] with the mask given (`mask`, `d` entries, each 0 or 1)
    /// instead of drawn: the same draws in the same order (`u_j`, then `ξ_j`, per entry; `u_j`
    /// unused), so a given mask equal to the one `sample_row` would draw gives the same row,
    /// bit for bit. Errors: [`Error::ShapeMismatch`] unless `mask` has `z.len()` entries and
    /// `out` `2 z.len()`; [`Error::InvalidParameter`] naming `mask` for an entry neither 0
    /// nor 1.
    pub fn sample_row_with_mask(
        &self,
        z: &[T],
        mask: &[T],
        xi: &mut dyn FnMut() -> T,
        out: &mut [T],
    ) -> Result<(), Error> {
        crate::error::length("mask row", mask, z.len())?;
        if mask.iter().any(|&m| m != T::ZERO && m != T::ONE) {
            return Err(Error::InvalidParameter {
                name: "mask",
                requirement: "entries 0 (missing) or 1 (observed)",
            });
        }
        self.fill_row(z, xi, out, &|j, _| mask[j] == T::ONE)
    }

    /// The row `(v, m)`: per entry `j` draws `u_j` then `ξ_j`; observed if `seen(j, u_j)`.
    fn fill_row(
        &self,
        z: &[T],
        xi: &mut dyn FnMut() -> T,
        out: &mut [T],
        seen: &dyn Fn(usize, T) -> bool,
    ) -> Result<(), Error> {
        crate::error::length(
            "masked observation row (d values, then d mask entries)",
            out,
            2 * z.len(),
        )?;
        let (values, mask) = out.split_at_mut(z.len());
        let sd = self.noise_var.sqrt();
        for (j, ((v, m), &zj)) in values.iter_mut().zip(mask.iter_mut()).zip(z).enumerate() {
            let u = xi();
            let noise = xi();
            let seen = seen(j, u);
            *m = if seen { T::ONE } else { T::ZERO };
            *v = if seen { zj + sd * noise } else { T::ZERO };
        }
        Ok(())
    }
}

impl<T: Real> ChannelKind<T> for Masked<T> {
    fn name(&self) -> &'static str {
        "masked"
    }

    /// The law of an observed entry, `N(z, Δ)` (the host's second-moment propagation only;
    /// the masked output is always the last layer).
    fn law(&self, z: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        gaussian_law(z, self.noise_var, rule, visit);
    }

    /// An observed entry, `z + √Δ ξ`; rows are sampled by [`ChannelKind::sample_row`].
    fn sample(&self, z: T, xi: T) -> T {
        z + self.noise_var.sqrt() * xi
    }

    /// The row `(v, m)` of `2d` entries for the pre-activation row `z` of `d`: per entry `j`
    /// in column order two standard normals, `u_j` then `ξ_j`; the entry is observed
    /// (`m_j = 1`, `v_j = z_j + √Δ ξ_j`) if `u_j < Φ⁻¹(observed)` (always for `observed =
    /// 1`), else `m_j = 0`, `v_j = 0` (its `ξ_j` is drawn all the same, so the stream's use
    /// does not depend on the mask). Errors ([`Error::ShapeMismatch`]) unless `out` has
    /// `2 z.len()` entries.
    fn sample_row(&self, z: &[T], xi: &mut dyn FnMut() -> T, out: &mut [T]) -> Result<(), Error> {
        self.fill_row(z, xi, out, &|_, u| self.threshold.is_none_or(|t| u < t))
    }

    fn amp(&self) -> Option<&dyn Channel<T>> {
        None
    }

    /// Always [`Error::Unsupported`]: an output only.
    fn check_as_hidden(&self) -> Result<(), Error> {
        Err(Error::Unsupported {
            field: "type",
            reason: "a masked output observes d values and their d mask entries per row: it \
                     can only be the last layer",
        })
    }

    /// [`RowChannelForm::Masked`] for either estimator (they coincide), any `d`.
    fn row_form(&self, _estimator: Estimator, _d: usize) -> Result<RowChannelForm<'_, T>, Error> {
        Ok(RowChannelForm::Masked {
            observed: self.observed,
            noise_var: self.noise_var,
        })
    }

    /// `2d`: the values, then the mask.
    fn observation_dim(&self, d: usize) -> usize {
        2 * d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::special::norm_cdf;

    #[test]
    fn parameters_are_checked() {
        for observed in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(matches!(
                Masked::new(observed, 0.1),
                Err(Error::InvalidParameter {
                    name: "observed",
                    ..
                })
            ));
        }
        assert!(matches!(
            Masked::new(0.5, -1.0),
            Err(Error::InvalidParameter {
                name: "noise_var",
                ..
            })
        ));
        let ch = Masked::new(0.3, 0.0).unwrap();
        assert!(ch.check_as_hidden().is_err());
        assert_eq!(ch.observation_dim(3), 6);
        let mut out = [0.0; 5];
        assert!(matches!(
            ch.sample_row(&[1.0, 2.0, 3.0], &mut || 0.0, &mut out),
            Err(Error::ShapeMismatch { expected: 6, .. })
        ));
    }

    #[test]
    fn entries_are_observed_below_the_threshold_with_their_noise() {
        for observed in [0.05, 0.3, 0.5, 0.9] {
            let ch = Masked::new(observed, 0.25).unwrap();
            let t = ch.threshold.unwrap();
            assert!((norm_cdf(t) - observed).abs() < 1e-15, "{observed}");
            // Entry 0 just below the threshold (observed, noise 2 · √0.25), entry 1 just
            // above (missing, value 0 whatever its noise draw).
            let mut draws = [t - 1e-9, 2.0, t + 1e-9, 5.0].into_iter();
            let mut out = [9.0; 4];
            ch.sample_row(&[1.0, -3.0], &mut || draws.next().unwrap(), &mut out)
                .unwrap();
            assert_eq!(out, [2.0, 0.0, 1.0, 0.0]);
            assert!(draws.next().is_none());
        }
        // A given mask: the same draws consumed, the given entries observed.
        let ch = Masked::new(0.5, 0.25).unwrap();
        let mut draws = [-9.0, 2.0, -9.0, 5.0].into_iter();
        let mut out = [9.0; 4];
        ch.sample_row_with_mask(
            &[1.0, -3.0],
            &[0.0, 1.0],
            &mut || draws.next().unwrap(),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, [0.0, -0.5, 0.0, 1.0]);
        assert!(draws.next().is_none());
        assert!(matches!(
            ch.sample_row_with_mask(&[1.0, -3.0], &[0.5, 1.0], &mut || 0.0, &mut out),
            Err(Error::InvalidParameter { name: "mask", .. })
        ));
        assert!(matches!(
            ch.sample_row_with_mask(&[1.0, -3.0], &[1.0], &mut || 0.0, &mut out),
            Err(Error::ShapeMismatch { .. })
        ));
        // observed = 1: every entry, whatever the draw.
        let ch = Masked::new(1.0, 0.0).unwrap();
        let mut out = [0.0; 4];
        ch.sample_row(&[1.0, -3.0], &mut || 30.0, &mut out).unwrap();
        assert_eq!(out, [1.0, -3.0, 1.0, 1.0]);
    }
}
