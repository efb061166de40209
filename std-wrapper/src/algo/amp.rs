//! The ML-AMP driver: buffers allocated once, damping, tolerance, a per-iteration MSE trace,
//! divergence detection, and the best iterate kept.

use mlamp_core::ml_amp::{AmpLayer, LayerState, MlAmp, VarianceMode};

use super::monitor::{Monitor, mse_layers};
use super::options::validate_iteration;
use crate::error::Error;
use crate::instance::Instance;
use crate::linalg::dense::FastDense;
use crate::model::Model;

/// Options of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AmpOptions {
    /// Most iterations.
    pub max_iter: usize,
    /// Converged when every variable's relative squared change `‖Δĥ‖²/‖ĥ‖²` is below this.
    pub tol: f64,
    /// Damping `β ∈ (0, 1]` (1 = none).
    pub damping: f64,
    /// Full `W∘W` products or their iid mean.
    pub variance: VarianceMode,
    /// Diverged when some variable's mean square exceeds this multiple of its prior second
    /// moment (or anything is non-finite).
    pub blowup: f64,
}

impl Default for AmpOptions {
    /// 500 iterations, tolerance 1e-13, damping 0.8, full variances, blow-up at 1e6.
    fn default() -> Self {
        Self {
            max_iter: 500,
            tol: 1e-13,
            damping: 0.8,
            variance: VarianceMode::Full,
            blowup: 1e6,
        }
    }
}

impl AmpOptions {
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
    /// MSE of each estimate against the ground truth, signal first.
    pub mse_layers: Vec<f64>,
    /// Per iteration, the MSE of every layer (signal first).
    pub trace: Vec<Vec<f64>>,
    /// Iterations run.
    pub iterations: usize,
    /// The tolerance was reached.
    pub converged: bool,
    /// The estimates blew up or became non-finite; the kept iterate is the best before.
    pub diverged: bool,
    /// The iteration (1-based) whose estimates are kept: the last one, or, after a
    /// divergence, the finite iterate with the smallest change.
    pub kept_iteration: usize,
    /// Total entries of A clamped at 0 (see `StepReport::clamped`).
    pub clamped: usize,
}

impl AmpResult {
    /// MSE of the signal.
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
    let scale = moments.iter().map(|m| m.second).collect();
    let mut monitor = Monitor::new(&inst.layers, scale, opts.blowup, opts.tol, snapshot(&state));
    let mut clamped = 0;
    for t in 1..=opts.max_iter {
        let rep = amp.step(&mut state, opts.damping)?;
        clamped += rep.clamped;
        let estimates: Vec<&[f64]> = state.iter().map(|s| &*s.h).collect();
        if monitor.record(t, &estimates, rep.finite, rep.change, true, || {
            snapshot(&state)
        }) {
            break;
        }
    }
    let run = monitor.finish(|| snapshot(&state));
    let (estimates, variances) = run.kept;
    let mse_layers = mse_layers(&estimates, &inst.layers);
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
    })
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
