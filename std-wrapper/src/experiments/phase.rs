//! Scans along the alpha of one layer: the state evolution's curves, and the algorithmic and
//! information-theoretic thresholds by bracketing and bisection.

use rayon::prelude::*;

use crate::error::Error;
use crate::se::{SeAnalysis, StateEvolution};

/// Bisection stops when the bracket is this narrow (in alpha).
pub const THRESHOLD_TOL: f64 = 1e-4;

/// The state evolution at one alpha (a row of `phase.csv`, an entry of the JSON's `curve`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PhasePoint {
    /// The scanned layer's alpha.
    pub alpha: f64,
    /// Signal MSE of the fixed point from the uninformative start (what ML-AMP reaches).
    pub mse_amp: f64,
    /// Signal MSE of the fixed point from the informed start.
    pub mse_informed: f64,
    /// The Bayes-optimal signal MSE (eq. 17).
    pub mmse: f64,
    /// φ_RS at the uninformative fixed point.
    pub free_energy_amp: f64,
    /// φ_RS at the informed fixed point.
    pub free_energy_informed: f64,
    /// Whether both starts reach the same fixed point.
    pub agree: bool,
}

impl PhasePoint {
    fn new(alpha: f64, a: &SeAnalysis) -> Self {
        Self {
            alpha,
            mse_amp: a.amp.mse_signal(),
            mse_informed: a.informed.mse_signal(),
            mmse: a.mmse_signal(),
            free_energy_amp: a.amp.free_energy,
            free_energy_informed: a.informed.free_energy,
            agree: a.branches_agree(),
        }
    }
}

/// The two thresholds along a scanned alpha (`None` where there is no transition in range).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Thresholds {
    /// Smallest alpha from which the uninformative fixed point is the informed one: ML-AMP's
    /// (algorithmic) threshold.
    pub alpha_alg: Option<f64>,
    /// Where the informed fixed point starts to have the lower free energy: the
    /// information-theoretic threshold.
    pub alpha_it: Option<f64>,
}

/// A scan: the grid's points and the thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseCurve {
    /// The scanned layer (0-based, from the signal).
    pub layer: usize,
    /// The grid, ascending in alpha.
    pub points: Vec<PhasePoint>,
    /// The thresholds.
    pub thresholds: Thresholds,
}

/// Bisection on a predicate false at `lo` and true at `hi`, to [`THRESHOLD_TOL`]; the
/// midpoint of the final bracket.
fn bisect(
    mut lo: f64,
    mut hi: f64,
    tick: &(dyn Fn() + Sync),
    mut pred: impl FnMut(f64) -> Result<bool, Error>,
) -> Result<f64, Error> {
    while hi - lo > THRESHOLD_TOL {
        let mid = 0.5 * (lo + hi);
        tick();
        if pred(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// Scans the alpha of layer `layer` over `steps` points from `from` to `to` (in parallel; the
/// result does not depend on the number of threads), then bisects the thresholds:
/// - algorithmic: the highest grid interval where the branches go from disagreeing to
///   agreeing, bisected on "both starts reach the same fixed point";
/// - information-theoretic: the interval where "the informed branch is optimal" turns true,
///   with that predicate true at and above `alpha_alg`, false where the branches agree below
///   it (only one, uninformative, fixed point), and `φ_informed < φ_amp` where they differ.
///
/// `tick` is called once per grid point and once per bisection step (for a progress bar: at
/// most `steps + 2 ⌈log2(grid interval / THRESHOLD_TOL)⌉` calls).
pub fn scan(
    se: &StateEvolution<'_>,
    layer: usize,
    from: f64,
    to: f64,
    steps: usize,
    tick: &(dyn Fn() + Sync),
) -> Result<PhaseCurve, Error> {
    if !(from.is_finite() && to.is_finite() && 0.0 < from && from < to) {
        return Err(Error::invalid("from/to", "need 0 < from < to"));
    }
    if steps < 2 {
        return Err(Error::invalid("steps", "must be >= 2"));
    }
    let alphas: Vec<f64> = (0..steps)
        .map(|i| from + (to - from) * i as f64 / (steps - 1) as f64)
        .collect();
    let points = alphas
        .par_iter()
        .map(|&a| {
            let p = PhasePoint::new(a, &se.with_alpha(layer, a)?.analyse().checked()?);
            tick();
            Ok(p)
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let at = |a: f64| -> Result<SeAnalysis, Error> { se.with_alpha(layer, a)?.analyse().checked() };

    let alpha_alg = match (1..points.len())
        .rev()
        .find(|&i| points[i].agree && !points[i - 1].agree)
    {
        Some(i) => Some(bisect(points[i - 1].alpha, points[i].alpha, tick, |a| {
            Ok(at(a)?.branches_agree())
        })?),
        None => None,
    };
    let alg = alpha_alg.unwrap_or(f64::INFINITY);
    let informed_wins =
        |p: &PhasePoint| p.alpha >= alg || (!p.agree && p.free_energy_informed < p.free_energy_amp);
    let alpha_it = match (1..points.len())
        .find(|&i| informed_wins(&points[i]) && !informed_wins(&points[i - 1]))
    {
        Some(i) => Some(bisect(points[i - 1].alpha, points[i].alpha, tick, |a| {
            Ok(informed_wins(&PhasePoint::new(a, &at(a)?)))
        })?),
        None => None,
    };
    Ok(PhaseCurve {
        layer,
        points,
        thresholds: Thresholds {
            alpha_alg,
            alpha_it,
        },
    })
}
