//! Every fixed point of the ML-AMP state evolution: the iteration started from all `2^L`
//! combinations of an uninformative and an informed start per variable, the fixed points
//! reached merged when they coincide, and ranked by the replica free energy φ_RS (eq. 15 of
//! the ML-AMP paper (Manoel, Krzakala, Mézard, Zdeborová, *Multi-layer generalized linear
//! estimation*)). The Bayes-optimal branch is the one of lowest φ (eq. 16), its MSEs the
//! MMSEs (eq. 17); the all-uninformative start's is what ML-AMP reaches.
//!
//! Two starts are not enough for `L ≥ 2`: for the decoder of eq. 20 below the binary
//! perceptron's α_IT, the fixed point where `h_1` is recovered and `x` is not (x's MSE that of
//! the perceptron) is reached only from "x uninformative, h_1 informed", and it has a lower φ
//! than the all-recovered one.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::{FixedPoint, Start, StateEvolution};
use crate::algo::Progress;
use crate::error::Error;

/// The most layers of a model whose state evolution runs (its starts are codes of `L` bits).
pub const MAX_DEPTH: usize = 10;

/// The most layers whose every one of the `2^L` starts is iterated (16); deeper models start
/// from the [monotone](StartCode::search) ones only.
pub const FULL_SEARCH_DEPTH: usize = 4;

/// One start: bit `j` set means variable `h_j` (`h_0 = x`) starts informed, else
/// uninformative. Code 0 is the all-uninformative start, `2^L − 1` the all-informed one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StartCode(pub u32);

impl StartCode {
    /// The all-uninformative start (what ML-AMP is initialised with).
    pub const UNINFORMATIVE: Self = Self(0);

    /// The all-informed start of a model with `depth` layers.
    pub fn informed(depth: usize) -> Self {
        Self((1u32 << depth) - 1)
    }

    /// Every start of a model with `depth` layers, in code order.
    pub fn all(depth: usize) -> impl Iterator<Item = Self> {
        (0..1u32 << depth).map(Self)
    }

    /// The starts the state evolution iterates, in code order: all `2^L` up to
    /// [`FULL_SEARCH_DEPTH`] layers; beyond, the `2L` monotone ones — the variables from some
    /// `h_k` to the last informed and the others not (`k = 0, …, L`: what the Markov chain
    /// `x → h_1 → … → y` makes likely, the later variables being closer to the observation,
    /// e.g. the decoder's branch of h¹ recovered and x not), and their mirror images (the first
    /// `k` informed). A 10-layer model then runs 20 fixed points instead of 1024, each with
    /// its truncations' for the data-processing check (Σ 2^k more before); a branch that no
    /// monotone start reaches is missed, which is why every start is tried where it is
    /// affordable.
    pub fn search(depth: usize) -> Vec<Self> {
        if Self::search_is_complete(depth) {
            return Self::all(depth).collect();
        }
        let full = (1u32 << depth) - 1;
        let mut codes: Vec<Self> = (0..=depth)
            .flat_map(|k| {
                let first = (1u32 << k) - 1;
                [Self(first), Self(full & !first)]
            })
            .collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// Whether [`Self::search`] tries every one of the `2^L` starts (up to
    /// [`FULL_SEARCH_DEPTH`] layers); a scan of a deeper model also follows each branch from
    /// one point to the next ([`SeAnalysis::follow`]).
    pub fn search_is_complete(depth: usize) -> bool {
        depth <= FULL_SEARCH_DEPTH
    }

    /// The start of each variable, signal first.
    pub fn starts(self, depth: usize) -> Vec<Start> {
        (0..depth)
            .map(|j| {
                if self.0 >> j & 1 == 1 {
                    Start::Informed
                } else {
                    Start::Uninformative
                }
            })
            .collect()
    }

    /// One letter per variable, signal first: `U` uninformative, `I` informed (`"UI"`: x
    /// uninformative, h_1 informed).
    pub fn label(self, depth: usize) -> String {
        (0..depth)
            .map(|j| if self.0 >> j & 1 == 1 { 'I' } else { 'U' })
            .collect()
    }
}

/// The name of variable `j`: `x` for the signal, `h{j}` for the output of layer `j`
/// (numbered from 1 at the signal, as in the model files).
pub fn variable_name(j: usize) -> String {
    if j == 0 { "x".into() } else { format!("h{j}") }
}

/// Whether two MSEs of a variable of second moment `rho` are the same fixed point's: they
/// differ by at most `1e-6 ρ + 1e-3 min` (the iteration stops at a relative change of
/// 1e-8 of the MSE, far inside this).
pub fn mse_coincide(a: f64, b: f64, rho: f64) -> bool {
    (a - b).abs() <= 1e-6 * rho + 1e-3 * a.min(b)
}

/// Whether `a` is above `b` by more than the SE's accuracy: `a − b > 1e-6 ρ + 1e-3 max(a, b)`
/// (for the consistency checks: an MSE that should be at least another's).
pub fn mse_exceeds(a: f64, b: f64, rho: f64) -> bool {
    a - b > 1e-6 * rho + 1e-3 * a.max(b)
}

/// Whether a variable's MSE jumps between two fixed points (a phase transition of that
/// variable, as opposed to its continuous change over a bracket of width 1e-4 in alpha):
/// `|a − b| > 1e-3 ρ + 0.05 max(a, b)`.
pub fn mse_jumps(a: f64, b: f64, rho: f64) -> bool {
    (a - b).abs() > 1e-3 * rho + 0.05 * a.max(b)
}

/// A distinct fixed point and the starts that reach it.
#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    /// The fixed point: the all-uninformative or all-informed start's if either reaches it
    /// (the one of lower φ if both), else the lowest-φ start's among those that do.
    pub point: FixedPoint,
    /// The starts that reach it (ascending codes): which basins it has. Empty for a branch
    /// that only [following](SeAnalysis::follow) a neighbouring point's branch reaches.
    pub starts: Vec<StartCode>,
}

impl Branch {
    /// Whether `start` reaches this branch.
    pub fn reached_from(&self, start: StartCode) -> bool {
        self.starts.contains(&start)
    }

    /// Whether no start reaches it: it was found by [following](SeAnalysis::follow) a
    /// branch of a neighbouring point of a scan.
    pub fn followed(&self) -> bool {
        self.starts.is_empty()
    }

    /// Its starts' labels ([`StartCode::label`]) joined by spaces, or `"followed"`.
    pub fn label(&self, depth: usize) -> String {
        if self.followed() {
            return "followed".into();
        }
        self.starts
            .iter()
            .map(|s| s.label(depth))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The fixed points of a model's state evolution from all `2^L` starts.
#[derive(Clone, Debug, PartialEq)]
pub struct SeAnalysis {
    /// From the all-uninformative start: what ML-AMP reaches.
    pub amp: FixedPoint,
    /// From the all-informed start.
    pub informed: FixedPoint,
    /// The distinct fixed points, lowest free energy first (ties: the lower first start).
    pub branches: Vec<Branch>,
    /// Second moments ρ_j of the estimated variables.
    pub rho: Vec<f64>,
}

impl SeAnalysis {
    /// Merges the fixed points `reached` (one per start, any order) into branches: a point
    /// joins the first branch whose every variable's MSE coincides with its own
    /// ([`mse_coincide`]), and the branches are sorted by φ.
    pub fn from_fixed_points(mut reached: Vec<(StartCode, FixedPoint)>, rho: Vec<f64>) -> Self {
        reached.sort_by_key(|r| r.0);
        let depth = rho.len();
        let all_informed = StartCode::informed(depth);
        let find = |code: StartCode| {
            reached
                .iter()
                .find(|r| r.0 == code)
                .map(|r| r.1.clone())
                .expect("every start was iterated")
        };
        let (amp, informed) = (find(StartCode::UNINFORMATIVE), find(all_informed));
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, (_, p)) in reached.iter().enumerate() {
            let same = |g: &Vec<usize>| {
                let q = &reached[g[0]].1;
                (0..depth).all(|j| mse_coincide(p.mse[j], q.mse[j], rho[j]))
            };
            match groups.iter_mut().find(|g| same(g)) {
                Some(g) => g.push(i),
                None => groups.push(vec![i]),
            }
        }
        let mut branches: Vec<Branch> = groups
            .into_iter()
            .map(|g| {
                let ends: Vec<usize> = g
                    .iter()
                    .copied()
                    .filter(|&i| {
                        reached[i].0 == StartCode::UNINFORMATIVE || reached[i].0 == all_informed
                    })
                    .collect();
                let pool = if ends.is_empty() { &g } else { &ends };
                // Strictly lower φ wins; on a tie the earlier (lower-code) start.
                let best = pool
                    .iter()
                    .copied()
                    .reduce(|a, b| {
                        if reached[b].1.free_energy < reached[a].1.free_energy {
                            b
                        } else {
                            a
                        }
                    })
                    .expect("a group is never empty");
                Branch {
                    point: reached[best].1.clone(),
                    starts: g.iter().map(|&i| reached[i].0).collect(),
                }
            })
            .collect();
        branches.sort_by(|a, b| a.point.free_energy.total_cmp(&b.point.free_energy));
        Self {
            amp,
            informed,
            branches,
            rho,
        }
    }

    /// `Ok(self)` if every fixed point is finite, else [`Error::NonFinite`] naming the
    /// start: a comparison of free energies that are NaN would pick a branch at random.
    pub fn checked(self) -> Result<Self, Error> {
        let depth = self.rho.len();
        for b in &self.branches {
            if b.point.diverged {
                return Err(Error::NonFinite {
                    what: format!(
                        "the state evolution from the start {} (U uninformative, I informed, \
                         signal first; after {} iterations)",
                        b.label(depth),
                        b.point.iterations
                    ),
                    hint: "the model's scales (variances, noises, alphas) are beyond what its \
                           averages can represent; rescale them"
                        .into(),
                });
            }
        }
        Ok(self)
    }

    /// Layers of the model.
    pub fn depth(&self) -> usize {
        self.rho.len()
    }

    /// The branch of lowest free energy (eq. 16): the Bayes-optimal one.
    pub fn optimal_branch(&self) -> &Branch {
        &self.branches[0]
    }

    /// The Bayes-optimal fixed point.
    pub fn optimal(&self) -> &FixedPoint {
        &self.optimal_branch().point
    }

    /// MMSE of the signal (eq. 17).
    pub fn mmse_signal(&self) -> f64 {
        self.optimal().mse_signal()
    }

    /// Rank (0 = optimal) of the branch `start` reaches.
    pub fn rank_of(&self, start: StartCode) -> usize {
        self.branches
            .iter()
            .position(|b| b.reached_from(start))
            .expect("every start reaches a branch")
    }

    /// The branch `start` reaches.
    pub fn branch_of(&self, start: StartCode) -> &Branch {
        &self.branches[self.rank_of(start)]
    }

    /// Whether the all-uninformative and the all-informed starts reach the same branch
    /// (ML-AMP is then Bayes-optimal and recovers what the ground truth's neighbourhood does).
    pub fn branches_agree(&self) -> bool {
        self.rank_of(StartCode::UNINFORMATIVE) == self.rank_of(StartCode::informed(self.depth()))
    }

    /// The ranking as the starts of each branch, lowest φ first: what a phase transition
    /// changes (a branch appears, disappears or two swap).
    pub fn ranking(&self) -> Vec<Vec<StartCode>> {
        self.branches.iter().map(|b| b.starts.clone()).collect()
    }

    /// The ranking as text, one entry per branch: its starts' labels joined by spaces.
    pub fn ranking_labels(&self) -> Vec<String> {
        let depth = self.depth();
        self.branches.iter().map(|b| b.label(depth)).collect()
    }

    /// Adds the fixed points that following `neighbour`'s branches reaches here: the analysis
    /// of the same model at a nearby value of a scanned parameter, each of whose fixed points
    /// starts an iteration of `se` (this point's state evolution,
    /// [`StateEvolution::fixed_point_from_overlaps`]). A fixed point that coincides with none
    /// of this analysis' branches (nor with one added before it) is a new branch that no start
    /// reaches ([`Branch::followed`]); the branches are ranked again by φ. This is the
    /// continuation along a scan that finds what the starts of [`StartCode::search`] miss in a
    /// deep model: a branch reached from some start at one point of the scan is followed to
    /// the others. The fixed points run in parallel; the result does not depend on the number
    /// of threads.
    pub fn follow(mut self, se: &StateEvolution<'_>, neighbour: &SeAnalysis) -> Self {
        let depth = self.depth();
        let reached: Vec<FixedPoint> = neighbour
            .branches
            .par_iter()
            .map(|b| se.fixed_point_from_overlaps(&b.point.m))
            .collect();
        for p in reached.into_iter().filter(|p| !p.diverged) {
            let known = self
                .branches
                .iter()
                .any(|b| (0..depth).all(|j| mse_coincide(p.mse[j], b.point.mse[j], self.rho[j])));
            if !known {
                self.branches.push(Branch {
                    point: p,
                    starts: Vec::new(),
                });
            }
        }
        self.branches
            .sort_by(|a, b| a.point.free_energy.total_cmp(&b.point.free_energy));
        self
    }

    /// The variables whose MSE jumps ([`mse_jumps`]) between fixed points `a` and `b`.
    pub fn jumping_variables(&self, a: &FixedPoint, b: &FixedPoint) -> Vec<usize> {
        (0..self.depth())
            .filter(|&j| mse_jumps(a.mse[j], b.mse[j], self.rho[j]))
            .collect()
    }
}

impl StateEvolution<'_> {
    /// The fixed points from the starts of [`StartCode::search`] (all `2^L` up to
    /// [`FULL_SEARCH_DEPTH`] layers; in parallel, the result does not depend on the number
    /// of threads), merged and ranked ([`SeAnalysis::from_fixed_points`]).
    pub fn analyse(&self) -> SeAnalysis {
        self.analyse_reporting(Progress::default())
    }

    /// [`Self::analyse`], telling `progress` of every start that reaches its fixed point
    /// (done of [`StartCode::search`]'s count, in the order they finish).
    ///
    /// The all-uninformative start runs first; a start whose every overlap lies between the
    /// uninformative start's and that fixed point's (its informed variables already recovered
    /// there to within the informed start's 1e-6 ρ) is not iterated: the Bayes-optimal SE map
    /// is monotone (more information in, more out), so its iterates stay between the
    /// uninformative start's and the fixed point, and reach it. Its [`FixedPoint`] is that
    /// one, with 0 iterations. In the easy phase this is every start.
    pub fn analyse_reporting(&self, progress: Progress<'_>) -> SeAnalysis {
        self.analyse_warm(progress, None, None)
    }

    /// [`Self::analyse_reporting`], the all-uninformative start iterated from `below` and the
    /// all-informed one from `above` where given: the fixed points of those starts in the same
    /// model at a lower (`below`) and a higher (`above`) value of one layer's alpha, the
    /// neighbours of a point of a scan. The SE map is nondecreasing in every alpha (more
    /// observations, more information) and in the overlaps, so the lower neighbour's
    /// all-uninformative fixed point lies between the uninformative start and this point's
    /// (the iteration from the start increases through it), and the upper neighbour's
    /// all-informed one between this point's and the informed start: both reach the same
    /// fixed points as the starts, in fewer sweeps. A neighbour that did not converge is
    /// ignored.
    pub fn analyse_warm(
        &self,
        progress: Progress<'_>,
        below: Option<&FixedPoint>,
        above: Option<&FixedPoint>,
    ) -> SeAnalysis {
        let depth = self.depth();
        let starts = StartCode::search(depth);
        let (done, most) = (AtomicUsize::new(0), starts.len());
        let tick = || progress.tick(done.fetch_add(1, Ordering::Relaxed) + 1, most, f64::NAN);
        let usable = |p: &&FixedPoint| p.converged && !p.diverged;
        let amp = match below.filter(usable) {
            Some(p) => self.fixed_point_from_overlaps(&p.m),
            None => self.fixed_point_from(&StartCode::UNINFORMATIVE.starts(depth)),
        };
        tick();
        let all_informed = StartCode::informed(depth);
        let above = above.filter(usable);
        let reached: Vec<(StartCode, FixedPoint)> = starts
            .into_par_iter()
            .map(|c| {
                if c == StartCode::UNINFORMATIVE {
                    return (c, amp.clone());
                }
                let point = if self.start_reaches(c, &amp) {
                    FixedPoint {
                        iterations: 0,
                        ..amp.clone()
                    }
                } else if let (true, Some(p)) = (c == all_informed, above) {
                    self.fixed_point_from_overlaps(&p.m)
                } else {
                    self.fixed_point_from(&c.starts(depth))
                };
                tick();
                (c, point)
            })
            .collect();
        SeAnalysis::from_fixed_points(reached, self.rho()[..depth].to_vec())
    }

    /// Whether start `code` lies between the uninformative start and the converged fixed point
    /// `amp` of the all-uninformative one in every variable (see [`Self::analyse_reporting`]).
    fn start_reaches(&self, code: StartCode, amp: &FixedPoint) -> bool {
        amp.converged
            && code
                .starts(self.depth())
                .iter()
                .enumerate()
                .all(|(j, s)| match s {
                    Start::Uninformative => amp.m[j] >= self.uninformative_overlap(j),
                    Start::Informed => amp.m[j] >= self.informed_overlap(j),
                })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Up to four layers every combination; beyond, the 2L monotone ones, each once (the
    /// all-uninformative and all-informed starts among them), in code order.
    #[test]
    fn deep_models_search_the_monotone_starts() {
        assert_eq!(StartCode::search(3).len(), 8);
        assert_eq!(StartCode::search(4).len(), 16);
        let codes = StartCode::search(5);
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
        let labels: BTreeSet<String> = codes.iter().map(|c| c.label(5)).collect();
        let want: BTreeSet<String> = [
            "UUUUU", "IUUUU", "IIUUU", "IIIUU", "IIIIU", "UUUUI", "UUUII", "UUIII", "UIIII",
            "IIIII",
        ]
        .map(String::from)
        .into();
        assert_eq!(labels, want);
        assert_eq!(StartCode::search(10).len(), 20);
    }
}
