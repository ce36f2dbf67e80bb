//! Inline XBRL (10-K / 10-Q HTML) → cover facts, numeric facts and Items.
//!
//! One streaming pass over the XHTML with quick-xml collects, at the same time:
//! - the `ix:nonFraction` facts (raw text, format, scale, sign, context and unit references),
//! - the `dei:` cover facts from `ix:nonNumeric` (form, registrant, CIK, ticker, period end ...),
//! - the `xbrli:context` and `xbrli:unit` definitions from `ix:resources`,
//! - the visible body text as [`Block`]s (paragraphs and tables; `ix:header` and
//!   `display:none` content skipped).
//!
//! References are resolved after the pass (contexts may follow the facts that use them), facts
//! repeated by the document are deduplicated, and [`sections::split_sections`] cuts the blocks
//! into Items. The reader is lenient about HTML that is not quite XML (mismatched or stray end
//! tags, unclosed void elements, HTML named entities), but a document that ends with open
//! elements is reported as truncated rather than parsed partially.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{Days, NaiveDate};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::{ConnectorError, Result};
use crate::sec::sections;
use crate::types::{
    Block, Fact, FiledDateSource, Filing, FilingMeta, FiscalPeriod, Period, SkippedRow, SourceRef, Table,
};

const NS_IX: &[u8] = b"http://www.xbrl.org/2013/inlineXBRL";
const NS_XBRLI: &[u8] = b"http://www.xbrl.org/2003/instance";
const NS_XBRLDI: &[u8] = b"http://xbrl.org/2006/xbrldi";

/// Parses an inline-XBRL document. `source` names it in errors and provenance.
///
/// The filing date is taken from a `YYYY-MM-DD` date in the last component of `source` when
/// there is one ([`FiledDateSource::FileName`]); otherwise the statutory deadline after the
/// period end is used as an upper bound ([`FiledDateSource::Deadline`]: 10-K +90 days, 10-Q
/// +45 days, 20-F +120 days, other forms +90 days). Every fact's `source.filed` carries it.
///
/// Errors: a document without inline XBRL (no `dei:DocumentType` cover fact, or not XML and
/// without any `ix:` element) is "not an inline XBRL filing"; a document that is cut short
/// (ends inside a tag or with elements still open) is reported as truncated.
pub fn parse_filing(html: &str, source: &str) -> Result<Filing> {
    let mut parser = Parser::new(source, html.len());
    parser.run(html)?;
    parser.finish()
}

/// Reads (gunzipping if needed) and parses a filing file; sets the filing date from the file
/// name when it carries one, else the statutory deadline bound.
pub fn parse_filing_file(path: &Path) -> Result<Filing> {
    let html = crate::files::read_string(path)?;
    parse_filing(&html, &path.display().to_string())
}

// ---------------------------------------------------------------------------------------------
// Streaming state
// ---------------------------------------------------------------------------------------------

/// The cover facts the parser keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeiField {
    DocumentType,
    RegistrantName,
    Cik,
    TradingSymbol,
    PeriodEndDate,
    FiscalYear,
    FiscalPeriod,
}

impl DeiField {
    fn from_concept(name: &str) -> Option<Self> {
        Some(match name.strip_prefix("dei:")? {
            "DocumentType" => Self::DocumentType,
            "EntityRegistrantName" => Self::RegistrantName,
            "EntityCentralIndexKey" => Self::Cik,
            "TradingSymbol" => Self::TradingSymbol,
            "DocumentPeriodEndDate" => Self::PeriodEndDate,
            "DocumentFiscalYearFocus" => Self::FiscalYear,
            "DocumentFiscalPeriodFocus" => Self::FiscalPeriod,
            _ => return None,
        })
    }

    fn index(self) -> usize {
        self as usize
    }

    fn concept(self) -> &'static str {
        match self {
            Self::DocumentType => "dei:DocumentType",
            Self::RegistrantName => "dei:EntityRegistrantName",
            Self::Cik => "dei:EntityCentralIndexKey",
            Self::TradingSymbol => "dei:TradingSymbol",
            Self::PeriodEndDate => "dei:DocumentPeriodEndDate",
            Self::FiscalYear => "dei:DocumentFiscalYearFocus",
            Self::FiscalPeriod => "dei:DocumentFiscalPeriodFocus",
        }
    }
}

/// Text captured inside `ix:resources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    StartDate,
    EndDate,
    Instant,
    Member,
    Measure,
}

/// What an open element means to the parser; decided at its start tag, acted on at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Inline markup (span, a, b ...) or anything without a role.
    Plain,
    /// A block-level HTML element: paragraph boundary at start and end.
    Block,
    /// The outermost visible table.
    Table,
    /// A table nested in a table cell (its text joins the outer cell).
    InnerTable,
    Row,
    Cell,
    NonFraction,
    /// A tracked `dei:` cover fact.
    Dei,
    /// `ix:exclude`: text not part of the enclosing fact's value.
    Exclude,
    Context,
    Unit,
    Numerator,
    Denominator,
    Capture(Capture),
}

#[derive(Debug)]
struct Frame {
    role: Role,
    hidden: bool,
    name_start: usize,
    name_len: usize,
}

/// Whitespace-collapsing text accumulator.
#[derive(Debug, Default)]
struct TextBuf {
    s: String,
    space: bool,
}

impl TextBuf {
    fn push(&mut self, t: &str) {
        for c in t.chars() {
            if c.is_whitespace() || c == '\u{200b}' || c == '\u{feff}' {
                self.space = true;
            } else {
                if self.space && !self.s.is_empty() {
                    self.s.push(' ');
                }
                self.space = false;
                self.s.push(c);
            }
        }
    }

    fn soft_break(&mut self) {
        self.space = true;
    }

    fn take(&mut self) -> Option<String> {
        self.space = false;
        if self.s.is_empty() { None } else { Some(std::mem::take(&mut self.s)) }
    }
}

#[derive(Debug, Default)]
struct TableBuilder {
    rows: Vec<Vec<String>>,
    row: Option<Vec<String>>,
    cell: Option<TextBuf>,
}

impl TableBuilder {
    fn finish_cell(&mut self) {
        if let Some(mut cell) = self.cell.take()
            && let Some(text) = cell.take()
        {
            self.row.get_or_insert_with(Vec::new).push(text);
        }
    }

    fn finish_row(&mut self) {
        self.finish_cell();
        if let Some(cells) = self.row.take() {
            let cells = merge_cells(cells);
            if !cells.is_empty() {
                self.rows.push(cells);
            }
        }
    }
}

/// Joins the cells financial tables split off a number: a lone `$` goes with the next cell, a
/// lone `)` or `%` with the previous one, so `(1,234)` and `$391,035` survive as one cell.
fn merge_cells(cells: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(cells.len());
    let mut prefix: Option<String> = None;
    for cell in cells {
        let is_suffix = matches!(cell.as_str(), ")" | "%" | ")%" | "%)");
        let is_prefix = matches!(cell.as_str(), "$" | "€" | "£" | "¥" | "($" | "(");
        if is_suffix && prefix.is_none() && !out.is_empty() {
            if let Some(last) = out.last_mut() {
                last.push_str(&cell);
            }
        } else if is_prefix {
            if let Some(p) = prefix.replace(cell) {
                out.push(p);
            }
        } else {
            match prefix.take() {
                Some(p) => out.push(format!("{p}{cell}")),
                None => out.push(cell),
            }
        }
    }
    if let Some(p) = prefix {
        out.push(p);
    }
    out
}

/// An `ix:nonFraction` as read, resolved after the pass.
#[derive(Debug, Default)]
struct RawFact {
    ordinal: usize,
    concept: String,
    context: String,
    unit: Option<String>,
    decimals: Option<String>,
    scale: Option<String>,
    format: Option<String>,
    negative: bool,
    nil: bool,
    id: Option<String>,
    text: String,
}

#[derive(Debug)]
struct OpenDei {
    field: DeiField,
    format: Option<String>,
    context: Option<String>,
    text: String,
}

#[derive(Debug, Clone)]
struct DeiValue {
    text: String,
    format: Option<String>,
    context: Option<String>,
}

#[derive(Debug, Default)]
struct ContextBuilder {
    id: String,
    start: Option<String>,
    end: Option<String>,
    instant: Option<String>,
    dims: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct Context {
    period: std::result::Result<Period, String>,
    dims: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct UnitBuilder {
    id: String,
    num: Vec<String>,
    den: Vec<String>,
    in_den: bool,
}

struct Prefixes {
    ix: Vec<u8>,
    xbrli: Vec<u8>,
    xbrldi: Vec<u8>,
}

struct Parser<'s> {
    source: &'s str,
    doc_len: usize,
    prefixes: Prefixes,
    seen_root: bool,
    saw_ix: bool,

    frames: Vec<Frame>,
    names: Vec<u8>,
    hidden_depth: usize,
    exclude_depth: usize,

    // text
    para: TextBuf,
    blocks: Vec<Block>,
    table_depth: usize,
    table: Option<TableBuilder>,

    // facts
    fact_count: usize,
    open_facts: Vec<RawFact>,
    raw_facts: Vec<RawFact>,
    open_dei: Vec<OpenDei>,
    dei: [Option<DeiValue>; 7],

    // resources
    capture: Option<(Capture, String)>,
    capture_dim: Option<String>,
    context: Option<ContextBuilder>,
    contexts: HashMap<String, Context>,
    unit: Option<UnitBuilder>,
    units: HashMap<String, String>,

    skipped: Vec<SkippedRow>,
}

impl<'s> Parser<'s> {
    fn new(source: &'s str, doc_len: usize) -> Self {
        Parser {
            source,
            doc_len,
            prefixes: Prefixes { ix: b"ix".to_vec(), xbrli: b"xbrli".to_vec(), xbrldi: b"xbrldi".to_vec() },
            seen_root: false,
            saw_ix: false,
            frames: Vec::with_capacity(64),
            names: Vec::with_capacity(1024),
            hidden_depth: 0,
            exclude_depth: 0,
            para: TextBuf::default(),
            blocks: Vec::new(),
            table_depth: 0,
            table: None,
            fact_count: 0,
            open_facts: Vec::new(),
            raw_facts: Vec::new(),
            open_dei: Vec::new(),
            dei: Default::default(),
            capture: None,
            capture_dim: None,
            context: None,
            contexts: HashMap::new(),
            unit: None,
            units: HashMap::new(),
            skipped: Vec::new(),
        }
    }

    fn not_ixbrl(&self, detail: &str) -> ConnectorError {
        ConnectorError::parse(self.source, format!("not an inline XBRL filing: {detail}"))
    }

    fn run(&mut self, html: &str) -> Result<()> {
        let mut reader = Reader::from_str(html);
        {
            let cfg = reader.config_mut();
            cfg.trim_text(false);
            cfg.check_end_names = false;
            cfg.allow_unmatched_ends = true;
            cfg.allow_dangling_amp = true;
            cfg.expand_empty_elements = false;
        }
        loop {
            let event = match reader.read_event() {
                Ok(ev) => ev,
                Err(e) => {
                    let pos = reader.error_position();
                    if !self.saw_ix {
                        return Err(self
                            .not_ixbrl(&format!("no ix: elements before an XML error at byte {pos}: {e}")));
                    }
                    let at_end = (pos as usize).saturating_add(2) >= self.doc_len
                        || reader.buffer_position() as usize >= self.doc_len;
                    let message = if at_end {
                        format!(
                            "document is truncated: it ends inside markup (byte {pos} of {}: {e})",
                            self.doc_len
                        )
                    } else {
                        format!("malformed inline XBRL at byte {pos} of {}: {e}", self.doc_len)
                    };
                    return Err(ConnectorError::parse(self.source, message));
                }
            };
            match event {
                Event::Start(e) => self.start(&e, false),
                Event::Empty(e) => self.start(&e, true),
                Event::End(e) => self.end(e.name().as_ref()),
                Event::Text(t) => match t.decode() {
                    Ok(s) => self.text(&s),
                    Err(e) => {
                        return Err(ConnectorError::parse(
                            self.source,
                            format!("undecodable text at byte {}: {e}", reader.buffer_position()),
                        ));
                    }
                },
                Event::CData(t) => {
                    let s = String::from_utf8_lossy(&t);
                    self.text(&s);
                }
                Event::GeneralRef(r) => {
                    if r.is_char_ref() {
                        match r.resolve_char_ref() {
                            Ok(Some(c)) => {
                                let mut buf = [0u8; 4];
                                self.text(c.encode_utf8(&mut buf));
                            }
                            _ => self.text("\u{fffd}"),
                        }
                    } else {
                        let name = String::from_utf8_lossy(&r);
                        match resolve_entity(&name) {
                            Some(s) => self.text(s),
                            None => self.text(&format!("&{name};")),
                        }
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(())
    }

    // --- element handling ------------------------------------------------------------------

    fn start(&mut self, e: &BytesStart<'_>, empty: bool) {
        let qname = e.name();
        let raw = qname.as_ref();
        if !self.seen_root {
            self.seen_root = true;
            self.read_namespaces(e);
        }
        let (prefix, local) = match raw.iter().position(|&b| b == b':') {
            Some(i) => (&raw[..i], &raw[i + 1..]),
            None => (&raw[..0], raw),
        };

        let mut hidden = false;
        let mut void = false;
        let role = if !prefix.is_empty() && prefix == self.prefixes.ix.as_slice() {
            self.saw_ix = true;
            match local {
                b"header" => {
                    hidden = true;
                    Role::Plain
                }
                b"nonFraction" => {
                    self.open_fact(e);
                    Role::NonFraction
                }
                b"nonNumeric" => {
                    if self.open_dei_fact(e) {
                        Role::Dei
                    } else {
                        Role::Plain
                    }
                }
                b"exclude" => Role::Exclude,
                _ => Role::Plain,
            }
        } else if !prefix.is_empty() && prefix == self.prefixes.xbrli.as_slice() {
            match local {
                b"context" => {
                    let id = attr(e, b"id").unwrap_or_default();
                    self.context = Some(ContextBuilder { id, ..Default::default() });
                    Role::Context
                }
                b"startDate" => self.begin_capture(Capture::StartDate),
                b"endDate" => self.begin_capture(Capture::EndDate),
                b"instant" => self.begin_capture(Capture::Instant),
                b"unit" => {
                    let id = attr(e, b"id").unwrap_or_default();
                    self.unit = Some(UnitBuilder { id, ..Default::default() });
                    Role::Unit
                }
                b"unitNumerator" => Role::Numerator,
                b"unitDenominator" => {
                    if let Some(u) = self.unit.as_mut() {
                        u.in_den = true;
                    }
                    Role::Denominator
                }
                b"measure" => self.begin_capture(Capture::Measure),
                _ => Role::Plain,
            }
        } else if !prefix.is_empty() && prefix == self.prefixes.xbrldi.as_slice() {
            match local {
                b"explicitMember" | b"typedMember" => {
                    self.capture_dim = attr(e, b"dimension");
                    self.begin_capture(Capture::Member)
                }
                _ => Role::Plain,
            }
        } else if prefix.is_empty() || !is_known_non_html_prefix(prefix) {
            let mut lower = [0u8; 12];
            let name: &[u8] = if local.len() <= lower.len() {
                for (d, s) in lower.iter_mut().zip(local) {
                    *d = s.to_ascii_lowercase();
                }
                &lower[..local.len()]
            } else {
                b""
            };
            void = matches!(
                name,
                b"br"
                    | b"hr"
                    | b"img"
                    | b"meta"
                    | b"link"
                    | b"input"
                    | b"col"
                    | b"area"
                    | b"base"
                    | b"wbr"
                    | b"param"
                    | b"source"
                    | b"embed"
                    | b"track"
            );
            hidden = matches!(name, b"head" | b"script" | b"style" | b"title" | b"noscript" | b"template")
                || has_display_none(e.attributes_raw());
            let visible = !hidden && self.hidden_depth == 0;
            match name {
                b"table" if visible => {
                    if self.table_depth == 0 {
                        self.boundary();
                        self.table = Some(TableBuilder::default());
                        self.table_depth = 1;
                        Role::Table
                    } else {
                        self.table_depth += 1;
                        self.soft_break();
                        Role::InnerTable
                    }
                }
                b"tr" if visible && self.table_depth == 1 => {
                    if let Some(t) = self.table.as_mut() {
                        t.finish_row();
                        t.row = Some(Vec::new());
                    }
                    Role::Row
                }
                b"td" | b"th" if visible && self.table_depth == 1 => {
                    if let Some(t) = self.table.as_mut() {
                        t.finish_cell();
                        t.cell = Some(TextBuf::default());
                    }
                    Role::Cell
                }
                b"div" | b"p" | b"li" | b"ul" | b"ol" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6"
                | b"br" | b"hr" | b"tr" | b"td" | b"th" | b"blockquote" | b"center" | b"section"
                | b"article" | b"header" | b"footer" | b"pre" | b"dl" | b"dt" | b"dd" | b"address"
                | b"nav" | b"main" | b"aside" | b"figure" | b"figcaption" | b"caption" | b"form"
                | b"body" | b"html" | b"table" | b"tbody" | b"thead" | b"tfoot" => Role::Block,
                _ => Role::Plain,
            }
        } else {
            Role::Plain
        };

        // Open the element.
        if role == Role::Block {
            self.boundary();
        }
        if role == Role::Exclude {
            self.exclude_depth += 1;
        }
        if hidden {
            self.hidden_depth += 1;
        }
        if empty || void {
            self.close(role, hidden);
        } else {
            let name_start = self.names.len();
            self.names.extend_from_slice(raw);
            self.frames.push(Frame { role, hidden, name_start, name_len: raw.len() });
        }
    }

    fn end(&mut self, name: &[u8]) {
        let found = self.frames.iter().rposition(|f| {
            self.names
                .get(f.name_start..f.name_start + f.name_len)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        });
        // A stray end tag (</br>, or one without a start) is ignored; one that skips open
        // elements closes them too (HTML-style recovery).
        if let Some(pos) = found {
            while self.frames.len() > pos {
                if let Some(f) = self.frames.pop() {
                    self.names.truncate(f.name_start);
                    self.close(f.role, f.hidden);
                }
            }
        }
    }

    fn close(&mut self, role: Role, hidden: bool) {
        if hidden {
            self.hidden_depth = self.hidden_depth.saturating_sub(1);
        }
        match role {
            Role::Plain => {}
            Role::Block => self.boundary(),
            Role::Table => {
                self.table_depth = 0;
                if let Some(mut t) = self.table.take() {
                    t.finish_row();
                    if !t.rows.is_empty() {
                        self.blocks.push(Block::Table { table: Table { rows: t.rows } });
                    }
                }
            }
            Role::InnerTable => {
                self.table_depth = self.table_depth.saturating_sub(1).max(1);
                self.soft_break();
            }
            Role::Row => {
                if let Some(t) = self.table.as_mut() {
                    t.finish_row();
                }
            }
            Role::Cell => {
                if let Some(t) = self.table.as_mut() {
                    t.finish_cell();
                }
            }
            Role::NonFraction => {
                if let Some(f) = self.open_facts.pop() {
                    self.raw_facts.push(f);
                }
            }
            Role::Dei => {
                if let Some(d) = self.open_dei.pop() {
                    let slot = &mut self.dei[d.field.index()];
                    let text = collapse_ws(&d.text);
                    if slot.is_none() && !text.is_empty() {
                        *slot = Some(DeiValue { text, format: d.format, context: d.context });
                    }
                }
            }
            Role::Exclude => self.exclude_depth = self.exclude_depth.saturating_sub(1),
            Role::Context => {
                if let Some(c) = self.context.take() {
                    let period = match (&c.instant, &c.start, &c.end) {
                        (Some(i), _, _) => parse_xsd_date(i)
                            .map(|date| Period::Instant { date })
                            .ok_or_else(|| format!("bad instant {i:?}")),
                        (None, Some(s), Some(e)) => match (parse_xsd_date(s), parse_xsd_date(e)) {
                            (Some(start), Some(end)) => Ok(Period::Duration { start, end }),
                            _ => Err(format!("bad period {s:?}..{e:?}")),
                        },
                        _ => Err("context has no period (instant or startDate/endDate)".to_string()),
                    };
                    self.contexts.insert(c.id, Context { period, dims: c.dims });
                }
            }
            Role::Unit => {
                if let Some(u) = self.unit.take() {
                    let mut s = u.num.join("*");
                    if !u.den.is_empty() {
                        s.push('/');
                        s.push_str(&u.den.join("*"));
                    }
                    self.units.insert(u.id, s);
                }
            }
            Role::Numerator => {}
            Role::Denominator => {
                if let Some(u) = self.unit.as_mut() {
                    u.in_den = false;
                }
            }
            Role::Capture(kind) => {
                if let Some((_, text)) = self.capture.take() {
                    let text = collapse_ws(&text);
                    match kind {
                        Capture::StartDate => {
                            if let Some(c) = self.context.as_mut() {
                                c.start = Some(text);
                            }
                        }
                        Capture::EndDate => {
                            if let Some(c) = self.context.as_mut() {
                                c.end = Some(text);
                            }
                        }
                        Capture::Instant => {
                            if let Some(c) = self.context.as_mut() {
                                c.instant = Some(text);
                            }
                        }
                        Capture::Member => {
                            if let (Some(c), Some(dim)) = (self.context.as_mut(), self.capture_dim.take()) {
                                c.dims.insert(dim, text);
                            }
                        }
                        Capture::Measure => {
                            if let Some(u) = self.unit.as_mut() {
                                let local = text.rsplit(':').next().unwrap_or(&text).to_string();
                                if u.in_den {
                                    u.den.push(local);
                                } else {
                                    u.num.push(local);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn begin_capture(&mut self, kind: Capture) -> Role {
        self.capture = Some((kind, String::new()));
        Role::Capture(kind)
    }

    fn read_namespaces(&mut self, e: &BytesStart<'_>) {
        for a in e.attributes().with_checks(false).flatten() {
            let key = a.key.as_ref();
            let Some(prefix) = key.strip_prefix(b"xmlns:") else { continue };
            let value: &[u8] = &a.value;
            if value == NS_IX {
                self.prefixes.ix = prefix.to_vec();
                self.saw_ix = true;
            } else if value == NS_XBRLI {
                self.prefixes.xbrli = prefix.to_vec();
            } else if value == NS_XBRLDI {
                self.prefixes.xbrldi = prefix.to_vec();
            }
        }
    }

    fn open_fact(&mut self, e: &BytesStart<'_>) {
        self.fact_count += 1;
        let mut f = RawFact { ordinal: self.fact_count, ..Default::default() };
        for a in e.attributes().with_checks(false).flatten() {
            let key = a.key.as_ref();
            let local = key.rsplit(|&b| b == b':').next().unwrap_or(key);
            let value = || attr_value(e, &a);
            match key {
                b"name" => f.concept = value(),
                b"contextRef" => f.context = value(),
                b"unitRef" => f.unit = Some(value()),
                b"decimals" => f.decimals = Some(value()),
                b"scale" => f.scale = Some(value()),
                b"format" => f.format = Some(value()),
                b"sign" => f.negative = value().trim() == "-",
                b"id" => f.id = Some(value()),
                _ if local == b"nil" => f.nil = value().trim() == "true",
                _ => {}
            }
        }
        self.open_facts.push(f);
    }

    fn open_dei_fact(&mut self, e: &BytesStart<'_>) -> bool {
        let Some(name) = attr(e, b"name") else { return false };
        let Some(field) = DeiField::from_concept(&name) else { return false };
        if self.dei[field.index()].is_some() {
            return false;
        }
        self.open_dei.push(OpenDei {
            field,
            format: attr(e, b"format"),
            context: attr(e, b"contextRef"),
            text: String::new(),
        });
        true
    }

    // --- text handling ---------------------------------------------------------------------

    fn text(&mut self, t: &str) {
        if self.exclude_depth == 0 {
            for f in &mut self.open_facts {
                f.text.push_str(t);
            }
            for d in &mut self.open_dei {
                d.text.push_str(t);
            }
        }
        if let Some((_, buf)) = self.capture.as_mut() {
            buf.push_str(t);
        }
        if self.hidden_depth == 0 {
            if self.table_depth > 0 {
                if let Some(cell) = self.table.as_mut().and_then(|t| t.cell.as_mut()) {
                    cell.push(t);
                }
            } else {
                self.para.push(t);
            }
        }
    }

    /// A paragraph boundary (a soft break inside table cells).
    fn boundary(&mut self) {
        if self.hidden_depth > 0 {
            return;
        }
        if self.table_depth > 0 {
            self.soft_break();
        } else if let Some(text) = self.para.take() {
            self.blocks.push(Block::Paragraph { text });
        }
    }

    fn soft_break(&mut self) {
        if let Some(cell) = self.table.as_mut().and_then(|t| t.cell.as_mut()) {
            cell.soft_break();
        }
    }

    // --- after the pass --------------------------------------------------------------------

    fn finish(mut self) -> Result<Filing> {
        if !self.saw_ix {
            return Err(self.not_ixbrl("no ix: (inline XBRL) elements"));
        }
        if !self.frames.is_empty() {
            let open: Vec<String> = self
                .frames
                .iter()
                .take(4)
                .map(|f| {
                    let n = self.names.get(f.name_start..f.name_start + f.name_len).unwrap_or_default();
                    format!("<{}>", String::from_utf8_lossy(n))
                })
                .collect();
            return Err(ConnectorError::parse(
                self.source,
                format!(
                    "document is truncated: it ends with {} element(s) still open ({}{})",
                    self.frames.len(),
                    open.join(", "),
                    if self.frames.len() > 4 { ", ..." } else { "" }
                ),
            ));
        }
        // Trailing text outside any block.
        if let Some(text) = self.para.take() {
            self.blocks.push(Block::Paragraph { text });
        }

        let Some(doc_type) = self.dei[DeiField::DocumentType.index()].clone() else {
            return Err(self.not_ixbrl(&format!(
                "no dei:DocumentType cover fact ({} ix:nonFraction facts)",
                self.raw_facts.len()
            )));
        };
        let form = doc_type.text.trim().to_string();
        let meta = self.meta(form, &doc_type);

        let facts = self.resolve_facts(&meta);
        let blocks = std::mem::take(&mut self.blocks);
        let sections = sections::split_sections(blocks, &meta.form);
        tracing::debug!(
            source = self.source,
            facts = facts.len(),
            sections = sections.len(),
            skipped = self.skipped.len(),
            "parsed inline XBRL filing"
        );
        Ok(Filing { meta, facts, sections, skipped: self.skipped })
    }

    fn skip(&mut self, what: &str, reason: String) {
        self.skipped.push(SkippedRow { location: format!("{} {what}", self.source), reason });
    }

    fn meta(&mut self, form: String, doc_type: &DeiValue) -> FilingMeta {
        let dei = self.dei.clone();
        let get = |f: DeiField| dei[f.index()].clone();

        let company = get(DeiField::RegistrantName).map(|v| v.text);
        let ticker = get(DeiField::TradingSymbol).map(|v| v.text.to_uppercase());

        let cik = match get(DeiField::Cik) {
            Some(v) => match v.text.trim().parse::<u64>() {
                Ok(c) => Some(c),
                Err(_) => {
                    self.skip(DeiField::Cik.concept(), format!("unparseable CIK {:?}", v.text));
                    None
                }
            },
            None => None,
        };

        let fiscal_year = match get(DeiField::FiscalYear) {
            Some(v) => match v.text.trim().parse::<i32>() {
                Ok(y) => Some(y),
                Err(_) => {
                    self.skip(
                        DeiField::FiscalYear.concept(),
                        format!("unparseable fiscal year {:?}", v.text),
                    );
                    None
                }
            },
            None => None,
        };

        let fiscal_period = match get(DeiField::FiscalPeriod) {
            Some(v) => match v.text.trim().parse::<FiscalPeriod>() {
                Ok(p) => Some(p),
                Err(e) => {
                    self.skip(DeiField::FiscalPeriod.concept(), e);
                    None
                }
            },
            None => None,
        };

        // The period end: the cover fact, else the end of the cover's context.
        let context_end = doc_type
            .context
            .as_ref()
            .and_then(|c| self.contexts.get(c))
            .and_then(|c| c.period.as_ref().ok())
            .map(|p| p.end());
        let period_end = match get(DeiField::PeriodEndDate) {
            Some(v) => match parse_cover_date(&v.text, v.format.as_deref()) {
                Some(d) => Some(d),
                None => {
                    let fallback = v
                        .context
                        .as_ref()
                        .and_then(|c| self.contexts.get(c))
                        .and_then(|c| c.period.as_ref().ok())
                        .map(|p| p.end())
                        .or(context_end);
                    self.skip(
                        DeiField::PeriodEndDate.concept(),
                        format!(
                            "unparseable date {:?}; using the cover context's end {}",
                            v.text,
                            fallback.map_or_else(|| "(none)".to_string(), |d| d.to_string())
                        ),
                    );
                    fallback
                }
            },
            None => context_end,
        };

        let (filed, filed_source) = match filed_from_name(self.source) {
            Some(d) => (Some(d), Some(FiledDateSource::FileName)),
            None => match period_end.and_then(|end| end.checked_add_days(Days::new(deadline_days(&form)))) {
                Some(d) => (Some(d), Some(FiledDateSource::Deadline)),
                None => (None, None),
            },
        };

        FilingMeta {
            form,
            company,
            cik,
            ticker,
            period_end,
            fiscal_year,
            fiscal_period,
            filed,
            filed_source,
            source: self.source.to_string(),
        }
    }

    fn resolve_facts(&mut self, meta: &FilingMeta) -> Vec<Fact> {
        // Equivalent contexts (same period, same dimensions) share one canonical index.
        let mut canon: HashMap<(Period, BTreeMap<String, String>), usize> = HashMap::new();
        let mut ctx_index: HashMap<&str, (usize, Period, &BTreeMap<String, String>)> = HashMap::new();
        for (id, c) in &self.contexts {
            if let Ok(p) = c.period {
                let n = canon.len();
                let k = *canon.entry((p, c.dims.clone())).or_insert(n);
                ctx_index.insert(id.as_str(), (k, p, &c.dims));
            }
        }

        let raw = std::mem::take(&mut self.raw_facts);
        let mut facts: Vec<Fact> = Vec::with_capacity(raw.len());
        let mut seen: HashMap<(&str, usize, &str), usize> = HashMap::with_capacity(raw.len());
        let mut skipped = Vec::new();

        for f in &raw {
            let id = f.id.clone().unwrap_or_else(|| format!("#{}", f.ordinal));
            let location = format!("ix:nonFraction id={id} context={}", f.context);
            let mut skip = |reason: String| {
                skipped.push(SkippedRow { location: format!("{} {location}", self.source), reason });
            };
            if f.nil {
                continue;
            }
            if f.concept.is_empty() {
                skip("no name attribute".to_string());
                continue;
            }
            let Some(&(ctx_key, period, dims)) = ctx_index.get(f.context.as_str()) else {
                match self.contexts.get(&f.context) {
                    Some(Context { period: Err(e), .. }) => {
                        skip(format!("{}: context {}: {e}", f.concept, f.context))
                    }
                    _ => skip(format!("{}: unknown context {:?}", f.concept, f.context)),
                }
                continue;
            };
            let Some(unit_ref) = f.unit.as_deref() else {
                skip(format!("{}: no unitRef", f.concept));
                continue;
            };
            let Some(unit) = self.units.get(unit_ref) else {
                skip(format!("{}: unknown unit {unit_ref:?}", f.concept));
                continue;
            };
            let decimals = match f.decimals.as_deref().map(str::trim) {
                None | Some("INF") => None,
                Some(d) => match d.parse::<i32>() {
                    Ok(d) => Some(d),
                    Err(_) => {
                        skip(format!("{}: bad decimals {d:?}", f.concept));
                        continue;
                    }
                },
            };
            let value = match fact_value(&f.text, f.format.as_deref(), f.scale.as_deref(), f.negative) {
                Ok(v) => v,
                Err(reason) => {
                    skip(format!("{}: {reason}", f.concept));
                    continue;
                }
            };
            let fact = Fact {
                concept: f.concept.clone(),
                value,
                unit: unit.clone(),
                period,
                dimensions: dims.clone(),
                decimals,
                source: SourceRef {
                    document: self.source.to_string(),
                    location,
                    accession: None,
                    form: Some(meta.form.clone()),
                    filed: meta.filed,
                    fiscal_year: meta.fiscal_year,
                    fiscal_period: meta.fiscal_period,
                },
            };
            let key = (f.concept.as_str(), ctx_key, unit_ref);
            match seen.get(&key) {
                None => {
                    seen.insert(key, facts.len());
                    facts.push(fact);
                }
                Some(&i) => {
                    let kept = &facts[i];
                    let consistent = values_consistent(kept.value, kept.decimals, fact.value, fact.decimals);
                    let more_precise = precision(fact.decimals) > precision(kept.decimals);
                    if !consistent {
                        let (keep, drop) = if more_precise { (&fact, kept) } else { (kept, &fact) };
                        skipped.push(SkippedRow {
                            location: format!("{} {}", self.source, drop.source.location),
                            reason: format!(
                                "{}: duplicate fact disagrees: {} (decimals {:?}) vs {} (decimals {:?}) at {}; \
                                 kept {} from {}",
                                fact.concept,
                                kept.value,
                                kept.decimals,
                                fact.value,
                                fact.decimals,
                                keep.source.location,
                                keep.value,
                                keep.source.location
                            ),
                        });
                    }
                    if more_precise {
                        facts[i] = fact;
                    }
                }
            }
        }
        self.skipped.extend(skipped);
        facts
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn is_known_non_html_prefix(prefix: &[u8]) -> bool {
    matches!(prefix, b"link" | b"xlink" | b"xbrli" | b"xbrldi" | b"ix" | b"xsi" | b"dei" | b"us-gaap")
}

/// An attribute value by exact key, entities resolved.
fn attr(e: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    e.attributes().with_checks(false).flatten().find(|a| a.key.as_ref() == key).map(|a| attr_value(e, &a))
}

fn attr_value(e: &BytesStart<'_>, a: &quick_xml::events::attributes::Attribute<'_>) -> String {
    match a.decode_and_unescape_value_with(e.decoder(), resolve_entity) {
        Ok(v) => v.into_owned(),
        Err(_) => String::from_utf8_lossy(&a.value).into_owned(),
    }
}

/// Whether a raw attribute string holds `display:none` (any spacing, any case).
fn has_display_none(raw: &[u8]) -> bool {
    const KEY: &[u8] = b"display";
    let mut i = 0;
    while i + KEY.len() <= raw.len() {
        if raw[i..i + KEY.len()].eq_ignore_ascii_case(KEY) {
            let mut j = i + KEY.len();
            while j < raw.len() && raw[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < raw.len() && raw[j] == b':' {
                j += 1;
                while j < raw.len() && raw[j].is_ascii_whitespace() {
                    j += 1;
                }
                if raw.len() >= j + 4 && raw[j..j + 4].eq_ignore_ascii_case(b"none") {
                    return true;
                }
            }
            i += KEY.len();
        } else {
            i += 1;
        }
    }
    false
}

/// HTML named entities common in EDGAR documents (XML's five included). Unknown names are
/// kept literally by the caller.
fn resolve_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" => "\u{a0}",
        "ensp" => "\u{2002}",
        "emsp" => "\u{2003}",
        "thinsp" => "\u{2009}",
        "zwsp" | "ZeroWidthSpace" => "\u{200b}",
        "mdash" => "—",
        "ndash" => "–",
        "minus" => "−",
        "hyphen" | "dash" => "‐",
        "lsquo" => "‘",
        "rsquo" => "’",
        "ldquo" => "“",
        "rdquo" => "”",
        "sbquo" => "‚",
        "bdquo" => "„",
        "laquo" => "«",
        "raquo" => "»",
        "hellip" => "…",
        "bull" => "•",
        "middot" => "·",
        "sect" => "§",
        "para" => "¶",
        "dagger" => "†",
        "Dagger" => "‡",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "deg" => "°",
        "plusmn" => "±",
        "times" => "×",
        "divide" => "÷",
        "frac12" => "½",
        "frac14" => "¼",
        "frac34" => "¾",
        "cent" => "¢",
        "pound" => "£",
        "euro" => "€",
        "yen" => "¥",
        "percnt" => "%",
        "dollar" => "$",
        "check" => "✓",
        "cross" => "✗",
        "squ" | "square" => "□",
        "rarr" => "→",
        "larr" => "←",
        "eacute" => "é",
        "Eacute" => "É",
        "egrave" => "è",
        "aacute" => "á",
        "agrave" => "à",
        "ccedil" => "ç",
        "ntilde" => "ñ",
        "ouml" => "ö",
        "uuml" => "ü",
        "auml" => "ä",
        "szlig" => "ß",
        "iacute" => "í",
        "oacute" => "ó",
        "uacute" => "ú",
        "shy" => "",
        _ => return None,
    })
}

fn collapse_ws(s: &str) -> String {
    let mut b = TextBuf::default();
    b.push(s);
    b.take().unwrap_or_default()
}

fn parse_xsd_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    // xs:date may carry a time zone; a dateTime's date part is taken.
    let d = s.get(..10).unwrap_or(s);
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

/// A cover date as printed: `September 28, 2024`, `2024-09-28`, `06/30/2025` ...
fn parse_cover_date(text: &str, format: Option<&str>) -> Option<NaiveDate> {
    let t = collapse_ws(&text.replace(['\u{a0}', ','], " "));
    let t = t.trim_end_matches('.').trim();
    let fmt = format.map(|f| f.rsplit(':').next().unwrap_or(f)).unwrap_or("");
    let try_formats = |formats: &[&str]| formats.iter().find_map(|f| NaiveDate::parse_from_str(t, f).ok());
    let by_format = match fmt {
        "date-monthname-day-year-en" | "datemonthdayyearen" | "date-month-day-year-en" => {
            try_formats(&["%B %d %Y", "%b %d %Y", "%b. %d %Y"])
        }
        "date-day-monthname-year-en" | "datedaymonthyearen" => try_formats(&["%d %B %Y", "%d %b %Y"]),
        "date-month-day-year" | "datemonthdayyear" => try_formats(&["%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y"]),
        "date-year-month-day" | "dateyearmonthday" => try_formats(&["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d"]),
        "date-day-month-year" | "datedaymonthyear" => try_formats(&["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"]),
        _ => None,
    };
    by_format.or_else(|| {
        try_formats(&["%Y-%m-%d", "%B %d %Y", "%b %d %Y", "%b. %d %Y", "%d %B %Y", "%m/%d/%Y", "%Y/%m/%d"])
    })
}

/// The value of a fact: text per the `format` transform, × 10^scale, negated for `sign="-"`.
fn fact_value(
    text: &str,
    format: Option<&str>,
    scale: Option<&str>,
    negative: bool,
) -> std::result::Result<f64, String> {
    let t = collapse_ws(text);
    let fmt = format.map(|f| f.rsplit(':').next().unwrap_or(f)).unwrap_or("");
    let scale: i32 = match scale.map(str::trim) {
        None | Some("") => 0,
        Some(s) => s.parse().map_err(|_| format!("bad scale {s:?}"))?,
    };
    let digits: String = match fmt {
        "fixed-zero" | "zerodash" | "fixedzero" | "zero-dash" => "0".to_string(),
        "numwordsen" | "num-words-en" => match words_to_number(&t) {
            Some(n) => n.to_string(),
            None => return Err(format!("cannot read {t:?} as a number in words ({})", format.unwrap_or(""))),
        },
        "num-comma-decimal" | "numcommadecimal" | "numdotcomma" | "num-comma-decimal-apos" => {
            numeric_text(&t, ',').ok_or_else(|| format!("cannot read {t:?} as {}", format.unwrap_or("")))?
        }
        ""
        | "num-dot-decimal"
        | "numdotdecimal"
        | "numcommadot"
        | "numspacedot"
        | "num-dot-decimal-apos"
        | "numdash" => {
            if fmt == "numdash" && matches!(t.as_str(), "-" | "—" | "–") {
                "0".to_string()
            } else {
                numeric_text(&t, '.').ok_or_else(|| {
                    format!(
                        "cannot read {t:?} as a number{}",
                        format.map(|f| format!(" ({f})")).unwrap_or_default()
                    )
                })?
            }
        }
        _ => numeric_text(&t, '.')
            .ok_or_else(|| format!("cannot read {t:?} with format {}", format.unwrap_or("")))?,
    };
    let digits = if digits.starts_with('.') { format!("0{digits}") } else { digits };
    let digits = if digits.ends_with('.') { format!("{digits}0") } else { digits };
    let v: f64 = format!("{digits}e{scale}").parse().map_err(|_| format!("cannot read {t:?} as a number"))?;
    if !v.is_finite() {
        return Err(format!("value {t:?} × 10^{scale} is not finite"));
    }
    Ok(if negative { -v } else { v })
}

/// Digits and one decimal point from a displayed number (`1,234.5` with `.` as the decimal
/// mark). Grouping marks (`,` `.` space `'`) are dropped. Signs are not part of iXBRL number
/// text (the `sign` attribute carries them), so anything else fails.
fn numeric_text(t: &str, decimal: char) -> Option<String> {
    let mut out = String::with_capacity(t.len());
    let mut seen_point = false;
    for c in t.chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if c == decimal {
            if seen_point {
                return None;
            }
            seen_point = true;
            out.push('.');
        } else if matches!(c, ',' | '.' | ' ' | '\'' | '’' | '\u{a0}' | '\u{202f}') {
            // grouping mark
        } else {
            return None;
        }
    }
    if out.bytes().any(|b| b.is_ascii_digit()) { Some(out) } else { None }
}

/// English number words: `no`, `none`, `zero` → 0, `one` .. `ninety-nine`, with `hundred`,
/// `thousand`, `million`, `billion`.
fn words_to_number(t: &str) -> Option<u64> {
    let lower = t.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == '-' || c == ',')
        .filter(|w| !w.is_empty() && *w != "and")
        .collect();
    if words.is_empty() {
        return None;
    }
    if words.len() == 1 && matches!(words[0], "no" | "none" | "zero" | "nil" | "nothing") {
        return Some(0);
    }
    let mut total: u64 = 0;
    let mut current: u64 = 0;
    for w in words {
        let small = match w {
            "zero" => Some(0),
            "a" | "an" | "one" => Some(1),
            "two" => Some(2),
            "three" => Some(3),
            "four" => Some(4),
            "five" => Some(5),
            "six" => Some(6),
            "seven" => Some(7),
            "eight" => Some(8),
            "nine" => Some(9),
            "ten" => Some(10),
            "eleven" => Some(11),
            "twelve" => Some(12),
            "thirteen" => Some(13),
            "fourteen" => Some(14),
            "fifteen" => Some(15),
            "sixteen" => Some(16),
            "seventeen" => Some(17),
            "eighteen" => Some(18),
            "nineteen" => Some(19),
            "twenty" => Some(20),
            "thirty" => Some(30),
            "forty" => Some(40),
            "fifty" => Some(50),
            "sixty" => Some(60),
            "seventy" => Some(70),
            "eighty" => Some(80),
            "ninety" => Some(90),
            _ => None,
        };
        if let Some(n) = small {
            current += n;
            continue;
        }
        let mult: u64 = match w {
            "hundred" => {
                current = current.max(1) * 100;
                continue;
            }
            "thousand" => 1_000,
            "million" => 1_000_000,
            "billion" => 1_000_000_000,
            _ => return None,
        };
        total += current.max(1) * mult;
        current = 0;
    }
    Some(total + current)
}

/// Precision rank: exact (`INF`) beats any finite `decimals`.
fn precision(decimals: Option<i32>) -> i64 {
    decimals.map_or(i64::MAX, i64::from)
}

/// Whether two reported values agree once each is read with its own rounding.
fn values_consistent(a: f64, da: Option<i32>, b: f64, db: Option<i32>) -> bool {
    let half = |d: Option<i32>| d.map_or(0.0, |d| 0.5 * 10f64.powi(-d));
    let tol = half(da) + half(db) + 1e-9 * a.abs().max(b.abs()).max(1.0);
    (a - b).abs() <= tol
}

/// A `YYYY-MM-DD` date in the last path component of `source`.
fn filed_from_name(source: &str) -> Option<NaiveDate> {
    let name = source.rsplit(['/', '\\']).next().unwrap_or(source);
    let b = name.as_bytes();
    if b.len() < 10 {
        return None;
    }
    (0..=b.len() - 10).find_map(|i| {
        let w = &b[i..i + 10];
        let shape =
            w.iter().enumerate().all(|(k, c)| if k == 4 || k == 7 { *c == b'-' } else { c.is_ascii_digit() });
        let bounded = i == 0 || !b[i - 1].is_ascii_digit();
        let after = b.get(i + 10).is_none_or(|c| !c.is_ascii_digit());
        if shape && bounded && after {
            NaiveDate::parse_from_str(name.get(i..i + 10)?, "%Y-%m-%d").ok()
        } else {
            None
        }
    })
}

/// Days after the period end by which the form must be filed (the largest filer-category
/// deadline, so it is an upper bound).
fn deadline_days(form: &str) -> u64 {
    let f = form.trim().to_ascii_uppercase();
    if f.starts_with("10-Q") {
        45
    } else if f.starts_with("20-F") {
        120
    } else {
        90
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(header: &str, body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"
 xmlns:xbrli="http://www.xbrl.org/2003/instance" xmlns:xbrldi="http://xbrl.org/2006/xbrldi"
 xmlns:iso4217="http://www.xbrl.org/2003/iso4217" xmlns:ixt="http://www.xbrl.org/inlineXBRL/transformation/2020-02-12"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<head><title>Test 10-K</title></head>
<body>
<div style="display:none"><ix:header><ix:hidden>
<ix:nonNumeric contextRef="c-1" name="dei:DocumentFiscalYearFocus">2024</ix:nonNumeric>
<ix:nonNumeric contextRef="c-1" name="dei:DocumentFiscalPeriodFocus">FY</ix:nonNumeric>
<ix:nonNumeric contextRef="c-1" name="dei:EntityCentralIndexKey">0000320193</ix:nonNumeric>
</ix:hidden><ix:resources>
<xbrli:context id="c-1"><xbrli:entity><xbrli:identifier scheme="http://www.sec.gov/CIK">0000320193</xbrli:identifier></xbrli:entity>
<xbrli:period><xbrli:startDate>2023-10-01</xbrli:startDate><xbrli:endDate>2024-09-28</xbrli:endDate></xbrli:period></xbrli:context>
<xbrli:context id="c-2"><xbrli:entity><xbrli:identifier scheme="http://www.sec.gov/CIK">0000320193</xbrli:identifier>
<xbrli:segment><xbrldi:explicitMember dimension="srt:ProductOrServiceAxis">us-gaap:ProductMember</xbrldi:explicitMember>
<xbrldi:typedMember dimension="ex:RegionAxis"><ex:region>West</ex:region></xbrldi:typedMember></xbrli:segment></xbrli:entity>
<xbrli:period><xbrli:startDate>2023-10-01</xbrli:startDate><xbrli:endDate>2024-09-28</xbrli:endDate></xbrli:period></xbrli:context>
<xbrli:context id="c-3"><xbrli:entity><xbrli:identifier scheme="http://www.sec.gov/CIK">0000320193</xbrli:identifier></xbrli:entity>
<xbrli:period><xbrli:startDate>2023-10-01</xbrli:startDate><xbrli:endDate>2024-09-28</xbrli:endDate></xbrli:period></xbrli:context>
<xbrli:unit id="usd"><xbrli:measure>iso4217:USD</xbrli:measure></xbrli:unit>
<xbrli:unit id="shares"><xbrli:measure>xbrli:shares</xbrli:measure></xbrli:unit>
<xbrli:unit id="usdPerShare"><xbrli:divide><xbrli:unitNumerator><xbrli:measure>iso4217:USD</xbrli:measure></xbrli:unitNumerator>
<xbrli:unitDenominator><xbrli:measure>xbrli:shares</xbrli:measure></xbrli:unitDenominator></xbrli:divide></xbrli:unit>
{header}
</ix:resources></ix:header></div>
<div>FORM <ix:nonNumeric contextRef="c-1" name="dei:DocumentType">10-K</ix:nonNumeric></div>
<div>For the fiscal year ended <ix:nonNumeric contextRef="c-1" name="dei:DocumentPeriodEndDate" format="ixt:date-monthname-day-year-en"><ix:nonNumeric contextRef="c-1" name="dei:CurrentFiscalYearEndDate" format="ixt:date-monthname-day-en">September&#160;28</ix:nonNumeric>, 2024</ix:nonNumeric></div>
<div><ix:nonNumeric contextRef="c-1" name="dei:EntityRegistrantName">Apple&#160;Inc.</ix:nonNumeric></div>
<div>Trading symbol <ix:nonNumeric contextRef="c-1" name="dei:TradingSymbol">aapl</ix:nonNumeric>
and <ix:nonNumeric contextRef="c-1" name="dei:TradingSymbol">AAPL26</ix:nonNumeric></div>
{body}
</body></html>"#
        )
    }

    fn nf(name: &str, ctx: &str, unit: &str, attrs: &str, text: &str) -> String {
        format!(
            r#"<ix:nonFraction name="{name}" contextRef="{ctx}" unitRef="{unit}" {attrs}>{text}</ix:nonFraction>"#
        )
    }

    fn find<'a>(f: &'a Filing, concept: &str) -> Vec<&'a Fact> {
        f.facts.iter().filter(|x| x.concept == concept).collect()
    }

    #[test]
    fn scale_sign_and_formats() {
        let body = [
            nf(
                "us-gaap:Revenues",
                "c-1",
                "usd",
                r#"id="f1" decimals="-6" scale="6" format="ixt:num-dot-decimal""#,
                "391,035",
            ),
            nf(
                "us-gaap:NetIncomeLoss",
                "c-1",
                "usd",
                r#"id="f2" decimals="-6" scale="6" sign="-" format="ixt:num-dot-decimal""#,
                "1,234.5",
            ),
            nf("us-gaap:EarningsPerShareDiluted", "c-1", "usdPerShare", r#"id="f3" decimals="2""#, "6.08"),
            nf(
                "us-gaap:Other",
                "c-1",
                "usd",
                r#"id="f4" decimals="-6" scale="6" format="ixt:fixed-zero""#,
                "&#8212;",
            ),
            nf(
                "us-gaap:Count",
                "c-1",
                "shares",
                r#"id="f5" decimals="INF" format="ixt-sec:numwordsen""#,
                "no",
            ),
            nf(
                "us-gaap:Count2",
                "c-1",
                "shares",
                r#"id="f6" decimals="INF" format="ixt-sec:numwordsen""#,
                "Twenty-three",
            ),
            nf(
                "us-gaap:Euro",
                "c-1",
                "usd",
                r#"id="f7" decimals="2" format="ixt:num-comma-decimal""#,
                "1.234,56",
            ),
            nf("us-gaap:Pct", "c-1", "usd", r#"id="f8" decimals="3" scale="-2""#, "5.5"),
            nf("us-gaap:Nil", "c-1", "usd", r#"id="f9" xsi:nil="true""#, ""),
            nf("us-gaap:Bad", "c-1", "usd", r#"id="f10" decimals="0""#, "n/a"),
            nf("us-gaap:NoCtx", "c-99", "usd", r#"id="f11" decimals="0""#, "5"),
            nf("us-gaap:NoUnit", "c-1", "eur", r#"id="f12" decimals="0""#, "5"),
        ]
        .join("\n");
        let f = parse_filing(&doc("", &format!("<div>{body}</div>")), "mem-2024-11-01.htm").unwrap();
        let one = |c: &str| find(&f, c).first().map(|x| x.value).unwrap();
        assert_eq!(one("us-gaap:Revenues"), 391_035_000_000.0);
        assert_eq!(one("us-gaap:NetIncomeLoss"), -1_234_500_000.0);
        let eps = find(&f, "us-gaap:EarningsPerShareDiluted")[0];
        assert_eq!((eps.value, eps.unit.as_str(), eps.decimals), (6.08, "USD/shares", Some(2)));
        assert_eq!(one("us-gaap:Other"), 0.0);
        assert_eq!(one("us-gaap:Count"), 0.0);
        assert_eq!(find(&f, "us-gaap:Count")[0].unit, "shares");
        assert_eq!(find(&f, "us-gaap:Count")[0].decimals, None);
        assert_eq!(one("us-gaap:Count2"), 23.0);
        assert_eq!(one("us-gaap:Euro"), 1234.56);
        assert_eq!(one("us-gaap:Pct"), 0.055);
        assert!(find(&f, "us-gaap:Nil").is_empty());
        for bad in ["us-gaap:Bad", "us-gaap:NoCtx", "us-gaap:NoUnit"] {
            assert!(find(&f, bad).is_empty(), "{bad}");
            assert!(f.skipped.iter().any(|s| s.reason.contains(bad)), "{bad}: {:?}", f.skipped);
        }
        let bad = f.skipped.iter().find(|s| s.reason.contains("us-gaap:Bad")).unwrap();
        assert!(bad.location.contains("mem-2024-11-01.htm") && bad.location.contains("id=f10"), "{bad:?}");
        let unknown = f.skipped.iter().find(|s| s.reason.contains("us-gaap:NoCtx")).unwrap();
        assert!(unknown.reason.contains("c-99"), "{unknown:?}");
        let rev = find(&f, "us-gaap:Revenues")[0];
        assert_eq!(rev.source.location, "ix:nonFraction id=f1 context=c-1");
        assert_eq!(rev.source.form.as_deref(), Some("10-K"));
        assert_eq!(rev.source.fiscal_year, Some(2024));
        assert_eq!(rev.source.fiscal_period, Some(FiscalPeriod::FY));
        assert_eq!(rev.source.filed, NaiveDate::from_ymd_opt(2024, 11, 1));
        assert_eq!(
            rev.period,
            Period::Duration {
                start: NaiveDate::from_ymd_opt(2023, 10, 1).unwrap(),
                end: NaiveDate::from_ymd_opt(2024, 9, 28).unwrap()
            }
        );
    }

    #[test]
    fn nested_facts_contexts_and_dimensions() {
        let inner = nf("us-gaap:B", "c-2", "usd", r#"id="in" decimals="-3" scale="3""#, "7<span>,</span>500");
        let outer = format!(
            r#"<ix:nonFraction name="us-gaap:A" contextRef="c-1" unitRef="usd" id="out" decimals="-3" scale="3">{inner}</ix:nonFraction>"#
        );
        // A context defined after the fact that uses it.
        let late = r#"<xbrli:context id="c-late"><xbrli:entity><xbrli:identifier scheme="x">1</xbrli:identifier></xbrli:entity><xbrli:period><xbrli:instant>2024-09-28</xbrli:instant></xbrli:period></xbrli:context>"#;
        let body = format!(
            "<div>{outer}</div><div>{}</div><div style=\"display:none\"><ix:header><ix:resources>{late}</ix:resources></ix:header></div>",
            nf("us-gaap:Assets", "c-late", "usd", r#"id="a" decimals="-6" scale="6""#, "364,980")
        );
        let f = parse_filing(&doc("", &body), "x.htm").unwrap();
        let a = find(&f, "us-gaap:A")[0];
        let b = find(&f, "us-gaap:B")[0];
        assert_eq!((a.value, b.value), (7_500_000.0, 7_500_000.0));
        assert!(a.dimensions.is_empty());
        assert_eq!(
            b.dimensions.get("srt:ProductOrServiceAxis").map(String::as_str),
            Some("us-gaap:ProductMember")
        );
        assert_eq!(b.dimensions.get("ex:RegionAxis").map(String::as_str), Some("West"));
        let assets = find(&f, "us-gaap:Assets")[0];
        assert_eq!(assets.period, Period::Instant { date: NaiveDate::from_ymd_opt(2024, 9, 28).unwrap() });
        assert_eq!(assets.value, 364_980_000_000.0);
    }

    #[test]
    fn duplicates_are_merged_and_conflicts_reported() {
        let body = [
            // Same fact twice (c-1 and c-3 are the same period, no dimensions).
            nf("us-gaap:Revenues", "c-1", "usd", r#"id="r1" decimals="-6" scale="6""#, "391,035"),
            nf("us-gaap:Revenues", "c-3", "usd", r#"id="r2" decimals="-6" scale="6""#, "391,035"),
            // A more precise consistent duplicate replaces the rounded one, no conflict.
            nf("us-gaap:Cash", "c-1", "usd", r#"id="k1" decimals="-9" scale="9""#, "30"),
            nf("us-gaap:Cash", "c-1", "usd", r#"id="k2" decimals="-6" scale="6""#, "29,943"),
            // Disagreeing duplicates: the more precise one is kept, the conflict reported.
            nf("us-gaap:Debt", "c-1", "usd", r#"id="d1" decimals="-6" scale="6""#, "100"),
            nf("us-gaap:Debt", "c-1", "usd", r#"id="d2" decimals="-3" scale="3""#, "200,000"),
        ]
        .join("");
        let f = parse_filing(&doc("", &format!("<div>{body}</div>")), "x.htm").unwrap();
        assert_eq!(find(&f, "us-gaap:Revenues").len(), 1);
        let cash = find(&f, "us-gaap:Cash");
        assert_eq!((cash.len(), cash[0].value, cash[0].decimals), (1, 29_943_000_000.0, Some(-6)));
        let debt = find(&f, "us-gaap:Debt");
        assert_eq!((debt.len(), debt[0].value), (1, 200_000_000.0));
        let conflicts: Vec<_> = f.skipped.iter().filter(|s| s.reason.contains("disagrees")).collect();
        assert_eq!(conflicts.len(), 1, "{:?}", f.skipped);
        assert!(conflicts[0].reason.contains("us-gaap:Debt"));
        assert!(!f.skipped.iter().any(|s| s.reason.contains("Cash") || s.reason.contains("Revenues")));
    }

    #[test]
    fn cover_facts() {
        let f = parse_filing(&doc("", "<div>nothing</div>"), "dir/2020-01-01/aapl.htm").unwrap();
        let m = &f.meta;
        assert_eq!(m.form, "10-K");
        assert_eq!(m.company.as_deref(), Some("Apple Inc."));
        assert_eq!(m.cik, Some(320193));
        assert_eq!(m.ticker.as_deref(), Some("AAPL"));
        assert_eq!(m.period_end, NaiveDate::from_ymd_opt(2024, 9, 28));
        assert_eq!((m.fiscal_year, m.fiscal_period), (Some(2024), Some(FiscalPeriod::FY)));
        // No date in the file name (the directory's does not count): the 10-K deadline.
        assert_eq!(m.filed, NaiveDate::from_ymd_opt(2024, 12, 27));
        assert_eq!(m.filed_source, Some(FiledDateSource::Deadline));
        assert_eq!(m.source, "dir/2020-01-01/aapl.htm");
    }

    #[test]
    fn cover_date_formats() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        let f = Some("ixt:date-monthname-day-year-en");
        assert_eq!(parse_cover_date("September\u{a0}28, 2024", f), d(2024, 9, 28));
        assert_eq!(parse_cover_date("DECEMBER 31, 2024", f), d(2024, 12, 31));
        assert_eq!(parse_cover_date("June 30 , 2025", None), d(2025, 6, 30));
        assert_eq!(parse_cover_date("2024-09-28", None), d(2024, 9, 28));
        assert_eq!(parse_cover_date("06/30/2025", Some("ixt:date-month-day-year")), d(2025, 6, 30));
        assert_eq!(parse_cover_date("the last day", None), None);
    }

    #[test]
    fn filing_dates_from_names_and_deadlines() {
        assert_eq!(
            filed_from_name("data/filings/aapl-10-k-2024-11-01.html.gz"),
            NaiveDate::from_ymd_opt(2024, 11, 1)
        );
        assert_eq!(filed_from_name("C:\\x\\ko-10-q-2025-07-24.htm"), NaiveDate::from_ymd_opt(2025, 7, 24));
        assert_eq!(filed_from_name("2024-11-01/aapl.htm"), None);
        assert_eq!(filed_from_name("aapl-2024-13-01.htm"), None);
        assert_eq!(deadline_days("10-Q"), 45);
        assert_eq!(deadline_days("10-K/A"), 90);
        assert_eq!(deadline_days("20-F"), 120);
    }

    #[test]
    fn text_blocks_tables_and_hidden_content() {
        let body = r#"<div><span>Item 1.</span><span> Business</span></div>
<p>First   paragraph<br/>second&nbsp;line</p>
<div style="display: none">hidden text</div>
<table><tr><td>Net sales</td><td></td><td>$</td><td>391,035</td><td>(1,234</td><td>)</td></tr>
<tr><td> </td><td/></tr><tr><th>Total</th><td><table><tr><td>inner</td><td>cell</td></tr></table></td></tr></table>
<div>after</div>"#;
        let f = parse_filing(&doc("", body), "x.htm").unwrap();
        let mut paras = Vec::new();
        let mut tables = Vec::new();
        for s in &f.sections {
            for b in &s.blocks {
                match b {
                    Block::Paragraph { text } => paras.push(text.clone()),
                    Block::Table { table } => tables.push(table.clone()),
                }
            }
        }
        assert_eq!(f.sections.len(), 1);
        assert_eq!(f.sections[0].item, "1");
        assert_eq!(f.sections[0].title, "Business");
        assert_eq!(paras, vec!["First paragraph", "second line", "after"]);
        assert_eq!(tables.len(), 1);
        assert_eq!(
            tables[0].rows,
            vec![vec!["Net sales", "$391,035", "(1,234)"], vec!["Total", "inner cell"]]
        );
        assert!(!f.sections.iter().any(|s| s.text().contains("hidden") || s.text().contains("2024 FY")));
    }

    #[test]
    fn non_xbrl_inputs_are_rejected_with_the_source_named() {
        for html in [
            "<html><body><p>Hello</p></body></html>",
            "<html><body><p>Hello<br><p class=x>unclosed & broken</body></html>",
            "<!DOCTYPE html><html><head><meta charset=utf-8></head><body><div>Hi</div></body></html>",
            "",
            "plain text, not markup",
        ] {
            let err = parse_filing(html, "page.html").unwrap_err().to_string();
            assert!(
                err.contains("page.html") && err.contains("not an inline XBRL filing"),
                "{html:?}: {err}"
            );
        }
        // ix: elements but no cover.
        let html = r#"<html xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"><body><p>x</p></body></html>"#;
        let err = parse_filing(html, "nocover.htm").unwrap_err().to_string();
        assert!(err.contains("nocover.htm") && err.contains("DocumentType"), "{err}");
    }

    #[test]
    fn truncated_documents_are_errors() {
        let full = doc(
            "",
            &format!(
                "<div>{}</div><p>Item 1. Business</p><p>text</p>",
                nf("us-gaap:A", "c-1", "usd", r#"decimals="0""#, "1")
            ),
        );
        assert!(parse_filing(&full, "full.htm").is_ok());
        for cut in [full.len() / 2, full.len() - 10, full.len() - 3, full.find("FORM").unwrap() + 200] {
            let err = parse_filing(&full[..cut], "cut.htm").unwrap_err().to_string();
            assert!(err.contains("cut.htm") && err.contains("truncated"), "cut at {cut}: {err}");
        }
    }

    #[test]
    fn lenient_html_recovery() {
        // Mismatched and stray end tags, an unclosed <br>, named entities.
        let body = "<div><p>one &mdash; two</div></span><div>three<br>four</div>";
        let mut html = doc("", "<p>Item 1. Business</p>");
        html = html.replace("</body>", &format!("{body}</body>"));
        let f = parse_filing(&html, "x.htm").unwrap();
        let text = f.sections[0].text();
        assert!(text.contains("one — two\n\nthree\n\nfour"), "{text}");
    }

    #[test]
    fn numbers_in_words() {
        assert_eq!(words_to_number("none"), Some(0));
        assert_eq!(words_to_number("Thirteen"), Some(13));
        assert_eq!(words_to_number("one hundred twenty-five"), Some(125));
        assert_eq!(words_to_number("two million"), Some(2_000_000));
        assert_eq!(words_to_number("several"), None);
        assert!(fact_value("several", Some("ixt-sec:numwordsen"), None, false).is_err());
        assert!(fact_value("", None, None, false).is_err());
        assert!(fact_value("1.2.3", None, None, false).is_err());
        assert!(fact_value("5", None, Some("x"), false).is_err());
    }
}
