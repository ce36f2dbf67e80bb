//! Where documents come from: the data universe (filing Items, transcripts, news and
//! posts, ratio cards) and files given by path. Every producer sends [`DocItem`]s into a
//! bounded channel, so the ingestion holds a few documents at a time whatever the input's
//! size.
//!
//! Files are checked before they are read: an empty, binary (NUL bytes) or non-UTF-8 file
//! is skipped with the reason; a text file larger than `part_bytes` is streamed in parts
//! (ids `…#part-N`) cut at paragraph breaks.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bullpen_connectors::types::{Block, FilingMeta, Section, Table, TextItem, TextKind};
use bullpen_connectors::universe::Universe;
use bullpen_connectors::{DateRange, Filing, FiscalPeriod, TextSource};
use chrono::NaiveDate;
use tokio::sync::mpsc::Sender;

use super::document::{DocType, Document};
use super::ingest::{DocItem, Skipped};
use crate::analytics::format::fmt_value;
use crate::analytics::{PeriodRatios, RatioEngine, RatioReport, RatioValue};

/// The universe's ingestion sources.
pub const SOURCES: &[&str] = &["filings", "transcripts", "news", "ratios"];

/// Source name of files given by path (with the path: `files:/abs/dir`).
pub const FILES_SOURCE: &str = "files";

/// Limits on files given by path.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    /// Text files larger than this are streamed in parts of about this size.
    pub part_bytes: usize,
    /// HTML files (parsed whole) larger than this are skipped.
    pub max_html_bytes: u64,
    /// Any file larger than this is skipped (embedding 50 MB of text takes hours on a
    /// laptop: raise the limit knowingly).
    pub max_file_bytes: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self { part_bytes: 1 << 20, max_html_bytes: 64 << 20, max_file_bytes: 32 << 20 }
    }
}

/// Fiscal label of a filing (`FY2024`, `Q3 FY2025`).
fn fiscal_label(meta: &FilingMeta) -> Option<String> {
    let year = meta.fiscal_year?;
    Some(match meta.fiscal_period {
        Some(FiscalPeriod::FY) | None => format!("FY{year}"),
        Some(q) => format!("{} FY{year}", q.as_str()),
    })
}

fn file_name(source: &str) -> String {
    Path::new(source).file_name().map_or_else(|| source.to_string(), |n| n.to_string_lossy().into_owned())
}

/// The label of a section with its title: `Item 1A. Risk Factors`.
pub fn section_label(section: &Section) -> String {
    if section.title.trim().is_empty() {
        section.label()
    } else {
        format!("{}. {}", section.label(), section.title.trim())
    }
}

/// One document per Item of a filing.
pub fn filing_documents(filing: &Filing, source: &str) -> Vec<Document> {
    let meta = &filing.meta;
    let name = file_name(&meta.source);
    filing
        .sections
        .iter()
        .map(|section| {
            let key = section.label().replace(' ', "-").to_ascii_lowercase();
            let mut doc = Document::new(
                format!("filings/{name}#{key}"),
                source,
                DocType::Filing,
                format!("{}#{key}", meta.source),
                section.blocks.clone(),
            );
            doc.ticker = meta.ticker.clone();
            doc.cik = meta.cik;
            doc.form = Some(meta.form.to_ascii_uppercase());
            doc.fiscal_period = fiscal_label(meta);
            doc.date = meta.filed.or(meta.period_end);
            doc.section = Some(section_label(section));
            doc.title = meta.company.as_ref().map(|c| format!("{c} {}", meta.form));
            doc
        })
        .collect()
}

/// A news item, post or transcript as a document: paragraphs at blank lines (and, for
/// transcripts, at every line: speaker turns).
pub fn text_document(item: &TextItem, source: &str) -> Document {
    let doc_type = match item.kind {
        TextKind::Transcript => DocType::Transcript,
        TextKind::Tweet => DocType::Tweet,
        _ => DocType::News,
    };
    let separator = if doc_type == DocType::Transcript { "\n" } else { "\n\n" };
    let mut blocks: Vec<Block> = Vec::new();
    if let Some(title) = &item.title
        && !item.text.starts_with(title.as_str())
    {
        blocks.push(Block::Paragraph { text: title.clone() });
    }
    blocks.extend(item.text.split(separator).map(|p| Block::Paragraph { text: p.to_string() }));
    let mut doc =
        Document::new(format!("{source}/{}", item.id), source, doc_type, item.source.clone(), blocks);
    doc.ticker = item.tickers.first().cloned();
    doc.date = Some(item.date);
    doc.title = item.title.clone();
    doc
}

/// Ratio cards of one report: one per fiscal period (values as a table, absent values with
/// their reasons), one for valuation and market metrics as of the report's date.
pub fn ratio_documents(report: &RatioReport) -> Vec<Document> {
    let ticker = &report.ticker;
    let mut docs = Vec::new();
    let card = |id: String,
                title: String,
                intro: String,
                values: &[RatioValue],
                date: NaiveDate,
                period: Option<String>| {
        let mut rows = vec![vec!["Metric".to_string(), "Value".to_string(), "Inputs".to_string()]];
        let mut absent = Vec::new();
        for v in values {
            match v.value {
                Some(_) => {
                    let inputs: Vec<String> =
                        v.inputs.iter().map(|i| format!("{} {} ({})", i.name, i.period, i.concept)).collect();
                    rows.push(vec![v.label.clone(), fmt_value(v), inputs.join("; ")]);
                }
                None => absent.push(format!("{} ({})", v.label, v.reason.as_deref().unwrap_or("no value"))),
            }
        }
        let mut blocks = vec![Block::Paragraph { text: intro }];
        if rows.len() > 1 {
            blocks.push(Block::Table { table: Table { rows } });
        }
        if !absent.is_empty() {
            blocks.push(Block::Paragraph { text: format!("Not available: {}.", absent.join("; ")) });
        }
        let mut doc = Document::new(id.clone(), "ratios", DocType::RatioCard, id, blocks);
        doc.ticker = Some(ticker.clone());
        doc.date = Some(date);
        doc.fiscal_period = period;
        doc.title = Some(title);
        doc
    };
    for p in &report.periods {
        docs.push(period_card(&card, ticker, p));
    }
    let mut market: Vec<RatioValue> =
        report.valuation.iter().flat_map(|v| v.values.iter().cloned()).collect();
    market.extend(report.market.iter().cloned());
    if !market.is_empty() {
        docs.push(card(
            format!("ratios/{ticker}#market"),
            format!("{ticker} valuation and market metrics"),
            format!(
                "{ticker} valuation and market metrics as of {}, computed by the ratio engine from prices and SEC filings.",
                report.as_of
            ),
            &market,
            report.as_of,
            None,
        ));
    }
    docs
}

fn period_card(
    card: &impl Fn(String, String, String, &[RatioValue], NaiveDate, Option<String>) -> Document,
    ticker: &str,
    p: &PeriodRatios,
) -> Document {
    let what = if p.fiscal_period == FiscalPeriod::FY { "fiscal year" } else { "fiscal quarter" };
    card(
        format!("ratios/{ticker}#{}", p.label.replace(' ', "-")),
        format!("{ticker} financial ratios {}", p.label),
        format!(
            "{ticker} financial ratios for {} ({what} ended {}): margins, returns, growth, leverage and liquidity computed by the ratio engine from SEC filings.",
            p.label, p.end
        ),
        &p.values,
        p.end,
        Some(p.label.clone()),
    )
}

/// Sends the documents of the universe's `sources` (names from [`SOURCES`]); returns how
/// many items were sent. Stops quietly when the receiver is gone.
pub async fn send_universe(
    universe: Arc<Universe>,
    sources: Vec<String>,
    as_of: Option<NaiveDate>,
    tx: Sender<DocItem>,
) -> Result<(), super::RagError> {
    let data = |e: bullpen_connectors::ConnectorError| super::RagError::Data(Box::new(e));
    for source in &sources {
        match source.as_str() {
            "filings" | "ratios" => {
                let parsed = universe.all_filings().await.map_err(data)?;
                if source == "filings" {
                    for e in &parsed.errors {
                        if tx.send(Err(Skipped::new(&e.location, &e.reason))).await.is_err() {
                            return Ok(());
                        }
                    }
                    for filing in &parsed.filings {
                        for doc in filing_documents(filing, source) {
                            if tx.send(Ok(doc)).await.is_err() {
                                return Ok(());
                            }
                        }
                    }
                    continue;
                }
                let mut tickers: Vec<String> =
                    parsed.filings.iter().filter_map(|f| f.meta.ticker.clone()).collect();
                tickers.sort();
                tickers.dedup();
                let engine = RatioEngine::default();
                for ticker in tickers {
                    let items: Vec<DocItem> = match engine.report(universe.as_ref(), &ticker, as_of).await {
                        Ok(report) => ratio_documents(&report).into_iter().map(Ok).collect(),
                        Err(e) => vec![Err(Skipped::new(format!("ratios/{ticker}"), e.to_string()))],
                    };
                    for item in items {
                        if tx.send(item).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
            "news" | "transcripts" => {
                let kinds: &[TextKind] = if source == "news" {
                    &[TextKind::News, TextKind::Tweet]
                } else {
                    &[TextKind::Transcript]
                };
                let range = DateRange { from: None, to: as_of };
                let items = universe.text_items(None, kinds, range).await.map_err(data)?;
                for item in &items {
                    if tx.send(Ok(text_document(item, source))).await.is_err() {
                        return Ok(());
                    }
                }
            }
            other => {
                return Err(super::RagError::Settings {
                    key: "sources".into(),
                    reason: format!("unknown source `{other}`; sources are {}", SOURCES.join(", ")),
                });
            }
        }
    }
    Ok(())
}

/// The ingestion source of a path argument (`files:<absolute path>`).
pub fn path_source(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    format!("{FILES_SOURCE}:{}", abs.display())
}

/// Sends the documents of files and directories (recursively, in name order). Runs on the
/// blocking pool.
pub fn send_paths(paths: Vec<PathBuf>, limits: FileLimits, tx: Sender<DocItem>) {
    for root in paths {
        let source = path_source(&root);
        let mut files = Vec::new();
        if let Err(e) = collect_files(&root, &mut files) {
            if tx.blocking_send(Err(Skipped::new(root.display().to_string(), e))).is_err() {
                return;
            }
            continue;
        }
        for file in files {
            if !send_file(&file, &source, limits, &tx) {
                return;
            }
        }
    }
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("cannot list: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    entries.sort();
    for entry in entries {
        // A sub-directory that cannot be read is reported as one file that cannot.
        if collect_files(&entry, out).is_err() {
            out.push(entry);
        }
    }
    Ok(())
}

/// Kinds of files read by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Html,
    Text,
}

fn file_kind(path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = Path::new(name).extension()?.to_string_lossy().into_owned();
    match ext.as_str() {
        "htm" | "html" | "xhtml" => Some(FileKind::Html),
        "txt" | "text" | "md" | "markdown" => Some(FileKind::Text),
        _ => None,
    }
}

/// Sends one file's documents; `false` when the receiver is gone.
fn send_file(path: &Path, source: &str, limits: FileLimits, tx: &Sender<DocItem>) -> bool {
    let location = path.display().to_string();
    let skip = |reason: String| tx.blocking_send(Err(Skipped::new(&location, reason))).is_ok();
    let Some(kind) = file_kind(path) else {
        return skip("unsupported file type (ingest .txt, .md, .html, .htm, optionally .gz)".into());
    };
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => return skip(format!("cannot read: {e}")),
    };
    if size == 0 {
        return skip("empty file".into());
    }
    if size > limits.max_file_bytes {
        return skip(format!(
            "file of {size} bytes is larger than the limit of {} bytes (max_file_mb); split it or raise the limit",
            limits.max_file_bytes
        ));
    }
    let gz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    match kind {
        FileKind::Html => {
            if size > limits.max_html_bytes {
                return skip(format!(
                    "HTML file of {size} bytes is larger than the {} bytes parsed whole",
                    limits.max_html_bytes
                ));
            }
            match bullpen_connectors::sec::ixbrl::parse_filing_file(path) {
                Ok(filing) if filing.sections.is_empty() => {
                    skip("no Items found in the HTML (not a 10-K/10-Q?)".into())
                }
                Ok(filing) => {
                    for mut doc in filing_documents(&filing, source) {
                        doc.id = format!("{source}#{}", doc.id);
                        if tx.blocking_send(Ok(doc)).is_err() {
                            return false;
                        }
                    }
                    true
                }
                Err(e) => skip(e.to_string()),
            }
        }
        FileKind::Text => {
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) => return skip(format!("cannot read: {e}")),
            };
            let reader: Box<dyn Read> =
                if gz { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) };
            stream_text(BufReader::with_capacity(1 << 16, reader), path, source, limits.part_bytes, tx)
        }
    }
}

/// Reads a text file line by line into parts of about `part_bytes`, cut at blank lines
/// (or, within a paragraph longer than a part, at a line). Binary or non-UTF-8 content
/// stops the file with a reason; parts already sent stand.
fn stream_text(
    mut reader: impl BufRead,
    path: &Path,
    source: &str,
    part_bytes: usize,
    tx: &Sender<DocItem>,
) -> bool {
    let location = path.display().to_string();
    let id = format!("{source}#{}", file_name(&location));
    let mut part = 0usize;
    let mut paragraphs: Vec<Block> = Vec::new();
    let mut current = String::new();
    let mut size = 0usize;
    let mut line = Vec::new();
    let mut line_no = 0usize;
    let mut total = 0usize;
    let send_part = |paragraphs: Vec<Block>, part: usize, last: bool| -> bool {
        let (pid, uri) = if part == 0 && last {
            (id.clone(), location.clone())
        } else {
            (format!("{id}#part-{}", part + 1), format!("{location}#part-{}", part + 1))
        };
        let mut doc = Document::new(pid, source, DocType::Text, uri, paragraphs);
        doc.title = Some(file_name(&location));
        tx.blocking_send(Ok(doc)).is_ok()
    };
    // Sniff: NUL bytes in the first 8 KiB mean a binary file.
    match reader.fill_buf() {
        Ok(head) if head[..head.len().min(8192)].contains(&0) => {
            return tx.blocking_send(Err(Skipped::new(&location, "binary file (NUL bytes)"))).is_ok();
        }
        Ok(_) => {}
        Err(e) => return tx.blocking_send(Err(Skipped::new(&location, format!("cannot read: {e}")))).is_ok(),
    }
    loop {
        line.clear();
        // At most a part's worth per read: a file without newlines stays bounded.
        let n = match read_piece(&mut reader, &mut line, part_bytes) {
            Ok(n) => n,
            Err(e) => {
                return tx
                    .blocking_send(Err(Skipped::new(
                        &location,
                        format!("read failed after line {line_no}: {e}"),
                    )))
                    .is_ok();
            }
        };
        if n == 0 {
            break;
        }
        line_no += 1;
        total += n;
        if line.contains(&0) {
            let reason = if line_no == 1 {
                "binary file (NUL bytes)".to_string()
            } else {
                format!("binary content (NUL bytes) at line {line_no}; the rest of the file skipped")
            };
            if total > n && !paragraphs.is_empty() && !send_part(std::mem::take(&mut paragraphs), part, false)
            {
                return false;
            }
            return tx.blocking_send(Err(Skipped::new(&location, reason))).is_ok();
        }
        let text = match std::str::from_utf8(&line) {
            Ok(t) => t,
            Err(e) => {
                let reason = format!(
                    "not UTF-8 (invalid byte at line {line_no}, column {}); convert the file to UTF-8{}",
                    e.valid_up_to() + 1,
                    if line_no > 1 { "; the rest of the file skipped" } else { "" }
                );
                if !paragraphs.is_empty() && !send_part(std::mem::take(&mut paragraphs), part, false) {
                    return false;
                }
                return tx.blocking_send(Err(Skipped::new(&location, reason))).is_ok();
            }
        };
        if text.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(Block::Paragraph { text: std::mem::take(&mut current) });
            }
        } else {
            current.push_str(text);
        }
        size += n;
        if size >= part_bytes && (current.is_empty() || current.len() >= part_bytes) {
            if !current.is_empty() {
                paragraphs.push(Block::Paragraph { text: std::mem::take(&mut current) });
            }
            if !send_part(std::mem::take(&mut paragraphs), part, false) {
                return false;
            }
            part += 1;
            size = 0;
        }
    }
    if !current.is_empty() {
        paragraphs.push(Block::Paragraph { text: current });
    }
    if paragraphs.is_empty() && part == 0 {
        return tx.blocking_send(Err(Skipped::new(&location, "no text (only blank lines)"))).is_ok();
    }
    if paragraphs.is_empty() {
        return true;
    }
    send_part(paragraphs, part, part == 0)
}

/// Reads up to a newline or `max` bytes (then up to 3 more to finish a UTF-8 character).
fn read_piece(reader: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> std::io::Result<usize> {
    let mut n = reader.by_ref().take(max.max(1) as u64).read_until(b'\n', line)?;
    let mut extra = 0;
    while !line.ends_with(b"\n")
        && extra < 3
        && std::str::from_utf8(line).err().is_some_and(|e| e.error_len().is_none())
    {
        let got = reader.by_ref().take(1).read_until(b'\n', line)?;
        if got == 0 {
            break;
        }
        n += got;
        extra += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(path: &Path, part_bytes: usize) -> Vec<DocItem> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        send_file(path, "files:t", FileLimits { part_bytes, ..FileLimits::default() }, &tx);
        drop(tx);
        let mut out = Vec::new();
        while let Ok(item) = rx.try_recv() {
            out.push(item);
        }
        out
    }

    #[test]
    fn bad_files_are_skipped_with_reasons() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases: [(&str, &[u8], &str); 5] = [
            ("empty.txt", b"", "empty file"),
            ("bin.txt", b"\x7fELF\x00\x01\x02", "binary"),
            ("latin1.txt", b"caf\xe9 au lait\n", "not UTF-8 (invalid byte at line 1, column 4)"),
            ("blank.txt", b"\n \n\t\n", "no text"),
            ("data.xlsx", b"PK", "unsupported file type"),
        ];
        for (name, bytes, reason) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).expect("write");
            let items = collect(&p, 1 << 20);
            assert_eq!(items.len(), 1, "{name}");
            let Err(s) = &items[0] else { panic!("{name} should be skipped") };
            assert!(s.reason.contains(reason), "{name}: {}", s.reason);
            assert!(s.location.ends_with(name));
        }
    }

    #[test]
    fn large_text_streams_in_parts_at_paragraph_breaks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("big.txt");
        let para = "Revenue grew in every segment this year.\n".repeat(5);
        std::fs::write(&p, format!("{para}\n").repeat(40)).expect("write");
        let skipped = {
            let (tx, mut rx) = tokio::sync::mpsc::channel(4);
            send_file(&p, "files:t", FileLimits { max_file_bytes: 100, ..FileLimits::default() }, &tx);
            rx.try_recv()
        };
        assert!(
            matches!(skipped, Ok(Err(ref s)) if s.reason.contains("larger than the limit")),
            "{skipped:?}"
        );
        let items = collect(&p, 1000);
        assert!(items.len() > 5, "{}", items.len());
        let mut paragraphs = 0;
        for (i, item) in items.iter().enumerate() {
            let Ok(doc) = item else { panic!("part {i} skipped") };
            assert_eq!(doc.id, format!("files:t#big.txt#part-{}", i + 1));
            paragraphs += doc.blocks.len();
        }
        assert_eq!(paragraphs, 40, "every paragraph once, none cut");
        let small = dir.path().join("small.md");
        std::fs::write(&small, "One.\n\nTwo.\n").expect("write");
        let items = collect(&small, 1000);
        let Ok(doc) = &items[0] else { panic!("small") };
        assert_eq!((doc.id.as_str(), doc.blocks.len()), ("files:t#small.md", 2));
    }
}
