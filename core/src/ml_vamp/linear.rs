//! The linear layer's estimator of ML-Mat-VAMP in the SVD domain (Pandit, Sahraee-Ardakan,
//! Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*, eq. 15).

use crate::error::Error;
use crate::mat::{MatReal, Message, Precision};
use crate::ml_vamp::Rotations;
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// The Gaussian noise of a linear layer, `z_out = W z_in + b + ξ`, `ξ` rows `~ N(0, N⁻¹)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerNoise<T, const D: usize> {
    /// `ξ = 0`: the limit `N → ∞`, taken in closed form (not by a large `N`).
    Noiseless,
    /// Noise of precision `N` (the paper's `N_ℓ`, a d×d precision).
    Precision(Precision<T, D>),
}

/// The per-singular-value estimator of eq. 15 (an argmin: the paper prints argmax) for one
/// direction of the SVD `W = U diag(s) Vᵀ`: with the rotated message rows
/// `a = (Uᵀ r_out)_j`, `c = (Vᵀ r_in)_j` and rotated bias `b̃ = (Uᵀ b)_j`, minimise over
/// `(z̃, ũ) ∈ R^{2d}`
///
/// `½‖z̃ − s ũ − b̃‖²_N + ½‖z̃ − a‖²_{Γ_out} + ½‖ũ − c‖²_{Γ_in}`.
///
/// The 2d×2d normal equations `[[N + Γ_out, −sN], [−sN, s²N + Γ_in]] (z̃, ũ) = (N b̃ + Γ_out a,
/// −sN b̃ + Γ_in c)` are solved by eliminating `z̃` (its Schur complement): with
/// `M = (N⁻¹ + Γ_out⁻¹)⁻¹` (`= Γ_out` without noise),
///
/// - `ũ = (s² M + Γ_in)⁻¹ (Γ_in c + s M (a − b̃))`,
/// - `z̃ = (N + Γ_out)⁻¹ (N (b̃ + s ũ) + Γ_out a)` (`= b̃ + s ũ` without noise),
///
/// so one d×d Cholesky factorisation of `s² M + Γ_in` per singular value (the 2d×2d solve
/// in block form). The Jacobians are constant in the rows: `∂ũ/∂c = (s² M + Γ_in)⁻¹ Γ_in`,
/// `∂z̃/∂a = (N + Γ_out)⁻¹ (s² N (s² M + Γ_in)⁻¹ M + Γ_out)` (without noise
/// `s² (s² Γ_out + Γ_in)⁻¹ Γ_out`). A zero singular value decouples the two ends.
#[derive(Clone, Copy, Debug)]
struct Direction<T: MatReal, const D: usize> {
    /// `s² M + Γ_in`, factored.
    p: Precision<T, D>,
    s: T,
}

/// The precisions a linear layer's estimator needs in one pass, and the products derived
/// from them that do not depend on the singular value.
#[derive(Clone, Copy, Debug)]
struct Shared<T: MatReal, const D: usize> {
    gamma_out: Precision<T, D>,
    gamma_in: Precision<T, D>,
    /// `M = (N⁻¹ + Γ_out⁻¹)⁻¹`, or `Γ_out` without noise.
    m: SMatrix<T, D, D>,
    /// `N + Γ_out` factored, and `N`; `None` without noise.
    noisy: Option<(Precision<T, D>, SMatrix<T, D, D>)>,
}

impl<T: MatReal, const D: usize> Shared<T, D> {
    fn new(
        noise: &LayerNoise<T, D>,
        gamma_out: &Precision<T, D>,
        gamma_in: &Precision<T, D>,
    ) -> Self {
        let m = noise.output_precision(gamma_out);
        let noisy = match noise {
            LayerNoise::Noiseless => None,
            LayerNoise::Precision(n) => Some((n.add(gamma_out), *n.matrix())),
        };
        Self {
            gamma_out: *gamma_out,
            gamma_in: *gamma_in,
            m,
            noisy,
        }
    }

    fn direction(&self, s: T) -> Direction<T, D> {
        let p = self.m * (s * s) + self.gamma_in.matrix();
        // s² M + Γ_in ⪰ Γ_in ≻ 0: the factorisation cannot fail in exact arithmetic; if
        // rounding makes it fail, Γ_in alone is the exact s → 0 limit.
        let p = Precision::new(p).unwrap_or(self.gamma_in);
        Direction { p, s }
    }

    /// `ũ` and `z̃` of one direction.
    fn solve(
        &self,
        dir: &Direction<T, D>,
        a: &SVector<T, D>,
        c: &SVector<T, D>,
        b: &SVector<T, D>,
    ) -> (SVector<T, D>, SVector<T, D>) {
        let rhs = self.gamma_in.matrix() * c + self.m * (a - b) * dir.s;
        let u = dir.p.solve(&rhs);
        let z = self.out_of(&(b + u * dir.s), a);
        (u, z)
    }

    /// `(N + Γ_out)⁻¹ (N t + Γ_out a)`, or `t` without noise: the output given its noiseless
    /// value `t` and its message row `a`.
    fn out_of(&self, t: &SVector<T, D>, a: &SVector<T, D>) -> SVector<T, D> {
        match &self.noisy {
            None => *t,
            Some((sum, n)) => sum.solve(&(n * t + self.gamma_out.matrix() * a)),
        }
    }

    /// `∂ũ/∂c = (s² M + Γ_in)⁻¹ Γ_in` of one direction.
    fn jacobian_in(&self, dir: &Direction<T, D>) -> SMatrix<T, D, D> {
        dir.p.solve_matrix(self.gamma_in.matrix())
    }

    /// `∂z̃/∂a` of one direction.
    fn jacobian_out(&self, dir: &Direction<T, D>) -> SMatrix<T, D, D> {
        let s2 = dir.s * dir.s;
        let inner = dir.p.solve_matrix(&self.m) * s2;
        match &self.noisy {
            None => inner,
            Some((sum, n)) => sum.solve_matrix(&(n * inner + self.gamma_out.matrix())),
        }
    }

    /// `∂z/∂r_out` of a direction outside the span of `U`: `(N + Γ_out)⁻¹ Γ_out`, or 0.
    fn jacobian_out_null(&self) -> SMatrix<T, D, D> {
        match &self.noisy {
            None => SMatrix::zeros(),
            Some((sum, _)) => sum.solve_matrix(self.gamma_out.matrix()),
        }
    }
}

/// The estimator of one direction of singular value `s` (see the private `Direction`), as
/// linear maps of its rotated message rows `c` (input side) and `a` (output side), without
/// bias: `ũ = u_in c + u_out a`, `z̃ = z_in c + z_out a`. `u_in` and `z_out` are the
/// Jacobians [`LinearLayer::backward`] and [`LinearLayer::forward`] average; the state
/// evolution propagates second moments through all four.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DirectionGains<T, const D: usize> {
    /// `∂ũ/∂c = (s² M + Γ_in)⁻¹ Γ_in`.
    pub u_in: SMatrix<T, D, D>,
    /// `∂ũ/∂a = s (s² M + Γ_in)⁻¹ M`.
    pub u_out: SMatrix<T, D, D>,
    /// `∂z̃/∂c = s u_in` (noiseless), `(N + Γ_out)⁻¹ N s u_in` (noisy).
    pub z_in: SMatrix<T, D, D>,
    /// `∂z̃/∂a = s u_out` (noiseless), `(N + Γ_out)⁻¹ (N s u_out + Γ_out)` (noisy).
    pub z_out: SMatrix<T, D, D>,
}

impl<T: MatReal, const D: usize> LayerNoise<T, D> {
    /// The precision with which the message `(r_out, Γ_out)` on the output constrains the
    /// noiseless output `W z_in`: `M = (N⁻¹ + Γ_out⁻¹)⁻¹`, computed as the symmetrised
    /// `N (N + Γ_out)⁻¹ Γ_out`; `M = Γ_out` without noise (eq. 15 of Pandit et al. with `z̃`
    /// eliminated, see the private `Direction`).
    pub fn output_precision(&self, gamma_out: &Precision<T, D>) -> SMatrix<T, D, D> {
        match self {
            LayerNoise::Noiseless => *gamma_out.matrix(),
            LayerNoise::Precision(n) => {
                let sum = n.add(gamma_out);
                let m = n.matrix() * sum.solve_matrix(gamma_out.matrix());
                (m + m.transpose()) * T::HALF
            }
        }
    }

    /// The gains of the direction of singular value `s` with the messages' precisions
    /// `Γ_out` (on the output) and `Γ_in` (on the input); `s = 0` is a direction outside the
    /// span of `V` on the input side (`ũ = c`).
    pub fn direction_gains(
        &self,
        gamma_out: &Precision<T, D>,
        gamma_in: &Precision<T, D>,
        s: T,
    ) -> DirectionGains<T, D> {
        let sh = Shared::new(self, gamma_out, gamma_in);
        let dir = sh.direction(s);
        let u_in = sh.jacobian_in(&dir);
        let u_out = dir.p.solve_matrix(&sh.m) * s;
        let z_in = match &sh.noisy {
            None => u_in * s,
            Some((sum, n)) => sum.solve_matrix(&(n * u_in * s)),
        };
        DirectionGains {
            u_in,
            u_out,
            z_in,
            z_out: sh.jacobian_out(&dir),
        }
    }

    /// `∂z̃/∂a` of a direction outside the span of `U` (the output side of a tall `W`):
    /// `(N + Γ_out)⁻¹ Γ_out`, or 0 without noise (`z̃` does not depend on `c` there).
    pub fn null_output_gain(&self, gamma_out: &Precision<T, D>) -> SMatrix<T, D, D> {
        Shared::new(self, gamma_out, gamma_out).jacobian_out_null()
    }
}

/// A linear layer of ML-Mat-VAMP (the paper's odd `ℓ`: `Z_ℓ = W_ℓ Z_{ℓ−1} + B_ℓ + Ξ_ℓ`, eq. 1a;
/// our input `z_in = Z_{ℓ−1}`, output `z_out = Z_ℓ`), estimated through the SVD of `W`
/// (section 3, eq. 15): the belief of eq. 12 is Gaussian, so MAP and MMSE agree, and in the
/// rotated coordinates `Uᵀ z_out`, `Vᵀ z_in` it splits into one 2d-dimensional problem per
/// singular value (see the private `Direction`), plus the directions outside the spans of `U`
/// and `V`, where the layer constrains nothing:
///
/// - input side, orthogonal to `V`: `ẑ_in = r_in` (Jacobian `I`);
/// - output side, orthogonal to `U`: `ẑ_out = (N + Γ_out)⁻¹ (N b + Γ_out r_out)` (Jacobian
///   `(N + Γ_out)⁻¹ Γ_out`), or `ẑ_out = b` without noise (Jacobian 0).
///
/// Hence, with `f⊥` that last map applied row by row (it commutes with `U`),
/// `Ẑ_out = f⊥(R_out, B) + U (Z̃ − f⊥(Uᵀ R_out, Uᵀ B))` and `Ẑ_in = R_in + V (Ũ − Vᵀ R_in)`:
/// three rotations forward (`Uᵀ R_out`, `Vᵀ R_in`, `U ·`) and two backward (`Uᵀ R_out`,
/// `V ·`; `Vᵀ R_in` is the forward one's), whatever the shape of `W`.
///
/// Matrices of rows are row-major `n × D` slices, as in [`Rotations`].
pub struct LinearLayer<'a, T: MatReal, const D: usize> {
    rotations: &'a dyn Rotations<T>,
    noise: LayerNoise<T, D>,
    /// `(B, Uᵀ B)`, row-major `rows × D` and `rank × D`.
    bias: Option<(&'a [T], &'a [T])>,
}

impl<'a, T: MatReal, const D: usize> LinearLayer<'a, T, D> {
    /// The layer `z_out = W z_in + ξ` (no bias) with `W` given by its SVD.
    pub fn new(rotations: &'a dyn Rotations<T>, noise: LayerNoise<T, D>) -> Self {
        Self {
            rotations,
            noise,
            bias: None,
        }
    }

    /// The same layer with a bias `B` (`rows × D`, row-major) and its rotation `Uᵀ B`
    /// (`rank × D`, from [`Rotations::left_t`]).
    ///
    /// Errors: [`Error::ShapeMismatch`] for wrong lengths, [`Error::NonFinite`] for a
    /// non-finite entry.
    pub fn with_bias(self, bias: &'a [T], rotated: &'a [T]) -> Result<Self, Error> {
        crate::error::length("bias", bias, self.rotations.rows() * D)?;
        crate::error::length(
            "rotated bias",
            rotated,
            self.rotations.singular_values().len() * D,
        )?;
        if !bias
            .iter()
            .chain(rotated)
            .all(|v| crate::Real::is_finite(*v))
        {
            return Err(Error::NonFinite { what: "bias" });
        }
        Ok(Self {
            bias: Some((bias, rotated)),
            ..self
        })
    }

    /// The SVD of `W`.
    pub fn rotations(&self) -> &'a dyn Rotations<T> {
        self.rotations
    }

    /// The layer's noise.
    pub fn noise(&self) -> &LayerNoise<T, D> {
        &self.noise
    }

    /// The number of rows of `W` (the output's rows).
    pub fn rows(&self) -> usize {
        self.rotations.rows()
    }

    /// The number of columns of `W` (the input's rows).
    pub fn cols(&self) -> usize {
        self.rotations.cols()
    }

    /// The rank of the thin SVD (rows of the rotated scratch buffers).
    pub fn rank(&self) -> usize {
        self.rotations.singular_values().len()
    }

    fn bias_row(&self, rotated: bool, j: usize) -> SVector<T, D> {
        match self.bias {
            None => SVector::zeros(),
            Some((b, bt)) => {
                let src = if rotated { bt } else { b };
                SVector::from_column_slice(&src[j * D..(j + 1) * D])
            }
        }
    }

    /// One pass over the singular values: rotates `r_out` into `scratch` (`Uᵀ R_out`), solves
    /// each direction, and with `f(direction, ũ, z̃, a, c, b̃) = (row, jacobian)` overwrites
    /// row `j` of `scratch` and sums the Jacobians.
    #[allow(clippy::type_complexity)]
    fn sweep(
        &self,
        sh: &Shared<T, D>,
        r_out: &[T],
        r_in_rot: &[T],
        scratch: &mut [T],
        f: impl Fn(
            &Direction<T, D>,
            SVector<T, D>,
            SVector<T, D>,
            &SVector<T, D>,
            &SVector<T, D>,
            &SVector<T, D>,
        ) -> (SVector<T, D>, SMatrix<T, D, D>),
    ) -> SMatrix<T, D, D> {
        self.rotations.left_t(r_out, D, scratch);
        let mut jac = SMatrix::<T, D, D>::zeros();
        for (j, &s) in self.rotations.singular_values().iter().enumerate() {
            let dir = sh.direction(s);
            let a = SVector::<T, D>::from_column_slice(&scratch[j * D..(j + 1) * D]);
            let c = SVector::<T, D>::from_column_slice(&r_in_rot[j * D..(j + 1) * D]);
            let b = self.bias_row(true, j);
            let (u, z) = sh.solve(&dir, &a, &c, &b);
            let (row, dj) = f(&dir, u, z, &a, &c, &b);
            scratch[j * D..(j + 1) * D].copy_from_slice(row.as_slice());
            jac += dj;
        }
        jac
    }

    /// Forward estimate `Ẑ_out = G_ℓ^+` (Algorithm 1, line 9) and the average Jacobian
    /// `⟨∂ẑ_out/∂r_out⟩` (line 10, our convention [`crate::mat::RowEstimate::jacobian`]).
    ///
    /// `output = (R_out, Γ_out)` (`rows × D`) is the message on the output (`R_ℓ^-`, `Γ_ℓ^-`),
    /// `input_rot = (Vᵀ R_in, Γ_in)` (`rank × D`) the rotated message on the input
    /// (`R_{ℓ−1}^+`, `Γ_{ℓ−1}^+`: the rotation acts on the rows, so `Γ` is unchanged),
    /// `scratch` (`rank × D`) is overwritten, `z_out` (`rows × D`) receives the estimate.
    /// Lengths are the caller's (Algorithm 1 checks them once).
    pub fn forward(
        &self,
        output: Message<'_, T, D>,
        input_rot: Message<'_, T, D>,
        scratch: &mut [T],
        z_out: &mut [T],
    ) -> SMatrix<T, D, D> {
        let (r_out, r_in_rot) = (output.r, input_rot.r);
        let sh = Shared::new(&self.noise, output.gamma, input_rot.gamma);
        let sv = self.rotations.singular_values();
        let jac = self.sweep(&sh, r_out, r_in_rot, scratch, |dir, _, z, a, _, b| {
            (z - sh.out_of(b, a), sh.jacobian_out(dir))
        });
        self.rotations.left(scratch, D, z_out);
        for i in 0..self.rows() {
            let a = SVector::<T, D>::from_column_slice(&r_out[i * D..(i + 1) * D]);
            let null = sh.out_of(&self.bias_row(false, i), &a);
            for (o, v) in z_out[i * D..(i + 1) * D].iter_mut().zip(null.iter()) {
                *o += *v;
            }
        }
        let rest = <T as Real>::from_usize(self.rows() - sv.len());
        (jac + sh.jacobian_out_null() * rest) / <T as Real>::from_usize(self.rows())
    }

    /// Backward estimate `Ẑ_in = G_ℓ^-` (Algorithm 1, line 20) and the average Jacobian
    /// `⟨∂ẑ_in/∂r_in⟩` (line 21).
    ///
    /// `output = (R_out, Γ_out)` (`rows × D`) is the message on the output (the new `R_ℓ^-`),
    /// `input = (R_in, Γ_in)` (`cols × D`) the message on the input (`R_{ℓ−1}^+`) and
    /// `r_in_rot = Vᵀ R_in` (`rank × D`, kept from [`LinearLayer::forward`]); `scratch`
    /// (`rank × D`) is overwritten, `z_in` (`cols × D`) receives the estimate.
    pub fn backward(
        &self,
        output: Message<'_, T, D>,
        input: Message<'_, T, D>,
        r_in_rot: &[T],
        scratch: &mut [T],
        z_in: &mut [T],
    ) -> SMatrix<T, D, D> {
        let (r_out, r_in, gamma_in) = (output.r, input.r, input.gamma);
        let sh = Shared::new(&self.noise, output.gamma, gamma_in);
        let sv = self.rotations.singular_values();
        let jac = self.sweep(&sh, r_out, r_in_rot, scratch, |dir, u, _, _, c, _| {
            (u - c, sh.jacobian_in(dir))
        });
        self.rotations.right(scratch, D, z_in);
        for (z, r) in z_in.iter_mut().zip(r_in) {
            *z += *r;
        }
        let rest = <T as Real>::from_usize(self.cols() - sv.len());
        (jac + SMatrix::identity() * rest) / <T as Real>::from_usize(self.cols())
    }
}
