//! The ML-AMP iteration (Manoel, Krzakala, Mézard, Zdeborová, *Multi-layer generalized linear
//! estimation*, eqs. 5–9 and the procedure box), for any number of layers, over
//! caller-provided buffers.
//!
//! # Indexing
//! Our layers run from the signal to the observation: layer `k = 0, …, L−1` maps its input
//! variable `h_k` (`h_0 = x`, `n_k` entries) to `h_{k+1} = P_out^k(· | W_k h_k)`, and
//! `h_L = y`. The paper's layer `ℓ` (1 at the observation) is our layer `k = L − ℓ`; its
//! `W^(ℓ)` is our `W_k`, its `A^(ℓ)`, `B^(ℓ)`, `ĥ^(ℓ)`, `σ^(ℓ)` (of the variable *below*
//! factor ℓ, i.e. its input) are our layer-`k` input quantities, and its
//! `V^(ℓ)`, `ω^(ℓ)`, `g^(ℓ)` are our layer-`k` factor quantities.
//!
//! # One iteration (the paper's t → t + 1)
//! For k = L−1 down to 0 (the paper's ℓ = 1 … L):
//! - `V_k = (W_k∘W_k) σ_k` and `ω_k = W_k ĥ_k − V_k ∘ g_k(t−1)` (eq. 5);
//! - `g_k`, `∂g_k` from the output function (eq. 7) at the last layer, else from the hidden
//!   function (eq. 6) of channel k at `(A_{k+1}, B_{k+1}, V_k, ω_k)`, which also gives the new
//!   `ĥ_{k+1}`, `σ_{k+1}` (eq. 6, second line: the same arguments at time t);
//! - `A_k = −(W_k∘W_k)ᵀ ∂g_k`, `B_k = W_kᵀ g_k + A_k ∘ ĥ_k` (eq. 5).
//!
//! Then `ĥ_0`, `σ_0` from the prior (eq. 9). With [`VarianceMode::Mean`] the products with
//! `W∘W` are replaced by their iid mean (`V_k = ⟨W²⟩ Σ σ_k` for every row, and likewise for
//! `A_k`), valid for iid weights and cheaper.
//!
//! # Damping
//! With factor `β ∈ (0, 1]` (1: none), the *variances* are damped, `x ← β x_new + (1 − β) x_old`
//! for `σ` and `∂g`; the means `ĥ` and `g` are not. Damping the variances removes the
//! oscillations of the iteration (the single-layer binary perceptron converges in 9
//! iterations at β = 0.8 and not at all without damping); damping the means as well — the
//! usual damped GAMP — makes the two-layer iteration unstable even in its easy phase (the
//! paper's eq. 18 at α = 0.7 diverges with β = 0.3, converges with variance damping), because
//! a hidden variable's damped mean no longer matches the Onsager terms of the two layers it
//! couples. Fixed points do not depend on β.

use crate::channel::Channel;
use crate::damping::{Change, Damping};
use crate::error::{Error, length};
use crate::moments::Moments;
use crate::operator::WeightOperator;
use crate::prior::Prior;
use crate::real::Real;

/// How the products with `W∘W` are evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VarianceMode {
    /// The exact products with the entrywise square of each weight matrix.
    #[default]
    Full,
    /// Their iid mean: `(W∘W) s ≈ ⟨W²⟩ Σ s` for every row (eq. 5 for iid weights).
    Mean,
}

/// One layer of the model: its weights and its channel.
#[derive(Clone, Copy)]
pub struct AmpLayer<'a, T: Real> {
    /// `W_k`, `n_{k+1} × n_k`.
    pub weights: &'a dyn WeightOperator<T>,
    /// `P_out^k(h_{k+1} | z)`.
    pub channel: &'a dyn Channel<T>,
}

/// The iteration state of one layer, in caller-owned buffers: the quantities of its input
/// variable (`n_in` entries each) and of its factor (`n_out` entries each).
#[derive(Debug)]
pub struct LayerState<'a, T> {
    /// `A` of the input variable (eq. 5).
    pub a: &'a mut [T],
    /// `B` of the input variable (eq. 5).
    pub b: &'a mut [T],
    /// `ĥ`: the estimate of the input variable (for layer 0, the signal).
    pub h: &'a mut [T],
    /// `σ`: its posterior variance.
    pub sigma: &'a mut [T],
    /// `V` of the factor (eq. 5).
    pub v: &'a mut [T],
    /// `ω` of the factor (eq. 5).
    pub omega: &'a mut [T],
    /// `g` of the factor (eqs. 6–7).
    pub g: &'a mut [T],
    /// `∂_ω g` of the factor.
    pub dg: &'a mut [T],
}

impl<'a, T> LayerState<'a, T> {
    /// The number of entries [`LayerState::carve`] takes for a `rows × cols` layer.
    pub const fn len(rows: usize, cols: usize) -> usize {
        4 * (rows + cols)
    }

    /// Carves a layer's state from the front of `buf`, returning it and the rest of `buf`.
    pub fn carve(buf: &'a mut [T], rows: usize, cols: usize) -> Result<(Self, &'a mut [T]), Error> {
        let need = Self::len(rows, cols);
        if buf.len() < need {
            return Err(Error::ShapeMismatch {
                what: "state buffer",
                expected: need,
                found: buf.len(),
            });
        }
        let (mine, rest) = buf.split_at_mut(need);
        let (a, mine) = mine.split_at_mut(cols);
        let (b, mine) = mine.split_at_mut(cols);
        let (h, mine) = mine.split_at_mut(cols);
        let (sigma, mine) = mine.split_at_mut(cols);
        let (v, mine) = mine.split_at_mut(rows);
        let (omega, mine) = mine.split_at_mut(rows);
        let (g, dg) = mine.split_at_mut(rows);
        Ok((
            Self {
                a,
                b,
                h,
                sigma,
                v,
                omega,
                g,
                dg,
            },
            rest,
        ))
    }
}

/// What one iteration did.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct StepReport<T> {
    /// The largest, over variables, of `‖ĥ_new − ĥ_old‖² / ‖ĥ_new‖²`.
    pub change: T,
    /// How many entries of `A` came out negative and were set to 0 (a non-log-concave channel
    /// can produce `∂g > 0`; a negative precision would make eq. 9 diverge).
    pub clamped: usize,
    /// `false` if any estimate or variance is NaN or infinite.
    pub finite: bool,
}

/// The ML-AMP algorithm for one model and one observation: parameters behind `&self`, the
/// iteration state in caller-owned [`LayerState`]s.
pub struct MlAmp<'m, T: Real> {
    prior: &'m dyn Prior<T>,
    layers: &'m [AmpLayer<'m, T>],
    y: &'m [T],
    mode: VarianceMode,
}

impl<'m, T: Real> MlAmp<'m, T> {
    /// Checks that the layers chain (`rows` of layer k = `cols` of layer k+1), that `y` has
    /// the last layer's `rows` entries and that each is a possible observation.
    pub fn new(
        prior: &'m dyn Prior<T>,
        layers: &'m [AmpLayer<'m, T>],
        y: &'m [T],
        mode: VarianceMode,
    ) -> Result<Self, Error> {
        let last = layers.last().ok_or(Error::EmptyModel)?;
        for pair in layers.windows(2) {
            if pair[0].weights.rows() != pair[1].weights.cols() {
                return Err(Error::ShapeMismatch {
                    what: "weights (rows of a layer vs columns of the next)",
                    expected: pair[0].weights.rows(),
                    found: pair[1].weights.cols(),
                });
            }
        }
        length("observation", y, last.weights.rows())?;
        for &yi in y {
            last.channel.check_observation(yi)?;
        }
        Ok(Self {
            prior,
            layers,
            y,
            mode,
        })
    }

    /// The number of layers L.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// Total buffer length for the state of every layer (see [`LayerState::carve`]).
    pub fn state_len(&self) -> usize {
        self.layers
            .iter()
            .map(|l| LayerState::<T>::len(l.weights.rows(), l.weights.cols()))
            .sum()
    }

    /// Checks that `state` has one entry per layer and every buffer its length.
    pub fn check_state(&self, state: &[LayerState<'_, T>]) -> Result<(), Error> {
        if state.len() != self.layers.len() {
            return Err(Error::ShapeMismatch {
                what: "layer states",
                expected: self.layers.len(),
                found: state.len(),
            });
        }
        for (st, l) in state.iter().zip(self.layers) {
            let (r, c) = (l.weights.rows(), l.weights.cols());
            for (s, n) in [(&st.a, c), (&st.b, c), (&st.h, c), (&st.sigma, c)] {
                length("layer state (input variable)", s, n)?;
            }
            for (s, n) in [(&st.v, r), (&st.omega, r), (&st.g, r), (&st.dg, r)] {
                length("layer state (factor)", s, n)?;
            }
        }
        Ok(())
    }

    /// Initialises from the prior, never from the ground truth: `ĥ_k = E h_k`,
    /// `σ_k = Var h_k` (from `moments[k]`, see [`crate::moments::marginal_moments`]),
    /// `g = 0` (the procedure box's line 2), and `A = B = 0`.
    pub fn initialise(
        &self,
        state: &mut [LayerState<'_, T>],
        moments: &[Moments<T>],
    ) -> Result<(), Error> {
        self.check_state(state)?;
        if moments.len() < self.layers.len() {
            return Err(Error::ShapeMismatch {
                what: "moments",
                expected: self.layers.len(),
                found: moments.len(),
            });
        }
        for (st, m) in state.iter_mut().zip(moments) {
            st.h.fill(m.mean);
            st.sigma.fill(m.variance());
            st.a.fill(T::ZERO);
            st.b.fill(T::ZERO);
            for s in [&mut *st.v, &mut *st.omega, &mut *st.g, &mut *st.dg] {
                s.fill(T::ZERO);
            }
        }
        Ok(())
    }

    /// One ML-AMP iteration with damping `beta ∈ (0, 1]` (see the module doc). The state must
    /// have passed [`MlAmp::check_state`] (done by [`MlAmp::initialise`]).
    pub fn step(&self, state: &mut [LayerState<'_, T>], beta: T) -> Result<StepReport<T>, Error> {
        let damping = Damping::new(beta)?;
        self.check_state(state)?;
        let depth = self.layers.len();
        let mut report = StepReport {
            change: T::ZERO,
            clamped: 0,
            finite: true,
        };
        for k in (0..depth).rev() {
            let (lo, hi) = state.split_at_mut(k + 1);
            let st = &mut lo[k];
            let layer = &self.layers[k];
            let w = layer.weights;
            // Factor side, eq. 5: V and ω (with the Onsager term of the previous g).
            match self.mode {
                VarianceMode::Full => w.apply_with_square(st.h, st.sigma, st.omega, st.v),
                VarianceMode::Mean => {
                    w.apply(st.h, st.omega);
                    let s: T = st.sigma.iter().copied().sum();
                    st.v.fill(w.mean_square() * s);
                }
            }
            for ((o, &v), &g) in st.omega.iter_mut().zip(st.v.iter()).zip(st.g.iter()) {
                *o -= v * g;
            }
            // g and ∂g: eq. 7 at the observation, eq. 6 below it.
            if k + 1 == depth {
                for (mu, &y) in self.y.iter().enumerate() {
                    let m = layer.channel.output(y, st.v[mu], st.omega[mu]);
                    st.g[mu] = m.g;
                    st.dg[mu] = damping.apply(st.dg[mu], m.dg);
                }
            } else {
                let nx = &mut hi[0];
                let mut ch = Change::new();
                for mu in 0..st.g.len() {
                    let m = layer
                        .channel
                        .hidden(nx.a[mu], nx.b[mu], st.v[mu], st.omega[mu]);
                    st.g[mu] = m.g;
                    st.dg[mu] = damping.apply(st.dg[mu], m.dg);
                    // The new estimate (undamped) and its damped variance.
                    ch.add(m.mean, nx.h[mu]);
                    nx.h[mu] = m.mean;
                    nx.sigma[mu] = damping.apply(nx.sigma[mu], m.var);
                }
                report.change = report.change.max(ch.relative());
                report.finite &= ch.relative().is_finite();
            }
            // Variable side, eq. 5: A and B of the input variable.
            match self.mode {
                VarianceMode::Full => {
                    w.apply_t_with_square(st.g, st.dg, st.b, st.a);
                    st.a.iter_mut().for_each(|a| *a = -*a);
                }
                VarianceMode::Mean => {
                    w.apply_t(st.g, st.b);
                    let s: T = st.dg.iter().copied().sum();
                    st.a.fill(-w.mean_square() * s);
                }
            }
            for ((a, b), &h) in st.a.iter_mut().zip(st.b.iter_mut()).zip(st.h.iter()) {
                // NaN is left alone, to be reported as non-finite.
                if *a < T::ZERO {
                    report.clamped += 1;
                    *a = T::ZERO;
                }
                *b += *a * h;
            }
        }
        // The signal, eq. 9.
        let st = &mut state[0];
        let mut ch = Change::new();
        for i in 0..st.h.len() {
            let p = self.prior.posterior(st.a[i], st.b[i]);
            // The new estimate (undamped) and its damped variance.
            ch.add(p.mean, st.h[i]);
            st.h[i] = p.mean;
            st.sigma[i] = damping.apply(st.sigma[i], p.var);
        }
        report.change = report.change.max(ch.relative());
        report.finite &= ch.relative().is_finite()
            && state.iter().all(|s| s.sigma.iter().all(|x| x.is_finite()));
        Ok(report)
    }
}
