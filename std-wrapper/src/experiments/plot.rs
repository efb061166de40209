//! SVG line plots of curves (the phase scans and the figures), through `plotters`.

use std::path::Path;

use plotters::prelude::*;

use crate::error::Error;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A solid line.
    Line,
    /// A dashed line.
    Dashed,
    /// Markers only (e.g. single-instance runs).
    Points,
}

/// One named series of `(x, y)` points.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub style: Style,
    /// Colour index into a fixed palette.
    pub color: usize,
}

/// Axes and labels of a plot.
#[derive(Clone, Debug)]
pub struct Axes {
    /// Title above the plot.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Logarithmic y axis (values are floored at `1e-12` of the largest).
    pub log_y: bool,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(200, 30, 30),
    RGBColor(30, 80, 200),
    RGBColor(20, 140, 60),
    RGBColor(120, 120, 120),
    RGBColor(200, 120, 0),
    RGBColor(120, 40, 160),
];

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::invalid("plot", e.to_string())
}

/// Draws `series` on `axes` into the SVG file `path` (800×560).
pub fn svg(path: &Path, axes: &Axes, series: &[Series]) -> Result<(), Error> {
    let finite = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in finite {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return Err(Error::invalid("plot", "no finite points to draw"));
    }
    if x0 == x1 {
        x1 = x0 + 1.0;
    }
    let root = SVGBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(&axes.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70);
    let palette = |i: usize| PALETTE[i % PALETTE.len()];
    macro_rules! draw {
        ($chart:expr, $map:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(axes.x_label.as_str())
                .y_desc(axes.y_label.as_str())
                .y_label_formatter(&|v: &f64| {
                    if axes.log_y {
                        format!("{v:.0e}")
                    } else {
                        format!("{v:.3}")
                    }
                })
                .draw()
                .map_err(plot_err)?;
            for s in series {
                let color = palette(s.color);
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .map(|&(x, y)| (x, $map(y)))
                    .collect();
                let anno = match s.style {
                    Style::Line => chart
                        .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                        .map_err(plot_err)?,
                    Style::Dashed => chart
                        .draw_series(DashedLineSeries::new(pts, 8, 5, color.stroke_width(2)))
                        .map_err(plot_err)?,
                    Style::Points => chart
                        .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))
                        .map_err(plot_err)?,
                };
                anno.label(s.label.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(plot_err)?;
        }};
    }
    if axes.log_y {
        let top = y1.max(f64::MIN_POSITIVE);
        let floor = (top * 1e-12).max(y0.max(top * 1e-12));
        let chart = builder
            .build_cartesian_2d(x0..x1, (floor..top * 2.0).log_scale())
            .map_err(plot_err)?;
        draw!(chart, |y: f64| y.max(floor));
    } else {
        let pad = 0.05 * (y1 - y0).max(1e-12);
        let chart = builder
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(plot_err)?;
        draw!(chart, |y: f64| y);
    }
    root.present().map_err(plot_err)?;
    Ok(())
}
