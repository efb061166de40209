//! The state evolution of ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher,
//! *Matrix inference and estimation in multi-layer models*, Theorem 1), line by line against
//! Algorithm 1 as [`mlamp_core::ml_vamp::MlVamp::step`] implements it.
//!
//! # The row-wise model (Theorem 1, in our indexing)
//!
//! Our variables are `h_0, z_0, h_1, …, z_{K−1}` (the paper's `Z_0, Z_1, …`: `h_k = Z_{2k}`,
//! `z_k = Z_{2k+1}`) and each carries a forward and a backward message. In the large-system
//! limit the rows of a variable's truth and messages behave like (see [`row_model`]):
//!
//! - forward: `R^+ = V⁰ + E^+`, the `2d×2d` second moments `K^+` of `(V⁰, E^+)` (the
//!   theorem's `(A, B) ~ N(0, K^+_{k,ℓ−1})` on a pre-activation, `A` the true row, `A + B`
//!   the message);
//! - backward: `R^- = κ V⁰ + C`, `C ~ N(0, τ^-)` independent of the truth and of the forward
//!   message (the theorem's `C + Ã`);
//! - the precisions `Γ^±` are deterministic (`Γ̄^±`), and so are the mean Jacobians `Λ̄^±`.
//!
//! The pre-activation's truth `A = z⁰` is Gaussian (a rotation-invariant `W` applied to `h⁰`);
//! the activation's truth is `Ã = φ(A, Ξ)` (the channel), and `x⁰ ~ P_0` for the signal.
//!
//! # One iteration (Algorithm 1 as implemented; the printed lines' index slips are noted in
//! `shared/notes/conventions.md`)
//!
//! Forward:
//! - Lines 4–7 (prior, `h_0`), Monte Carlo ([`monte_carlo`]): `x⁰ ~ P_0`,
//!   `r^- = κ x⁰ + C`; `x̂ = G_0(r^-, Γ^-)`, `J = ∂x̂/∂r^-` from the prior's own row
//!   estimator; `⟨J⟩` over the samples; the extrinsic step ([`mlamp_core::ml_vamp::extrinsic`],
//!   the algorithm's own) gives `Γ^+` and `B`, and `r^+ = x̂ + B (x̂ − r^-)`, so the new `K^+`
//!   is the second moments of `(x⁰, r^+ − x⁰)`. The MSE of `ĥ_0` is `E (x̂ − x⁰)(x̂ − x⁰)ᵀ`.
//! - Lines 9–12 for the linear layer `k` (`z_k`), exact ([`linear::forward`]): in the SVD
//!   domain the rotated input truth and forward error are `(a, b) ~ N(0, K^+_{h_k})`, the
//!   output's truth `s a`, its backward message `κ s a + c`, `c ~ N(0, τ^-_{z_k})`; the
//!   estimate `ẑ = z_in (a + b) + z_out (κ s a + c)` per direction
//!   ([`mlamp_core::ml_vamp::DirectionGains`]), `⟨J⟩ = (r/n_out) E_s z_out + (1 − r/n_out)
//!   J_null`, the same extrinsic step, and `K^+_{z_k}` the average over directions of the
//!   second moments of `(s a, r^+ − s a)`.
//! - Lines 9–12 for the channel of layer `k < K−1` (`h_{k+1}`), Monte Carlo:
//!   `(A, B) ~ N(0, K^+_{z_k})`, `Ã = φ_k(A, Ξ)`, `r^- = κ Ã + C`, `C ~ N(0, τ^-_{h_{k+1}})`
//!   (the previous iteration's backward message), `ĥ = G^+(r^-, A + B)` from the channel's
//!   row estimator, then as for the prior.
//!
//! Backward:
//! - Lines 15–18 (output, `z_{K−1}`), Monte Carlo: `(A, B) ~ N(0, K^+_{z_{K−1}})`,
//!   `y = φ_{K−1}(A, Ξ)`, `ẑ = G^-(y, A + B)`, `⟨J⟩`, the extrinsic step with `Γ^+`, and
//!   `r^- = ẑ + B (ẑ − (A + B))`, regressed on the truth: `(κ, τ^-)` of
//!   [`row_model::Backward::regressed`] from the second moments of `(A, r^- − A)`.
//! - Lines 20–23 for the linear layer `k` (`h_k`), exact ([`linear::backward`]):
//!   `ũ = u_in (a + b) + u_out (κ s a + c)` with the new `τ^-_{z_k}`, `⟨J⟩ = (r/n_in) E_s u_in
//!   + (1 − r/n_in) I`, and `(κ, τ^-_{h_k})` the regression on `a` of `r^- − a` from its
//!   second moments averaged over directions; what is left of its cross moment with `b` is
//!   reported (`decorrelation`: 0 when every `κ = I`).
//! - Lines 20–23 for the channel of layer `k − 1` (`z_{k−1}`), Monte Carlo, with the new
//!   `τ^-_{h_k}` and this iteration's `K^+_{z_{k−1}}`: `ẑ = G^-(r^-_h, A + B)`, as for the
//!   output.
//!
//! A rejected update keeps the variable's previous model, as the algorithm keeps its previous
//! message. The first pass is the algorithm's: `R^± = 0` (`K^+ = [[S, −S], [−S, S]]` with
//! `S` the truth's second moments, `κ = 0, τ = 0`), `Γ^+ = I/ρ`, `Γ^- = (ι/ρ) I`, and the
//! first forward update whose `⟨C⟩` needs a floor is skipped. The state evolution follows the
//! undamped algorithm (`β = 1`): damping mixes each message with the previous iteration's,
//! whose error is correlated with the new one, which this model does not track (the fixed
//! points do not depend on the damping).
//!
//! # Linear layers: the singular-value law
//!
//! The averages over directions are exact sums over a [`SpectralLaw`]: the empirical
//! singular values of a given `W`, the Marchenko–Pastur law of iid Gaussian weights by its
//! Gauss rule, or the `spectrum` weights' law.

pub mod linear;
pub mod monte_carlo;
pub mod report;
pub mod row_model;

use mlamp_core::channel::{Activation, ChannelKind, RowChannelForm};
use mlamp_core::estimator::Estimator;
use mlamp_core::mat::{
    ChannelDenoiser, PairEstimate, Precision, RowDenoiser, RowEstimate, RowMessage,
};
use mlamp_core::ml_vamp::{Extrinsic, INITIAL_RELATIVE_PRECISION, extrinsic};
use mlamp_core::prior::{Draw, RowPriorForm};
use nalgebra::{DMatrix, SMatrix, SVector};

use self::monte_carlo::{McBlock, Part, RowFn, Rule, Source, UpdateKey, UpdateMoments};
use self::row_model::{Backward, Forward, VariableSe, draw, draw_row, halves, psd_factor};
use crate::algo::Progress;
use crate::algo::denoisers::{channel_denoiser, prior_denoiser};
use crate::committee::test_error::predicted_test_error;
use crate::error::Error;
use crate::model::{MAX_D, Model};
use crate::se::spectral_law::SpectralLaw;

/// Options of the ML-Mat-VAMP state evolution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VampSeOptions<'a> {
    /// Monte-Carlo rows per non-linear update (rounded up to whole blocks of
    /// [`monte_carlo::BLOCK`]).
    pub samples: usize,
    /// Iterations.
    pub iterations: usize,
    /// The seed of the Monte-Carlo streams.
    pub seed: u64,
    /// If set, the estimator of every layer, overriding the model file's.
    pub estimator: Option<Estimator>,
    /// Told of every finished iteration (the CLI's progress bar); nobody by default.
    pub progress: Progress<'a>,
    /// `None` (default): the algorithm's uninformative start, `R^± = 0`. `Some(ε)`: the
    /// output layer's pre-activation `z_{K−1}` starts from the backward message
    /// `R^- = z⁰ + C`, `C ~ N(0, ε ρ I)`, of precision `Γ^- = I/(ε ρ)` (`ρ` the variable's
    /// second-moment scale): the state evolution of a run started near the truth, which
    /// follows the fixed point a successful recovery reaches where the uninformative start
    /// cannot break a symmetry (the sketch's order of the centroids). `ε > 0`, finite.
    pub informed: Option<f64>,
}

impl Default for VampSeOptions<'_> {
    /// 10⁵ samples, 20 iterations, seed 0, the model's estimators.
    fn default() -> Self {
        Self {
            samples: 100_000,
            iterations: 20,
            seed: 0,
            estimator: None,
            progress: Progress::default(),
            informed: None,
        }
    }
}

/// A predicted quantity and its Monte-Carlo standard error.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// The value.
    pub value: f64,
    /// Its standard error (jackknife over the sample blocks of this iteration's update).
    pub se: f64,
}

/// What the state evolution predicts after one iteration.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VampSeIteration {
    /// The MSE per entry of each forward estimate `ĥ_k` (signal first), as the algorithm's
    /// trace reports it.
    pub mse_layers: Vec<Estimate>,
    /// `E (ĥ_k − h_k)(ĥ_k − h_k)ᵀ`, row-major `d×d`, per layer.
    pub error_covariance: Vec<Vec<f64>>,
    /// The second moments `E [x, x̂][x, x̂]ᵀ` of the signal's true and estimated rows
    /// (`2d×2d`, row-major): eq. 17's `K` predicted.
    pub signal_joint: Vec<f64>,
    /// For a committee output (`y = F2ᵀσ(z) + ξ`): the predicted normalised test error
    /// `E|y − ŷ|²/Δ` of a fresh noisy label (1 is the floor), eq. 17's cubature on the
    /// predicted [`VampSeIteration::signal_joint`]; `None` for other outputs.
    pub test_error: Option<Estimate>,
    /// For a masked output (imputation): the predicted MSE per missing entry of the output's
    /// estimate of its pre-activation `z_{K−1}` (the data matrix), over the masks; `None`
    /// for other outputs or `observed = 1`.
    pub mse_unobserved: Option<Estimate>,
    /// Interventions of the extrinsic steps in this iteration.
    pub interventions: usize,
    /// The largest cross moment between a linear layer's backward-message error and the
    /// input's forward error that its regression on the truth leaves out (0 in exact
    /// arithmetic when every message is unbiased).
    pub decorrelation: f64,
}

/// The state evolution's prediction, iteration by iteration.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VampSeResult {
    /// Per iteration (1-based: entry `t − 1` is iteration `t`).
    pub iterations: Vec<VampSeIteration>,
}

/// The state evolution of `model` with the singular-value laws `laws` (one per layer).
pub fn vamp_state_evolution(
    model: &Model,
    laws: &[SpectralLaw],
    opts: &VampSeOptions,
) -> Result<VampSeResult, Error> {
    if laws.len() != model.depth() {
        return Err(Error::invalid("laws", "one singular-value law per layer"));
    }
    if opts.samples == 0 || opts.iterations == 0 {
        return Err(Error::invalid(
            "samples",
            "samples and iterations must be positive",
        ));
    }
    if let Some(eps) = opts.informed
        && !(eps.is_finite() && eps > 0.0)
    {
        return Err(Error::invalid("informed", "must be finite and > 0"));
    }
    check_memory(model.d, opts.samples)?;
    macro_rules! dispatch {
        ($($d:literal),*) => {
            match model.d {
                $($d => Se::<$d>::new(model, laws, opts)?.run(),)*
                _ => Err(Error::invalid("d", "the state evolution runs d = 1..=8")),
            }
        };
    }
    dispatch!(1, 2, 3, 4, 5, 6, 7, 8)
}

/// Refuses `samples` Monte-Carlo rows whose one update (all of it is held at once: the truth,
/// the incoming message and the estimate, `d` f64 each, for every row of its whole blocks)
/// needs more than [`crate::memory::available`] reports.
fn check_memory(d: usize, samples: usize) -> Result<(), Error> {
    let rows = samples.div_ceil(monte_carlo::BLOCK).max(2) as f64 * monte_carlo::BLOCK as f64;
    let needed = rows * (3 * d * std::mem::size_of::<f64>()) as f64;
    match crate::memory::available() {
        Some(limit) if needed > limit as f64 => {
            let fits = limit as f64 / (3 * d * std::mem::size_of::<f64>()) as f64;
            Err(Error::Memory {
                what: format!("the state evolution with {samples} Monte-Carlo samples"),
                needed: needed.min(u64::MAX as f64) as u64,
                limit,
                limit_from: "that may be used (70% of what is available)",
                hint: format!(": --samples {} fits", (fits as u64).max(1)),
            })
        }
        _ => Ok(()),
    }
}

/// A row of the output update: the true row, the message's row, the estimate and the observed
/// row (its first `observation_dim` entries).
type OutputRowFn<'a, const D: usize> = dyn Fn(
        &mut Source,
    ) -> (
        SVector<f64, D>,
        SVector<f64, D>,
        RowEstimate<f64, D>,
        [f64; 2 * MAX_D],
    ) + Sync
    + 'a;

/// A committee output's `(σ, F2, Δ)`.
type CommitteeOutput<'m> = (&'m dyn Activation<f64>, &'m [f64], f64);

/// The model's row estimators for `D` and the laws.
struct Se<'m, const D: usize> {
    model: &'m Model,
    prior: Box<dyn RowDenoiser<f64, D> + 'm>,
    channels: Vec<Box<dyn ChannelDenoiser<f64, D> + 'm>>,
    laws: &'m [SpectralLaw],
    scales: Vec<f64>,
    opts: VampSeOptions<'m>,
    /// Sigma points if every factor is linear-Gaussian, else Monte Carlo.
    rule: Rule,
}

/// Draws a row of the signal's prior.
fn prior_row<const D: usize>(model: &Model, src: &mut Source) -> SVector<f64, D> {
    let mut x = [0.0; D];
    let mut source = |d: Draw| match d {
        Draw::Uniform => src.uniform(),
        Draw::Normal => src.normal(),
    };
    model.prior.sample_row(&mut source, &mut x);
    SVector::from_column_slice(&x)
}

/// Draws `φ(z, Ξ)` of a channel into `out` (its `observation_dim` entries; [`Se::new`] checks
/// the lengths, so the only failure left is none: a failed draw would be NaN and caught as a
/// non-finite prediction).
fn channel_row(kind: &dyn ChannelKind<f64>, z: &[f64], src: &mut Source, out: &mut [f64]) {
    if kind.sample_row(z, &mut || src.normal(), out).is_err() {
        out.fill(f64::NAN);
    }
}

impl<'m, const D: usize> Se<'m, D> {
    fn new(
        model: &'m Model,
        laws: &'m [SpectralLaw],
        opts: &VampSeOptions<'m>,
    ) -> Result<Self, Error> {
        let prior = prior_denoiser::<D>(model.prior.as_ref())?;
        let channels = model
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                channel_denoiser::<D>(&*l.channel, opts.estimator.unwrap_or(l.estimator))
                    .map_err(|e| Error::at(&format!("layers[{k}]"), e))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        for (k, (l, c)) in model.layers.iter().zip(&channels).enumerate() {
            let p = c.observation_dim();
            let hidden = k + 1 < model.depth();
            if p != l.channel.observation_dim(D) || (hidden && p != D) || p > 2 * D {
                return Err(Error::invalid(
                    format!("layers[{k}].channel"),
                    "its estimator and its kind disagree on the observation's size",
                ));
            }
        }
        let gaussian = matches!(model.prior.row_form(D), Ok(RowPriorForm::Gaussian { .. }))
            && model.layers.iter().all(|l| {
                matches!(
                    l.channel.row_form(Estimator::Mmse, D),
                    Ok(RowChannelForm::Activation { phi, .. }) if phi.is_identity()
                )
            });
        let rule = if gaussian {
            Rule::SigmaPoints
        } else {
            Rule::MonteCarlo {
                samples: opts.samples,
            }
        };
        Ok(Self {
            rule,
            model,
            prior,
            channels,
            laws,
            scales: model.variable_scales()?,
            opts: *opts,
        })
    }

    fn key(&self, iteration: usize, variable: usize, pass: usize) -> UpdateKey {
        UpdateKey {
            iteration,
            variable,
            pass,
        }
    }

    /// The truth's row second moments of every variable, by Monte Carlo through the chain
    /// (the pre-activations' exactly: `E z zᵀ = power · E h hᵀ`).
    fn truth_moments(&self) -> Vec<SMatrix<f64, D, D>> {
        let mut out = Vec::with_capacity(2 * self.model.depth());
        let est = |v: SVector<f64, D>| RowEstimate {
            mean: v,
            jacobian: SMatrix::zeros(),
        };
        let blocks =
            monte_carlo::sample::<D>(self.rule, self.opts.seed, self.key(0, 0, 2), &|rng| {
                let x = prior_row::<D>(self.model, rng);
                (x, x, est(x))
            });
        let second = |blocks: &[McBlock<D>]| {
            let m = UpdateMoments::new(blocks, None).mean();
            UpdateMoments::<D>::block(&m, Part::Truth, Part::Truth)
        };
        let mut s = second(&blocks);
        for k in 0..self.model.depth() {
            out.push(s);
            let sz = s * linear::output_power(&self.laws[k]);
            out.push(sz);
            if k + 1 < self.model.depth() {
                let factor = psd_factor(&row_model::dynamic(&sz));
                let kind = &*self.model.layers[k].channel;
                let blocks = monte_carlo::sample::<D>(
                    self.rule,
                    self.opts.seed,
                    self.key(0, 2 * k + 2, 2),
                    &|rng| {
                        let a = draw_row::<D>(&factor, rng);
                        let mut h = [0.0; D];
                        channel_row(kind, a.as_slice(), rng, &mut h);
                        let h = SVector::from_column_slice(&h);
                        (h, h, est(h))
                    },
                );
                s = second(&blocks);
            }
        }
        out
    }

    fn initial(&self) -> Result<Vec<VariableSe<D>>, Error> {
        let output = 2 * self.model.depth() - 1;
        self.truth_moments()
            .into_iter()
            .zip(&self.scales)
            .enumerate()
            .map(|(v, (truth, &rho))| {
                let (gamma_minus, backward) = match self.opts.informed {
                    Some(eps) if v == output => (
                        Precision::identity_scaled(1.0 / (eps * rho))?,
                        Backward::unbiased(SMatrix::identity() * (eps * rho)),
                    ),
                    _ => (
                        Precision::identity_scaled(INITIAL_RELATIVE_PRECISION / rho)?,
                        Backward::zero_message(),
                    ),
                };
                Ok(VariableSe {
                    gamma_plus: Precision::identity_scaled(1.0 / rho)?,
                    gamma_minus,
                    forward: Forward::zero_message(truth),
                    backward,
                    fresh: [true; 2],
                    interventions: 0,
                })
            })
            .collect()
    }

    fn run(&self) -> Result<VampSeResult, Error> {
        let mut state = self.initial()?;
        let mut iterations = Vec::with_capacity(self.opts.iterations);
        for t in 1..=self.opts.iterations {
            iterations.push(self.step(&mut state, t)?);
            self.opts.progress.tick(t, self.opts.iterations, f64::NAN);
        }
        Ok(VampSeResult { iterations })
    }

    /// A forward Monte-Carlo update of variable `v` (the prior's or a channel's estimate of
    /// an activation): samples, `⟨J⟩`, the extrinsic step in `Γ^-_v`, the new forward model.
    /// Returns the moments (for the MSE) and the interventions.
    fn forward_mc(
        &self,
        var: &mut VariableSe<D>,
        v: usize,
        t: usize,
        row: &RowFn<'_, D>,
    ) -> Result<(UpdateMoments<D>, usize), Error> {
        let blocks = monte_carlo::sample(self.rule, self.opts.seed, self.key(t, v, 0), row);
        let jac = monte_carlo::mean_jacobian(&blocks);
        let step = extrinsic(&jac, &var.gamma_minus, self.scales[v], var.fresh[0])?;
        var.interventions += step.interventions();
        let gain = match &step {
            Extrinsic::Accepted { gain, .. } => Some(*gain),
            Extrinsic::Rejected { .. } => None,
        };
        let moments = UpdateMoments::new(&blocks, gain.as_ref());
        if let Extrinsic::Accepted { gamma, .. } = step {
            let m = moments.mean();
            var.forward = Forward {
                truth: UpdateMoments::<D>::block(&m, Part::Truth, Part::Truth),
                cross: UpdateMoments::<D>::block(&m, Part::Truth, Part::Message),
                error: UpdateMoments::<D>::block(&m, Part::Message, Part::Message),
            };
            var.gamma_plus = gamma;
            var.fresh[0] = false;
        }
        Ok((moments, step.interventions()))
    }

    /// A backward Monte-Carlo update of the pre-activation `v` (a channel's estimate of its
    /// input): the extrinsic step in `Γ^+_v` and the new `τ^-_v`.
    fn backward_mc(
        &self,
        var: &mut VariableSe<D>,
        v: usize,
        t: usize,
        row: &RowFn<'_, D>,
    ) -> Result<usize, Error> {
        let blocks = monte_carlo::sample(self.rule, self.opts.seed, self.key(t, v, 1), row);
        let jac = monte_carlo::mean_jacobian(&blocks);
        let step = extrinsic(&jac, &var.gamma_plus, self.scales[v], false)?;
        var.interventions += step.interventions();
        if let Extrinsic::Accepted { gamma, gain, .. } = step {
            let m = UpdateMoments::new(&blocks, Some(&gain)).mean();
            var.backward = Backward::regressed(
                &UpdateMoments::<D>::block(&m, Part::Truth, Part::Truth),
                &UpdateMoments::<D>::block(&m, Part::Message, Part::Truth),
                &UpdateMoments::<D>::block(&m, Part::Message, Part::Message),
            );
            var.gamma_minus = gamma;
            var.fresh[1] = false;
        }
        Ok(step.interventions())
    }

    /// The row-wise model of the hidden channel of layer `k` between the pre-activation `z`
    /// and the activation `h` (their current states).
    fn hidden<'a>(
        &'a self,
        k: usize,
        z: &'a VariableSe<D>,
        h: &'a VariableSe<D>,
    ) -> HiddenRows<'a, D> {
        HiddenRows {
            kind: &*self.model.layers[k].channel,
            denoiser: &*self.channels[k],
            ab: psd_factor(&z.forward.joint()),
            c: psd_factor(&row_model::dynamic(&h.backward.tau)),
            z,
            h,
        }
    }

    /// `(σ, F2, Δ)` if the output is a committee.
    fn committee(&self) -> Result<Option<CommitteeOutput<'m>>, Error> {
        let last = self
            .model
            .layers
            .last()
            .ok_or(Error::invalid("layers", "none"))?;
        Ok(match last.channel.row_form(Estimator::Map, D) {
            Ok(RowChannelForm::Committee { phi, f2, noise_var }) => Some((phi, f2, noise_var)),
            _ => None,
        })
    }

    /// The probability that an entry is observed, if the output is masked.
    fn masked_observed(&self) -> Result<Option<f64>, Error> {
        let last = self
            .model
            .layers
            .last()
            .ok_or(Error::invalid("layers", "none"))?;
        Ok(match last.channel.row_form(Estimator::Mmse, D) {
            Ok(RowChannelForm::Masked { observed, .. }) if observed < 1.0 => Some(observed),
            _ => None,
        })
    }

    /// The MSE per missing entry of a masked output's estimate of its pre-activation (the
    /// data matrix): the rows of this iteration's output update drawn again (the same stream,
    /// so the same rows), their observed entries zeroed in the truth and the estimate,
    /// `E ‖(ẑ − z) ⊙ (1 − m)‖² / (d (1 − observed))` (the expected number of missing
    /// entries of a row in the denominator), with its jackknife standard error.
    fn unobserved_mse(
        &self,
        observed: f64,
        v: usize,
        t: usize,
        output_row: &OutputRowFn<'_, D>,
    ) -> Estimate {
        let blocks = monte_carlo::sample(self.rule, self.opts.seed, self.key(t, v, 1), &|rng| {
            let (a, zr, mut est, y) = output_row(rng);
            let missing = SVector::<f64, D>::from_fn(|j, _| f64::from(y[D + j] == 0.0));
            est.mean = est.mean.component_mul(&missing);
            (a.component_mul(&missing), zr, est)
        });
        let (value, se) = UpdateMoments::new(&blocks, None).estimate(|k| {
            UpdateMoments::<D>::block(k, Part::Estimate, Part::Estimate).trace()
                / (D as f64 * (1.0 - observed))
        });
        Estimate { value, se }
    }

    /// One iteration of Algorithm 1 on the row-wise model (see the module docs).
    fn step(&self, state: &mut [VariableSe<D>], t: usize) -> Result<VampSeIteration, Error> {
        let depth = self.model.depth();
        let mut interventions = 0;
        let mut decorrelation = 0.0_f64;
        let mut layer_moments: Vec<UpdateMoments<D>> = Vec::with_capacity(depth);

        // Lines 4–7: the prior's estimate of h_0.
        {
            let h = state[0];
            let c = psd_factor(&row_model::dynamic(&h.backward.tau));
            let prior = &*self.prior;
            let (m, i) = self.forward_mc(&mut state[0], 0, t, &|rng| {
                let x = prior_row::<D>(self.model, rng);
                let r = h.backward.kappa * x + draw_row::<D>(&c, rng);
                (x, r, prior.denoise(&r, &h.gamma_minus))
            })?;
            layer_moments.push(m);
            interventions += i;
        }
        for k in 0..depth {
            // Lines 9–12: the linear layer's estimate of z_k.
            let (head, tail) = state.split_at_mut(2 * k + 1);
            let (i, _) = linear::forward(
                &self.laws[k],
                &head[2 * k],
                &mut tail[0],
                self.scales[2 * k + 1],
            )?;
            interventions += i;
            if k + 1 < depth {
                // Lines 9–12 for the channel: its estimate of h_{k+1}.
                let z = state[2 * k + 1];
                let h = state[2 * k + 2];
                let hidden = self.hidden(k, &z, &h);
                let (m, i) = self.forward_mc(&mut state[2 * k + 2], 2 * k + 2, t, &|rng| {
                    let (truth, _, h_row, est) = hidden.row(rng);
                    (truth.1, h_row, est.output)
                })?;
                layer_moments.push(m);
                interventions += i;
            }
        }

        // Lines 15–18: the output's estimate of z_{K−1}.
        let mut mse_unobserved = None;
        {
            let v = 2 * depth - 1;
            let z = state[v];
            let ab = psd_factor(&z.forward.joint());
            let kind = &*self.model.layers[depth - 1].channel;
            let den = &*self.channels[depth - 1];
            let p = den.observation_dim();
            // The row and its observation (at most 2d entries: a masked output's values and
            // mask).
            let output_row = |rng: &mut Source| {
                let (a, b) = halves::<D>(&draw(&ab, rng));
                let mut y = [0.0; 2 * MAX_D];
                channel_row(kind, a.as_slice(), rng, &mut y[..p]);
                let zr = a + b;
                let est = den.denoise_output(&y[..p], RowMessage::new(zr, &z.gamma_plus));
                (a, zr, est, y)
            };
            interventions += self.backward_mc(&mut state[v], v, t, &|rng| {
                let (a, zr, est, _) = output_row(rng);
                (a, zr, est)
            })?;
            if let Some(observed) = self.masked_observed()? {
                mse_unobserved = Some(self.unobserved_mse(observed, v, t, &output_row));
            }
        }
        for k in (0..depth).rev() {
            // Lines 20–23: the linear layer's estimate of h_k.
            let (head, tail) = state.split_at_mut(2 * k + 1);
            let (i, worst) = linear::backward(
                &self.laws[k],
                &mut head[2 * k],
                &tail[0],
                self.scales[2 * k],
            )?;
            interventions += i;
            decorrelation = decorrelation.max(worst);
            if k > 0 {
                // The channel of layer k − 1: its estimate of z_{k−1}.
                let v = 2 * k - 1;
                let z = state[v];
                let h = state[2 * k];
                let hidden = self.hidden(k - 1, &z, &h);
                interventions += self.backward_mc(&mut state[v], v, t, &|rng| {
                    let (truth, z_row, _, est) = hidden.row(rng);
                    (truth.0, z_row, est.input)
                })?;
            }
        }

        let mse_layers = layer_moments
            .iter()
            .map(|m| {
                let (value, se) = m.estimate(|k| {
                    UpdateMoments::<D>::block(k, Part::Estimate, Part::Estimate).trace() / D as f64
                });
                Estimate { value, se }
            })
            .collect();
        let error_covariance = layer_moments
            .iter()
            .map(|m| {
                let b = UpdateMoments::<D>::block(&m.mean(), Part::Estimate, Part::Estimate);
                b.transpose().as_slice().to_vec()
            })
            .collect();
        let joint = signal_joint::<D>(&layer_moments[0].mean());
        let test_error = match self.committee()? {
            None => None,
            Some((phi, f2, noise_var)) => {
                let f = |m: &DMatrix<f64>| {
                    let k = signal_joint::<D>(m).transpose().as_slice().to_vec();
                    predicted_test_error(&k, f2, phi, noise_var).map_or(f64::NAN, |e| e.normalised)
                };
                let (value, se) = layer_moments[0].estimate(f);
                if !value.is_finite() {
                    return Err(Error::invalid(
                        "test_error",
                        "the predicted K gave no finite test error",
                    ));
                }
                Some(Estimate { value, se })
            }
        };
        Ok(VampSeIteration {
            mse_unobserved,
            mse_layers,
            error_covariance,
            test_error,
            signal_joint: joint.transpose().as_slice().to_vec(),
            interventions,
            decorrelation,
        })
    }
}

/// A hidden channel's rows of the row-wise model: `(A, B) ~ N(0, K^+_z)`, `Ã = φ(A, Ξ)`,
/// `r^-_h = κ Ã + C`, `C ~ N(0, τ^-_h)`, and the channel's pair estimate in the messages
/// `(r^-_h, Γ^-_h)`, `(A + B, Γ^+_z)` (both passes use the same draw).
struct HiddenRows<'a, const D: usize> {
    kind: &'a dyn ChannelKind<f64>,
    denoiser: &'a dyn ChannelDenoiser<f64, D>,
    ab: DMatrix<f64>,
    c: DMatrix<f64>,
    z: &'a VariableSe<D>,
    h: &'a VariableSe<D>,
}

/// A sampled row: the truths `(A, Ã)`, the messages' rows `A + B` and `r^-_h`, the estimate.
type HiddenRow<const D: usize> = (
    (SVector<f64, D>, SVector<f64, D>),
    SVector<f64, D>,
    SVector<f64, D>,
    PairEstimate<f64, D>,
);

impl<const D: usize> HiddenRows<'_, D> {
    fn row(&self, src: &mut Source) -> HiddenRow<D> {
        let (a, b) = halves::<D>(&draw(&self.ab, src));
        let mut ht = [0.0; D];
        channel_row(self.kind, a.as_slice(), src, &mut ht);
        let ht = SVector::from_column_slice(&ht);
        let r = self.h.backward.kappa * ht + draw_row::<D>(&self.c, src);
        let zr = a + b;
        let est = self.denoiser.denoise_pair(
            RowMessage::new(r, &self.h.gamma_minus),
            RowMessage::new(zr, &self.z.gamma_plus),
        );
        ((a, ht), zr, r, est)
    }
}

/// `E [x, x̂][x, x̂]ᵀ` from the prior update's moments (`x̂ = x + (x̂ − x)`).
pub fn signal_joint<const D: usize>(mean: &DMatrix<f64>) -> DMatrix<f64> {
    let tt = UpdateMoments::<D>::block(mean, Part::Truth, Part::Truth);
    let te = UpdateMoments::<D>::block(mean, Part::Truth, Part::Estimate);
    let ee = UpdateMoments::<D>::block(mean, Part::Estimate, Part::Estimate);
    let tx = tt + te;
    let xx = tt + te + te.transpose() + ee;
    let mut k = DMatrix::zeros(2 * D, 2 * D);
    k.view_mut((0, 0), (D, D)).copy_from(&tt);
    k.view_mut((0, D), (D, D)).copy_from(&tx);
    k.view_mut((D, 0), (D, D)).copy_from(&tx.transpose());
    k.view_mut((D, D), (D, D)).copy_from(&xx);
    k
}
