//! Output parsers of evaluation tasks: a model's raw text becomes a typed [`Answer`], the dataset's
//! gold value becomes the same type, and [`ParserSpec::is_correct`] decides whether they agree.
//!
//! Parsers are chosen by configuration ([`ParserSpec`], tagged by `kind` in a task's TOML file).
//! Outputs come from small language models and may be any text: every parser returns [`Invalid`]
//! with a reason when it finds nothing usable, and none of them panics.
//!
//! # Numbers
//!
//! [`parse_number`] reads numbers as analysts write them: `$1,496.5 million`, `(3.2)` (negative),
//! `12.5%` (a percentage, kept in points), `1.2bn`, `-0.5 percent`. Scale words are `thousand`,
//! `million` (`mn`, `mln`), `billion` (`bn`, `bln`), `trillion` (`tn`) and their plurals; the single
//! letters `k`, `m` (`mm`) and `b` count only directly after the digits (`3.2m`). A number with no scale
//! word of its own takes the item's scale (TAT-QA answers are written in the table's unit). Text after
//! an `answer:` marker is preferred, otherwise the last number of the text is taken.
//!
//! # Comparison
//!
//! Numbers agree within a relative tolerance, and a percentage agrees with its fraction
//! (`12.4 %` answers a gold `0.124`). Spans and texts are compared after normalisation: lowercase,
//! punctuation and the articles `a`, `an`, `the` removed, numbers written canonically.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::schemas::json_kind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::analytics::calc::{self, ProgramResult};
use crate::core::schemas;

/// How many characters of an output an [`Invalid`] reason quotes.
const EXCERPT_CHARS: usize = 80;

/// How many `{` / `[` positions are tried when looking for a JSON value in an output.
const MAX_JSON_ATTEMPTS: usize = 64;

/// FinQA's operations: a program found in an output starts with one of them.
const PROGRAM_OPS: [&str; 10] = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "exp",
    "greater",
    "table_sum",
    "table_average",
    "table_max",
    "table_min",
];

/// Words that may surround the number of an `auto` answer without making it a text span
/// ("approximately $1,496.5 million", "the answer is 12.5%").
const FILLER_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "answer",
    "final",
    "is",
    "was",
    "are",
    "were",
    "be",
    "it",
    "equals",
    "equal",
    "to",
    "of",
    "in",
    "approximately",
    "approx",
    "about",
    "around",
    "roughly",
    "nearly",
    "almost",
    "circa",
    "ca",
    "total",
    "value",
    "result",
    "so",
    "thus",
    "therefore",
    "usd",
    "us",
    "dollars",
    "dollar",
    "eur",
    "euro",
    "euros",
    "gbp",
];

fn default_tolerance() -> f64 {
    1e-2
}

/// How an evaluation task reads a model's output and its dataset's gold answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ParserSpec {
    /// One label from a fixed set. The output's first label word wins (case-insensitive, whole word; an
    /// alias maps another word to a label, e.g. "bullish" → "positive"). `constrain`: the model is asked
    /// for a JSON string restricted to the labels (the runner sends `label_schema()` as response schema),
    /// so the output is `"positive"`, quotes included.
    Label {
        /// The labels, as answers are reported.
        labels: Vec<String>,
        /// Other words (or dataset values such as `0`) that stand for a label: word → label.
        #[serde(default)]
        aliases: BTreeMap<String, String>,
        /// Ask the model for a JSON string restricted to the labels.
        #[serde(default)]
        constrain: bool,
    },
    /// A number, with scale words (thousand/k, million/m/mn, billion/bn/b, trillion, percent/%), currency
    /// signs, thousands separators, parentheses for negatives. Text after an `answer:` marker (case-
    /// insensitive) is preferred, else the LAST number in the text.
    Number {
        /// Relative tolerance of the comparison.
        #[serde(default = "default_tolerance")]
        tolerance: f64,
    },
    /// A FinQA program (`divide(637, const_5)`) found in the output (after `program:` if present, else the
    /// first `op(` … up to the end of the balanced call sequence) executed by the calculator against the
    /// item's table; the result is a Number (or a yes/no label for `greater`).
    Program {
        /// Relative tolerance of the comparison.
        #[serde(default = "default_tolerance")]
        tolerance: f64,
    },
    /// A JSON value (the first balanced {...} or [...] in the output, or the whole output), validated
    /// against `schema` when given; `answer`: a JSON pointer to the part that is the answer (default whole).
    Json {
        /// A JSON Schema the value must satisfy.
        #[serde(default)]
        schema: Option<Value>,
        /// A JSON pointer (`/answer`) to the part of the value that is the answer.
        #[serde(default)]
        answer: Option<String>,
    },
    /// Named entities: a JSON array of {"type","text"} (or [type, text] pairs), else lines `TYPE: text`
    /// (several texts separated by `;` or `,` allowed); types outside `types` are dropped.
    Entities {
        /// The entity types evaluated (`ORG`, `PER`, …).
        types: Vec<String>,
    },
    /// Number or text decided by the gold answer (TAT-QA: arithmetic answers and spans): a gold that is a
    /// number (after removing $ , % and whitespace) is compared as Number with the item's scale; otherwise
    /// the normalised text (lowercase, no punctuation/articles) must match exactly; a list of gold spans is
    /// compared as a set of normalised spans (a prediction listing them separated by `,`/`;`/`and`).
    Auto {
        /// Relative tolerance of numeric comparisons.
        #[serde(default = "default_tolerance")]
        tolerance: f64,
    },
    /// Free text (summaries): the trimmed output.
    Text,
}

/// A parsed answer, of a model or of the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Answer {
    /// One of the parser's labels (or `yes` / `no` from a FinQA `greater`).
    Label(String),
    /// Value in base units (scale applied); `percent` when written as a percentage (value then in
    /// points, 12.5 for 12.5 %).
    Number { value: f64, percent: bool },
    /// Free text.
    Text(String),
    /// Text spans (TAT-QA span and multi-span answers).
    Spans(Vec<String>),
    /// Named entities, in order of appearance, without repeats.
    Entities(Vec<Entity>),
    /// A JSON value.
    Json(Value),
}

/// A named entity: its type (`ORG`) and its text (`Visa`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entity {
    /// The entity type, as listed in the parser's `types`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The entity's text.
    pub text: String,
}

/// Why an output could not be parsed (the item counts as invalid, the reason is kept per item).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Context of one item: its table (FinQA/TAT-QA rows of cells) and scale (TAT-QA: "", "thousand",
/// "million", "billion", "percent").
#[derive(Debug, Clone, Default)]
pub struct ItemContext<'a> {
    /// The item's table: rows of cells, the first cell naming the row.
    pub table: Option<&'a [Vec<String>]>,
    /// The scale answers are written in.
    pub scale: Option<&'a str>,
}

impl ParserSpec {
    /// Check the spec itself (non-empty labels, tolerance ≥ 0 and finite, a usable schema via
    /// [`schemas::check_schema`], a pointer starting with '/', non-empty entity types).
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::Label { labels, aliases, .. } => {
                if labels.is_empty() {
                    return Err("a label parser needs at least one label".to_string());
                }
                let mut seen = BTreeSet::new();
                for label in labels {
                    let key = label.trim().to_lowercase();
                    if key.is_empty() {
                        return Err("labels must not be empty".to_string());
                    }
                    if !seen.insert(key) {
                        return Err(format!("label `{label}` is listed twice"));
                    }
                }
                for (word, target) in aliases {
                    if word.trim().is_empty() {
                        return Err(format!("an alias of `{target}` is empty"));
                    }
                    if canonical_label(labels, target).is_none() {
                        return Err(format!(
                            "alias `{word}` stands for `{target}`, which is not one of the labels ({})",
                            labels.join(", ")
                        ));
                    }
                }
                Ok(())
            }
            Self::Number { tolerance } | Self::Program { tolerance } | Self::Auto { tolerance } => {
                if tolerance.is_finite() && *tolerance >= 0.0 {
                    Ok(())
                } else {
                    Err(format!("the tolerance must be a finite number ≥ 0, got {tolerance}"))
                }
            }
            Self::Json { schema, answer } => {
                if let Some(schema) = schema {
                    schemas::check_schema(schema).map_err(|e| e.to_string())?;
                }
                if let Some(pointer) = answer
                    && !pointer.starts_with('/')
                {
                    return Err(format!(
                        "the answer pointer `{pointer}` must start with `/` (as in `/answer`)"
                    ));
                }
                Ok(())
            }
            Self::Entities { types } => {
                if types.is_empty() {
                    return Err("an entity parser needs at least one entity type".to_string());
                }
                let mut seen = BTreeSet::new();
                for kind in types {
                    let key = kind.trim().to_lowercase();
                    if key.is_empty() {
                        return Err("entity types must not be empty".to_string());
                    }
                    if !seen.insert(key) {
                        return Err(format!("entity type `{kind}` is listed twice"));
                    }
                }
                Ok(())
            }
            Self::Text => Ok(()),
        }
    }

    /// Parse a model output.
    pub fn parse(&self, output: &str, ctx: &ItemContext<'_>) -> Result<Answer, Invalid> {
        match self {
            Self::Label { labels, aliases, constrain } => parse_label(labels, aliases, *constrain, output),
            Self::Number { .. } => parse_number(output, ctx.scale)
                .map(|(value, percent)| Answer::Number { value, percent })
                .ok_or_else(|| Invalid(format!("no number in the output: {}", excerpt(output)))),
            Self::Program { .. } => parse_program(output, ctx),
            Self::Json { schema, answer } => parse_json(output, schema.as_ref(), answer.as_deref()),
            Self::Entities { types } => parse_entities(output, types),
            Self::Auto { .. } => parse_auto(output, ctx),
            Self::Text => {
                let text = output.trim();
                if text.is_empty() {
                    Err(Invalid("the output is empty".to_string()))
                } else {
                    Ok(Answer::Text(text.to_string()))
                }
            }
        }
    }

    /// The gold value of the dataset as an Answer (Label from a string; Number from a JSON number or a
    /// numeric string, applying ctx.scale — for `Program` a gold may be a number or "yes"/"no"; Entities
    /// from an array of {"type","text"}; Text from a string or an array of strings joined by newlines;
    /// Auto: from a number, a string, or an array of strings (one numeric string → Number; else Spans)).
    ///
    /// A Label gold may also be a number or a word listed in `aliases` (datasets that store `0`, `1`, `2`);
    /// a Json gold is the answer itself, or the part at `answer` when the gold has that part.
    pub fn gold(&self, value: &Value, ctx: &ItemContext<'_>) -> Result<Answer, Invalid> {
        match self {
            Self::Label { labels, aliases, .. } => gold_label(labels, aliases, value),
            Self::Number { .. } => gold_number(value, ctx),
            Self::Program { .. } => gold_program(value, ctx),
            Self::Json { answer, .. } => Ok(Answer::Json(gold_json(value, answer.as_deref()))),
            Self::Entities { types } => gold_entities(value, types),
            Self::Auto { .. } => gold_auto(value, ctx),
            Self::Text => gold_text(value),
        }
    }

    /// Whether `predicted` answers `gold`: labels equal (case-insensitive); numbers within relative
    /// tolerance (|p−g| ≤ tol·max(|g|, 1e-9)) — also accepted when exactly one side is a percentage and
    /// p/100 or p·100 matches (FinQA writes 0.124 where a model writes 12.4 %); spans as sets of
    /// normalised strings; text by normalised equality; entities (as sets, text case-insensitive) / json
    /// (numbers by value) by equality. A Number gold and a Label "yes"/"no" never match.
    pub fn is_correct(&self, predicted: &Answer, gold: &Answer) -> bool {
        let tolerance = self.tolerance();
        match (predicted, gold) {
            (Answer::Label(p), Answer::Label(g)) => p.trim().to_lowercase() == g.trim().to_lowercase(),
            (Answer::Number { value: p, percent: pp }, Answer::Number { value: g, percent: gp }) => {
                numbers_match(*p, *pp, *g, *gp, tolerance)
            }
            (Answer::Spans(p), Answer::Spans(g)) => spans_match(p, g),
            (Answer::Spans(p), Answer::Number { value, percent }) => parse_number(&p.join(", "), None)
                .is_some_and(|(v, pc)| numbers_match(v, pc, *value, *percent, tolerance)),
            (Answer::Text(p), Answer::Text(g)) => normalize_text(p) == normalize_text(g),
            (Answer::Entities(p), Answer::Entities(g)) => entity_set(p) == entity_set(g),
            (Answer::Json(p), Answer::Json(g)) => json_equal(p, g),
            _ => false,
        }
    }

    /// For `Label { constrain: true }`: the JSON Schema `{"type":"string","enum":[labels…]}`; None otherwise.
    pub fn label_schema(&self) -> Option<Value> {
        match self {
            Self::Label { labels, constrain: true, .. } => {
                let mut schema = serde_json::Map::new();
                schema.insert("type".to_string(), Value::String("string".to_string()));
                schema.insert(
                    "enum".to_string(),
                    Value::Array(labels.iter().cloned().map(Value::String).collect()),
                );
                Some(Value::Object(schema))
            }
            _ => None,
        }
    }

    fn tolerance(&self) -> f64 {
        match self {
            Self::Number { tolerance } | Self::Program { tolerance } | Self::Auto { tolerance } => *tolerance,
            _ => default_tolerance(),
        }
    }
}

impl Answer {
    /// A short display form for tables and JSONL ("positive", "127.4", "12.5%", "ORG: Visa; LOC: Paris").
    /// Numbers are rounded to 6 decimals; text is put on one line (whitespace collapsed), not cut.
    pub fn display(&self) -> String {
        match self {
            Self::Label(label) => label.clone(),
            Self::Number { value, percent } => {
                let text = format_number(*value);
                if *percent { format!("{text}%") } else { text }
            }
            Self::Text(text) => collapse_whitespace(text),
            Self::Spans(spans) => spans.join("; "),
            Self::Entities(entities) if entities.is_empty() => "(none)".to_string(),
            Self::Entities(entities) => {
                entities.iter().map(|e| format!("{}: {}", e.kind, e.text)).collect::<Vec<_>>().join("; ")
            }
            Self::Json(value) => value.to_string(),
        }
    }
}

/// Parse one number with its scale from a snippet ("$1,496.5 million" → 1.4965e9, "(3.2)" → −3.2,
/// "12.5%" → 12.5 percent). `default_scale` applies when the text has no scale word of its own
/// (TAT-QA answers are written in the table's scale). None when there is no number.
///
/// The number after the last `answer:` marker that has one is taken, else the last number of the text.
pub fn parse_number(text: &str, default_scale: Option<&str>) -> Option<(f64, bool)> {
    let chars: Vec<char> = text.chars().collect();
    let tokens = scan_numbers(&chars, default_scale);
    pick_number(&chars, &tokens).map(|token| (token.value, token.percent))
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// A quoted, shortened, one-line form of an output for error reasons.
fn excerpt(text: &str) -> String {
    let flat = collapse_whitespace(text);
    if flat.is_empty() {
        return "(empty output)".to_string();
    }
    if flat.chars().count() <= EXCERPT_CHARS {
        return format!("`{flat}`");
    }
    let cut: String = flat.chars().take(EXCERPT_CHARS).collect();
    format!("`{cut}…`")
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn lower_chars(text: &str) -> Vec<char> {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// The ends (char index after the `:`) of the markers `word:` (case-insensitive; spaces, `*` and `_`
/// allowed before the colon, as in `**Answer**:`).
fn marker_ends(chars: &[char], word: &str) -> Vec<usize> {
    let word: Vec<char> = word.chars().collect();
    let mut ends = Vec::new();
    for start in 0..chars.len() {
        let Some(window) = chars.get(start..start + word.len()) else {
            break;
        };
        if !window.iter().zip(&word).all(|(a, b)| a.to_ascii_lowercase() == *b) {
            continue;
        }
        let mut j = start + word.len();
        while chars.get(j).is_some_and(|c| matches!(*c, ' ' | '\t' | '*' | '_')) {
            j += 1;
        }
        if chars.get(j) == Some(&':') {
            ends.push(j + 1);
        }
    }
    ends
}

/// A number written without separators, scale or currency ("12", "-3.5", ".5"); never NaN or infinite.
fn plain_number(text: &str) -> Option<f64> {
    let well_formed = text.chars().any(|c| c.is_ascii_digit())
        && text
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || c == '.' || (i == 0 && matches!(c, '-' | '+')));
    if !well_formed {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The multiplier and percent flag of a scale name ("", "thousand", "million", "billion", "percent").
fn scale_of(scale: Option<&str>) -> (f64, bool) {
    match scale.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("thousand" | "thousands") => (1e3, false),
        Some("million" | "millions") => (1e6, false),
        Some("billion" | "billions") => (1e9, false),
        Some("trillion" | "trillions") => (1e12, false),
        Some("percent" | "percentage" | "%") => (1.0, true),
        _ => (1.0, false),
    }
}

fn format_number(value: f64) -> String {
    let rounded = calc::round_to(value, 6);
    let rounded = if rounded == 0.0 { 0.0 } else { rounded };
    format!("{rounded}")
}

fn numbers_match(p: f64, p_percent: bool, g: f64, g_percent: bool, tolerance: f64) -> bool {
    let close = |x: f64| (x - g).abs() <= tolerance * g.abs().max(1e-9);
    close(p) || (p_percent != g_percent && (close(p / 100.0) || close(p * 100.0)))
}

/// Lowercase, punctuation and articles removed, numbers written canonically ("1,496.5" → "1496.5").
fn normalize_text(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for token in text.split_whitespace() {
        if let Some(value) = numeric_token(token) {
            words.push(format_number(value));
            continue;
        }
        let lowered = token.to_lowercase();
        for word in lowered.split(|c: char| !c.is_alphanumeric()) {
            if !word.is_empty() && !matches!(word, "a" | "an" | "the") {
                words.push(word.to_string());
            }
        }
    }
    words.join(" ")
}

fn numeric_token(token: &str) -> Option<f64> {
    let core: String =
        token.chars().filter(|c| !matches!(*c, '$' | ',' | '%' | '(' | ')' | '"' | '\'')).collect();
    plain_number(core.trim_end_matches(['.', ';', ':']))
}

// ---------------------------------------------------------------------------------------------
// Labels
// ---------------------------------------------------------------------------------------------

/// The configured label equal to `word` (case-insensitive).
fn canonical_label<'l>(labels: &'l [String], word: &str) -> Option<&'l String> {
    let wanted = word.trim().to_lowercase();
    labels.iter().find(|label| label.trim().to_lowercase() == wanted)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether a word may start at `start`: no word character (or hyphen joining a word) before it.
fn word_start(chars: &[char], start: usize) -> bool {
    let Some(prev) = start.checked_sub(1).and_then(|k| chars.get(k)) else {
        return true;
    };
    if is_word_char(*prev) {
        return false;
    }
    !(*prev == '-' && start.checked_sub(2).and_then(|k| chars.get(k)).is_some_and(|c| is_word_char(*c)))
}

/// Whether a word may end before `end`: no word character (or hyphen joining a word) after it.
fn word_end(chars: &[char], end: usize) -> bool {
    let Some(next) = chars.get(end) else {
        return true;
    };
    if is_word_char(*next) {
        return false;
    }
    !(*next == '-' && chars.get(end + 1).is_some_and(|c| is_word_char(*c)))
}

fn parse_label(
    labels: &[String],
    aliases: &BTreeMap<String, String>,
    constrain: bool,
    output: &str,
) -> Result<Answer, Invalid> {
    // A constrained output is a JSON string: `"positive"`.
    let decoded = if constrain {
        match serde_json::from_str::<Value>(output.trim()) {
            Ok(Value::String(text)) => Some(text),
            _ => None,
        }
    } else {
        None
    };
    let text = decoded.as_deref().unwrap_or(output);
    let mut candidates: Vec<(Vec<char>, String)> =
        labels.iter().map(|label| (lower_chars(label.trim()), label.clone())).collect();
    for (word, target) in aliases {
        let label = canonical_label(labels, target).cloned().unwrap_or_else(|| target.clone());
        candidates.push((lower_chars(word.trim()), label));
    }
    candidates.retain(|(word, _)| !word.is_empty());
    // At one position the longest candidate wins ("strong buy" before "buy").
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0.len()));
    let chars = lower_chars(text);
    for start in 0..chars.len() {
        if !word_start(&chars, start) {
            continue;
        }
        for (word, label) in &candidates {
            let end = start + word.len();
            if chars.get(start..end) == Some(word.as_slice()) && word_end(&chars, end) {
                return Ok(Answer::Label(label.clone()));
            }
        }
    }
    Err(Invalid(format!("no label ({}) in the output: {}", labels.join(", "), excerpt(output))))
}

fn gold_label(
    labels: &[String],
    aliases: &BTreeMap<String, String>,
    value: &Value,
) -> Result<Answer, Invalid> {
    let key = match value {
        Value::String(text) => text.trim().to_string(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => return Err(Invalid(format!("a gold label must be a string, got {}", json_kind(other)))),
    };
    if let Some(label) = canonical_label(labels, &key) {
        return Ok(Answer::Label(label.clone()));
    }
    let wanted = key.to_lowercase();
    if let Some(target) =
        aliases.iter().find(|(word, _)| word.trim().to_lowercase() == wanted).map(|(_, t)| t)
    {
        let label = canonical_label(labels, target).cloned().unwrap_or_else(|| target.clone());
        return Ok(Answer::Label(label));
    }
    Err(Invalid(format!("the gold label `{key}` is not one of the labels ({})", labels.join(", "))))
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

/// One number found in a text: its char span (sign, currency, parentheses and scale included) and its
/// value in base units (in points when `percent`).
#[derive(Debug, Clone, Copy)]
struct NumberToken {
    start: usize,
    end: usize,
    value: f64,
    percent: bool,
}

fn scan_numbers(chars: &[char], default_scale: Option<&str>) -> Vec<NumberToken> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match number_at(chars, i, default_scale) {
            Some(token) => {
                i = token.end.max(i + 1);
                tokens.push(token);
            }
            None => i += 1,
        }
    }
    tokens
}

/// The number after the last `answer:` marker followed by one, else the last number.
fn pick_number(chars: &[char], tokens: &[NumberToken]) -> Option<NumberToken> {
    for marker in marker_ends(chars, "answer").into_iter().rev() {
        if let Some(token) = tokens.iter().find(|token| token.start >= marker) {
            return Some(*token);
        }
    }
    tokens.last().copied()
}

fn is_currency(c: char) -> bool {
    matches!(c, '$' | '€' | '£' | '¥' | '₹')
}

/// Whether `chars[pos - 1]` is a minus sign rather than a hyphen between words or numbers ("2018-2019").
fn minus_before(chars: &[char], pos: usize) -> bool {
    let Some(k) = pos.checked_sub(1) else {
        return false;
    };
    chars.get(k).is_some_and(|c| matches!(*c, '-' | '\u{2212}'))
        && !k.checked_sub(1).and_then(|p| chars.get(p)).is_some_and(|c| c.is_alphanumeric())
}

/// The start of a currency sign right before `pos` (`$5`, `$ 5`).
fn currency_before(chars: &[char], pos: usize) -> Option<usize> {
    let k = pos.checked_sub(1)?;
    if chars.get(k).is_some_and(|c| is_currency(*c)) {
        return Some(k);
    }
    if chars.get(k) == Some(&' ') {
        let before = k.checked_sub(1)?;
        if chars.get(before).is_some_and(|c| is_currency(*c)) {
            return Some(before);
        }
    }
    None
}

/// Whether `chars[k..k + 3]` are digits not followed by another digit (a thousands group).
fn is_group(chars: &[char], k: usize) -> bool {
    (k..k + 3).all(|i| chars.get(i).is_some_and(char::is_ascii_digit))
        && !chars.get(k + 3).is_some_and(char::is_ascii_digit)
}

/// A scale written after a number at `k`: (multiplier, percent, end of the scale word).
fn scale_suffix(chars: &[char], k: usize) -> Option<(f64, bool, usize)> {
    let mut p = k;
    while p < k + 2 && chars.get(p).is_some_and(|c| matches!(*c, ' ' | '\u{a0}')) {
        p += 1;
    }
    let spaced = p > k;
    if chars.get(p) == Some(&'%') {
        return Some((1.0, true, p + 1));
    }
    let word_start = p;
    while chars.get(p).is_some_and(char::is_ascii_alphabetic) {
        p += 1;
    }
    if p == word_start || chars.get(p).is_some_and(|c| c.is_alphanumeric()) {
        return None;
    }
    let word = chars.get(word_start..p)?.iter().collect::<String>().to_ascii_lowercase();
    let (multiplier, percent) = match word.as_str() {
        "thousand" | "thousands" => (1e3, false),
        "million" | "millions" | "mn" | "mln" => (1e6, false),
        "billion" | "billions" | "bn" | "bln" => (1e9, false),
        "trillion" | "trillions" | "tn" => (1e12, false),
        "percent" | "percentage" | "pct" => (1.0, true),
        "per" => {
            let cent = chars
                .get(p..p + 5)
                .is_some_and(|w| w.iter().collect::<String>().eq_ignore_ascii_case(" cent"))
                && !chars.get(p + 5).is_some_and(|c| c.is_alphanumeric());
            return cent.then_some((1.0, true, p + 5));
        }
        "k" if !spaced => (1e3, false),
        "m" | "mm" if !spaced => (1e6, false),
        "b" if !spaced => (1e9, false),
        _ => return None,
    };
    Some((multiplier, percent, p))
}

/// The number whose digits (or leading `.`) start at `s`, with its sign, currency, parentheses and scale.
fn number_at(chars: &[char], s: usize, default_scale: Option<&str>) -> Option<NumberToken> {
    let first = *chars.get(s)?;
    let digit_next = chars.get(s + 1).is_some_and(char::is_ascii_digit);
    if !(first.is_ascii_digit() || (first == '.' && digit_next)) {
        return None;
    }
    if let Some(prev) = s.checked_sub(1).and_then(|k| chars.get(k)) {
        // Digits glued to a word are not a number of their own: "Q4", "FY2019", "v1.2".
        if prev.is_alphanumeric() || *prev == '_' {
            return None;
        }
        if matches!(*prev, '.' | ',')
            && s.checked_sub(2).and_then(|k| chars.get(k)).is_some_and(|c| c.is_alphanumeric())
        {
            return None;
        }
    }

    // The digits: thousands groups, a fraction, an exponent.
    let mut j = s;
    let mut body = String::new();
    while let Some(c) = chars.get(j).filter(|c| c.is_ascii_digit()) {
        body.push(*c);
        j += 1;
    }
    let int_len = j - s;
    if (1..=3).contains(&int_len) {
        while chars.get(j) == Some(&',') && is_group(chars, j + 1) {
            body.extend(chars.get(j + 1..j + 4).unwrap_or(&[]));
            j += 4;
        }
    }
    if chars.get(j) == Some(&'.') && chars.get(j + 1).is_some_and(char::is_ascii_digit) {
        body.push('.');
        j += 1;
        while let Some(c) = chars.get(j).filter(|c| c.is_ascii_digit()) {
            body.push(*c);
            j += 1;
        }
    }
    if chars.get(j).is_some_and(|c| matches!(*c, 'e' | 'E')) {
        let mut k = j + 1;
        let mut exponent = String::from("e");
        if let Some(sign) = chars.get(k).filter(|c| matches!(**c, '+' | '-')) {
            exponent.push(*sign);
            k += 1;
        }
        let digits_start = k;
        while let Some(c) = chars.get(k).filter(|c| c.is_ascii_digit()) {
            exponent.push(*c);
            k += 1;
        }
        if k > digits_start && !chars.get(k).is_some_and(|c| c.is_alphanumeric()) {
            body.push_str(&exponent);
            j = k;
        }
    }
    let magnitude = body.parse::<f64>().ok().filter(|v| v.is_finite())?;

    // Before the digits: a minus sign, a currency sign, an opening parenthesis.
    let mut start = s;
    let mut negative = false;
    if minus_before(chars, start) {
        negative = true;
        start -= 1;
    }
    if let Some(currency) = currency_before(chars, start) {
        start = currency;
        if !negative && minus_before(chars, start) {
            negative = true;
            start -= 1;
        }
    }
    let paren_open = start.checked_sub(1).is_some_and(|k| chars.get(k) == Some(&'('));

    // After the digits: a closing parenthesis, a scale word or `%`.
    let mut end = j;
    let mut closed = false;
    if paren_open && chars.get(end) == Some(&')') {
        closed = true;
        end += 1;
    }
    let own_scale = scale_suffix(chars, end);
    if let Some((_, _, scale_end)) = own_scale {
        end = scale_end;
    }
    if paren_open && !closed && chars.get(end) == Some(&')') {
        closed = true;
        end += 1;
    }
    if closed {
        negative = true;
        start = start.saturating_sub(1);
    }

    let (value, percent) = match own_scale {
        Some((_, true, _)) => (magnitude, true),
        Some((multiplier, false, _)) => (magnitude * multiplier, false),
        None => {
            let (multiplier, percent) = scale_of(default_scale);
            (magnitude * multiplier, percent)
        }
    };
    let value = if negative { -value } else { value };
    value.is_finite().then_some(NumberToken { start, end, value, percent })
}

/// A numeric gold string: a number once `$`, `,`, `%` and whitespace are removed.
fn numeric_gold(text: &str, scale: Option<&str>) -> Option<(f64, bool)> {
    let cleaned: String =
        text.chars().filter(|c| !matches!(*c, '$' | ',' | '%') && !c.is_whitespace()).collect();
    let value = plain_number(&cleaned)?;
    if text.contains('%') {
        return Some((value, true));
    }
    let (multiplier, percent) = scale_of(scale);
    let value = value * multiplier;
    value.is_finite().then_some((value, percent))
}

fn gold_number(value: &Value, ctx: &ItemContext<'_>) -> Result<Answer, Invalid> {
    match value {
        Value::Number(number) => {
            let Some(x) = number.as_f64().filter(|x| x.is_finite()) else {
                return Err(Invalid(format!("the gold number {number} is not finite")));
            };
            let (multiplier, percent) = scale_of(ctx.scale);
            Ok(Answer::Number { value: x * multiplier, percent })
        }
        Value::String(text) => numeric_gold(text, ctx.scale)
            .or_else(|| parse_number(text, ctx.scale))
            .map(|(value, percent)| Answer::Number { value, percent })
            .ok_or_else(|| Invalid(format!("the gold answer `{text}` is not a number"))),
        Value::Array(items) => match items.as_slice() {
            [item] => gold_number(item, ctx),
            _ => Err(Invalid(format!("the gold answer is a list of {} values, not a number", items.len()))),
        },
        other => Err(Invalid(format!("the gold answer must be a number, got {}", json_kind(other)))),
    }
}

// ---------------------------------------------------------------------------------------------
// FinQA programs
// ---------------------------------------------------------------------------------------------

fn yes_no(flag: bool) -> Answer {
    Answer::Label(if flag { "yes" } else { "no" }.to_string())
}

/// An identifier followed by `(` at `i`: its name and the index of the parenthesis.
fn call_at(chars: &[char], i: usize) -> Option<(String, usize)> {
    if i.checked_sub(1).and_then(|k| chars.get(k)).is_some_and(|c| is_word_char(*c)) {
        return None;
    }
    let mut j = i;
    while chars.get(j).is_some_and(|c| is_word_char(*c)) {
        j += 1;
    }
    if j == i {
        return None;
    }
    let mut k = j;
    while chars.get(k).is_some_and(|c| matches!(*c, ' ' | '\t')) {
        k += 1;
    }
    if chars.get(k) != Some(&'(') {
        return None;
    }
    Some((chars.get(i..j)?.iter().collect(), k))
}

fn skip_whitespace(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

/// The end of the sequence of calls `op(…), op(…)` starting at `start` (the text's end when a call is
/// never closed: the calculator then says so).
fn call_sequence_end(chars: &[char], start: usize) -> usize {
    let mut pos = start;
    loop {
        let Some((_, open)) = call_at(chars, pos) else {
            return pos;
        };
        let mut depth = 0usize;
        let mut close = None;
        for (k, c) in chars.iter().enumerate().skip(open) {
            match *c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        close = Some(k);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(close) = close else {
            return chars.len();
        };
        let end = close + 1;
        let comma = skip_whitespace(chars, end);
        if chars.get(comma) != Some(&',') {
            return end;
        }
        let next = skip_whitespace(chars, comma + 1);
        if call_at(chars, next).is_none() {
            return end;
        }
        pos = next;
    }
}

/// The program starting at the first FinQA operation at or after `from`.
fn program_from(chars: &[char], from: usize) -> Option<String> {
    (from..chars.len()).find_map(|start| {
        let (name, _) = call_at(chars, start)?;
        if !PROGRAM_OPS.contains(&name.to_ascii_lowercase().as_str()) {
            return None;
        }
        let end = call_sequence_end(chars, start);
        let program: String = chars.get(start..end).unwrap_or(&[]).iter().collect();
        Some(program.trim().to_string())
    })
}

fn find_program(output: &str) -> Option<String> {
    let chars: Vec<char> = output.chars().collect();
    if let Some(&marker) = marker_ends(&chars, "program").last()
        && let Some(program) = program_from(&chars, marker)
    {
        return Some(program);
    }
    program_from(&chars, 0)
}

fn parse_program(output: &str, ctx: &ItemContext<'_>) -> Result<Answer, Invalid> {
    let Some(program) = find_program(output) else {
        return Err(Invalid(format!(
            "no FinQA program (such as `divide(637, const_5)`) in the output: {}",
            excerpt(output)
        )));
    };
    match calc::eval_program(&program, ctx.table) {
        Ok(evaluated) => Ok(match evaluated.result {
            ProgramResult::Number(value) => Answer::Number { value, percent: false },
            ProgramResult::Bool(flag) => yes_no(flag),
        }),
        Err(error) => Err(Invalid(format!("the program {} failed: {error}", excerpt(&program)))),
    }
}

fn gold_program(value: &Value, ctx: &ItemContext<'_>) -> Result<Answer, Invalid> {
    match value {
        Value::Bool(flag) => Ok(yes_no(*flag)),
        Value::String(text) if matches!(text.trim().to_lowercase().as_str(), "yes" | "no") => {
            Ok(Answer::Label(text.trim().to_lowercase()))
        }
        _ => gold_number(value, ctx),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// The byte index after the bracket closing the one at `start` (strings and escapes respected).
fn balanced_end(text: &str, start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, c) in text.get(start..)?.char_indices() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(start + offset + c.len_utf8());
                }
            }
            _ => {}
        }
    }
    None
}

/// The output without a surrounding Markdown code fence.
fn strip_fence(text: &str) -> &str {
    let trimmed = text.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let body = rest.split_once('\n').map_or("", |(_, body)| body);
    body.trim_end().strip_suffix("```").unwrap_or(body).trim()
}

/// Every balanced `{…}` / `[…]` of the output that parses as JSON, in order (one inside another is not
/// tried); the whole output when there is none and it parses.
fn json_candidates(output: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut from = 0;
    let mut attempts = 0;
    while let Some(offset) = output.get(from..).and_then(|rest| rest.find(['{', '['])) {
        attempts += 1;
        if attempts > MAX_JSON_ATTEMPTS {
            break;
        }
        let start = from + offset;
        // `{` and `[` are one byte long.
        let mut next = start + 1;
        if let Some(end) = balanced_end(output, start)
            && let Some(value) = output.get(start..end).and_then(|s| serde_json::from_str::<Value>(s).ok())
        {
            found.push(value);
            next = end;
        }
        from = next;
    }
    if found.is_empty()
        && let Ok(value) = serde_json::from_str::<Value>(strip_fence(output))
    {
        found.push(value);
    }
    found
}

fn parse_json(output: &str, schema: Option<&Value>, pointer: Option<&str>) -> Result<Answer, Invalid> {
    let candidates = json_candidates(output);
    let Some(first) = candidates.first() else {
        return Err(Invalid(format!("no JSON value in the output: {}", excerpt(output))));
    };
    let chosen = match schema {
        Some(schema) => match candidates.iter().find(|value| schemas::validate(schema, value).is_ok()) {
            Some(value) => value,
            None => {
                let reason = match schemas::validate(schema, first) {
                    Err(error) => error.to_string(),
                    Ok(()) => "no value satisfies it".to_string(),
                };
                return Err(Invalid(format!("the JSON does not match the schema: {reason}")));
            }
        },
        None => first,
    };
    match pointer {
        Some(pointer) => {
            chosen.pointer(pointer).cloned().map(Answer::Json).ok_or_else(|| {
                Invalid(format!("the JSON has no `{pointer}`: {}", excerpt(&chosen.to_string())))
            })
        }
        None => Ok(Answer::Json(chosen.clone())),
    }
}

fn gold_json(value: &Value, pointer: Option<&str>) -> Value {
    let parsed = match value {
        Value::String(text) => {
            let text = text.trim();
            if text.starts_with('{') || text.starts_with('[') {
                serde_json::from_str::<Value>(text).ok()
            } else {
                None
            }
        }
        _ => None,
    };
    let whole = parsed.unwrap_or_else(|| value.clone());
    let part = pointer.and_then(|p| whole.pointer(p)).cloned();
    part.unwrap_or(whole)
}

fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || x.as_f64().zip(y.as_f64()).is_some_and(|(x, y)| x == y)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(key, v)| y.get(key).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------------------------
// Entities
// ---------------------------------------------------------------------------------------------

const TYPE_KEYS: &[&str] = &["type", "label", "entity_type", "category"];
const TEXT_KEYS: &[&str] = &["text", "span", "entity", "name", "value"];

fn canonical_type<'t>(types: &'t [String], name: &str) -> Option<&'t String> {
    let name = name.trim().trim_matches(|c: char| matches!(c, '*' | '`' | '"' | '\'' | '[' | ']')).trim();
    types.iter().find(|kind| kind.trim().to_lowercase() == name.to_lowercase())
}

fn entity_key(kind: &str, text: &str) -> (String, String) {
    (kind.trim().to_lowercase(), collapse_whitespace(text).to_lowercase())
}

fn entity_set(entities: &[Entity]) -> BTreeSet<(String, String)> {
    entities.iter().map(|e| entity_key(&e.kind, &e.text)).collect()
}

fn push_entity(out: &mut Vec<Entity>, kind: &str, text: &str) {
    let cleaned =
        text.trim().trim_matches(|c: char| matches!(c, '"' | '\'' | '*' | '`') || c.is_whitespace());
    let cleaned = cleaned.strip_suffix('.').unwrap_or(cleaned).trim();
    if cleaned.is_empty() || matches!(cleaned.to_lowercase().as_str(), "none" | "n/a" | "-" | "null") {
        return;
    }
    let key = entity_key(kind, cleaned);
    if out.iter().any(|e| entity_key(&e.kind, &e.text) == key) {
        return;
    }
    out.push(Entity { kind: kind.to_string(), text: cleaned.to_string() });
}

fn first_string(map: &serde_json::Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| map.get(*key).and_then(Value::as_str)).map(str::to_string)
}

/// Entities from JSON: an array of `{"type","text"}` objects or `[type, text]` pairs, an object with
/// an `entities` array, one such object, or an object mapping types to texts (`{"ORG": ["Visa"]}`).
/// None when the value has none of these forms.
fn entities_from_json(value: &Value, types: &[String]) -> Option<Vec<Entity>> {
    let mut out = Vec::new();
    match value {
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(map) => {
                        let kind = first_string(map, TYPE_KEYS)?;
                        let text = first_string(map, TEXT_KEYS)?;
                        if let Some(kind) = canonical_type(types, &kind) {
                            push_entity(&mut out, kind, &text);
                        }
                    }
                    Value::Array(pair) => match pair.as_slice() {
                        [Value::String(kind), Value::String(text)] => {
                            if let Some(kind) = canonical_type(types, kind) {
                                push_entity(&mut out, kind, text);
                            }
                        }
                        _ => return None,
                    },
                    _ => return None,
                }
            }
            Some(out)
        }
        Value::Object(map) => {
            if let Some(inner) = map.get("entities") {
                return entities_from_json(inner, types);
            }
            if first_string(map, TYPE_KEYS).is_some() && first_string(map, TEXT_KEYS).is_some() {
                return entities_from_json(&Value::Array(vec![value.clone()]), types);
            }
            let mut known = false;
            for (key, texts) in map {
                let texts: Vec<&str> = match texts {
                    Value::String(text) => vec![text.as_str()],
                    Value::Array(items) => items.iter().map(Value::as_str).collect::<Option<Vec<_>>>()?,
                    Value::Null => Vec::new(),
                    _ => return None,
                };
                if let Some(kind) = canonical_type(types, key) {
                    known = true;
                    for text in texts {
                        push_entity(&mut out, kind, text);
                    }
                }
            }
            (known || map.is_empty()).then_some(out)
        }
        _ => None,
    }
}

/// Entities from lines `TYPE: text; text`; None when no line names a known type.
fn entities_from_lines(output: &str, types: &[String]) -> Option<Vec<Entity>> {
    let mut out = Vec::new();
    let mut found = false;
    for line in output.lines() {
        let line = line.trim();
        let line = line
            .strip_prefix("- ")
            .or_else(|| line.strip_prefix("* "))
            .or_else(|| line.strip_prefix("• "))
            .unwrap_or(line);
        let Some((head, tail)) = line.split_once(':') else {
            continue;
        };
        let Some(kind) = canonical_type(types, head) else {
            continue;
        };
        found = true;
        for text in tail.split([';', ',']) {
            push_entity(&mut out, kind, text);
        }
    }
    found.then_some(out)
}

fn parse_entities(output: &str, types: &[String]) -> Result<Answer, Invalid> {
    for candidate in json_candidates(output) {
        if let Some(entities) = entities_from_json(&candidate, types) {
            return Ok(Answer::Entities(entities));
        }
    }
    if let Some(entities) = entities_from_lines(output, types) {
        return Ok(Answer::Entities(entities));
    }
    let normalized = normalize_text(output);
    if matches!(normalized.as_str(), "none" | "n a" | "nothing")
        || normalized.contains("no entities")
        || normalized.contains("no named entities")
    {
        return Ok(Answer::Entities(Vec::new()));
    }
    Err(Invalid(format!(
        "no entities (a JSON array of {{\"type\", \"text\"}} or `TYPE: text` lines with types {}) in the \
         output: {}",
        types.join(", "),
        excerpt(output)
    )))
}

fn gold_entities(value: &Value, types: &[String]) -> Result<Answer, Invalid> {
    match value {
        Value::String(text) => parse_entities(text, types),
        _ => entities_from_json(value, types).map(Answer::Entities).ok_or_else(|| {
            Invalid(format!(
                "gold entities must be an array of {{\"type\", \"text\"}}, got {}",
                json_kind(value)
            ))
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Auto (TAT-QA) and text
// ---------------------------------------------------------------------------------------------

fn clean_answer(text: &str) -> String {
    let trimmed = text.trim_matches(|c: char| matches!(c, '*' | '`' | '"') || c.is_whitespace());
    trimmed.strip_suffix('.').unwrap_or(trimmed).trim().to_string()
}

/// The answer part of an output: the rest of the line of the last `answer:` marker (or, when that is
/// empty, the block of lines below it), else the whole output.
fn answer_text(output: &str) -> String {
    let chars: Vec<char> = output.chars().collect();
    let Some(&marker) = marker_ends(&chars, "answer").last() else {
        return clean_answer(output);
    };
    let rest: String = chars.get(marker..).unwrap_or(&[]).iter().collect();
    let mut lines = rest.lines();
    let first = lines.next().unwrap_or("").trim();
    if !first.is_empty() {
        return clean_answer(first);
    }
    let block: Vec<&str> =
        lines.map(str::trim).skip_while(|line| line.is_empty()).take_while(|line| !line.is_empty()).collect();
    clean_answer(&block.join("\n"))
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A Number when the text is one number among filler words, else one span (split when compared).
fn auto_text_answer(text: &str, ctx: &ItemContext<'_>) -> Answer {
    let chars: Vec<char> = text.chars().collect();
    let tokens = scan_numbers(&chars, ctx.scale);
    if let [token] = tokens.as_slice() {
        let rest: String = chars
            .get(..token.start)
            .unwrap_or(&[])
            .iter()
            .chain(chars.get(token.end..).unwrap_or(&[]))
            .collect();
        let only_filler = rest
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .all(|word| FILLER_WORDS.contains(&word.to_lowercase().as_str()));
        if only_filler {
            return Answer::Number { value: token.value, percent: token.percent };
        }
    }
    Answer::Spans(vec![text.trim().to_string()])
}

fn parse_auto(output: &str, ctx: &ItemContext<'_>) -> Result<Answer, Invalid> {
    let text = answer_text(output);
    if text.is_empty() {
        return Err(Invalid(format!("no answer in the output: {}", excerpt(output))));
    }
    if text.starts_with('[')
        && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&text)
    {
        let parts: Vec<String> = items.iter().filter_map(scalar_text).collect();
        match parts.as_slice() {
            [] => {}
            [one] => return Ok(auto_text_answer(one, ctx)),
            _ => return Ok(Answer::Spans(parts)),
        }
    }
    Ok(auto_text_answer(&text, ctx))
}

fn auto_gold_string(text: &str, ctx: &ItemContext<'_>) -> Answer {
    match numeric_gold(text, ctx.scale) {
        Some((value, percent)) => Answer::Number { value, percent },
        None => Answer::Spans(vec![text.trim().to_string()]),
    }
}

fn gold_auto(value: &Value, ctx: &ItemContext<'_>) -> Result<Answer, Invalid> {
    match value {
        Value::Number(_) => gold_number(value, ctx),
        Value::String(text) => Ok(auto_gold_string(text, ctx)),
        Value::Array(items) => {
            let texts = items
                .iter()
                .map(|item| {
                    scalar_text(item).ok_or_else(|| {
                        Invalid(format!("gold spans must be strings or numbers, got {}", json_kind(item)))
                    })
                })
                .collect::<Result<Vec<String>, Invalid>>()?;
            match texts.as_slice() {
                [] => Err(Invalid("the gold answer is an empty list".to_string())),
                [one] => Ok(auto_gold_string(one, ctx)),
                _ => Ok(Answer::Spans(texts)),
            }
        }
        other => Err(Invalid(format!(
            "the gold answer must be a number, a string or a list, got {}",
            json_kind(other)
        ))),
    }
}

fn gold_text(value: &Value) -> Result<Answer, Invalid> {
    match value {
        Value::String(text) => Ok(Answer::Text(text.trim().to_string())),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::trim))
            .collect::<Option<Vec<_>>>()
            .map(|lines| Answer::Text(lines.join("\n")))
            .ok_or_else(|| Invalid("a gold text list must hold strings only".to_string())),
        other => Err(Invalid(format!("the gold text must be a string, got {}", json_kind(other)))),
    }
}

/// Splits a prediction into spans at `,` (not between digits), `;` and newlines, and also at the word
/// `and` and `&` when `at_and`; list bullets are dropped.
fn split_spans(text: &str, at_and: bool) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let digit_before = i.checked_sub(1).and_then(|k| chars.get(k)).is_some_and(char::is_ascii_digit);
        let digit_after = chars.get(i + 1).is_some_and(char::is_ascii_digit);
        let separator = match c {
            ',' => !(digit_before && digit_after),
            ';' | '\n' => true,
            '&' => at_and,
            _ => false,
        };
        if separator {
            parts.push(std::mem::take(&mut current));
            i += 1;
            continue;
        }
        let and_word = at_and
            && chars.get(i..i + 3).is_some_and(|w| w.iter().collect::<String>().eq_ignore_ascii_case("and"))
            && word_start(&chars, i)
            && word_end(&chars, i + 3);
        if and_word {
            parts.push(std::mem::take(&mut current));
            i += 3;
            continue;
        }
        current.push(c);
        i += 1;
    }
    parts.push(current);
    parts
        .iter()
        .map(|part| {
            let part = part.trim();
            part.strip_prefix("- ").or_else(|| part.strip_prefix("* ")).unwrap_or(part).trim().to_string()
        })
        .filter(|part| !part.is_empty())
        .collect()
}

fn span_set(spans: &[String]) -> BTreeSet<String> {
    spans.iter().map(|span| normalize_text(span)).filter(|span| !span.is_empty()).collect()
}

fn spans_match(predicted: &[String], gold: &[String]) -> bool {
    let wanted = span_set(gold);
    if wanted.is_empty() {
        return span_set(predicted).is_empty();
    }
    if span_set(predicted) == wanted {
        return true;
    }
    let joined = predicted.join(", ");
    if span_set(&split_spans(&joined, false)) == wanted || span_set(&split_spans(&joined, true)) == wanted {
        return true;
    }
    match gold {
        [one] => normalize_text(&predicted.join(" ")) == normalize_text(one),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> ItemContext<'static> {
        ItemContext::default()
    }

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0)
    }

    fn number(answer: &Answer) -> (f64, bool) {
        match answer {
            Answer::Number { value, percent } => (*value, *percent),
            other => panic!("expected a number, got {other:?}"),
        }
    }

    fn sentiment(constrain: bool) -> ParserSpec {
        ParserSpec::Label {
            labels: vec!["positive".into(), "negative".into(), "neutral".into()],
            aliases: BTreeMap::from([("bullish".to_string(), "positive".to_string())]),
            constrain,
        }
    }

    fn label(text: &str) -> Answer {
        Answer::Label(text.to_string())
    }

    #[test]
    fn labels_with_aliases_and_whole_words() {
        let spec = sentiment(false);
        assert!(spec.check().is_ok());
        assert_eq!(spec.parse("Bullish outlook.", &ctx()).unwrap(), label("positive"));
        assert_eq!(spec.parse("Sentiment: NEGATIVE", &ctx()).unwrap(), label("negative"));
        assert_eq!(spec.parse("neutral, not negative", &ctx()).unwrap(), label("neutral"));
        // Whole words only: "positively" and "non-negative" are no labels.
        let error = spec.parse("The tone is positively upbeat and non-negative", &ctx()).unwrap_err();
        assert!(error.0.contains("no label"), "{error}");
        assert!(spec.parse("I cannot tell.", &ctx()).is_err());
        assert!(spec.parse("", &ctx()).is_err());
        assert!(spec.is_correct(&label("positive"), &spec.gold(&json!("Positive"), &ctx()).unwrap()));
        assert!(!spec.is_correct(&label("positive"), &label("negative")));
        assert!(spec.gold(&json!("bullish"), &ctx()).is_ok());
        assert!(spec.gold(&json!("mixed"), &ctx()).is_err());
        assert_eq!(spec.label_schema(), None);
    }

    #[test]
    fn constrained_labels_are_quoted() {
        let spec = sentiment(true);
        assert_eq!(spec.parse("\"neutral\"", &ctx()).unwrap(), label("neutral"));
        assert_eq!(spec.parse("  \"Positive\"\n", &ctx()).unwrap(), label("positive"));
        assert_eq!(
            spec.label_schema(),
            Some(json!({"type": "string", "enum": ["positive", "negative", "neutral"]}))
        );
    }

    #[test]
    fn numbers_with_scales_signs_and_markers() {
        let (value, percent) = parse_number("$1,496.5 million", None).unwrap();
        assert!(close(value, 1.4965e9) && !percent);
        assert_eq!(parse_number("(3.2)", None), Some((-3.2, false)));
        assert_eq!(parse_number("12.5%", None), Some((12.5, true)));
        let (value, percent) = parse_number("1.2bn", None).unwrap();
        assert!(close(value, 1.2e9) && !percent);
        assert_eq!(parse_number("Answer: 127.4 (approx)", None), Some((127.4, false)));
        assert_eq!(parse_number("the change was -0.5 percent", None), Some((-0.5, true)));
        assert_eq!(parse_number("no digits here", None), None);
        assert_eq!(parse_number("", None), None);
        // The last number without a marker; the marker's number otherwise.
        assert_eq!(parse_number("From 2018 to 2019 it grew by 5", None), Some((5.0, false)));
        assert_eq!(parse_number("**Answer**: 42\nIn 2019 …", None), Some((42.0, false)));
        // Scales: the default applies to bare numbers only; single letters only glued to the digits.
        assert_eq!(parse_number("1496.5", Some("million")), Some((1.4965e9, false)));
        assert_eq!(parse_number("12.5", Some("percent")), Some((12.5, true)));
        assert_eq!(parse_number("3 m", None), Some((3.0, false)));
        assert_eq!(parse_number("3m", None), Some((3e6, false)));
        assert_eq!(parse_number("2 thousands", Some("million")), Some((2e3, false)));
        assert_eq!(parse_number("-$5", None), Some((-5.0, false)));
        assert_eq!(parse_number("2018-2019", None), Some((2019.0, false)));
        assert_eq!(parse_number("Q4", None), None);
        assert_eq!(parse_number("5 per cent", None), Some((5.0, true)));
    }

    #[test]
    fn finqa_programs() {
        let spec = ParserSpec::Program { tolerance: 1e-2 };
        let (value, _) = number(&spec.parse("Program: divide(637, const_5)", &ctx()).unwrap());
        assert!(close(value, 127.4));
        let (value, _) =
            number(&spec.parse("We compute subtract(5829, 5735), divide(#0, 5735).", &ctx()).unwrap());
        assert!(close(value, 94.0 / 5735.0));

        let table: Vec<Vec<String>> = vec![
            vec![String::new(), "2019".into(), "2018".into()],
            vec!["Revenue".into(), "$1,000".into(), "$500".into()],
        ];
        let with_table = ItemContext { table: Some(table.as_slice()), scale: None };
        let (value, _) = number(&spec.parse("program: table_average(revenue, none)", &with_table).unwrap());
        assert!(close(value, 750.0));
        let answer = spec.parse("table_sum(revenue, none), greater(#0, 1000)", &with_table).unwrap();
        assert_eq!(answer, label("yes"));
        assert!(spec.is_correct(&answer, &spec.gold(&json!("yes"), &ctx()).unwrap()));
        assert!(!spec.is_correct(&answer, &spec.gold(&json!(1500), &ctx()).unwrap()));

        let error = spec.parse("divide(637, 0)", &ctx()).unwrap_err();
        assert!(error.0.contains("division by zero"), "{error}");
        let error = spec.parse("divide(637, const_5), frobnicate(#0, 2)", &ctx()).unwrap_err();
        assert!(error.0.contains("unknown operation"), "{error}");
        assert!(spec.parse("The answer is 127.4", &ctx()).is_err());
        assert!(spec.parse("table_sum(revenue, none)", &ctx()).is_err());
    }

    #[test]
    fn percentages_match_fractions() {
        let spec = ParserSpec::Number { tolerance: 1e-2 };
        let gold = spec.gold(&json!(0.124), &ctx()).unwrap();
        let predicted = spec.parse("The margin rose to 12.4%.", &ctx()).unwrap();
        assert_eq!(predicted, Answer::Number { value: 12.4, percent: true });
        assert!(spec.is_correct(&predicted, &gold));
        assert!(!spec.is_correct(&spec.parse("12.4", &ctx()).unwrap(), &gold));
        assert!(spec.is_correct(&spec.parse("0.124", &ctx()).unwrap(), &gold));
        // A percentage gold answered with a fraction.
        let percent_gold = Answer::Number { value: 12.4, percent: true };
        assert!(spec.is_correct(&Answer::Number { value: 0.124, percent: false }, &percent_gold));
        assert!(!spec.is_correct(&label("yes"), &gold));
    }

    #[test]
    fn tolerance_edges() {
        let spec = ParserSpec::Number { tolerance: 0.5 };
        let gold = spec.gold(&json!(10), &ctx()).unwrap();
        assert!(spec.is_correct(&spec.parse("15", &ctx()).unwrap(), &gold));
        assert!(spec.is_correct(&spec.parse("5", &ctx()).unwrap(), &gold));
        assert!(!spec.is_correct(&spec.parse("15.01", &ctx()).unwrap(), &gold));
        let spec = ParserSpec::Number { tolerance: 1e-2 };
        let gold = spec.gold(&json!("100"), &ctx()).unwrap();
        assert!(spec.is_correct(&spec.parse("about 100.99", &ctx()).unwrap(), &gold));
        assert!(!spec.is_correct(&spec.parse("101.5", &ctx()).unwrap(), &gold));
        let zero = spec.gold(&json!(0), &ctx()).unwrap();
        assert!(spec.is_correct(&spec.parse("0.0", &ctx()).unwrap(), &zero));
        assert!(!spec.is_correct(&spec.parse("0.001", &ctx()).unwrap(), &zero));
    }

    #[test]
    fn auto_numbers_take_the_item_scale() {
        let spec = ParserSpec::Auto { tolerance: 1e-2 };
        let million = ItemContext { table: None, scale: Some("million") };
        let gold = spec.gold(&json!(["$1,496.5"]), &million).unwrap();
        assert_eq!(gold, Answer::Number { value: 1.4965e9, percent: false });
        for output in ["1496.5", "1.4965 billion", "Answer: $1,496.5 million.", "approximately 1,496.5"] {
            let predicted = spec.parse(output, &million).unwrap();
            assert!(spec.is_correct(&predicted, &gold), "{output} gave {predicted:?}");
        }
        assert!(!spec.is_correct(&spec.parse("1496.5 thousand", &million).unwrap(), &gold));
        let percent = ItemContext { table: None, scale: Some("percent") };
        let gold = spec.gold(&json!(12.5), &percent).unwrap();
        assert!(spec.is_correct(&spec.parse("12.5", &percent).unwrap(), &gold));
        assert!(spec.is_correct(&spec.parse("12.5%", &percent).unwrap(), &gold));
    }

    #[test]
    fn auto_spans_compare_as_sets() {
        let spec = ParserSpec::Auto { tolerance: 1e-2 };
        let plain = ItemContext { table: None, scale: Some("") };
        let gold = spec.gold(&json!(["fixed-price type", "cost-plus type"]), &plain).unwrap();
        assert!(matches!(gold, Answer::Spans(_)));
        for output in [
            "cost-plus type, fixed-price type",
            "Answer: fixed-price type and cost-plus type",
            "[\"cost-plus type\", \"fixed-price type\"]",
        ] {
            let predicted = spec.parse(output, &plain).unwrap();
            assert!(spec.is_correct(&predicted, &gold), "{output} gave {predicted:?}");
        }
        assert!(!spec.is_correct(&spec.parse("cost-plus type", &plain).unwrap(), &gold));
        let single = spec.gold(&json!(["12 months"]), &plain).unwrap();
        assert_eq!(single, Answer::Spans(vec!["12 months".to_string()]));
        assert!(spec.is_correct(&spec.parse("The 12 months", &plain).unwrap(), &single));
        let research = spec.gold(&json!("Research and development"), &plain).unwrap();
        assert!(spec.is_correct(&spec.parse("research and development.", &plain).unwrap(), &research));
        assert!(spec.parse("   ", &plain).is_err());
    }

    #[test]
    fn entities_from_json_and_lines() {
        let spec = ParserSpec::Entities { types: vec!["ORG".into(), "LOC".into(), "PER".into()] };
        let output = r#"Entities: [{"type": "ORG", "text": "Visa"}, {"type": "loc", "text": "Paris"},
            {"type": "MISC", "text": "Euro"}]"#;
        let predicted = spec.parse(output, &ctx()).unwrap();
        let expected = vec![
            Entity { kind: "ORG".into(), text: "Visa".into() },
            Entity { kind: "LOC".into(), text: "Paris".into() },
        ];
        assert_eq!(predicted, Answer::Entities(expected));
        assert_eq!(predicted.display(), "ORG: Visa; LOC: Paris");
        let gold = spec
            .gold(&json!([{"type": "LOC", "text": "paris"}, {"type": "ORG", "text": "Visa"}]), &ctx())
            .unwrap();
        assert!(spec.is_correct(&predicted, &gold));

        let lines = spec.parse("- ORG: Visa; Mastercard\nPER: John Smith\nDATE: 2019", &ctx()).unwrap();
        let expected = vec![
            Entity { kind: "ORG".into(), text: "Visa".into() },
            Entity { kind: "ORG".into(), text: "Mastercard".into() },
            Entity { kind: "PER".into(), text: "John Smith".into() },
        ];
        assert_eq!(lines, Answer::Entities(expected));
        assert!(!spec.is_correct(&lines, &gold));
        let pairs = spec.parse(r#"[["ORG", "Visa"], ["LOC", "Paris"]]"#, &ctx()).unwrap();
        assert!(spec.is_correct(&pairs, &gold));
        assert_eq!(spec.parse("None.", &ctx()).unwrap(), Answer::Entities(Vec::new()));
        assert!(spec.parse("I see a company here.", &ctx()).is_err());
    }

    #[test]
    fn json_with_schema_and_pointer() {
        let schema = json!({"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]});
        let spec = ParserSpec::Json { schema: Some(schema), answer: Some("/n".into()) };
        assert!(spec.check().is_ok());
        let error = spec.parse(r#"Here you go: {"n": "x"}"#, &ctx()).unwrap_err();
        assert!(error.0.contains("schema"), "{error}");
        assert_eq!(spec.parse("```json\n{\"n\": 5}\n```", &ctx()).unwrap(), Answer::Json(json!(5)));
        assert!(spec.parse("no json at all", &ctx()).is_err());
        assert!(spec.is_correct(&Answer::Json(json!(5)), &spec.gold(&json!({"n": 5.0}), &ctx()).unwrap()));
        let plain = ParserSpec::Json { schema: None, answer: None };
        assert_eq!(plain.parse("[1] then {\"a\": [1, 2]}", &ctx()).unwrap(), Answer::Json(json!([1])));
        assert_eq!(plain.parse("\"text\"", &ctx()).unwrap(), Answer::Json(json!("text")));
    }

    #[test]
    fn checks_reject_bad_specs() {
        let empty = ParserSpec::Label { labels: Vec::new(), aliases: BTreeMap::new(), constrain: false };
        assert!(empty.check().is_err());
        let blank =
            ParserSpec::Label { labels: vec![" ".into()], aliases: BTreeMap::new(), constrain: false };
        assert!(blank.check().is_err());
        let stray = ParserSpec::Label {
            labels: vec!["yes".into()],
            aliases: BTreeMap::from([("y".to_string(), "maybe".to_string())]),
            constrain: false,
        };
        assert!(stray.check().is_err());
        assert!(ParserSpec::Number { tolerance: -0.1 }.check().is_err());
        assert!(ParserSpec::Auto { tolerance: f64::NAN }.check().is_err());
        assert!(ParserSpec::Json { schema: None, answer: Some("n".into()) }.check().is_err());
        assert!(ParserSpec::Json { schema: Some(json!({"type": 5})), answer: None }.check().is_err());
        assert!(ParserSpec::Entities { types: Vec::new() }.check().is_err());
        assert!(ParserSpec::Text.check().is_ok());
    }

    #[test]
    fn specs_deserialize_with_defaults() {
        let spec: ParserSpec = serde_json::from_value(json!({"kind": "number"})).unwrap();
        assert_eq!(spec, ParserSpec::Number { tolerance: 1e-2 });
        let spec: ParserSpec =
            serde_json::from_value(json!({"kind": "label", "labels": ["yes", "no"], "constrain": true}))
                .unwrap();
        assert!(spec.label_schema().is_some());
        assert!(serde_json::from_value::<ParserSpec>(json!({"kind": "number", "tol": 0.1})).is_err());
        let spec: ParserSpec = serde_json::from_value(json!({"kind": "text"})).unwrap();
        assert_eq!(spec, ParserSpec::Text);
    }

    #[test]
    fn text_and_display() {
        let spec = ParserSpec::Text;
        let predicted = spec.parse("  Revenue grew.\n", &ctx()).unwrap();
        assert_eq!(predicted, Answer::Text("Revenue grew.".into()));
        assert!(spec.is_correct(&predicted, &spec.gold(&json!(["revenue", "grew"]), &ctx()).unwrap()));
        assert!(spec.parse(" \n", &ctx()).is_err());
        assert_eq!(Answer::Number { value: 127.39999999999999, percent: false }.display(), "127.4");
        assert_eq!(Answer::Number { value: 12.5, percent: true }.display(), "12.5%");
        assert_eq!(label("positive").display(), "positive");
        assert_eq!(Answer::Entities(Vec::new()).display(), "(none)");
        let json = serde_json::to_value(Answer::Number { value: 1.5, percent: false }).unwrap();
        assert_eq!(json, json!({"type": "number", "value": {"value": 1.5, "percent": false}}));
    }
}
