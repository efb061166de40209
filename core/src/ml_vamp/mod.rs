//! ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and
//! estimation in multi-layer models*, Algorithm 1): multi-layer matrix VAMP over
//! caller-provided buffers, for rows of `D` columns (`D = 1` is ML-VAMP).
//!
//! # The chain, in our order
//!
//! Our model lists layers from the signal to the observation; layer `k` is
//! `h_{k+1} ~ P_k(· | W_k h_k)` with the channel acting entry by entry (for `D > 1`, on each
//! column of a row). ML-Mat-VAMP splits each of our layers into the paper's linear layer
//! (odd `ℓ = 2k + 1`: `z_k = W_k h_k`, noiseless and without bias here) and non-linear layer
//! (even `ℓ = 2k + 2`: `h_{k+1} ~ P_k(· | z_k)`), so its variables are
//! `Z_{2k} = h_k` and `Z_{2k+1} = z_k`, and `Z_{2K} = Y` is observed.
//!
//! Every variable `v` carries two Gaussian row messages: `(R_v^+, Γ_v^+)` from the factor
//! below it (towards the signal) and `(R_v^-, Γ_v^-)` from the factor above, a common d×d
//! precision for all rows. A factor's belief (eq. 12) is the factor times the messages on its
//! two variables; its estimator (eq. 13) is the belief's mean (MMSE) or mode (MAP).
//!
//! # Algorithm 1, derived from eq. 12
//!
//! Forward (`k`-th pass), for the prior and then each factor from the signal up, with `z` the
//! variable above the factor: the estimate `ẑ = G^+` from the messages into the factor
//! (lines 4, 9); `Λ^+ = ⟨C⟩⁻¹`, where `⟨C⟩ = ⟨J⟩ Γ^-⁻¹` is the mean over rows of the belief's
//! covariance (`J = ∂ẑ/∂r^-`; lines 5, 10); `Γ^+ = Λ^+ − Γ^-` (lines 6, 11) and, row by row,
//! `r^+ = (Γ^+)⁻¹ (Λ^+ ẑ − Γ^- r^-)` (lines 7, 12: the row-vector form
//! `R^+ = (Ẑ Λ − R^- Γ^-) (Γ^+)⁻¹` of the paper, transposed).
//!
//! Backward, from the observation down: the output factor's estimate of `z_{K−1}` (line 15),
//! then each factor's estimate of the variable below it, each time with the message just
//! computed above it and the forward message below it: `Λ^- = ⟨C⟩⁻¹`, `Γ^- = Λ^- − Γ^+`,
//! `r^- = (Γ^-)⁻¹ (Λ^- ẑ − Γ^+ r^+)`, all of the *same* variable (this is where the printed
//! lines 18, 21 and 23 slip between layers; see `shared/notes/conventions.md`).
//!
//! Each update is thus, for one variable: its estimates by one factor from the message into
//! that factor, their mean Jacobian, and the extrinsic message out. A non-linear factor (the
//! prior, a channel, the output) estimates row by row, one private row sweep for all four
//! of its uses; the linear layer estimates in the SVD domain ([`LinearLayer`]); the extrinsic
//! step is common to both.
//!
//! # Safeguards, all counted
//!
//! The extrinsic step ([`extrinsic()`]) floors a singular `⟨C⟩`, sends "nothing" in the
//! directions where a factor adds no information, and rejects an update that adds none at
//! all, keeping the variable's previous outgoing message (its module docs give the levels).
//! Every intervention is counted in the variable's [`VariableState::interventions`]; nothing
//! is clamped silently.
//!
//! # The first pass
//!
//! The initial messages are placeholders (see [`MlVamp::initialise`]): the backward ones weak
//! and centred at zero, so that a variable's first forward update carries only what its
//! factor knows a priori. Two rules follow:
//! - A message's first update replaces its placeholder undamped. Damping it would mix the
//!   first real message with a zero mean of weak precision: the halved means of the first
//!   backward messages then sit inside a sparse MAP prior's threshold, and the run can
//!   settle at "every row zero".
//! - A variable's first forward update whose `⟨C⟩` needs a floor is skipped, and its initial
//!   message `(0, I/ρ_v)` (the prior's scale) stands for it, as the authors' code starts every
//!   factor from its prior's mean and variance. An MMSE estimator returns the prior's moments
//!   from the weak message, but a MAP estimator returns the prior's mode; for a
//!   sparsity-promoting penalty (the LASSO, the group LASSO) that is zero for every row, with a
//!   vanishing Jacobian, and the floored `⟨C⟩` would send `Γ^+ ≈ I/(ε_v ρ_v)`: "every row is
//!   exactly zero", which no later pass undoes. One intervention, counted.

mod extrinsic;
mod linear;
mod linear_estimator;
mod rotations;
pub mod rows;
#[cfg(test)]
mod tests;

pub use extrinsic::{BLIND_RELATIVE_PRECISION, Extrinsic, extrinsic, relative_floor};
pub use linear::{DirectionGains, LayerNoise, LinearLayer};
pub use linear_estimator::LinearEstimator;
pub use rotations::{DenseRotations, Rotations};

use crate::damping::{Change, Damping};
use crate::error::Error;
use crate::mat::{
    ChannelDenoiser, MatReal, Message, MessageMut, Precision, RowDenoiser, RowEstimate, RowMessage,
};
use crate::real::Real;
use nalgebra::{SMatrix, SVector};
use rows::{CHUNK, ChunkSums, RowRunner, Serial};

/// One of our layers for ML-Mat-VAMP: the linear layer `z = W h` (by its SVD, a
/// [`LinearLayer`], or any other [`LinearEstimator`]) and the channel `P(h_next | z)` as row
/// estimators.
#[derive(Clone, Copy)]
pub struct VampLayer<'a, T: MatReal, const D: usize> {
    /// `W_k` (`n_{k+1} × n_k`) as a linear layer's estimator.
    pub linear: &'a dyn LinearEstimator<T, D>,
    /// The channel's estimators (its output estimator for the last layer).
    pub channel: &'a dyn ChannelDenoiser<T, D>,
}

/// The iteration state of one variable (`n` rows of `D`), in caller-owned buffers.
#[derive(Debug)]
pub struct VariableState<'a, T: MatReal, const D: usize> {
    /// `(R^+, Γ^+)`: the forward message (from the factor below), `R^+` row-major `n × D`.
    pub plus: MessageMut<'a, T, D>,
    /// `(R^-, Γ^-)`: the backward message (from the factor above).
    pub minus: MessageMut<'a, T, D>,
    /// `Ẑ^+`: the forward pass's estimate (what the driver reports).
    pub estimate: &'a mut [T],
    /// `Ẑ^-`: the backward pass's estimate.
    pub estimate_minus: &'a mut [T],
    /// Interventions so far that kept this variable's precisions positive definite: raised
    /// eigenvalues of `⟨C⟩` and rejected updates of `Γ^±` (see the module docs).
    pub interventions: usize,
    /// Per message (`[plus, minus]`), no update has been accepted since
    /// [`MlVamp::initialise`]: the message is the initial placeholder (see the module docs,
    /// the first pass).
    pub fresh: [bool; 2],
}

/// The state of one of our layers: its input variable `h_k`, its pre-activation `z_k`, and
/// the linear layer's workspace ([`LinearEstimator::workspace_len`] entries).
#[derive(Debug)]
pub struct LayerState<'a, T: MatReal, const D: usize> {
    /// `h_k` (`n_k` rows; for `k = 0` the signal).
    pub input: VariableState<'a, T, D>,
    /// `z_k = W_k h_k` (`n_{k+1}` rows).
    pub pre: VariableState<'a, T, D>,
    /// The linear layer's workspace: for a [`LinearLayer`], `Vᵀ R_{h_k}^+` (`rank × D`, kept
    /// from the forward pass for the backward one) and `rank × D` of scratch.
    pub workspace: &'a mut [T],
}

impl<'a, T: MatReal, const D: usize> LayerState<'a, T, D> {
    /// The number of entries [`LayerState::carve`] takes for a `rows × cols` layer whose
    /// linear estimator needs `workspace` entries ([`LinearEstimator::workspace_len`]; a
    /// [`LinearLayer`] of rank `r`: `2 r D`).
    pub const fn len(rows: usize, cols: usize, workspace: usize) -> usize {
        D * (4 * cols + 4 * rows) + workspace
    }

    /// Carves a layer's state from the front of `buf` (precisions set to the identity, to be
    /// set by [`MlVamp::initialise`]), returning it and the rest of `buf`.
    pub fn carve(
        buf: &'a mut [T],
        rows: usize,
        cols: usize,
        workspace: usize,
    ) -> Result<(Self, &'a mut [T]), Error> {
        let need = Self::len(rows, cols, workspace);
        if buf.len() < need {
            return Err(Error::ShapeMismatch {
                what: "state buffer",
                expected: need,
                found: buf.len(),
            });
        }
        let (mine, rest) = buf.split_at_mut(need);
        let (input, mine) = VariableState::carve(mine, cols);
        let (pre, workspace) = VariableState::carve(mine, rows);
        Ok((
            Self {
                input,
                pre,
                workspace,
            },
            rest,
        ))
    }
}

impl<'a, T: MatReal, const D: usize> VariableState<'a, T, D> {
    fn carve(buf: &'a mut [T], n: usize) -> (Self, &'a mut [T]) {
        let (r_plus, buf) = buf.split_at_mut(n * D);
        let (r_minus, buf) = buf.split_at_mut(n * D);
        let (estimate, buf) = buf.split_at_mut(n * D);
        let (estimate_minus, rest) = buf.split_at_mut(n * D);
        let one = Precision::identity_scaled(T::ONE).expect("1 is a valid scale");
        (
            Self {
                plus: MessageMut {
                    r: r_plus,
                    gamma: one,
                },
                minus: MessageMut {
                    r: r_minus,
                    gamma: one,
                },
                estimate,
                estimate_minus,
                interventions: 0,
                fresh: [true; 2],
            },
            rest,
        )
    }

    fn rows(&self) -> usize {
        self.plus.r.len() / D
    }

    /// The message into a pass's estimator and the buffer of its estimate: `(R^-, Γ^-)` and
    /// `Ẑ^+` forward, `(R^+, Γ^+)` and `Ẑ^-` backward.
    fn pass_mut(&mut self, pass: Pass) -> (Message<'_, T, D>, &mut [T]) {
        match pass {
            Pass::Forward => (self.minus.view(), &mut *self.estimate),
            Pass::Backward => (self.plus.view(), &mut *self.estimate_minus),
        }
    }
}

/// How one iteration's row-wise updates run: their damping and who runs the rows' chunks.
struct How<'r, T, R> {
    damping: Damping<T>,
    runner: &'r R,
}

impl<T: Copy, R> Clone for How<'_, T, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Copy, R> Copy for How<'_, T, R> {}

/// What one iteration did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VampReport<T> {
    /// The largest, over the variables `h_k`, of `‖ĥ_new − ĥ_old‖² / ‖ĥ_new‖²` (forward
    /// estimates).
    pub change: T,
    /// The largest, over all variables `v` (`h_k` and `z_k`), of the relative disagreement
    /// `‖Ẑ_v^+ − Ẑ_v^-‖² / ‖Ẑ_v^+‖²` of the two estimates of `v` after the iteration (forward
    /// and backward): 0 at a fixed point of the MAP, a truth-free measure of how far the
    /// iterate is from one. Infinite if some `Ẑ_v^+` is zero and differs from `Ẑ_v^-`.
    pub disagreement: T,
    /// Interventions in this iteration, over all variables.
    pub interventions: usize,
    /// `false` if an estimate, a message or a precision is NaN or infinite.
    pub finite: bool,
}

/// ML-Mat-VAMP for one model and one observation: parameters behind `&self`, the iteration
/// state in caller-owned [`LayerState`]s.
pub struct MlVamp<'m, T: MatReal, const D: usize> {
    prior: &'m dyn RowDenoiser<T, D>,
    layers: &'m [VampLayer<'m, T, D>],
    y: &'m [T],
    /// Per variable (`h_0, z_0, h_1, …, z_{K−1}`), the prior second moment per entry.
    scale: &'m [T],
}

/// The initial backward precisions relative to the variables' prior scale (see
/// [`MlVamp::initialise`]).
pub const INITIAL_RELATIVE_PRECISION: f64 = 1e-3;

/// Row `i` of a row-major `n × D` slice.
#[inline]
fn row<T: MatReal, const D: usize>(x: &[T], i: usize) -> SVector<T, D> {
    SVector::from_column_slice(&x[i * D..(i + 1) * D])
}

impl<'m, T: MatReal, const D: usize> MlVamp<'m, T, D> {
    /// Checks that the layers chain (`rows` of layer k = `cols` of layer k+1), that `y` has
    /// the last layer's `rows × p` entries (`p` its channel's
    /// [`ChannelDenoiser::observation_dim`], `D` unless the output observes fewer numbers per
    /// row) and that each of its rows of `p` is a possible observation, and that `scale` has
    /// one positive second moment per variable (`2K`: `h_0, z_0, …`).
    ///
    /// Errors: [`Error::EmptyModel`] without layers; [`Error::ShapeMismatch`] for layers that
    /// do not chain or a `y` of another length; [`Error::InvalidParameter`] for `p = 0` or a
    /// bad second moment; the channel's error for an impossible observation.
    pub fn new(
        prior: &'m dyn RowDenoiser<T, D>,
        layers: &'m [VampLayer<'m, T, D>],
        y: &'m [T],
        scale: &'m [T],
    ) -> Result<Self, Error> {
        let last = layers.last().ok_or(Error::EmptyModel)?;
        for pair in layers.windows(2) {
            if pair[0].linear.rows() != pair[1].linear.cols() {
                return Err(Error::ShapeMismatch {
                    what: "layer input",
                    expected: pair[0].linear.rows(),
                    found: pair[1].linear.cols(),
                });
            }
        }
        let p = last.channel.observation_dim();
        if p == 0 {
            return Err(Error::InvalidParameter {
                name: "observation_dim",
                requirement: "> 0",
            });
        }
        crate::error::length("observation", y, last.linear.rows() * p)?;
        last.channel.check_observations(y)?;
        crate::error::length("second moments", scale, 2 * layers.len())?;
        for &s in scale {
            crate::error::positive("second moment", s)?;
        }
        Ok(Self {
            prior,
            layers,
            y,
            scale,
        })
    }

    /// The number of layers `K`.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// The total buffer length the [`LayerState`]s of this model need.
    pub fn state_len(&self) -> usize {
        self.layers
            .iter()
            .map(|l| {
                LayerState::<T, D>::len(l.linear.rows(), l.linear.cols(), l.linear.workspace_len())
            })
            .sum()
    }

    /// Checks that `state` has one [`LayerState`] per layer, of the layer's sizes.
    pub fn check_state(&self, state: &[LayerState<'_, T, D>]) -> Result<(), Error> {
        if state.len() != self.layers.len() {
            return Err(Error::ShapeMismatch {
                what: "layer states",
                expected: self.layers.len(),
                found: state.len(),
            });
        }
        for (l, s) in self.layers.iter().zip(state) {
            let (rows, cols) = (l.linear.rows(), l.linear.cols());
            for (what, v, n) in [
                ("input state", &s.input, cols),
                ("pre-activation state", &s.pre, rows),
            ] {
                for buf in [&*v.plus.r, &*v.minus.r, &*v.estimate, &*v.estimate_minus] {
                    crate::error::length(what, buf, n * D)?;
                }
            }
            crate::error::length("linear workspace", s.workspace, l.linear.workspace_len())?;
        }
        Ok(())
    }

    /// Line 1 of Algorithm 1, from the prior, never from the ground truth: `R^± = 0`,
    /// estimates 0, the backward precisions weak, `Γ^- = (ι/ρ_v) I` with
    /// `ι =` [`INITIAL_RELATIVE_PRECISION`] (so that the first forward pass returns the
    /// prior's own moments: a strong `Γ^-` at `R^- = 0` would tell a sparse prior that every
    /// row is zero), and `Γ^+ = I/ρ_v` (the prior's scale: what a skipped first forward
    /// update leaves, see the module docs); every message marked fresh; counts reset; the
    /// linear estimators' workspaces zeroed.
    pub fn initialise(&self, state: &mut [LayerState<'_, T, D>]) -> Result<(), Error> {
        self.check_state(state)?;
        for (k, s) in state.iter_mut().enumerate() {
            // A matrix-free estimator's warm start: the same start for every run.
            s.workspace.iter_mut().for_each(|x| *x = T::ZERO);
            for (j, v) in [&mut s.input, &mut s.pre].into_iter().enumerate() {
                let g = Precision::identity_scaled(T::ONE / self.scale[2 * k + j])?;
                v.plus.gamma = g;
                v.minus.gamma = Precision::identity_scaled(
                    T::c(INITIAL_RELATIVE_PRECISION) / self.scale[2 * k + j],
                )?;
                v.interventions = 0;
                v.fresh = [true; 2];
                for x in v.plus.r.iter_mut().chain(v.minus.r.iter_mut()) {
                    *x = T::ZERO;
                }
                for x in v.estimate.iter_mut().chain(v.estimate_minus.iter_mut()) {
                    *x = T::ZERO;
                }
            }
        }
        Ok(())
    }

    /// One iteration of Algorithm 1 (a forward and a backward pass), with damping `β ∈ (0, 1]`
    /// of the outgoing messages; the row-wise estimators run on this thread
    /// ([`step_with`](Self::step_with) and [`rows::Serial`]).
    pub fn step(
        &self,
        state: &mut [LayerState<'_, T, D>],
        beta: T,
    ) -> Result<VampReport<T>, Error> {
        self.step_with(state, beta, &Serial)
    }

    /// [`step`](Self::step) with the row-wise estimators' chunks run by `runner` (a host's
    /// thread pool, say); the result's bits do not depend on it (see [`rows`]).
    pub fn step_with(
        &self,
        state: &mut [LayerState<'_, T, D>],
        beta: T,
        runner: &impl RowRunner,
    ) -> Result<VampReport<T>, Error> {
        self.check_state(state)?;
        let damping = Damping::new(beta)?;
        let how = How { damping, runner };
        let mut report = VampReport {
            change: T::ZERO,
            disagreement: T::ZERO,
            interventions: 0,
            finite: true,
        };
        let k_last = self.layers.len() - 1;

        // Forward: the prior's estimate of h_0 (lines 4–7).
        let prior = self.prior;
        self.sweep(
            &mut state[0].input,
            Pass::Forward,
            self.scale[0],
            how,
            &mut report,
            |_, h| prior.denoise(&h.r, h.gamma),
        )?;
        for k in 0..=k_last {
            let layer = &self.layers[k];
            // The linear layer's estimate of z_k (lines 9–12).
            let (head, tail) = state.split_at_mut(k + 1);
            let s = &mut head[k];
            let jac = layer.linear.forward(
                s.pre.minus.view(),
                s.input.plus.view(),
                s.workspace,
                s.pre.estimate,
            )?;
            report.interventions += self.extrinsic(
                &mut s.pre,
                Pass::Forward,
                &jac,
                self.scale[2 * k + 1],
                damping,
            )?;
            // The channel's estimate of h_{k+1} (lines 9–12 for the even layer).
            if k < k_last {
                let z = s.pre.plus.view();
                self.sweep(
                    &mut tail[0].input,
                    Pass::Forward,
                    self.scale[2 * k + 2],
                    how,
                    &mut report,
                    |i, h| layer.channel.denoise_pair(h, z.row(i)).output,
                )?;
            }
        }

        // Backward: the output channel's estimate of z_{K−1} (lines 15–18).
        let output = self.layers[k_last].channel;
        let (y, p) = (self.y, output.observation_dim());
        self.sweep(
            &mut state[k_last].pre,
            Pass::Backward,
            self.scale[2 * k_last + 1],
            how,
            &mut report,
            |i, z| output.denoise_output(&y[i * p..(i + 1) * p], z),
        )?;
        for k in (0..=k_last).rev() {
            // The linear layer's estimate of h_k (lines 20–23).
            let s = &mut state[k];
            let jac = self.layers[k].linear.backward(
                s.pre.minus.view(),
                s.input.plus.view(),
                s.workspace,
                s.input.estimate_minus,
            )?;
            report.interventions += self.extrinsic(
                &mut s.input,
                Pass::Backward,
                &jac,
                self.scale[2 * k],
                damping,
            )?;
            // The channel of layer k − 1: its estimate of z_{k−1}.
            if k > 0 {
                let (head, tail) = state.split_at_mut(k);
                let h = tail[0].input.minus.view();
                let channel = self.layers[k - 1].channel;
                self.sweep(
                    &mut head[k - 1].pre,
                    Pass::Backward,
                    self.scale[2 * k - 1],
                    how,
                    &mut report,
                    |i, z| channel.denoise_pair(h.row(i), z).input,
                )?;
            }
        }
        for v in state.iter().flat_map(|s| [&s.input, &s.pre]) {
            let mut change = Change::new();
            for (plus, minus) in v
                .estimate
                .chunks_exact(D)
                .zip(v.estimate_minus.chunks_exact(D))
            {
                change.add(
                    SVector::<T, D>::from_column_slice(plus),
                    SVector::from_column_slice(minus),
                );
            }
            report.disagreement = Real::max(report.disagreement, change.relative());
        }
        report.finite &= Real::is_finite(report.change)
            && state.iter().all(|s| {
                [&s.input, &s.pre].into_iter().all(|v| {
                    v.plus
                        .r
                        .iter()
                        .chain(v.minus.r.iter())
                        .chain(v.estimate.iter())
                        .all(|x| Real::is_finite(*x))
                })
            });
        Ok(report)
    }

    /// One row sweep of a non-linear factor (lines 4–7 for the prior, 9–12 and 20–23 for a
    /// hidden channel, 15–18 for the output): `estimator(i, (r_i, Γ))` gives the factor's
    /// estimate of row `i` of `v` and its Jacobian from the row's message into the factor
    /// (`(R^-, Γ^-)` forward, `(R^+, Γ^+)` backward; the estimator reads whatever else the
    /// factor needs: the message on its other end, the observation); the estimates go to the
    /// pass's estimate of `v` (`Ẑ^+` or `Ẑ^-`), their Jacobians are averaged over the rows,
    /// `⟨J⟩ = (1/n) Σ_i J_i`, and `v`'s outgoing message is then formed by
    /// [`MlVamp::extrinsic`]. A forward sweep also records the relative change of `Ẑ^+` in
    /// `report.change`.
    fn sweep(
        &self,
        v: &mut VariableState<'_, T, D>,
        pass: Pass,
        scale: T,
        how: How<'_, T, impl RowRunner>,
        report: &mut VampReport<T>,
        estimator: impl Fn(usize, RowMessage<'_, T, D>) -> RowEstimate<T, D> + Sync,
    ) -> Result<(), Error> {
        let n = v.rows();
        let (incoming, estimates) = v.pass_mut(pass);
        let forward = pass == Pass::Forward;
        let chunk = |c: usize, out: &mut [T]| {
            let mut sums = ChunkSums::zero();
            for (j, o) in out.chunks_exact_mut(D).enumerate() {
                let est = estimator(c * CHUNK + j, incoming.row(c * CHUNK + j));
                sums.add(
                    est.mean,
                    SVector::from_column_slice(o),
                    &est.jacobian,
                    forward,
                );
                o.copy_from_slice(est.mean.as_slice());
            }
            sums
        };
        let sums = how.runner.run(estimates, &chunk);
        if forward {
            report.change = Real::max(report.change, sums.change.relative());
        }
        let jac = sums.jacobian / <T as Real>::from_usize(n);
        report.interventions += self.extrinsic(v, pass, &jac, scale, how.damping)?;
        Ok(())
    }

    /// The extrinsic update of one variable (lines 5–7, 10–12, 16–18, 21–23): from the
    /// average Jacobian `jac` of the pass's estimates (`Ẑ^+` forward, `Ẑ^-` backward) in the
    /// incoming message `(R_in, Γ_in)`, the outgoing `(R_out, Γ_out)`, damped. Returns the
    /// interventions (eigenvalues of `⟨C⟩` raised, plus one if the update was rejected).
    fn extrinsic(
        &self,
        v: &mut VariableState<'_, T, D>,
        pass: Pass,
        jac: &SMatrix<T, D, D>,
        scale: T,
        damping: Damping<T>,
    ) -> Result<usize, Error> {
        let (incoming, outgoing) = match pass {
            Pass::Forward => (&v.minus, &mut v.plus),
            Pass::Backward => (&v.plus, &mut v.minus),
        };
        let (gamma_in, gamma_out_old) = (incoming.gamma, outgoing.gamma);
        let fresh = &mut v.fresh[pass as usize];
        let step = extrinsic::extrinsic(jac, &gamma_in, scale, pass == Pass::Forward && *fresh)?;
        v.interventions += step.interventions();
        let Extrinsic::Accepted {
            gamma: gamma_new,
            gain: b,
            interventions,
        } = step
        else {
            return Ok(step.interventions());
        };
        // r_out = Γ_out⁻¹ (Λ ẑ − Γ_in r_in) = ẑ + B (ẑ − r_in).
        let estimate: &[T] = match pass {
            Pass::Forward => v.estimate,
            Pass::Backward => v.estimate_minus,
        };
        // The first update replaces the placeholder: nothing to mix with.
        let damping = if *fresh {
            Damping::new(T::ONE)?
        } else {
            damping
        };
        *fresh = false;
        // The damped message is the geometric mix N(r_new, Γ_new)^β N(r_old, Γ_old)^(1−β):
        // its natural parameters mix linearly, Γ = β Γ_new + (1 − β) Γ_old and
        // Γ r = β Γ_new r_new + (1 − β) Γ_old r_old, so r = A r_new + (I − A) r_old with
        // A = Γ⁻¹ β Γ_new. (Mixing r and Γ each linearly would pair an old, poor mean with
        // a precision near the new one's: an overconfident message.)
        let (r_in, r_out) = (&*incoming.r, &mut *outgoing.r);
        let message = |i: usize| {
            let z = row::<T, D>(estimate, i);
            z + b * (z - row::<T, D>(r_in, i))
        };
        if damping.beta() == T::ONE {
            // Undamped (β = 1): the new message as it is, no weights to form or apply.
            for i in 0..r_in.len() / D {
                r_out[i * D..(i + 1) * D].copy_from_slice(message(i).as_slice());
            }
            outgoing.gamma = gamma_new;
            return Ok(interventions);
        }
        let damped = gamma_new
            .matrix()
            .zip_map(gamma_out_old.matrix(), |n, o| damping.mix(o, n));
        let damped = Precision::new(damped).unwrap_or(gamma_new);
        let weight_new = damped.solve_matrix(&(gamma_new.matrix() * damping.beta()));
        let weight_old = SMatrix::<T, D, D>::identity() - weight_new;
        for i in 0..r_in.len() / D {
            let out = &mut r_out[i * D..(i + 1) * D];
            let old = SVector::<T, D>::from_column_slice(out);
            let mixed = weight_new * message(i) + weight_old * old;
            out.copy_from_slice(mixed.as_slice());
        }
        outgoing.gamma = damped;
        Ok(interventions)
    }
}

/// Which message a variable's update produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    /// `(R^+, Γ^+)` from `Ẑ^+` and `(R^-, Γ^-)`.
    Forward = 0,
    /// `(R^-, Γ^-)` from `Ẑ^-` and `(R^+, Γ^+)`.
    Backward = 1,
}
