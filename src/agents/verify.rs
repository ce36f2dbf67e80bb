//! Numeric grounding: every number an analyst agent states must come from a tool result of
//! the same run.
//!
//! [`extract_numbers`] finds the numbers of a text, [`Evidence`] collects the numbers of a
//! run's tool outputs, [`supports`] matches one mention against the evidence within rounding
//! and [`verify`] applies a [`Policy`] to the unsupported mentions of an answer.
//!
//! # What counts as a number
//!
//! English number formatting only: thousands separators (`1,234,567.89`), decimals (`.5`
//! too), a leading currency (`$`, `€`, `£`, `¥`, and up to three capitals before `$`: `US$`,
//! `HK$`), a sign (`-`, `+`, `−` U+2212, `–` U+2013) directly before the digits or the
//! currency, accounting negatives `(1,234)` / `$(1,234)`, and one unit after the digits:
//! `%`, ` percent`, ` per cent`, ` pct`, `pp` / ` percentage points` (percent points),
//! `bps` / `bp` / ` basis points`, `k`/`K`/` thousand`, `m`/`M`/`mm`/`MM`/`mn`/`mln`/` million`,
//! `b`/`B`/`bn`/`bln`/` billion`, `t`/`T`/`tn`/` trillion`, and `x`/`×` multiples (`12.3x` is
//! the plain number 12.3). A [`Mention`] covers all of these (its `raw` is the exact slice).
//! `value` is signed and fully scaled: `$1.2 billion` → 1.2e9, `(1,234)` → −1234, `−5%` → −5
//! with `percent`.
//!
//! **Basis points** are recorded as percent points: `150 bps` → `value` 1.5, `percent` true,
//! `scale` 0.01 (so `value` = written number × `scale` for every mention), `decimals` as
//! written (tolerance half a basis point).
//!
//! **Ranges**: a dash between two numbers (`10-15`, `2023–2024`, `$5bn–$7bn`) is a range, not
//! a sign: both ends are positive. When only the right end of a range has a unit (`10–15%`,
//! `$10–15 billion`, `5 to 7%`), the left end takes it too.
//!
//! # What is not checked (skipped)
//!
//! - identifiers: digits glued to letters or `_`/`#`/`@` on the left (`Q3`, `FY2024`, `H2O`,
//!   `COVID-19`, `S-1`, `p.5`), to letters on the right that are not a unit (`1A`, `7A`, `2nd`,
//!   `1990s`), or to a hyphenated word (`10-K`, `10-Q`, `8-K`, and compounds such as `5-year`);
//!   version numbers (`1.2.3`), times and ratios (`10:30`, `3:1`), slash dates and fractions
//!   (`9/28/2024`, `1/3`). `500` in `S&P 500` is a standalone number and is checked;
//! - references: a number after `Item`, `Part`, `Note`, `Section`, `Exhibit`, `Page`, `Rule`,
//!   `Table`, `Level`, `Tier`, … (`Item 1B`, `Exhibit 99.1`, `Tier 1`) or `No.`/`Fig.`/`p.`;
//! - dates: ISO dates (`2024-09-28`, the whole date), days next to a month name
//!   (`September 28`, `28 Sep`);
//! - years: a bare 4-digit integer 1900–2100 (no separators, decimals, sign, currency or
//!   unit; `(2024)` counts as bare) is a period label, not a figure; so is a 2-digit year
//!   ending a year range (`2023-24`) or after an apostrophe (`'24`);
//! - enumerators: `1.` / `2)` (up to 3 digits) at the start of a line, after indentation or
//!   markdown markers (`#`, `>`, `*`, `-`, `+`, `•`), and small parenthesised integers `(1)`,
//!   `(12)` (footnote and list markers). A `- ` bullet is never a sign;
//! - numbers inside `[unverified: …]` and `[removed …]` markers, which this module writes, so
//!   that verifying a verified text changes nothing (under [`Policy::Mark`]; under
//!   [`Policy::Remove`] the unit a range end lent its left end is gone with it).
//!
//! Every other number is checked, counts included (`3 segments`).
//!
//! # Matching ([`supports`])
//!
//! - Absolute values are compared (a "decline of 5%" is supported by −0.05); [`Evidence`]
//!   keeps absolute values and [`supports`] returns the absolute evidence value.
//! - Tolerance: half a unit in the last written digit at the written scale, plus a relative
//!   epsilon of 1e-9: `$391.0 billion` tolerates ±0.05e9 (391,035,000,000 matches), `46%`
//!   ±0.5 percent points, `6.08` ±0.005 (6.0812 matches), `6.1` ±0.05 (6.0812 matches too),
//!   an integer such as `391` ±0.5.
//! - A percent mention `p%` matches evidence `p/100` (a fraction) or `p` (already in percent).
//! - A scaled mention (thousand … trillion, or basis points) matches evidence in units
//!   (`value`), or evidence equal to the written, unscaled number (a tool reporting in
//!   millions said 391.0, the answer says `$391.0 billion`). Evidence 391,035 (millions) does
//!   *not* support `$391.0 billion`: it is neither 391.0e9 nor 391.0 (the answer should say
//!   `$391,035 million`, which it supports).
//! - A plain number is matched as written, at the same tolerance; no ×100 conversion.
//! - Zero follows from the tolerance: `0`, `0.0` or `0%` are supported only by an evidence
//!   value that rounds to zero at the written precision.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Relative slack added to every tolerance (floating-point noise).
const REL_EPS: f64 = 1e-9;

/// What [`Policy::Mark`] writes before an unsupported mention (the mention and `]` follow).
const MARK_PREFIX: &str = "[unverified: ";

/// What [`Policy::Remove`] writes instead of an unsupported mention.
const REMOVED: &str = "[removed: unsupported number]";

/// Openings of the markers whose numbers are never checked again.
const MARKER_OPENINGS: [&str; 2] = ["[unverified:", "[removed"];

/// Text between two mentions that makes them a range (the left end takes the right's unit).
const RANGE_CONNECTORS: [&str; 8] = ["-", "–", "—", "‐", " to ", " - ", " – ", " — "];

/// Words after which a number is a reference (`Item 7`, `Note 5`), not a figure.
const REFERENCE_WORDS: &[&str] = &[
    "item", "items", "part", "note", "notes", "section", "sections", "exhibit", "page", "pages", "rule",
    "schedule", "article", "chapter", "table", "figure", "footnote", "appendix", "level", "tier", "step",
    "phase", "line", "chart", "form", "version",
];

/// Abbreviations, written with a period, after which a number is a reference (`No. 5`).
const DOTTED_REFERENCE_WORDS: &[&str] = &["no", "nos", "fig", "vol", "p", "pp", "sec", "art", "ch"];

/// Month names: a day next to one is part of a date.
const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

/// A number found in a text.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Mention {
    /// The exact text of the mention, sign, currency and unit included.
    pub raw: String,
    /// Byte offset of the mention's start in the text.
    pub start: usize,
    /// Byte offset just past the mention's end in the text.
    pub end: usize,
    /// Signed, fully scaled value: `$1.2 billion` → 1.2e9, `(1,234)` → −1234, `−5%` → −5
    /// (percent points, with `percent`), `150 bps` → 1.5 (percent points).
    pub value: f64,
    /// Whether the value is in percent points (`%`, `percent`, `pp`, basis points).
    pub percent: bool,
    /// Digits after the decimal point, as written.
    pub decimals: u32,
    /// The written number times `scale` is `|value|`: 1, 1e3, 1e6, 1e9, 1e12, or 0.01 for
    /// basis points.
    pub scale: f64,
}

/// The units a number can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    /// A power of ten (3 thousand, 6 million, 9 billion, 12 trillion).
    Scale(i32),
    /// Percent or percent points.
    Percent,
    /// Basis points (hundredths of a percent point).
    Bps,
    /// A multiple (`12.3x`): the plain number.
    Multiple,
}

impl Unit {
    fn exp(self) -> i32 {
        match self {
            Unit::Scale(e) => e,
            Unit::Bps => -2,
            Unit::Percent | Unit::Multiple => 0,
        }
    }

    fn percent(self) -> bool {
        matches!(self, Unit::Percent | Unit::Bps)
    }
}

fn scale_of(exp: i32) -> f64 {
    match exp {
        -2 => 0.01,
        3 => 1e3,
        6 => 1e6,
        9 => 1e9,
        12 => 1e12,
        _ => 1.0,
    }
}

/// `digits` × 10^`exp`, correctly rounded (parsed, not multiplied: `4.1bn` is exactly 4.1e9).
fn magnitude(digits: &str, exp: i32) -> Option<f64> {
    format!("{digits}e{exp}").parse().ok()
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '\u{202f}')
}

/// Units that may be written right after a number (`5m`, `4.1bn`, `12.3x`, `150bps`).
fn glued_unit(word: &str) -> Option<Unit> {
    match word {
        "k" | "K" => Some(Unit::Scale(3)),
        "m" | "M" | "mm" | "MM" | "mn" | "Mn" | "mln" => Some(Unit::Scale(6)),
        "b" | "B" | "bn" | "Bn" | "bln" => Some(Unit::Scale(9)),
        "t" | "T" | "tn" | "Tn" => Some(Unit::Scale(12)),
        "x" | "X" => Some(Unit::Multiple),
        "bps" | "bp" => Some(Unit::Bps),
        "pp" | "ppt" | "ppts" => Some(Unit::Percent),
        _ => word_unit(&word.to_ascii_lowercase()),
    }
}

/// Unit words, either glued or after a space (lower case).
fn word_unit(lower: &str) -> Option<Unit> {
    match lower {
        "thousand" => Some(Unit::Scale(3)),
        "million" => Some(Unit::Scale(6)),
        "billion" => Some(Unit::Scale(9)),
        "trillion" => Some(Unit::Scale(12)),
        "percent" | "pct" => Some(Unit::Percent),
        _ => None,
    }
}

/// A number found by the scanner, before markers and ranges are taken into account.
struct Candidate {
    mention: Mention,
    /// The unsigned written number without separators (`1234.5`).
    digits: String,
    negative: bool,
    unit: Option<Unit>,
    in_marker: bool,
}

impl Candidate {
    /// Gives a unitless range end the unit of the other end.
    fn set_unit(&mut self, unit: Unit) {
        let exp = unit.exp();
        if let Some(mag) = magnitude(&self.digits, exp) {
            self.mention.value = if self.negative && mag > 0.0 { -mag } else { mag };
            self.mention.scale = scale_of(exp);
            self.mention.percent = unit.percent();
            self.unit = Some(unit);
        }
    }
}

/// What the dash (or plus) right before a number means.
enum Lead {
    /// No dash.
    None,
    /// A sign, at char index `at`.
    Sign { at: usize, negative: bool },
    /// The dash of a range, at char index `at`: the number is positive.
    Range { at: usize },
    /// A hyphen inside an identifier (`COVID-19`).
    Ident,
}

/// One step of the scanner.
enum Step {
    /// A number, and the char index to go on from.
    Emit(Candidate, usize),
    /// Not a number to check; go on from this char index.
    Skip(usize),
}

/// A hand-written scanner over the chars of a text (char indices; byte offsets via `off`).
struct Scanner<'a> {
    text: &'a str,
    chars: Vec<char>,
    offs: Vec<usize>,
    /// Byte offset of the end of the last number found.
    last_end: Option<usize>,
    /// Byte offset of the end of the last year skipped.
    last_year_end: Option<usize>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        let (offs, chars) = text.char_indices().unzip();
        Self { text, chars, offs, last_end: None, last_year_end: None }
    }

    fn ch(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn before(&self, i: usize) -> Option<char> {
        i.checked_sub(1).and_then(|j| self.ch(j))
    }

    fn off(&self, i: usize) -> usize {
        self.offs.get(i).copied().unwrap_or(self.text.len())
    }

    fn is_digit(&self, i: usize) -> bool {
        self.ch(i).is_some_and(|c| c.is_ascii_digit())
    }

    /// The first index from `i` on where `keep` fails (or the end of the text).
    fn run_end(&self, i: usize, keep: fn(char) -> bool) -> usize {
        (i..self.chars.len()).find(|&j| !self.ch(j).is_some_and(keep)).unwrap_or(self.chars.len().max(i))
    }

    fn digits_end(&self, i: usize) -> usize {
        self.run_end(i, |c| c.is_ascii_digit())
    }

    fn ascii_letters_end(&self, i: usize) -> usize {
        self.run_end(i, |c| c.is_ascii_alphabetic())
    }

    fn run(mut self) -> Vec<Candidate> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.chars.len() {
            if !self.starts_number(i) {
                i += 1;
                continue;
            }
            i = match self.parse(i) {
                Step::Emit(candidate, next) => {
                    self.last_end = Some(candidate.mention.end);
                    out.push(candidate);
                    next.max(i + 1)
                }
                Step::Skip(next) => next.max(i + 1),
            };
        }
        out
    }

    /// A digit that does not continue a digit run, or a `.` opening a number like `.5`.
    fn starts_number(&self, i: usize) -> bool {
        match self.ch(i) {
            Some(c) if c.is_ascii_digit() => !self.before(i).is_some_and(|b| b.is_ascii_digit()),
            Some('.') => {
                self.is_digit(i + 1) && !self.before(i).is_some_and(|b| b.is_alphanumeric() || b == '.')
            }
            _ => false,
        }
    }

    /// Parses the number whose digits (or leading `.`) start at char index `d`.
    fn parse(&mut self, d: usize) -> Step {
        // The numeric core: integer part with thousands separators, then decimals.
        let int_end = self.digits_end(d);
        let mut digits: String = self.chars[d..int_end].iter().collect();
        let mut j = int_end;
        let mut commas = false;
        if (1..=3).contains(&(int_end - d)) {
            while self.ch(j) == Some(',') && (j + 1..j + 4).all(|k| self.is_digit(k)) && !self.is_digit(j + 4)
            {
                digits.extend(&self.chars[j + 1..j + 4]);
                commas = true;
                j += 4;
            }
        }
        let int_len = digits.len();
        let mut decimals = 0;
        if self.ch(j) == Some('.') && self.is_digit(j + 1) {
            let end = self.digits_end(j + 1);
            if digits.is_empty() {
                digits.push('0');
            }
            digits.push('.');
            digits.extend(&self.chars[j + 1..end]);
            decimals = end - j - 1;
            j = end;
        }
        let core_end = j;
        let (after, after2) = (self.ch(core_end), self.ch(core_end + 1));

        // Shapes that are not figures: ISO dates, versions, times, slash dates, `10-K`.
        if int_len == 4
            && !commas
            && decimals == 0
            && let Some(end) = self.iso_date_end(core_end)
        {
            return Step::Skip(end);
        }
        let joined = (matches!(after, Some('.' | ':' | '/')) && after2.is_some_and(|c| c.is_ascii_digit()))
            || (matches!(after, Some('-' | '\u{2010}' | '\u{2011}'))
                && after2.is_some_and(char::is_alphabetic));
        if joined {
            return Step::Skip(self.token_end(d));
        }

        // Left side: currency, sign or range dash, accounting parenthesis, outer currency.
        let mut p = d;
        let currency = match self.currency_start(p) {
            Some(q) => {
                p = q;
                true
            }
            None => false,
        };
        let mut negative = false;
        let mut signed = false;
        let mut range_at = None;
        match self.lead(p, currency) {
            Lead::None => {}
            Lead::Sign { at, negative: neg } => {
                p = at;
                negative = neg;
                signed = true;
            }
            Lead::Range { at } => range_at = Some(at),
            Lead::Ident => return Step::Skip(self.token_end(d)),
        }
        let paren_at = if self.before(p) == Some('(') { p.checked_sub(1) } else { None };
        let outer = match paren_at {
            Some(at) if !currency => self.currency_start(at),
            _ => None,
        };
        let outer_start = outer.or(paren_at).unwrap_or(p);
        if self.glued_left(outer_start) {
            return Step::Skip(self.token_end(d));
        }

        // Right side: one unit.
        let mut k = core_end;
        let mut unit = None;
        match after {
            Some('%') => {
                unit = Some(Unit::Percent);
                k += 1;
            }
            Some('×') => {
                unit = Some(Unit::Multiple);
                k += 1;
            }
            Some(c) if is_space(c) && after2 == Some('%') => {
                unit = Some(Unit::Percent);
                k += 2;
            }
            Some(c) if is_space(c) => {
                if let Some((u, e)) = self.spaced_unit(core_end + 1) {
                    unit = Some(u);
                    k = e;
                }
            }
            Some(c) if c.is_alphabetic() => {
                match self.word_at(core_end).and_then(|(w, e)| glued_unit(&w).map(|u| (u, e))) {
                    Some((u, e)) => {
                        unit = Some(u);
                        k = e;
                    }
                    None => return Step::Skip(self.token_end(d)),
                }
            }
            _ => {}
        }
        let accounting = paren_at.is_some() && self.ch(k) == Some(')');
        let (start, end) = if accounting { (outer_start, k + 1) } else { (p, k) };
        negative |= accounting;

        // Bare integers that are labels: years, footnotes, enumerators, days.
        let bare = !commas && decimals == 0 && unit.is_none() && !currency && !signed;
        if bare && let Ok(n) = digits.parse::<u64>() {
            let skip_to = if accounting { end } else { core_end };
            if int_len == 4 && (1900..=2100).contains(&n) {
                self.last_year_end = Some(self.off(core_end));
                return Step::Skip(skip_to);
            }
            let short_year = int_len == 2
                && (range_at.is_some_and(|at| self.last_year_end == Some(self.off(at)))
                    || self.before(start).is_some_and(|c| matches!(c, '\'' | '’')));
            let footnote = accounting && int_len <= 2;
            let enumerator = !accounting
                && paren_at.is_none()
                && int_len <= 3
                && matches!(after, Some('.' | ')'))
                && after2.is_none_or(char::is_whitespace)
                && self.at_line_start(start);
            let day = int_len <= 2
                && (1..=31).contains(&n)
                && (self.word_before(start).is_some_and(|(w, _)| MONTHS.contains(&w.as_str()))
                    || self.word_after(core_end).is_some_and(|w| MONTHS.contains(&w.as_str())));
            if short_year || footnote || enumerator || day {
                return Step::Skip(skip_to);
            }
        }
        let percent = unit.is_some_and(Unit::percent);
        if !currency && !signed && !accounting && !percent && self.reference_before(start) {
            return Step::Skip(self.token_end(d));
        }

        let exp = unit.map_or(0, Unit::exp);
        let Some(mag) = magnitude(&digits, exp) else {
            return Step::Skip(end);
        };
        let (start_byte, end_byte) = (self.off(start), self.off(end));
        let mention = Mention {
            raw: self.text.get(start_byte..end_byte).unwrap_or_default().to_string(),
            start: start_byte,
            end: end_byte,
            value: if negative && mag > 0.0 { -mag } else { mag },
            percent,
            decimals: u32::try_from(decimals).unwrap_or(u32::MAX),
            scale: scale_of(exp),
        };
        Step::Emit(Candidate { mention, digits, negative, unit, in_marker: false }, end)
    }

    /// The end of an ISO (or slash) date `yyyy-m-d` whose separator is at `i`.
    fn iso_date_end(&self, i: usize) -> Option<usize> {
        let sep = self.ch(i).filter(|c| matches!(c, '-' | '/'))?;
        let month_end = self.digits_end(i + 1);
        if !(1..=2).contains(&(month_end - i - 1)) || self.ch(month_end) != Some(sep) {
            return None;
        }
        let day_end = self.digits_end(month_end + 1);
        (1..=2).contains(&(day_end - month_end - 1)).then_some(day_end)
    }

    /// The end of the identifier-like token that starts at `i` (`10-K`, `1.2.3`, `2024-25`).
    fn token_end(&self, i: usize) -> usize {
        let mut j = i;
        while let Some(c) = self.ch(j) {
            let joins = match c {
                '.' | '-' | '/' | ':' | '\u{2010}' | '\u{2011}' => {
                    self.ch(j + 1).is_some_and(char::is_alphanumeric)
                }
                ',' => self.is_digit(j + 1) && self.before(j).is_some_and(|b| b.is_ascii_digit()),
                _ => c.is_alphanumeric() || c == '_',
            };
            if !joins {
                break;
            }
            j += 1;
        }
        j.max(i + 1)
    }

    /// Where a currency prefix ending right before `p` starts (`$`, `€`, `£`, `¥`, `US$`).
    fn currency_start(&self, p: usize) -> Option<usize> {
        let q = p.checked_sub(1)?;
        match self.ch(q)? {
            '€' | '£' | '¥' => Some(q),
            '$' => {
                let mut k = q;
                while k > 0 && q - k < 3 && self.before(k).is_some_and(|c| c.is_ascii_uppercase()) {
                    k -= 1;
                }
                let bounded = k == q || !self.before(k).is_some_and(char::is_alphanumeric);
                Some(if bounded { k } else { q })
            }
            _ => None,
        }
    }

    /// What a dash or plus right before char index `p` means.
    fn lead(&self, p: usize, currency: bool) -> Lead {
        let Some(s) = p.checked_sub(1) else {
            return Lead::None;
        };
        let c = match self.ch(s) {
            Some(c @ ('-' | '+' | '−' | '–' | '\u{2010}' | '\u{2011}')) => c,
            _ => return Lead::None,
        };
        let prev = self.before(s);
        if self.last_end == Some(self.off(s)) || prev.is_some_and(|q| q.is_ascii_digit() || q == '%') {
            return Lead::Range { at: s };
        }
        if prev.is_some_and(char::is_alphabetic) {
            // `COVID-19` is an identifier; `revenue–$5bn` or `x−5` is not a sign either.
            return if currency || matches!(c, '−' | '–' | '+') { Lead::None } else { Lead::Ident };
        }
        Lead::Sign { at: s, negative: c != '+' }
    }

    /// Whether the char before `start` glues the number to an identifier.
    fn glued_left(&self, start: usize) -> bool {
        let Some(l) = self.before(start) else {
            return false;
        };
        let ll = start.checked_sub(2).and_then(|k| self.ch(k));
        l.is_alphanumeric()
            || matches!(l, '_' | '#' | '@')
            || (l == '.' && ll.is_some_and(char::is_alphanumeric))
            || (matches!(l, ':' | '/') && ll.is_some_and(|c| c.is_ascii_digit()))
    }

    /// The ASCII word starting at `i` and its end, if it is a whole word.
    fn word_at(&self, i: usize) -> Option<(String, usize)> {
        let e = self.ascii_letters_end(i);
        let whole = e > i && !self.ch(e).is_some_and(|c| c.is_alphanumeric() || c == '_');
        whole.then(|| (self.chars[i..e].iter().collect(), e))
    }

    /// A unit word after the space that ends at `i` (`million`, `bn`, `basis points`).
    fn spaced_unit(&self, i: usize) -> Option<(Unit, usize)> {
        let (word, e) = self.word_at(i)?;
        let unit = match word.as_str() {
            "mn" | "mln" | "MM" => Unit::Scale(6),
            "bn" | "bln" => Unit::Scale(9),
            "tn" => Unit::Scale(12),
            "bps" | "bp" => Unit::Bps,
            "pp" | "ppt" | "ppts" => Unit::Percent,
            _ => {
                let lower = word.to_ascii_lowercase();
                match lower.as_str() {
                    "per" => return self.next_word_in(e, &["cent"]).map(|e| (Unit::Percent, e)),
                    "basis" => return self.next_word_in(e, &["point", "points"]).map(|e| (Unit::Bps, e)),
                    "percentage" => {
                        return self.next_word_in(e, &["point", "points"]).map(|e| (Unit::Percent, e));
                    }
                    other => word_unit(other)?,
                }
            }
        };
        Some((unit, e))
    }

    /// The end of the word after the space at `e`, if it is one of `words` (lower case).
    fn next_word_in(&self, e: usize, words: &[&str]) -> Option<usize> {
        if !self.ch(e).is_some_and(is_space) {
            return None;
        }
        let (word, end) = self.word_at(e + 1)?;
        words.contains(&word.to_ascii_lowercase().as_str()).then_some(end)
    }

    /// The word right before `start` (one space between), lower case, and whether a period
    /// ends it (`No. 5`).
    fn word_before(&self, start: usize) -> Option<(String, bool)> {
        if !self.before(start).is_some_and(is_space) {
            return None;
        }
        let mut k = start - 1;
        let dotted = self.before(k) == Some('.');
        if dotted {
            k -= 1;
        }
        let e = k;
        while self.before(k).is_some_and(|c| c.is_ascii_alphabetic()) {
            k -= 1;
        }
        if k == e || self.before(k).is_some_and(char::is_alphanumeric) {
            return None;
        }
        Some((self.chars[k..e].iter().collect::<String>().to_ascii_lowercase(), dotted))
    }

    /// The word right after `end` (one space between), lower case.
    fn word_after(&self, end: usize) -> Option<String> {
        if !self.ch(end).is_some_and(is_space) {
            return None;
        }
        self.word_at(end + 1).map(|(w, _)| w.to_ascii_lowercase())
    }

    fn reference_before(&self, start: usize) -> bool {
        self.word_before(start).is_some_and(|(w, dotted)| {
            if dotted {
                DOTTED_REFERENCE_WORDS.contains(&w.as_str())
            } else {
                REFERENCE_WORDS.contains(&w.as_str())
            }
        })
    }

    /// Whether only indentation or markdown markers precede `start` on its line.
    fn at_line_start(&self, start: usize) -> bool {
        let mut k = start;
        while let Some(c) = self.before(k) {
            if c == '\n' {
                return true;
            }
            if !matches!(c, ' ' | '\t' | '\r' | '\u{a0}' | '#' | '>' | '*' | '-' | '+' | '•') {
                return false;
            }
            k -= 1;
        }
        true
    }
}

/// Byte ranges of the `[unverified: …]` / `[removed …]` markers of a text.
fn marker_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    MARKER_OPENINGS
        .into_iter()
        .flat_map(|opening| text.match_indices(opening))
        .map(|(start, _)| {
            let end = text.get(start..).and_then(|rest| rest.find(']')).map_or(text.len(), |e| start + e + 1);
            start..end
        })
        .collect()
}

/// All numbers of a text, those inside markers flagged, range units shared.
fn candidates(text: &str) -> Vec<Candidate> {
    let markers = marker_ranges(text);
    let mut found = Scanner::new(text).run();
    for c in &mut found {
        c.in_marker = markers.iter().any(|r| r.contains(&c.mention.start));
    }
    for i in 1..found.len() {
        let (left, right) = found.split_at_mut(i);
        let (Some(a), Some(b)) = (left.last_mut(), right.first()) else {
            continue;
        };
        let Some(unit) = b.unit else {
            continue;
        };
        if a.unit.is_some() {
            continue;
        }
        let between = text.get(a.mention.end..b.mention.start).unwrap_or_default();
        let between = between.strip_suffix(MARK_PREFIX).unwrap_or(between);
        if RANGE_CONNECTORS.contains(&between) {
            a.set_unit(unit);
        }
    }
    found
}

/// The numbers of `text` that are checked, in order (see the module documentation for what
/// is skipped).
pub fn extract_numbers(text: &str) -> Vec<Mention> {
    candidates(text).into_iter().filter(|c| !c.in_marker).map(|c| c.mention).collect()
}

/// The numbers of a run's tool outputs: absolute values, sorted, without duplicates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    values: Vec<f64>,
}

impl Evidence {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every number of a JSON value: numbers, and the numbers of every string (through
    /// [`extract_numbers`], so `"FY2024 revenue $391.0 billion"` adds 391.0e9 but not 2024).
    /// Object keys are not read.
    pub fn add_json(&mut self, v: &Value) {
        let mut found = Vec::new();
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::Number(n) => found.extend(n.as_f64()),
                Value::String(s) => found.extend(extract_numbers(s).iter().map(|m| m.value)),
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => stack.extend(map.values()),
                Value::Null | Value::Bool(_) => {}
            }
        }
        self.insert_all(found);
    }

    /// Adds one number (ignored unless finite).
    pub fn add_value(&mut self, x: f64) {
        self.insert_all([x]);
    }

    /// Adds the numbers of a text (through [`extract_numbers`]).
    pub fn add_text(&mut self, s: &str) {
        self.insert_all(extract_numbers(s).into_iter().map(|m| m.value));
    }

    /// Adds every value of `other`.
    pub fn extend(&mut self, other: &Evidence) {
        self.insert_all(other.values.iter().copied());
    }

    /// The distinct absolute values held, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn insert_all(&mut self, xs: impl IntoIterator<Item = f64>) {
        let before = self.values.len();
        self.values.extend(xs.into_iter().filter(|x| x.is_finite()).map(f64::abs));
        if self.values.len() != before {
            self.values.sort_by(f64::total_cmp);
            self.values.dedup();
        }
    }

    /// The value nearest to `target` within `tol`.
    fn nearest_within(&self, target: f64, tol: f64) -> Option<f64> {
        let (lo, hi) = (target - tol, target + tol);
        let from = self.values.partition_point(|&x| x < lo);
        self.values[from..]
            .iter()
            .take_while(|&&x| x <= hi)
            .min_by(|a, b| (*a - target).abs().total_cmp(&(*b - target).abs()))
            .copied()
    }
}

/// The (absolute) evidence value that supports a mention, if any: see the module
/// documentation for the rules.
pub fn supports(evidence: &Evidence, m: &Mention) -> Option<f64> {
    if !m.value.is_finite() {
        return None;
    }
    let scale = if m.scale.is_finite() && m.scale > 0.0 { m.scale } else { 1.0 };
    let half = 0.5 * 10f64.powi(-i32::try_from(m.decimals).unwrap_or(i32::MAX));
    let v = m.value.abs();
    let tol = half * scale;
    let mut targets = vec![(v, tol)];
    if m.percent {
        targets.push((v / 100.0, tol / 100.0));
    }
    if (scale - 1.0).abs() > f64::EPSILON {
        targets.push((v / scale, half));
    }
    targets.into_iter().find_map(|(t, tol)| evidence.nearest_within(t, tol + REL_EPS * t))
}

/// What [`verify`] does with an unsupported number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Wrap it as `[unverified: <raw>]`.
    #[default]
    Mark,
    /// Replace it with `[removed: unsupported number]`.
    Remove,
    /// Leave the text unchanged (only count).
    Keep,
}

/// An unsupported number of the verified text (offsets into the original text).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Unsupported {
    pub raw: String,
    pub value: f64,
    pub start: usize,
    pub end: usize,
}

/// The outcome of [`verify`].
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Verification {
    /// The text after the policy.
    pub text: String,
    /// Numbers checked.
    pub checked: usize,
    /// Numbers supported by the evidence.
    pub supported: usize,
    /// Numbers not supported, in order.
    pub unsupported: Vec<Unsupported>,
}

/// Checks every number of `text` against `evidence` and applies `policy` to the unsupported
/// ones; the rest of the text is kept byte for byte.
pub fn verify(text: &str, evidence: &Evidence, policy: Policy) -> Verification {
    let mentions = extract_numbers(text);
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    let mut supported = 0;
    let mut unsupported = Vec::new();
    for m in &mentions {
        if supports(evidence, m).is_some() {
            supported += 1;
            continue;
        }
        unsupported.push(Unsupported { raw: m.raw.clone(), value: m.value, start: m.start, end: m.end });
        let replacement = match policy {
            Policy::Keep => continue,
            Policy::Mark => format!("{MARK_PREFIX}{}]", m.raw),
            Policy::Remove => REMOVED.to_string(),
        };
        if let Some(kept) = text.get(cursor..m.start) {
            out.push_str(kept);
            out.push_str(&replacement);
            cursor = m.end;
        }
    }
    out.push_str(text.get(cursor..).unwrap_or_default());
    Verification { text: out, checked: mentions.len(), supported, unsupported }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    /// The only mention of `text`.
    fn one(text: &str) -> Mention {
        let found = extract_numbers(text);
        assert_eq!(found.len(), 1, "{text:?} gave {found:?}");
        let m = found.into_iter().next().unwrap();
        assert_eq!(&text[m.start..m.end], m.raw, "offsets of {text:?}");
        m
    }

    fn values(text: &str) -> Vec<f64> {
        extract_numbers(text).iter().map(|m| m.value).collect()
    }

    fn ev(xs: &[f64]) -> Evidence {
        let mut e = Evidence::new();
        xs.iter().for_each(|&x| e.add_value(x));
        e
    }

    fn ok(e: &Evidence, text: &str) -> bool {
        supports(e, &one(text)).is_some()
    }

    #[test]
    fn extracts_amounts_with_currency_and_scale() {
        let m = one("Revenue was $391.0 billion in fiscal 2024.");
        assert_eq!(m.raw, "$391.0 billion");
        assert_eq!(m.start, 12);
        assert!(close(m.value, 391.0e9));
        assert_eq!((m.decimals, m.scale, m.percent), (1, 1e9, false));

        let m = one("It repurchased 2.5 million shares");
        assert_eq!(m.raw, "2.5 million");
        assert!(close(m.value, 2.5e6));

        let m = one("Europe — €4.1bn — grew");
        assert_eq!(m.raw, "€4.1bn");
        assert_eq!(m.value, 4.1e9);

        let m = one("Total 1,234,567.89 units");
        assert_eq!(m.raw, "1,234,567.89");
        assert!(close(m.value, 1_234_567.89));
        assert_eq!(m.decimals, 2);

        let m = one("raised US$5m");
        assert_eq!((m.raw.as_str(), m.value), ("US$5m", 5e6));
        let m = one("a $1.2T market");
        assert!(close(m.value, 1.2e12));
    }

    #[test]
    fn extracts_negatives() {
        let m = one("Net loss of (1,234) for the quarter");
        assert_eq!((m.raw.as_str(), m.value), ("(1,234)", -1234.0));
        let m = one("Margin moved −5.2% year over year");
        assert_eq!(m.raw, "−5.2%");
        assert!(m.percent);
        assert!(close(m.value, -5.2));
        let m = one("cash of $(1,234)");
        assert_eq!((m.raw.as_str(), m.value), ("$(1,234)", -1234.0));
        let m = one("a charge of -$2.5M");
        assert_eq!(m.raw, "-$2.5M");
        assert!(close(m.value, -2.5e6));
        assert_eq!(values("down -5 and –5, up +3"), vec![-5.0, -5.0, 3.0]);
    }

    #[test]
    fn extracts_multiples_and_basis_points() {
        let m = one("The stock trades at 12.3x earnings");
        assert_eq!(m.raw, "12.3x");
        assert_eq!((m.value, m.percent, m.scale), (12.3, false, 1.0));

        let m = one("Spreads widened 150 bps");
        assert_eq!(m.raw, "150 bps");
        assert!(m.percent);
        assert_eq!((m.value, m.scale, m.decimals), (1.5, 0.01, 0));
        let m = one("cut by 25 basis points");
        assert_eq!((m.raw.as_str(), m.value), ("25 basis points", 0.25));
    }

    #[test]
    fn skips_identifiers_dates_years_and_enumerators() {
        for text in [
            "Form 10-K",
            "the 10-Q filing",
            "see Item 1A",
            "Item 7A risk",
            "Item 1B",
            "FY2024 results",
            "Q3 revenue",
            "H2O",
            "on 2024-09-28",
            "in 2024",
            "1. Revenue grew",
            "COVID-19",
            "as of September 28, 2024",
            "Note 5",
            "Exhibit 99.1",
            "(1) see below",
            "Apple (2024)",
            "in 2023-24",
            "FY2023-24",
            "version 1.2.3 at 10:30",
        ] {
            assert!(extract_numbers(text).is_empty(), "{text:?}");
        }
        // A standalone number next to an identifier is still a number.
        let m = one("S&P 500 members");
        assert_eq!(m.value, 500.0);
        assert_eq!(values("the 10-K shows $5bn"), vec![5e9]);
    }

    #[test]
    fn ranges_are_two_positive_numbers_sharing_a_unit() {
        assert_eq!(values("a 10-15 increase"), vec![10.0, 15.0]);
        assert!(extract_numbers("from 2023–2024").is_empty());
        let found = extract_numbers("grew 10-15%");
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|m| m.percent));
        assert_eq!(found[0].raw, "10");
        assert_eq!(values("$10–15 billion"), vec![10e9, 15e9]);
        assert_eq!(values("$5bn–$7bn"), vec![5e9, 7e9]);
    }

    #[test]
    fn enumerators_and_bullets_are_not_numbers_or_signs() {
        let text = "1. Revenue grew 5%\n2) Margin was 46%\n- 3% decline\n  3. Costs";
        let found: Vec<(f64, bool)> = extract_numbers(text).iter().map(|m| (m.value, m.percent)).collect();
        assert_eq!(found, vec![(5.0, true), (46.0, true), (3.0, true)]);
    }

    #[test]
    fn skips_marker_contents_and_keeps_utf8_offsets() {
        let m = one("Revenue [unverified: $5 billion] and [removed: unsupported number] plus 7%");
        assert_eq!(m.raw, "7%");
        let text = "Sales — €4.1bn — up";
        let m = one(text);
        assert_eq!((m.start, m.end), (10, 18));
    }

    #[test]
    fn matches_scaled_amounts_within_rounding() {
        let e = ev(&[391_035_000_000.0]);
        assert_eq!(supports(&e, &one("$391.0 billion")), Some(391_035_000_000.0));
        assert!(ok(&e, "$391 billion"));
        assert!(ok(&e, "$391,035 million"));
        assert!(!ok(&e, "$392.0 billion"));
        assert!(!ok(&e, "$391.1 billion"));
        assert!(!ok(&e, "$39.1 billion"));

        // Tools in millions: 391,035 is neither 391.0e9 nor 391.0.
        let millions = ev(&[391_035.0]);
        assert!(!ok(&millions, "$391.0 billion"));
        assert!(ok(&millions, "$391,035 million"));
        // The written number itself, when the tool already reported in billions.
        assert_eq!(supports(&ev(&[391.0]), &one("$391.0 billion")), Some(391.0));
    }

    #[test]
    fn matches_percentages_fractions_and_points() {
        let e = ev(&[0.4621]);
        assert!(ok(&e, "46.2%"));
        assert!(ok(&e, "46%"));
        assert!(!ok(&e, "47.5%"));
        assert!(!ok(&e, "46.3%"));
        assert!(ok(&e, "0.46"));
        assert!(!ok(&e, "0.47"));
        assert!(ok(&ev(&[46.21]), "46.2%"));
        assert_eq!(supports(&ev(&[-0.032]), &one("revenue fell 3.2%")), Some(0.032));

        assert!(ok(&ev(&[0.015]), "150 bps"));
        assert!(ok(&ev(&[150.0]), "150 bps"));
        assert!(!ok(&ev(&[0.016]), "150 bps"));
    }

    #[test]
    fn matches_plain_numbers_at_written_precision() {
        let e = ev(&[6.0812]);
        assert!(ok(&e, "6.08"));
        assert!(ok(&e, "6.1")); // ±0.05
        assert!(ok(&e, "6")); // ±0.5
        assert!(!ok(&e, "6.09"));
        assert!(!ok(&e, "6.2"));
        assert!(ok(&ev(&[12.27]), "12.3x"));
        assert!(!ok(&ev(&[12.4]), "12.3x"));
    }

    #[test]
    fn zero_needs_evidence_that_rounds_to_zero() {
        assert!(!ok(&ev(&[3.0]), "0"));
        assert!(ok(&ev(&[0.0]), "0"));
        assert!(ok(&ev(&[0.04]), "0.0"));
        assert!(!ok(&ev(&[0.06]), "0.0"));
        assert!(!ok(&ev(&[0.6, 12.0]), "0%"));
        assert!(ok(&ev(&[0.004]), "0%"));
    }

    const ANSWER: &str = "Revenue was $391.0 billion, up 5% from $372 billion.";

    fn answer_evidence() -> Evidence {
        ev(&[391_035_000_000.0, 0.02])
    }

    #[test]
    fn verify_marks_removes_or_keeps() {
        let e = answer_evidence();
        let v = verify(ANSWER, &e, Policy::Mark);
        assert_eq!(
            v.text,
            "Revenue was $391.0 billion, up [unverified: 5%] from [unverified: $372 billion]."
        );
        assert_eq!((v.checked, v.supported), (3, 1));
        let raws: Vec<&str> = v.unsupported.iter().map(|u| u.raw.as_str()).collect();
        assert_eq!(raws, ["5%", "$372 billion"]);
        assert_eq!(&ANSWER[v.unsupported[1].start..v.unsupported[1].end], "$372 billion");

        let v = verify(ANSWER, &e, Policy::Remove);
        assert_eq!(
            v.text,
            "Revenue was $391.0 billion, up [removed: unsupported number] from [removed: unsupported number]."
        );
        let v = verify(ANSWER, &e, Policy::Keep);
        assert_eq!(v.text, ANSWER);
        assert_eq!(v.unsupported.len(), 2);
    }

    #[test]
    fn verify_without_numbers_checks_nothing() {
        for text in ["Revenue grew strongly.", "See the FY2024 10-K, Item 7.", ""] {
            let v = verify(text, &Evidence::new(), Policy::Mark);
            assert_eq!((v.text.as_str(), v.checked, v.unsupported.len()), (text, 0, 0));
        }
    }

    #[test]
    fn verify_is_idempotent() {
        let e = answer_evidence();
        for policy in [Policy::Mark, Policy::Remove] {
            let first = verify(ANSWER, &e, policy);
            let second = verify(&first.text, &e, policy);
            assert_eq!(second.text, first.text);
            assert_eq!((second.checked, second.supported, second.unsupported.len()), (1, 1, 0));
        }
        // The right end of a range is marked; the left end still takes its unit.
        let e = ev(&[10e6]);
        let first = verify("Guidance: 10–15 million units.", &e, Policy::Mark);
        assert_eq!(first.text, "Guidance: 10–[unverified: 15 million] units.");
        let second = verify(&first.text, &e, Policy::Mark);
        assert_eq!(second.text, first.text);
        assert_eq!((second.checked, second.supported), (1, 1));
    }

    #[test]
    fn verify_preserves_utf8_around_numbers() {
        let v = verify("Sales — €4.1bn — rose 7% … ünïcode", &ev(&[4.1e9]), Policy::Mark);
        assert_eq!(v.text, "Sales — €4.1bn — rose [unverified: 7%] … ünïcode");
        assert_eq!(v.supported, 1);
    }

    #[test]
    fn evidence_from_nested_json() {
        let mut e = Evidence::new();
        e.add_json(&json!({
            "income": {"revenue": 391_035_000_000_i64, "quarters": [94_930, {"q": -0.032}]},
            "note": "FY2024 gross margin 46.2% per 10-K",
            "ok": true,
            "none": null,
        }));
        assert_eq!(e.values(), [0.032, 46.2, 94_930.0, 391_035_000_000.0]);
        assert!(ok(&e, "$391.0 billion"));
        assert!(ok(&e, "46.2%"));
        assert!(ok(&e, "fell 3.2%"));
        assert!(!ok(&e, "$94.9 billion"));

        e.add_text("EPS was $6.08 in Q4");
        e.add_value(f64::NAN);
        e.add_value(-0.032);
        assert_eq!(e.len(), 5);
        assert!(ok(&e, "6.08"));
        assert!(Evidence::default().is_empty() && Evidence::new().is_empty());
    }

    #[test]
    fn policy_serde_and_default() {
        assert_eq!(Policy::default(), Policy::Mark);
        assert_eq!(serde_json::to_string(&Policy::Remove).unwrap(), "\"remove\"");
        assert_eq!(serde_json::from_str::<Policy>("\"keep\"").unwrap(), Policy::Keep);
    }
}
