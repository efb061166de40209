//! The registry of kinds: the one place that maps a model file's `type = "…"` table to the
//! core object it builds. A prior or channel kind is one core file (its mathematics) plus one
//! variant here and its arm in `build` (the matches are exhaustive: the compiler points at
//! every place a new kind needs). Nothing after the build looks at the spec again: the
//! built objects ([`Prior`], [`ChannelKind`]) say everything the algorithms need.

use mlamp_core::channel::activation::{self, Sigmoid, Tanh};
use mlamp_core::channel::{
    Activation, ChannelKind, Committee, Linear, Masked, MixedLinear, Noisy, Relu, Sign, Sketch,
    SnrReference,
};
use mlamp_core::estimator::Estimator;
use mlamp_core::prior::{
    Binary, GaussBernoulli, Gaussian, GroupL1Prior, Laplace, Prior, RowSparsePrior,
};
use serde::Deserialize;

use crate::error::Error;
use crate::streams::{normal, stream};

/// A built prior, shareable between threads.
pub type BuiltPrior = Box<dyn Prior<f64> + Send + Sync>;

/// A built channel, shareable between threads.
pub type BuiltChannel = Box<dyn ChannelKind<f64> + Send + Sync>;

fn one() -> f64 {
    1.0
}

/// The `[prior]` table of a model file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PriorSpec {
    /// N(mean, var).
    Gaussian {
        /// Mean.
        #[serde(default)]
        mean: f64,
        /// Variance.
        #[serde(default = "one")]
        var: f64,
    },
    /// (1 − ρ) δ₀ + ρ N(mean, var).
    GaussBernoulli {
        /// Density ρ ∈ (0, 1].
        rho: f64,
        /// Mean of the Gaussian part.
        #[serde(default)]
        mean: f64,
        /// Variance of the Gaussian part.
        #[serde(default = "one")]
        var: f64,
    },
    /// ±1 with P(+1) = (1 + tanh bias)/2.
    Binary {
        /// The bias.
        #[serde(default)]
        bias: f64,
    },
    /// Whole rows: `N(0, var I_d)` with probability ρ, else the zero row (the multi-task /
    /// MMV prior). Each entry's marginal is Gauss–Bernoulli, which is what ML-AMP (d = 1)
    /// uses.
    RowSparse {
        /// Density ρ ∈ (0, 1] of non-zero rows.
        rho: f64,
        /// Variance of each entry of a non-zero row.
        #[serde(default = "one")]
        var: f64,
    },
    /// iid Laplace entries `(λ/2) e^{−λ|x|}` (the LASSO's prior); ML-Mat-VAMP's row estimator
    /// `estimator`: MMSE (`d = 1`) or MAP (the LASSO step, any `d`).
    Laplace {
        /// The rate λ > 0.
        lambda: f64,
        /// ML-Mat-VAMP's row estimator (default MMSE).
        #[serde(default)]
        estimator: Estimator,
    },
    /// Rows `∝ e^{−λ‖x‖₂}` (the multi-task LASSO's group penalty), MAP only in ML-Mat-VAMP;
    /// for `d = 1` the Laplace prior.
    GroupL1 {
        /// The weight λ > 0.
        lambda: f64,
    },
}

impl PriorSpec {
    /// Builds the prior; a bad value is an error naming its field under `prior`.
    pub fn build(&self) -> Result<BuiltPrior, Error> {
        let at = |e| Error::at("prior", e);
        Ok(match *self {
            PriorSpec::Gaussian { mean, var } => Box::new(Gaussian::new(mean, var).map_err(at)?),
            PriorSpec::GaussBernoulli { rho, mean, var } => {
                Box::new(GaussBernoulli::new(rho, mean, var).map_err(at)?)
            }
            PriorSpec::Binary { bias } => Box::new(Binary::new(bias).map_err(at)?),
            PriorSpec::RowSparse { rho, var } => {
                Box::new(RowSparsePrior::new(rho, var).map_err(at)?)
            }
            PriorSpec::Laplace { lambda, estimator } => Box::new(
                Laplace::new(lambda)
                    .map_err(at)?
                    .with_row_estimator(estimator),
            ),
            PriorSpec::GroupL1 { lambda } => Box::new(GroupL1Prior::new(lambda).map_err(at)?),
        })
    }
}

/// The `channel` table of a layer.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ChannelSpec {
    /// h = z + N(0, noise_var).
    Linear {
        /// Noise variance ≥ 0.
        #[serde(default)]
        noise_var: f64,
    },
    /// h = sign(z + N(0, noise_var)).
    Sign {
        /// Pre-activation noise variance ≥ 0.
        #[serde(default)]
        noise_var: f64,
    },
    /// h = max(0, z) + N(0, noise_var).
    Relu {
        /// Noise variance ≥ 0 (> 0 for the output layer).
        #[serde(default)]
        noise_var: f64,
    },
    /// h = 1/(1 + e^{−z}) + N(0, noise_var) (ML-Mat-VAMP only).
    Sigmoid {
        /// Noise variance ≥ 0 (> 0 for the output layer).
        #[serde(default)]
        noise_var: f64,
    },
    /// h = tanh(z) + N(0, noise_var) (ML-Mat-VAMP only).
    Tanh {
        /// Noise variance ≥ 0 (> 0 for the output layer).
        #[serde(default)]
        noise_var: f64,
    },
    /// The committee output `y = F₂ᵀ σ(z) + N(0, Δ)`, one number per row of `d` (section 5 of
    /// Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation
    /// in multi-layer models*): ML-Mat-VAMP only, last layer only. The noise is given by
    /// exactly one of `noise_var` (`Δ`), `snr_db` (`Δ = 10^{−dB/10} E s²`, the power of the
    /// noiseless output `s = F₂ᵀ σ(z)` including its mean, as the authors' code) and
    /// `snr_db_variance` (`Δ = 10^{−dB/10} Var s`), with `z ~ N(0, ρ_z I_d)`, `ρ_z` the second
    /// moment per entry of the layer's input (= of its pre-activation, for the default iid
    /// `N(0, 1/n_in)` weights and for `spectrum` weights, both with `E‖W‖_F² = n_out`).
    Committee {
        /// `σ`.
        activation: CommitteeActivation,
        /// `F₂` (`d` entries); if omitted, `d` iid `N(0, 1)` draws from `f2_seed`.
        #[serde(default)]
        f2: Option<Vec<f64>>,
        /// The seed of `F₂`'s draws when `f2` is omitted (default 0): stream 0 of the
        /// instances' seeded generator for this seed, one standard normal per entry.
        #[serde(default)]
        f2_seed: Option<u64>,
        /// `Δ > 0`.
        #[serde(default)]
        noise_var: Option<f64>,
        /// SNR in dB relative to `E s²`.
        #[serde(default)]
        snr_db: Option<f64>,
        /// SNR in dB relative to `Var s`.
        #[serde(default)]
        snr_db_variance: Option<f64>,
    },
    /// Mixed linear regression `y = z_q + N(0, Δ)`, `q = 0` with probability `pi` (eq. 6 of
    /// Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation
    /// in multi-layer models*): rows of `d = 2` (the two regressors), one number observed per
    /// row; ML-Mat-VAMP only, last layer only.
    MixedLinear {
        /// `π ∈ (0, 1)`.
        pi: f64,
        /// Noise variance ≥ 0.
        #[serde(default)]
        noise_var: f64,
    },
    /// The masked output of imputation (section 2.4, eq. 10 of Pandit, Sahraee-Ardakan,
    /// Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*):
    /// each entry of the pre-activation `z` observed with probability `observed` (the mask
    /// drawn from the instance's seed), or where the file `mask` says (exactly one of the
    /// two), `y = z + N(0, noise_var)` there; an observed row is the `d` values then the `d`
    /// mask entries. ML-Mat-VAMP only, last layer only.
    Masked {
        /// The probability that an entry is observed, `(0, 1]`.
        #[serde(default)]
        observed: Option<f64>,
        /// A mask file (`.npy`, `.npz`, `.csv`; `n_L × d`, entries 0 or 1), relative to the
        /// model file's directory ([`super::mask::MaskFile`]).
        #[serde(default)]
        mask: Option<String>,
        /// Noise variance ≥ 0.
        #[serde(default)]
        noise_var: f64,
    },
    /// The sketched-clustering output `y = Σ_j α_j e^{√−1 z_j} + ξ` (section 2.2 of Pandit,
    /// Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in
    /// multi-layer models*): rows of `d` (one entry per centroid), two numbers observed per row
    /// (`Re y`, `Im y`, each with noise `N(0, noise_var)`); ML-Mat-VAMP with the MAP estimator
    /// only, last layer only.
    Sketch {
        /// `α`: one weight `≥ 0` per centroid (`d` entries); default `1/d` each.
        #[serde(default)]
        alpha: Option<Vec<f64>>,
        /// `Δ > 0`.
        noise_var: f64,
    },
}

/// The activation of a committee output.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CommitteeActivation {
    /// `σ(z) = 1/(1 + e^{−z})`.
    Sigmoid,
    /// `σ(z) = max(0, z)`.
    Relu,
}

/// What a channel's build may depend on besides its own table: the model's row width and the
/// second moment per entry of the layer's input (a committee's `snr_db` needs both).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerContext {
    /// `d`, entries per row.
    pub d: usize,
    /// `ρ_z`: the layer's input's second moment per entry under the model.
    pub input_second_moment: f64,
    /// The fraction of observed entries of a masked output's mask file, if it has one
    /// (read by the model's build, [`super::mask::MaskFile`]).
    pub mask_observed: Option<f64>,
}

/// The committee's noise, as written.
enum CommitteeNoise {
    Var(f64),
    Db(f64, SnrReference),
}

/// `F₂` as written, or `d` standard normals from `stream(seed, 0)`; errors name
/// `{field}.f2` or `{field}.f2_seed`.
fn committee_f2(
    field: &str,
    f2: Option<&[f64]>,
    seed: Option<u64>,
    d: usize,
) -> Result<Vec<f64>, Error> {
    match (f2, seed) {
        (Some(_), Some(_)) => Err(Error::invalid(
            format!("{field}.f2_seed"),
            "only without f2 (it seeds f2's draws)",
        )),
        (Some(f2), None) if f2.len() != d => Err(Error::invalid(
            format!("{field}.f2"),
            format!("must have d = {d} entries (has {})", f2.len()),
        )),
        (Some(f2), None) => Ok(f2.to_vec()),
        (None, seed) => {
            let mut rng = stream(seed.unwrap_or(0), 0);
            Ok((0..d).map(|_| normal(&mut rng)).collect())
        }
    }
}

/// Exactly one of the three noise keys; errors name the field.
fn committee_noise(
    field: &str,
    noise_var: Option<f64>,
    snr_db: Option<f64>,
    snr_db_variance: Option<f64>,
) -> Result<CommitteeNoise, Error> {
    match (noise_var, snr_db, snr_db_variance) {
        (Some(v), None, None) => Ok(CommitteeNoise::Var(v)),
        (None, Some(db), None) => Ok(CommitteeNoise::Db(db, SnrReference::SecondMoment)),
        (None, None, Some(db)) => Ok(CommitteeNoise::Db(db, SnrReference::Variance)),
        (None, None, None) => Err(Error::invalid(
            field,
            "a committee needs one of noise_var, snr_db, snr_db_variance",
        )),
        (v, db, _) => {
            let second = if v.is_some() && db.is_some() {
                "snr_db"
            } else {
                "snr_db_variance"
            };
            Err(Error::invalid(
                format!("{field}.{second}"),
                "give only one of noise_var, snr_db, snr_db_variance",
            ))
        }
    }
}

/// The committee of `phi`; core errors name their field under `field`.
fn committee<A: Activation<f64> + Send + Sync + 'static>(
    phi: A,
    f2: &[f64],
    noise: CommitteeNoise,
    ctx: &LayerContext,
    field: &str,
) -> Result<BuiltChannel, Error> {
    let at = |e| Error::at(field, e);
    Ok(Box::new(match noise {
        CommitteeNoise::Var(v) => Committee::new(phi, f2, v).map_err(at)?,
        CommitteeNoise::Db(db, reference) => {
            Committee::with_snr_db(phi, f2, ctx.input_second_moment, db, reference).map_err(at)?
        }
    }))
}

impl ChannelSpec {
    /// A masked output's mask file and noise variance, if it names one.
    pub fn mask_file(&self) -> Option<(&str, f64)> {
        match self {
            ChannelSpec::Masked {
                mask: Some(m),
                noise_var,
                ..
            } => Some((m, *noise_var)),
            _ => None,
        }
    }

    /// Builds the channel; `field` is its path in the file (for errors naming the bad value),
    /// `ctx` what the build may need of the model around it.
    pub fn build(&self, field: &str, ctx: &LayerContext) -> Result<BuiltChannel, Error> {
        let at = |e| Error::at(field, e);
        Ok(match *self {
            ChannelSpec::Linear { noise_var } => Box::new(Linear::new(noise_var).map_err(at)?),
            ChannelSpec::Sign { noise_var } => Box::new(Sign::new(noise_var).map_err(at)?),
            ChannelSpec::Relu { noise_var } => Box::new(Relu::new(noise_var).map_err(at)?),
            ChannelSpec::Sigmoid { noise_var } => {
                Box::new(Noisy::new(Sigmoid, noise_var).map_err(at)?)
            }
            ChannelSpec::Tanh { noise_var } => Box::new(Noisy::new(Tanh, noise_var).map_err(at)?),
            ChannelSpec::MixedLinear { pi, noise_var } => {
                if ctx.d != 2 {
                    return Err(Error::invalid(
                        "d",
                        format!(
                            "a mixed-linear output needs d = 2 (the two regressors), not {}",
                            ctx.d
                        ),
                    ));
                }
                Box::new(MixedLinear::new(pi, noise_var).map_err(at)?)
            }
            ChannelSpec::Masked {
                observed,
                ref mask,
                noise_var,
            } => {
                let observed = match (observed, mask, ctx.mask_observed) {
                    (Some(o), None, _) => o,
                    (None, Some(_), Some(fraction)) => fraction,
                    (Some(_), Some(_), _) | (None, None, _) => {
                        return Err(Error::invalid(
                            format!("{field}.observed"),
                            "give exactly one of observed (a fraction, the mask drawn from the \
                             seed) and mask (a file)",
                        ));
                    }
                    (None, Some(_), None) => {
                        return Err(Error::invalid(
                            format!("{field}.mask"),
                            "the mask file was not read (build the model through Model::from_file \
                             or ModelSpec::build_in)",
                        ));
                    }
                };
                Box::new(Masked::new(observed, noise_var).map_err(at)?)
            }
            ChannelSpec::Sketch {
                ref alpha,
                noise_var,
            } => {
                let alpha = match alpha {
                    Some(a) if a.len() != ctx.d => {
                        return Err(Error::invalid(
                            format!("{field}.alpha"),
                            format!("must have d = {} entries (has {})", ctx.d, a.len()),
                        ));
                    }
                    Some(a) => a.clone(),
                    None => vec![1.0 / ctx.d as f64; ctx.d],
                };
                Box::new(Sketch::new(&alpha, noise_var).map_err(at)?)
            }
            ChannelSpec::Committee {
                activation,
                ref f2,
                f2_seed,
                noise_var,
                snr_db,
                snr_db_variance,
            } => {
                let f2 = committee_f2(field, f2.as_deref(), f2_seed, ctx.d)?;
                let noise = committee_noise(field, noise_var, snr_db, snr_db_variance)?;
                match activation {
                    CommitteeActivation::Sigmoid => committee(Sigmoid, &f2, noise, ctx, field)?,
                    CommitteeActivation::Relu => {
                        committee(activation::Relu, &f2, noise, ctx, field)?
                    }
                }
            }
        })
    }
}
