//! Consistency checks that any correct state evolution passes, whatever the model: each
//! returns a warning per violation (an empty list when all hold), for `mlamp se` and
//! `mlamp phase` to report at run time and for the tests to assert.
//! - The algorithmic MSE is never below the MMSE: ML-AMP is one estimator of each variable,
//!   the MMSE the best.
//! - Data processing: `x → h_1 → … → h_L = y` is a Markov chain, so the MMSE of `h_j` from
//!   `y` is at least its MMSE from `h_k` (`j < k < L`): the MMSE of the model truncated to
//!   its first `k` layers (the later ones observed noiselessly).
//! - Along a scan the MMSE is non-increasing in every alpha (more observations) and
//!   non-decreasing in every noise.
//!
//! "Below" means by more than the SE's accuracy ([`mse_exceeds`]).

use super::StateEvolution;
use super::branches::{SeAnalysis, mse_exceeds, variable_name};
use crate::error::Error;

/// Variables whose ML-AMP MSE (the all-uninformative start's) is below their MMSE.
pub fn amp_not_below_mmse(a: &SeAnalysis) -> Vec<String> {
    let opt = a.optimal();
    (0..a.depth())
        .filter(|&j| mse_exceeds(opt.mse[j], a.amp.mse[j], a.rho[j]))
        .map(|j| {
            format!(
                "the algorithmic MSE of {} ({:.4e}) is below its MMSE ({:.4e}): the ranking \
                 of the fixed points is wrong",
                variable_name(j),
                a.amp.mse[j],
                opt.mse[j]
            )
        })
        .collect()
}

/// Violations of the data-processing bound `MMSE(h_j | y) ≥ MMSE(h_j | h_k)` for every
/// truncation `k = 1, …, L − 1` and `j < k`; `a` is `se`'s analysis. A truncation whose
/// last channel cannot produce an observation ([`StateEvolution::truncated`]: a noiseless
/// ReLU, say) has no state evolution and is skipped.
pub fn data_processing(se: &StateEvolution<'_>, a: &SeAnalysis) -> Result<Vec<String>, Error> {
    let mut warnings = Vec::new();
    for k in 1..se.depth() {
        let Ok(t) = se.truncated(k) else { continue };
        let t = t.analyse().checked()?;
        for j in 0..k {
            let (full, part) = (a.optimal().mse[j], t.optimal().mse[j]);
            if mse_exceeds(part, full, a.rho[j]) {
                warnings.push(format!(
                    "the MMSE of {} ({full:.4e}) is below its MMSE with {} observed \
                     noiselessly ({part:.4e}): the data-processing bound is violated",
                    variable_name(j),
                    variable_name(k)
                ));
            }
        }
    }
    Ok(warnings)
}

/// Both checks of one analysis: [`amp_not_below_mmse`] and [`data_processing`].
pub fn consistency(se: &StateEvolution<'_>, a: &SeAnalysis) -> Result<Vec<String>, Error> {
    let mut w = amp_not_below_mmse(a);
    w.extend(data_processing(se, a)?);
    Ok(w)
}

/// How the MMSE must move along a scanned parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Non-increasing (the parameter is an alpha: more observations).
    NonIncreasing,
    /// Non-decreasing (the parameter is a noise variance).
    NonDecreasing,
}

/// Violations of monotonicity along a scan: `points` are `(parameter, MMSE)` in ascending
/// parameter, `rho` the variable's second moment, `what` names the parameter.
pub fn monotone(points: &[(f64, f64)], rho: f64, direction: Direction, what: &str) -> Vec<String> {
    points
        .windows(2)
        .filter(|w| {
            let ((_, a), (_, b)) = (w[0], w[1]);
            match direction {
                Direction::NonIncreasing => mse_exceeds(b, a, rho),
                Direction::NonDecreasing => mse_exceeds(a, b, rho),
            }
        })
        .map(|w| {
            format!(
                "the MMSE goes from {:.4e} at {what} = {} to {:.4e} at {what} = {}: it must be \
                 {} in {what}",
                w[0].1,
                w[0].0,
                w[1].1,
                w[1].0,
                match direction {
                    Direction::NonIncreasing => "non-increasing",
                    Direction::NonDecreasing => "non-decreasing",
                }
            )
        })
        .collect()
}
