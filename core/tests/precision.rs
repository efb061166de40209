//! `mlamp_core::mat` (ML-Mat-VAMP's precisions and the Gaussian row denoiser) against slow,
//! obvious references written here: Gaussian elimination with partial pivoting, cofactor
//! determinants, matrices with eigenvalues known by construction (`Q Λ Qᵀ` with `Q` a product
//! of plane rotations), central finite differences, the `d = 1` closed form, and the f64
//! evaluation for f32. Random SPD matrices are `AᵀA + εI`, for d = 1, 2, 3, 4.

use mlamp_core::Error;
use mlamp_core::mat::{GaussianRow, Precision, RowDenoiser, symmetric_eigen};
use nalgebra::{SMatrix, SVector};
use proptest::prelude::*;

type Dense = Vec<Vec<f64>>;

/// `AᵀA + εI` for the d×d matrix `A` read row-major from `a`.
fn spd(a: &[f64], d: usize, eps: f64) -> Dense {
    (0..d)
        .map(|i| {
            (0..d)
                .map(|j| {
                    let ata: f64 = (0..d).map(|k| a[k * d + i] * a[k * d + j]).sum();
                    ata + if i == j { eps } else { 0.0 }
                })
                .collect()
        })
        .collect()
}

fn matmul(a: &Dense, b: &Dense) -> Dense {
    let (n, m, p) = (a.len(), b.len(), b[0].len());
    (0..n)
        .map(|i| {
            (0..p)
                .map(|j| (0..m).map(|k| a[i][k] * b[k][j]).sum())
                .collect()
        })
        .collect()
}

fn transpose(a: &Dense) -> Dense {
    (0..a[0].len())
        .map(|j| (0..a.len()).map(|i| a[i][j]).collect())
        .collect()
}

fn matvec(a: &Dense, x: &[f64]) -> Vec<f64> {
    a.iter()
        .map(|row| row.iter().zip(x).map(|(r, x)| r * x).sum())
        .collect()
}

fn identity(d: usize) -> Dense {
    (0..d)
        .map(|i| (0..d).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect()
}

/// Solves `A x = b` by Gaussian elimination with partial pivoting.
fn gauss_solve(a: &Dense, b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut m: Dense = a
        .iter()
        .zip(b)
        .map(|(row, &bi)| {
            let mut r = row.clone();
            r.push(bi);
            r
        })
        .collect();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))
            .unwrap();
        m.swap(col, piv);
        let pivot_row = m[col].clone();
        for row in m.iter_mut().skip(col + 1) {
            let f = row[col] / pivot_row[col];
            for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                *x -= f * p;
            }
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| m[i][k] * x[k]).sum();
        x[i] = (m[i][n] - s) / m[i][i];
    }
    x
}

/// det A by cofactor expansion along the first row.
fn det_cofactor(a: &Dense) -> f64 {
    let n = a.len();
    if n == 1 {
        return a[0][0];
    }
    (0..n)
        .map(|j| {
            let minor: Dense = a[1..]
                .iter()
                .map(|row| {
                    row.iter()
                        .enumerate()
                        .filter(|&(k, _)| k != j)
                        .map(|(_, &v)| v)
                        .collect()
                })
                .collect();
            let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
            sign * a[0][j] * det_cofactor(&minor)
        })
        .sum()
}

/// The orthogonal `Q = Π_{p<q} R_pq(θ_pq)` (plane rotations by the given angles).
fn rotation(d: usize, angles: &[f64]) -> Dense {
    let mut q = identity(d);
    let mut n = 0;
    for p in 0..d {
        for r in p + 1..d {
            let (c, s) = (angles[n].cos(), angles[n].sin());
            n += 1;
            let mut g = identity(d);
            g[p][p] = c;
            g[r][r] = c;
            g[p][r] = -s;
            g[r][p] = s;
            q = matmul(&q, &g);
        }
    }
    q
}

/// `Q diag(λ) Qᵀ`.
fn with_eigenvalues(q: &Dense, lambda: &[f64]) -> Dense {
    let d = lambda.len();
    let ql: Dense = (0..d)
        .map(|i| (0..d).map(|j| q[i][j] * lambda[j]).collect())
        .collect();
    matmul(&ql, &transpose(q))
}

fn to_mat<const D: usize>(a: &Dense) -> SMatrix<f64, D, D> {
    SMatrix::from_fn(|i, j| a[i][j])
}

fn to_vec<const D: usize>(x: &[f64]) -> SVector<f64, D> {
    SVector::from_fn(|i, _| x[i])
}

fn from_mat<const R: usize, const C: usize>(m: &SMatrix<f64, R, C>) -> Dense {
    (0..R)
        .map(|i| (0..C).map(|j| m[(i, j)]).collect())
        .collect()
}

/// `|a − b| ≤ tol (1 + |b|)` entrywise, with a message.
fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        prop_assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{}: {:?} vs {:?}",
            what,
            a,
            b
        );
    }
    Ok(())
}

fn flat(a: &Dense) -> Vec<f64> {
    a.concat()
}

fn check_linear_algebra<const D: usize>(a: &[f64], b: &[f64]) -> Result<(), TestCaseError> {
    let g = spd(a, D, 0.5);
    let p = Precision::new(to_mat::<D>(&g)).unwrap();

    // Solve against Gaussian elimination.
    let x = p.solve(&to_vec::<D>(b));
    let expect = gauss_solve(&g, &b[..D]);
    assert_close(x.as_slice(), &expect, 1e-12, "solve")?;

    // Multiple right-hand sides: Γ⁻¹ Γ = I.
    let ginv_g = p.solve_matrix(p.matrix());
    assert_close(
        &flat(&from_mat(&ginv_g)),
        &flat(&identity(D)),
        1e-12,
        "solve_matrix",
    )?;

    // Inverse: Γ⁻¹ Γ = I, and exactly symmetric.
    let inv = from_mat(&p.inverse());
    assert_close(
        &flat(&matmul(&inv, &g)),
        &flat(&identity(D)),
        1e-12,
        "inverse",
    )?;
    prop_assert_eq!(inv.clone(), transpose(&inv));

    // log det: against the Cholesky diagonal and against cofactors.
    let l = p.cholesky_factor();
    let diag_prod: f64 = (0..D).map(|i| l[(i, i)] * l[(i, i)]).product();
    prop_assert!((p.log_det() - diag_prod.ln()).abs() < 1e-12);
    let det = det_cofactor(&g);
    prop_assert!(det > 0.0);
    prop_assert!(
        (p.log_det() - det.ln()).abs() < 1e-11,
        "{} vs {}",
        p.log_det(),
        det.ln()
    );

    // The factor: lower triangular, positive diagonal, L Lᵀ = Γ.
    let ld = from_mat(l);
    for (i, row) in ld.iter().enumerate() {
        prop_assert!(row[i] > 0.0);
        prop_assert!(row[i + 1..].iter().all(|&x| x == 0.0));
    }
    assert_close(
        &flat(&matmul(&ld, &transpose(&ld))),
        &flat(&g),
        1e-12,
        "L Lᵀ",
    )?;

    // Quadratic form against the double sum.
    let q: f64 = (0..D)
        .flat_map(|i| (0..D).map(move |j| (i, j)))
        .map(|(i, j)| b[i] * g[i][j] * b[j])
        .sum();
    prop_assert!((p.quad_form(&to_vec::<D>(b)) - q).abs() <= 1e-12 * (1.0 + q));

    // From the covariance Γ⁻¹ (the slow inverse): the precision is Γ again.
    let cov: Dense = transpose(
        &(0..D)
            .map(|j| gauss_solve(&g, &identity(D)[j]))
            .collect::<Dense>(),
    );
    let back = Precision::from_covariance(to_mat::<D>(&cov)).unwrap();
    assert_close(
        &flat(&from_mat(back.matrix())),
        &flat(&g),
        1e-11,
        "from_covariance",
    )?;

    // Sum of precisions: the entrywise sum, with a valid factor.
    let h = spd(&a[D * D..], D, 0.25);
    let s = p.add(&Precision::new(to_mat::<D>(&h)).unwrap());
    let sum: Dense = (0..D)
        .map(|i| (0..D).map(|j| g[i][j] + h[i][j]).collect())
        .collect();
    assert_close(&flat(&from_mat(s.matrix())), &flat(&sum), 1e-15, "add")?;
    let ls = from_mat(s.cholesky_factor());
    assert_close(
        &flat(&matmul(&ls, &transpose(&ls))),
        &flat(&sum),
        1e-12,
        "add: L Lᵀ",
    )?;
    prop_assert!((s.log_det() - det_cofactor(&sum).ln()).abs() < 1e-11);

    // `new` symmetrises: M and (M + Mᵀ)/2 give the same precision.
    let mut skew = g.clone();
    if D > 1 {
        skew[0][D - 1] += 0.3;
        skew[D - 1][0] -= 0.3;
    }
    let from_skew = Precision::new(to_mat::<D>(&skew)).unwrap();
    let m = from_mat(from_skew.matrix());
    prop_assert_eq!(m.clone(), transpose(&m));
    assert_close(&flat(&m), &flat(&g), 1e-15, "new symmetrises")?;
    Ok(())
}

fn check_rejects<const D: usize>(
    angles: &[f64],
    lambda: &[f64],
    nan_at: usize,
) -> Result<(), TestCaseError> {
    // One eigenvalue negative: indefinite.
    let mut lam = lambda[..D].to_vec();
    lam[nan_at % D] = -lam[nan_at % D];
    let m = with_eigenvalues(&rotation(D, angles), &lam);
    prop_assert_eq!(
        Precision::new(to_mat::<D>(&m)),
        Err(Error::NotPositiveDefinite {
            what: "precision matrix"
        })
    );
    let rejected = matches!(
        Precision::from_covariance(to_mat::<D>(&m)),
        Err(Error::NotPositiveDefinite { .. })
    );
    prop_assert!(rejected, "from_covariance accepted an indefinite matrix");
    // A NaN anywhere.
    let mut m = to_mat::<D>(&with_eigenvalues(&rotation(D, angles), &lambda[..D]));
    prop_assert!(Precision::new(m).is_ok());
    m[(nan_at % D, (nan_at / D) % D)] = f64::NAN;
    prop_assert_eq!(
        Precision::new(m),
        Err(Error::NonFinite {
            what: "precision matrix"
        })
    );
    let rejected = matches!(Precision::with_floor(m, 1.0), Err(Error::NonFinite { .. }));
    prop_assert!(rejected, "with_floor accepted a NaN");
    Ok(())
}

fn check_floor<const D: usize>(
    angles: &[f64],
    lambda: &[f64],
    floor: f64,
) -> Result<(), TestCaseError> {
    let lam = &lambda[..D];
    let q = rotation(D, angles);
    let m = with_eigenvalues(&q, lam);
    let expect_count = lam.iter().filter(|&&l| l < floor).count();
    let raised: Vec<f64> = lam.iter().map(|&l| l.max(floor)).collect();
    let expect = with_eigenvalues(&q, &raised);

    let (p, count) = Precision::with_floor(to_mat::<D>(&m), floor).unwrap();
    prop_assert_eq!(count, expect_count);
    assert_close(
        &flat(&from_mat(p.matrix())),
        &flat(&expect),
        1e-12,
        "floored matrix",
    )?;
    let l = from_mat(p.cholesky_factor());
    assert_close(
        &flat(&matmul(&l, &transpose(&l))),
        &flat(&expect),
        1e-12,
        "floored L Lᵀ",
    )?;
    let det: f64 = raised.iter().product();
    prop_assert!((p.log_det() - det.ln()).abs() < 1e-11);

    // The eigenvalues themselves.
    let (vals, _) = symmetric_eigen(&to_mat::<D>(&m));
    let mut sorted = lam.to_vec();
    sorted.sort_by(f64::total_cmp);
    assert_close(vals.as_slice(), &sorted, 1e-12, "eigenvalues")?;

    // `new` agrees with the count: it fails exactly when some eigenvalue is ≤ 0.
    prop_assert_eq!(
        Precision::new(to_mat::<D>(&m)).is_ok(),
        lam.iter().all(|&l| l > 0.0)
    );
    Ok(())
}

/// The Gaussian row denoiser in precision `T`, widened to f64: (mean, jacobian).
fn gaussian_denoise<T, const D: usize>(
    mu: &[f64],
    cov: &Dense,
    gamma: &Dense,
    r: &[f64],
) -> (Vec<f64>, Dense)
where
    T: mlamp_core::mat::MatReal,
{
    let c = |x: f64| <T as mlamp_core::Real>::c(x);
    let prior = GaussianRow::<T, D>::new(
        SVector::from_fn(|i, _| c(mu[i])),
        SMatrix::from_fn(|i, j| c(cov[i][j])),
    )
    .unwrap();
    let g = Precision::new(SMatrix::from_fn(|i, j| c(gamma[i][j]))).unwrap();
    let est = prior.denoise(&SVector::from_fn(|i, _| c(r[i])), &g);
    let w = |x: T| mlamp_core::Real::to_f64(x);
    (
        est.mean.iter().map(|&x| w(x)).collect(),
        (0..D)
            .map(|i| (0..D).map(|j| w(est.jacobian[(i, j)])).collect())
            .collect(),
    )
}

fn check_gaussian_row<const D: usize>(
    a: &[f64],
    mu: &[f64],
    r: &[f64],
) -> Result<(), TestCaseError> {
    let cov = spd(a, D, 0.5);
    let gamma = spd(&a[D * D..], D, 0.5);
    let (mean, jac) = gaussian_denoise::<f64, D>(mu, &cov, &gamma, r);

    // The mean solves (Σ⁻¹ + Γ) x̂ = Σ⁻¹ μ + Γ r, i.e. (I + ΣΓ) x̂ = μ + ΣΓ r.
    let sg = matmul(&cov, &gamma);
    let lhs: Vec<f64> = matvec(&sg, &mean)
        .iter()
        .zip(&mean)
        .map(|(a, b)| a + b)
        .collect();
    let rhs: Vec<f64> = matvec(&sg, &r[..D])
        .iter()
        .zip(mu)
        .map(|(a, b)| a + b)
        .collect();
    assert_close(&lhs, &rhs, 1e-12, "posterior mean equation")?;

    // The Jacobian against central finite differences of the mean in r.
    let h = 1e-4;
    for j in 0..D {
        let mut rp = r[..D].to_vec();
        let mut rm = r[..D].to_vec();
        rp[j] += h;
        rm[j] -= h;
        let (mp, _) = gaussian_denoise::<f64, D>(mu, &cov, &gamma, &rp);
        let (mm, _) = gaussian_denoise::<f64, D>(mu, &cov, &gamma, &rm);
        for i in 0..D {
            let fd = (mp[i] - mm[i]) / (2.0 * h);
            prop_assert!(
                (jac[i][j] - fd).abs() < 1e-8,
                "J[{},{}] = {} vs finite difference {}",
                i,
                j,
                jac[i][j],
                fd
            );
        }
    }

    // f32 agrees with f64.
    let (mean32, jac32) = gaussian_denoise::<f32, D>(mu, &cov, &gamma, r);
    assert_close(&mean32, &mean, 2e-4, "f32 mean")?;
    assert_close(&flat(&jac32), &flat(&jac), 2e-4, "f32 jacobian")?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn linear_algebra_against_slow_references(
        a in prop::collection::vec(-1.0f64..1.0, 32),
        b in prop::collection::vec(-3.0f64..3.0, 4),
    ) {
        check_linear_algebra::<1>(&a, &b)?;
        check_linear_algebra::<2>(&a, &b)?;
        check_linear_algebra::<3>(&a, &b)?;
        check_linear_algebra::<4>(&a, &b)?;
    }

    #[test]
    fn indefinite_and_nan_are_rejected(
        angles in prop::collection::vec(-3.2f64..3.2, 6),
        lambda in prop::collection::vec(0.1f64..5.0, 4),
        nan_at in 0usize..16,
    ) {
        check_rejects::<1>(&angles, &lambda, nan_at)?;
        check_rejects::<2>(&angles, &lambda, nan_at)?;
        check_rejects::<3>(&angles, &lambda, nan_at)?;
        check_rejects::<4>(&angles, &lambda, nan_at)?;
    }

    #[test]
    fn floor_counts_clipped_eigenvalues(
        angles in prop::collection::vec(-3.2f64..3.2, 6),
        lambda in prop::collection::vec(-3.0f64..3.0, 4),
        floor in 0.05f64..1.5,
    ) {
        // Keep every eigenvalue clear of the floor, so the count is unambiguous.
        prop_assume!(lambda.iter().all(|&l| (l - floor).abs() > 1e-6));
        check_floor::<1>(&angles, &lambda, floor)?;
        check_floor::<2>(&angles, &lambda, floor)?;
        check_floor::<3>(&angles, &lambda, floor)?;
        check_floor::<4>(&angles, &lambda, floor)?;
    }

    #[test]
    fn gaussian_row_denoiser(
        a in prop::collection::vec(-1.0f64..1.0, 32),
        mu in prop::collection::vec(-2.0f64..2.0, 4),
        r in prop::collection::vec(-4.0f64..4.0, 4),
    ) {
        check_gaussian_row::<1>(&a, &mu, &r)?;
        check_gaussian_row::<2>(&a, &mu, &r)?;
        check_gaussian_row::<3>(&a, &mu, &r)?;
        check_gaussian_row::<4>(&a, &mu, &r)?;
    }

    #[test]
    fn gaussian_row_one_dimensional_closed_form(
        mu in -3.0f64..3.0,
        var in 0.01f64..10.0,
        gamma in 0.01f64..100.0,
        r in -5.0f64..5.0,
    ) {
        let expect_mean = (mu / var + gamma * r) / (1.0 / var + gamma);
        let expect_jac = gamma / (1.0 / var + gamma);
        let (mean, jac) =
            gaussian_denoise::<f64, 1>(&[mu], &vec![vec![var]], &vec![vec![gamma]], &[r]);
        prop_assert!((mean[0] - expect_mean).abs() <= 1e-13 * (1.0 + expect_mean.abs()));
        prop_assert!((jac[0][0] - expect_jac).abs() <= 1e-13);
        let (mean32, jac32) =
            gaussian_denoise::<f32, 1>(&[mu], &vec![vec![var]], &vec![vec![gamma]], &[r]);
        prop_assert!((mean32[0] - expect_mean).abs() <= 1e-5 * (1.0 + expect_mean.abs()));
        prop_assert!((jac32[0][0] - expect_jac).abs() <= 1e-5);
    }
}

/// Panics unless every entry of `m` is within `tol` of `expect`.
fn assert_max_diff<const D: usize>(m: &SMatrix<f64, D, D>, expect: &Dense, tol: f64) {
    let diff = flat(&from_mat(m))
        .iter()
        .zip(flat(expect))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < tol, "{m} vs {expect:?}");
}

#[test]
fn floor_on_a_rotated_matrix_by_hand() {
    // d = 2, rotation by 30°, eigenvalues −0.5 and 2: one clipped to the floor 0.25.
    let q = rotation(2, &[std::f64::consts::PI / 6.0]);
    let m = with_eigenvalues(&q, &[-0.5, 2.0]);
    let (p, count) = Precision::with_floor(to_mat::<2>(&m), 0.25).unwrap();
    assert_eq!(count, 1);
    let expect = with_eigenvalues(&q, &[0.25, 2.0]);
    assert_max_diff(p.matrix(), &expect, 1e-14);
    // Repeated eigenvalues: 2, 2, −1, −1 with a floor of 0.5.
    let q = rotation(4, &[0.9, 0.2, -2.5, 1.3, 0.6, -0.8]);
    let m = with_eigenvalues(&q, &[2.0, -1.0, 2.0, -1.0]);
    let (p, count) = Precision::with_floor(to_mat::<4>(&m), 0.5).unwrap();
    assert_eq!(count, 2);
    let expect = with_eigenvalues(&q, &[2.0, 0.5, 2.0, 0.5]);
    assert_max_diff(p.matrix(), &expect, 1e-13);
    // All four below a floor of 10 on a 4×4.
    let q = rotation(4, &[0.3, -1.1, 2.0, 0.7, -0.4, 1.6]);
    let m = with_eigenvalues(&q, &[1.0, -2.0, 3.0, 0.0]);
    let (p, count) = Precision::with_floor(to_mat::<4>(&m), 10.0).unwrap();
    assert_eq!(count, 4);
    let ten: Dense = identity(4)
        .iter()
        .map(|row| row.iter().map(|x| 10.0 * x).collect())
        .collect();
    assert_max_diff(p.matrix(), &ten, 1e-13);
}
