//! Evaluation datasets defined by configuration only.
//!
//! A [`DatasetSpec`] names candidate files, a [`DataFormat`] and a field mapping; [`load`] reads the first
//! existing file (JSONL, JSON, CSV, TSV, `sentence@label` text or CoNLL) into uniform [`Item`]s whose
//! fields are named by the mapping, and reports bad rows with their 1-based line numbers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::core::schemas::json_kind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// How many bad rows a [`DatasetError::Rows`] lists (the count covers them all).
const MAX_LISTED_ROWS: usize = 10;

/// The UTF-8 byte order mark.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The file format of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DataFormat {
    /// One JSON object per line (blank lines skipped).
    #[serde(rename = "jsonl")]
    Jsonl,
    /// A JSON array of objects, or an object holding one at the dotted path `records`.
    #[serde(rename = "json")]
    Json,
    /// A header row naming the columns, then comma-separated rows (RFC 4180 quoting).
    #[serde(rename = "csv")]
    Csv,
    /// A header row naming the columns, then tab-separated rows.
    #[serde(rename = "tsv")]
    Tsv,
    /// `sentence@label` lines, split at the last separator: fields `text` and `label`.
    #[serde(rename = "text@label")]
    TextLabel,
    /// CoNLL token-per-line (`token … tag`), a blank line or `-DOCSTART-` between sentences: fields
    /// `tokens`, `tags`, `text` and `entities`.
    #[serde(rename = "conll")]
    Conll,
}

impl DataFormat {
    /// The format told by the file name: `.jsonl`/`.ndjson`, `.json`, `.csv`, `.tsv`, `.conll`, and `.txt`
    /// for [`DataFormat::TextLabel`] (case-insensitive), each optionally gzip-compressed
    /// (`.jsonl.gz`). None for anything else.
    pub fn from_path(path: &Path) -> Option<DataFormat> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let (_, extension) = name.rsplit_once('.')?;
        match extension {
            "jsonl" | "ndjson" => Some(DataFormat::Jsonl),
            "json" => Some(DataFormat::Json),
            "csv" => Some(DataFormat::Csv),
            "tsv" => Some(DataFormat::Tsv),
            "conll" => Some(DataFormat::Conll),
            "txt" => Some(DataFormat::TextLabel),
            _ => None,
        }
    }

    /// The name used in configuration files (`jsonl`, `json`, `csv`, `tsv`, `text@label`, `conll`).
    pub fn name(self) -> &'static str {
        match self {
            DataFormat::Jsonl => "jsonl",
            DataFormat::Json => "json",
            DataFormat::Csv => "csv",
            DataFormat::Tsv => "tsv",
            DataFormat::TextLabel => "text@label",
            DataFormat::Conll => "conll",
        }
    }
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a task's items come from and how their fields are named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Candidate files, the first that exists is read (e.g. the full public set when present, then the
    /// small slice shipped in the repo). Relative paths are resolved against `base` given to `load`.
    pub paths: Vec<PathBuf>,
    /// The file format; default: told by the file name (see [`DataFormat::from_path`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<DataFormat>,
    /// JSON only: a dotted path to the array of records inside the top-level object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<String>,
    /// A dotted path to an array inside each record: every element becomes one item, and the record's
    /// own fields are reachable as `parent.<path>` (e.g. TAT-QA: documents hold `questions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explode: Option<String>,
    /// Item field name → dotted path in the record (`qa.question`, `table`, `answer.0`, `parent.table`).
    /// A path ending in `?` is optional (null when absent); otherwise a missing value is a bad row.
    /// Empty: every top-level field of the record (after explode: the element's fields) under its own name.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Dotted path of the item id (default: `<line>` or `<line>.<element index>` when exploded). A path
    /// ending in `?` falls back to the default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// text@label separator (default "@").
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Skip bad rows (each reported in `Dataset::skipped` and logged with tracing::warn) instead of failing.
    #[serde(default)]
    pub skip_bad_rows: bool,
}

fn default_separator() -> String {
    "@".to_string()
}

/// One evaluation item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// Position in the dataset (0-based, after skipping) — the order every variant sees.
    pub index: usize,
    /// The id: the `id` path's value, or the line (`<line>.<k>` for the k-th exploded element).
    pub id: String,
    /// 1-based line of the file where the record starts (0 when unknown).
    pub line: usize,
    /// The mapped fields (in the mapping's name order), or the record's own fields when unmapped.
    pub fields: Map<String, Value>,
}

/// A row that could not be read or mapped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadRow {
    /// 1-based line where the row starts (0 when unknown).
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// A loaded dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The file that was read.
    pub path: PathBuf,
    /// Its format.
    pub format: DataFormat,
    /// The items, in file order.
    pub items: Vec<Item>,
    /// The bad rows skipped (only with `skip_bad_rows`), in file order.
    pub skipped: Vec<BadRow>,
}

/// Why a dataset could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// None of the candidate files exists (the resolved paths).
    #[error(
        "none of the dataset files exists: {}",
        .0.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", ")
    )]
    Missing(Vec<PathBuf>),
    /// The file exists but cannot be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file as a whole is unusable (unknown format, JSON syntax error, bad header row, …).
    #[error("`{}`: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Bad rows (up to 10 listed, with the total count) when `skip_bad_rows` is off.
    #[error(
        "`{}`: {} bad row(s): {}",
        path.display(),
        count,
        rows.iter().map(|r| format!("line {}: {}", r.line, r.reason)).collect::<Vec<_>>().join("; ")
    )]
    Rows {
        /// The file.
        path: PathBuf,
        /// How many rows are bad.
        count: usize,
        /// The first of them, in file order.
        rows: Vec<BadRow>,
    },
    /// The file holds no items.
    #[error("`{}` has no items", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Read the first existing file of `spec.paths` (relative to `base`), map fields, explode, and check rows.
pub fn load(spec: &DatasetSpec, base: &Path) -> Result<Dataset, DatasetError> {
    let candidates: Vec<PathBuf> = spec.paths.iter().map(|p| base.join(p)).collect();
    let Some(path) = candidates.iter().find(|p| p.is_file()).cloned() else {
        return Err(DatasetError::Missing(candidates));
    };
    let Some(format) = spec.format.or_else(|| DataFormat::from_path(&path)) else {
        return Err(format_error(
            &path,
            "cannot tell the format from the file name: set `format` \
             (jsonl, json, csv, tsv, text@label, conll)",
        ));
    };
    let mut bytes =
        std::fs::read(&path).map_err(|source| DatasetError::Read { path: path.clone(), source })?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes.as_slice()), &mut plain)
            .map_err(|e| format_error(&path, format!("gzip: {e}")))?;
        bytes = plain;
    }
    let text = decode(bytes, &path);
    if spec.records.is_some() && format != DataFormat::Json {
        tracing::warn!(path = %path.display(), %format, "`records` applies to JSON files only: ignored");
    }
    let rows = match format {
        DataFormat::Jsonl => parse_jsonl(&text),
        DataFormat::Json => {
            parse_json(&text, spec.records.as_deref()).map_err(|reason| format_error(&path, reason))?
        }
        DataFormat::Csv => parse_delimited(&text, b',').map_err(|reason| format_error(&path, reason))?,
        DataFormat::Tsv => parse_delimited(&text, b'\t').map_err(|reason| format_error(&path, reason))?,
        DataFormat::TextLabel => {
            if spec.separator.is_empty() {
                return Err(format_error(&path, "the text@label `separator` is empty"));
            }
            parse_text_label(&text, &spec.separator)
        }
        DataFormat::Conll => parse_conll(&text),
    };
    drop(text);
    let (items, bad_rows) = build_items(spec, rows);
    if !bad_rows.is_empty() {
        if !spec.skip_bad_rows {
            let count = bad_rows.len();
            let rows = bad_rows.into_iter().take(MAX_LISTED_ROWS).collect();
            return Err(DatasetError::Rows { path, count, rows });
        }
        for row in &bad_rows {
            tracing::warn!(
                path = %path.display(),
                line = row.line,
                reason = %row.reason,
                "skipped a bad dataset row"
            );
        }
    }
    if items.is_empty() {
        return Err(DatasetError::Empty { path });
    }
    Ok(Dataset { path, format, items, skipped: bad_rows })
}

/// The value at a dotted path (`a.b.0.c`: object keys and array indices); None when absent.
/// The empty path is the value itself.
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(value);
    }
    path.split('.').try_fold(value, |current, segment| match current {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn format_error(path: &Path, reason: impl Into<String>) -> DatasetError {
    DatasetError::Format { path: path.to_path_buf(), reason: reason.into() }
}

/// UTF-8 without its BOM, or Latin-1 (each byte one char) when not valid UTF-8.
fn decode(mut bytes: Vec<u8>, path: &Path) -> String {
    if bytes.starts_with(&BOM) {
        bytes.drain(..BOM.len());
    }
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            tracing::debug!(
                path = %path.display(),
                valid_up_to = e.utf8_error().valid_up_to(),
                "not valid UTF-8: decoded as Latin-1"
            );
            e.into_bytes().into_iter().map(char::from).collect()
        }
    }
}

/// A record read from the file, or a bad row, in file order.
enum Row {
    Record { line: usize, record: Map<String, Value> },
    Bad(BadRow),
}

fn bad(line: usize, reason: String) -> Row {
    Row::Bad(BadRow { line, reason })
}

fn split_path(path: &str) -> Vec<&str> {
    if path.is_empty() { Vec::new() } else { path.split('.').collect() }
}

/// A path without its optional marker `?`, and whether it had one.
fn optional_path(raw: &str) -> (&str, bool) {
    match raw.strip_suffix('?') {
        Some(path) => (path, true),
        None => (raw, false),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------------------------------------

/// serde_json's message for one line of JSONL, without its (always line 1) position.
fn jsonl_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(suffix.as_str()) {
        Some(message) => format!("invalid JSON (column {}): {message}", e.column()),
        None => format!("invalid JSON: {full}"),
    }
}

fn parse_jsonl(text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(record)) => rows.push(Row::Record { line: line_no, record }),
            Ok(other) => rows.push(bad(line_no, format!("{}, not a JSON object", json_kind(&other)))),
            Err(e) => rows.push(bad(line_no, jsonl_message(&e))),
        }
    }
    rows
}

fn parse_json(text: &str, records: Option<&str>) -> Result<Vec<Row>, String> {
    let mut root: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let (array, segments) = match records {
        Some(path) => {
            let segments = split_path(path);
            match take_path(&mut root, &segments) {
                Some(Value::Array(array)) => (array, segments),
                Some(other) => {
                    return Err(format!(
                        "`{path}` (`records`) is {}, not an array of records",
                        json_kind(&other)
                    ));
                }
                None => return Err(format!("no `{path}` (`records`) in the file")),
            }
        }
        None => match root {
            Value::Array(array) => (array, Vec::new()),
            other => {
                return Err(format!(
                    "the file holds {}, not an array of records: set `records` to the path of the array",
                    json_kind(&other)
                ));
            }
        },
    };
    let lines = match element_offsets(text, &segments) {
        Some(offsets) if offsets.len() == array.len() => offsets_to_lines(text, &offsets),
        _ => vec![0; array.len()],
    };
    Ok(array
        .into_iter()
        .zip(lines)
        .map(|(value, line)| match value {
            Value::Object(record) => Row::Record { line, record },
            other => bad(line, format!("the record is {}, not a JSON object", json_kind(&other))),
        })
        .collect())
}

fn parse_delimited(text: &str, delimiter: u8) -> Result<Vec<Row>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header row: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut seen = HashSet::new();
    for header in &headers {
        if !seen.insert(header.as_str()) {
            return Err(format!("duplicate column `{header}` in the header row"));
        }
    }
    let mut rows = Vec::new();
    for result in reader.records() {
        match result {
            Ok(record) => {
                let line = record.position().map_or(0, |p| record_line(text, p));
                let map: Map<String, Value> = headers
                    .iter()
                    .cloned()
                    .zip(record.iter().map(|cell| Value::String(cell.to_string())))
                    .collect();
                rows.push(Row::Record { line, record: map });
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| record_line(text, p));
                let reason = match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("{len} cell(s) where the header row has {expected_len}")
                    }
                    _ => e.to_string(),
                };
                let stop = matches!(e.kind(), csv::ErrorKind::Io(_));
                rows.push(bad(line, reason));
                if stop {
                    break;
                }
            }
        }
    }
    Ok(rows)
}

/// The 1-based line where a CSV record starts. The csv crate's position can sit on the end of the line
/// before (the `\n` of a CRLF, blank lines): step over those.
fn record_line(text: &str, position: &csv::Position) -> usize {
    let mut line = usize::try_from(position.line()).unwrap_or(0);
    let start = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    if let Some(rest) = text.as_bytes().get(start..) {
        for &byte in rest {
            match byte {
                b'\n' => line += 1,
                b'\r' => {}
                _ => break,
            }
        }
    }
    line
}

fn parse_text_label(text: &str, separator: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((sentence, label)) = line.rsplit_once(separator) else {
            rows.push(bad(line_no, format!("no `{separator}label` at the end")));
            continue;
        };
        let (sentence, label) = (sentence.trim(), label.trim());
        if sentence.is_empty() {
            rows.push(bad(line_no, format!("empty text before `{separator}`")));
        } else if label.is_empty() {
            rows.push(bad(line_no, format!("empty label after the last `{separator}`")));
        } else {
            let mut record = Map::new();
            record.insert("text".to_string(), Value::String(sentence.to_string()));
            record.insert("label".to_string(), Value::String(label.to_string()));
            rows.push(Row::Record { line: line_no, record });
        }
    }
    rows
}

/// A CoNLL sentence being read.
#[derive(Default)]
struct Sentence {
    line: usize,
    tokens: Vec<String>,
    tags: Vec<String>,
    bad: Vec<BadRow>,
}

impl Sentence {
    /// The finished sentence as a record (or its bad lines) into `rows`; starts a new one.
    fn flush(&mut self, rows: &mut Vec<Row>) {
        let sentence = std::mem::take(self);
        if !sentence.bad.is_empty() {
            rows.extend(sentence.bad.into_iter().map(Row::Bad));
        } else if !sentence.tokens.is_empty() {
            let record = conll_record(sentence.tokens, sentence.tags);
            rows.push(Row::Record { line: sentence.line, record });
        }
    }
}

fn parse_conll(text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut sentence = Sentence::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let columns: Vec<&str> = line.split_whitespace().collect();
        match columns.as_slice() {
            [] => sentence.flush(&mut rows),
            [first, ..] if *first == "-DOCSTART-" => sentence.flush(&mut rows),
            [only] => sentence.bad.push(BadRow {
                line: line_no,
                reason: format!("one column `{only}`: expected `token … tag`"),
            }),
            [token, .., tag] => {
                if sentence.tokens.is_empty() {
                    sentence.line = line_no;
                }
                sentence.tokens.push((*token).to_string());
                sentence.tags.push((*tag).to_string());
            }
        }
    }
    sentence.flush(&mut rows);
    rows
}

fn conll_record(tokens: Vec<String>, tags: Vec<String>) -> Map<String, Value> {
    let text = tokens.join(" ");
    let entities = decode_entities(&tokens, &tags);
    let mut record = Map::new();
    record.insert("tokens".to_string(), Value::Array(tokens.into_iter().map(Value::String).collect()));
    record.insert("tags".to_string(), Value::Array(tags.into_iter().map(Value::String).collect()));
    record.insert("text".to_string(), Value::String(text));
    record.insert("entities".to_string(), Value::Array(entities));
    record
}

/// The part of an entity a tag marks (IO, BIO, BIOES and BILOU schemes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagPart {
    Outside,
    Begin,
    Inside,
    End,
    Single,
}

fn split_tag(tag: &str) -> (TagPart, &str) {
    if tag == "O" {
        return (TagPart::Outside, "");
    }
    match tag.split_once('-') {
        Some(("B", kind)) => (TagPart::Begin, kind),
        Some(("I", kind)) => (TagPart::Inside, kind),
        Some(("E" | "L", kind)) => (TagPart::End, kind),
        Some(("S" | "U", kind)) => (TagPart::Single, kind),
        _ => (TagPart::Inside, tag),
    }
}

fn flush_entity(current: &mut Option<(&str, Vec<&str>)>, entities: &mut Vec<Value>) {
    if let Some((kind, words)) = current.take() {
        entities.push(json!({ "type": kind, "text": words.join(" ") }));
    }
}

/// Entities `{"type", "text"}` from IO or BIO tags: `I-X` continuing the same type extends the entity,
/// `B-X` always starts a new one, `O` ends it.
fn decode_entities(tokens: &[String], tags: &[String]) -> Vec<Value> {
    let mut entities = Vec::new();
    let mut current: Option<(&str, Vec<&str>)> = None;
    for (token, tag) in tokens.iter().zip(tags) {
        let (part, kind) = split_tag(tag);
        let continues = matches!(part, TagPart::Inside | TagPart::End)
            && current.as_ref().is_some_and(|(current_kind, _)| *current_kind == kind);
        if part == TagPart::Outside {
            flush_entity(&mut current, &mut entities);
        } else if continues {
            if let Some((_, words)) = current.as_mut() {
                words.push(token.as_str());
            }
        } else {
            flush_entity(&mut current, &mut entities);
            current = Some((kind, vec![token.as_str()]));
        }
        if matches!(part, TagPart::End | TagPart::Single) {
            flush_entity(&mut current, &mut entities);
        }
    }
    flush_entity(&mut current, &mut entities);
    entities
}

// ---------------------------------------------------------------------------------------------------------
// JSON: where each record starts
// ---------------------------------------------------------------------------------------------------------

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while matches!(b.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// The position after the string literal starting at `pos`.
fn string_end(b: &[u8], pos: usize) -> Option<usize> {
    if *b.get(pos)? != b'"' {
        return None;
    }
    let mut i = pos + 1;
    loop {
        match *b.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The position after the JSON value starting at `pos` (strings, brackets and scalars).
fn skip_value(b: &[u8], pos: usize) -> Option<usize> {
    match *b.get(pos)? {
        b'"' => string_end(b, pos),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = pos;
            loop {
                match *b.get(i)? {
                    b'"' => {
                        i = string_end(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = pos;
            while let Some(&c) = b.get(i) {
                if matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                i += 1;
            }
            (i > pos).then_some(i)
        }
    }
}

/// The start of the value of `key` in the object at `pos` (the last one when repeated, as serde_json).
fn find_member(text: &str, mut pos: usize, key: &str) -> Option<usize> {
    let b = text.as_bytes();
    pos = skip_ws(b, pos + 1);
    if *b.get(pos)? == b'}' {
        return None;
    }
    let mut found = None;
    loop {
        let end = string_end(b, pos)?;
        let name: String = serde_json::from_str(text.get(pos..end)?).ok()?;
        pos = skip_ws(b, end);
        if *b.get(pos)? != b':' {
            return None;
        }
        pos = skip_ws(b, pos + 1);
        if name == key {
            found = Some(pos);
        }
        pos = skip_ws(b, skip_value(b, pos)?);
        match *b.get(pos)? {
            b',' => pos = skip_ws(b, pos + 1),
            b'}' => return found,
            _ => return None,
        }
    }
}

/// The start of element `index` of the array at `pos`.
fn find_index(b: &[u8], mut pos: usize, index: usize) -> Option<usize> {
    pos = skip_ws(b, pos + 1);
    if *b.get(pos)? == b']' {
        return None;
    }
    let mut i = 0usize;
    loop {
        if i == index {
            return Some(pos);
        }
        pos = skip_ws(b, skip_value(b, pos)?);
        match *b.get(pos)? {
            b',' => pos = skip_ws(b, pos + 1),
            _ => return None,
        }
        i += 1;
    }
}

/// Byte offsets where each element of the array at the path `segments` starts (the top-level value for
/// no segments); None when the scan cannot locate it.
fn element_offsets(text: &str, segments: &[&str]) -> Option<Vec<usize>> {
    let b = text.as_bytes();
    let mut pos = skip_ws(b, 0);
    for segment in segments {
        pos = match *b.get(pos)? {
            b'{' => find_member(text, pos, segment)?,
            b'[' => find_index(b, pos, segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    if *b.get(pos)? != b'[' {
        return None;
    }
    let mut offsets = Vec::new();
    pos = skip_ws(b, pos + 1);
    if *b.get(pos)? == b']' {
        return Some(offsets);
    }
    loop {
        offsets.push(pos);
        pos = skip_ws(b, skip_value(b, pos)?);
        match *b.get(pos)? {
            b',' => pos = skip_ws(b, pos + 1),
            b']' => return Some(offsets),
            _ => return None,
        }
    }
}

/// 1-based lines of increasing byte offsets.
fn offsets_to_lines(text: &str, offsets: &[usize]) -> Vec<usize> {
    let b = text.as_bytes();
    let mut line = 1usize;
    let mut at = 0usize;
    offsets
        .iter()
        .map(|&offset| {
            if offset > at {
                line += b.get(at..offset).map_or(0, |s| s.iter().filter(|&&c| c == b'\n').count());
                at = offset;
            }
            line
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Items
// ---------------------------------------------------------------------------------------------------------

/// Take the value at `segments` out of `value` (an object key is removed, an array element left null).
fn take_path(value: &mut Value, segments: &[&str]) -> Option<Value> {
    let Some((last, init)) = segments.split_last() else {
        return Some(std::mem::take(value));
    };
    let current = init.iter().try_fold(value, |current, segment| match current {
        Value::Object(map) => map.get_mut(*segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    })?;
    match current {
        Value::Object(map) => map.shift_remove(*last),
        Value::Array(items) => items.get_mut(last.parse::<usize>().ok()?).map(std::mem::take),
        _ => None,
    }
}

/// What a field path is looked up in: the record (or exploded element), and the record an element came
/// from, reachable as `parent`.
struct View<'a> {
    element: &'a Value,
    parent: Option<&'a Value>,
}

impl<'a> View<'a> {
    fn get(&self, path: &str) -> Option<&'a Value> {
        if let Some(parent) = self.parent {
            if path == "parent" {
                return Some(parent);
            }
            if let Some(rest) = path.strip_prefix("parent.") {
                return lookup(parent, rest);
            }
        }
        lookup(self.element, path)
    }
}

/// The id and fields of one item, or why the row is bad.
fn build_item(
    spec: &DatasetSpec,
    element: Map<String, Value>,
    parent: Option<&Value>,
    default_id: String,
) -> Result<(String, Map<String, Value>), String> {
    let element = Value::Object(element);
    let view = View { element: &element, parent };
    let id = match spec.id.as_deref() {
        None => default_id,
        Some(raw) => {
            let (path, optional) = optional_path(raw);
            match view.get(path) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                None | Some(Value::Null) if optional => default_id,
                None | Some(Value::Null) => return Err(format!("missing id `{path}`")),
                Some(other) => {
                    return Err(format!("id `{path}` is {}, not a string or a number", json_kind(other)));
                }
            }
        }
    };
    if spec.fields.is_empty() {
        let fields = match element {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        return Ok((id, fields));
    }
    let mut fields = Map::new();
    let mut missing = Vec::new();
    for (name, raw) in &spec.fields {
        let (path, optional) = optional_path(raw);
        match view.get(path) {
            Some(value) => {
                fields.insert(name.clone(), value.clone());
            }
            None if optional => {
                fields.insert(name.clone(), Value::Null);
            }
            None => missing.push(format!("`{path}`")),
        }
    }
    if !missing.is_empty() {
        return Err(format!("missing {}", missing.join(", ")));
    }
    Ok((id, fields))
}

/// Items and bad rows being gathered, in file order.
#[derive(Default)]
struct Collector {
    items: Vec<Item>,
    bad: Vec<BadRow>,
    ids: HashMap<String, usize>,
}

impl Collector {
    fn add(&mut self, line: usize, result: Result<(String, Map<String, Value>), String>) {
        match result {
            Ok((id, fields)) => {
                if let Some(first) = self.ids.insert(id.clone(), line) {
                    tracing::warn!(%id, first_line = first, line, "duplicate dataset item id");
                }
                self.items.push(Item { index: self.items.len(), id, line, fields });
            }
            Err(reason) => self.bad.push(BadRow { line, reason }),
        }
    }
}

/// Explode and map every record.
fn build_items(spec: &DatasetSpec, rows: Vec<Row>) -> (Vec<Item>, Vec<BadRow>) {
    let explode = spec.explode.as_deref().map(|path| (path, split_path(path)));
    let mut collector = Collector::default();
    let mut ordinal = 0usize;
    for row in rows {
        let (line, record) = match row {
            Row::Bad(bad_row) => {
                collector.bad.push(bad_row);
                continue;
            }
            Row::Record { line, record } => (line, record),
        };
        ordinal += 1;
        // The line names the item; the record's ordinal when the line is unknown.
        let base_id = if line > 0 { line.to_string() } else { ordinal.to_string() };
        let Some((path, segments)) = &explode else {
            collector.add(line, build_item(spec, record, None, base_id));
            continue;
        };
        let mut parent = Value::Object(record);
        match take_path(&mut parent, segments) {
            Some(Value::Array(elements)) => {
                for (k, element) in elements.into_iter().enumerate() {
                    let result = match element {
                        Value::Object(map) => build_item(spec, map, Some(&parent), format!("{base_id}.{k}")),
                        other => {
                            Err(format!("element {k} of `{path}` is {}, not an object", json_kind(&other)))
                        }
                    };
                    collector.add(line, result);
                }
            }
            Some(other) => {
                collector.add(line, Err(format!("`{path}` is {}, not an array", json_kind(&other))))
            }
            None => collector.add(line, Err(format!("missing `{path}` (explode)"))),
        }
    }
    (collector.items, collector.bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(paths: &[&str]) -> DatasetSpec {
        DatasetSpec {
            paths: paths.iter().map(|p| PathBuf::from(*p)).collect(),
            format: None,
            records: None,
            explode: None,
            fields: BTreeMap::new(),
            id: None,
            separator: "@".to_string(),
            skip_bad_rows: false,
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn write(dir: &Path, name: &str, data: &[u8]) {
        std::fs::write(dir.join(name), data).unwrap();
    }

    fn column(ds: &Dataset, field: &str) -> Vec<Value> {
        ds.items.iter().map(|i| i.fields.get(field).cloned().unwrap_or(Value::Null)).collect()
    }

    fn ids(ds: &Dataset) -> Vec<&str> {
        ds.items.iter().map(|i| i.id.as_str()).collect()
    }

    fn lines(ds: &Dataset) -> Vec<usize> {
        ds.items.iter().map(|i| i.line).collect()
    }

    fn bad_rows(result: Result<Dataset, DatasetError>) -> (usize, Vec<BadRow>, String) {
        match result {
            Err(e @ DatasetError::Rows { .. }) => {
                let message = e.to_string();
                match e {
                    DatasetError::Rows { count, rows, .. } => (count, rows, message),
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("expected bad rows, got {other:?}"),
        }
    }

    #[test]
    fn text_label_bom_crlf_latin1_and_last_separator() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "phrasebank.txt",
            b"\xef\xbb\xbfcaf\xe9 sales rose@positive\r\na@b@neutral\r\n\r\n  spaced text  @ negative \r\n",
        );
        let ds = load(&spec(&["phrasebank.txt"]), dir.path()).unwrap();
        assert_eq!(ds.format, DataFormat::TextLabel);
        let expected = vec![json!("caf\u{e9} sales rose"), json!("a@b"), json!("spaced text")];
        assert_eq!(column(&ds, "text"), expected);
        assert_eq!(column(&ds, "label"), vec![json!("positive"), json!("neutral"), json!("negative")]);
        assert_eq!(lines(&ds), vec![1, 2, 4]);
        assert_eq!(ids(&ds), vec!["1", "2", "4"]);
        assert_eq!(ds.items.iter().map(|i| i.index).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(ds.skipped.is_empty());
    }

    #[test]
    fn text_label_utf8_and_custom_separator() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "s.txt", "Café ∆ up||positive\n".as_bytes());
        let mut s = spec(&["s.txt"]);
        s.separator = "||".to_string();
        let ds = load(&s, dir.path()).unwrap();
        assert_eq!(column(&ds, "text"), vec![json!("Café ∆ up")]);
        assert_eq!(column(&ds, "label"), vec![json!("positive")]);
    }

    #[test]
    fn text_label_line_without_separator_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "s.txt", b"good@positive\n\nno label here\n@neutral\nsome text@ \n");
        let (count, rows, message) = bad_rows(load(&spec(&["s.txt"]), dir.path()));
        assert_eq!(count, 3);
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(rows[0].reason, "no `@label` at the end");
        assert!(rows[1].reason.contains("empty text"), "{}", rows[1].reason);
        assert!(rows[2].reason.contains("empty label"), "{}", rows[2].reason);
        assert!(message.contains("3 bad row(s)"), "{message}");
        assert!(message.contains("line 3: no `@label` at the end"), "{message}");
    }

    #[test]
    fn jsonl_bad_lines_reported_or_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": 2}\n{\"text\": oops}\n\n\
                    [1, 2]\n{\"text\": \"d\", \"label\": 4}\n";
        write(dir.path(), "d.jsonl", text.as_bytes());
        let mut s = spec(&["d.jsonl"]);
        let (count, rows, _) = bad_rows(load(&s, dir.path()));
        assert_eq!(count, 2);
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![3, 5]);
        assert!(rows[0].reason.starts_with("invalid JSON"), "{}", rows[0].reason);
        assert!(rows[1].reason.contains("not a JSON object"), "{}", rows[1].reason);

        s.skip_bad_rows = true;
        let ds = load(&s, dir.path()).unwrap();
        assert_eq!(ids(&ds), vec!["1", "2", "6"]);
        assert_eq!(ds.items.iter().map(|i| i.index).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(column(&ds, "label"), vec![json!(1), json!(2), json!(4)]);
        assert_eq!(ds.skipped.iter().map(|r| r.line).collect::<Vec<_>>(), vec![3, 5]);
    }

    #[test]
    fn jsonl_missing_required_field_and_optional_field() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"qa\": {\"question\": \"q1\"}, \"id\": 7}\n{\"qa\": {}, \"id\": 8}\n";
        write(dir.path(), "d.jsonl", text.as_bytes());
        let mut s = spec(&["d.jsonl"]);
        s.fields = fields(&[("question", "qa.question"), ("answer", "qa.answer?")]);
        s.id = Some("id".to_string());
        let (count, rows, _) = bad_rows(load(&s, dir.path()));
        assert_eq!(count, 1);
        assert_eq!(rows[0], BadRow { line: 2, reason: "missing `qa.question`".to_string() });

        s.skip_bad_rows = true;
        let ds = load(&s, dir.path()).unwrap();
        assert_eq!(ids(&ds), vec!["7"]);
        assert_eq!(ds.items[0].fields.get("question"), Some(&json!("q1")));
        assert_eq!(ds.items[0].fields.get("answer"), Some(&Value::Null));
        assert_eq!(ds.skipped.len(), 1);
    }

    #[test]
    fn csv_missing_cell_and_multiline_cell() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "d.csv", b"id,text,label\n1,\"multi\nline\",pos\n2,missing\n3,ok,neg\n");
        let mut s = spec(&["d.csv"]);
        let (count, rows, _) = bad_rows(load(&s, dir.path()));
        assert_eq!(count, 1);
        assert_eq!(rows[0].line, 4);
        assert!(rows[0].reason.contains("2 cell(s)"), "{}", rows[0].reason);

        s.skip_bad_rows = true;
        s.id = Some("id".to_string());
        let ds = load(&s, dir.path()).unwrap();
        assert_eq!(ds.format, DataFormat::Csv);
        assert_eq!(ids(&ds), vec!["1", "3"]);
        assert_eq!(lines(&ds), vec![2, 5]);
        assert_eq!(column(&ds, "text"), vec![json!("multi\nline"), json!("ok")]);
        assert_eq!(ds.items[0].fields.keys().collect::<Vec<_>>(), vec!["id", "text", "label"]);
    }

    #[test]
    fn tsv_with_crlf_and_blank_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "d.tsv", b"sentence\tlabel\r\nx y\tpos\r\n\r\nz\tneg\r\n");
        let ds = load(&spec(&["d.tsv"]), dir.path()).unwrap();
        assert_eq!(ds.format, DataFormat::Tsv);
        assert_eq!(column(&ds, "sentence"), vec![json!("x y"), json!("z")]);
        assert_eq!(column(&ds, "label"), vec![json!("pos"), json!("neg")]);
        assert_eq!(lines(&ds), vec![2, 4]);
    }

    #[test]
    fn first_existing_path_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("slice")).unwrap();
        write(&dir.path().join("slice"), "s.jsonl", b"{\"a\": 1}\n");
        let s = spec(&["full/s.jsonl", "slice/s.jsonl"]);
        let ds = load(&s, dir.path()).unwrap();
        assert_eq!(ds.path, dir.path().join("slice/s.jsonl"));
        assert_eq!(ds.items.len(), 1);

        // An absolute path is used as is.
        let absolute = dir.path().join("slice/s.jsonl");
        let s = spec(&[absolute.to_str().unwrap()]);
        assert_eq!(load(&s, Path::new("/nonexistent")).unwrap().path, absolute);

        let s = spec(&["full/s.jsonl", "other.jsonl"]);
        match load(&s, dir.path()) {
            Err(e @ DatasetError::Missing(_)) => {
                let message = e.to_string();
                assert!(message.contains("full/s.jsonl"), "{message}");
                assert!(message.contains("other.jsonl"), "{message}");
                let DatasetError::Missing(paths) = e else { panic!() };
                assert_eq!(paths, vec![dir.path().join("full/s.jsonl"), dir.path().join("other.jsonl")]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_top_level_array_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[\n  {\"q\": \"a\"},\n  {\n    \"q\": \"b ] } [ {\\\" \"\n  },\n  {\"q\": \"c\"}\n]\n";
        write(dir.path(), "d.json", text.as_bytes());
        let ds = load(&spec(&["d.json"]), dir.path()).unwrap();
        assert_eq!(lines(&ds), vec![2, 3, 6]);
        assert_eq!(ids(&ds), vec!["2", "3", "6"]);
        assert_eq!(column(&ds, "q"), vec![json!("a"), json!("b ] } [ {\" "), json!("c")]);
    }

    #[test]
    fn json_records_path() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{"meta": {"note": "x]\"[{", "n": [1, {"k": 2}]},
 "data": {"rows": [
   {"q": "a"},
   {"q": "b", "tricky": "}]"}, 5
 ]}}
"#;
        write(dir.path(), "d.json", text.as_bytes());
        let mut s = spec(&["d.json"]);
        s.records = Some("data.rows".to_string());
        s.skip_bad_rows = true;
        let ds = load(&s, dir.path()).unwrap();
        assert_eq!(lines(&ds), vec![3, 4]);
        assert_eq!(column(&ds, "q"), vec![json!("a"), json!("b")]);
        assert_eq!(ds.skipped.len(), 1);
        assert_eq!(ds.skipped[0].line, 4);
        assert!(ds.skipped[0].reason.contains("not a JSON object"), "{}", ds.skipped[0].reason);

        // The top-level object without `records`.
        s.records = None;
        assert!(matches!(load(&s, dir.path()), Err(DatasetError::Format { .. })));
        // A path that is not there.
        s.records = Some("data.nothing".to_string());
        assert!(matches!(load(&s, dir.path()), Err(DatasetError::Format { .. })));
    }

    #[test]
    fn json_syntax_error_is_a_format_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "d.json", b"[\n{\"a\": 1},\n{\"a\": }\n]\n");
        match load(&spec(&["d.json"]), dir.path()) {
            Err(DatasetError::Format { reason, .. }) => assert!(reason.contains("line 3"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    const TATQA: &str = r#"[
  {"table": {"uid": "t1", "table": [["a", "b"]]},
   "paragraphs": [{"uid": "p1", "order": 1, "text": "para one"}],
   "questions": [
     {"uid": "q1", "question": "q1?", "answer": ["x"], "scale": ""},
     {"uid": "q2", "question": "q2?", "answer": ["y", "z"]}
   ]},
  {"table": {"uid": "t2", "table": []}, "paragraphs": [], "questions": [
     {"uid": "q3", "question": "q3?", "answer": ["w"], "scale": "million"}]}
]"#;

    #[test]
    fn explode_with_parent_lookups() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "tatqa.json", TATQA.as_bytes());
        let mut s = spec(&["tatqa.json"]);
        s.explode = Some("questions".to_string());
        s.fields = fields(&[
            ("question", "question"),
            ("answer", "answer.0"),
            ("table", "parent.table.table"),
            ("paragraphs", "parent.paragraphs"),
            ("scale", "scale?"),
            ("questions", "parent.questions?"),
        ]);
        let ds = load(&s, dir.path()).unwrap();
        assert_eq!(ids(&ds), vec!["2.0", "2.1", "8.0"]);
        assert_eq!(lines(&ds), vec![2, 2, 8]);
        assert_eq!(column(&ds, "question"), vec![json!("q1?"), json!("q2?"), json!("q3?")]);
        assert_eq!(column(&ds, "answer"), vec![json!("x"), json!("y"), json!("w")]);
        assert_eq!(column(&ds, "scale"), vec![json!(""), Value::Null, json!("million")]);
        assert_eq!(column(&ds, "questions"), vec![Value::Null, Value::Null, Value::Null]);
        assert_eq!(ds.items[0].fields.get("table"), Some(&json!([["a", "b"]])));
        let paragraphs = ds.items[1].fields.get("paragraphs");
        assert_eq!(paragraphs.and_then(|p| lookup(p, "0.text")), Some(&json!("para one")));
        assert_eq!(ds.items[2].fields.get("table"), Some(&json!([])));

        s.id = Some("uid".to_string());
        let ds = load(&s, dir.path()).unwrap();
        assert_eq!(ids(&ds), vec!["q1", "q2", "q3"]);

        // Unmapped: the element's own fields, without `parent`.
        s.fields = BTreeMap::new();
        let ds = load(&s, dir.path()).unwrap();
        assert_eq!(ds.items[0].fields.keys().collect::<Vec<_>>(), vec!["uid", "question", "answer", "scale"]);

        // A required field that is missing: one bad row per element, at the record's line.
        s.fields = fields(&[("question", "question"), ("derivation", "derivation")]);
        let (count, rows, _) = bad_rows(load(&s, dir.path()));
        assert_eq!(count, 3);
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 2, 8]);
        assert_eq!(rows[0].reason, "missing `derivation`");
    }

    #[test]
    fn conll_io_and_bio_entities() {
        let dir = tempfile::tempdir().unwrap();
        let text = "-DOCSTART- -X- -X- O\n\nEvergreen NNP I-NP I-ORG\nSolar NNP I-NP I-ORG\n\
                    Inc NNP I-NP I-ORG\nand CC O O\nSilicium NNP I-NP I-ORG\n\n\
                    Apple B-ORG\nInc I-ORG\nGoogle B-ORG\nand O\n\
                    Tim B-PER\nCook I-PER\nCupertino I-LOC\n";
        write(dir.path(), "ner.conll", text.as_bytes());
        let ds = load(&spec(&["ner.conll"]), dir.path()).unwrap();
        assert_eq!(ds.format, DataFormat::Conll);
        assert_eq!(lines(&ds), vec![3, 9]);
        let first = &ds.items[0].fields;
        assert_eq!(first.get("text"), Some(&json!("Evergreen Solar Inc and Silicium")));
        assert_eq!(first.get("tokens"), Some(&json!(["Evergreen", "Solar", "Inc", "and", "Silicium"])));
        assert_eq!(first.get("tags"), Some(&json!(["I-ORG", "I-ORG", "I-ORG", "O", "I-ORG"])));
        assert_eq!(
            first.get("entities"),
            Some(&json!([
                {"type": "ORG", "text": "Evergreen Solar Inc"},
                {"type": "ORG", "text": "Silicium"}
            ]))
        );
        assert_eq!(
            ds.items[1].fields.get("entities"),
            Some(&json!([
                {"type": "ORG", "text": "Apple Inc"},
                {"type": "ORG", "text": "Google"},
                {"type": "PER", "text": "Tim Cook"},
                {"type": "LOC", "text": "Cupertino"}
            ]))
        );
    }

    #[test]
    fn conll_one_column_line_is_a_bad_row() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "ner.conll", b"A B-ORG\nlonely\n\nC O\n");
        let mut s = spec(&["ner.conll"]);
        let (count, rows, _) = bad_rows(load(&s, dir.path()));
        assert_eq!(count, 1);
        assert_eq!(rows[0].line, 2);
        s.skip_bad_rows = true;
        let ds = load(&s, dir.path()).unwrap();
        assert_eq!(lines(&ds), vec![4]);
        assert_eq!(ds.skipped.len(), 1);
    }

    #[test]
    fn formats_from_names_and_gzip() {
        assert_eq!(DataFormat::from_path(Path::new("a/b.JSONL")), Some(DataFormat::Jsonl));
        assert_eq!(DataFormat::from_path(Path::new("b.ndjson")), Some(DataFormat::Jsonl));
        assert_eq!(DataFormat::from_path(Path::new("b.json")), Some(DataFormat::Json));
        assert_eq!(DataFormat::from_path(Path::new("b.csv")), Some(DataFormat::Csv));
        assert_eq!(DataFormat::from_path(Path::new("b.tsv")), Some(DataFormat::Tsv));
        assert_eq!(DataFormat::from_path(Path::new("b.conll")), Some(DataFormat::Conll));
        assert_eq!(DataFormat::from_path(Path::new("Sentences_AllAgree.txt")), Some(DataFormat::TextLabel));
        assert_eq!(DataFormat::from_path(Path::new("b.jsonl.gz")), Some(DataFormat::Jsonl));
        assert_eq!(DataFormat::from_path(Path::new("noext")), None);

        let dir = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"{\"a\": 1}\n{\"a\": 2}\n").unwrap();
        write(dir.path(), "d.jsonl.gz", &gz.finish().unwrap());
        let mut s = spec(&["d.jsonl.gz"]);
        assert_eq!(load(&s, dir.path()).unwrap().items.len(), 2);
        // Broken compressed content is a format error naming gzip.
        write(dir.path(), "d.jsonl", b"\x1f\x8b\x08\x00");
        s.paths = vec![PathBuf::from("d.jsonl")];
        match load(&s, dir.path()) {
            Err(DatasetError::Format { reason, .. }) => assert!(reason.contains("gzip"), "{reason}"),
            other => panic!("{other:?}"),
        }
        // An unknown extension needs `format`.
        write(dir.path(), "d.data", b"{\"a\": 1}\n");
        s.paths = vec![PathBuf::from("d.data")];
        assert!(matches!(load(&s, dir.path()), Err(DatasetError::Format { .. })));
        s.format = Some(DataFormat::Jsonl);
        assert_eq!(load(&s, dir.path()).unwrap().items.len(), 1);
    }

    #[test]
    fn empty_file_has_no_items() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "d.jsonl", b"\n  \n");
        assert!(matches!(load(&spec(&["d.jsonl"]), dir.path()), Err(DatasetError::Empty { .. })));
        write(dir.path(), "d.csv", b"a,b\n");
        assert!(matches!(load(&spec(&["d.csv"]), dir.path()), Err(DatasetError::Empty { .. })));
    }

    #[test]
    fn spec_from_json_and_schema() {
        let s: DatasetSpec = serde_json::from_value(json!({
            "paths": ["data/fpb.txt"],
            "format": "text@label",
            "fields": {"text": "text", "label": "label"}
        }))
        .unwrap();
        assert_eq!(s.format, Some(DataFormat::TextLabel));
        assert_eq!(s.separator, "@");
        assert!(!s.skip_bad_rows);
        assert_eq!(s.fields.len(), 2);
        let unknown = serde_json::from_value::<DatasetSpec>(json!({"paths": [], "fields_": {}}));
        assert!(unknown.is_err());
        let schema = serde_json::to_string(&schemars::schema_for!(DatasetSpec)).unwrap();
        assert!(schema.contains("text@label"), "{schema}");
        assert_eq!(DataFormat::TextLabel.to_string(), "text@label");
    }

    #[test]
    fn lookup_paths() {
        let value = json!({"a": {"b": [10, {"c": "x"}]}, "n": null});
        assert_eq!(lookup(&value, "a.b.0"), Some(&json!(10)));
        assert_eq!(lookup(&value, "a.b.1.c"), Some(&json!("x")));
        assert_eq!(lookup(&value, "n"), Some(&Value::Null));
        assert_eq!(lookup(&value, "a.b.2"), None);
        assert_eq!(lookup(&value, "a.b.x"), None);
        assert_eq!(lookup(&value, "a.b.1.c.d"), None);
        assert_eq!(lookup(&value, ""), Some(&value));
    }
}
