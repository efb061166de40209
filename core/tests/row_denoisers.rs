//! The MMSE row denoisers of `mlamp_core::mat` (`RowSparse`, `PerEntry`, both on the engine
//! `RowMixture`) against independent references written here:
//!
//! - brute-force integration of the belief `p(x) exp(−½ (x − r)ᵀ Γ (x − r))` for d = 1 and
//!   d = 2 with a non-diagonal `Γ` (point masses as explicit discrete terms, Gaussian parts by
//!   a fine Simpson rule, nested for d = 2): the normaliser, mean and covariance, and so the
//!   Jacobian `Cov Γ`;
//! - central finite differences of the mean in `r` (d = 1..4, random SPD `Γ`, random `r`,
//!   `ρ`), with the covariance `J Γ⁻¹` (nalgebra's inverse) symmetric positive semi-definite
//!   (nalgebra's Cholesky);
//! - `ρ = 1` row-sparse against the closed-form `GaussianRow`, and a diagonal `Γ` against the
//!   scalar prior's `posterior` entry by entry;
//! - the f64 evaluation for f32, and the tails (huge `‖r‖`, huge, tiny and ill-conditioned
//!   `Γ`, `ρ` near 0 and 1), where the outputs must stay finite and reach their limits.

mod common;

use common::simpson;
use mlamp_core::mat::{
    GaussianRow, MatReal, PerEntry, Precision, RowDenoiser, RowMixturePosterior, RowSparse,
};
use mlamp_core::prior::{Binary, Component, GaussBernoulli, Prior};
use mlamp_core::{Error, Real};
use nalgebra::{Matrix2, SMatrix, SVector, Vector2};
use proptest::prelude::*;
use std::f64::consts::PI;

/// A test prior with all three kinds of component: a point mass and two Gaussians of
/// different means and variances (`K = 3`, so `3^d` assignments in `PerEntry`).
struct Mix3<T>([Component<T>; 3]);

/// `(weight, mean, var)` of [`Mix3`].
const MIX3: [(f64, f64, f64); 3] = [(0.3, 0.5, 0.0), (0.45, -1.0, 0.3), (0.25, 2.0, 1.0)];

impl<T: Real> Mix3<T> {
    fn new() -> Self {
        Self(MIX3.map(|(w, m, v)| Component {
            weight: T::c(w),
            mean: T::c(m),
            var: T::c(v),
        }))
    }
}

mlamp_core::mixture_prior!(Mix3<T>, components = |p| &p.0);

type Post<T, const D: usize> = RowMixturePosterior<T, D>;

/// A denoiser under test, by its parameters.
#[derive(Clone, Copy, Debug)]
enum Spec {
    RowSparse { rho: f64, var: f64 },
    GaussBernoulli { rho: f64, mean: f64, var: f64 },
    Binary { bias: f64 },
    Mix3,
}

impl Spec {
    /// Builds the denoiser of `self` in precision `T` and hands `f` its `posterior` and its
    /// `RowDenoiser` face.
    fn with<T: MatReal, const D: usize, R>(
        self,
        f: impl FnOnce(
            &dyn Fn(&SVector<T, D>, &Precision<T, D>) -> Post<T, D>,
            &dyn RowDenoiser<T, D>,
        ) -> R,
    ) -> R {
        let c = <T as Real>::c;
        match self {
            Spec::RowSparse { rho, var } => {
                let row = RowSparse::new(c(rho), c(var)).unwrap();
                f(&|r, g| row.posterior(r, g), &row)
            }
            Spec::GaussBernoulli { rho, mean, var } => {
                let prior = GaussBernoulli::new(c(rho), c(mean), c(var)).unwrap();
                let row = PerEntry::new(&prior).unwrap();
                f(&|r, g| row.posterior(r, g), &row)
            }
            Spec::Binary { bias } => {
                let prior = Binary::new(c(bias)).unwrap();
                let row = PerEntry::new(&prior).unwrap();
                f(&|r, g| row.posterior(r, g), &row)
            }
            Spec::Mix3 => {
                let prior = Mix3::<T>::new();
                let row = PerEntry::new(&prior).unwrap();
                f(&|r, g| row.posterior(r, g), &row)
            }
        }
    }

    /// The belief of the denoiser of `self`, built in precision `T`.
    fn posterior<T: MatReal, const D: usize>(
        self,
        r: &SVector<T, D>,
        gamma: &Precision<T, D>,
    ) -> Post<T, D> {
        self.with(|post, _| post(r, gamma))
    }

    /// The mean and Jacobian through the `RowDenoiser` trait (as Algorithm 1 calls it).
    fn denoise<const D: usize>(
        self,
        r: &SVector<f64, D>,
        gamma: &Precision<f64, D>,
    ) -> (SVector<f64, D>, SMatrix<f64, D, D>) {
        let est = self.with(|_, row| row.denoise(r, gamma));
        (est.mean, est.jacobian)
    }

    /// `∫ f dp` over the prior `p` on `R^d` (d = 1 or 2), written from the parameters: the
    /// row-sparse spike as an explicit term, per-entry priors as the product of their laws.
    fn integrate(self, d: usize, f: &dyn Fn(&[f64]) -> f64) -> f64 {
        match self {
            Spec::RowSparse { rho, var } => {
                let slab = Law {
                    atoms: vec![],
                    gauss: vec![(1.0, 0.0, var)],
                };
                (1.0 - rho) * f(&vec![0.0; d]) + rho * slab.product(d, f)
            }
            Spec::GaussBernoulli { rho, mean, var } => Law {
                atoms: vec![(0.0, 1.0 - rho)],
                gauss: vec![(rho, mean, var)],
            }
            .product(d, f),
            Spec::Binary { bias } => {
                let p_plus = bias.exp() / (bias.exp() + (-bias).exp());
                Law {
                    atoms: vec![(1.0, p_plus), (-1.0, 1.0 - p_plus)],
                    gauss: vec![],
                }
                .product(d, f)
            }
            Spec::Mix3 => Law {
                atoms: vec![(MIX3[0].1, MIX3[0].0)],
                gauss: vec![MIX3[1], MIX3[2]],
            }
            .product(d, f),
        }
    }
}

/// A law on the real line: atoms `(x, p)` plus the density `Σ p N(x; m, v)` of `(p, m, v)`.
struct Law {
    atoms: Vec<(f64, f64)>,
    gauss: Vec<(f64, f64, f64)>,
}

/// Simpson's range and number of intervals for the Gaussian parts: the integrands are
/// negligible (< e^{-40}) outside, and vary on scales ≥ 0.3 ≫ the step 0.024.
const LO: f64 = -12.0;
const HI: f64 = 12.0;
const INTERVALS: usize = 1000;

impl Law {
    fn density(&self, x: f64) -> f64 {
        self.gauss
            .iter()
            .map(|&(p, m, v)| p * (-(x - m) * (x - m) / (2.0 * v)).exp() / (2.0 * PI * v).sqrt())
            .sum()
    }

    /// `∫ f dlaw`: the atoms exactly, the density by Simpson.
    fn integrate(&self, f: impl Fn(f64) -> f64) -> f64 {
        let atoms: f64 = self.atoms.iter().map(|&(x, p)| p * f(x)).sum();
        if self.gauss.is_empty() {
            atoms
        } else {
            atoms + simpson(LO, HI, INTERVALS, |x| self.density(x) * f(x))
        }
    }

    /// `∫ f d(law ⊗ … ⊗ law)` over `R^d`, d = 1 or 2.
    fn product(&self, d: usize, f: &dyn Fn(&[f64]) -> f64) -> f64 {
        match d {
            1 => self.integrate(|x| f(&[x])),
            2 => self.integrate(|x| self.integrate(|y| f(&[x, y]))),
            _ => unreachable!("brute force only in d = 1, 2"),
        }
    }
}

/// The belief's normaliser, mean and covariance by brute force.
struct Moments {
    log_z: f64,
    mean: Vec<f64>,
    cov: Vec<Vec<f64>>,
}

/// `exp(−½ (x − r)ᵀ Γ (x − r))` written out.
fn likelihood(x: &[f64], r: &[f64], gamma: &[Vec<f64>]) -> f64 {
    let mut q = 0.0;
    for (i, row) in gamma.iter().enumerate() {
        for (j, g) in row.iter().enumerate() {
            q += (x[i] - r[i]) * g * (x[j] - r[j]);
        }
    }
    (-0.5 * q).exp()
}

fn brute_force(spec: Spec, r: &[f64], gamma: &[Vec<f64>]) -> Moments {
    let d = r.len();
    let z = spec.integrate(d, &|x| likelihood(x, r, gamma));
    let mean: Vec<f64> = (0..d)
        .map(|i| spec.integrate(d, &|x| x[i] * likelihood(x, r, gamma)) / z)
        .collect();
    let cov = (0..d)
        .map(|i| {
            (0..d)
                .map(|j| {
                    spec.integrate(d, &|x| x[i] * x[j] * likelihood(x, r, gamma)) / z
                        - mean[i] * mean[j]
                })
                .collect()
        })
        .collect();
    Moments {
        log_z: z.ln(),
        mean,
        cov,
    }
}

/// `|a − b| ≤ tol (1 + |b|)`.
fn near(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

fn check_brute_force<const D: usize>(spec: Spec, r: [f64; D], gamma: [[f64; D]; D]) {
    let g: Vec<Vec<f64>> = gamma.iter().map(|row| row.to_vec()).collect();
    let expect = brute_force(spec, &r, &g);
    let gm = SMatrix::<f64, D, D>::from_fn(|i, j| gamma[i][j]);
    let post = spec.posterior(&SVector::from(r), &Precision::new(gm).unwrap());
    let tol = 1e-9;
    let ctx = format!(
        "{spec:?}, r = {r:?}: {post:?} vs {:?} {:?}",
        expect.mean, expect.cov
    );
    assert!(near(post.log_z, expect.log_z, tol), "log Z, {ctx}");
    for i in 0..D {
        assert!(near(post.mean[i], expect.mean[i], tol), "mean, {ctx}");
        for (j, &cov_ij) in expect.cov[i].iter().enumerate() {
            assert!(near(post.covariance[(i, j)], cov_ij, tol), "cov, {ctx}");
            // J = Cov Γ.
            let jac: f64 = expect.cov[i]
                .iter()
                .zip(&gamma)
                .map(|(c, row)| c * row[j])
                .sum();
            assert!(near(post.jacobian[(i, j)], jac, tol), "jacobian, {ctx}");
        }
    }
}

const SPECS: [Spec; 5] = [
    Spec::RowSparse { rho: 0.3, var: 1.5 },
    Spec::RowSparse { rho: 1.0, var: 0.7 },
    Spec::GaussBernoulli {
        rho: 0.4,
        mean: 0.8,
        var: 0.6,
    },
    Spec::Binary { bias: 0.3 },
    Spec::Mix3,
];

#[test]
fn one_dimensional_brute_force() {
    for spec in SPECS {
        for (r, g) in [(0.3, 1.7), (-2.2, 0.4), (3.5, 4.0), (0.0, 0.05)] {
            check_brute_force(spec, [r], [[g]]);
        }
    }
}

#[test]
fn two_dimensional_brute_force_with_non_diagonal_precision() {
    let gammas = [[[1.8, 0.9], [0.9, 1.2]], [[2.5, -1.4], [-1.4, 1.1]]];
    for spec in SPECS {
        for gamma in gammas {
            for r in [[0.4, -0.3], [2.5, -1.5], [-1.0, 3.0]] {
                check_brute_force(spec, r, gamma);
            }
        }
    }
}

/// `AᵀA + eps I` for the D×D matrix `A` read row-major from `a` (at least D² entries).
fn spd<const D: usize>(a: &[f64], eps: f64) -> SMatrix<f64, D, D> {
    let m = SMatrix::<f64, D, D>::from_fn(|i, j| a[i * D + j]);
    m.transpose() * m + SMatrix::<f64, D, D>::identity() * eps
}

/// Central differences of the mean, the covariance `J Γ⁻¹` symmetric PSD and equal to the
/// returned covariance, every output finite.
fn check_jacobian<const D: usize>(spec: Spec, r: &[f64], a: &[f64]) -> Result<(), TestCaseError> {
    let gm = spd::<D>(a, 0.3);
    let gamma = Precision::new(gm).unwrap();
    let r = SVector::<f64, D>::from_fn(|i, _| r[i]);
    let post = spec.posterior(&r, &gamma);
    prop_assert!(
        post.mean
            .iter()
            .chain(post.jacobian.iter())
            .all(|x| x.is_finite())
            && post.log_z.is_finite(),
        "{:?}",
        post
    );
    let (mean, jac) = spec.denoise(&r, &gamma);
    prop_assert_eq!(mean, post.mean);
    prop_assert_eq!(jac, post.jacobian);
    let h = 1e-6;
    for j in 0..D {
        let mut up = r;
        let mut down = r;
        up[j] += h;
        down[j] -= h;
        let diff = (spec.denoise(&up, &gamma).0 - spec.denoise(&down, &gamma).0) / (2.0 * h);
        for i in 0..D {
            prop_assert!(
                near(jac[(i, j)], diff[i], 1e-6),
                "{:?} J[{}, {}] = {} vs finite difference {}",
                spec,
                i,
                j,
                jac[(i, j)],
                diff[i]
            );
        }
    }
    let cov = jac * gm.try_inverse().unwrap();
    let scale = 1.0 + cov.abs().max();
    prop_assert!(
        (cov - cov.transpose()).abs().max() <= 1e-9 * scale,
        "{}",
        cov
    );
    prop_assert!(
        (cov - post.covariance).abs().max() <= 1e-9 * scale,
        "{}",
        cov
    );
    let lifted = post.covariance + SMatrix::<f64, D, D>::identity() * (1e-12 * scale);
    prop_assert!(lifted.cholesky().is_some(), "not PSD: {}", post.covariance);
    Ok(())
}

/// Each spec in precision f32 against f64, to f32 accuracy.
fn check_f32<const D: usize>(spec: Spec, r: &[f64], a: &[f64]) -> Result<(), TestCaseError> {
    let gm = spd::<D>(a, 0.5);
    let r64 = SVector::<f64, D>::from_fn(|i, _| r[i]);
    let p64 = spec.posterior(&r64, &Precision::new(gm).unwrap());
    let p32 = spec.posterior(
        &r64.map(|x| x as f32),
        &Precision::new(gm.map(|x| x as f32)).unwrap(),
    );
    let tol = 2e-4;
    for i in 0..D {
        prop_assert!(
            near(p32.mean[i] as f64, p64.mean[i], tol),
            "{:?} {:?}",
            p32,
            p64
        );
        for j in 0..D {
            prop_assert!(
                near(p32.jacobian[(i, j)] as f64, p64.jacobian[(i, j)], tol),
                "{:?} {:?}",
                p32,
                p64
            );
        }
    }
    prop_assert!(near(p32.log_z as f64, p64.log_z, tol));
    Ok(())
}

fn any_spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (0.01f64..=1.0, 0.2f64..3.0).prop_map(|(rho, var)| Spec::RowSparse { rho, var }),
        (0.01f64..=1.0, -1.0f64..1.0, 0.2f64..3.0)
            .prop_map(|(rho, mean, var)| Spec::GaussBernoulli { rho, mean, var }),
        (-1.0f64..1.0).prop_map(|bias| Spec::Binary { bias }),
        Just(Spec::Mix3),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn jacobian_is_the_derivative_and_covariance_is_psd(
        spec in any_spec(),
        r in prop::collection::vec(-3.0f64..3.0, 4),
        a in prop::collection::vec(-1.0f64..1.0, 16),
    ) {
        check_jacobian::<1>(spec, &r, &a)?;
        check_jacobian::<2>(spec, &r, &a)?;
        check_jacobian::<3>(spec, &r, &a)?;
        check_jacobian::<4>(spec, &r, &a)?;
    }

    #[test]
    fn f32_agrees_with_f64(
        spec in any_spec(),
        r in prop::collection::vec(-3.0f64..3.0, 4),
        a in prop::collection::vec(-1.0f64..1.0, 16),
    ) {
        check_f32::<1>(spec, &r, &a)?;
        check_f32::<2>(spec, &r, &a)?;
        check_f32::<3>(spec, &r, &a)?;
        check_f32::<4>(spec, &r, &a)?;
    }

    #[test]
    fn diagonal_precision_is_the_scalar_denoiser_per_entry(
        rho in 0.01f64..=1.0,
        mean in -1.0f64..1.0,
        var in 0.2f64..3.0,
        r in prop::collection::vec(-4.0f64..4.0, 3),
        g in prop::collection::vec(0.05f64..20.0, 3),
    ) {
        let prior = GaussBernoulli::new(rho, mean, var).unwrap();
        let gamma = Precision::new(SMatrix::<f64, 3, 3>::from_diagonal(&SVector::from_fn(|i, _| g[i])))
            .unwrap();
        let post = PerEntry::new(&prior).unwrap().posterior(&SVector::from_fn(|i, _| r[i]), &gamma);
        let mut log_z = 0.0;
        for j in 0..3 {
            let scalar = prior.posterior(g[j], g[j] * r[j]);
            prop_assert!(near(post.mean[j], scalar.mean, 1e-12), "{:?} {:?}", post, scalar);
            prop_assert!(near(post.covariance[(j, j)], scalar.var, 1e-12), "{:?} {:?}", post, scalar);
            prop_assert!(near(post.jacobian[(j, j)], scalar.var * g[j], 1e-12));
            for k in 0..3 {
                if k != j {
                    prop_assert!(post.covariance[(j, k)].abs() < 1e-14, "{:?}", post);
                }
            }
            // Scalar log Z(A, B) includes e^{B r − A r²/2}·e^{A r²/2}: remove the e^{γ r²/2}.
            log_z += scalar.log_z - 0.5 * g[j] * r[j] * r[j];
        }
        prop_assert!(near(post.log_z, log_z, 1e-12), "{} vs {}", post.log_z, log_z);
    }

    #[test]
    fn full_row_sparse_is_the_gaussian_row(
        var in 0.05f64..5.0,
        r in prop::collection::vec(-5.0f64..5.0, 4),
        a in prop::collection::vec(-1.0f64..1.0, 16),
    ) {
        check_gaussian::<1>(var, &r, &a)?;
        check_gaussian::<2>(var, &r, &a)?;
        check_gaussian::<3>(var, &r, &a)?;
        check_gaussian::<4>(var, &r, &a)?;
    }
}

/// `RowSparse(ρ = 1, σ²)` against `GaussianRow(0, σ² I)`.
fn check_gaussian<const D: usize>(var: f64, r: &[f64], a: &[f64]) -> Result<(), TestCaseError> {
    let gamma = Precision::new(spd::<D>(a, 0.1)).unwrap();
    let r = SVector::<f64, D>::from_fn(|i, _| r[i]);
    let got = RowSparse::new(1.0, var).unwrap().denoise(&r, &gamma);
    let gauss = GaussianRow::new(SVector::zeros(), SMatrix::identity() * var).unwrap();
    let want = gauss.denoise(&r, &gamma);
    let scale = 1.0 + want.mean.abs().max() + want.jacobian.abs().max();
    prop_assert!(
        (got.mean - want.mean).abs().max() < 1e-11 * scale,
        "{:?} {:?}",
        got,
        want
    );
    prop_assert!(
        (got.jacobian - want.jacobian).abs().max() < 1e-11 * scale,
        "{:?} {:?}",
        got,
        want
    );
    Ok(())
}

fn all_finite<T: MatReal, const D: usize>(p: &RowMixturePosterior<T, D>) -> bool {
    p.mean
        .iter()
        .chain(p.covariance.iter())
        .chain(p.jacobian.iter())
        .all(|&x| Real::is_finite(x))
        && Real::is_finite(p.log_z)
}

/// A 3×3 precision with eigenvalues `lambda` and non-trivial eigenvectors.
fn with_spectrum(lambda: [f64; 3]) -> SMatrix<f64, 3, 3> {
    let (c, s) = (0.6f64, 0.8f64);
    let q1 = SMatrix::<f64, 3, 3>::new(c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0);
    let q2 = SMatrix::<f64, 3, 3>::new(1.0, 0.0, 0.0, 0.0, c, s, 0.0, -s, c);
    let q = q1 * q2;
    q * SMatrix::from_diagonal(&SVector::from(lambda)) * q.transpose()
}

#[test]
fn huge_rows_are_slab_estimates() {
    // Far from 0 the spike's weight is exp(−½ rᵀΓr) ≪ the slab's: the Gaussian estimate,
    // with log-weights ~1e12 apart (no underflow to 0/0).
    let g = with_spectrum([0.5, 1.0, 2.0]);
    let gamma = Precision::new(g).unwrap();
    for scale in [1e3, 1e6, 1e100] {
        let r = SVector::<f64, 3>::new(1.0, -2.0, 0.5) * scale;
        let post = RowSparse::new(0.01, 2.0).unwrap().posterior(&r, &gamma);
        let want = GaussianRow::new(SVector::zeros(), SMatrix::identity() * 2.0)
            .unwrap()
            .denoise(&r, &gamma);
        assert!(all_finite(&post), "{post:?}");
        assert!(
            (post.mean - want.mean).abs().max() <= 1e-12 * scale,
            "{post:?}"
        );
        assert!(
            (post.jacobian - want.jacobian).abs().max() <= 1e-12,
            "{post:?}"
        );
        // Per entry: every entry in its slab, the Gaussian N(μ 1, v I).
        let prior = GaussBernoulli::new(0.2, 0.5, 2.0).unwrap();
        let post = PerEntry::new(&prior).unwrap().posterior(&r, &gamma);
        let want = GaussianRow::new(SVector::repeat(0.5), SMatrix::identity() * 2.0)
            .unwrap()
            .denoise(&r, &gamma);
        assert!(all_finite(&post), "{post:?}");
        assert!(
            (post.mean - want.mean).abs().max() <= 1e-12 * scale,
            "{post:?}"
        );
        assert!(
            (post.jacobian - want.jacobian).abs().max() <= 1e-12,
            "{post:?}"
        );
    }
    // Binary: far out along (1, 1, 1) the belief sits on the atom (1, 1, 1), with no spread
    // (the other atoms' weights underflow to exactly 0).
    let post = PerEntry::new(&Binary::new(0.0).unwrap())
        .unwrap()
        .posterior(&SVector::<f64, 3>::new(1e6, 1e6, 1e6), &gamma);
    assert!(all_finite(&post), "{post:?}");
    assert!(
        (post.mean - SVector::repeat(1.0)).abs().max() == 0.0,
        "{post:?}"
    );
    assert!(post.covariance.abs().max() == 0.0, "{post:?}");
    // f32: 1e4 (rᵀΓr ~ 1e9, far beyond exp's range).
    let g32 = Precision::new(g.map(|x| x as f32)).unwrap();
    let r = SVector::<f32, 3>::new(1.0, -2.0, 0.5) * 1e4;
    let post = RowSparse::new(0.01f32, 2.0).unwrap().posterior(&r, &g32);
    assert!(all_finite(&post), "{post:?}");
}

#[test]
fn extreme_precisions_reach_their_limits() {
    let r = SVector::<f64, 3>::new(0.7, -1.2, 2.0);
    let rs = RowSparse::new(0.3, 1.5).unwrap();
    let gb = GaussBernoulli::new(0.3, 0.5, 1.5).unwrap();
    let pe = PerEntry::new(&gb).unwrap();
    // Γ → ∞: x̂ → r (the slab wins, r ≠ 0), J → I, Cov → Γ⁻¹.
    let gamma = Precision::new(with_spectrum([1e10, 3e11, 1e12])).unwrap();
    for post in [rs.posterior(&r, &gamma), pe.posterior(&r, &gamma)] {
        assert!(all_finite(&post), "{post:?}");
        assert!((post.mean - r).abs().max() < 1e-9, "{post:?}");
        assert!(
            (post.jacobian - SMatrix::identity()).abs().max() < 1e-9,
            "{post:?}"
        );
        let inv = gamma.matrix().try_inverse().unwrap();
        assert!((post.covariance - inv).abs().max() < 1e-9 * inv.abs().max());
    }
    // Γ → 0: x̂ → E x (0 for row sparse, ρ μ per entry), J → Cov_prior Γ → 0.
    let gamma = Precision::new(with_spectrum([1e-12, 3e-12, 1e-11])).unwrap();
    let post = rs.posterior(&r, &gamma);
    assert!(
        all_finite(&post) && post.mean.abs().max() < 1e-10,
        "{post:?}"
    );
    assert!(post.jacobian.abs().max() < 1e-10, "{post:?}");
    assert!((post.covariance - SMatrix::identity() * 0.45).abs().max() < 1e-10);
    let post = pe.posterior(&r, &gamma);
    assert!(all_finite(&post), "{post:?}");
    assert!(
        (post.mean - SVector::repeat(0.15)).abs().max() < 1e-10,
        "{post:?}"
    );
    // Prior variance per entry: ρ (v + μ²) − (ρ μ)² = 0.3·1.75 − 0.0225.
    let v = 0.3 * 1.75 - 0.0225;
    assert!((post.covariance - SMatrix::identity() * v).abs().max() < 1e-10);
    // Ill-conditioned (1e-8 … 1e8) in f64 and (1e-3 … 1e3) in f32: finite, Cov PSD.
    let gamma = Precision::new(with_spectrum([1e-8, 1.0, 1e8])).unwrap();
    for post in [rs.posterior(&r, &gamma), pe.posterior(&r, &gamma)] {
        assert!(all_finite(&post), "{post:?}");
        let c = post.covariance;
        let lifted = c + SMatrix::identity() * (1e-12 * c.abs().max());
        assert!(lifted.cholesky().is_some(), "{c}");
    }
    let g32 = Precision::new(with_spectrum([1e-3, 1.0, 1e3]).map(|x| x as f32)).unwrap();
    let r32 = r.map(|x| x as f32);
    let rs32 = RowSparse::new(0.3f32, 1.5).unwrap();
    let gb32 = GaussBernoulli::new(0.3f32, 0.5, 1.5).unwrap();
    let pe32 = PerEntry::new(&gb32).unwrap();
    for post in [rs32.posterior(&r32, &g32), pe32.posterior(&r32, &g32)] {
        assert!(all_finite(&post), "{post:?}");
    }
    // Beyond f32's precision (condition 1e16): `I + σ² Γ` loses definiteness in rounding and
    // takes the eigenvalue floor; the outputs stay finite and the covariance PSD.
    let m32 = with_spectrum([1e-8, 1.0, 1e8]).map(|x| x as f32);
    let (g32, _) = Precision::with_floor(m32, 1e-8).unwrap();
    for post in [rs32.posterior(&r32, &g32), pe32.posterior(&r32, &g32)] {
        assert!(all_finite(&post), "{post:?}");
        let c = post.covariance;
        let lifted = c + SMatrix::identity() * (1e-6 * c.abs().max());
        assert!(lifted.cholesky().is_some(), "{c}");
    }
}

#[test]
fn rho_near_zero_and_one() {
    let gamma = Precision::new(with_spectrum([0.5, 1.0, 2.0])).unwrap();
    let r = SVector::<f64, 3>::new(1.5, -0.5, 1.0);
    let gauss = GaussianRow::new(SVector::zeros(), SMatrix::identity() * 1.2)
        .unwrap()
        .denoise(&r, &gamma);
    // ρ → 0: the zero row, with a vanishing Jacobian.
    for rho in [1e-300, 5e-324] {
        for post in [
            RowSparse::new(rho, 1.2).unwrap().posterior(&r, &gamma),
            PerEntry::new(&GaussBernoulli::new(rho, 0.0, 1.2).unwrap())
                .unwrap()
                .posterior(&r, &gamma),
        ] {
            assert!(all_finite(&post), "{post:?}");
            assert!(post.mean.abs().max() < 1e-290, "{post:?}");
            assert!(post.jacobian.abs().max() < 1e-290, "{post:?}");
        }
    }
    // ρ → 1: the Gaussian row.
    for rho in [1.0 - f64::EPSILON / 2.0, 1.0] {
        for post in [
            RowSparse::new(rho, 1.2).unwrap().posterior(&r, &gamma),
            PerEntry::new(&GaussBernoulli::new(rho, 0.0, 1.2).unwrap())
                .unwrap()
                .posterior(&r, &gamma),
        ] {
            assert!(all_finite(&post), "{post:?}");
            assert!((post.mean - gauss.mean).abs().max() < 1e-14, "{post:?}");
            assert!(
                (post.jacobian - gauss.jacobian).abs().max() < 1e-14,
                "{post:?}"
            );
        }
    }
    // f32, ρ at the smallest normal and at 1 − ε/2.
    let g32 = Precision::new(gamma.matrix().map(|x| x as f32)).unwrap();
    for rho in [f32::MIN_POSITIVE, 1.0 - f32::EPSILON / 2.0] {
        let post = RowSparse::new(rho, 1.2)
            .unwrap()
            .posterior(&r.map(|x| x as f32), &g32);
        assert!(all_finite(&post), "{post:?}");
    }
}

#[test]
fn row_sparse_sampling() {
    use mlamp_core::prior::{Draw, RowSparsePrior};
    // A row from one uniform `u` then d normals: the zero row if u < 1 − ρ, else σ ξ.
    let draw_row = |p: &RowSparsePrior<f64>, u: f64, xi: [f64; 3]| {
        let mut normals = xi.into_iter();
        let mut out = [f64::NAN; 3];
        p.sample_row(
            &mut |k| match k {
                Draw::Uniform => u,
                Draw::Normal => normals.next().expect("three normals"),
            },
            &mut out,
        );
        assert!(normals.next().is_none(), "every normal used");
        out
    };
    let prior = RowSparsePrior::new(0.25, 4.0).unwrap();
    let xi = [0.3, -1.1, 2.0];
    let scaled = xi.map(|v| v * 2.0);
    assert_eq!(draw_row(&prior, 0.0, xi), [0.0; 3]);
    assert_eq!(draw_row(&prior, 0.7499, xi), [0.0; 3]);
    assert_eq!(draw_row(&prior, 0.75, xi), scaled);
    assert_eq!(draw_row(&prior, 0.99, xi), scaled);
    // d = 1: the draws of the scalar Gauss–Bernoulli prior, bit for bit.
    let scalar = GaussBernoulli::new(0.25, 0.0, 4.0).unwrap();
    for k in 0..100 {
        let u = k as f64 / 100.0;
        let xi = (k as f64 * 0.37).sin() * 2.0;
        let mut out = [0.0];
        prior.sample_row(&mut |d| if d == Draw::Uniform { u } else { xi }, &mut out);
        assert_eq!(out[0].to_bits(), scalar.sample(u, xi).to_bits());
    }
    // ρ = 1: never the zero row.
    let full = RowSparsePrior::new(1.0, 4.0).unwrap();
    assert_eq!(draw_row(&full, 0.0, xi), scaled);
    let rs = RowSparse::<f64, 3>::new(0.25, 4.0).unwrap();
    assert_eq!((rs.rho(), rs.var()), (0.25, 4.0));
}

#[test]
fn constructor_checks() {
    let rho_err = Err(Error::InvalidParameter {
        name: "rho",
        requirement: "in (0, 1]",
    });
    for rho in [0.0, -0.1, 1.0 + 1e-12, f64::NAN, f64::INFINITY] {
        assert_eq!(RowSparse::<f64, 2>::new(rho, 1.0), rho_err);
    }
    for var in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            RowSparse::<f64, 2>::new(0.5, var),
            Err(Error::InvalidParameter { name: "var", .. })
        ));
    }
    let comp = |weight, mean, var| Component { weight, mean, var };
    assert_eq!(
        PerEntry::<f64, 2>::from_components(&[]),
        Err(Error::EmptyModel)
    );
    let bad = [
        ([comp(-0.1, 0.0, 1.0), comp(1.1, 0.0, 1.0)], "weight"),
        ([comp(0.5, 0.0, -1.0), comp(0.5, 0.0, 1.0)], "var"),
        ([comp(0.5, 0.0, f64::INFINITY), comp(0.5, 0.0, 1.0)], "var"),
        ([comp(f64::NAN, 0.0, 1.0), comp(0.5, 0.0, 1.0)], "weight"),
    ];
    for (comps, name) in &bad {
        assert_eq!(
            PerEntry::<f64, 2>::from_components(comps),
            Err(Error::InvalidParameter {
                name,
                requirement: "finite and >= 0",
            })
        );
    }
    assert_eq!(
        PerEntry::<f64, 2>::from_components(&[comp(0.5, f64::NAN, 1.0)]),
        Err(Error::NonFinite {
            what: "component mean"
        })
    );
    assert_eq!(
        PerEntry::<f64, 2>::from_components(&[comp(0.0, 0.0, 1.0)]),
        Err(Error::InvalidParameter {
            name: "weight",
            requirement: "at least one > 0",
        })
    );
    let ok = [comp(0.0, 1.0, 0.0), comp(1.0, 0.0, 1.0)];
    let pe = PerEntry::<f64, 2>::from_components(&ok).unwrap();
    assert_eq!(pe.components(), &ok);
    // A zero-weight component is skipped: the Gaussian N(0, I).
    let gamma = Precision::new(Matrix2::new(2.0, 0.5, 0.5, 1.0)).unwrap();
    let r = Vector2::new(1.0, -1.0);
    let want = GaussianRow::new(Vector2::zeros(), Matrix2::identity())
        .unwrap()
        .denoise(&r, &gamma);
    let got = pe.denoise(&r, &gamma);
    assert!((got.mean - want.mean).abs().max() < 1e-15);
    assert!((got.jacobian - want.jacobian).abs().max() < 1e-15);
}
