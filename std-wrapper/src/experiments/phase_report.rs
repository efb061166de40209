//! What `mlamp phase` produces from a model file: the scan of one layer's alpha
//! ([`super::phase::scan`]), its table (`phase.csv`), its plot (`phase.svg`) and a
//! serialisable [`PhaseReport`].

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::phase::{
    PhaseCurve, PhasePoint, Transition, TransitionKind, analyse_points, grid, scan_analysed,
};
use super::plot::{Axes, Legend, Region, Series, Style, figure};
use crate::error::Error;
use crate::model::Model;
use crate::se::{SeOptions, StateEvolution};

/// What to scan.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseOptions {
    /// The layer whose alpha is scanned, numbered from 1 at the signal (as in the file).
    pub layer: usize,
    /// Lowest alpha.
    pub from: f64,
    /// Highest alpha.
    pub to: f64,
    /// Grid points.
    pub steps: usize,
    /// Directory for `phase.csv` and `phase.svg`.
    pub out: PathBuf,
    /// The state evolution's options at every point.
    pub se: SeOptions,
}

/// The scan's results (the JSON of `mlamp phase --json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseReport {
    /// The scanned layer, from 1 at the signal.
    pub layer: usize,
    /// The algorithmic threshold, if one is in range.
    pub alpha_alg: Option<f64>,
    /// The information-theoretic threshold, if one is in range.
    pub alpha_it: Option<f64>,
    /// Every threshold where the ranking of the fixed points changes, ascending.
    pub transitions: Vec<Transition>,
    /// Violated consistency checks along the scan; empty when all hold.
    pub warnings: Vec<String>,
    /// The grid.
    pub curve: Vec<PhasePoint>,
    /// Where the table went.
    pub csv: String,
    /// Where the plot went.
    pub plot: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.display().to_string(),
        source,
    }
}

/// The most grid points of a scan.
pub const MAX_STEPS: usize = 100_000;

/// Scans the model file `path` as `opts` says, writes `phase.csv` and `phase.svg` into
/// `opts.out`, and reports; `tick` is called once per grid point and bisection step done
/// (see [`scan`](super::phase::scan)). The output files are created before the scan.
pub fn phase_model_file(
    path: &Path,
    opts: &PhaseOptions,
    tick: &(dyn Fn() + Sync),
) -> Result<PhaseReport, Error> {
    let m = Model::from_file(path)?;
    check_layer(&m, opts.layer)?;
    let alphas = opts.alphas()?;
    phase_model(
        &m,
        &path.display().to_string(),
        opts.layer,
        &alphas,
        opts.se,
        &opts.out,
        tick,
    )
}

/// `layer` (from 1 at the signal) is one of `m`'s.
fn check_layer(m: &Model, layer: usize) -> Result<(), Error> {
    if layer == 0 || layer > m.depth() {
        return Err(Error::invalid(
            "layer",
            format!("must be in 1..={} (numbered from the signal)", m.depth()),
        ));
    }
    Ok(())
}

impl PhaseOptions {
    /// The grid these options scan ([`grid`]), once `steps`, `from` and `to` are checked.
    pub fn alphas(&self) -> Result<Vec<f64>, Error> {
        if !(2..=MAX_STEPS).contains(&self.steps) {
            return Err(Error::invalid(
                "steps",
                format!("must be in 2..={MAX_STEPS}"),
            ));
        }
        for (flag, a) in [("from", self.from), ("to", self.to)] {
            crate::model::check_alpha(flag, a)?;
        }
        grid(self.from, self.to, self.steps)
    }
}

/// The state evolution of `m` for a scan of layer `layer` (from 1 at the signal) over
/// `alphas`, once those are checked: 2 to [`MAX_STEPS`] valid alphas, strictly ascending.
pub(crate) fn checked_grid<'m>(
    m: &'m Model,
    layer: usize,
    alphas: &[f64],
    se: SeOptions,
) -> Result<StateEvolution<'m>, Error> {
    check_layer(m, layer)?;
    if !(2..=MAX_STEPS).contains(&alphas.len()) {
        return Err(Error::invalid(
            "alphas",
            format!("need 2 to {MAX_STEPS} of them, have {}", alphas.len()),
        ));
    }
    for (i, &a) in alphas.iter().enumerate() {
        crate::model::check_alpha(&format!("alphas[{i}]"), a)?;
        if i > 0 && a <= alphas[i - 1] {
            return Err(Error::invalid(
                format!("alphas[{i}]"),
                format!(
                    "{a} does not exceed alphas[{}] = {}: need ascending alphas",
                    i - 1,
                    alphas[i - 1]
                ),
            ));
        }
    }
    StateEvolution::new(m, se)
}

/// The scan of layer `layer` (from 1 at the signal) of the model `m` over any ascending
/// `alphas` (the grid of [`phase_model_file`] or another), named `model_name` in the plot:
/// the same table, plot (written into `out`) and report as [`phase_model_file`] on the
/// same grid. `tick` as for [`scan`](super::phase::scan).
pub fn phase_model(
    m: &Model,
    model_name: &str,
    layer: usize,
    alphas: &[f64],
    se: SeOptions,
    out: &Path,
    tick: &(dyn Fn() + Sync),
) -> Result<PhaseReport, Error> {
    let se = checked_grid(m, layer, alphas, se)?;
    let outputs = create_outputs(out)?;
    let analyses = analyse_points(&se, layer - 1, alphas, tick)?;
    let curve = scan_analysed(&se, layer - 1, alphas, analyses, tick)?;
    write_report(curve, model_name, layer, outputs)
}

/// Creates `out` and the (empty) `phase.csv` and `phase.svg` in it, before the work, so that
/// an unwritable output directory fails now, not after the scan; their paths.
pub(crate) fn create_outputs(out: &Path) -> Result<(PathBuf, PathBuf), Error> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let csv_path = out.join("phase.csv");
    let svg_path = out.join("phase.svg");
    for p in [&csv_path, &svg_path] {
        std::fs::File::create(p).map_err(io(p))?;
    }
    Ok((csv_path, svg_path))
}

/// Writes the scan's table and plot (titled by the model's name and the layer, from 1) to
/// `outputs` (from [`create_outputs`]) and reports.
pub(crate) fn write_report(
    curve: PhaseCurve,
    model_name: &str,
    layer: usize,
    (csv_path, svg_path): (PathBuf, PathBuf),
) -> Result<PhaseReport, Error> {
    write_csv(&csv_path, &curve.points)?;
    plot(&svg_path, &curve, &format!("{model_name}: layer {layer}"))?;
    Ok(PhaseReport {
        layer,
        alpha_alg: curve.thresholds.alpha_alg,
        alpha_it: curve.thresholds.alpha_it,
        transitions: curve.transitions,
        warnings: curve.warnings,
        curve: curve.points,
        csv: csv_path.display().to_string(),
        plot: svg_path.display().to_string(),
    })
}

/// One row per grid point, the columns of [`PhasePoint`].
fn write_csv(path: &Path, points: &[PhasePoint]) -> Result<(), Error> {
    let mut w = csv::Writer::from_writer(std::fs::File::create(path).map_err(io(path))?);
    for p in points {
        w.serialize(p)
            .map_err(|e| Error::invalid("csv", e.to_string()))?;
    }
    w.flush().map_err(io(path))
}

/// Colour of a threshold kind in the plots (the same in `mlamp phase` and Fig. 2):
/// algorithmic orange, information-theoretic blue, both purple, metastable grey.
pub fn threshold_color(kind: TransitionKind) -> usize {
    match kind {
        TransitionKind::Algorithmic => 4,
        TransitionKind::InformationTheoretic => 1,
        TransitionKind::AlgorithmicAndInformationTheoretic => 5,
        TransitionKind::Metastable => 3,
    }
}

/// Region colours (drawn pale): impossible red, hard orange, easy green.
pub const REGION_COLORS: [usize; 3] = [0, 4, 2];

/// The signal's MSE along alpha (ML-AMP's SE, solid black, and the MMSE, dashed red) on a log
/// scale; every threshold as a vertical line coloured by kind (dashed: algorithmic, solid:
/// information-theoretic, dotted: metastable); where the signal's thresholds are in range,
/// the phases shaded and labelled (impossible below α_IT, hard up to α_alg, easy above).
fn plot(path: &Path, curve: &PhaseCurve, title: &str) -> Result<(), Error> {
    // The grid and both ends of every threshold's bracket: the jumps drawn as jumps.
    let mut at: Vec<(f64, f64, f64)> = curve
        .points
        .iter()
        .map(|q| (q.alpha, q.mse_amp, q.mmse))
        .collect();
    for t in &curve.transitions {
        let h = 0.5 * super::phase::THRESHOLD_TOL;
        for (a, an) in [(t.alpha - h, &t.below), (t.alpha + h, &t.above)] {
            at.push((a, an.amp.mse_signal(), an.mmse_signal()));
        }
    }
    at.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pts = |f: fn(&(f64, f64, f64)) -> f64| at.iter().map(|q| (q.0, f(q))).collect::<Vec<_>>();
    let mut series = vec![
        Series::new("ML-AMP (SE)", pts(|q| q.1), Style::Line, 6),
        Series::new("MMSE", pts(|q| q.2), Style::Dashed, 0),
    ];
    let (lo, hi) = curve.points.iter().fold((f64::MAX, f64::MIN), |(a, b), q| {
        (a.min(q.mse_amp).min(q.mmse), b.max(q.mse_amp).max(q.mmse))
    });
    let hi = hi.max(f64::MIN_POSITIVE);
    let lo = lo.max(hi * 1e-12);
    let (y0, y1) = (lo / 2.0, hi * 2.0);
    for t in &curve.transitions {
        let style = match t.kind {
            TransitionKind::Algorithmic => Style::Dashed,
            TransitionKind::Metastable => Style::Dotted,
            _ => Style::Line,
        };
        let vars = if t.variables.is_empty() {
            String::new()
        } else {
            format!(" ({} jump)", t.variables.join(", "))
        };
        series.push(Series::new(
            format!("{} = {:.4}{vars}", t.kind.label(), t.alpha),
            vec![(t.alpha, y0), (t.alpha, y1)],
            style,
            threshold_color(t.kind),
        ));
    }
    let (a0, a1) = (
        curve.points[0].alpha,
        curve.points[curve.points.len() - 1].alpha,
    );
    let th = curve.thresholds;
    let mut regions = Vec::new();
    let mut band = |label: &str, from: f64, to: f64, color: usize| {
        if to > from {
            regions.push(Region {
                label: label.into(),
                polygon: vec![(from, y0), (to, y0), (to, y1), (from, y1)],
                color,
                anchor: (0.5 * (from + to), (y0 * y1).sqrt()),
            });
        }
    };
    if th.alpha_it.is_some() || th.alpha_alg.is_some() {
        let it = th.alpha_it.unwrap_or(a0).max(a0);
        let alg = th.alpha_alg.unwrap_or(a1).min(a1);
        band("impossible", a0, it, REGION_COLORS[0]);
        band("hard", it, alg, REGION_COLORS[1]);
        band("easy", alg, a1, REGION_COLORS[2]);
    }
    let layer = curve.layer + 1;
    figure(
        path,
        &Axes {
            title: title.into(),
            x_label: format!("alpha of layer {layer}"),
            y_label: "signal MSE".into(),
            log_y: true,
            y_range: Some((y0, y1)),
            legend: Legend::LowerLeft,
            ..Axes::default()
        },
        &series,
        &regions,
    )
}

impl fmt::Display for PhaseReport {
    /// The human summary: the thresholds and where the files went.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |a: Option<f64>| a.map_or("none in range".to_string(), |a| format!("{a:.4}"));
        writeln!(f, "alpha_alg {}", show(self.alpha_alg))?;
        writeln!(f, "alpha_IT  {}", show(self.alpha_it))?;
        for t in &self.transitions {
            writeln!(
                f,
                "threshold {:.4}  {} ({}); ranking {} -> {}",
                t.alpha,
                t.kind.name(),
                if t.variables.is_empty() {
                    "no variable jumps".to_string()
                } else {
                    format!("{} jump", t.variables.join(", "))
                },
                t.ranking_below.join(" | "),
                t.ranking_above.join(" | ")
            )?;
        }
        write!(f, "wrote {} and {}", self.csv, self.plot)
    }
}
