//! SVG plots of curves (the phase scans and the figures), through `plotters`: lines, dashed
//! and dotted lines, markers with optional error bars, and shaded, labelled regions. Each
//! legend entry is drawn as its series is (a dashed line dashed, a marker as the marker), and
//! the axes are padded so that no curve lies on an axis.

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
    /// A dotted line.
    Dotted,
    /// Filled circles (e.g. finite-size runs).
    Points,
    /// Open squares.
    Squares,
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
    /// Half-widths of vertical error bars, one per point (empty: none).
    pub errors: Vec<f64>,
}

impl Series {
    /// A series without error bars.
    pub fn new(
        label: impl Into<String>,
        points: Vec<(f64, f64)>,
        style: Style,
        color: usize,
    ) -> Self {
        Self {
            label: label.into(),
            points,
            style,
            color,
            errors: Vec::new(),
        }
    }

    /// The same with error bars `y ± errors[i]`.
    pub fn with_errors(mut self, errors: Vec<f64>) -> Self {
        self.errors = errors;
        self
    }
}

/// A shaded region with a label, drawn under the series.
#[derive(Clone, Debug)]
pub struct Region {
    /// The text written inside it.
    pub label: String,
    /// Its boundary (closed automatically), in data coordinates.
    pub polygon: Vec<(f64, f64)>,
    /// Colour index into the palette (drawn pale).
    pub color: usize,
    /// Where the label's centre goes, in data coordinates.
    pub anchor: (f64, f64),
}

/// Axes and labels of a plot.
#[derive(Clone, Debug, Default)]
pub struct Axes {
    /// Title above the plot.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Logarithmic y axis (values are floored at `1e-12` of the largest).
    pub log_y: bool,
    /// The x range (default: the data's, padded by 3% each side).
    pub x_range: Option<(f64, f64)>,
    /// The y range (default: the data's, padded by 5% each side, or a factor 2 on a log axis).
    pub y_range: Option<(f64, f64)>,
    /// Where the legend goes.
    pub legend: Legend,
}

/// A corner of the plot for the legend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Legend {
    /// Upper right (the default).
    #[default]
    UpperRight,
    /// Upper left.
    UpperLeft,
    /// Lower left.
    LowerLeft,
    /// Lower right.
    LowerRight,
    /// Right, halfway up.
    MiddleRight,
}

/// The palette: red, blue, green, grey, orange, purple, black.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(200, 30, 30),
    RGBColor(30, 80, 200),
    RGBColor(20, 140, 60),
    RGBColor(120, 120, 120),
    RGBColor(210, 120, 0),
    RGBColor(120, 40, 160),
    RGBColor(0, 0, 0),
];

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::invalid("plot", e.to_string())
}

fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Draws `series` on `axes` into the SVG file `path` (800×560).
pub fn svg(path: &Path, axes: &Axes, series: &[Series]) -> Result<(), Error> {
    figure(path, axes, series, &[])
}

/// The data's range over the finite points of `series` (and their error bars): `(x0, x1, y0,
/// y1)`, or an error when there is none.
fn data_range(series: &[Series]) -> Result<(f64, f64, f64, f64), Error> {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for s in series {
        for (i, &(x, y)) in s.points.iter().enumerate() {
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            let e = s
                .errors
                .get(i)
                .copied()
                .filter(|e| e.is_finite())
                .unwrap_or(0.0);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y - e);
            y1 = y1.max(y + e);
        }
    }
    if x0 > x1 {
        return Err(Error::invalid("plot", "no finite points to draw"));
    }
    Ok((x0, x1, y0, y1))
}

/// Draws the shaded `regions`, then `series`, on `axes` into the SVG file `path` (800×560).
pub fn figure(
    path: &Path,
    axes: &Axes,
    series: &[Series],
    regions: &[Region],
) -> Result<(), Error> {
    let (dx0, dx1, dy0, dy1) = data_range(series)?;
    let (x0, x1) = axes.x_range.unwrap_or_else(|| {
        let w = if dx1 > dx0 { dx1 - dx0 } else { 1.0 };
        (dx0 - 0.03 * w, dx1 + 0.03 * w)
    });
    let root = SVGBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(&axes.title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(72);
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
                        format!("{v:.2}")
                    }
                })
                .x_label_formatter(&|v: &f64| format!("{v:.2}"))
                .draw()
                .map_err(plot_err)?;
            for r in regions {
                let c = palette(r.color);
                let poly: Vec<(f64, f64)> = r.polygon.iter().map(|&(x, y)| (x, $map(y))).collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.16).filled())))
                    .map_err(plot_err)?;
                let style = ("sans-serif", 18).into_font().color(&c.mix(0.9)).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    ),
                );
                chart
                    .draw_series(std::iter::once(Text::new(
                        r.label.clone(),
                        (r.anchor.0, $map(r.anchor.1)),
                        style,
                    )))
                    .map_err(plot_err)?;
            }
            for s in series {
                let color = palette(s.color);
                let pts: Vec<(f64, f64, f64)> = s
                    .points
                    .iter()
                    .enumerate()
                    .filter(|(_, (x, y))| x.is_finite() && y.is_finite())
                    .map(|(i, &(x, y))| (x, y, s.errors.get(i).copied().unwrap_or(0.0)))
                    .collect();
                let line: Vec<(f64, f64)> = pts.iter().map(|&(x, y, _)| (x, $map(y))).collect();
                let stroke = color.stroke_width(2);
                let anno = match s.style {
                    Style::Line => chart.draw_series(LineSeries::new(line, stroke)),
                    Style::Dashed => chart.draw_series(DashedLineSeries::new(line, 9, 6, stroke)),
                    Style::Dotted => chart.draw_series(DashedLineSeries::new(line, 2, 5, stroke)),
                    Style::Points => chart
                        .draw_series(line.into_iter().map(|p| Circle::new(p, 4, color.filled()))),
                    Style::Squares => chart.draw_series(line.into_iter().map(|(x, y)| {
                        EmptyElement::at((x, y))
                            + Rectangle::new([(-4, -4), (4, 4)], color.stroke_width(2))
                    })),
                }
                .map_err(plot_err)?;
                let (segs, dot, square) = legend_parts(s.style);
                anno.label(s.label.as_str()).legend(move |(x, y)| {
                    let on = |v: bool| {
                        if v {
                            color.stroke_width(2)
                        } else {
                            TRANSPARENT.stroke_width(0)
                        }
                    };
                    let seg =
                        |(a, b): (i32, i32)| PathElement::new(vec![(a, 0), (b, 0)], on(a != b));
                    EmptyElement::at((x, y))
                        + seg(segs[0])
                        + seg(segs[1])
                        + seg(segs[2])
                        + seg(segs[3])
                        + Circle::new(
                            (12, 0),
                            4,
                            if dot {
                                color.filled()
                            } else {
                                TRANSPARENT.filled()
                            },
                        )
                        + Rectangle::new([(8, -4), (16, 4)], on(square))
                });
                if !s.errors.is_empty() {
                    let bars = pts.iter().filter(|p| p.2 > 0.0).flat_map(|&(x, y, e)| {
                        let (lo, hi) = ($map(y - e), $map(y + e));
                        [PathElement::new(
                            vec![(x, lo), (x, hi)],
                            color.stroke_width(1),
                        )]
                    });
                    chart.draw_series(bars).map_err(plot_err)?;
                }
            }
            chart
                .configure_series_labels()
                .position(match axes.legend {
                    Legend::UpperRight => SeriesLabelPosition::UpperRight,
                    Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
                    Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
                    Legend::LowerRight => SeriesLabelPosition::LowerRight,
                    Legend::MiddleRight => SeriesLabelPosition::MiddleRight,
                })
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .draw()
                .map_err(plot_err)?;
        }};
    }
    if axes.log_y {
        let top = dy1.max(f64::MIN_POSITIVE);
        let floor = (top * 1e-12).max(dy0.max(top * 1e-12));
        let (lo, hi) = axes.y_range.unwrap_or((floor / 2.0, top * 2.0));
        let chart = builder
            .build_cartesian_2d(x0..x1, (lo..hi).log_scale())
            .map_err(plot_err)?;
        draw!(chart, |y: f64| y.max(lo))
    } else {
        let (lo, hi) = axes.y_range.unwrap_or_else(|| {
            let pad = 0.05 * (dy1 - dy0).max(1e-12);
            (dy0 - pad, dy1 + pad)
        });
        let chart = builder
            .build_cartesian_2d(x0..x1, lo..hi)
            .map_err(plot_err)?;
        draw!(chart, |y: f64| y)
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

/// A legend entry's parts, drawn as its series is: up to four horizontal segments (pixel
/// offsets along 24 pixels: one for a line, two for a dashed line, four for a dotted one),
/// a filled circle, an open square.
fn legend_parts(style: Style) -> ([(i32, i32); 4], bool, bool) {
    const NONE: (i32, i32) = (0, 0);
    match style {
        Style::Line => ([(0, 24), NONE, NONE, NONE], false, false),
        Style::Dashed => ([(0, 9), (15, 24), NONE, NONE], false, false),
        Style::Dotted => ([(0, 2), (7, 9), (14, 16), (21, 23)], false, false),
        Style::Points => ([NONE; 4], true, false),
        Style::Squares => ([NONE; 4], false, true),
    }
}
