//! What Algorithm 1 needs of a linear layer: its two estimates and their mean Jacobians, over
//! a caller-owned workspace, whatever represents `W` (the SVD's rotations here, a
//! matrix-free solve on the host).

use crate::error::Error;
use crate::mat::{MatReal, Message};
use crate::ml_vamp::LinearLayer;
use nalgebra::SMatrix;

/// The linear layer's estimator of ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter,
/// Fletcher, *Matrix inference and estimation in multi-layer models*, eq. 15 and Algorithm 1,
/// lines 9–10 and 20–21; the paper's odd `ℓ`, our layer's `z_out = W z_in + ξ`): the belief of
/// eq. 12 on `(z_in, z_out)` given the messages `(R_in, Γ_in)` on the input and
/// `(R_out, Γ_out)` on the output is Gaussian, and its mean `(Ẑ_in, Ẑ_out)` solves
///
/// `Wᵀ W Ẑ_in M + Ẑ_in Γ_in = Wᵀ R_out M + R_in Γ_in`, `M = (N⁻¹ + Γ_out⁻¹)⁻¹` (`Γ_out` without
/// noise),
///
/// (rows of `n × D` matrices, right-multiplied by the d×d precisions), with
/// `Ẑ_out = (N + Γ_out)⁻¹ (N W ẑ_in + Γ_out r_out)` row by row (`W Ẑ_in` without noise).
/// [`LinearLayer`] solves it in the SVD's basis; the host has a matrix-free solver.
///
/// The workspace (`workspace_len()` entries, owned by the caller, carried in
/// [`crate::ml_vamp::LayerState`]) holds whatever the implementation keeps from the forward
/// to the backward estimate and from one iteration to the next.
pub trait LinearEstimator<T: MatReal, const D: usize> {
    /// The rows of `W` (the output's rows).
    fn rows(&self) -> usize;

    /// The columns of `W` (the input's rows).
    fn cols(&self) -> usize;

    /// The entries of workspace the estimates need.
    fn workspace_len(&self) -> usize;

    /// The forward estimate `Ẑ_out` (Algorithm 1, line 9) into `z_out` (`rows × D`) and the
    /// mean Jacobian `⟨∂ẑ_out/∂r_out⟩` (line 10), from `output = (R_out, Γ_out)` (`rows × D`)
    /// and `input = (R_in, Γ_in)` (`cols × D`). Called before [`backward`](Self::backward) in
    /// each iteration, with the same input message.
    fn forward(
        &self,
        output: Message<'_, T, D>,
        input: Message<'_, T, D>,
        workspace: &mut [T],
        z_out: &mut [T],
    ) -> Result<SMatrix<T, D, D>, Error>;

    /// The backward estimate `Ẑ_in` (line 20) into `z_in` (`cols × D`) and the mean Jacobian
    /// `⟨∂ẑ_in/∂r_in⟩` (line 21), from the new output message and the input message of the
    /// iteration's [`forward`](Self::forward) call.
    fn backward(
        &self,
        output: Message<'_, T, D>,
        input: Message<'_, T, D>,
        workspace: &mut [T],
        z_in: &mut [T],
    ) -> Result<SMatrix<T, D, D>, Error>;
}

/// The SVD's estimator: the workspace is `Vᵀ R_in` (`rank × D`, rotated by the forward
/// estimate and kept for the backward one) followed by `rank × D` of scratch.
impl<T: MatReal, const D: usize> LinearEstimator<T, D> for LinearLayer<'_, T, D> {
    fn rows(&self) -> usize {
        LinearLayer::rows(self)
    }

    fn cols(&self) -> usize {
        LinearLayer::cols(self)
    }

    fn workspace_len(&self) -> usize {
        2 * self.rank() * D
    }

    fn forward(
        &self,
        output: Message<'_, T, D>,
        input: Message<'_, T, D>,
        workspace: &mut [T],
        z_out: &mut [T],
    ) -> Result<SMatrix<T, D, D>, Error> {
        let (rotated, scratch) = workspace.split_at_mut(self.rank() * D);
        self.rotations().right_t(input.r, D, rotated);
        Ok(LinearLayer::forward(
            self,
            output,
            Message::new(rotated, input.gamma),
            scratch,
            z_out,
        ))
    }

    fn backward(
        &self,
        output: Message<'_, T, D>,
        input: Message<'_, T, D>,
        workspace: &mut [T],
        z_in: &mut [T],
    ) -> Result<SMatrix<T, D, D>, Error> {
        let (rotated, scratch) = workspace.split_at_mut(self.rank() * D);
        Ok(LinearLayer::backward(
            self, output, input, rotated, scratch, z_in,
        ))
    }
}
