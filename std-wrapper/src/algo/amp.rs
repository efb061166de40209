//! The ML-AMP driver: buffers allocated once, damping, tolerance, a per-iteration MSE trace,
//! divergence detection, and the best iterate kept.

use mlamp_core::ml_amp::{AmpLayer, LayerState, MlAmp, VarianceMode};
use mlamp_core::moments::{Moments, marginal_moments};
use mlamp_core::quadrature::GaussHermite;

use crate::dense::FastDense;
use crate::error::Error;
use crate::instance::Instance;
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

/// The checks every driver's options share: `max_iter ≥ 1`, `damping ∈ (0, 1]`, a finite
/// `tol ≥ 0`, `blowup > 1`; the error names the command-line option.
pub fn validate_iteration(
    max_iter: usize,
    damping: f64,
    tol: f64,
    blowup: f64,
) -> Result<(), Error> {
    if max_iter == 0 {
        return Err(Error::invalid("iters", "must be >= 1"));
    }
    if !(damping > 0.0 && damping <= 1.0) {
        return Err(Error::invalid("damping", "must be in (0, 1]"));
    }
    if !(tol.is_finite() && tol >= 0.0) {
        return Err(Error::invalid("tol", "must be finite and >= 0"));
    }
    if blowup.is_nan() || blowup <= 1.0 {
        return Err(Error::invalid("blowup", "must be > 1"));
    }
    Ok(())
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

/// Mean squared difference.
pub fn mse(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>() / a.len() as f64
}

/// The bookkeeping both drivers' loops share: the per-iteration MSE trace, divergence
/// detection, the best iterate to fall back to, and convergence. `S` is the driver's
/// snapshot of an iterate.
pub(crate) struct Monitor<'a, S> {
    /// The ground truth of each estimated variable.
    truth: &'a [Vec<f64>],
    /// Each estimated variable's second moment under the model.
    scale: Vec<f64>,
    blowup: f64,
    tol: f64,
    /// Per recorded iteration, the MSE of every estimate.
    pub trace: Vec<Vec<f64>>,
    /// The finite iterate with the smallest change so far, its iteration and change.
    best: (S, usize, f64),
    pub iterations: usize,
    pub converged: bool,
    pub diverged: bool,
}

impl<'a, S> Monitor<'a, S> {
    /// A monitor starting from the initial iterate.
    pub fn new(truth: &'a [Vec<f64>], scale: Vec<f64>, blowup: f64, tol: f64, initial: S) -> Self {
        Self {
            truth,
            scale,
            blowup,
            tol,
            trace: Vec::new(),
            best: (initial, 0, f64::INFINITY),
            iterations: 0,
            converged: false,
            diverged: false,
        }
    }

    /// Records iteration `t` (1-based) with its estimates, whether everything stayed finite,
    /// its change, and whether a small change may count as convergence; returns whether to
    /// stop. Diverged: non-finite, or some estimate's mean square above `blowup` times its
    /// scale.
    pub fn record(
        &mut self,
        t: usize,
        estimates: &[&[f64]],
        finite: bool,
        change: f64,
        may_converge: bool,
        snapshot: impl FnOnce() -> S,
    ) -> bool {
        self.iterations = t;
        let blown = estimates.iter().zip(&self.scale).any(|(e, &m)| {
            let ms = e.iter().map(|v| v * v).sum::<f64>() / e.len() as f64;
            ms.is_nan() || ms > self.blowup * m.max(f64::MIN_POSITIVE)
        });
        if !finite || blown {
            self.diverged = true;
            return true;
        }
        self.trace.push(
            estimates
                .iter()
                .zip(self.truth)
                .map(|(e, h)| mse(e, h))
                .collect(),
        );
        if change <= self.best.2 {
            self.best = (snapshot(), t, change);
        }
        self.converged = may_converge && change < self.tol;
        self.converged
    }

    /// The end of the run: the kept iterate (the last one, or after a divergence the best)
    /// and the record.
    pub fn finish(self, last: impl FnOnce() -> S) -> Finished<S> {
        let (kept, kept_iteration) = if self.diverged {
            (self.best.0, self.best.1)
        } else {
            (last(), self.iterations)
        };
        Finished {
            kept,
            kept_iteration,
            trace: self.trace,
            iterations: self.iterations,
            converged: self.converged,
            diverged: self.diverged,
        }
    }
}

/// What [`Monitor::finish`] returns.
pub(crate) struct Finished<S> {
    pub kept: S,
    pub kept_iteration: usize,
    pub trace: Vec<Vec<f64>>,
    pub iterations: usize,
    pub converged: bool,
    pub diverged: bool,
}

/// The MSE of each estimate against its ground truth.
pub fn mse_layers(estimates: &[Vec<f64>], truth: &[Vec<f64>]) -> Vec<f64> {
    estimates
        .iter()
        .zip(truth)
        .map(|(e, h)| mse(e, h))
        .collect()
}

/// Moments of every layer's variable under the model (64-point Gauss–Hermite).
pub fn model_moments(model: &Model) -> Result<Vec<Moments<f64>>, Error> {
    let gh = GaussHermite::<f64, 64>::new();
    let mut m = vec![Moments::default(); model.depth() + 1];
    marginal_moments(model.prior.as_ref(), &model.channels()?, gh.rule(), &mut m)?;
    Ok(m)
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
/// ML-AMP is for `d = 1` (an error otherwise) and assumes iid Gaussian weights; on other
/// weights (a `spectrum` layer) it runs, and its result shows what that assumption costs.
pub fn run_ml_amp(model: &Model, inst: &Instance, opts: &AmpOptions) -> Result<AmpResult, Error> {
    opts.validate()?;
    if model.d != 1 || inst.d != 1 {
        return Err(Error::invalid(
            "d",
            "ML-AMP runs d = 1 only; use ML-Mat-VAMP (--algorithm vamp) for d > 1",
        ));
    }
    let depth = model.depth();
    if inst.weights.len() != depth
        || inst.layers.len() != depth + 1
        || inst.sizes.len() != depth + 1
    {
        return Err(Error::invalid(
            "instance",
            "does not have the model's number of layers",
        ));
    }
    for (k, (h, &n)) in inst.layers.iter().zip(&inst.sizes).enumerate() {
        if h.len() != n {
            return Err(Error::invalid(
                format!("instance.layers[{k}]"),
                format!("has {} entries, sizes say {n}", h.len()),
            ));
        }
        if h.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                format!("instance.layers[{k}]"),
                "contains NaN or infinite values",
            ));
        }
    }
    let ops = operators(inst)?;
    let layers = amp_layers(model, &ops)?;
    let amp = MlAmp::new(
        model.prior.as_ref(),
        &layers,
        inst.observation(),
        opts.variance,
    )?;
    let moments = model_moments(model)?;

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
