//! The ML-AMP paper's Fig. 2: phase diagrams of its three two-layer models, with insets.
//!
//! ```sh
//! cargo run --release --example fig2 -- left    # sparse regression, eq. 18 (ρ = 0.3, Δ2 = 0, Δ1 = 1e-8)
//! cargo run --release --example fig2 -- center  # perceptron with correlated patterns, eq. 19
//! cargo run --release --example fig2 -- right   # two-layer decoder, eq. 20 (Δ1 = Δ2 = 1e-8)
//! cargo run --release --example fig2 -- all     # the three, and the time they took
//! cargo run --release --example fig2 -- success # the decoder's success probability, n = 1000…8000
//! cargo run --release --example fig2 -- replot fig2 [PANEL]  # the SVGs again from the CSVs
//! ```
//! Each panel writes `fig2/<panel>_main.{svg,csv}` (the thresholds as functions of α2, the
//! impossible / hard / easy regions shaded) and `fig2/<panel>_inset.{svg,csv}` (SE curves of
//! ML-AMP and the MMSE, from every informed/uninformative start, against the scanned alpha at
//! α2 = 1, or 2 for the decoder, with ML-AMP on instances of n = 2000: mean ± standard error
//! over 5 seeds and the fraction that succeed, and for the decoder plain AMP on the first layer
//! with an iid binary prior on h¹). `success` writes `fig2/right_success.{svg,csv}`: the
//! fraction of seeds on which ML-AMP recovers x (MSE < 1e-2) against α1 at α2 = 2.
//!
//! Layers are ours (signal first): the first layer is the paper's W2 (alpha α2), the second its
//! W1 (alpha α1). The main panels' y axis is α = α1 α2 for the left and centre panels (as in
//! the paper), α1 for the decoder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mlamp::experiments::phase::TransitionKind;
use mlamp::experiments::phase::{Thresholds, scan};
use mlamp::experiments::phase_report::{REGION_COLORS, threshold_color};
use mlamp::experiments::plot::{Axes, Legend, Region, Series, Style, figure, svg};
use mlamp::progress::progress;
use mlamp::se::{SeOptions, StateEvolution};
use mlamp::{AmpOptions, Instance, Model, run_ml_amp};
use rayon::prelude::*;

/// One panel's definition.
struct Panel {
    name: &'static str,
    title: &'static str,
    /// Model text with `ALPHA2` and `ALPHA1` placeholders.
    model: &'static str,
    /// α2 grid of the main panel.
    alpha2: (f64, f64, usize),
    /// Range of the main panel's y (α or α1) scanned at each α2.
    y_range: (f64, f64),
    /// The y axis is α = α1 α2 (else α1).
    y_is_product: bool,
    /// α2 of the inset.
    inset_alpha2: f64,
    /// α1 points of the inset's single instances.
    inset_runs: &'static [f64],
    /// Horizontal reference lines (label, value, kind), e.g. random-pattern thresholds.
    references: &'static [(&'static str, f64, TransitionKind)],
    /// α1 values at which α2 is scanned (the boundary's steep part), with the α2 range.
    vertical: (&'static [f64], f64, f64),
}

const PANELS: [Panel; 3] = [
    Panel {
        name: "left",
        title: "sparse regression with correlated data (eq. 18)",
        model: "[prior]\ntype = \"gauss-bernoulli\"\nrho = 0.3\n[[layers]]\nalpha = ALPHA2\nchannel = { type = \"linear\", noise_var = 0.0 }\n[[layers]]\nalpha = ALPHA1\nchannel = { type = \"linear\", noise_var = 1e-8 }\n",
        alpha2: (0.3, 2.0, 11),
        y_range: (0.2, 1.0),
        y_is_product: true,
        inset_alpha2: 1.0,
        inset_runs: &[0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8],
        references: &[],
        vertical: (&[0.9, 1.0, 1.1, 1.25, 1.6, 2.0], 0.2, 0.9),
    },
    Panel {
        name: "center",
        title: "perceptron with correlated patterns (eq. 19)",
        model: "[prior]\ntype = \"binary\"\n[[layers]]\nalpha = ALPHA2\nchannel = { type = \"linear\", noise_var = 0.0 }\n[[layers]]\nalpha = ALPHA1\nchannel = { type = \"sign\" }\n",
        alpha2: (0.5, 3.0, 11),
        y_range: (0.8, 4.0),
        y_is_product: true,
        inset_alpha2: 1.0,
        inset_runs: &[1.0, 1.5, 2.0, 2.5, 3.0, 3.5],
        references: &[
            (
                "random patterns, alpha_alg = 1.493",
                1.493,
                TransitionKind::Algorithmic,
            ),
            (
                "random patterns, alpha_IT = 1.245",
                1.245,
                TransitionKind::InformationTheoretic,
            ),
        ],
        vertical: (&[3.0, 4.5, 6.0], 0.2, 1.2),
    },
    Panel {
        name: "right",
        title: "two-layer decoder (eq. 20)",
        model: "[prior]\ntype = \"binary\"\n[[layers]]\nalpha = ALPHA2\nchannel = { type = \"sign\", noise_var = 1e-8 }\n[[layers]]\nalpha = ALPHA1\nchannel = { type = \"linear\", noise_var = 1e-8 }\n",
        alpha2: (1.0, 3.0, 9),
        y_range: (0.01, 1.0),
        y_is_product: false,
        inset_alpha2: 2.0,
        inset_runs: &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8],
        references: &[],
        vertical: (&[0.33, 0.36, 0.4, 0.7, 1.0], 1.0, 2.0),
    },
];

fn model(p: &Panel, alpha2: f64, alpha1: f64) -> Model {
    let text = p
        .model
        .replace("ALPHA2", &format!("{alpha2:?}"))
        .replace("ALPHA1", &format!("{alpha1:?}"));
    Model::from_toml(&text).expect("the panel's model is valid")
}

fn grid((lo, hi, n): (f64, f64, usize)) -> Vec<f64> {
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect()
}

/// Scan points per threshold search (the bisection refines between them).
const SCAN_STEPS: usize = 7;

/// A point `(α2, y)` of a boundary, y being the main panel's ordinate.
type Point = (f64, f64);

/// The algorithmic and information-theoretic boundary points one scan found.
type Crossings = (Option<Point>, Option<Point>);

/// Boundary points where the scan at fixed α2 crosses the thresholds (the scan is over α1).
fn horizontal(p: &Panel, alpha2: f64) -> Crossings {
    let m = model(p, alpha2, 1.0);
    let se = StateEvolution::new(&m, SeOptions::default()).expect("SE");
    let f = if p.y_is_product { alpha2 } else { 1.0 };
    let t = scan(&se, 1, p.y_range.0 / f, p.y_range.1 / f, SCAN_STEPS, &|| {})
        .expect("scan")
        .thresholds;
    (
        t.alpha_alg.map(|a| (alpha2, a * f)),
        t.alpha_it.map(|a| (alpha2, a * f)),
    )
}

/// Boundary points where the scan of α2 at fixed α1 crosses the thresholds.
fn vertical(p: &Panel, alpha1: f64) -> Crossings {
    let m = model(p, 1.0, alpha1);
    let se = StateEvolution::new(&m, SeOptions::default()).expect("SE");
    let t: Thresholds = scan(&se, 0, p.vertical.1, p.vertical.2, SCAN_STEPS, &|| {})
        .expect("scan")
        .thresholds;
    let y = |a2: f64| if p.y_is_product { alpha1 * a2 } else { alpha1 };
    (
        t.alpha_alg.map(|a| (a, y(a))),
        t.alpha_it.map(|a| (a, y(a))),
    )
}

fn write(path: &Path, text: String) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A boundary's points in order along it, from its steep (top-left) end to its flat
/// (bottom-right) end: by decreasing angle seen from the origin, which every ray through the
/// region crosses once (the scans are such rays: α at fixed α2, α2 at fixed α1).
fn along(mut pts: Vec<Point>) -> Vec<Point> {
    pts.sort_by(|a, b| b.1.atan2(b.0).total_cmp(&a.1.atan2(a.0)));
    pts
}

/// `boundary` continued to the frame: up to its top from the first point, right to its
/// right edge from the last (the steep part is vertical, the flat part horizontal there).
fn to_frame(boundary: &[Point], (x1, y1): Point) -> Vec<Point> {
    let mut v = Vec::with_capacity(boundary.len() + 2);
    if let (Some(f), Some(l)) = (boundary.first(), boundary.last()) {
        v.push((f.0, y1));
        v.extend_from_slice(boundary);
        v.push((x1, l.1));
    }
    v
}

/// Where the impossible region's label goes: in the larger of its two arms (the strip left
/// of the boundary's steep part or the one below its flat part), at the arm's middle.
fn impossible_anchor(it: &[Point], (x0, x1, y0, y1): (f64, f64, f64, f64)) -> Point {
    let (steep_x, flat_y) = (it[0].0, it[it.len() - 1].1);
    let left = (steep_x - x0) / (x1 - x0);
    let below = (flat_y - y0) / (y1 - y0);
    if left > below {
        (0.5 * (x0 + steep_x), 0.5 * (y0 + y1))
    } else {
        (x0 + 0.18 * (x1 - x0), 0.5 * (y0 + flat_y))
    }
}

fn centroid(pts: &[Point]) -> Point {
    let n = pts.len().max(1) as f64;
    (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    )
}

fn main_panel(p: &Panel, out: &Path) {
    let a2 = grid(p.alpha2);
    let bar = progress(false, (a2.len() + p.vertical.0.len()) as u64, "scans");
    let counted = |r| {
        bar.inc(1);
        r
    };
    let hor: Vec<_> = a2.par_iter().map(|&a| counted(horizontal(p, a))).collect();
    let ver: Vec<_> = p
        .vertical
        .0
        .par_iter()
        .map(|&a| counted(vertical(p, a)))
        .collect();
    bar.finish_and_clear();
    // The α-scans give each boundary's flat part, the α2-scans its steep part and, the rays
    // through the corner, the corner: one line per boundary.
    let collect = |pick: fn(&Crossings) -> Option<Point>, scans: &[Crossings]| {
        scans.iter().filter_map(pick).collect::<Vec<_>>()
    };
    let mut csv = String::from("threshold,scan,alpha2,y\n");
    for (name, pick) in [
        (
            "algorithmic",
            (|t: &Crossings| t.0) as fn(&Crossings) -> Option<Point>,
        ),
        ("information_theoretic", |t: &Crossings| t.1),
    ] {
        for (scan, scans) in [("alpha", &hor), ("alpha2", &ver)] {
            for (x, y) in collect(pick, scans) {
                csv += &format!("{name},{scan},{x},{y}\n");
            }
        }
    }
    write(&out.join(format!("{}_main.csv", p.name)), csv);
    let boundary = |pick: fn(&Crossings) -> Option<Point>| {
        let mut v = collect(pick, &hor);
        v.extend(collect(pick, &ver));
        along(v)
    };
    draw_main(p, out, &boundary(|t| t.0), &boundary(|t| t.1));
}

/// The boundary points of `<panel>_main.csv` (as [`main_panel`] writes it): the algorithmic
/// and the information-theoretic one, each in order along it.
fn read_main(p: &Panel, out: &Path) -> (Vec<Point>, Vec<Point>) {
    let path = out.join(format!("{}_main.csv", p.name));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (mut alg, mut it) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let pt = (num(f[2]), num(f[3]));
        match f[0] {
            "algorithmic" => alg.push(pt),
            _ => it.push(pt),
        }
    }
    (along(alg), along(it))
}

/// A number of a CSV field that this example wrote.
fn num(field: &str) -> f64 {
    field
        .parse()
        .unwrap_or_else(|e| panic!("`{field}` is not a number: {e}"))
}

/// The main panel from its two boundaries (each in order along it, [`along`]).
fn draw_main(p: &Panel, out: &Path, alg: &[Point], it: &[Point]) {
    // The frame holds every boundary point (the α2-scans reach below the α2 grid) with a
    // margin, so that no boundary runs along an axis.
    let x0 = alg.iter().chain(it).map(|q| q.0).fold(p.alpha2.0, f64::min);
    let x1 = p.alpha2.1;
    let (y0, y1) = p.y_range;
    let (fx0, fx1) = (x0 - 0.03 * (x1 - x0), x1 + 0.03 * (x1 - x0));
    let (fy0, fy1) = (y0 - 0.04 * (y1 - y0), y1 + 0.04 * (y1 - y0));
    let (alg_f, it_f) = (to_frame(alg, (fx1, fy1)), to_frame(it, (fx1, fy1)));
    let mut regions = Vec::new();
    if !it_f.is_empty() {
        let mut imp = vec![(fx0, fy0), (fx0, fy1)];
        imp.extend(&it_f);
        imp.push((fx1, fy0));
        regions.push(Region {
            label: "impossible".into(),
            polygon: imp,
            color: REGION_COLORS[0],
            anchor: impossible_anchor(it, (fx0, fx1, fy0, fy1)),
        });
    }
    if !it_f.is_empty() && !alg_f.is_empty() {
        let mut hard = it_f.clone();
        hard.extend(alg_f.iter().rev());
        // The label on the band's middle, along the ray through the boundaries' midpoints.
        let mid = centroid(&[it[it.len() / 2], alg[alg.len() / 2]]);
        regions.push(Region {
            label: "hard".into(),
            polygon: hard,
            color: REGION_COLORS[1],
            anchor: mid,
        });
    }
    if !alg_f.is_empty() {
        let mut easy = alg_f.clone();
        easy.push((fx1, fy1));
        // The label in the middle of the easy region's box (its corner is the boundary's
        // steep end's α2 and flat end's y), below the legend in the upper right.
        let (ex, ey) = (alg[0].0, alg[alg.len() - 1].1);
        regions.push(Region {
            label: "easy".into(),
            polygon: easy,
            color: REGION_COLORS[2],
            anchor: (0.5 * (ex + fx1), ey + 0.45 * (fy1 - ey)),
        });
    }
    // The boundaries drawn as the regions are closed: continued to the frame's top and right
    // edges, so that each L meets the frame.
    let mut series = vec![
        Series::new(
            "algorithmic threshold (ML-AMP)",
            alg_f.clone(),
            Style::Dashed,
            threshold_color(TransitionKind::Algorithmic),
        ),
        Series::new(
            "information-theoretic threshold",
            it_f.clone(),
            Style::Line,
            threshold_color(TransitionKind::InformationTheoretic),
        ),
    ];
    // Random-pattern references dotted, in the colour of their kind of threshold.
    for &(label, v, kind) in p.references {
        series.push(Series::new(
            label,
            vec![(fx0, v), (fx1, v)],
            Style::Dotted,
            threshold_color(kind),
        ));
    }
    let y = if p.y_is_product {
        "alpha = alpha1 alpha2"
    } else {
        "alpha1"
    };
    let axes = Axes {
        title: p.title.into(),
        x_label: "alpha2".into(),
        y_label: y.into(),
        x_range: Some((fx0, fx1)),
        y_range: Some((fy0, fy1)),
        legend: Legend::UpperRight,
        ..Axes::default()
    };
    figure(
        &out.join(format!("{}_main.svg", p.name)),
        &axes,
        &series,
        &regions,
    )
    .expect("plot");
}

/// The smallest MSE an inset resolves: the SE's recovered fixed points sit at 1e-12 (its
/// relative floor), and a finite instance's MSE below a tenth of that is round-off.
const RESOLVED_MSE: f64 = 1e-13;

/// Seeds of every finite-size point.
const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

/// A run succeeds when its signal MSE is below this (the SE's recovered fixed points are at
/// 1e-12, its failed ones above 0.1).
const SUCCESS_MSE: f64 = 1e-2;

/// Mean, its standard error (sample standard deviation / √k) and the fraction below
/// [`SUCCESS_MSE`] of `v`.
fn stats(v: &[f64]) -> (f64, f64, f64) {
    let k = v.len() as f64;
    let mean = v.iter().sum::<f64>() / k;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0).max(1.0);
    let ok = v.iter().filter(|&&x| x < SUCCESS_MSE).count() as f64 / k;
    (mean, (var / k).sqrt(), ok)
}

/// ML-AMP's signal MSE on the instance of `seed` at size `n` (and, for the decoder, plain
/// AMP's MSE of h¹ on its first layer with an iid ±1 prior).
fn run_one(
    p: &Panel,
    a2: f64,
    alpha: f64,
    (n, seed): (usize, u64),
    max_iter: usize,
    with_plain: bool,
) -> (f64, Option<f64>) {
    let f = if p.y_is_product { a2 } else { 1.0 };
    let opts = AmpOptions {
        max_iter,
        ..AmpOptions::default()
    };
    let mm = model(p, a2, alpha / f);
    let inst = Instance::sample(&mm, n, seed).expect("instance");
    let r = run_ml_amp(&mm, &inst, &opts).expect("run");
    let plain = (with_plain && p.name == "right").then(|| {
        let single = Model::from_toml(&format!(
            "[prior]\ntype = \"binary\"\n[[layers]]\nalpha = {:?}\nchannel = {{ type = \"linear\", noise_var = 1e-8 }}\n",
            alpha / f
        ))
        .expect("model");
        let sub = Instance {
            sizes: inst.sizes[1..].to_vec(),
            d: 1,
            weights: inst.weights[1..].to_vec(),
            factors: inst.factors[1..].to_vec(),
            layers: inst.layers[1..].to_vec(),
        };
        run_ml_amp(&single, &sub, &opts).expect("run").mse_signal()
    });
    (r.mse_signal(), plain)
}

fn inset(p: &Panel, out: &Path) {
    let a2 = p.inset_alpha2;
    let f = if p.y_is_product { a2 } else { 1.0 };
    let m = model(p, a2, 1.0);
    let se = StateEvolution::new(&m, SeOptions::default()).expect("SE");
    let (lo, hi) = (
        p.inset_runs[0] * 0.8 / f,
        p.inset_runs[p.inset_runs.len() - 1] * 1.1 / f,
    );
    let alphas = grid((lo, hi, 31));
    let bar = progress(
        false,
        (alphas.len() + p.inset_runs.len() * SEEDS.len()) as u64,
        "state evolutions and runs",
    );
    let curve: Vec<(f64, f64, f64)> = alphas
        .par_iter()
        .map(|&a| {
            let an = se.with_alpha(1, a).expect("alpha").analyse();
            bar.inc(1);
            (a, an.amp.mse_signal(), an.mmse_signal())
        })
        .collect();
    let jobs: Vec<(f64, u64)> = p
        .inset_runs
        .iter()
        .flat_map(|&a| SEEDS.iter().map(move |&s| (a, s)))
        .collect();
    let done: Vec<(f64, f64, Option<f64>)> = jobs
        .par_iter()
        .map(|&(a, seed)| {
            let (e, pl) = run_one(p, a2, a, (2000, seed), 300, true);
            bar.inc(1);
            (a, e, pl)
        })
        .collect();
    bar.finish_and_clear();
    let mut csv = String::from("alpha,se_mse_amp,se_mmse\n");
    for &(a, amp, mmse) in &curve {
        csv += &format!("{},{amp},{mmse}\n", a * f);
    }
    csv += "\nalpha,n,seeds,ml_amp_mean,ml_amp_stderr,ml_amp_success,plain_amp_h1_mean,plain_amp_h1_stderr,plain_amp_h1_success,ml_amp_per_seed\n";
    let mut rows = Vec::new();
    for &a in p.inset_runs {
        let e: Vec<f64> = done.iter().filter(|r| r.0 == a).map(|r| r.1).collect();
        let pl: Vec<f64> = done
            .iter()
            .filter(|r| r.0 == a)
            .filter_map(|r| r.2)
            .collect();
        let (m, s, ok) = stats(&e);
        let plain = (!pl.is_empty()).then(|| stats(&pl));
        let per: Vec<String> = e.iter().map(|v| format!("{v:.3e}")).collect();
        csv += &format!(
            "{a},2000,{},{m},{s},{ok},{},{},{},{}\n",
            e.len(),
            plain.map_or(String::new(), |p| p.0.to_string()),
            plain.map_or(String::new(), |p| p.1.to_string()),
            plain.map_or(String::new(), |p| p.2.to_string()),
            per.join(" ")
        );
        println!(
            "{} inset, alpha {a}: ML-AMP n = 2000 MSE {m:.3e} ± {s:.1e}, {}/{} succeed{}",
            p.name,
            (ok * e.len() as f64).round(),
            e.len(),
            plain.map_or(String::new(), |q| format!(
                "; plain AMP on h1 {:.3e} ± {:.1e}, {}/{} succeed",
                q.0,
                q.1,
                (q.2 * pl.len() as f64).round(),
                pl.len()
            ))
        );
        rows.push((a, m, s, plain));
    }
    write(&out.join(format!("{}_inset.csv", p.name)), csv);
    let curve: Vec<(f64, f64, f64)> = curve.iter().map(|c| (c.0 * f, c.1, c.2)).collect();
    draw_inset(p, out, &curve, &rows);
}

/// One finite-size point of an inset: α (the inset's x), ML-AMP's mean MSE and its standard
/// error, and plain AMP's (mean, standard error, success fraction) if run.
type Row = (f64, f64, f64, Option<(f64, f64, f64)>);

/// The SE curve `(x, ML-AMP MSE, MMSE)` and the rows of `<panel>_inset.csv` (as [`inset`]
/// writes it).
fn read_inset(p: &Panel, out: &Path) -> (Vec<(f64, f64, f64)>, Vec<Row>) {
    let path = out.join(format!("{}_inset.csv", p.name));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (se_part, runs) = text.split_once("\n\n").expect("two tables");
    let curve = se_part
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (num(f[0]), num(f[1]), num(f[2]))
        })
        .collect();
    let rows = runs
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let plain = (!f[6].is_empty()).then(|| (num(f[6]), num(f[7]), num(f[8])));
            (num(f[0]), num(f[3]), num(f[4]), plain)
        })
        .collect();
    (curve, rows)
}

/// An inset from its SE curve (x in the inset's units) and finite-size rows.
fn draw_inset(p: &Panel, out: &Path, curve: &[(f64, f64, f64)], rows: &[Row]) {
    let a2 = p.inset_alpha2;
    // A mean of 0 (a binary x recovered on every seed) has no place on a log axis, and one
    // of 1e-20 (round-off) would stretch it: means below `floor` (a decade below the SE's
    // curves, at most [`RESOLVED_MSE`]) are drawn at `floor`, and say so.
    let positive = || {
        curve
            .iter()
            .flat_map(|c| [c.1, c.2])
            .chain(rows.iter().map(|r| r.1))
            .chain(rows.iter().filter_map(|r| r.3.map(|q| q.0)))
            .filter(|&v| v > 0.0)
    };
    let se_low = curve
        .iter()
        .flat_map(|c| [c.1, c.2])
        .filter(|&v| v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let floor =
        (0.1 * positive().fold(f64::INFINITY, f64::min)).max((0.1 * se_low).min(RESOLVED_MSE));
    let top = 2.0 * positive().fold(0.0, f64::max);
    let pl: Vec<(f64, (f64, f64, f64))> =
        rows.iter().filter_map(|r| r.3.map(|q| (r.0, q))).collect();
    let mut series = vec![
        Series::new(
            "ML-AMP (SE)",
            curve.iter().map(|c| (c.0, c.1)).collect(),
            Style::Line,
            6,
        ),
        Series::new(
            "MMSE (SE)",
            curve.iter().map(|c| (c.0, c.2)).collect(),
            Style::Dashed,
            0,
        ),
    ];
    let runs = [
        (
            format!("ML-AMP, n = 2000 (mean ± s.e., {} seeds)", SEEDS.len()),
            rows.iter().map(|r| (r.0, r.1, r.2)).collect::<Vec<_>>(),
            Style::Points,
            6,
        ),
        (
            "plain AMP on layer 1 (MSE of h1), n = 2000".to_string(),
            pl.iter().map(|(a, q)| (*a, q.0, q.1)).collect(),
            Style::Squares,
            4,
        ),
    ];
    for (label, pts, style, color) in runs {
        let (nonzero, zero): (Vec<_>, Vec<_>) = pts.into_iter().partition(|q| q.1 >= floor);
        if !nonzero.is_empty() {
            series.push(
                Series::new(
                    label.clone(),
                    nonzero.iter().map(|q| (q.0, q.1)).collect(),
                    style,
                    color,
                )
                .with_errors(nonzero.iter().map(|q| q.2).collect()),
            );
        }
        if !zero.is_empty() {
            series.push(Series::new(
                format!(
                    "{}: mean MSE below {floor:.0e} (drawn there)",
                    label.split(" (").next().unwrap_or(&label)
                ),
                zero.iter().map(|q| (q.0, floor)).collect(),
                style,
                color,
            ));
        }
    }
    let x = if p.y_is_product {
        "alpha = alpha1 alpha2"
    } else {
        "alpha1"
    };
    let axes = Axes {
        title: format!("{} at alpha2 = {a2}", p.title),
        x_label: x.into(),
        y_label: if p.name == "right" {
            "MSE of x (plain AMP: of h1)"
        } else {
            "MSE of x"
        }
        .into(),
        log_y: true,
        y_range: Some((floor / 3.0, top)),
        // The curves fall from the upper left to the lower right: the legend goes where
        // they are not, halfway up on the right.
        legend: Legend::MiddleRight,
        ..Axes::default()
    };
    svg(&out.join(format!("{}_inset.svg", p.name)), &axes, &series).expect("plot");
}

/// Sizes of the success-probability figure.
const SUCCESS_N: [usize; 4] = [1000, 2000, 4000, 8000];

/// α1 of the success-probability figure (the decoder at α2 = 2; the SE's α1_alg = 0.306).
const SUCCESS_ALPHA1: [f64; 5] = [0.28, 0.3, 0.32, 0.35, 0.4];

/// The decoder's success probability against α1 at each n of [`SUCCESS_N`], with its
/// binomial standard error, and the SE's threshold.
fn success(out: &Path) {
    let p = &PANELS[2];
    let m = model(p, 2.0, 1.0);
    let se = StateEvolution::new(&m, SeOptions::default()).expect("SE");
    let alg = scan(&se, 1, 0.3, 0.31, 2, &|| {})
        .expect("scan")
        .thresholds
        .alpha_alg
        .expect("alpha1_alg");
    let mut csv = String::from("n,alpha1,seeds,successes,success_fraction,stderr,mse_per_seed\n");
    let mut series = Vec::new();
    for (ci, &n) in SUCCESS_N.iter().enumerate() {
        let jobs: Vec<(f64, u64)> = SUCCESS_ALPHA1
            .iter()
            .flat_map(|&a| SEEDS.iter().map(move |&s| (a, s)))
            .collect();
        // The largest instances at most two at a time (W¹ and W² with their squares: ~3 GB
        // each at 8000), the smaller ones on every core.
        let bar = progress(false, jobs.len() as u64, &format!("runs at n = {n}"));
        let decoder_run = |a, n, s| {
            let mse = decoder_run(a, n, s);
            bar.inc(1);
            mse
        };
        let runs: Vec<(f64, f64)> = if n >= 8000 {
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .expect("a pool of two threads")
                .install(|| {
                    jobs.par_iter()
                        .map(|&(a, s)| (a, decoder_run(a, n, s)))
                        .collect()
                })
        } else {
            jobs.par_iter()
                .map(|&(a, s)| (a, decoder_run(a, n, s)))
                .collect()
        };
        bar.finish_and_clear();
        let mut pts = Vec::new();
        let mut errs = Vec::new();
        for &a in &SUCCESS_ALPHA1 {
            let e: Vec<f64> = runs.iter().filter(|r| r.0 == a).map(|r| r.1).collect();
            let k = e.len() as f64;
            let ok = e.iter().filter(|&&x| x < SUCCESS_MSE).count();
            let frac = ok as f64 / k;
            let se_frac = (frac * (1.0 - frac) / k).sqrt();
            let per: Vec<String> = e.iter().map(|v| format!("{v:.3e}")).collect();
            csv += &format!(
                "{n},{a},{},{ok},{frac},{se_frac},{}\n",
                e.len(),
                per.join(" ")
            );
            println!(
                "success: n = {n}, alpha1 = {a}: {ok}/{} seeds recover x",
                e.len()
            );
            pts.push((a, frac));
            errs.push(se_frac);
        }
        series.push(Series::new(
            format!("n = {n}"),
            pts.clone(),
            Style::Line,
            [3, 1, 2, 0][ci],
        ));
        series.push(
            Series::new(
                format!("n = {n}, ± s.e."),
                pts,
                Style::Points,
                [3, 1, 2, 0][ci],
            )
            .with_errors(errs),
        );
    }
    series.push(Series::new(
        format!("SE: alpha1_alg = {alg:.4}"),
        vec![(alg, -0.05), (alg, 1.05)],
        Style::Dashed,
        threshold_color(TransitionKind::Algorithmic),
    ));
    write(&out.join("right_success.csv"), csv);
    let axes = Axes {
        title: format!(
            "two-layer decoder (eq. 20), alpha2 = 2: ML-AMP success (MSE < 1e-2), {} seeds",
            SEEDS.len()
        ),
        x_label: "alpha1".into(),
        y_label: "fraction of seeds that recover x".into(),
        y_range: Some((-0.05, 1.05)),
        legend: Legend::LowerRight,
        ..Axes::default()
    };
    svg(&out.join("right_success.svg"), &axes, &series).expect("plot");
}

/// ML-AMP on the decoder at α2 = 2, α1 = `alpha1`, size `n`, instance `seed`: the signal MSE.
fn decoder_run(alpha1: f64, n: usize, seed: u64) -> f64 {
    run_one(&PANELS[2], 2.0, alpha1, (n, seed), 300, false).0
}

/// The panels `which` names (`centre` is `center`), or an error saying what is accepted.
fn panels(which: &str) -> Result<Vec<&'static Panel>, String> {
    let which = if which == "centre" { "center" } else { which };
    let chosen: Vec<&Panel> = PANELS
        .iter()
        .filter(|p| which == "all" || which == p.name)
        .collect();
    if chosen.is_empty() {
        return Err(format!(
            "unknown panel `{which}`: left, center (or centre), right, all, success or replot"
        ));
    }
    Ok(chosen)
}

/// Creates `out` and checks that a file can be written in it, before minutes of work.
fn writable(out: &Path) -> Result<(), String> {
    let probe = out.join(".fig2-write-check");
    std::fs::create_dir_all(out)
        .and_then(|_| std::fs::write(&probe, b""))
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| {
            format!(
                "cannot write {}: {e} (give another directory)",
                out.display()
            )
        })
}

fn main() -> std::process::ExitCode {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let out = PathBuf::from(std::env::args().nth(2).unwrap_or_else(|| "fig2".into()));
    if which == "success" {
        if let Err(e) = writable(&out) {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
        let t = Instant::now();
        success(&out);
        println!("success: {:.1} s", t.elapsed().as_secs_f64());
        return std::process::ExitCode::SUCCESS;
    }
    let replot = which == "replot";
    // `replot DIR [PANEL]`: the panels of DIR (all by default).
    let which = if replot {
        std::env::args().nth(3).unwrap_or_else(|| "all".into())
    } else {
        which
    };
    let which = which.as_str();
    let chosen = match panels(which).and_then(|p| writable(&out).map(|_| p)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if replot {
        // The pictures again from the CSV files of an earlier run, without recomputing.
        for p in chosen {
            let (alg, it) = read_main(p, &out);
            draw_main(p, &out, &alg, &it);
            let (curve, rows) = read_inset(p, &out);
            draw_inset(p, &out, &curve, &rows);
        }
        return std::process::ExitCode::SUCCESS;
    }
    let start = Instant::now();
    for p in chosen {
        let t = Instant::now();
        eprintln!("{}: main panel (scans over alpha and alpha2)...", p.name);
        main_panel(p, &out);
        eprintln!(
            "{}: inset (SE curves and n = 2000 runs, 5 seeds)...",
            p.name
        );
        let t_main = t.elapsed();
        inset(p, &out);
        println!(
            "{}: main {:.1} s, inset {:.1} s",
            p.name,
            t_main.as_secs_f64(),
            t.elapsed().as_secs_f64() - t_main.as_secs_f64()
        );
    }
    println!(
        "total {:.1} s on {} threads",
        start.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    std::process::ExitCode::SUCCESS
}
