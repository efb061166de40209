//! The bookkeeping every driver's loop shares: the per-iteration MSE trace, divergence
//! detection, the best iterate to fall back to, and convergence.

/// Mean squared difference.
pub fn mse(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>() / a.len() as f64
}

/// The bookkeeping both drivers' loops share: the per-iteration MSE trace, divergence
/// detection, the best iterate to fall back to, and convergence. `S` is the driver's
/// snapshot of an iterate.
pub(crate) struct Monitor<'a, S> {
    /// Told of every recorded iteration.
    progress: super::progress::Progress<'a>,
    /// The most iterations of the run (for the progress).
    most: usize,
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
    /// If set, an unconverged run keeps its best iterate (not its last), among those whose
    /// estimates' mean squares stay within this multiple of their scale.
    consistent: Option<f64>,
}

impl<'a, S> Monitor<'a, S> {
    /// Keeps the best iterate of an unconverged run, not its last, and only an iterate whose
    /// every estimate has a mean square within `bound` times its scale (the initial iterate
    /// otherwise).
    pub fn keeping_best_consistent(self, bound: f64) -> Self {
        Self {
            consistent: Some(bound),
            ..self
        }
    }

    /// Tells `progress` of every recorded iteration, of at most `most`.
    pub fn reporting(self, progress: super::progress::Progress<'a>, most: usize) -> Self {
        Self {
            progress,
            most,
            ..self
        }
    }

    /// A monitor starting from the initial iterate.
    pub fn new(truth: &'a [Vec<f64>], scale: Vec<f64>, blowup: f64, tol: f64, initial: S) -> Self {
        Self {
            progress: super::progress::Progress::default(),
            most: 0,
            truth,
            scale,
            blowup,
            tol,
            trace: Vec::new(),
            best: (initial, 0, f64::INFINITY),
            iterations: 0,
            converged: false,
            diverged: false,
            consistent: None,
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
        self.progress.tick(t, self.most, change);
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
        let consistent = self.consistent.is_none_or(|bound| {
            estimates.iter().zip(&self.scale).all(|(e, &m)| {
                let ms = e.iter().map(|v| v * v).sum::<f64>() / e.len() as f64;
                ms <= bound * m
            })
        });
        if consistent && change <= self.best.2 {
            self.best = (snapshot(), t, change);
        }
        self.converged = may_converge && change < self.tol;
        self.converged
    }

    /// The end of the run: the kept iterate (the last one, or after a divergence the best)
    /// and the record.
    pub fn finish(self, last: impl FnOnce() -> S) -> Finished<S> {
        let keep_best = self.diverged || (self.consistent.is_some() && !self.converged);
        let (kept, kept_iteration) = if keep_best {
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
