//! Line charts of dated series as PNG or SVG through plotters. Text in PNGs is drawn with
//! the bundled DejaVu Sans, so no system font is needed; files are written atomically.

use std::path::{Path, PathBuf};
use std::sync::Once;

use chrono::NaiveDate;
use plotters::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The bundled font (DejaVu Sans, see `assets/fonts/DejaVuSans.LICENSE`), shared by every
/// chart and the PDF renderer.
pub static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Registers the bundled font as plotters' `sans-serif` (once per process): plotters measures
/// every caption and label with it, and draws PNG text with it.
pub fn register_font() {
    REGISTER.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            tracing::warn!("the bundled chart font could not be loaded; chart text will be missing");
        }
    });
}

/// Image format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChartFormat {
    #[default]
    Png,
    Svg,
}

impl ChartFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ChartFormat::Png => "png",
            ChartFormat::Svg => "svg",
        }
    }
}

/// One line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(NaiveDate, f64)>,
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("nothing to draw: {0}")]
    Empty(String),
    #[error("cannot draw the chart `{}`: {reason}", path.display())]
    Draw { path: PathBuf, reason: String },
    #[error("cannot write the chart `{}`: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// The series colours of every chart.
pub(crate) const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

/// Draws `series` as lines over dates into `path` (its extension picks nothing: `format` does).
pub fn line_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &[Series],
    format: ChartFormat,
) -> Result<(), ChartError> {
    register_font();
    let points = series.iter().flat_map(|s| s.points.iter()).filter(|(_, y)| y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (NaiveDate::MAX, NaiveDate::MIN, f64::INFINITY, f64::NEG_INFINITY);
    let mut n = 0usize;
    for (x, y) in points {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
        n += 1;
    }
    if n < 2 || x0 >= x1 {
        return Err(ChartError::Empty(format!("`{title}` needs at least two dated points")));
    }
    let pad = ((y1 - y0) * 0.05).max(y1.abs() * 1e-6).max(1e-9);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|source| ChartError::Write { path: path.to_path_buf(), source })?;
    let draw_err =
        |e: &dyn std::fmt::Display| ChartError::Draw { path: path.to_path_buf(), reason: e.to_string() };
    let size = (960u32, 540u32);
    match format {
        ChartFormat::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                draw(&root, title, y_label, series, (x0, x1, y0, y1)).map_err(|e| draw_err(&e))?;
                root.present().map_err(|e| draw_err(&e))?;
            }
            crate::jobs::base::write_lines_atomically(path, &[svg])
                .map_err(|e| ChartError::Draw { path: path.to_path_buf(), reason: e.to_string() })
        }
        ChartFormat::Png => {
            // Drawn under a temporary name ending in .png (the encoder picks the format by
            // extension), then renamed into place.
            let tmp = tempfile::Builder::new()
                .prefix(".chart-")
                .suffix(".png")
                .tempfile_in(&dir)
                .map_err(|source| ChartError::Write { path: path.to_path_buf(), source })?;
            {
                let root = BitMapBackend::new(tmp.path(), size).into_drawing_area();
                draw(&root, title, y_label, series, (x0, x1, y0, y1)).map_err(|e| draw_err(&e))?;
                root.present().map_err(|e| draw_err(&e))?;
            }
            tmp.persist(path).map_err(|e| ChartError::Write { path: path.to_path_buf(), source: e.error })?;
            Ok(())
        }
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_label: &str,
    series: &[Series],
    (x0, x1, y0, y1): (NaiveDate, NaiveDate, f64, f64),
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .y_desc(y_label)
        .x_labels(8)
        .x_label_formatter(&|d| d.format("%Y-%m").to_string())
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                s.points.iter().filter(|(_, y)| y.is_finite()).copied(),
                color.stroke_width(2),
            ))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> Vec<Series> {
        let d0 = NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
        let points = (0..30).map(|i| (d0 + chrono::Days::new(i), 100.0 + i as f64)).collect();
        vec![Series { name: "AAPL".into(), points }]
    }

    #[test]
    fn png_and_svg_are_written_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let png = dir.path().join("c.png");
        line_chart(&png, "AAPL close", "USD", &series(), ChartFormat::Png).expect("png");
        let bytes = std::fs::read(&png).expect("read");
        assert_eq!(&bytes[1..4], b"PNG");
        let svg = dir.path().join("c.svg");
        line_chart(&svg, "AAPL close", "USD", &series(), ChartFormat::Svg).expect("svg");
        let text = std::fs::read_to_string(&svg).expect("read");
        assert!(text.contains("<svg") && text.contains("AAPL close"));
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").filter_map(Result::ok).collect();
        assert_eq!(left.len(), 2, "no temporary file left behind");
    }

    #[test]
    fn one_point_is_an_error_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let one = vec![Series { name: "x".into(), points: vec![(NaiveDate::MIN, 1.0)] }];
        let path = dir.path().join("c.png");
        assert!(matches!(line_chart(&path, "t", "y", &one, ChartFormat::Png), Err(ChartError::Empty(_))));
        assert!(!path.exists());
    }
}
