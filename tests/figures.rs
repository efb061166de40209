//! Every figure the project ships (`docs/**/*.svg`) and the plot `mlamp phase` writes are
//! rendered to PNG with resvg: a broken SVG (unparsable, empty, nothing drawn) fails here.
//! The PNGs go to `target/tmp/figures/` for a person to look at.

use std::path::{Path, PathBuf};

use mlamp::Model;
use mlamp::experiments::phase_report::{PhaseOptions, phase_model_file};
use mlamp::se::SeOptions;

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("figures");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Renders `svg` to `png` at its own size; the fraction of pixels that are not white.
fn render(svg: &Path, png: &Path) -> f64 {
    let data = std::fs::read(svg).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
    let mut opt = resvg::usvg::Options::default();
    let db = opt.fontdb_mut();
    db.load_system_fonts();
    // plotters asks for the generic `sans-serif`, which fontdb maps to Arial by default.
    if db
        .faces()
        .any(|f| f.families.iter().any(|(n, _)| n == "DejaVu Sans"))
    {
        db.set_sans_serif_family("DejaVu Sans");
    }
    let tree = resvg::usvg::Tree::from_data(&data, &opt)
        .unwrap_or_else(|e| panic!("{} does not parse: {e}", svg.display()));
    let size = tree.size().to_int_size();
    assert!(
        size.width() >= 100 && size.height() >= 100,
        "{}: {size:?}",
        svg.display()
    );
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap
        .save_png(png)
        .unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    let px = pixmap.pixels();
    let inked = px
        .iter()
        .filter(|p| p.alpha() > 0 && (p.red() < 240 || p.green() < 240 || p.blue() < 240))
        .count();
    inked as f64 / px.len() as f64
}

fn svgs(dir: &Path, found: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            svgs(&p, found);
        } else if p.extension().is_some_and(|x| x == "svg") {
            found.push(p);
        }
    }
}

/// Each shipped SVG renders and draws something (at least 1% of its pixels not white; a
/// blank canvas or a white page would not).
#[test]
fn shipped_figures_render() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut found = Vec::new();
    svgs(&docs, &mut found);
    found.sort();
    assert!(found.len() >= 8, "{found:?}");
    let out = out_dir();
    for svg in &found {
        let rel = svg
            .strip_prefix(&docs)
            .unwrap()
            .to_string_lossy()
            .replace('/', "_");
        let png = out.join(rel.replace(".svg", ".png"));
        let ink = render(svg, &png);
        eprintln!(
            "{} -> {} ({:.1}% inked)",
            svg.display(),
            png.display(),
            100.0 * ink
        );
        assert!(ink > 0.01, "{}: {ink}", svg.display());
    }
}

/// `mlamp phase`'s plot of the binary perceptron over [1, 2] (both thresholds in range, so
/// the three regions are shaded) renders.
#[test]
fn phase_plot_renders() {
    let dir = out_dir().join("phase-perceptron");
    let model = dir.join("perceptron1.toml");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        &model,
        "[prior]\ntype = \"binary\"\n[[layers]]\nalpha = 1.5\nchannel = { type = \"sign\" }\n",
    )
    .unwrap();
    Model::from_file(&model).unwrap();
    let opts = PhaseOptions {
        layer: 1,
        from: 1.0,
        to: 2.0,
        steps: 6,
        out: dir.clone(),
        se: SeOptions::default(),
    };
    let r = phase_model_file(&model, &opts, &|| {}).unwrap();
    assert!(r.alpha_alg.is_some() && r.alpha_it.is_some());
    let ink = render(Path::new(&r.plot), &out_dir().join("phase-perceptron.png"));
    assert!(ink > 0.05, "{ink}");
}
