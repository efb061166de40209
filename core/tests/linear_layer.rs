//! The linear layer of ML-Mat-VAMP (Pandit, Sahraee-Ardakan, Rangan, Schniter, Fletcher, *Matrix inference and estimation in multi-layer models*, eq. 15, solved per singular value)
//! against a brute-force solve of the whole Gaussian belief of eq. 12, written here: the
//! estimates of both ends and the average Jacobians (by finite differences of the brute
//! force, exact for a linear map up to rounding), for wide, tall and rank-deficient `W`, with
//! and without noise and bias.

use mlamp_core::mat::{Message, Precision};
use mlamp_core::ml_vamp::{DenseRotations, LayerNoise, LinearLayer, Rotations};
use nalgebra::SMatrix;

const D: usize = 2;

/// A deterministic pseudo-random stream in [−1, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// `r` orthonormal columns of length `n` (row-major `n × r`), by Gram–Schmidt twice.
fn orthonormal(n: usize, r: usize, g: &mut Lcg) -> Vec<f64> {
    let mut cols: Vec<Vec<f64>> = Vec::new();
    for _ in 0..r {
        let mut v: Vec<f64> = (0..n).map(|_| g.next()).collect();
        for _ in 0..2 {
            for c in &cols {
                let dot: f64 = v.iter().zip(c).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(c).for_each(|(a, b)| *a -= dot * b);
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        v.iter_mut().for_each(|a| *a /= norm);
        cols.push(v);
    }
    (0..n)
        .flat_map(|i| cols.iter().map(move |c| c[i]).collect::<Vec<_>>())
        .collect()
}

fn spd(g: &mut Lcg, scale: f64) -> SMatrix<f64, D, D> {
    let a = SMatrix::<f64, D, D>::from_fn(|_, _| g.next());
    (a * a.transpose() + SMatrix::identity() * 0.3) * scale
}

/// Solves `A x = b` (dense, row-major `m × m`) by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Vec<f64> {
    let m = b.len();
    for k in 0..m {
        let p = (k..m)
            .max_by(|&i, &j| a[i * m + k].abs().total_cmp(&a[j * m + k].abs()))
            .unwrap();
        for c in 0..m {
            a.swap(k * m + c, p * m + c);
        }
        b.swap(k, p);
        for i in k + 1..m {
            let f = a[i * m + k] / a[k * m + k];
            for c in k..m {
                a[i * m + c] -= f * a[k * m + c];
            }
            b[i] -= f * b[k];
        }
    }
    for k in (0..m).rev() {
        let s: f64 = (k + 1..m).map(|c| a[k * m + c] * b[c]).sum();
        b[k] = (b[k] - s) / a[k * m + k];
    }
    b
}

struct Problem {
    rows: usize,
    cols: usize,
    w: Vec<f64>,
    noise: Option<SMatrix<f64, D, D>>,
    bias: Vec<f64>,
    gamma_out: SMatrix<f64, D, D>,
    gamma_in: SMatrix<f64, D, D>,
}

impl Problem {
    /// The belief's mean `(Z_out, Z_in)` (row-major) for messages `r_out`, `r_in`, from the
    /// normal equations of `½‖Z_out − W Z_in − B‖²_N + ½‖Z_out − R_out‖²_Γout +
    /// ½‖Z_in − R_in‖²_Γin` (noiseless: `Z_out = W Z_in + B` substituted).
    fn brute(&self, r_out: &[f64], r_in: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (rows, cols) = (self.rows, self.cols);
        let wz = |z_in: &[f64]| -> Vec<f64> {
            (0..rows * D)
                .map(|ia| {
                    let (i, a) = (ia / D, ia % D);
                    (0..cols)
                        .map(|j| self.w[i * cols + j] * z_in[j * D + a])
                        .sum::<f64>()
                        + self.bias[ia]
                })
                .collect()
        };
        match self.noise {
            Some(n) => {
                let m = (rows + cols) * D;
                let mut h = vec![0.0; m * m];
                let mut rhs = vec![0.0; m];
                // Residual e = A x − b with A = [I, −W ⊗ I].
                let a_row = |i: usize, a: usize| -> Vec<(usize, f64)> {
                    let mut v = vec![(i * D + a, 1.0)];
                    for j in 0..cols {
                        v.push((rows * D + j * D + a, -self.w[i * cols + j]));
                    }
                    v
                };
                for i in 0..rows {
                    for a in 0..D {
                        for b in 0..D {
                            let (ra, rb) = (a_row(i, a), a_row(i, b));
                            for &(p, x) in &ra {
                                for &(q, y) in &rb {
                                    h[p * m + q] += x * n[(a, b)] * y;
                                }
                                rhs[p] += x * n[(a, b)] * self.bias[i * D + b];
                            }
                        }
                    }
                }
                for (off, count, g, r) in [
                    (0, rows, &self.gamma_out, r_out),
                    (rows * D, cols, &self.gamma_in, r_in),
                ] {
                    for i in 0..count {
                        for a in 0..D {
                            for b in 0..D {
                                h[(off + i * D + a) * m + off + i * D + b] += g[(a, b)];
                                rhs[off + i * D + a] += g[(a, b)] * r[i * D + b];
                            }
                        }
                    }
                }
                let x = solve(h, rhs);
                (x[..rows * D].to_vec(), x[rows * D..].to_vec())
            }
            None => {
                // Energy in Z_in: ½‖W Z_in + B − R_out‖²_Γout + ½‖Z_in − R_in‖²_Γin.
                let m = cols * D;
                let mut h = vec![0.0; m * m];
                let mut rhs = vec![0.0; m];
                for i in 0..rows {
                    for a in 0..D {
                        for b in 0..D {
                            let g = self.gamma_out[(a, b)];
                            for j in 0..cols {
                                for k in 0..cols {
                                    h[(j * D + a) * m + k * D + b] +=
                                        self.w[i * cols + j] * g * self.w[i * cols + k];
                                }
                                rhs[j * D + a] += self.w[i * cols + j]
                                    * g
                                    * (r_out[i * D + b] - self.bias[i * D + b]);
                            }
                        }
                    }
                }
                for j in 0..cols {
                    for a in 0..D {
                        for b in 0..D {
                            h[(j * D + a) * m + j * D + b] += self.gamma_in[(a, b)];
                            rhs[j * D + a] += self.gamma_in[(a, b)] * r_in[j * D + b];
                        }
                    }
                }
                let z_in = solve(h, rhs);
                (wz(&z_in), z_in)
            }
        }
    }

    /// `⟨∂ẑ/∂r⟩` over the rows of one end (`out` or in) by central differences of
    /// [`Problem::brute`].
    fn mean_jacobian(&self, r_out: &[f64], r_in: &[f64], out: bool) -> SMatrix<f64, D, D> {
        let count = if out { self.rows } else { self.cols };
        let eps = 1e-3;
        let mut jac = SMatrix::<f64, D, D>::zeros();
        for i in 0..count {
            for b in 0..D {
                let shifted = |delta: f64| {
                    let (mut ro, mut ri) = (r_out.to_vec(), r_in.to_vec());
                    if out {
                        ro[i * D + b] += delta;
                    } else {
                        ri[i * D + b] += delta;
                    }
                    let (zo, zi) = self.brute(&ro, &ri);
                    if out { zo } else { zi }
                };
                let (plus, minus) = (shifted(eps), shifted(-eps));
                for a in 0..D {
                    jac[(a, b)] += (plus[i * D + a] - minus[i * D + a]) / (2.0 * eps);
                }
            }
        }
        jac / count as f64
    }
}

fn check(rows: usize, cols: usize, zero_singular: bool, noisy: bool, biased: bool, seed: u64) {
    let mut g = Lcg(seed);
    let rank = rows.min(cols);
    let u = orthonormal(rows, rank, &mut g);
    let v = orthonormal(cols, rank, &mut g);
    let mut s: Vec<f64> = (0..rank).map(|i| 1.5 / (1.0 + i as f64)).collect();
    if zero_singular {
        s[rank - 1] = 0.0;
    }
    let w: Vec<f64> = (0..rows * cols)
        .map(|ij| {
            let (i, j) = (ij / cols, ij % cols);
            (0..rank)
                .map(|k| u[i * rank + k] * s[k] * v[j * rank + k])
                .sum()
        })
        .collect();
    let noise = noisy.then(|| spd(&mut g, 2.0));
    let bias: Vec<f64> = (0..rows * D)
        .map(|_| if biased { g.next() } else { 0.0 })
        .collect();
    let p = Problem {
        rows,
        cols,
        w,
        noise,
        bias: bias.clone(),
        gamma_out: spd(&mut g, 1.0),
        gamma_in: spd(&mut g, 0.7),
    };
    let r_out: Vec<f64> = (0..rows * D).map(|_| 2.0 * g.next()).collect();
    let r_in: Vec<f64> = (0..cols * D).map(|_| 2.0 * g.next()).collect();

    let rot = DenseRotations::new(&u, &v, &s, rows, cols).unwrap();
    let layer_noise = match noise {
        Some(n) => LayerNoise::Precision(Precision::new(n).unwrap()),
        None => LayerNoise::Noiseless,
    };
    let mut bias_rot = vec![0.0; rank * D];
    rot.left_t(&bias, D, &mut bias_rot);
    let layer = LinearLayer::<f64, D>::new(&rot, layer_noise);
    let layer = if biased {
        layer.with_bias(&bias, &bias_rot).unwrap()
    } else {
        layer
    };
    let (go, gi) = (
        Precision::new(p.gamma_out).unwrap(),
        Precision::new(p.gamma_in).unwrap(),
    );
    let mut r_in_rot = vec![0.0; rank * D];
    rot.right_t(&r_in, D, &mut r_in_rot);
    let mut scratch = vec![0.0; rank * D];
    let (mut z_out, mut z_in) = (vec![0.0; rows * D], vec![0.0; cols * D]);
    let jac_out = layer.forward(
        Message::new(&r_out, &go),
        Message::new(&r_in_rot, &gi),
        &mut scratch,
        &mut z_out,
    );
    let jac_in = layer.backward(
        Message::new(&r_out, &go),
        Message::new(&r_in, &gi),
        &r_in_rot,
        &mut scratch,
        &mut z_in,
    );

    let (bo, bi) = p.brute(&r_out, &r_in);
    let close = |a: &[f64], b: &[f64]| {
        let err = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt();
        let norm = b.iter().map(|y| y * y).sum::<f64>().sqrt();
        err <= 1e-10 * norm.max(1.0)
    };
    let tag = format!("{rows}×{cols} zero_s={zero_singular} noisy={noisy} bias={biased}");
    assert!(close(&z_out, &bo), "{tag}: z_out {z_out:?} vs {bo:?}");
    assert!(close(&z_in, &bi), "{tag}: z_in {z_in:?} vs {bi:?}");
    let (fo, fi) = (
        p.mean_jacobian(&r_out, &r_in, true),
        p.mean_jacobian(&r_out, &r_in, false),
    );
    assert!(
        (jac_out - fo).norm() <= 1e-8,
        "{tag}: ⟨J_out⟩ {jac_out} vs {fo}"
    );
    assert!(
        (jac_in - fi).norm() <= 1e-8,
        "{tag}: ⟨J_in⟩ {jac_in} vs {fi}"
    );
}

#[test]
fn the_svd_domain_solve_is_the_whole_gaussian_belief() {
    let mut seed = 1;
    for (rows, cols) in [(5, 4), (4, 6), (5, 5)] {
        for zero_singular in [false, true] {
            for noisy in [false, true] {
                for biased in [false, true] {
                    check(rows, cols, zero_singular, noisy, biased, seed);
                    seed += 1;
                }
            }
        }
    }
}

#[test]
fn average_jacobians_are_constant_in_the_messages() {
    // The belief is Gaussian: its Jacobians do not depend on R (only on Γ and s), so two
    // different messages give the same ⟨J⟩ bit for bit.
    let mut g = Lcg(99);
    let (rows, cols, rank) = (4, 3, 3);
    let u = orthonormal(rows, rank, &mut g);
    let v = orthonormal(cols, rank, &mut g);
    let s = [1.0, 0.5, 0.25];
    let rot = DenseRotations::new(&u, &v, &s, rows, cols).unwrap();
    let layer = LinearLayer::<f64, D>::new(&rot, LayerNoise::Noiseless);
    let go = Precision::new(spd(&mut g, 1.0)).unwrap();
    let gi = Precision::new(spd(&mut g, 1.0)).unwrap();
    let mut scratch = vec![0.0; rank * D];
    let mut z = vec![0.0; rows * D];
    let a: Vec<f64> = (0..rank * D).map(|_| g.next()).collect();
    let r1: Vec<f64> = (0..rows * D).map(|_| g.next()).collect();
    let r2: Vec<f64> = (0..rows * D).map(|_| 5.0 * g.next()).collect();
    let mut forward = |r: &[f64]| {
        layer.forward(
            Message::new(r, &go),
            Message::new(&a, &gi),
            &mut scratch,
            &mut z,
        )
    };
    let (j1, j2) = (forward(&r1), forward(&r2));
    assert_eq!(j1, j2);
}
