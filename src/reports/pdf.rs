//! PDF rendering of a report [`Document`], in process: A4 portrait pages written with krilla,
//! text in the bundled DejaVu Sans, charts embedded as vector graphics (krilla-svg).
//!
//! Layout is a small flow engine of its own. A cursor moves down the page; a block that does
//! not fit starts a new page: paragraphs and lists break between lines, tables between rows
//! (repeating the header row), charts never split and move whole to the next page. Text is
//! word-wrapped by widths measured with ab_glyph at the drawn size; a word wider than the line
//! is broken between characters. Every page is laid out into a display list first, so that the
//! footer can say "page N of M", and only then drawn.

use ab_glyph::{Font as _, FontRef, GlyphId};
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Paint, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla_svg::{SurfaceExt, SvgSettings};

use super::doc::{Block, Document, Table};

// The bundled font: every piece of text, including chart labels, is drawn with it.
use crate::analytics::charts::FONT;
/// The family name of [`FONT`], which SVG generic families (`sans-serif`, …) resolve to.
const FONT_FAMILY: &str = "DejaVu Sans";

/// A4 portrait, in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 50.0;
const MARGIN_TOP: f32 = 56.0;
const MARGIN_BOTTOM: f32 = 60.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
/// The lowest y that content may reach.
const BOTTOM: f32 = PAGE_H - MARGIN_BOTTOM;
/// Room kept under a heading so that it does not end a page alone (about three body lines).
const KEEP_WITH_NEXT: f32 = 40.0;
const CELL_PAD_X: f32 = 3.0;
const CELL_PAD_Y: f32 = 2.0;

/// An error while rendering a report as PDF.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The bundled font could not be parsed.
    #[error("cannot load the bundled font: {0}")]
    Font(String),
    /// A chart's SVG could not be parsed.
    #[error("cannot read chart `{title}` as SVG: {reason}")]
    Svg {
        /// The chart's title.
        title: String,
        /// What the SVG parser said.
        reason: String,
    },
    /// krilla could not write the PDF.
    #[error("cannot write the PDF: {0}")]
    Write(String),
}

/// Renders `doc` as an A4 PDF and returns its bytes.
///
/// Fails only when the bundled font cannot be loaded, a chart is not valid SVG
/// ([`PdfError::Svg`] names the chart) or krilla cannot serialise the document.
pub fn render_pdf(doc: &Document) -> Result<Vec<u8>, PdfError> {
    let metrics = Metrics::load()?;
    let font = Font::new(FONT.into(), 0)
        .ok_or_else(|| PdfError::Font("krilla cannot read the font file".to_owned()))?;
    let mut layout = Layout::new(&metrics);
    layout.document(doc)?;
    let (pages, trees) = layout.finish(&doc.footer);
    write_pdf(doc, &pages, &trees, &font)
}

/// An sRGB colour.
#[derive(Clone, Copy)]
struct Rgb(u8, u8, u8);

const INK: Rgb = Rgb(33, 33, 33);
const GREY: Rgb = Rgb(105, 105, 105);
const DARK_BLUE: Rgb = Rgb(22, 54, 110);
const BOX_FILL: Rgb = Rgb(241, 241, 241);
const HEADER_FILL: Rgb = Rgb(220, 232, 246);
const GRID: Rgb = Rgb(170, 170, 170);
const FOOTER_RULE: Rgb = Rgb(200, 200, 200);

/// Size, line height (a multiple of the size) and colour of a kind of text.
#[derive(Clone, Copy)]
struct Style {
    size: f32,
    leading: f32,
    color: Rgb,
}

impl Style {
    fn line_height(self) -> f32 {
        self.size * self.leading
    }
}

const TITLE: Style = Style { size: 20.0, leading: 1.2, color: DARK_BLUE };
const SUBTITLE: Style = Style { size: 10.0, leading: 1.3, color: GREY };
const KEY_LABEL: Style = Style { size: 9.0, leading: 1.3, color: GREY };
const KEY_VALUE: Style = Style { size: 9.0, leading: 1.3, color: INK };
const H1: Style = Style { size: 14.0, leading: 1.25, color: DARK_BLUE };
const H2: Style = Style { size: 11.5, leading: 1.25, color: DARK_BLUE };
const BODY: Style = Style { size: 9.5, leading: 1.35, color: INK };
const NOTE: Style = Style { size: 8.0, leading: 1.3, color: GREY };
const CAPTION: Style = Style { size: 9.0, leading: 1.3, color: INK };
const CELL: Style = Style { size: 7.5, leading: 1.25, color: INK };
const TABLE_NOTE: Style = Style { size: 7.5, leading: 1.3, color: GREY };
const CHART_TITLE: Style = Style { size: 9.5, leading: 1.3, color: INK };
const CHART_CAPTION: Style = Style { size: 8.0, leading: 1.3, color: GREY };
const FOOTER: Style = Style { size: 7.5, leading: 1.2, color: GREY };

/// Widths and vertical metrics of the bundled font.
struct Metrics {
    face: FontRef<'static>,
    units_per_em: f32,
    /// Ascender, in ems (positive).
    ascent: f32,
    /// Descender, in ems (negative).
    descent: f32,
}

impl Metrics {
    fn load() -> Result<Self, PdfError> {
        let face = FontRef::try_from_slice(FONT).map_err(|e| PdfError::Font(e.to_string()))?;
        let units_per_em = face
            .units_per_em()
            .filter(|units| *units > 0.0)
            .ok_or_else(|| PdfError::Font("the font has no units per em".to_owned()))?;
        let ascent = face.ascent_unscaled() / units_per_em;
        let descent = face.descent_unscaled() / units_per_em;
        Ok(Self { face, units_per_em, ascent, descent })
    }

    /// The advance width of `text` at `size` points, kerning included.
    fn width(&self, text: &str, size: f32) -> f32 {
        let mut units = 0.0;
        let mut previous: Option<GlyphId> = None;
        for c in text.chars() {
            let id = self.face.glyph_id(c);
            if let Some(previous) = previous {
                units += self.face.kern_unscaled(previous, id);
            }
            units += self.face.h_advance_unscaled(id);
            previous = Some(id);
        }
        units * size / self.units_per_em
    }

    /// The baseline's distance from the top of a line box of `style`: the glyphs' extent is
    /// centred in the line height.
    fn baseline(&self, style: Style) -> f32 {
        let extent = (self.ascent - self.descent) * style.size;
        (style.line_height() - extent) / 2.0 + self.ascent * style.size
    }
}

/// Breaks `text` into lines no wider than `max_width` at `size` points. Runs of whitespace
/// are one break opportunity; a word wider than a line is broken between characters (a
/// single character wider than the line gets a line of its own). No text gives no lines.
fn wrap(metrics: &Metrics, text: &str, size: f32, max_width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() {
            let mut candidate = String::with_capacity(line.len() + 1 + word.len());
            candidate.push_str(&line);
            candidate.push(' ');
            candidate.push_str(word);
            if metrics.width(&candidate, size) <= max_width {
                line = candidate;
                continue;
            }
            lines.push(std::mem::take(&mut line));
        }
        if metrics.width(word, size) <= max_width {
            line.push_str(word);
            continue;
        }
        for c in word.chars() {
            let mut candidate = line.clone();
            candidate.push(c);
            if !line.is_empty() && metrics.width(&candidate, size) > max_width {
                lines.push(std::mem::take(&mut line));
                line.push(c);
            } else {
                line = candidate;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` cut to `max_width` with an ellipsis when it is wider.
fn truncate(metrics: &Metrics, text: &str, size: f32, max_width: f32) -> String {
    if metrics.width(text, size) <= max_width {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        let mut candidate = out.clone();
        candidate.push(c);
        candidate.push('…');
        if metrics.width(&candidate, size) > max_width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// A rectangle on the page (origin top left, y down).
#[derive(Clone, Copy)]
struct Area {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

/// One drawing operation of a laid-out page.
enum Op {
    /// One line of text; `baseline` is the y of its baseline.
    Text { x: f32, baseline: f32, style: Style, text: String },
    /// A filled rectangle.
    Fill { area: Area, color: Rgb },
    /// A straight stroked line.
    Line { from: (f32, f32), to: (f32, f32), width: f32, color: Rgb },
    /// A chart: the parsed SVG `tree` (an index into the layout's trees) scaled into `area`.
    Svg { area: Area, tree: usize },
}

/// The wrapped lines of one table row and its height.
struct Row {
    cells: Vec<Vec<String>>,
    height: f32,
}

/// Column widths and alignments of a table.
struct Grid<'t> {
    widths: &'t [f32],
    numeric: &'t [bool],
}

/// One wrapped label / value pair of the key data box.
struct KeyCell {
    label: Vec<String>,
    value: Vec<String>,
}

/// The flow layout: finished pages, the page being filled and the cursor on it.
struct Layout<'a> {
    metrics: &'a Metrics,
    svg_options: usvg::Options<'static>,
    trees: Vec<usvg::Tree>,
    done: Vec<Vec<Op>>,
    current: Vec<Op>,
    y: f32,
}

impl<'a> Layout<'a> {
    fn new(metrics: &'a Metrics) -> Self {
        let mut svg_options =
            usvg::Options { font_family: FONT_FAMILY.to_owned(), ..usvg::Options::default() };
        let fontdb = svg_options.fontdb_mut();
        fontdb.load_font_data(FONT.to_vec());
        fontdb.set_serif_family(FONT_FAMILY);
        fontdb.set_sans_serif_family(FONT_FAMILY);
        fontdb.set_monospace_family(FONT_FAMILY);
        fontdb.set_cursive_family(FONT_FAMILY);
        fontdb.set_fantasy_family(FONT_FAMILY);
        Self { metrics, svg_options, trees: Vec::new(), done: Vec::new(), current: Vec::new(), y: MARGIN_TOP }
    }

    fn at_top(&self) -> bool {
        self.y <= MARGIN_TOP + 0.5
    }

    fn new_page(&mut self) {
        let page = std::mem::take(&mut self.current);
        self.done.push(page);
        self.y = MARGIN_TOP;
    }

    /// Starts a new page unless `height` fits under the cursor (or the page is still empty:
    /// what does not fit on an empty page goes there anyway).
    fn ensure(&mut self, height: f32) {
        if self.y + height > BOTTOM && !self.at_top() {
            self.new_page();
        }
    }

    /// Vertical space, dropped at the top of a page.
    fn space(&mut self, height: f32) {
        if !self.at_top() {
            self.y += height;
        }
    }

    fn width(&self, text: &str, style: Style) -> f32 {
        self.metrics.width(text, style.size)
    }

    fn wrap(&self, text: &str, style: Style, width: f32) -> Vec<String> {
        wrap(self.metrics, text, style.size, width)
    }

    /// One line of text whose line box starts at `top`.
    fn text(&mut self, x: f32, top: f32, style: Style, text: &str) {
        if text.is_empty() {
            return;
        }
        let baseline = top + self.metrics.baseline(style);
        self.current.push(Op::Text { x, baseline, style, text: text.to_owned() });
    }

    /// Lines stacked from `top`, without page breaks.
    fn lines_at(&mut self, lines: &[String], x: f32, top: f32, style: Style) {
        let height = style.line_height();
        for (i, line) in lines.iter().enumerate() {
            self.text(x, top + i as f32 * height, style, line);
        }
    }

    /// Lines at the cursor, breaking pages between lines.
    fn flow(&mut self, lines: &[String], x: f32, style: Style) {
        let height = style.line_height();
        for line in lines {
            self.ensure(height);
            self.text(x, self.y, style, line);
            self.y += height;
        }
    }

    fn paragraph(&mut self, text: &str, style: Style) {
        let lines = self.wrap(text, style, CONTENT_W);
        self.flow(&lines, MARGIN_X, style);
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Rgb) {
        self.current.push(Op::Line { from, to, width, color });
    }

    fn document(&mut self, doc: &Document) -> Result<(), PdfError> {
        self.paragraph(&doc.title, TITLE);
        if !doc.subtitle.trim().is_empty() {
            self.space(2.0);
            self.paragraph(&doc.subtitle, SUBTITLE);
        }
        self.space(12.0);
        if !doc.key_data.is_empty() {
            self.key_data(&doc.key_data);
            self.space(14.0);
        }
        for block in &doc.blocks {
            match block {
                Block::Heading { level, text, .. } => self.heading(*level, text),
                Block::Paragraph { text } => {
                    self.paragraph(text, BODY);
                    self.space(6.0);
                }
                Block::Note { text } => {
                    self.paragraph(text, NOTE);
                    self.space(5.0);
                }
                Block::Bullets { items } => self.bullets(items),
                Block::Table(table) => self.table(table),
                Block::Chart { title, svg, caption } => self.chart(title, svg, caption)?,
            }
        }
        Ok(())
    }

    fn heading(&mut self, level: u8, text: &str) {
        let section = level <= 1;
        let (style, before, after) = if section { (H1, 14.0, 8.0) } else { (H2, 10.0, 4.0) };
        self.space(before);
        let lines = self.wrap(text, style, CONTENT_W);
        self.ensure(lines.len() as f32 * style.line_height() + after + KEEP_WITH_NEXT);
        self.flow(&lines, MARGIN_X, style);
        if section {
            let y = self.y + 2.0;
            self.line((MARGIN_X, y), (MARGIN_X + CONTENT_W, y), 0.6, DARK_BLUE);
        }
        self.y += after;
    }

    /// The key data box: label / value pairs in two columns on a light-grey panel, which
    /// continues on the next page (as a new panel) if it does not fit.
    fn key_data(&mut self, pairs: &[(String, String)]) {
        const PAD: f32 = 7.0;
        const GAP: f32 = 16.0;
        const LABEL_GAP: f32 = 8.0;
        const ROW_GAP: f32 = 3.0;
        let column = (CONTENT_W - 2.0 * PAD - GAP) / 2.0;
        let widest = pairs
            .iter()
            .map(|(label, _)| {
                let label = label.split_whitespace().collect::<Vec<_>>().join(" ");
                self.width(&label, KEY_LABEL)
            })
            .fold(0.0_f32, f32::max);
        let label_w = (widest + LABEL_GAP).min(column * 0.45);
        let value_w = column - label_w;
        let line = KEY_VALUE.line_height();
        let rows: Vec<Vec<KeyCell>> = pairs
            .chunks(2)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|(label, value)| KeyCell {
                        label: self.wrap(label, KEY_LABEL, label_w - LABEL_GAP),
                        value: self.wrap(value, KEY_VALUE, value_w),
                    })
                    .collect()
            })
            .collect();
        let heights: Vec<f32> = rows
            .iter()
            .map(|cells| {
                let lines =
                    cells.iter().map(|cell| cell.label.len().max(cell.value.len())).max().unwrap_or(0).max(1);
                lines as f32 * line + ROW_GAP
            })
            .collect();

        self.ensure(heights.first().copied().unwrap_or(0.0) + 2.0 * PAD);
        let mut start = self.current.len();
        let mut top = self.y;
        self.y += PAD;
        for (cells, &height) in rows.iter().zip(&heights) {
            if self.y + height + PAD > BOTTOM && self.y > top + PAD + 0.5 {
                self.close_panel(start, top, PAD);
                self.new_page();
                start = self.current.len();
                top = self.y;
                self.y += PAD;
            }
            for (i, cell) in cells.iter().enumerate() {
                let x = MARGIN_X + PAD + i as f32 * (column + GAP);
                self.lines_at(&cell.label, x, self.y, KEY_LABEL);
                self.lines_at(&cell.value, x + label_w, self.y, KEY_VALUE);
            }
            self.y += height;
        }
        self.y -= ROW_GAP;
        self.close_panel(start, top, PAD);
    }

    /// Puts the panel from `top` to the cursor (plus `pad`) under the operations pushed since
    /// `start`, and moves the cursor under it.
    fn close_panel(&mut self, start: usize, top: f32, pad: f32) {
        let area = Area { x: MARGIN_X, y: top, w: CONTENT_W, h: self.y + pad - top };
        let index = start.min(self.current.len());
        self.current.insert(index, Op::Fill { area, color: BOX_FILL });
        self.y += pad;
    }

    fn bullets(&mut self, items: &[String]) {
        const INDENT: f32 = 16.0;
        let height = BODY.line_height();
        for item in items {
            let mut lines = self.wrap(item, BODY, CONTENT_W - INDENT);
            if lines.is_empty() {
                lines.push(String::new());
            }
            for (i, line) in lines.iter().enumerate() {
                self.ensure(height);
                if i == 0 {
                    self.text(MARGIN_X + 5.0, self.y, BODY, "•");
                }
                self.text(MARGIN_X + INDENT, self.y, BODY, line);
                self.y += height;
            }
            self.y += 2.5;
        }
        self.space(4.0);
    }

    fn table(&mut self, table: &Table) {
        let columns =
            table.rows.iter().map(Vec::len).chain(std::iter::once(table.header.len())).max().unwrap_or(0);
        let widths = if columns == 0 { Vec::new() } else { self.column_widths(table, columns) };
        let header =
            if table.header.is_empty() { None } else { Some(self.prepare_row(&table.header, &widths)) };
        let rows: Vec<Row> = table.rows.iter().map(|row| self.prepare_row(row, &widths)).collect();
        let grid = Grid { widths: &widths, numeric: &table.numeric };

        let caption = self.wrap(&table.caption, CAPTION, CONTENT_W);
        let caption_h =
            if caption.is_empty() { 0.0 } else { caption.len() as f32 * CAPTION.line_height() + 3.0 };
        let header_h = header.as_ref().map_or(0.0, |row| row.height);
        let first_h = rows.first().map_or(0.0, |row| row.height);
        self.ensure(caption_h + header_h + first_h);
        if !caption.is_empty() {
            self.flow(&caption, MARGIN_X, CAPTION);
            self.y += 3.0;
        }
        if let Some(header) = &header {
            self.row(&grid, header, Some(HEADER_FILL));
        }
        for row in &rows {
            if self.y + row.height > BOTTOM && !self.at_top() {
                self.new_page();
                if let Some(header) = &header {
                    self.row(&grid, header, Some(HEADER_FILL));
                }
            }
            self.row(&grid, row, None);
        }
        if !table.notes.is_empty() {
            self.y += 4.0;
            for note in &table.notes {
                self.paragraph(note, TABLE_NOTE);
                self.y += 1.5;
            }
        }
        self.space(10.0);
    }

    /// Column widths proportional to each column's widest cell, filling the content width.
    /// When the widest cells do not fit, each column keeps at least its longest word (as far
    /// as the longest words fit at all) and the rest of the width is shared in proportion to
    /// what the columns would need more.
    fn column_widths(&self, table: &Table, columns: usize) -> Vec<f32> {
        let mut natural = vec![0.0_f32; columns];
        let mut longest_word = vec![0.0_f32; columns];
        for row in std::iter::once(&table.header).chain(&table.rows) {
            for ((cell, need), word) in row.iter().zip(natural.iter_mut()).zip(longest_word.iter_mut()) {
                let text = cell.split_whitespace().collect::<Vec<_>>().join(" ");
                *need = need.max(self.width(&text, CELL));
                let widest = cell.split_whitespace().map(|w| self.width(w, CELL)).fold(0.0_f32, f32::max);
                *word = word.max(widest);
            }
        }
        let pad = 2.0 * CELL_PAD_X;
        let natural: Vec<f32> = natural.iter().map(|w| w + pad).collect();
        let minimum: Vec<f32> = longest_word.iter().zip(&natural).map(|(w, n)| (w + pad).min(*n)).collect();
        let total: f32 = natural.iter().sum();
        let floor: f32 = minimum.iter().sum();
        if total <= CONTENT_W {
            natural.iter().map(|w| w * CONTENT_W / total).collect()
        } else if floor < CONTENT_W {
            let share = (CONTENT_W - floor) / (total - floor);
            natural.iter().zip(&minimum).map(|(n, m)| m + (n - m) * share).collect()
        } else {
            // Even the longest words do not fit: columns narrower than an equal share keep their
            // width, the wider ones share the rest and break their words.
            let fair = CONTENT_W / columns as f32;
            let kept: Vec<f32> = minimum.iter().map(|m| m.min(fair)).collect();
            let rest = CONTENT_W - kept.iter().sum::<f32>();
            let excess = floor - kept.iter().sum::<f32>();
            kept.iter()
                .zip(&minimum)
                .map(|(k, m)| if excess > 0.0 { k + (m - k) * rest / excess } else { fair })
                .collect()
        }
    }

    fn prepare_row(&self, cells: &[String], widths: &[f32]) -> Row {
        let cells: Vec<Vec<String>> = widths
            .iter()
            .enumerate()
            .map(|(i, width)| {
                let text = cells.get(i).map_or("", String::as_str);
                self.wrap(text, CELL, (width - 2.0 * CELL_PAD_X).max(1.0))
            })
            .collect();
        let lines = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
        Row { cells, height: lines as f32 * CELL.line_height() + 2.0 * CELL_PAD_Y }
    }

    /// One table row at the cursor: optional fill, cell text, grid lines.
    fn row(&mut self, grid: &Grid<'_>, row: &Row, fill: Option<Rgb>) {
        let top = self.y;
        let bottom = top + row.height;
        let total: f32 = grid.widths.iter().sum();
        if let Some(color) = fill {
            self.current
                .push(Op::Fill { area: Area { x: MARGIN_X, y: top, w: total, h: row.height }, color });
        }
        let mut x = MARGIN_X;
        for (i, (&width, lines)) in grid.widths.iter().zip(&row.cells).enumerate() {
            let right = grid.numeric.get(i).copied().unwrap_or(false);
            for (j, line) in lines.iter().enumerate() {
                let line_x =
                    if right { x + width - CELL_PAD_X - self.width(line, CELL) } else { x + CELL_PAD_X };
                self.text(line_x, top + CELL_PAD_Y + j as f32 * CELL.line_height(), CELL, line);
            }
            x += width;
        }
        self.line((MARGIN_X, top), (MARGIN_X + total, top), 0.4, GRID);
        self.line((MARGIN_X, bottom), (MARGIN_X + total, bottom), 0.4, GRID);
        let mut x = MARGIN_X;
        self.line((x, top), (x, bottom), 0.4, GRID);
        for &width in grid.widths {
            x += width;
            self.line((x, top), (x, bottom), 0.4, GRID);
        }
        self.y = bottom;
    }

    fn chart(&mut self, title: &str, svg: &str, caption: &str) -> Result<(), PdfError> {
        let tree = usvg::Tree::from_str(svg, &self.svg_options)
            .map_err(|e| PdfError::Svg { title: title.to_owned(), reason: e.to_string() })?;
        let size = tree.size();
        let titles = self.wrap(title, CHART_TITLE, CONTENT_W);
        let captions = self.wrap(caption, CHART_CAPTION, CONTENT_W);
        let title_h = titles.len() as f32 * CHART_TITLE.line_height();
        let caption_h = captions.len() as f32 * CHART_CAPTION.line_height();
        let mut draw_w = CONTENT_W;
        let mut draw_h = if size.width() > 0.0 { size.height() * CONTENT_W / size.width() } else { 0.0 };
        let room = (BOTTOM - MARGIN_TOP - title_h - caption_h - 8.0).max(100.0);
        if draw_h > room {
            draw_w *= room / draw_h;
            draw_h = room;
        }
        self.ensure(title_h + 4.0 + draw_h + 4.0 + caption_h);
        self.flow(&titles, MARGIN_X, CHART_TITLE);
        self.y += 4.0;
        self.ensure(draw_h);
        let index = self.trees.len();
        self.trees.push(tree);
        let area = Area { x: MARGIN_X + (CONTENT_W - draw_w) / 2.0, y: self.y, w: draw_w, h: draw_h };
        self.current.push(Op::Svg { area, tree: index });
        self.y += draw_h + 4.0;
        self.flow(&captions, MARGIN_X, CHART_CAPTION);
        self.space(12.0);
        Ok(())
    }

    /// Closes the last page, adds the footer to every page and returns the pages with the
    /// chart trees they refer to.
    fn finish(mut self, footer: &str) -> (Vec<Vec<Op>>, Vec<usvg::Tree>) {
        let last = std::mem::take(&mut self.current);
        self.done.push(last);
        let total = self.done.len();
        let widest_label = self.metrics.width(&format!("page {total} of {total}"), FOOTER.size);
        let footer = footer.split_whitespace().collect::<Vec<_>>().join(" ");
        let footer = truncate(self.metrics, &footer, FOOTER.size, CONTENT_W - widest_label - 16.0);
        let rule_y = BOTTOM + 18.0;
        let baseline = BOTTOM + 24.0 + self.metrics.baseline(FOOTER);
        for (i, ops) in self.done.iter_mut().enumerate() {
            let number = i + 1;
            let label = format!("page {number} of {total}");
            let label_w = self.metrics.width(&label, FOOTER.size);
            ops.push(Op::Line {
                from: (MARGIN_X, rule_y),
                to: (MARGIN_X + CONTENT_W, rule_y),
                width: 0.4,
                color: FOOTER_RULE,
            });
            if !footer.is_empty() {
                ops.push(Op::Text { x: MARGIN_X, baseline, style: FOOTER, text: footer.clone() });
            }
            ops.push(Op::Text { x: MARGIN_X + CONTENT_W - label_w, baseline, style: FOOTER, text: label });
        }
        (self.done, self.trees)
    }
}

fn paint(color: Rgb) -> Paint {
    rgb::Color::new(color.0, color.1, color.2).into()
}

fn fill(color: Rgb) -> Fill {
    Fill { paint: paint(color), opacity: NormalizedF32::ONE, rule: Default::default() }
}

/// Draws the laid-out pages with krilla.
fn write_pdf(
    doc: &Document,
    pages: &[Vec<Op>],
    trees: &[usvg::Tree],
    font: &Font,
) -> Result<Vec<u8>, PdfError> {
    let mut pdf = krilla::Document::new();
    let title = doc.title.split_whitespace().collect::<Vec<_>>().join(" ");
    if !title.is_empty() {
        pdf.set_metadata(Metadata::new().title(title).creator("Bullpen".to_owned()));
    }
    for ops in pages {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| PdfError::Write("invalid page size".to_owned()))?;
        let mut page = pdf.start_page_with(settings);
        let mut surface = page.surface();
        for op in ops {
            draw(&mut surface, op, trees, font);
        }
        surface.finish();
        page.finish();
    }
    pdf.finish().map_err(|e| PdfError::Write(e.to_string()))
}

fn draw(surface: &mut Surface<'_>, op: &Op, trees: &[usvg::Tree], font: &Font) {
    match op {
        Op::Text { x, baseline, style, text } => {
            surface.set_stroke(None);
            surface.set_fill(Some(fill(style.color)));
            surface.draw_text(
                Point::from_xy(*x, *baseline),
                font.clone(),
                style.size,
                text,
                false,
                TextDirection::Auto,
            );
        }
        Op::Fill { area, color } => {
            let mut builder = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(area.x, area.y, area.w, area.h) {
                builder.push_rect(rect);
                if let Some(path) = builder.finish() {
                    surface.set_stroke(None);
                    surface.set_fill(Some(fill(*color)));
                    surface.draw_path(&path);
                }
            }
        }
        Op::Line { from, to, width, color } => {
            let mut builder = PathBuilder::new();
            builder.move_to(from.0, from.1);
            builder.line_to(to.0, to.1);
            if let Some(path) = builder.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke { paint: paint(*color), width: *width, ..Stroke::default() }));
                surface.draw_path(&path);
                surface.set_stroke(None);
            }
        }
        Op::Svg { area, tree } => {
            let Some(tree) = trees.get(*tree) else { return };
            let Some(size) = Size::from_wh(area.w, area.h) else { return };
            surface.push_transform(&Transform::from_translate(area.x, area.y));
            surface.draw_svg(tree, size, SvgSettings::default());
            surface.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHART: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200">
<rect x="0" y="0" width="400" height="200" fill="#ffffff"/>
<polyline points="10,180 100,120 200,140 390,30" fill="none" stroke="#1f77b4" stroke-width="2"/>
<text x="10" y="20" font-family="sans-serif" font-size="12">Chart</text>
</svg>"##;

    fn page_count(bytes: &[u8]) -> usize {
        lopdf::Document::load_mem(bytes).expect("lopdf reads the PDF").get_pages().len()
    }

    fn sample() -> Document {
        let mut blocks = vec![Block::Heading { level: 1, text: "Summary".into(), id: "summary".into() }];
        for i in 0..30 {
            blocks.push(Block::Paragraph {
                text: format!(
                    "Paragraph {i}: revenue grew 12.4% year over year to 383.3 billion USD [1], while the \
                     operating margin expanded to 29.8%. Services kept growing faster than hardware, and \
                     the balance sheet stayed strong with net cash of 51.7 billion USD at period end."
                ),
            });
            if i == 10 {
                blocks.push(Block::Heading { level: 2, text: "Details".into(), id: "details".into() });
            }
        }
        blocks.push(Block::Bullets {
            items: vec![
                "Revenue up 12.4%".into(),
                "A longer bullet that needs more than one line to be shown, so that the hanging indent of \
                 its second line can be seen in the rendered page"
                    .into(),
            ],
        });
        blocks.push(Block::Note { text: "Margins are computed from reported operating income.".into() });
        blocks.push(Block::Table(Table {
            caption: "Income statement (USD millions)".into(),
            header: vec!["Year".into(), "Revenue".into(), "Net income".into(), "Margin".into()],
            rows: (0..40)
                .map(|i| {
                    vec![
                        format!("FY{}", 1990 + i),
                        format!("{:.1}", 1000.0 + f64::from(i) * 12.5),
                        format!("{:.1}", 100.0 + f64::from(i) * 3.25),
                        format!("{:.1}%", 10.0 + f64::from(i) * 0.1),
                    ]
                })
                .collect(),
            numeric: vec![false, true, true, true],
            notes: vec!["Source: company filings.".into(), "Margin = net income / revenue.".into()],
        }));
        blocks.push(Block::Chart {
            title: "Revenue".into(),
            svg: CHART.into(),
            caption: "Revenue by fiscal year.".into(),
        });
        Document {
            title: "Apple Inc. (AAPL)".into(),
            subtitle: "Equity research · as of 2024-03-08 · NASDAQ · Information Technology".into(),
            key_data: vec![
                ("Price".into(), "172.75 USD (close 2024-03-08)".into()),
                ("Market cap".into(), "2.67 trillion USD".into()),
                ("P/E".into(), "26.9".into()),
                ("Dividend yield".into(), "0.56%".into()),
                ("Sector".into(), "Information Technology".into()),
            ],
            blocks,
            footer: "Bullpen · run 0f3a · generated 2024-03-09".into(),
        }
    }

    #[test]
    fn renders_a_multi_page_pdf() {
        let bytes = render_pdf(&sample()).expect("renders");
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(page_count(&bytes) >= 2);
    }

    #[test]
    fn an_invalid_chart_names_its_title() {
        let doc = Document {
            title: "Broken".into(),
            blocks: vec![Block::Chart {
                title: "Broken chart".into(),
                svg: "<svg><unclosed".into(),
                caption: String::new(),
            }],
            ..Document::default()
        };
        match render_pdf(&doc) {
            Err(PdfError::Svg { title, reason }) => {
                assert_eq!(title, "Broken chart");
                assert!(!reason.is_empty());
            }
            Err(other) => panic!("expected an SVG error, got {other}"),
            Ok(_) => panic!("expected an SVG error, got a PDF"),
        }
    }

    #[test]
    fn an_empty_document_is_one_page() {
        let bytes = render_pdf(&Document::default()).expect("renders");
        assert!(bytes.starts_with(b"%PDF-"));
        assert_eq!(page_count(&bytes), 1);
    }

    #[test]
    fn odd_text_does_not_panic() {
        let doc = Document {
            title: String::new(),
            subtitle: "日本語 العربية 😀".into(),
            key_data: vec![(String::new(), String::new()), ("x".repeat(400), "y".repeat(400))],
            blocks: vec![
                Block::Heading { level: 1, text: String::new(), id: String::new() },
                Block::Heading { level: 7, text: "w".repeat(900), id: String::new() },
                Block::Paragraph { text: String::new() },
                Block::Paragraph { text: "z".repeat(5000) },
                Block::Paragraph { text: "日本語のテキスト\tالعربية 😀 ok\n\n  end".into() },
                Block::Note { text: "   ".into() },
                Block::Bullets { items: vec![String::new(), "日本".into()] },
                Block::Table(Table {
                    caption: String::new(),
                    header: Vec::new(),
                    rows: vec![vec!["a".repeat(300), "1".into(), "ΣΩ".into()], Vec::new()],
                    numeric: vec![true],
                    notes: vec![String::new()],
                }),
                Block::Table(Table::default()),
            ],
            footer: "f".repeat(1000),
        };
        let bytes = render_pdf(&doc).expect("renders");
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(page_count(&bytes) >= 1);
    }

    #[test]
    fn wrap_fits_and_keeps_words_in_order() {
        let metrics = Metrics::load().expect("bundled font");
        let size = 9.5;
        let width = 80.0;
        let text = "Revenue grew 12.4% year over year [1], while   operating margin\nexpanded to 31.2%; \
                    Pneumonoultramicroscopicsilicovolcanoconiosis-and-more-characters-to-overflow ends.";
        let lines = wrap(&metrics, text, size, width);
        assert!(lines.len() > 3);
        for line in &lines {
            assert!(!line.is_empty());
            assert!(
                metrics.width(line, size) <= width + 1e-3 || line.chars().count() == 1,
                "{line:?} is wider than {width}"
            );
        }
        let glued: String = lines.concat().chars().filter(|c| !c.is_whitespace()).collect();
        let expected: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(glued, expected);

        let plain = "the quick brown fox jumps over the lazy dog again and again";
        let lines = wrap(&metrics, plain, size, 60.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|line| metrics.width(line, size) <= 60.0 + 1e-3));
        assert_eq!(lines.join(" "), plain);

        assert!(wrap(&metrics, "", size, 60.0).is_empty());
        assert!(wrap(&metrics, " \t\n ", size, 60.0).is_empty());
    }

    #[test]
    fn truncate_fits() {
        let metrics = Metrics::load().expect("bundled font");
        let long = "word ".repeat(100);
        let cut = truncate(&metrics, &long, 7.5, 100.0);
        assert!(cut.ends_with('…'));
        assert!(metrics.width(&cut, 7.5) <= 100.0 + 1e-3);
        assert_eq!(truncate(&metrics, "short", 7.5, 100.0), "short");
    }
}
