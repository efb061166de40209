//! The ML-Mat-VAMP driver (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*, Algorithm 1): the SVD of every weight matrix once,
//! the model's row denoisers for the instance's `d`, buffers allocated once, damping,
//! tolerance, a per-iteration MSE trace, divergence detection and the best iterate kept.
//!
//! `d` is a const generic in the core; the driver dispatches the model's `d` (1 to
//! [`MAX_D`]) to the matching instantiation.

use super::parallel_rows::ParallelRows;
use mlamp_core::estimator::Estimator;
use mlamp_core::mat::{ChannelDenoiser, Precision, symmetric_eigen};
use mlamp_core::ml_vamp::{
    LayerNoise, LayerState, LinearEstimator, LinearLayer, MlVamp, Rotations, VampLayer,
};

use super::denoisers::{channel_denoiser, prior_denoiser};
use super::linear_path::{LinearPath, resolve};
use super::matrix_free::MatrixFreeLinear;
use super::monitor::{Monitor, mse_layers};
use super::options::validate_iteration;
use super::progress::Progress;
use crate::error::Error;
use crate::instance::Instance;
use crate::linalg::operator::WeightOperator;
use crate::linalg::singular_values::squared_singular_values;
use crate::linalg::svd::Svd;
use crate::model::Model;

/// The largest `d` the driver is instantiated for (the model's bound).
pub use crate::model::MAX_D;

/// Options of an ML-Mat-VAMP run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VampOptions<'a> {
    /// Most iterations.
    pub max_iter: usize,
    /// Converged when every activation's relative squared change `‖Δĥ‖²/‖ĥ‖²` is below this.
    pub tol: f64,
    /// Damping `β ∈ (0, 1]` of the messages `R` and `Γ` (1 = none).
    pub damping: f64,
    /// Diverged when some estimate's mean square exceeds this multiple of its prior second
    /// moment (or anything is non-finite).
    pub blowup: f64,
    /// If set, the estimator of every layer, overriding the model file's.
    pub estimator: Option<Estimator>,
    /// The damping safeguard: when an iteration's disagreement (the largest relative
    /// difference `‖Ẑ^+ − Ẑ^-‖²/‖Ẑ^+‖²` of a variable's forward and backward estimates,
    /// truth-free) exceeds [`SAFEGUARD_JUMP`] times the smallest so far, and has risen
    /// [`SAFEGUARD_RISE`]-fold since the previous iteration (a jump, not a drift), the damping of the
    /// later iterations is multiplied by [`SAFEGUARD_FACTOR`] (down to
    /// [`SAFEGUARD_MIN_DAMPING`]), each reduction counted in
    /// [`VampResult::damping_reductions`]. A run that never jumps is the plain run, which the
    /// state evolution tracks.
    pub safeguard: bool,
    /// Told of every iteration (the CLI's progress bar); nobody by default.
    pub progress: Progress<'a>,
    /// The linear layers' solver: the SVD, matrix-free, or chosen by the cost model
    /// ([`crate::algo::linear_path`]).
    pub linear: LinearPath,
}

/// The rise of the disagreement over its smallest value so far that reduces the damping (see
/// [`VampOptions::safeguard`]). On the section-5 committee (15 dB, N = 1000–4000, 10 seeds)
/// the stable runs' disagreement never rises more than 3× in one iteration, the runs that
/// oscillate jump 20–50× first.
pub const SAFEGUARD_JUMP: f64 = 10.0;
/// The rise since the previous iteration that makes it a jump: the multi-task example near
/// its transition drifts 10× over 100 iterations, ~1.1× each, and keeps its damping.
pub const SAFEGUARD_RISE: f64 = 2.0;
/// The factor of each damping reduction.
pub const SAFEGUARD_FACTOR: f64 = 0.7;
/// The smallest damping the safeguard goes to.
pub const SAFEGUARD_MIN_DAMPING: f64 = 0.2;

impl Default for VampOptions<'_> {
    /// 500 iterations (as ML-AMP: a Gauss–Bernoulli → ReLU → sign network at n = 500 takes
    /// 449), tolerance 1e-13, damping 0.8, blow-up at 1e6, the model's estimators, the damping
    /// safeguard on, the linear solver chosen by the cost model.
    fn default() -> Self {
        Self {
            max_iter: 500,
            tol: 1e-13,
            damping: 0.8,
            blowup: 1e6,
            estimator: None,
            safeguard: true,
            progress: Progress::default(),
            linear: LinearPath::Auto,
        }
    }
}

impl VampOptions<'_> {
    /// Checks the options, naming the bad one.
    pub fn validate(&self) -> Result<(), Error> {
        validate_iteration(self.max_iter, self.damping, self.tol, self.blowup)
    }
}

/// What an ML-Mat-VAMP run produced. MSEs are means over all `n·d` entries.
#[derive(Clone, Debug, PartialEq)]
pub struct VampResult {
    /// The estimates `ĥ_0 = x̂, ĥ_1, …, ĥ_{L−1}` (row-major `n_k × d`) of the kept iterate.
    pub estimates: Vec<Vec<f64>>,
    /// For each `h_k` of the kept iterate, the mean over its rows of their posterior
    /// covariance, `⟨C⟩ = (Γ⁺ + Γ⁻)⁻¹` (row-major `d × d`): after the forward update of
    /// `h_k`, `Γ⁺ = Λ⁺ − Γ⁻` with `Λ⁺ = ⟨C⟩⁻¹` (Algorithm 1, lines 5–6 and 10–11, of Pandit,
    /// Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in
    /// multi-layer models*; see [`mlamp_core::ml_vamp`]).
    pub covariances: Vec<Vec<f64>>,
    /// MSE of each estimate against the ground truth (as far as known), signal first.
    pub mse_layers: Vec<f64>,
    /// Per iteration, the MSE of every layer (signal first).
    pub trace: Vec<Vec<f64>>,
    /// Iterations run.
    pub iterations: usize,
    /// The tolerance was reached.
    pub converged: bool,
    /// The estimates blew up or became non-finite; the kept iterate is the best before.
    pub diverged: bool,
    /// The iteration (1-based) whose estimates are kept.
    pub kept_iteration: usize,
    /// Per layer `k`, the eigenvalues raised to keep the precisions of `h_k` and `z_k`
    /// positive definite, over the whole run.
    pub interventions: Vec<usize>,
    /// The smallest eigenvalue of any message precision `Γ^±` after any iteration.
    pub min_eigenvalue: f64,
    /// Damping reductions by the safeguard ([`VampOptions::safeguard`]).
    pub damping_reductions: usize,
    /// The damping of the last iteration.
    pub final_damping: f64,
    /// The linear solver that ran ([`LinearPath::Svd`] or [`LinearPath::MatrixFree`]).
    pub linear: LinearPath,
    /// Matrix-free: the conjugate-gradient products (each a `W p` and a `Wᵀ q`) of all layers
    /// and solves; 0 on the SVD path.
    pub cg_products: usize,
}

impl VampResult {
    /// MSE of the signal. Panics for an instance without the signal's truth (of given
    /// data, [`Instance::from_data`]): `mse_layers.first()` is the total form.
    pub fn mse_signal(&self) -> f64 {
        self.mse_layers[0]
    }

    /// All interventions of the run.
    pub fn total_interventions(&self) -> usize {
        self.interventions.iter().sum()
    }
}

/// The SVD of every weight matrix of an instance: the factors or the transform the model
/// generated, or a decomposition of `W`.
pub fn decompositions(inst: &Instance) -> Result<Vec<WeightOperator>, Error> {
    inst.weights
        .iter()
        .zip(&inst.factors)
        .enumerate()
        .map(|(k, (w, f))| match f {
            Some(op) => Ok(op.clone()),
            None => Svd::decompose(w, inst.sizes[k + 1], inst.sizes[k]).map(Into::into),
        })
        .collect()
}

/// Checks, before any heavy work, that ML-Mat-VAMP can run `model`: `d` in `1..=MAX_D` and
/// the row estimators of the prior and of every layer's channel with its estimator
/// (`estimator` overriding the file's) built as the run builds them (the same constructors,
/// so every refusal of theirs comes here, before the instance and its SVDs); the error names
/// the field to change.
pub fn check_estimators(model: &Model, estimator: Option<Estimator>) -> Result<(), Error> {
    fn build_all<const D: usize>(model: &Model, estimator: Option<Estimator>) -> Result<(), Error> {
        prior_denoiser::<D>(model.prior.as_ref())?;
        for (k, l) in model.layers.iter().enumerate() {
            let est = estimator.unwrap_or(l.estimator);
            channel_denoiser::<D>(&*l.channel, est)
                .map_err(|e| Error::at(&format!("layers[{k}]"), e))?;
        }
        Ok(())
    }
    macro_rules! dispatch {
        ($($d:literal),*) => {
            match model.d {
                $($d => build_all::<$d>(model, estimator),)*
                _ => Err(Error::invalid("d", format!("ML-Mat-VAMP runs d = 1..={MAX_D}"))),
            }
        };
    }
    dispatch!(1, 2, 3, 4, 5, 6, 7, 8)
}

/// The squared singular values of every weight matrix of an instance, without vectors: the
/// generating ones of `spectrum` weights, or those of `W` ([`squared_singular_values`]).
pub fn spectra(inst: &Instance) -> Result<Vec<Vec<f64>>, Error> {
    inst.weights
        .iter()
        .zip(&inst.factors)
        .enumerate()
        .map(|(k, (w, f))| match f {
            Some(op) => Ok(Rotations::singular_values(op)
                .iter()
                .map(|s| s * s)
                .collect()),
            None => squared_singular_values(w, inst.sizes[k + 1], inst.sizes[k]),
        })
        .collect()
}

/// How one layer's linear step is solved: by its SVD, or matrix-free with `W` (the
/// instance's) and its singular values.
#[derive(Clone, Copy, Debug)]
pub enum LinearData<'a> {
    /// The [`LinearLayer`] of the thin SVD (dense factors, or the DCT's transforms).
    Svd(&'a WeightOperator),
    /// The [`MatrixFreeLinear`] on the instance's `W` with these squared singular values.
    MatrixFree(&'a [f64]),
}

/// Runs ML-Mat-VAMP on an instance of `model`: on the path of [`VampOptions::linear`]
/// ([`LinearPath::Auto`] resolved by the cost model on the sizes alone), decomposing the
/// weights first (SVD path) or computing their singular values (matrix-free path).
pub fn run_ml_vamp(
    model: &Model,
    inst: &Instance,
    opts: &VampOptions,
) -> Result<VampResult, Error> {
    opts.validate()?;
    inst.check_against(model)?;
    match resolve(opts.linear, model, inst.sizes[0], None) {
        LinearPath::MatrixFree => {
            // A `dct` layer keeps its transforms: its SVD is free and exact, and it has no
            // dense `W` for the matrix-free products.
            let values = spectra(inst)?;
            let data: Vec<LinearData> = values
                .iter()
                .zip(&inst.factors)
                .map(|(v, f)| match f {
                    Some(op @ WeightOperator::Dct(_)) => LinearData::Svd(op),
                    _ => LinearData::MatrixFree(v),
                })
                .collect();
            dispatch(model, inst, &data, opts)
        }
        _ => {
            let svds = decompositions(inst)?;
            let data: Vec<LinearData> = svds.iter().map(LinearData::Svd).collect();
            dispatch(model, inst, &data, opts)
        }
    }
}

/// Runs ML-Mat-VAMP with each layer's linear step given (one per layer; SVDs or
/// singular values), whatever [`VampOptions::linear`] says.
pub fn run_ml_vamp_with(
    model: &Model,
    inst: &Instance,
    linear: &[LinearData<'_>],
    opts: &VampOptions,
) -> Result<VampResult, Error> {
    opts.validate()?;
    inst.check_against(model)?;
    dispatch(model, inst, linear, opts)
}

/// The run for the model's `d`, on a checked instance and options.
fn dispatch(
    model: &Model,
    inst: &Instance,
    svds: &[LinearData<'_>],
    opts: &VampOptions,
) -> Result<VampResult, Error> {
    if svds.len() != model.depth() {
        return Err(Error::invalid(
            "svds",
            "one decomposition per layer is needed",
        ));
    }
    macro_rules! dispatch {
        ($($d:literal),*) => {
            match model.d {
                $($d => run::<$d>(model, inst, svds, opts),)*
                _ => Err(Error::invalid("d", format!("ML-Mat-VAMP runs d = 1..={MAX_D}"))),
            }
        };
    }
    dispatch!(1, 2, 3, 4, 5, 6, 7, 8)
}

/// Builds ML-Mat-VAMP for rows of `D` on an instance (the model's denoisers, the linear
/// layers of `svds`, initialised state buffers) and hands it to `f` with the state and the
/// variables' prior second moments: what the driver iterates, and what a benchmark times.
pub fn with_ml_vamp<const D: usize, R>(
    model: &Model,
    inst: &Instance,
    svds: &[WeightOperator],
    estimator: Option<Estimator>,
    f: impl FnOnce(&MlVamp<'_, f64, D>, &mut [LayerState<'_, f64, D>], &[f64]) -> Result<R, Error>,
) -> Result<R, Error> {
    inst.check_against(model)?;
    let data: Vec<LinearData> = svds.iter().map(LinearData::Svd).collect();
    build::<D, R>(model, inst, &data, estimator, f).map(|(r, _)| r)
}

/// A layer's linear estimator as built.
enum Built<'a, const D: usize> {
    Svd(LinearLayer<'a, f64, D>),
    MatrixFree(MatrixFreeLinear<'a, D>),
}

impl<const D: usize> Built<'_, D> {
    fn estimator(&self) -> &dyn LinearEstimator<f64, D> {
        match self {
            Built::Svd(l) => l,
            Built::MatrixFree(l) => l,
        }
    }

    fn products(&self) -> usize {
        match self {
            Built::Svd(_) => 0,
            Built::MatrixFree(l) => l.counts().get().1,
        }
    }
}

/// [`with_ml_vamp`] on a checked instance, with any linear steps; also returns the
/// conjugate-gradient products of all layers.
fn build<const D: usize, R>(
    model: &Model,
    inst: &Instance,
    svds: &[LinearData<'_>],
    estimator: Option<Estimator>,
    f: impl FnOnce(&MlVamp<'_, f64, D>, &mut [LayerState<'_, f64, D>], &[f64]) -> Result<R, Error>,
) -> Result<(R, usize), Error> {
    if model.d != D || svds.len() != model.depth() {
        return Err(Error::invalid(
            "d",
            "the instantiation differs from the model's d, or an SVD is missing",
        ));
    }
    let depth = model.depth();
    let prior = prior_denoiser::<D>(model.prior.as_ref())?;
    let channels = model
        .layers
        .iter()
        .enumerate()
        .map(|(k, l)| {
            channel_denoiser::<D>(&*l.channel, estimator.unwrap_or(l.estimator))
                .map_err(|e| Error::at(&format!("layers[{k}]"), e))
        })
        .collect::<Result<Vec<Box<dyn ChannelDenoiser<f64, D> + '_>>, Error>>()?;
    let linear: Vec<Built<'_, D>> = svds
        .iter()
        .enumerate()
        .map(|(k, data)| {
            Ok(match *data {
                LinearData::Svd(s) => Built::Svd(LinearLayer::new(s, LayerNoise::Noiseless)),
                LinearData::MatrixFree(values) => Built::MatrixFree(MatrixFreeLinear::new(
                    &inst.weights[k],
                    inst.sizes[k + 1],
                    inst.sizes[k],
                    values,
                    LayerNoise::Noiseless,
                )?),
            })
        })
        .collect::<Result<_, Error>>()?;
    let layers: Vec<VampLayer<'_, f64, D>> = linear
        .iter()
        .zip(&channels)
        .map(|(linear, channel)| VampLayer {
            linear: linear.estimator(),
            channel: channel.as_ref(),
        })
        .collect();
    let scale = model.variable_scales()?;
    let vamp = MlVamp::new(prior.as_ref(), &layers, inst.observation(), &scale)?;
    let mut buf = vec![0.0; vamp.state_len()];
    let mut state = Vec::with_capacity(depth);
    let mut rest: &mut [f64] = &mut buf;
    for (k, l) in linear.iter().enumerate() {
        let work = l.estimator().workspace_len();
        let (st, r) = LayerState::carve(rest, inst.sizes[k + 1], inst.sizes[k], work)?;
        state.push(st);
        rest = r;
    }
    vamp.initialise(&mut state)?;
    let r = f(&vamp, &mut state, &scale)?;
    Ok((r, linear.iter().map(Built::products).sum()))
}

fn run<const D: usize>(
    model: &Model,
    inst: &Instance,
    svds: &[LinearData<'_>],
    opts: &VampOptions,
) -> Result<VampResult, Error> {
    let (mut r, products) =
        build::<D, _>(model, inst, svds, opts.estimator, |vamp, state, scale| {
            iterate(vamp, state, scale, inst, opts)
        })?;
    r.cg_products = products;
    if svds.iter().any(|s| matches!(s, LinearData::MatrixFree(_))) {
        r.linear = LinearPath::MatrixFree;
    }
    Ok(r)
}

fn iterate<const D: usize>(
    vamp: &MlVamp<'_, f64, D>,
    state: &mut [LayerState<'_, f64, D>],
    scale: &[f64],
    inst: &Instance,
    opts: &VampOptions,
) -> Result<VampResult, Error> {
    type Precisions<const D: usize> = Vec<nalgebra::SMatrix<f64, D, D>>;
    let snapshot = |state: &[LayerState<'_, f64, D>]| -> (Vec<Vec<f64>>, Precisions<D>) {
        (
            state.iter().map(|s| s.input.estimate.to_vec()).collect(),
            state
                .iter()
                .map(|s| s.input.plus.gamma.matrix() + s.input.minus.gamma.matrix())
                .collect(),
        )
    };
    let scale = scale.iter().step_by(2).copied().collect();
    let truth = &inst.layers[..inst.known_truths()];
    let mut monitor = Monitor::new(truth, scale, opts.blowup, opts.tol, snapshot(state))
        .reporting(opts.progress, opts.max_iter);
    let mut min_eigenvalue = f64::INFINITY;
    let (mut damping, mut reductions) = (opts.damping, 0);
    let (mut least, mut previous) = (f64::INFINITY, f64::INFINITY);
    for t in 1..=opts.max_iter {
        let rep = vamp.step_with(state, damping, &ParallelRows)?;
        if opts.safeguard
            && rep.disagreement > SAFEGUARD_JUMP * least
            && rep.disagreement > SAFEGUARD_RISE * previous
        {
            let reduced = (damping * SAFEGUARD_FACTOR).max(SAFEGUARD_MIN_DAMPING);
            if reduced < damping {
                damping = reduced;
                reductions += 1;
            }
        }
        previous = rep.disagreement;
        least = least.min(previous);
        for v in state.iter().flat_map(|s| [&s.input, &s.pre]) {
            for g in [&v.plus.gamma, &v.minus.gamma] {
                let (values, _) = symmetric_eigen(g.matrix());
                min_eigenvalue = values.iter().fold(min_eigenvalue, |m, &e| m.min(e));
            }
        }
        let estimates: Vec<&[f64]> = state.iter().map(|s| &*s.input.estimate).collect();
        // The first iteration has no previous estimate to compare with (the zeros of the
        // initialisation are not one), so it cannot converge.
        if monitor.record(t, &estimates, rep.finite, rep.change, t > 1, || {
            snapshot(state)
        }) {
            break;
        }
    }
    let interventions = state
        .iter()
        .map(|s| s.input.interventions + s.pre.interventions)
        .collect();
    let run = monitor.finish(|| snapshot(state));
    let (estimates, precisions) = run.kept;
    let covariances = precisions
        .into_iter()
        .map(|lambda| {
            let c = Precision::new_named(lambda, "posterior precision Γ⁺ + Γ⁻")?.inverse();
            Ok((0..D * D).map(|i| c[(i / D, i % D)]).collect())
        })
        .collect::<Result<_, Error>>()?;
    let mse_layers = mse_layers(&estimates, truth);
    Ok(VampResult {
        estimates,
        covariances,
        mse_layers,
        trace: run.trace,
        iterations: run.iterations,
        converged: run.converged,
        diverged: run.diverged,
        kept_iteration: run.kept_iteration,
        interventions,
        min_eigenvalue,
        damping_reductions: reductions,
        final_damping: damping,
        linear: LinearPath::Svd,
        cg_products: 0,
    })
}
