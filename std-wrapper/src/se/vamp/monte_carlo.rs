//! The Monte-Carlo half of the ML-Mat-VAMP state evolution: a non-linear factor's update
//! averaged over the row-wise model, by sampling.
//!
//! Samples come in blocks of [`BLOCK`] rows, each block with its own Xoshiro256++ stream
//! seeded from `(seed, iteration, variable, pass, block)`; blocks run in parallel and are
//! reduced in block order, so the same seed gives the same bits on any thread count. Every
//! reported average carries a standard error by the jackknife over blocks (delete one block),
//! which also covers non-linear functions of the averages (the test error of eq. 17).
//!
//! Where every random input of a row enters its outputs affinely (a Gaussian prior, linear
//! channels: the all-Gaussian network, whose estimators are affine in their messages), the
//! rows are not sampled but taken at the `2q` sigma points `±√q e_i` of the row's `q`
//! standard normal inputs ([`Rule::SigmaPoints`]), weights `1/(2q)`: that rule integrates
//! every polynomial of degree 3 exactly, so the second moments are exact and their
//! standard error is 0.

use nalgebra::{DMatrix, DVector, SMatrix, SVector};
use rand_core::{Rng as _, SeedableRng};
use rand_xoshiro::{SplitMix64, Xoshiro256PlusPlus};
use rayon::prelude::*;

use mlamp_core::mat::RowEstimate;

/// Rows per Monte-Carlo block.
pub const BLOCK: usize = 1024;

/// Which update a block belongs to: the stream key besides the seed.
#[derive(Clone, Copy, Debug)]
pub struct UpdateKey {
    /// The iteration (1-based).
    pub iteration: usize,
    /// The variable (`h_0, z_0, h_1, …` in order).
    pub variable: usize,
    /// 0 forward, 1 backward; 2 for the truth's second moments.
    pub pass: usize,
}

/// SplitMix64's first output from state `z`: a bijective mixing of 64 bits.
fn mix(z: u64) -> u64 {
    SplitMix64::seed_from_u64(z).next_u64()
}

/// The generator of one block.
fn block_rng(seed: u64, key: UpdateKey, block: usize) -> Xoshiro256PlusPlus {
    let mut h = mix(seed);
    for part in [key.iteration, key.variable, key.pass, block] {
        h = mix(h ^ part as u64);
    }
    Xoshiro256PlusPlus::seed_from_u64(h)
}

/// How the rows of an update are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Monte Carlo: `samples` rows (rounded up to whole blocks).
    MonteCarlo {
        /// Rows.
        samples: usize,
    },
    /// The `2q` sigma points of the row's `q` normal inputs (exact for affine rows).
    SigmaPoints,
}

/// The random inputs of one row: a seeded stream, or one sigma point.
pub enum Source {
    /// Independent draws.
    Random(Xoshiro256PlusPlus),
    /// Sigma point `point` of `2q`: the normal input `point / 2` is `±√q`, the others 0;
    /// uniform inputs are 1/2.
    Sigma {
        /// The point's index.
        point: usize,
        /// `√q`.
        radius: f64,
        /// Normal inputs drawn so far in this row.
        drawn: usize,
    },
}

impl Source {
    /// A standard normal input.
    pub fn normal(&mut self) -> f64 {
        match self {
            Source::Random(rng) => crate::streams::normal(rng),
            Source::Sigma {
                point,
                radius,
                drawn,
            } => {
                let i = *drawn;
                *drawn += 1;
                if i == *point / 2 {
                    if *point % 2 == 0 { *radius } else { -*radius }
                } else {
                    0.0
                }
            }
        }
    }

    /// A uniform input in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        use rand_distr::{Distribution, StandardUniform};
        match self {
            Source::Random(rng) => StandardUniform.sample(rng),
            Source::Sigma { .. } => 0.5,
        }
    }
}

/// One sampled row of a factor's update: the truth of the variable it estimates, the message
/// row into the factor, and the factor's estimate.
#[derive(Clone, Copy, Debug)]
pub struct McRow<const D: usize> {
    /// The true row `v⁰`.
    pub truth: SVector<f64, D>,
    /// The incoming message's row `r_in` (of the same variable).
    pub r_in: SVector<f64, D>,
    /// The estimate `v̂`.
    pub estimate: SVector<f64, D>,
}

/// The rows of one block and the sum of their Jacobians.
#[derive(Clone, Debug)]
pub struct McBlock<const D: usize> {
    rows: Vec<McRow<D>>,
    jacobian: SMatrix<f64, D, D>,
}

/// A row of the row-wise model: `(truth, r_in, the estimator's RowEstimate)` from the row's
/// random inputs.
pub type RowFn<'a, const D: usize> =
    dyn Fn(&mut Source) -> (SVector<f64, D>, SVector<f64, D>, RowEstimate<f64, D>) + Sync + 'a;

/// Draws the rows of one update by `rule` (see [`Rule`]; at least two blocks for Monte
/// Carlo, one block of `2q` rows for the sigma points).
pub fn sample<const D: usize>(
    rule: Rule,
    seed: u64,
    key: UpdateKey,
    row: &RowFn<'_, D>,
) -> Vec<McBlock<D>> {
    let samples = match rule {
        Rule::MonteCarlo { samples } => samples,
        Rule::SigmaPoints => return vec![sigma_block(row)],
    };
    let blocks = samples.div_ceil(BLOCK).max(2);
    (0..blocks)
        .into_par_iter()
        .map(|b| {
            let mut rng = Source::Random(block_rng(seed, key, b));
            collect_block((0..BLOCK).map(|_| row(&mut rng)))
        })
        .collect()
}

/// A block of the rows `rows` yields, with the sum of their Jacobians.
fn collect_block<const D: usize>(
    rows: impl Iterator<Item = (SVector<f64, D>, SVector<f64, D>, RowEstimate<f64, D>)>,
) -> McBlock<D> {
    let mut jacobian = SMatrix::zeros();
    let rows = rows
        .map(|(truth, r_in, est)| {
            jacobian += est.jacobian;
            McRow {
                truth,
                r_in,
                estimate: est.mean,
            }
        })
        .collect();
    McBlock { rows, jacobian }
}

/// The `2q` sigma-point rows (`q` counted by a first row at the origin).
fn sigma_block<const D: usize>(row: &RowFn<'_, D>) -> McBlock<D> {
    let mut probe = Source::Sigma {
        point: usize::MAX,
        radius: 0.0,
        drawn: 0,
    };
    row(&mut probe);
    let Source::Sigma { drawn: q, .. } = probe else {
        unreachable!("the probe is a sigma source")
    };
    let radius = (q as f64).sqrt();
    collect_block((0..2 * q).map(|point| {
        row(&mut Source::Sigma {
            point,
            radius,
            drawn: 0,
        })
    }))
}

/// `⟨J⟩` over all rows, summed in block order.
pub fn mean_jacobian<const D: usize>(blocks: &[McBlock<D>]) -> SMatrix<f64, D, D> {
    let n: usize = blocks.iter().map(|b| b.rows.len()).sum();
    blocks
        .iter()
        .fold(SMatrix::zeros(), |acc, b| acc + b.jacobian)
        / n as f64
}

/// Second moments of a factor's update: per block, the sum of `w wᵀ` with
/// `w = (v⁰, r_out − v⁰, v̂ − v⁰)` (`3d`), `r_out = v̂ + B (v̂ − r_in)` the outgoing message
/// (zero error block if the update was rejected).
#[derive(Clone, Debug)]
pub struct UpdateMoments<const D: usize> {
    sums: Vec<DMatrix<f64>>,
    counts: Vec<usize>,
}

/// The blocks of the `3d` second moments (see [`UpdateMoments`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// `v⁰`.
    Truth,
    /// `r_out − v⁰`.
    Message,
    /// `v̂ − v⁰`.
    Estimate,
}

impl Part {
    fn offset<const D: usize>(self) -> usize {
        D * match self {
            Part::Truth => 0,
            Part::Message => 1,
            Part::Estimate => 2,
        }
    }
}

impl<const D: usize> UpdateMoments<D> {
    /// The moments of `blocks` with the gain `B` of the accepted update, or none.
    pub fn new(blocks: &[McBlock<D>], gain: Option<&SMatrix<f64, D, D>>) -> Self {
        let per_block: Vec<(DMatrix<f64>, usize)> = blocks
            .par_iter()
            .map(|b| {
                let mut sum = DMatrix::zeros(3 * D, 3 * D);
                let mut w = DVector::zeros(3 * D);
                for r in &b.rows {
                    let message = match gain {
                        Some(g) => r.estimate + g * (r.estimate - r.r_in) - r.truth,
                        None => SVector::zeros(),
                    };
                    let err = r.estimate - r.truth;
                    for i in 0..D {
                        w[i] = r.truth[i];
                        w[D + i] = message[i];
                        w[2 * D + i] = err[i];
                    }
                    sum.ger(1.0, &w, &w, 1.0);
                }
                (sum, b.rows.len())
            })
            .collect();
        let (sums, counts) = per_block.into_iter().unzip();
        Self { sums, counts }
    }

    fn mean_of(&self, skip: Option<usize>) -> DMatrix<f64> {
        let mut total = DMatrix::zeros(3 * D, 3 * D);
        let mut n = 0;
        for (b, (s, c)) in self.sums.iter().zip(&self.counts).enumerate() {
            if Some(b) != skip {
                total += s;
                n += c;
            }
        }
        total / n as f64
    }

    /// The mean of `w wᵀ` over all rows.
    pub fn mean(&self) -> DMatrix<f64> {
        self.mean_of(None)
    }

    /// The `d×d` block `E[w_p w_qᵀ]` of a mean.
    pub fn block(mean: &DMatrix<f64>, p: Part, q: Part) -> SMatrix<f64, D, D> {
        let (i, j) = (p.offset::<D>(), q.offset::<D>());
        SMatrix::from_fn(|a, b| mean[(i + a, j + b)])
    }

    /// `f` of the mean and its jackknife standard error over the blocks (0 for one block:
    /// the sigma points are exact).
    pub fn estimate(&self, f: impl Fn(&DMatrix<f64>) -> f64) -> (f64, f64) {
        let value = f(&self.mean());
        let b = self.sums.len();
        if b < 2 {
            return (value, 0.0);
        }
        let leave_one_out: Vec<f64> = (0..b).map(|k| f(&self.mean_of(Some(k)))).collect();
        let centre = leave_one_out.iter().sum::<f64>() / b as f64;
        let var = leave_one_out
            .iter()
            .map(|v| (v - centre).powi(2))
            .sum::<f64>()
            * (b as f64 - 1.0)
            / b as f64;
        (value, var.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_reproducible_and_the_jackknife_matches_the_textbook_error() {
        // Rows with truth ~ N(0, 1), estimate = 0: E[(v̂ − v)²] = 1, and its standard error
        // is √(Var v²/n) = √(2/n).
        let key = UpdateKey {
            iteration: 1,
            variable: 0,
            pass: 0,
        };
        let row = |src: &mut Source| {
            let v = SVector::<f64, 1>::new(src.normal());
            (
                v,
                SVector::zeros(),
                RowEstimate {
                    mean: SVector::zeros(),
                    jacobian: SMatrix::identity(),
                },
            )
        };
        let rule = Rule::MonteCarlo {
            samples: 40 * BLOCK,
        };
        let a = sample::<1>(rule, 9, key, &row);
        let b = sample::<1>(rule, 9, key, &row);
        let m = UpdateMoments::new(&a, None);
        let m2 = UpdateMoments::new(&b, None);
        assert_eq!(m.mean(), m2.mean());
        assert_eq!(mean_jacobian(&a)[(0, 0)], 1.0);
        let (mse, se) =
            m.estimate(|k| UpdateMoments::<1>::block(k, Part::Estimate, Part::Estimate)[(0, 0)]);
        let n = (40 * BLOCK) as f64;
        assert!((mse - 1.0).abs() < 4.0 * (2.0 / n).sqrt(), "{mse}");
        assert!((se / (2.0 / n).sqrt() - 1.0).abs() < 0.35, "{se}");
    }
}
