//! Text splitters and cleaners used before chunking: whitespace and control-character
//! clean-up, page furniture detection, and a sentence splitter that knows the
//! abbreviations of financial prose (`Inc.`, `U.S.`, `No.`, `approx.` …).

use std::ops::Range;

/// Abbreviations after which a period does not end a sentence (lower case, without the
/// final period).
const ABBREVIATIONS: &[&str] = &[
    "inc", "corp", "co", "ltd", "llc", "plc", "no", "nos", "vs", "etc", "approx", "mr", "mrs", "ms", "dr",
    "jr", "sr", "st", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "fig", "e.g", "i.e", "u.s", "u.k", "e.u", "n.a", "s.a", "dept", "est", "avg", "mln", "bn", "a.m", "p.m",
];

/// Cleans one paragraph: Unicode spaces become plain spaces, control characters are
/// dropped (newlines and tabs become spaces), runs of spaces collapse, ends are trimmed.
pub fn clean_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        if c.is_control() || c == '\u{feff}' || c == '\u{200b}' {
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// Whether a cleaned paragraph is page furniture rather than content: a bare page number,
/// "Table of Contents", or a running footer such as `Apple Inc. | 2024 Form 10-K | 21`.
pub fn is_page_furniture(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() {
        return true;
    }
    // A page number (`21`, `- 21 -`), not a year or an amount.
    let digits: String = t.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
    if !digits.is_empty() && digits.len() <= 3 && digits.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    let lower = t.to_ascii_lowercase();
    if lower == "table of contents" || lower == "index" {
        return true;
    }
    // A running footer: short, pipe-separated, with a form name and a page number last.
    let parts: Vec<&str> = t.split('|').map(str::trim).collect();
    parts.len() >= 3
        && t.len() <= 120
        && (lower.contains("form 10-k") || lower.contains("form 10-q"))
        && parts.last().is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Byte ranges of the sentences of `text` (which should be clean: single spaces). A
/// sentence ends at `.`, `!` or `?` (after any closing quotes or brackets) followed by a
/// space and an upper-case letter, a digit, a quote or a bracket — not after a known
/// abbreviation, a single initial, or inside a number (`3.5`). The ranges cover the
/// text without gaps except the spaces between sentences.
pub fn sentence_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if matches!(b, b'.' | b'!' | b'?') {
            let mut end = i + 1;
            while end < bytes.len() && matches!(bytes[end], b'"' | b'\'' | b')' | b']') {
                end += 1;
            }
            if end + 1 < bytes.len()
                && bytes[end] == b' '
                && starts_sentence(bytes[end + 1])
                && !(b == b'.' && is_abbreviation(&text[start..i]))
            {
                spans.push(start..end);
                start = end + 1;
                i = start;
                continue;
            }
        }
        i += 1;
    }
    if start < text.len() {
        let tail = text[start..].trim_end();
        if !tail.is_empty() {
            spans.push(start..start + tail.len());
        }
    }
    spans
}

fn starts_sentence(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'"' | b'\'' | b'(' | b'[' | b'$')
}

/// Whether the word before a period (the end of `before`) is an abbreviation or an initial.
fn is_abbreviation(before: &str) -> bool {
    let word = before.rsplit(' ').next().unwrap_or("").trim_start_matches(['(', '"', '\'']);
    if word.is_empty() {
        return false;
    }
    if word.chars().count() == 1 && word.chars().all(char::is_alphabetic) {
        return true;
    }
    let lower = word.to_lowercase();
    ABBREVIATIONS.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &str) -> Vec<&str> {
        sentence_spans(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn cleaning_collapses_spaces_and_drops_controls() {
        assert_eq!(clean_text("  a\u{a0}\u{a0}b\n\tc\u{0007}d  "), "a b cd");
        assert_eq!(clean_text("\u{feff}Item 1A."), "Item 1A.");
        assert_eq!(clean_text(" \n "), "");
    }

    #[test]
    fn page_furniture_is_recognised() {
        assert!(is_page_furniture("21"));
        assert!(is_page_furniture("Table of Contents"));
        assert!(is_page_furniture("Apple Inc. | 2024 Form 10-K | 21"));
        assert!(!is_page_furniture("Net sales were $391.0 billion | up 2%"));
        assert!(is_page_furniture("- 7 -"));
        assert!(!is_page_furniture("2024"), "a year is content");
    }

    #[test]
    fn sentences_split_on_terminal_punctuation_but_not_abbreviations_or_numbers() {
        let text = "Apple Inc. reported revenue of $391.0 billion. Growth was 2% vs. the prior year! \
                    The U.S. market grew. J. Smith said so. (See Note 3.) Margins held.";
        assert_eq!(
            sentences(text),
            [
                "Apple Inc. reported revenue of $391.0 billion.",
                "Growth was 2% vs. the prior year!",
                "The U.S. market grew.",
                "J. Smith said so.",
                "(See Note 3.)",
                "Margins held."
            ]
        );
        assert_eq!(sentences("no terminal punctuation"), ["no terminal punctuation"]);
        assert!(sentences("").is_empty());
    }
}
