//! The ML-AMP driver: buffers allocated once, damping, tolerance, a per-iteration MSE trace,
//! divergence detection, and the best iterate kept.

use mlamp_core::ml_amp::{AmpLayer, LayerState, MlAmp, VarianceMode};

use super::monitor::{Monitor, mse_layers};
use super::options::validate_iteration;
use super::progress::Progress;
use crate::error::Error;
use crate::instance::Instance;
use crate::linalg::dense::FastDense;
use crate::model::Model;

/// Options of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AmpOptions<'a> {
    /// Most iterations.
    pub max_iter: usize,
    /// Converged when every variable's relative squared change `‖Δĥ‖²/‖ĥ‖²` is below this.
    pub tol: f64,
    /// Damping `β ∈ (0, 1]` (1 = none): the fixed factor, or with `adaptive` the largest.
    pub damping: f64,
    /// Adapt the damping to a truth-free merit (see [`run_ml_amp`]): a step that increases
    /// it is undone and retried with half the damping factor, an accepted one lets the
    /// factor grow back by 10 % towards `damping`.
    pub adaptive: bool,
    /// Full `W∘W` products or their iid mean.
    pub variance: VarianceMode,
    /// Diverged when some variable's mean square exceeds this multiple of its prior second
    /// moment (or anything is non-finite).
    pub blowup: f64,
    /// Told of every iteration (the CLI's progress bar); nobody by default.
    pub progress: Progress<'a>,
}

impl Default for AmpOptions<'_> {
    /// 500 iterations, tolerance 1e-13, adaptive damping up to 1 (none), full variances,
    /// blow-up at 1e6.
    fn default() -> Self {
        Self {
            max_iter: 500,
            tol: 1e-13,
            damping: 1.0,
            adaptive: true,
            variance: VarianceMode::Full,
            blowup: 1e6,
            progress: Progress::default(),
        }
    }
}

impl AmpOptions<'_> {
    /// Checks the options, naming the bad one.
    pub fn validate(&self) -> Result<(), Error> {
        validate_iteration(self.max_iter, self.damping, self.tol, self.blowup)
    }
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct AmpResult {
    /// The estimates `ĥ_0 = x̂, ĥ_1, …, ĥ_{L−1}` of the kept iterate.
    pub estimates: Vec<Vec<f64>>,
    /// Their posterior variances.
    pub variances: Vec<Vec<f64>>,
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
    /// The iteration (1-based) whose estimates are kept: the last one if converged, else
    /// the consistent iterate of the best merit (0: the prior's own estimate).
    pub kept_iteration: usize,
    /// Total entries of A clamped at 0 (see `StepReport::clamped`).
    pub clamped: usize,
    /// Steps undone by the adaptive damping (`iterations` counts the accepted ones; both
    /// together at most [`AmpOptions::max_iter`]).
    pub rejected: usize,
    /// The damping factor of the last step.
    pub final_damping: f64,
}

impl AmpResult {
    /// MSE of the signal. Panics for an instance without the signal's truth (of given
    /// data, [`Instance::from_data`]): `mse_layers.first()` is the total form.
    pub fn mse_signal(&self) -> f64 {
        self.mse_layers[0]
    }
}

/// The weight operators of an instance (the fastest kernel path of this CPU).
pub fn operators(inst: &Instance) -> Result<Vec<FastDense<'_, f64>>, Error> {
    inst.weights
        .iter()
        .enumerate()
        .map(|(k, w)| Ok(FastDense::new(w, inst.sizes[k + 1], inst.sizes[k])?))
        .collect()
}

/// The core's layers: each weight operator with its model channel (an error for a channel
/// that only ML-Mat-VAMP runs).
pub fn amp_layers<'a>(
    model: &'a Model,
    ops: &'a [FastDense<'a, f64>],
) -> Result<Vec<AmpLayer<'a, f64>>, Error> {
    Ok(ops
        .iter()
        .zip(model.channels()?)
        .map(|(w, channel)| AmpLayer {
            weights: w,
            channel,
        })
        .collect())
}

/// Runs ML-AMP on an instance of `model`.
///
/// The damping adapts by default ([`AmpOptions::adaptive`]), as GAMP implementations do
/// (Vila, Schniter, Rangan, Krzakala, Zdeborová, *Adaptive damping and mean removal for the
/// generalized approximate message passing algorithm*): the merit of a step is its change
/// `max_k ‖Δĥ_k‖²/‖ĥ_k‖²` (truth-free; infinite if anything became non-finite), a step whose
/// merit exceeds the largest of the last three accepted ones is undone and retried with half
/// the factor (down to 1/64, where it is accepted), and an accepted step lets the factor grow
/// back by 10 % up to [`AmpOptions::damping`]. Below 1 the factor damps the means `ĥ` and `g`
/// as well as the variances (the core's step damps only the variances): the instability that
/// stopped easy models (a mean mode growing ~30 % an iteration at n = 500 on eq. 18) is one
/// of the means, which variance damping alone does not slow. Unless the run converges, the iterate kept is
/// the one of the best (smallest) merit among those whose estimates are consistent (mean
/// square at most 1.5 × the prior second moment), else the prior's own estimate
/// (`kept_iteration` 0).
///
/// ML-AMP is derived for `d = 1` and iid Gaussian weights: a model with `d > 1`, `spectrum`
/// weights or a channel without an ML-AMP form is refused ([`Model::check_ml_amp`]; the
/// CLI says the same). To see what the iid assumption costs on other weights, run it with
/// the iid version of the model on the other model's instance (an instance is data).
pub fn run_ml_amp(model: &Model, inst: &Instance, opts: &AmpOptions) -> Result<AmpResult, Error> {
    opts.validate()?;
    model.check_ml_amp()?;
    inst.check_against(model)?;
    let depth = model.depth();
    let ops = operators(inst)?;
    let layers = amp_layers(model, &ops)?;
    let amp = MlAmp::new(
        model.prior.as_ref(),
        &layers,
        inst.observation(),
        opts.variance,
    )?;
    let moments = model.moments()?;

    let mut buf = vec![0.0; amp.state_len()];
    let mut state = Vec::with_capacity(depth);
    let mut rest: &mut [f64] = &mut buf;
    for k in 0..depth {
        let (st, r) = LayerState::carve(rest, inst.sizes[k + 1], inst.sizes[k])?;
        state.push(st);
        rest = r;
    }
    amp.initialise(&mut state, &moments)?;

    let snapshot = |state: &[LayerState<'_, f64>]| -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        (
            state.iter().map(|s| s.h.to_vec()).collect(),
            state.iter().map(|s| s.sigma.to_vec()).collect(),
        )
    };
    let scale: Vec<f64> = moments.iter().map(|m| m.second).collect();
    let truth = &inst.layers[..inst.known_truths()];
    let mut monitor = Monitor::new(
        truth,
        scale.clone(),
        opts.blowup,
        opts.tol,
        snapshot(&state),
    )
    .keeping_best_consistent(CONSISTENCY)
    .reporting(opts.progress, opts.max_iter);
    let mut clamped = 0;
    let mut rejected = 0;
    let mut accepted = 0;
    let mut beta = opts.damping;
    // The merits of the last accepted steps, and the state before the current step.
    let mut window: Vec<f64> = Vec::with_capacity(MERIT_WINDOW);
    let mut saved: Vec<f64> = Vec::new();
    // `max_iter` bounds the steps tried, accepted or undone.
    for _ in 0..opts.max_iter {
        if opts.adaptive {
            save(&state, &mut saved);
        }
        let mut rep = amp.step(&mut state, beta)?;
        if opts.adaptive && beta < 1.0 {
            rep.change = damp_means(&mut state, &saved, beta);
            rep.finite &= rep.change.is_finite();
        }
        let merit = if rep.finite {
            rep.change
        } else {
            f64::INFINITY
        };
        if opts.adaptive && !window.is_empty() && beta > MIN_DAMPING {
            let allowed = window.iter().copied().fold(0.0, f64::max);
            if merit.is_nan() || merit > allowed {
                // Undo the step and retry it with a smaller factor.
                restore(&mut state, &saved);
                beta = (beta * 0.5).max(MIN_DAMPING);
                rejected += 1;
                continue;
            }
        }
        if opts.adaptive {
            if window.len() == MERIT_WINDOW {
                window.remove(0);
            }
            window.push(merit);
        }
        clamped += rep.clamped;
        accepted += 1;
        let estimates: Vec<&[f64]> = state.iter().map(|s| &*s.h).collect();
        if monitor.record(accepted, &estimates, rep.finite, merit, true, || {
            snapshot(&state)
        }) {
            break;
        }
        if opts.adaptive {
            beta = (beta * 1.1).min(opts.damping);
        }
    }
    let run = monitor.finish(|| snapshot(&state));
    let (estimates, variances) = run.kept;
    let mse_layers = mse_layers(&estimates, truth);
    Ok(AmpResult {
        estimates,
        variances,
        mse_layers,
        trace: run.trace,
        iterations: run.iterations,
        converged: run.converged,
        diverged: run.diverged,
        kept_iteration: run.kept_iteration,
        clamped,
        rejected,
        final_damping: beta,
    })
}

/// Accepted steps whose merits bound the next one's: a step may not increase the merit above
/// the largest of the last three (a strict "no increase" would stall on the noise of a
/// converged iterate).
const MERIT_WINDOW: usize = 3;

/// The smallest damping factor the adaptive damping tries; a step at this factor is accepted.
const MIN_DAMPING: f64 = 1.0 / 64.0;

/// An iterate whose estimates have a mean square above this multiple of the variable's prior
/// second moment is not kept: at any Bayes-consistent iterate `E ĥ² = E hĥ ≤ E h²`, and one
/// that exceeds it this much has an MSE above the prior's own estimate (its mean).
const CONSISTENCY: f64 = 1.5;

/// Copies every buffer of `state` into `out`.
fn save(state: &[LayerState<'_, f64>], out: &mut Vec<f64>) {
    out.clear();
    for s in state {
        for b in [
            &*s.a, &*s.b, &*s.h, &*s.sigma, &*s.v, &*s.omega, &*s.g, &*s.dg,
        ] {
            out.extend_from_slice(b);
        }
    }
}

/// Damps the means `ĥ` and `g` of every layer towards the saved state's,
/// `x ← β x + (1 − β) x_saved`, and returns the new largest relative change of the `ĥ`.
fn damp_means(state: &mut [LayerState<'_, f64>], saved: &[f64], beta: f64) -> f64 {
    let mut rest = saved;
    let mut change: f64 = 0.0;
    for s in state {
        for (i, b) in [
            &mut *s.a,
            &mut *s.b,
            &mut *s.h,
            &mut *s.sigma,
            &mut *s.v,
            &mut *s.omega,
            &mut *s.g,
            &mut *s.dg,
        ]
        .into_iter()
        .enumerate()
        {
            let (old, r) = rest.split_at(b.len());
            rest = r;
            if i == 2 || i == 6 {
                let (mut num, mut den) = (0.0, 0.0);
                for (x, &o) in b.iter_mut().zip(old) {
                    *x = beta * *x + (1.0 - beta) * o;
                    num += (*x - o) * (*x - o);
                    den += *x * *x;
                }
                if i == 2 && den > 0.0 {
                    change = change.max(num / den);
                }
            }
        }
    }
    change
}

/// Copies `saved` (from [`save`]) back into `state`.
fn restore(state: &mut [LayerState<'_, f64>], saved: &[f64]) {
    let mut rest = saved;
    for s in state {
        for b in [
            &mut *s.a,
            &mut *s.b,
            &mut *s.h,
            &mut *s.sigma,
            &mut *s.v,
            &mut *s.omega,
            &mut *s.g,
            &mut *s.dg,
        ] {
            let (mine, r) = rest.split_at(b.len());
            b.copy_from_slice(mine);
            rest = r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_instances_are_typed_errors() {
        let m = Model::from_toml("[prior]\ntype = \"gaussian\"\n[[layers]]\nalpha = 1.0\nchannel = { type = \"linear\", noise_var = 0.1 }\n").unwrap();
        let good = Instance::sample(&m, 20, 1).unwrap();
        let opts = AmpOptions::default();
        assert!(run_ml_amp(&m, &good, &opts).is_ok());
        let mut short = good.clone();
        short.layers[0].pop();
        assert!(
            run_ml_amp(&m, &short, &opts)
                .unwrap_err()
                .to_string()
                .contains("instance.layers[0]")
        );
        let mut nan = good.clone();
        nan.layers[1][3] = f64::NAN;
        assert!(run_ml_amp(&m, &nan, &opts).is_err());
        let mut bad_w = good.clone();
        bad_w.weights[0][0] = f64::INFINITY;
        assert!(run_ml_amp(&m, &bad_w, &opts).is_err());
        let mut wrong_shape = good;
        wrong_shape.weights[0].pop();
        assert!(run_ml_amp(&m, &wrong_shape, &opts).is_err());
        assert!(
            run_ml_amp(
                &m,
                &Instance::sample(&m, 20, 1).unwrap(),
                &AmpOptions {
                    damping: 0.0,
                    ..opts
                }
            )
            .is_err()
        );
    }
}
