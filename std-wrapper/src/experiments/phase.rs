//! Scans along the alpha of one layer: the state evolution's curves, every threshold where
//! the ranking of its fixed points changes (bisected, naming the variables that switch), the
//! algorithmic and information-theoretic thresholds of the signal among them, and the
//! consistency checks along the scan.

use rayon::prelude::*;
use serde::Serialize;

use crate::error::Error;
use crate::se::branches::{StartCode, variable_name};
use crate::se::checks::{self, Direction};
use crate::se::{SeAnalysis, StateEvolution};

/// Bisection stops when the bracket is this narrow (in alpha).
pub const THRESHOLD_TOL: f64 = 1e-4;

/// The most thresholds bisected inside one grid interval.
pub const MAX_TRANSITIONS_PER_INTERVAL: usize = 8;

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
    /// Whether the all-uninformative and all-informed starts reach the same fixed point.
    pub agree: bool,
    /// Distinct fixed points.
    pub branches: usize,
    /// The starts that reach the Bayes-optimal fixed point (see
    /// [`StartCode::label`]), space-separated.
    pub optimal: String,
    /// Every fixed point (not in the table).
    #[serde(skip)]
    pub analysis: SeAnalysis,
}

impl PhasePoint {
    /// The point at `alpha` from its analysis.
    pub fn new(alpha: f64, a: SeAnalysis) -> Self {
        Self {
            alpha,
            mse_amp: a.amp.mse_signal(),
            mse_informed: a.informed.mse_signal(),
            mmse: a.mmse_signal(),
            free_energy_amp: a.amp.free_energy,
            free_energy_informed: a.informed.free_energy,
            agree: a.branches_agree(),
            branches: a.branches.len(),
            optimal: a.ranking_labels()[0].clone(),
            analysis: a,
        }
    }
}

/// What changes at a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    /// ML-AMP's fixed point (the all-uninformative start's) jumps.
    Algorithmic,
    /// The Bayes-optimal fixed point jumps.
    InformationTheoretic,
    /// Both at once (e.g. ML-AMP's fixed point, optimal until then, disappears).
    AlgorithmicAndInformationTheoretic,
    /// Only metastable fixed points appear, disappear or swap places in the ranking.
    Metastable,
}

impl TransitionKind {
    /// The name in the JSON (`"algorithmic"`, `"information_theoretic"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Algorithmic => "algorithmic",
            Self::InformationTheoretic => "information_theoretic",
            Self::AlgorithmicAndInformationTheoretic => "algorithmic_and_information_theoretic",
            Self::Metastable => "metastable",
        }
    }

    /// The name in a plot's legend or a sentence (`"information-theoretic"`, …).
    pub fn label(self) -> &'static str {
        match self {
            Self::Algorithmic => "algorithmic",
            Self::InformationTheoretic => "information-theoretic",
            Self::AlgorithmicAndInformationTheoretic => "algorithmic and information-theoretic",
            Self::Metastable => "metastable",
        }
    }
}

/// A threshold: where the ranking of the fixed points changes (an entry of the JSON's
/// `transitions`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transition {
    /// The midpoint of the final bracket, [`THRESHOLD_TOL`] wide.
    pub alpha: f64,
    /// What changes.
    pub kind: TransitionKind,
    /// The variables whose MSE jumps (`x`, `h1`, …): ML-AMP's for an algorithmic threshold,
    /// the optimal fixed point's for an information-theoretic one (both if both), any
    /// start's for a metastable one.
    pub variables: Vec<String>,
    /// The ranking just below: per fixed point, lowest free energy first, its starts.
    pub ranking_below: Vec<String>,
    /// The ranking just above.
    pub ranking_above: Vec<String>,
    /// The analyses at the bracket's ends.
    #[serde(skip)]
    pub below: SeAnalysis,
    /// See `below`.
    #[serde(skip)]
    pub above: SeAnalysis,
}

impl Transition {
    fn new(alpha: f64, below: SeAnalysis, above: SeAnalysis) -> Self {
        let depth = below.depth();
        let amp = below.jumping_variables(&below.amp, &above.amp);
        let opt = below.jumping_variables(below.optimal(), above.optimal());
        let (kind, mut vars) = match (amp.is_empty(), opt.is_empty()) {
            (false, true) => (TransitionKind::Algorithmic, amp),
            (true, false) => (TransitionKind::InformationTheoretic, opt),
            (false, false) => (
                TransitionKind::AlgorithmicAndInformationTheoretic,
                amp.into_iter().chain(opt).collect(),
            ),
            (true, true) => (
                TransitionKind::Metastable,
                StartCode::search(depth)
                    .into_iter()
                    .flat_map(|c| {
                        below
                            .jumping_variables(&below.branch_of(c).point, &above.branch_of(c).point)
                    })
                    .collect(),
            ),
        };
        vars.sort_unstable();
        vars.dedup();
        Self {
            alpha,
            kind,
            variables: vars.into_iter().map(variable_name).collect(),
            ranking_below: below.ranking_labels(),
            ranking_above: above.ranking_labels(),
            below,
            above,
        }
    }
}

/// The signal's two thresholds along a scanned alpha (`None` where there is none in range).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Thresholds {
    /// Smallest alpha from which the all-uninformative start reaches the all-informed start's
    /// fixed point: ML-AMP's (algorithmic) threshold.
    pub alpha_alg: Option<f64>,
    /// Where the all-informed start's fixed point becomes the lowest in free energy: the
    /// information-theoretic threshold (none where only some hidden variables become
    /// recoverable: those are in [`PhaseCurve::transitions`]).
    pub alpha_it: Option<f64>,
}

/// A scan: the grid's points, every threshold, the signal's two, and the warnings.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseCurve {
    /// The scanned layer (0-based, from the signal).
    pub layer: usize,
    /// The grid, ascending in alpha.
    pub points: Vec<PhasePoint>,
    /// The signal's thresholds.
    pub thresholds: Thresholds,
    /// Every threshold, ascending.
    pub transitions: Vec<Transition>,
    /// Violated consistency checks along the scan ([`crate::se::checks`]).
    pub warnings: Vec<String>,
}

/// A bracket's end: the parameter and what was computed there.
type End<S> = (f64, S);

/// Bisection to [`THRESHOLD_TOL`] on a predicate false at `lo.0` and true at `hi.0`, each
/// end carrying what `eval` computed there (`eval(x) = (predicate, state)`): the final
/// bracket with its ends' states.
fn bisect_keeping<S>(
    mut lo: End<S>,
    mut hi: End<S>,
    tick: &(dyn Fn() + Sync),
    mut eval: impl FnMut(f64) -> Result<(bool, S), Error>,
) -> Result<(End<S>, End<S>), Error> {
    while hi.0 - lo.0 > THRESHOLD_TOL {
        let mid = 0.5 * (lo.0 + hi.0);
        tick();
        let (above, state) = eval(mid)?;
        if above {
            hi = (mid, state);
        } else {
            lo = (mid, state);
        }
    }
    Ok((lo, hi))
}

/// Bisection on a predicate false at `lo` and true at `hi`, to [`THRESHOLD_TOL`]; the
/// midpoint of the final bracket.
fn bisect(
    lo: f64,
    hi: f64,
    tick: &(dyn Fn() + Sync),
    mut pred: impl FnMut(f64) -> Result<bool, Error>,
) -> Result<f64, Error> {
    let (a, b) = bisect_keeping((lo, ()), (hi, ()), tick, |x| Ok((pred(x)?, ())))?;
    Ok(0.5 * (a.0 + b.0))
}

/// The analysis at `alpha` of the scanned layer, its all-uninformative start iterated from
/// the fixed point of the nearest of `neighbours` below `alpha` and its all-informed start from
/// the nearest above ([`StateEvolution::analyse_warm`]: the same fixed points in fewer sweeps).
/// In a deep model, whose starts are not every combination
/// ([`StartCode::search_is_complete`]), it also follows each branch of `neighbours`
/// ([`SeAnalysis::follow`]).
fn analyse_at(
    se: &StateEvolution<'_>,
    layer: usize,
    alpha: f64,
    neighbours: &[&PhasePoint],
) -> Result<SeAnalysis, Error> {
    let se_a = se.with_alpha(layer, alpha)?;
    let nearest = |below: bool| {
        neighbours
            .iter()
            .filter(|p| {
                if below {
                    p.alpha < alpha
                } else {
                    p.alpha > alpha
                }
            })
            .min_by(|p, q| (p.alpha - alpha).abs().total_cmp(&(q.alpha - alpha).abs()))
    };
    let mut a = se_a.analyse_warm(
        Default::default(),
        nearest(true).map(|p| &p.analysis.amp),
        nearest(false).map(|p| &p.analysis.informed),
    );
    if !StartCode::search_is_complete(se.depth()) {
        for n in neighbours {
            a = a.follow(&se_a, &n.analysis);
        }
    }
    a.checked()
}

/// Follows every branch along a grid (`analyses[i]` at `alphas[i]` of layer `layer`): up the
/// grid, each point following its lower neighbour's branches, then down, each following its
/// upper neighbour's ([`SeAnalysis::follow`]). A branch some start reaches at one point is then
/// found at every point of the grid where following it from the next one reaches it.
pub fn follow_along(
    se: &StateEvolution<'_>,
    layer: usize,
    alphas: &[f64],
    analyses: &mut [SeAnalysis],
) -> Result<(), Error> {
    let n = analyses.len().min(alphas.len());
    let order = (1..n)
        .map(|i| (i, i - 1))
        .chain((0..n.saturating_sub(1)).rev().map(|i| (i, i + 1)));
    for (i, from) in order {
        analyses[i] = analyses[i]
            .clone()
            .follow(&se.with_alpha(layer, alphas[i])?, &analyses[from])
            .checked()?;
    }
    Ok(())
}

/// The first threshold above `lo` up to `hi` (whose rankings differ): bisection on "the
/// ranking differs from `lo`'s" to [`THRESHOLD_TOL`].
fn bisect_ranking(
    se: &StateEvolution<'_>,
    layer: usize,
    lo: &PhasePoint,
    hi: &PhasePoint,
    tick: &(dyn Fn() + Sync),
) -> Result<Transition, Error> {
    let target = lo.analysis.ranking();
    let (a, b) = bisect_keeping(
        (lo.alpha, lo.analysis.clone()),
        (hi.alpha, hi.analysis.clone()),
        tick,
        |mid| {
            let an = analyse_at(se, layer, mid, &[lo, hi])?;
            Ok((an.ranking() != target, an))
        },
    )?;
    Ok(Transition::new(0.5 * (a.0 + b.0), a.1, b.1))
}

/// Every threshold between two grid points: from `lo`, the first change of the ranking, then
/// the next from just above it, until the ranking is `hi`'s (at most
/// [`MAX_TRANSITIONS_PER_INTERVAL`]).
fn transitions_between(
    se: &StateEvolution<'_>,
    layer: usize,
    lo: &PhasePoint,
    hi: &PhasePoint,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<Transition>, Error> {
    let mut found: Vec<Transition> = Vec::new();
    let mut from = lo.clone();
    while from.analysis.ranking() != hi.analysis.ranking()
        && found.len() < MAX_TRANSITIONS_PER_INTERVAL
        && hi.alpha - from.alpha > THRESHOLD_TOL
    {
        let t = bisect_ranking(se, layer, &from, hi, tick)?;
        let upper = t.alpha + 0.5 * THRESHOLD_TOL;
        from = PhasePoint::new(upper.min(hi.alpha), t.above.clone());
        found.push(t);
    }
    Ok(found)
}

/// Scans the alpha of layer `layer` over `steps` points from `from` to `to` (in parallel; the
/// result does not depend on the number of threads), then bisects every grid interval whose
/// ends rank the fixed points differently, to every threshold inside ([`Transition`]). The
/// signal's thresholds are among them, each bisected on its own predicate:
/// - algorithmic: the highest grid interval where the all-uninformative and all-informed
///   starts go from different fixed points to the same one;
/// - information-theoretic: the lowest where "the all-informed start's fixed point is
///   optimal" turns true, that predicate being true at and above `alpha_alg` and false where
///   the two starts agree below it (only one, uninformative, fixed point).
///
/// The warnings: the MMSE of the signal rising with alpha on the grid, and each grid point's
/// [`checks::consistency`].
///
/// `tick` is called once per grid point and once per bisection step (for a progress bar:
/// `steps` plus about `⌈log2(grid interval / THRESHOLD_TOL)⌉` per threshold and per signal
/// threshold).
pub fn scan(
    se: &StateEvolution<'_>,
    layer: usize,
    from: f64,
    to: f64,
    steps: usize,
    tick: &(dyn Fn() + Sync),
) -> Result<PhaseCurve, Error> {
    let alphas = grid(from, to, steps)?;
    let analyses = analyse_points(se, layer, &alphas, tick)?;
    scan_analysed(se, layer, &alphas, analyses, tick)
}

/// The grid of a scan: `steps` alphas evenly spaced from `from` to `to`, both included
/// (`from + (to − from)·i/(steps − 1)`).
pub fn grid(from: f64, to: f64, steps: usize) -> Result<Vec<f64>, Error> {
    if !(from.is_finite() && to.is_finite() && 0.0 < from && from < to) {
        return Err(Error::invalid("from/to", "need 0 < from < to"));
    }
    if steps < 2 {
        return Err(Error::invalid("steps", "must be >= 2"));
    }
    Ok((0..steps)
        .map(|i| from + (to - from) * i as f64 / (steps - 1) as f64)
        .collect())
}

/// The analysis at each of `alphas` of layer `layer` on its own (in parallel; each point
/// depends on its alpha only, so any subset of a grid, computed anywhere, gives the bits the
/// whole grid gives there). `tick` is called once per point.
pub fn analyse_points(
    se: &StateEvolution<'_>,
    layer: usize,
    alphas: &[f64],
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<SeAnalysis>, Error> {
    alphas
        .par_iter()
        .map(|&a| {
            let an = analyse_at(se, layer, a, &[]);
            tick();
            an
        })
        .collect()
}

/// The rest of [`scan`] from the grid's analyses (`analyses[i]` at `alphas[i]`, from
/// [`analyse_points`]): the branches followed along the grid, the checks, every threshold
/// bisected. `tick` is called once per bisection step.
pub fn scan_analysed(
    se: &StateEvolution<'_>,
    layer: usize,
    alphas: &[f64],
    mut analyses: Vec<SeAnalysis>,
    tick: &(dyn Fn() + Sync),
) -> Result<PhaseCurve, Error> {
    if analyses.len() != alphas.len() || alphas.len() < 2 {
        return Err(Error::invalid(
            "steps",
            format!(
                "need one analysis per grid point and >= 2 points, have {} for {}",
                analyses.len(),
                alphas.len()
            ),
        ));
    }
    if !StartCode::search_is_complete(se.depth()) {
        follow_along(se, layer, alphas, &mut analyses)?;
    }
    let graded = alphas
        .par_iter()
        .zip(analyses)
        .map(|(&a, an)| {
            let w = checks::consistency(&se.with_alpha(layer, a)?, &an)?;
            Ok((PhasePoint::new(a, an), w))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let mut warnings = Vec::new();
    let mut points = Vec::with_capacity(graded.len());
    for (p, w) in graded {
        warnings.extend(w.into_iter().map(|w| format!("alpha = {}: {w}", p.alpha)));
        points.push(p);
    }
    let mmse: Vec<(f64, f64)> = points.iter().map(|p| (p.alpha, p.mmse)).collect();
    warnings.extend(checks::monotone(
        &mmse,
        se.rho()[0],
        Direction::NonIncreasing,
        &format!("the alpha of layer {}", layer + 1),
    ));
    let mut transitions = Vec::new();
    for w in points.windows(2) {
        if w[0].analysis.ranking() != w[1].analysis.ranking() {
            transitions.extend(transitions_between(se, layer, &w[0], &w[1], tick)?);
        }
    }
    // The signal's thresholds, each bisected on its own predicate from the grid interval
    // where it flips (as before the ranking of all starts: the same values where only the
    // two uniform starts matter).
    let at = |a: f64, i: usize| -> Result<SeAnalysis, Error> {
        analyse_at(se, layer, a, &[&points[i - 1], &points[i]])
    };
    let alpha_alg = match (1..points.len())
        .rev()
        .find(|&i| points[i].agree && !points[i - 1].agree)
    {
        Some(i) => Some(bisect(points[i - 1].alpha, points[i].alpha, tick, |a| {
            Ok(at(a, i)?.branches_agree())
        })?),
        None => None,
    };
    let alg = alpha_alg.unwrap_or(f64::INFINITY);
    let all_informed = StartCode::informed(se.depth());
    let informed_wins = |alpha: f64, a: &SeAnalysis| {
        alpha >= alg || (!a.branches_agree() && a.optimal_branch().reached_from(all_informed))
    };
    let alpha_it = match (1..points.len()).find(|&i| {
        informed_wins(points[i].alpha, &points[i].analysis)
            && !informed_wins(points[i - 1].alpha, &points[i - 1].analysis)
    }) {
        Some(i) => Some(bisect(points[i - 1].alpha, points[i].alpha, tick, |a| {
            Ok(informed_wins(a, &at(a, i)?))
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
        transitions,
        warnings,
    })
}
