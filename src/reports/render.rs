//! Renderers of a report [`Document`] to Markdown and to one self-contained HTML file.
//!
//! Both renderers are pure: they take the document (every number already formatted text)
//! and return a `String`, never touching the file system and never panicking.
//!
//! * [`markdown`] writes GitHub-flavoured Markdown: the key data as a two-column table,
//!   tables as GFM tables (numeric columns right-aligned), charts as image links to SVG files
//!   that the caller writes next to the Markdown (named by [`chart_file_name`]) or, without a
//!   chart folder, as a one-line placeholder.
//! * [`html`] writes a complete HTML5 document with all CSS inline in one `<style>`, the
//!   charts' SVG inlined, no scripts and no links to other files: it can be mailed, archived or
//!   printed (A4) on its own.

use std::fmt::Write as _;

use super::doc::{Block, Document, Table};

/// The Markdown rendering of `doc`.
///
/// Layout: `# title`, the subtitle in italics, the key data as a two-column table, then the
/// blocks in order (level-1 headings as `##`, level-2 as `###`, notes as blockquotes, tables as
/// GFM tables with their caption in bold and their notes in italics), then `---` and the footer
/// in italics. Blocks are separated by one blank line and the output ends with one newline.
///
/// Charts: with `chart_dir` = `Some(dir)` each chart is an image link `![title](dir/<file>)`
/// where `<file>` is [`chart_file_name`] of its title (the caller writes the SVG there); with
/// `None` it is a placeholder line `*Chart: title — caption*`.
pub fn markdown(doc: &Document, chart_dir: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();

    let title = one_line(&doc.title);
    if !title.is_empty() {
        parts.push(format!("# {title}"));
    }
    parts.push(md_italic(&doc.subtitle));
    if !doc.key_data.is_empty() {
        let mut s = String::from("| | |\n| --- | --- |");
        for (label, value) in &doc.key_data {
            let _ = write!(s, "\n| {} | {} |", md_cell(label), md_cell(value));
        }
        parts.push(s);
    }

    for block in &doc.blocks {
        md_block(block, chart_dir, &mut parts);
    }

    let footer = md_italic(&doc.footer);
    if !footer.is_empty() {
        parts.push("---".to_string());
        parts.push(footer);
    }

    let joined = parts.iter().filter(|p| !p.trim().is_empty()).map(String::as_str).collect::<Vec<_>>();
    let mut out = joined.join("\n\n").trim_end().to_string();
    out.push('\n');
    out
}

/// The file name (`<slug>.svg`) under which a chart titled `title` is expected by
/// [`markdown`] with a chart folder: the title lowercased, every run of characters other than
/// ASCII letters and digits turned into one `-`, no leading or trailing `-`; `chart.svg` when
/// nothing is left. Two charts with titles of the same slug share a file name.
pub fn chart_file_name(title: &str) -> String {
    let slug = slug(title);
    if slug.is_empty() { "chart.svg".to_string() } else { format!("{slug}.svg") }
}

/// The HTML rendering of `doc`: one complete, self-contained HTML5 document.
///
/// The head holds the charset, viewport and title and all CSS in one `<style>` (centred
/// 900px column, system sans-serif fonts, bordered zebra tables, A4 print rules). The body
/// holds the title (`<h1>`) and subtitle, the key data as a label/value grid, a table of
/// contents linking to each level-1 heading (`<h2 id=…>`), the blocks, and the footer
/// (`<footer>`). Charts' SVG is inlined as is (a leading `<?xml …?>` declaration or doctype is
/// dropped); all other text is HTML-escaped. There are no scripts and no external assets.
pub fn html(doc: &Document) -> String {
    let mut out = String::with_capacity(CSS.len() + 4096);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(doc.title.trim()));
    out.push_str("<style>\n");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<main>\n<header>\n");
    if !doc.title.trim().is_empty() {
        let _ = writeln!(out, "<h1>{}</h1>", escape(doc.title.trim()));
    }
    if !doc.subtitle.trim().is_empty() {
        let _ = writeln!(out, "<p class=\"subtitle\">{}</p>", escape(doc.subtitle.trim()));
    }
    out.push_str("</header>\n");

    if !doc.key_data.is_empty() {
        out.push_str("<dl class=\"key-data\">\n");
        for (label, value) in &doc.key_data {
            let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(label.trim()), escape(value.trim()));
        }
        out.push_str("</dl>\n");
    }

    let sections: Vec<(String, &str)> = doc
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Heading { level, text, id } if *level <= 1 => Some((heading_id(id, text), text.as_str())),
            _ => None,
        })
        .collect();
    if !sections.is_empty() {
        out.push_str(
            "<nav class=\"toc\" aria-label=\"Contents\">\n<p class=\"toc-title\">Contents</p>\n<ol>\n",
        );
        for (id, text) in &sections {
            let _ = writeln!(out, "<li><a href=\"#{}\">{}</a></li>", escape(id), escape(text.trim()));
        }
        out.push_str("</ol>\n</nav>\n");
    }

    for block in &doc.blocks {
        html_block(&mut out, block);
    }

    out.push_str("</main>\n");
    if !doc.footer.trim().is_empty() {
        let _ = writeln!(out, "<footer>{}</footer>", escape(doc.footer.trim()));
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The stylesheet of the HTML rendering (screen and A4 print).
const CSS: &str = r#":root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  max-width: 900px; margin: 0 auto; padding: 24px 16px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
    "Liberation Sans", sans-serif;
  font-size: 15px; line-height: 1.5; color: #1a1a1a; background: #fff;
}
header { margin-bottom: 1em; }
h1 { font-size: 1.8em; line-height: 1.2; margin: 0 0 .2em; }
.subtitle { color: #555; font-style: italic; margin: 0; }
h2 { font-size: 1.35em; color: #1f3b5c; margin: 1.6em 0 .5em; padding-bottom: .2em;
  border-bottom: 2px solid #1f3b5c; }
h3 { font-size: 1.1em; margin: 1.2em 0 .4em; }
p { margin: .6em 0; }
.key-data { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 1.5em;
  padding: 12px 16px; border: 1px solid #c8d1dc; border-radius: 4px; background: #f5f7fa; }
.key-data dt { font-weight: 600; color: #333; }
.key-data dd { margin: 0; font-variant-numeric: tabular-nums; }
nav.toc { margin: 0 0 1.5em; }
nav.toc .toc-title { font-weight: 600; margin: 0 0 .3em; }
nav.toc ol { margin: 0; padding-left: 1.5em; }
nav.toc a { color: #1f3b5c; text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
ul { padding-left: 1.4em; }
.note { font-size: .85em; color: #555; border-left: 3px solid #c8d1dc; padding-left: 8px; }
.table-wrap { overflow-x: auto; margin: 1em 0 .3em; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0 0 .4em; }
th, td { border: 1px solid #c8d1dc; padding: 4px 8px; text-align: left; vertical-align: top; }
thead th { background: #e8edf3; }
tbody tr:nth-child(even) { background: #f7f9fb; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.table-note { font-size: .8em; color: #555; margin: .2em 0; }
figure.chart { margin: 1.5em 0; }
figure.chart svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { font-size: .85em; color: #444; margin-top: .4em; }
.chart-title { display: block; color: #1a1a1a; }
footer { margin-top: 2.5em; padding-top: .6em; border-top: 1px solid #c8d1dc; font-size: .8em; color: #666; }
@media print {
  @page { size: A4; margin: 18mm 15mm; }
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  table, figure, .key-data { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  .table-wrap { overflow: visible; }
  nav.toc a { color: inherit; }
  thead th, tbody tr:nth-child(even), .key-data {
    -webkit-print-color-adjust: exact; print-color-adjust: exact;
  }
}
"#;

/// Appends the Markdown of one block to `parts` (one entry per blank-line separated part).
fn md_block(block: &Block, chart_dir: Option<&str>, parts: &mut Vec<String>) {
    match block {
        Block::Heading { level, text, .. } => {
            let text = one_line(text);
            if !text.is_empty() {
                let hashes = if *level <= 1 { "##" } else { "###" };
                parts.push(format!("{hashes} {text}"));
            }
        }
        Block::Paragraph { text } => parts.push(text.trim().to_string()),
        Block::Note { text } => {
            let quoted: Vec<String> = text
                .trim()
                .lines()
                .map(|line| {
                    let line = line.trim_end();
                    if line.is_empty() { ">".to_string() } else { format!("> {line}") }
                })
                .collect();
            parts.push(quoted.join("\n"));
        }
        Block::Bullets { items } => {
            let lines: Vec<String> = items
                .iter()
                .filter_map(|item| {
                    let lines: Vec<&str> = item.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                    if lines.is_empty() { None } else { Some(format!("- {}", lines.join("\n  "))) }
                })
                .collect();
            parts.push(lines.join("\n"));
        }
        Block::Table(table) => md_table(table, parts),
        Block::Chart { title, caption, .. } => {
            let title_line = one_line(title);
            let caption_line = one_line(caption);
            match chart_dir {
                Some(dir) => {
                    let file = chart_file_name(title);
                    let path = if dir.is_empty() {
                        file
                    } else if dir.ends_with('/') {
                        format!("{dir}{file}")
                    } else {
                        format!("{dir}/{file}")
                    };
                    parts.push(format!("![{}]({})", md_alt(&title_line), md_url(&path)));
                    parts.push(md_italic(&caption_line));
                }
                None => {
                    let text = if caption_line.is_empty() {
                        format!("Chart: {title_line}")
                    } else {
                        format!("Chart: {title_line} — {caption_line}")
                    };
                    parts.push(md_italic(&text));
                }
            }
        }
    }
}

/// Appends a table's caption, GFM table and notes to `parts`.
fn md_table(table: &Table, parts: &mut Vec<String>) {
    let caption = one_line(&table.caption);
    if !caption.is_empty() {
        parts.push(format!("**{}**", caption.replace('*', "\\*")));
    }
    let ncols = column_count(table);
    if ncols > 0 {
        let mut s = String::new();
        md_row(&mut s, &table.header, ncols);
        s.push_str("\n|");
        for i in 0..ncols {
            s.push_str(if is_numeric(table, i) { " ---: |" } else { " --- |" });
        }
        for row in &table.rows {
            s.push('\n');
            md_row(&mut s, row, ncols);
        }
        parts.push(s);
    }
    for note in &table.notes {
        parts.push(md_italic(note));
    }
}

/// Writes one GFM table row of `ncols` cells (missing cells empty), without a newline.
fn md_row(out: &mut String, cells: &[String], ncols: usize) {
    out.push('|');
    for i in 0..ncols {
        out.push(' ');
        out.push_str(&md_cell(cell(cells, i)));
        out.push_str(" |");
    }
}

/// A table cell's text: one line, `|` escaped.
fn md_cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

/// `*text*` on one line (inner `*` escaped), or an empty string for empty text.
fn md_italic(text: &str) -> String {
    let line = one_line(text);
    if line.is_empty() { String::new() } else { format!("*{}*", line.replace('*', "\\*")) }
}

/// Image alt text: brackets escaped.
fn md_alt(text: &str) -> String {
    text.replace('[', "\\[").replace(']', "\\]")
}

/// A link destination, in angle brackets when it holds spaces or parentheses.
fn md_url(path: &str) -> String {
    if path.chars().any(|c| c.is_whitespace() || c == '(' || c == ')') {
        format!("<{}>", path.replace('<', "%3C").replace('>', "%3E"))
    } else {
        path.to_string()
    }
}

/// Appends the HTML of one block.
fn html_block(out: &mut String, block: &Block) {
    match block {
        Block::Heading { level, text, id } => {
            if *level <= 1 {
                let _ = writeln!(
                    out,
                    "<h2 id=\"{}\">{}</h2>",
                    escape(&heading_id(id, text)),
                    escape(text.trim())
                );
            } else {
                let _ = writeln!(out, "<h3>{}</h3>", escape(text.trim()));
            }
        }
        Block::Paragraph { text } => {
            if !text.trim().is_empty() {
                let _ = writeln!(out, "<p>{}</p>", escape(text.trim()));
            }
        }
        Block::Note { text } => {
            if !text.trim().is_empty() {
                let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(text.trim()));
            }
        }
        Block::Bullets { items } => {
            let items: Vec<&str> = items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()).collect();
            if !items.is_empty() {
                out.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(out, "<li>{}</li>", escape(item));
                }
                out.push_str("</ul>\n");
            }
        }
        Block::Table(table) => html_table(out, table),
        Block::Chart { title, svg, caption } => {
            out.push_str("<figure class=\"chart\">\n");
            let svg = strip_prolog(svg);
            if !svg.is_empty() {
                out.push_str(svg);
                out.push('\n');
            }
            let (title, caption) = (title.trim(), caption.trim());
            if !title.is_empty() || !caption.is_empty() {
                out.push_str("<figcaption>");
                if !title.is_empty() {
                    let _ = write!(out, "<strong class=\"chart-title\">{}</strong>", escape(title));
                }
                if !caption.is_empty() {
                    let _ = write!(out, "<span class=\"chart-caption\">{}</span>", escape(caption));
                }
                out.push_str("</figcaption>\n");
            }
            out.push_str("</figure>\n");
        }
    }
}

/// Appends a table (caption, head, body) and its notes.
fn html_table(out: &mut String, table: &Table) {
    let ncols = column_count(table);
    let caption = table.caption.trim();
    if ncols > 0 || !caption.is_empty() {
        out.push_str("<div class=\"table-wrap\">\n<table>\n");
        if !caption.is_empty() {
            let _ = writeln!(out, "<caption>{}</caption>", escape(caption));
        }
        if ncols > 0 && !table.header.is_empty() {
            out.push_str("<thead>\n<tr>");
            for i in 0..ncols {
                let _ = write!(
                    out,
                    "<th scope=\"col\"{}>{}</th>",
                    num_class(table, i),
                    escape(cell(&table.header, i))
                );
            }
            out.push_str("</tr>\n</thead>\n");
        }
        if ncols > 0 && !table.rows.is_empty() {
            out.push_str("<tbody>\n");
            for row in &table.rows {
                out.push_str("<tr>");
                for i in 0..ncols {
                    let _ = write!(out, "<td{}>{}</td>", num_class(table, i), escape(cell(row, i)));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody>\n");
        }
        out.push_str("</table>\n</div>\n");
    }
    for note in &table.notes {
        if !note.trim().is_empty() {
            let _ = writeln!(out, "<p class=\"table-note\">{}</p>", escape(note.trim()));
        }
    }
}

/// ` class="num"` for a numeric column, else nothing.
fn num_class(table: &Table, col: usize) -> &'static str {
    if is_numeric(table, col) { " class=\"num\"" } else { "" }
}

/// Whether column `col` is flagged numeric.
fn is_numeric(table: &Table, col: usize) -> bool {
    matches!(table.numeric.get(col), Some(true))
}

/// The number of columns: the widest of the header and the rows.
fn column_count(table: &Table) -> usize {
    table.rows.iter().map(Vec::len).chain(std::iter::once(table.header.len())).max().unwrap_or(0)
}

/// Cell `i` of a row, empty when the row is short.
fn cell(cells: &[String], i: usize) -> &str {
    cells.get(i).map_or("", String::as_str)
}

/// A heading's anchor id: its own id, else a slug of its text, else `section`.
fn heading_id(id: &str, text: &str) -> String {
    let id = id.trim();
    if !id.is_empty() {
        return id.to_string();
    }
    let slug = slug(text);
    if slug.is_empty() { "section".to_string() } else { slug }
}

/// Lowercase ASCII letters and digits, every other run of characters one `-`, trimmed of `-`.
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The text on one line: lines trimmed, blank ones dropped, joined by one space.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The SVG without a leading BOM, `<?xml …?>` declaration, or doctype (invalid inside HTML).
fn strip_prolog(svg: &str) -> &str {
    let mut s = svg.trim_start_matches('\u{feff}').trim_start();
    loop {
        if s.starts_with("<?xml") {
            match s.find("?>") {
                Some(end) => s = s[end + 2..].trim_start(),
                None => return "",
            }
        } else if s.get(..9).is_some_and(|p| p.eq_ignore_ascii_case("<!doctype")) {
            match s.find('>') {
                Some(end) => s = s[end + 1..].trim_start(),
                None => return "",
            }
        } else {
            return s.trim_end();
        }
    }
}

/// HTML-escapes `&`, `<`, `>`, `"` and `'` (safe in text and quoted attributes).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg width=\"10\" height=\"10\" \
                       viewBox=\"0 0 10 10\" xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"10\" \
                       height=\"10\"/></svg>\n";

    fn sample() -> Document {
        Document {
            title: "Apple Inc. (AAPL)".into(),
            subtitle: "Equity research · as of 2024-03-08".into(),
            key_data: vec![
                ("Price".into(), "172.75 USD (close 2024-03-08)".into()),
                ("Market cap".into(), "2.67 T USD".into()),
            ],
            blocks: vec![
                Block::Heading { level: 1, text: "Summary".into(), id: "summary".into() },
                Block::Paragraph { text: "Revenue grew <b>fast</b> & margins held [1].".into() },
                Block::Note { text: "P/E uses diluted EPS.".into() },
                Block::Bullets { items: vec!["Strong cash flow".into(), "Services growth".into()] },
                Block::Heading { level: 1, text: "Valuation".into(), id: "valuation".into() },
                Block::Heading { level: 2, text: "Multiples".into(), id: "multiples".into() },
                Block::Table(Table {
                    caption: "Key ratios".into(),
                    header: vec!["Metric".into(), "FY2023".into(), "FY2022".into()],
                    rows: vec![
                        vec!["P|E".into(), "28.1".into(), "24.4".into()],
                        vec!["Gross\nmargin".into(), "44.1%".into(), "43.3%".into()],
                        vec!["Short row".into()],
                    ],
                    numeric: vec![false, true, true],
                    notes: vec!["Source: 10-K filings.".into()],
                }),
                Block::Chart {
                    title: "Share price vs S&P 500 (rebased)".into(),
                    svg: SVG.into(),
                    caption: "Rebased to 100 at the start.".into(),
                },
            ],
            footer: "Bullpen · run 0f3a".into(),
        }
    }

    #[test]
    fn chart_file_name_is_a_slug() {
        assert_eq!(chart_file_name("Share price vs S&P 500 (rebased)"), "share-price-vs-s-p-500-rebased.svg");
        assert_eq!(chart_file_name("  --Émission!! "), "mission.svg");
        assert_eq!(chart_file_name(""), "chart.svg");
    }

    #[test]
    fn markdown_has_every_block() {
        let md = markdown(&sample(), Some("charts"));
        assert!(md.starts_with("# Apple Inc. (AAPL)\n\n*Equity research · as of 2024-03-08*\n\n"), "{md}");
        assert!(md.contains("| | |\n| --- | --- |\n| Price | 172.75 USD (close 2024-03-08) |"), "{md}");
        assert!(md.contains("\n## Summary\n"), "{md}");
        assert!(md.contains("\n### Multiples\n"), "{md}");
        assert!(md.contains("Revenue grew <b>fast</b> & margins held [1]."), "{md}");
        assert!(md.contains("> P/E uses diluted EPS."), "{md}");
        assert!(md.contains("- Strong cash flow\n- Services growth"), "{md}");
        assert!(md.contains("**Key ratios**"), "{md}");
        assert!(md.contains("| Metric | FY2023 | FY2022 |\n| --- | ---: | ---: |\n"), "{md}");
        assert!(md.contains("| P\\|E | 28.1 | 24.4 |"), "{md}");
        assert!(md.contains("| Gross margin | 44.1% | 43.3% |"), "{md}");
        assert!(md.contains("| Short row |  |  |"), "{md}");
        assert!(md.contains("\n\n*Source: 10-K filings.*"), "{md}");
        assert!(
            md.contains("![Share price vs S&P 500 (rebased)](charts/share-price-vs-s-p-500-rebased.svg)"),
            "{md}"
        );
        assert!(md.ends_with("\n\n---\n\n*Bullpen · run 0f3a*\n"), "{md}");
        assert!(!md.ends_with("\n\n"));
        assert!(!md.contains("\n\n\n"), "{md}");
        assert!(!md.contains("<svg"), "{md}");
    }

    #[test]
    fn markdown_without_chart_dir_has_a_placeholder() {
        let md = markdown(&sample(), None);
        assert!(
            md.contains("*Chart: Share price vs S&P 500 (rebased) — Rebased to 100 at the start.*"),
            "{md}"
        );
        assert!(!md.contains("!["), "{md}");
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let doc = sample();
        let html = html(&doc);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("<title>Apple Inc. (AAPL)</title>"));
        assert!(html.contains("<style>"));
        assert!(html.contains("@media print"));
        let nav_start = html.find("<nav").expect("nav");
        let nav_end = html.find("</nav>").expect("nav end");
        let nav = &html[nav_start..nav_end];
        for id in doc.section_ids() {
            assert!(nav.contains(&format!("<a href=\"#{id}\">")), "{nav}");
            assert!(html.contains(&format!("<h2 id=\"{id}\">")), "{html}");
        }
        assert!(html.contains("<h3>Multiples</h3>"));
        assert!(html.contains("<svg"));
        assert!(!html.contains("<?xml"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("src=\"http"));
        assert!(!html.contains("href=\"http"));
        assert!(html.contains("Revenue grew &lt;b&gt;fast&lt;/b&gt; &amp; margins held [1]."));
        assert!(html.contains("<p class=\"note\">P/E uses diluted EPS.</p>"));
        assert!(html.contains("<ul>\n<li>Strong cash flow</li>"));
        assert!(html.contains("<caption>Key ratios</caption>"));
        assert!(html.contains("<td class=\"num\">28.1</td>"));
        assert!(html.contains("<p class=\"table-note\">Source: 10-K filings.</p>"));
        assert!(html.contains("<dt>Price</dt><dd>172.75 USD (close 2024-03-08)</dd>"));
        assert!(html.contains("<footer>Bullpen · run 0f3a</footer>"));
        assert!(html.trim_end().ends_with("</html>"));
        assert_eq!(html.matches("<table").count(), 1);
        assert_eq!(html.matches("<table").count(), html.matches("</table>").count());
        assert_eq!(html.matches("<figure").count(), 1);
        assert_eq!(html.matches("<figure").count(), html.matches("</figure>").count());
        assert_eq!(html.matches("<figcaption").count(), html.matches("</figcaption>").count());
    }

    #[test]
    fn empty_document_renders() {
        let doc = Document::default();
        assert_eq!(markdown(&doc, None), "\n");
        let html = html(&doc);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("<nav"));
    }

    #[test]
    fn helpers() {
        assert_eq!(escape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&#39;");
        assert_eq!(strip_prolog("\u{feff}<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg/>\n"), "<svg/>");
        assert_eq!(strip_prolog("<svg/>"), "<svg/>");
        assert_eq!(strip_prolog("<?xml broken"), "");
        assert_eq!(strip_prolog("<!é"), "<!é");
        assert_eq!(heading_id("", "Risks & outlook"), "risks-outlook");
        assert_eq!(md_url("my charts/a.svg"), "<my charts/a.svg>");
    }
}
