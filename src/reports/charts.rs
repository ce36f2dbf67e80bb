//! The charts of an equity research report, drawn with plotters into SVG strings.
//!
//! Every chart is a complete SVG document (`<svg …>…</svg>`, no XML declaration, width and
//! height set) made only of `rect`, `line`/`polyline`, `circle` and `text` elements with
//! presentation attributes: no CSS, no external references. The HTML renderer inlines it and
//! the PDF renderer converts it to vector graphics (usvg). Text uses the font family
//! `sans-serif`; its layout is measured with the bundled DejaVu Sans, registered with plotters
//! on first use. Titles are written into the SVG as text (XML-escaped: `&` becomes `&amp;`).
//!
//! Non-finite values are skipped (never drawn as 0); a chart with nothing to draw is
//! [`ChartError::Empty`].

use std::ops::Range;

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::analytics::charts::COLORS;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// Nothing to draw; the text names what was missing.
    #[error("nothing to draw: {0}")]
    Empty(String),
    /// plotters failed while drawing.
    #[error("cannot draw the chart: {0}")]
    Draw(String),
}

/// One year of [`revenue_and_margins`]: `(label, revenue in currency units, gross margin,
/// EBITDA margin)`, margins as fractions.
pub type RevenueYear = (String, Option<f64>, Option<f64>, Option<f64>);

/// Title of [`pe_and_eps`].
pub const PE_EPS_TITLE: &str = "P/E and diluted EPS";
/// Title of [`revenue_and_margins`].
pub const REVENUE_TITLE: &str = "Revenue and margins";
/// Title of [`sensitivity_heatmap`].
pub const HEATMAP_TITLE: &str = "DCF value per share: WACC × terminal growth";

const FONT_FAMILY: &str = "sans-serif";
const TITLE_SIZE: u32 = 18;
const DESC_SIZE: u32 = 13;
const LABEL_SIZE: u32 = 12;
const LEGEND_SIZE: u32 = 12;

/// Size of the line and bar charts.
const WIDE: (u32, u32) = (720, 340);
/// Size of the heatmap.
const HEATMAP_SIZE: (u32, u32) = (720, 300);

const MESH_BOLD: RGBColor = RGBColor(218, 218, 218);
const MESH_LIGHT: RGBColor = RGBColor(242, 242, 242);
const LEGEND_BORDER: RGBColor = RGBColor(190, 190, 190);
const REFERENCE_LINE: RGBColor = RGBColor(150, 150, 150);
const SUBTLE_TEXT: RGBColor = RGBColor(90, 90, 90);
/// Heatmap: a cell without a value, its text, and the two ends of the colour scale.
const NA_FILL: RGBColor = RGBColor(215, 215, 215);
const NA_TEXT: RGBColor = RGBColor(80, 80, 80);
const SCALE_LOW: RGBColor = RGBColor(248, 105, 107);
const SCALE_HIGH: RGBColor = RGBColor(99, 190, 123);

/// Per-year charts: the x coordinate of the i-th year is `i * CATEGORY` (integer coordinates,
/// so that plotters formats them through our formatter), and a bar spans `±BAR_HALF` around it.
const CATEGORY: i32 = 10;
const BAR_HALF: i32 = 3;

/// Registers the bundled font under `sans-serif` (once per process).
fn ensure_font() {
    crate::analytics::charts::register_font();
}

fn draw_err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Draw(e.to_string())
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// A tick label: at most two decimals, trailing zeros dropped (`12`, `12.5`, `0.25`).
fn tick(v: f64) -> String {
    let s = format!("{v:.2}");
    let t = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s.as_str() };
    if t == "-0" { "0".to_string() } else { t.to_string() }
}

/// A percentage label for a fraction (`0.08` → `8.0%`).
fn pct(v: f64) -> String {
    if v.is_finite() { format!("{:.1}%", v * 100.0) } else { "n/a".to_string() }
}

/// The label of the category at `x` (categories sit at 0, `CATEGORY`, …; nothing between).
fn category_label(labels: &[&str], x: i32) -> String {
    if x < 0 || x % CATEGORY != 0 {
        return String::new();
    }
    labels.get((x / CATEGORY) as usize).map(|s| (*s).to_string()).unwrap_or_default()
}

/// The x coordinate of the i-th category.
fn category_x(i: usize) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX).saturating_mul(CATEGORY)
}

/// A padded axis range over the finite `values` (0..1 when there are none). With
/// `include_zero` the range reaches 0 (bars start there); `headroom` is the share of the data
/// span left free above the highest value (room for the legend).
fn axis_range(values: &[f64], include_zero: bool, headroom: f64) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &v in values.iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return 0.0..1.0;
    }
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let span = if hi - lo > 1e-12 { hi - lo } else { (hi.abs() * 0.2).max(1.0) };
    let bottom = if include_zero && lo >= 0.0 { 0.0 } else { lo - span * 0.06 };
    bottom..hi + span * headroom.max(0.06)
}

/// The colour of a heatmap cell: white at `reference`, turning red below it and green above
/// it, saturated at `span` away from it (`span` > 0).
fn scale_color(value: f64, reference: f64, span: f64) -> RGBColor {
    let t = ((value - reference) / span).clamp(-1.0, 1.0);
    let t = if t.is_finite() { t } else { 0.0 };
    let (end, t) = if t >= 0.0 { (SCALE_HIGH, t) } else { (SCALE_LOW, -t) };
    let mix = |c: u8| (255.0 + (f64::from(c) - 255.0) * t).round().clamp(0.0, 255.0) as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}

fn text_style(size: f64, color: &RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().color(color).pos(Pos::new(h, v))
}

// ---------------------------------------------------------------------------------------------
// Price vs index
// ---------------------------------------------------------------------------------------------

/// One rebased line of [`price_vs_index`].
struct Line {
    name: String,
    points: Vec<(NaiveDate, f64)>,
    color: RGBColor,
}

/// Finite, positive levels in date order (a rebased series needs a positive base).
fn positive_sorted(points: &[(NaiveDate, f64)]) -> Vec<(NaiveDate, f64)> {
    let mut out: Vec<(NaiveDate, f64)> =
        points.iter().copied().filter(|&(_, v)| v.is_finite() && v > 0.0).collect();
    out.sort_by_key(|&(d, _)| d);
    out
}

fn rebase(points: &[(NaiveDate, f64)], base: f64) -> Vec<(NaiveDate, f64)> {
    points.iter().map(|&(d, v)| (d, v / base * 100.0)).collect()
}

/// The stock's price against an index, both rebased to 100 (720×340).
///
/// The stock is rebased at its first point, the index at its first point on or after the
/// stock's first date; the index is drawn only within the stock's date range. Non-finite and
/// non-positive levels are skipped. The title is `{ticker} vs {index_name}, rebased to 100`;
/// when the index has no point in the stock's range the stock is drawn alone and the title
/// ends with ` (index: no data in this period)`.
///
/// Errors: [`ChartError::Empty`] when the stock has fewer than two usable points on distinct
/// dates.
pub fn price_vs_index(
    ticker: &str,
    stock: &[(NaiveDate, f64)],
    index_name: &str,
    index: &[(NaiveDate, f64)],
) -> Result<String, ChartError> {
    ensure_font();
    let stock = positive_sorted(stock);
    let (Some(&(x0, base)), Some(&(x1, _))) = (stock.first(), stock.last()) else {
        return Err(ChartError::Empty(format!("the price series of {ticker} has no usable point")));
    };
    if x0 >= x1 {
        return Err(ChartError::Empty(format!(
            "the price series of {ticker} needs at least two points on different dates"
        )));
    }
    let index_name = if index_name.trim().is_empty() { "index" } else { index_name };
    let index: Vec<(NaiveDate, f64)> =
        positive_sorted(index).into_iter().filter(|&(d, _)| (x0..=x1).contains(&d)).collect();
    let mut lines = vec![Line { name: ticker.to_string(), points: rebase(&stock, base), color: COLORS[0] }];
    let title = match index.first() {
        Some(&(_, index_base)) => {
            lines.push(Line {
                name: index_name.to_string(),
                points: rebase(&index, index_base),
                color: COLORS[1],
            });
            format!("{ticker} vs {index_name}, rebased to 100")
        }
        None => format!("{ticker} vs {index_name}, rebased to 100 (index: no data in this period)"),
    };
    let values: Vec<f64> =
        lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).chain(std::iter::once(100.0)).collect();
    let y = axis_range(&values, false, 0.25);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, WIDE).into_drawing_area();
        draw_price(&root, &title, &lines, x0..x1, y).map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

fn draw_price<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    lines: &[Line],
    x: Range<NaiveDate>,
    y: Range<f64>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (x0, x1) = (x.start, x.end);
    let date_format = if (x1 - x0).num_days() <= 92 { "%Y-%m-%d" } else { "%Y-%m" };
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT_FAMILY, TITLE_SIZE))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(56)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .bold_line_style(MESH_BOLD)
        .light_line_style(MESH_LIGHT)
        .max_light_lines(1)
        .x_labels(7)
        .x_label_formatter(&|d: &NaiveDate| d.format(date_format).to_string())
        .y_label_formatter(&|v: &f64| tick(*v))
        .y_desc("rebased to 100")
        .label_style((FONT_FAMILY, LABEL_SIZE))
        .axis_desc_style((FONT_FAMILY, DESC_SIZE))
        .draw()?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(x0, 100.0), (x1, 100.0)],
        REFERENCE_LINE.stroke_width(1),
    )))?;
    for line in lines {
        let color = line.color;
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), color.stroke_width(2)))?
            .label(line.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        if line.points.len() == 1 {
            // A single point makes no line: mark it.
            chart.draw_series(line.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(LEGEND_BORDER)
        .label_font((FONT_FAMILY, LEGEND_SIZE))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Per-year charts with two y axes
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bars,
    Line,
}

/// One per-year series; `values[i]` belongs to the i-th label, `None` is not drawn.
struct Series {
    name: &'static str,
    values: Vec<Option<f64>>,
    color: RGBColor,
    kind: Kind,
}

/// A chart over fiscal-year categories with a left and a right value axis.
struct DualSpec<'s> {
    title: &'s str,
    labels: Vec<&'s str>,
    left_desc: &'s str,
    right_desc: &'s str,
    left: Vec<Series>,
    right: Vec<Series>,
}

/// `(category x, value)` for every present value.
fn points(values: &[Option<f64>]) -> Vec<(i32, f64)> {
    values.iter().copied().enumerate().filter_map(|(i, v)| v.map(|v| (category_x(i), v))).collect()
}

/// Runs of consecutive categories with a value: a line is broken where a year is missing.
fn runs(values: &[Option<f64>]) -> Vec<Vec<(i32, f64)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for (i, v) in values.iter().copied().enumerate() {
        match v {
            Some(v) => current.push((category_x(i), v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn series_range(series: &[Series]) -> Range<f64> {
    let values: Vec<f64> = series.iter().flat_map(|s| s.values.iter().flatten().copied()).collect();
    axis_range(&values, true, 0.45)
}

fn render_dual(spec: &DualSpec<'_>) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, WIDE).into_drawing_area();
        draw_dual(&root, spec).map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Draws one [`Series`] through `$chart.$draw` (`draw_series` for the left axis,
/// `draw_secondary_series` for the right one).
macro_rules! draw_one {
    ($chart:ident, $draw:ident, $series:expr) => {{
        let s: &Series = $series;
        let color = s.color;
        match s.kind {
            Kind::Bars => {
                let bars = points(&s.values);
                if !bars.is_empty() {
                    $chart
                        .$draw(bars.iter().map(|&(x, v)| {
                            Rectangle::new([(x - BAR_HALF, 0.0), (x + BAR_HALF, v)], color.filled())
                        }))?
                        .label(s.name)
                        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
                }
            }
            Kind::Line => {
                // A run of one year is only its marker (a one-point polyline is invalid SVG).
                for run in runs(&s.values).into_iter().filter(|r| r.len() > 1) {
                    $chart.$draw(LineSeries::new(run, color.stroke_width(2)))?;
                }
                let marks = points(&s.values);
                if !marks.is_empty() {
                    $chart
                        .$draw(marks.iter().map(|&p| Circle::new(p, 3, color.filled())))?
                        .label(s.name)
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                        });
                }
            }
        }
    }};
}

fn draw_dual<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &DualSpec<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = spec.labels.len();
    let keys: Vec<i32> = (0..n).map(category_x).collect();
    let x_axis = || (-CATEGORY / 2..category_x(n).saturating_sub(CATEGORY / 2)).with_key_points(keys.clone());
    let mut chart = ChartBuilder::on(root)
        .caption(spec.title, (FONT_FAMILY, TITLE_SIZE))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(58)
        .right_y_label_area_size(58)
        .build_cartesian_2d(x_axis(), series_range(&spec.left))?
        .set_secondary_coord(x_axis(), series_range(&spec.right));
    let labels: &[&str] = &spec.labels;
    let fmt_x = |x: &i32| category_label(labels, *x);
    let fmt_y = |v: &f64| tick(*v);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(MESH_BOLD)
        .light_line_style(MESH_LIGHT)
        .max_light_lines(1)
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .y_desc(spec.left_desc)
        .label_style((FONT_FAMILY, LABEL_SIZE))
        .axis_desc_style((FONT_FAMILY, DESC_SIZE))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_label_formatter(&fmt_y)
        .y_desc(spec.right_desc)
        .label_style((FONT_FAMILY, LABEL_SIZE))
        .axis_desc_style((FONT_FAMILY, DESC_SIZE))
        .draw()?;
    // Bars first, so that lines stay visible on top of them.
    for kind in [Kind::Bars, Kind::Line] {
        for s in spec.left.iter().filter(|s| s.kind == kind) {
            draw_one!(chart, draw_series, s);
        }
        for s in spec.right.iter().filter(|s| s.kind == kind) {
            draw_one!(chart, draw_secondary_series, s);
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(LEGEND_BORDER)
        .label_font((FONT_FAMILY, LEGEND_SIZE))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}

/// P/E (line, left axis) and diluted EPS (bars, right axis) per fiscal year (720×340).
///
/// `years` holds `(label, P/E, diluted EPS)` in display order (labels such as `FY2019`); a
/// missing or non-finite value is not drawn (the P/E line is broken there). The title is
/// [`PE_EPS_TITLE`].
///
/// Errors: [`ChartError::Empty`] when no year has a P/E or an EPS value.
pub fn pe_and_eps(years: &[(String, Option<f64>, Option<f64>)]) -> Result<String, ChartError> {
    ensure_font();
    let pe: Vec<Option<f64>> = years.iter().map(|y| finite(y.1)).collect();
    let eps: Vec<Option<f64>> = years.iter().map(|y| finite(y.2)).collect();
    if pe.iter().chain(&eps).all(Option::is_none) {
        return Err(ChartError::Empty("P/E and diluted EPS: no value in any year".to_string()));
    }
    let spec = DualSpec {
        title: PE_EPS_TITLE,
        labels: years.iter().map(|y| y.0.as_str()).collect(),
        left_desc: "P/E",
        right_desc: "diluted EPS",
        left: vec![Series { name: "P/E (left)", values: pe, color: COLORS[1], kind: Kind::Line }],
        right: vec![Series { name: "diluted EPS (right)", values: eps, color: COLORS[0], kind: Kind::Bars }],
    };
    render_dual(&spec)
}

/// Revenue (bars in billions, left axis) with gross and EBITDA margins (lines in percent,
/// right axis) per fiscal year (720×340).
///
/// `years` holds `(label, revenue in currency units, gross margin, EBITDA margin)` with the
/// margins as fractions (`0.43` = 43%); a missing or non-finite value is not drawn. The title
/// is [`REVENUE_TITLE`].
///
/// Errors: [`ChartError::Empty`] when no year has any of the three values.
pub fn revenue_and_margins(years: &[RevenueYear]) -> Result<String, ChartError> {
    ensure_font();
    let revenue: Vec<Option<f64>> = years.iter().map(|y| finite(y.1.map(|v| v / 1e9))).collect();
    let gross: Vec<Option<f64>> = years.iter().map(|y| finite(y.2.map(|v| v * 100.0))).collect();
    let ebitda: Vec<Option<f64>> = years.iter().map(|y| finite(y.3.map(|v| v * 100.0))).collect();
    if revenue.iter().chain(&gross).chain(&ebitda).all(Option::is_none) {
        return Err(ChartError::Empty("revenue and margins: no value in any year".to_string()));
    }
    let spec = DualSpec {
        title: REVENUE_TITLE,
        labels: years.iter().map(|y| y.0.as_str()).collect(),
        left_desc: "revenue, billions",
        right_desc: "margin, %",
        left: vec![Series { name: "revenue (left)", values: revenue, color: COLORS[0], kind: Kind::Bars }],
        right: vec![
            Series { name: "gross margin (right)", values: gross, color: COLORS[1], kind: Kind::Line },
            Series { name: "EBITDA margin (right)", values: ebitda, color: COLORS[2], kind: Kind::Line },
        ],
    };
    render_dual(&spec)
}

// ---------------------------------------------------------------------------------------------
// DCF sensitivity heatmap
// ---------------------------------------------------------------------------------------------

/// The heatmap in display order.
struct Heatmap {
    row_labels: Vec<String>,
    col_labels: Vec<String>,
    cells: Vec<Vec<Option<f64>>>,
    reference: f64,
    span: f64,
    subtitle: String,
}

/// The DCF value per share over WACC (rows) × terminal growth (columns) (720×300).
///
/// `per_share[i][j]` is the value at `waccs[i]` and `growths[j]`; rates are fractions
/// (`0.08` is labelled `8.0%`). Rows are shown by ascending WACC from top to bottom, columns
/// by ascending growth from left to right. Each cell prints its value with two decimals and is
/// coloured white at the reference, red below it and green above it (saturated at ±50% of the
/// reference); the reference is `price` when given (finite and positive), else the median of
/// the grid. A missing or non-finite value (or a cell the grid lacks) is a grey `n/a` cell.
/// The title is [`HEATMAP_TITLE`].
///
/// Errors: [`ChartError::Empty`] when there is no WACC, no growth rate, or no value at all.
pub fn sensitivity_heatmap(
    waccs: &[f64],
    growths: &[f64],
    per_share: &[Vec<Option<f64>>],
    price: Option<f64>,
) -> Result<String, ChartError> {
    ensure_font();
    if waccs.is_empty() || growths.is_empty() {
        return Err(ChartError::Empty("the sensitivity grid has no WACC or no growth rate".to_string()));
    }
    let mut row_order: Vec<usize> = (0..waccs.len()).collect();
    row_order.sort_by(|&a, &b| waccs[a].total_cmp(&waccs[b]));
    let mut col_order: Vec<usize> = (0..growths.len()).collect();
    col_order.sort_by(|&a, &b| growths[a].total_cmp(&growths[b]));
    let cells: Vec<Vec<Option<f64>>> = row_order
        .iter()
        .map(|&r| {
            col_order
                .iter()
                .map(|&c| finite(per_share.get(r).and_then(|row| row.get(c)).copied().flatten()))
                .collect()
        })
        .collect();
    let mut values: Vec<f64> = cells.iter().flatten().flatten().copied().collect();
    if values.is_empty() {
        return Err(ChartError::Empty("the sensitivity grid has no value".to_string()));
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    let median =
        if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] };
    let price = price.filter(|p| p.is_finite() && *p > 0.0);
    let reference = price.unwrap_or(median);
    let span = if reference.abs() > 1e-9 {
        reference.abs() * 0.5
    } else {
        values.iter().map(|v| (v - reference).abs()).fold(0.0, f64::max).max(1e-9)
    };
    let subtitle = match price {
        Some(p) => format!("colour: value vs the price {p:.2} (green above, red below)"),
        None => format!("colour: value vs the grid median {median:.2} (green above, red below)"),
    };
    let map = Heatmap {
        row_labels: row_order.iter().map(|&r| pct(waccs[r])).collect(),
        col_labels: col_order.iter().map(|&c| pct(growths[c])).collect(),
        cells,
        reference,
        span,
        subtitle,
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, HEATMAP_SIZE).into_drawing_area();
        draw_heatmap(&root, &map).map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    map: &Heatmap,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let label = f64::from(DESC_SIZE);
    root.draw(&Text::new(
        HEATMAP_TITLE,
        (w / 2, 8),
        text_style(f64::from(TITLE_SIZE), &BLACK, HPos::Center, VPos::Top),
    ))?;
    root.draw(&Text::new(
        map.subtitle.as_str(),
        (w / 2, 32),
        text_style(f64::from(LABEL_SIZE), &SUBTLE_TEXT, HPos::Center, VPos::Top),
    ))?;

    let (left, right, top, bottom) = (120, w - 20, 80, h - 10);
    let rows = map.cells.len().max(1);
    let cols = map.col_labels.len().max(1);
    let x_at = |c: usize| left + (f64::from(right - left) * c as f64 / cols as f64).round() as i32;
    let y_at = |r: usize| top + (f64::from(bottom - top) * r as f64 / rows as f64).round() as i32;
    let header_y = top - 14;

    root.draw(&Text::new(
        "WACC \\ growth",
        (left - 10, header_y),
        text_style(label, &SUBTLE_TEXT, HPos::Right, VPos::Center),
    ))?;
    for (c, text) in map.col_labels.iter().enumerate() {
        root.draw(&Text::new(
            text.as_str(),
            ((x_at(c) + x_at(c + 1)) / 2, header_y),
            text_style(label, &BLACK, HPos::Center, VPos::Center),
        ))?;
    }

    // The cell font shrinks when cells are small.
    let longest = map.cells.iter().flatten().map(|v| v.map_or(3, |v| format!("{v:.2}").len())).max();
    let cell_w = f64::from(right - left) / cols as f64;
    let cell_h = f64::from(bottom - top) / rows as f64;
    let cell_font = label.min(cell_h * 0.5).min(cell_w / (longest.unwrap_or(3) as f64 * 0.62)).max(7.0);

    for (r, row) in map.cells.iter().enumerate() {
        let (y0, y1) = (y_at(r), y_at(r + 1));
        if let Some(text) = map.row_labels.get(r) {
            root.draw(&Text::new(
                text.as_str(),
                (left - 10, (y0 + y1) / 2),
                text_style(label, &BLACK, HPos::Right, VPos::Center),
            ))?;
        }
        for (c, cell) in row.iter().enumerate() {
            let (x0, x1) = (x_at(c), x_at(c + 1));
            let (fill, text, ink) = match cell {
                Some(v) => (scale_color(*v, map.reference, map.span), format!("{v:.2}"), BLACK),
                None => (NA_FILL, "n/a".to_string(), NA_TEXT),
            };
            root.draw(&Rectangle::new([(x0 + 1, y0 + 1), (x1 - 1, y1 - 1)], fill.filled()))?;
            root.draw(&Text::new(
                text,
                ((x0 + x1) / 2, (y0 + y1) / 2),
                text_style(cell_font, &ink, HPos::Center, VPos::Center),
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn daily(start: NaiveDate, n: u64, f: impl Fn(u64) -> f64) -> Vec<(NaiveDate, f64)> {
        (0..n).map(|i| (start + chrono::Days::new(i), f(i))).collect()
    }

    fn assert_svg(svg: &str, title: &str) {
        assert!(svg.starts_with("<svg"), "starts with <svg: {}", &svg[..svg.len().min(80)]);
        assert!(svg.trim_end().ends_with("</svg>"), "a complete document");
        assert!(svg.contains(title), "contains the title {title}");
    }

    #[test]
    fn price_vs_index_draws_both_lines() {
        let stock = daily(date(2024, 1, 1), 90, |i| 50.0 + i as f64);
        let mut index = daily(date(2023, 12, 1), 150, |i| 4000.0 + 3.0 * i as f64);
        index[40].1 = f64::NAN;
        let svg = price_vs_index("AAPL", &stock, "SPX", &index).expect("chart");
        assert_svg(&svg, "AAPL vs SPX, rebased to 100");
        assert!(!svg.contains("no data in this period"));
        assert!(svg.contains("rebased to 100"));
    }

    #[test]
    fn index_ending_before_the_stock_still_draws_the_stock() {
        let stock = daily(date(2024, 1, 1), 60, |i| 50.0 + i as f64);
        let index = daily(date(2023, 1, 1), 30, |i| 4000.0 + i as f64);
        let svg = price_vs_index("AAPL", &stock, "SPX", &index).expect("chart");
        assert_svg(&svg, "AAPL vs SPX");
        assert!(svg.contains("(index: no data in this period)"));
    }

    #[test]
    fn price_without_usable_points_is_empty() {
        let index = daily(date(2024, 1, 1), 30, |i| 4000.0 + i as f64);
        assert!(matches!(price_vs_index("AAPL", &[], "SPX", &index), Err(ChartError::Empty(_))));
        let nan = daily(date(2024, 1, 1), 30, |_| f64::NAN);
        assert!(matches!(price_vs_index("AAPL", &nan, "SPX", &index), Err(ChartError::Empty(_))));
        let one = daily(date(2024, 1, 1), 1, |_| 10.0);
        assert!(matches!(price_vs_index("AAPL", &one, "SPX", &index), Err(ChartError::Empty(_))));
    }

    #[test]
    fn pe_and_eps_draws_with_gaps() {
        let years = vec![
            ("FY2019".to_string(), Some(18.5), Some(2.97)),
            ("FY2020".to_string(), None, Some(3.28)),
            ("FY2021".to_string(), Some(28.9), None),
            ("FY2022".to_string(), Some(f64::INFINITY), Some(-0.5)),
            ("FY2023".to_string(), Some(29.8), Some(6.13)),
        ];
        let svg = pe_and_eps(&years).expect("chart");
        assert_svg(&svg, PE_EPS_TITLE);
        assert!(svg.contains("FY2019") && svg.contains("FY2023"));
    }

    #[test]
    fn pe_and_eps_without_values_is_empty() {
        assert!(matches!(pe_and_eps(&[]), Err(ChartError::Empty(_))));
        let none = vec![("FY2019".to_string(), None, Some(f64::NAN))];
        assert!(matches!(pe_and_eps(&none), Err(ChartError::Empty(_))));
    }

    #[test]
    fn revenue_and_margins_draws() {
        let years = vec![
            ("FY2021".to_string(), Some(365.8e9), Some(0.418), Some(0.329)),
            ("FY2022".to_string(), Some(394.3e9), None, Some(0.333)),
            ("FY2023".to_string(), Some(383.3e9), Some(0.441), Some(0.329)),
        ];
        let svg = revenue_and_margins(&years).expect("chart");
        assert_svg(&svg, REVENUE_TITLE);
        assert!(svg.contains("revenue, billions"));
        let one = vec![("FY2023".to_string(), Some(1.0e9), None, None)];
        assert_svg(&revenue_and_margins(&one).expect("one year"), REVENUE_TITLE);
    }

    #[test]
    fn revenue_and_margins_without_values_is_empty() {
        assert!(matches!(revenue_and_margins(&[]), Err(ChartError::Empty(_))));
        let none = vec![("FY2023".to_string(), None, None, Some(f64::NAN))];
        assert!(matches!(revenue_and_margins(&none), Err(ChartError::Empty(_))));
    }

    #[test]
    fn heatmap_prints_values_and_na() {
        let waccs = [0.09, 0.08];
        let growths = [0.025, 0.02];
        let grid = vec![vec![Some(150.0), None], vec![Some(171.234), Some(f64::NAN)]];
        let svg = sensitivity_heatmap(&waccs, &growths, &grid, Some(160.0)).expect("chart");
        assert_svg(&svg, HEATMAP_TITLE);
        assert!(svg.contains("n/a"));
        assert!(svg.contains("171.23") && svg.contains("150.00"));
        assert!(svg.contains("8.0%") && svg.contains("2.5%"));
        // WACC ascending top to bottom: 8.0% is drawn before 9.0%.
        let (Some(a), Some(b)) = (svg.find(">\n8.0%"), svg.find(">\n9.0%")) else {
            panic!("row labels missing")
        };
        assert!(a < b);
        let median = sensitivity_heatmap(&waccs, &growths, &grid, None).expect("chart");
        assert!(median.contains("grid median"));
    }

    #[test]
    fn heatmap_without_values_is_empty() {
        assert!(matches!(sensitivity_heatmap(&[], &[0.02], &[], None), Err(ChartError::Empty(_))));
        let none = vec![vec![None, Some(f64::NAN)]];
        assert!(matches!(
            sensitivity_heatmap(&[0.08], &[0.02, 0.025], &none, Some(100.0)),
            Err(ChartError::Empty(_))
        ));
    }

    #[test]
    fn helpers() {
        assert_eq!(tick(12.0), "12");
        assert_eq!(tick(12.5), "12.5");
        assert_eq!(tick(-0.001), "0");
        assert_eq!(category_label(&["a", "b"], CATEGORY), "b");
        assert_eq!(category_label(&["a", "b"], CATEGORY / 2), "");
        assert_eq!(category_label(&["a", "b"], 2 * CATEGORY), "");
        assert_eq!(category_label(&["a", "b"], -CATEGORY), "");
        assert_eq!(runs(&[Some(1.0), None, Some(2.0), Some(3.0)]).len(), 2);
        assert_eq!(scale_color(100.0, 100.0, 50.0), WHITE);
        assert_eq!(scale_color(200.0, 100.0, 50.0), SCALE_HIGH);
        assert_eq!(scale_color(0.0, 100.0, 50.0), SCALE_LOW);
        let r = axis_range(&[2.0, 4.0], true, 0.45);
        assert!(r.start.abs() < 1e-12 && r.end > 4.0);
    }
}
