//! The ML-AMP paper's Fig. 2: phase diagrams of its three two-layer models, with insets.
//!
//! ```sh
//! cargo run --release --example fig2 -- left    # sparse regression, eq. 18 (ρ = 0.3, Δ2 = 0, Δ1 = 1e-8)
//! cargo run --release --example fig2 -- center  # perceptron with correlated patterns, eq. 19
//! cargo run --release --example fig2 -- right   # two-layer decoder, eq. 20 (Δ1 = Δ2 = 1e-8)
//! cargo run --release --example fig2 -- all     # the three, and the time they took
//! ```
//! Each panel writes `fig2/<panel>_main.{svg,csv}` (the thresholds as functions of α2) and
//! `fig2/<panel>_inset.{svg,csv}` (SE curves of ML-AMP and the MMSE against the scanned alpha
//! at α2 = 1, or 2 for the decoder, with ML-AMP on single instances of n = 2000, and for the
//! decoder plain AMP on the first layer with an iid binary prior on h¹).
//!
//! Layers are ours (signal first): the first layer is the paper's W2 (alpha α2), the second its
//! W1 (alpha α1). The main panels' y axis is α = α1 α2 for the left and centre panels (as in
//! the paper), α1 for the decoder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mlamp::experiments::phase::{Thresholds, scan};
use mlamp::experiments::plot::{Axes, Series, Style, svg};
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
    /// Horizontal reference lines (label, value), e.g. random-pattern thresholds.
    references: &'static [(&'static str, f64)],
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
        vertical: (&[1.25, 1.6, 2.0], 0.2, 0.9),
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
            ("random patterns, alpha_alg", 1.493),
            ("random patterns, alpha_IT", 1.245),
        ],
        vertical: (&[3.0, 4.5, 6.0], 0.2, 1.2),
    },
    Panel {
        name: "right",
        title: "two-layer decoder (eq. 20)",
        model: "[prior]\ntype = \"binary\"\n[[layers]]\nalpha = ALPHA2\nchannel = { type = \"sign\", noise_var = 1e-8 }\n[[layers]]\nalpha = ALPHA1\nchannel = { type = \"linear\", noise_var = 1e-8 }\n",
        alpha2: (1.0, 3.0, 9),
        y_range: (0.05, 1.0),
        y_is_product: false,
        inset_alpha2: 2.0,
        inset_runs: &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8],
        references: &[],
        vertical: (&[0.4, 0.7, 1.0], 1.0, 2.0),
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

fn main_panel(p: &Panel, out: &Path) {
    let a2 = grid(p.alpha2);
    let hor: Vec<_> = a2.par_iter().map(|&a| horizontal(p, a)).collect();
    let ver: Vec<_> = p.vertical.0.par_iter().map(|&a| vertical(p, a)).collect();
    // Each family of scans traces one part of a boundary: the α-scans its flat part (a line
    // over α2), the α2-scans its steep part (a line over y).
    let flat =
        |pick: fn(&Crossings) -> Option<Point>| hor.iter().filter_map(pick).collect::<Vec<_>>();
    let steep = |pick: fn(&Crossings) -> Option<Point>| {
        let mut v: Vec<Point> = ver.iter().filter_map(pick).collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
        v
    };
    let parts = [
        (
            "algorithmic (ML-AMP)",
            "algorithmic",
            flat(|t| t.0),
            Style::Dashed,
        ),
        (
            "algorithmic, alpha2 scans",
            "algorithmic",
            steep(|t| t.0),
            Style::Dashed,
        ),
        (
            "information-theoretic",
            "information_theoretic",
            flat(|t| t.1),
            Style::Line,
        ),
        (
            "information-theoretic, alpha2 scans",
            "information_theoretic",
            steep(|t| t.1),
            Style::Line,
        ),
    ];
    let mut csv = String::from("threshold,scan,alpha2,y\n");
    for (label, name, pts, _) in &parts {
        let scan = if label.contains("alpha2 scans") {
            "alpha2"
        } else {
            "alpha"
        };
        for (x, y) in pts {
            csv += &format!("{name},{scan},{x},{y}\n");
        }
    }
    write(&out.join(format!("{}_main.csv", p.name)), csv);
    let mut series: Vec<Series> = parts
        .into_iter()
        .map(|(label, _, points, style)| Series {
            label: label.into(),
            points,
            style,
            color: 0,
        })
        .collect();
    for &(label, v) in p.references {
        series.push(Series {
            label: label.into(),
            points: vec![(p.alpha2.0, v), (p.alpha2.1, v)],
            style: Style::Dashed,
            color: 3,
        });
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
        log_y: false,
    };
    svg(&out.join(format!("{}_main.svg", p.name)), &axes, &series).expect("plot");
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
    let curve: Vec<(f64, f64, f64)> = alphas
        .par_iter()
        .map(|&a| {
            let an = se.with_alpha(1, a).expect("alpha").analyse();
            (a, an.amp.mse_signal(), an.mmse_signal())
        })
        .collect();
    let opts = AmpOptions {
        max_iter: 300,
        ..AmpOptions::default()
    };
    let runs: Vec<(f64, f64, Option<f64>)> = p
        .inset_runs
        .par_iter()
        .map(|&a| {
            let mm = model(p, a2, a / f);
            let inst = Instance::sample(&mm, 2000, 1).expect("instance");
            let r = run_ml_amp(&mm, &inst, &opts).expect("run");
            // The decoder's comparison: plain AMP on the first layer, h¹ taken iid ±1.
            let plain = (p.name == "right").then(|| {
                let single = Model::from_toml(&format!(
                    "[prior]\ntype = \"binary\"\n[[layers]]\nalpha = {:?}\nchannel = {{ type = \"linear\", noise_var = 1e-8 }}\n",
                    a / f
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
            (a, r.mse_signal(), plain)
        })
        .collect();
    let mut csv = String::from("alpha,se_mse_amp,se_mmse\n");
    for &(a, amp, mmse) in &curve {
        csv += &format!("{},{amp},{mmse}\n", a * f);
    }
    csv += "\nalpha,ml_amp_n2000,plain_amp_first_layer_n2000\n";
    for (a, e, pl) in &runs {
        csv += &format!("{a},{e},{}\n", pl.map_or(String::new(), |v| v.to_string()));
    }
    write(&out.join(format!("{}_inset.csv", p.name)), csv);
    let mut series = vec![
        Series {
            label: "ML-AMP (SE)".into(),
            points: curve.iter().map(|c| (c.0 * f, c.1)).collect(),
            style: Style::Line,
            color: 0,
        },
        Series {
            label: "MMSE".into(),
            points: curve.iter().map(|c| (c.0 * f, c.2)).collect(),
            style: Style::Dashed,
            color: 1,
        },
        Series {
            label: "ML-AMP, n = 2000".into(),
            points: runs.iter().map(|r| (r.0, r.1)).collect(),
            style: Style::Points,
            color: 0,
        },
    ];
    if p.name == "right" {
        series.push(Series {
            label: "plain AMP on layer 1 (MSE of h1), n = 2000".into(),
            points: runs.iter().filter_map(|r| r.2.map(|v| (r.0, v))).collect(),
            style: Style::Points,
            color: 4,
        });
    }
    let x = if p.y_is_product {
        "alpha = alpha1 alpha2"
    } else {
        "alpha1"
    };
    let axes = Axes {
        title: format!("{} at alpha2 = {a2}", p.title),
        x_label: x.into(),
        y_label: "MSE".into(),
        log_y: true,
    };
    svg(&out.join(format!("{}_inset.svg", p.name)), &axes, &series).expect("plot");
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
            "unknown panel `{which}`: left, center (or centre), right or all"
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
    let chosen = match panels(&which).and_then(|p| writable(&out).map(|_| p)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    for p in chosen {
        let t = Instant::now();
        eprintln!("{}: main panel (scans over alpha and alpha2)...", p.name);
        main_panel(p, &out);
        eprintln!("{}: inset (SE curves and n = 2000 runs)...", p.name);
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
