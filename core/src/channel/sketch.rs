//! The sketched-clustering output `y = Σ_j α_j e^{√−1 z_j} + ξ`: a row `z ∈ R^d` of
//! `Z = X F` (`X` the `n × p` frequencies, `F = [f_1 … f_d]` the `p × d` centroids) observed
//! through one complex number, section 2.2 of Pandit, Sahraee-Ardakan, Rangan, Schniter,
//! Fletcher, *Matrix inference and estimation in multi-layer models* (their output mapping
//! `φ_1(Z_1, Ξ) = Σ_j α_j e^{√−1 Z_{1,:j}} + Ξ`; their `Z_1` is our pre-activation of the
//! only layer, their `Z_0 = F` our signal).
//!
//! The complex `y_i` is stored as two reals `(Re y_i, Im y_i)`, and `ξ` has iid `N(0, Δ)`
//! real and imaginary parts. Only ML-Mat-VAMP runs it, and only as the model's output layer
//! (two observed numbers per row of `d`: no scalar ML-AMP form, no hidden-layer form). Its
//! row estimator is [`crate::mat::SketchDenoiser`] (MAP).

use super::kind::{ChannelKind, RowChannelForm};
use super::{Channel, gaussian_law};
use crate::error::Error;
use crate::estimator::Estimator;
use crate::quadrature::Rule;
use crate::real::Real;

/// The most entries `d` (centroids) a sketch row can have: `α` is stored inline in an array
/// of this length (no heap; the host runs ML-Mat-VAMP for `d ≤ 8`).
pub const MAX_SKETCH: usize = 8;

/// `P(y | z) = N(Re y; Σ_j α_j cos z_j, Δ) N(Im y; Σ_j α_j sin z_j, Δ)` for a row `z ∈ R^d`,
/// `1 ≤ d ≤` [`MAX_SKETCH`], known weights `α_j ≥ 0` (not all 0) and `Δ > 0` (section 2.2
/// of Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation
/// in multi-layer models*: the sketch of a mixture of `d` components with weights `α_j`,
/// `y_i ≈ Σ_j α_j e^{√−1 x_iᵀ f_j}`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sketch<T> {
    /// `α` in `alpha[..len]`, zeros after.
    alpha: [T; MAX_SKETCH],
    len: usize,
    noise_var: T,
}

impl<T: Real> Sketch<T> {
    /// `y = Σ_j alpha_j e^{√−1 z_j} + N(0, noise_var)` in each of its real and imaginary
    /// parts.
    ///
    /// Errors ([`Error::InvalidParameter`]): `"alpha"` unless it has 1 to [`MAX_SKETCH`]
    /// entries, all finite and `≥ 0`, not all 0, each at most `1e15` (so `Σ α_j²/Δ` stays
    /// representable); `"noise_var"` unless `Δ > 0` and in `[1e-30, 1e30]` (the observation
    /// has a density only with noise, and the estimator divides by `Δ`).
    pub fn new(alpha: &[T], noise_var: T) -> Result<Self, Error> {
        check_alpha(alpha)?;
        if !(noise_var > T::ZERO && crate::error::scale("noise_var", noise_var).is_ok()) {
            return Err(Error::InvalidParameter {
                name: "noise_var",
                requirement: "> 0 and in [1e-30, 1e30] (a sketch output needs noise)",
            });
        }
        let mut store = [T::ZERO; MAX_SKETCH];
        store[..alpha.len()].copy_from_slice(alpha);
        Ok(Self {
            alpha: store,
            len: alpha.len(),
            noise_var,
        })
    }

    /// `α` (`d` entries).
    pub fn alpha(&self) -> &[T] {
        &self.alpha[..self.len]
    }

    /// `Δ`.
    pub fn noise_var(&self) -> T {
        self.noise_var
    }

    /// `Σ_j α_j`: the row `(z, …, z)` gives `Σ_j α_j e^{√−1 z}`.
    fn alpha_sum(&self) -> T {
        self.alpha().iter().fold(T::ZERO, |a, &v| a + v)
    }
}

/// `Ok` if `alpha` has 1 to [`MAX_SKETCH`] entries, each finite, in `[0, 1e15]`, not all 0;
/// else [`Error::InvalidParameter`] naming `alpha`.
pub(crate) fn check_alpha<T: Real>(alpha: &[T]) -> Result<(), Error> {
    if alpha.is_empty() || alpha.len() > MAX_SKETCH {
        return Err(Error::InvalidParameter {
            name: "alpha",
            requirement: "1 to 8 entries (one weight per centroid, d <= 8)",
        });
    }
    let ok = alpha
        .iter()
        .all(|&a| a.is_finite() && a >= T::ZERO && a <= T::c(1e15));
    if !ok || !alpha.iter().any(|&a| a > T::ZERO) {
        return Err(Error::InvalidParameter {
            name: "alpha",
            requirement: "finite weights in [0, 1e15], not all 0",
        });
    }
    Ok(())
}

impl<T: Real> ChannelKind<T> for Sketch<T> {
    fn name(&self) -> &'static str {
        "sketch"
    }

    /// The law of `Re y` for the row `(z, …, z)`: `N((Σ_j α_j) cos z, Δ)` (this law only
    /// serves the second moments the host pushes through every layer; the sketch is always
    /// the last layer, whose observation's moments are never used).
    fn law(&self, z: T, rule: Rule<'_, T>, visit: &mut dyn FnMut(T, T)) {
        gaussian_law(self.alpha_sum() * z.cos(), self.noise_var, rule, visit);
    }

    /// `(Σ_j α_j) cos z + √Δ ξ`, `Re y` of the row `(z, …, z)` (see [`ChannelKind::law`]);
    /// rows are sampled by [`ChannelKind::sample_row`].
    fn sample(&self, z: T, xi: T) -> T {
        self.alpha_sum() * z.cos() + self.noise_var.sqrt() * xi
    }

    /// `out = (Σ_j α_j cos z_j + √Δ xi(), Σ_j α_j sin z_j + √Δ xi())`: two standard normals
    /// per row, real part first. Errors ([`Error::ShapeMismatch`]) unless `z` has
    /// `d = α.len()` entries and `out` two.
    fn sample_row(&self, z: &[T], xi: &mut dyn FnMut() -> T, out: &mut [T]) -> Result<(), Error> {
        crate::error::length("sketch row", z, self.len)?;
        crate::error::length("sketch observation row", out, 2)?;
        let (re, im) = phasor_sum(self.alpha(), z);
        let sd = self.noise_var.sqrt();
        out[0] = re + sd * xi();
        out[1] = im + sd * xi();
        Ok(())
    }

    fn amp(&self) -> Option<&dyn Channel<T>> {
        None
    }

    /// Always [`Error::Unsupported`]: two numbers per row, an output only.
    fn check_as_hidden(&self) -> Result<(), Error> {
        Err(super::kind::OUTPUT_ONLY)
    }

    /// [`RowChannelForm::Sketch`] for MAP; [`Error::Unsupported`] naming `estimator` for
    /// MMSE (why: [`crate::mat::SketchDenoiser`]); [`Error::InvalidParameter`] naming `alpha`
    /// unless `d = α.len()`.
    fn row_form(&self, estimator: Estimator, d: usize) -> Result<RowChannelForm<'_, T>, Error> {
        if estimator == Estimator::Mmse {
            return Err(crate::mat::SKETCH_NO_MMSE);
        }
        if d != self.len {
            return Err(Error::InvalidParameter {
                name: "alpha",
                requirement: "one weight per entry of a row (length d)",
            });
        }
        Ok(RowChannelForm::Sketch {
            alpha: self.alpha(),
            noise_var: self.noise_var,
        })
    }

    /// Two numbers per row (`Re y`, `Im y`).
    fn observation_dim(&self, _d: usize) -> usize {
        2
    }
}

/// `Σ_j α_j e^{√−1 z_j}` as `(Σ_j α_j cos z_j, Σ_j α_j sin z_j)` (the noiseless sketch of
/// one row; `alpha` and `z` of the same length).
pub fn phasor_sum<T: Real>(alpha: &[T], z: &[T]) -> (T, T) {
    alpha
        .iter()
        .zip(z)
        .fold((T::ZERO, T::ZERO), |(re, im), (&a, &zj)| {
            (re + a * zj.cos(), im + a * zj.sin())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked() {
        assert!(Sketch::new(&[0.5, 0.5], 1e-3).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-40] {
            assert!(matches!(
                Sketch::new(&[0.5, 0.5], bad),
                Err(Error::InvalidParameter {
                    name: "noise_var",
                    ..
                })
            ));
        }
        for bad in [
            &[][..],
            &[0.1; 9][..],
            &[0.5, f64::NAN][..],
            &[0.5, -0.1][..],
            &[0.0, 0.0][..],
            &[1e16][..],
        ] {
            assert!(matches!(
                Sketch::new(bad, 0.1),
                Err(Error::InvalidParameter { name: "alpha", .. })
            ));
        }
        let s = Sketch::new(&[0.5, 0.5], 0.1).unwrap();
        assert!(s.check_as_hidden().is_err() && s.amp().is_none());
        assert_eq!(s.observation_dim(2), 2);
        assert!(matches!(
            s.row_form(Estimator::Map, 3),
            Err(Error::InvalidParameter { name: "alpha", .. })
        ));
        assert!(matches!(
            s.row_form(Estimator::Mmse, 2),
            Err(Error::Unsupported {
                field: "estimator",
                ..
            })
        ));
        assert!(s.row_form(Estimator::Map, 2).is_ok());
    }

    #[test]
    fn rows_are_sampled_as_the_phasor_sum_plus_noise() {
        let s = Sketch::new(&[0.2, 0.3, 0.5], 0.04).unwrap();
        let z = [0.3, -1.2, 4.0];
        let mut out = [0.0; 2];
        let mut draws = [1.0, -2.0].into_iter();
        s.sample_row(&z, &mut || draws.next().unwrap(), &mut out)
            .unwrap();
        let re: f64 = 0.2 * 0.3f64.cos() + 0.3 * (-1.2f64).cos() + 0.5 * 4.0f64.cos();
        let im: f64 = 0.2 * 0.3f64.sin() + 0.3 * (-1.2f64).sin() + 0.5 * 4.0f64.sin();
        assert!((out[0] - (re + 0.2)).abs() < 1e-15 && (out[1] - (im - 0.4)).abs() < 1e-15);
        assert!(s.sample_row(&z[..2], &mut || 0.0, &mut out).is_err());
        assert!(s.sample_row(&z, &mut || 0.0, &mut [0.0; 3]).is_err());
    }
}
