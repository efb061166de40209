//! What `mlamp phase` produces from a model file: the scan of one layer's alpha
//! ([`super::phase::scan`]), its table (`phase.csv`), its plot (`phase.svg`) and a
//! serialisable [`PhaseReport`].

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::phase::{PhaseCurve, PhasePoint, Transition, scan};
use super::plot::{Axes, Series, Style, svg};
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
/// (see [`scan`]). The output files are created before the scan.
pub fn phase_model_file(
    path: &Path,
    opts: &PhaseOptions,
    tick: &(dyn Fn() + Sync),
) -> Result<PhaseReport, Error> {
    let m = Model::from_file(path)?;
    if opts.layer == 0 || opts.layer > m.depth() {
        return Err(Error::invalid(
            "layer",
            format!("must be in 1..={} (numbered from the signal)", m.depth()),
        ));
    }
    if !(2..=MAX_STEPS).contains(&opts.steps) {
        return Err(Error::invalid(
            "steps",
            format!("must be in 2..={MAX_STEPS}"),
        ));
    }
    let se = StateEvolution::new(&m, opts.se)?;
    for (flag, a) in [("from", opts.from), ("to", opts.to)] {
        crate::model::check_alpha(flag, a)?;
    }
    // The output files are created (empty) before the work, so that an unwritable --out
    // fails now, not after the scan.
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    let csv_path = opts.out.join("phase.csv");
    let svg_path = opts.out.join("phase.svg");
    for p in [&csv_path, &svg_path] {
        std::fs::File::create(p).map_err(io(p))?;
    }
    let curve = scan(&se, opts.layer - 1, opts.from, opts.to, opts.steps, tick)?;
    write_csv(&csv_path, &curve.points)?;
    plot(
        &svg_path,
        &curve,
        &format!("{}: layer {}", path.display(), opts.layer),
    )?;
    Ok(PhaseReport {
        layer: opts.layer,
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

/// The signal's MSE along alpha (ML-AMP's SE and the MMSE) and the thresholds as vertical
/// lines, on a log scale.
fn plot(path: &Path, curve: &PhaseCurve, title: &str) -> Result<(), Error> {
    let pts = |f: fn(&PhasePoint) -> f64| {
        curve
            .points
            .iter()
            .map(|q| (q.alpha, f(q)))
            .collect::<Vec<_>>()
    };
    let mut series = vec![
        Series {
            label: "ML-AMP (SE)".into(),
            points: pts(|q| q.mse_amp),
            style: Style::Line,
            color: 0,
        },
        Series {
            label: "MMSE".into(),
            points: pts(|q| q.mmse),
            style: Style::Dashed,
            color: 1,
        },
    ];
    let t = curve.thresholds;
    let (lo, hi) = curve.points.iter().fold((f64::MAX, f64::MIN), |(a, b), q| {
        (a.min(q.mse_amp), b.max(q.mse_amp))
    });
    for (name, a, c) in [("alpha_alg", t.alpha_alg, 3), ("alpha_IT", t.alpha_it, 2)] {
        if let Some(a) = a {
            let lo = lo.max(hi * 1e-12).max(f64::MIN_POSITIVE);
            series.push(Series {
                label: format!("{name} = {a:.4}"),
                points: vec![(a, lo), (a, hi)],
                style: Style::Dashed,
                color: c,
            });
        }
    }
    let layer = curve.layer + 1;
    svg(
        path,
        &Axes {
            title: title.into(),
            x_label: format!("alpha of layer {layer}"),
            y_label: "signal MSE".into(),
            log_y: true,
        },
        &series,
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
