//! MlVamp with an output channel whose observation has its own dimension: `y = z_1 + z_2 + ξ`
//! on rows of `d = 2`, one number observed per row.

use super::*;
use crate::mat::{GaussianRow, PairEstimate, RowEstimate, RowMessage};
use crate::ml_vamp::DenseRotations;
use nalgebra::{SMatrix, SVector};

/// The output `y = z_1 + z_2 + ξ`, `ξ ~ N(0, δ)`, with a Gaussian factor `e^{−κ ‖z‖²/2}` on
/// the row besides: with `a = (1, 1)`, the belief
/// `N(y; aᵀz, δ) e^{−κ ‖z‖²/2} exp(−½ (z − r)ᵀ Γ (z − r))` is Gaussian, of precision
/// `P = Γ + a aᵀ/δ + κ I`, mean `ẑ = P⁻¹ (Γ r + a y/δ)` and Jacobian `∂ẑ/∂r = P⁻¹ Γ`.
///
/// The extrinsic precision this factor sends to `z` is `Λ − Γ = a aᵀ/δ + κ I`. At `κ = 0` it
/// is the rank-one `a aᵀ/δ` (one number observed per row, in the same direction on every
/// row), not positive definite: the extrinsic step keeps the informative direction and sends
/// [`BLIND_RELATIVE_PRECISION`] of it in the blind one.
struct SumOutput {
    delta: f64,
    kappa: f64,
}

impl ChannelDenoiser<f64, 2> for SumOutput {
    fn name(&self) -> &'static str {
        "sum"
    }

    fn observation_dim(&self) -> usize {
        1
    }

    fn denoise_pair(
        &self,
        _: RowMessage<'_, f64, 2>,
        _: RowMessage<'_, f64, 2>,
    ) -> PairEstimate<f64, 2> {
        unreachable!("an output channel only")
    }

    fn denoise_output(&self, y: &[f64], message: RowMessage<'_, f64, 2>) -> RowEstimate<f64, 2> {
        let a = SVector::<f64, 2>::repeat(1.0);
        let gamma = message.gamma.matrix();
        let p = gamma + a * a.transpose() / self.delta + SMatrix::identity() * self.kappa;
        let p = Precision::new(p).unwrap();
        RowEstimate {
            mean: p.solve(&(gamma * message.r + a * (y[0] / self.delta))),
            jacobian: p.solve_matrix(gamma),
        }
    }
}

/// `n = 3` rows of `d = 2`, `W = U diag(s) Vᵀ` (3 × 3), Gaussian rows of covariance `Σ`.
const N: usize = 3;
const U: [f64; 9] = [0.6, -0.8, 0.0, 0.8, 0.6, 0.0, 0.0, 0.0, 1.0];
const V: [f64; 9] = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0];
const S: [f64; 3] = [1.5, 1.0, 0.5];
const DELTA: f64 = 0.1;
const KAPPA: f64 = 0.5;

/// `W` (row-major) from its SVD.
fn weights() -> SMatrix<f64, N, N> {
    let u = SMatrix::<f64, N, N>::from_row_slice(&U);
    let v = SMatrix::<f64, N, N>::from_row_slice(&V);
    u * SMatrix::from_diagonal(&SVector::from_column_slice(&S)) * v.transpose()
}

/// The exact posterior mean of `X` (row-major `N × 2`) given `y_i = Σ_j W_ij (x_j1 + x_j2) + ξ_i`
/// and the factor `e^{−κ ‖W X‖²/2}` under the prior rows `N(0, Σ)`:
/// `(Λ_0 + AᵀA/δ + κ WᵀW ⊗ I)⁻¹ Aᵀ y/δ` with `A_{i, 2j+c} = W_ij` and `Λ_0 = I ⊗ Σ⁻¹`.
fn exact_mean(sigma: &SMatrix<f64, 2, 2>, y: &[f64; N], kappa: f64) -> SVector<f64, 6> {
    let w = weights();
    let a = SMatrix::<f64, N, 6>::from_fn(|i, k| w[(i, k / 2)]);
    let prior = sigma.try_inverse().unwrap();
    let lambda0 = SMatrix::<f64, 6, 6>::from_fn(|k, l| {
        if k / 2 == l / 2 {
            prior[(k % 2, l % 2)]
        } else {
            0.0
        }
    });
    let wtw = w.transpose() * w;
    let factor = SMatrix::<f64, 6, 6>::from_fn(|k, l| {
        if k % 2 == l % 2 {
            kappa * wtw[(k / 2, l / 2)]
        } else {
            0.0
        }
    });
    let p = lambda0 + a.transpose() * a / DELTA + factor;
    p.try_inverse().unwrap() * (a.transpose() * SVector::from_column_slice(y) / DELTA)
}

#[test]
fn an_output_of_its_own_observation_dimension() {
    let rot = DenseRotations::new(&U, &V, &S, N, N).unwrap();
    let linear = LinearLayer::<f64, 2>::new(&rot, LayerNoise::Noiseless);
    let channel = SumOutput {
        delta: DELTA,
        kappa: KAPPA,
    };
    let layers = [VampLayer {
        linear: &linear,
        channel: &channel,
    }];
    let sigma = SMatrix::<f64, 2, 2>::new(1.0, 0.3, 0.3, 0.8);
    let prior = GaussianRow::new(SVector::zeros(), sigma).unwrap();
    let scale = [0.9, 2.0];

    // One number per row: `n × D` entries, or a non-finite one, are refused.
    let wrong = [0.0; 2 * N];
    assert_eq!(
        MlVamp::new(&prior, &layers, &wrong, &scale).err(),
        Some(Error::ShapeMismatch {
            what: "observation",
            expected: N,
            found: 2 * N,
        })
    );
    assert_eq!(
        MlVamp::new(&prior, &layers, &[0.5, f64::NAN, 1.0], &scale).err(),
        Some(Error::NonFinite {
            what: "observation",
        })
    );

    // Everything Gaussian: the fixed point's mean is the exact posterior mean.
    let y = [0.7, -1.2, 0.4];
    let vamp = MlVamp::new(&prior, &layers, &y, &scale).unwrap();
    let mut buf = [0.0; LayerState::<f64, 2>::len(N, N, 2 * N * 2)];
    assert_eq!(vamp.state_len(), buf.len());
    let (st, _) = LayerState::carve(&mut buf, N, N, 2 * N * 2).unwrap();
    let mut state = [st];
    vamp.initialise(&mut state).unwrap();
    for _ in 0..200 {
        assert!(vamp.step(&mut state, 1.0).unwrap().finite);
    }
    let exact = exact_mean(&sigma, &y, KAPPA);
    for (got, want) in state[0].input.estimate.iter().zip(exact.iter()) {
        assert!((got - want).abs() < 1e-10, "{got} vs {want}");
    }

    // κ = 0: the output's extrinsic precision is rank one. Each update keeps its informative
    // direction and raises the blind one (one intervention each), and the fixed point is the
    // exact posterior mean up to what the raised 1e-4 of precision adds in the blind
    // direction (the prior's precision there is ~2: a relative error of ~1e-4).
    let rank_one = SumOutput {
        delta: DELTA,
        kappa: 0.0,
    };
    let layers = [VampLayer {
        linear: &linear,
        channel: &rank_one,
    }];
    let vamp = MlVamp::new(&prior, &layers, &y, &scale).unwrap();
    let (st, _) = LayerState::carve(&mut buf, N, N, 2 * N * 2).unwrap();
    let mut state = [st];
    vamp.initialise(&mut state).unwrap();
    let mut raised = 0;
    for _ in 0..200 {
        let rep = vamp.step(&mut state, 1.0).unwrap();
        assert!(rep.finite);
        raised += rep.interventions;
    }
    assert!(raised >= 200, "{raised}");
    let exact = exact_mean(&sigma, &y, 0.0);
    let scale = exact.norm();
    for (got, want) in state[0].input.estimate.iter().zip(exact.iter()) {
        assert!((got - want).abs() < 1e-3 * scale, "{got} vs {want}");
    }
}
