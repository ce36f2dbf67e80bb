//! Splits a filing's blocks into Items (1, 1A, 7, 7A, 8 ...).
//!
//! Every Item number appears several times in a filing: in the table of contents, in running
//! page headers, in cross-references ("see Item 7") and, once, as the heading of the Item
//! itself. The rule used here:
//!
//! 1. A *candidate* heading is a short block (a paragraph, or a table of at most two rows) that
//!    starts with `Item <n>[A-D]` followed by punctuation or a capitalised title — not by a
//!    lower-case word, a comma or `.02` (which are cross-references). Tables of contents with
//!    many rows are therefore not candidates at all.
//! 2. Consecutive candidates for the same Item (running page headers) collapse into the first.
//! 3. For each Item the candidate with the longest body (text up to the next candidate) wins;
//!    a table-of-contents line has almost no body, the real heading has the whole Item.
//! 4. Winners are kept in document order; each section runs to the next winner. Text before
//!    the first winner (cover page, table of contents) is not a section.
//!
//! 10-Q Items repeat numbers across Part I and Part II; their part comes from the Item's title
//! (`Legal Proceedings` is Part II, `Financial Statements` Part I ...), then from the Item number
//! (1A, 5 and 6 exist only in Part II), then from the last `PART I` / `PART II` heading seen.

use crate::types::{Block, Section};

/// Longest block (in bytes) that can be a heading.
const MAX_HEADING_LEN: usize = 300;
/// Longest block (in bytes) taken as the title when the heading has none (`Item 2.` + title).
const MAX_TITLE_LEN: usize = 200;

/// Cuts `blocks` (in document order) into Item sections. `form` (`10-K`, `10-Q` ...) decides
/// whether Items carry a part (`I` / `II` for 10-Q forms, `None` otherwise).
pub fn split_sections(blocks: Vec<Block>, form: &str) -> Vec<Section> {
    let quarterly = form.trim().to_ascii_uppercase().starts_with("10-Q");

    // 1. Candidates.
    let mut cands: Vec<Candidate> = Vec::new();
    // Blocks left out of section bodies: bare PART headings and repeated Item headings.
    let mut drop = vec![false; blocks.len()];
    let mut current_part: Option<&'static str> = None;
    for (i, block) in blocks.iter().enumerate() {
        let Some(text) = heading_text(block) else { continue };
        let mut rest = text.as_str();
        if let Some((part, after)) = part_marker(rest) {
            current_part = Some(part);
            rest = after;
            if text.len() <= 100 && item_heading(after).is_none() {
                drop[i] = true;
            }
        }
        let Some((item, title)) = item_heading(rest) else { continue };
        let mut title = title.to_string();
        let mut title_from_next = false;
        if title.is_empty()
            && let Some(Block::Paragraph { text: next }) = blocks.get(i + 1)
            && next.len() <= MAX_TITLE_LEN
            && item_heading(next).is_none()
            && part_marker(next).is_none()
        {
            title = clean_title(next).to_string();
            title_from_next = true;
        }
        let part = if quarterly { Some(quarter_part(&item, &title, current_part)) } else { None };
        cands.push(Candidate { block: i, item, title, part, title_from_next });
    }

    // 2. Running headers: a candidate repeating the previous one's Item is not a new heading.
    let mut kept: Vec<Candidate> = Vec::with_capacity(cands.len());
    for c in cands {
        match kept.last() {
            Some(prev) if prev.key() == c.key() => drop[c.block] = true,
            _ => kept.push(c),
        }
    }
    let mut cands = kept;

    // 3. Body length of each candidate, and the longest per Item.
    let mut prefix = Vec::with_capacity(blocks.len() + 1);
    prefix.push(0usize);
    for b in &blocks {
        let last = prefix.last().copied().unwrap_or(0);
        prefix.push(last + block_len(b));
    }
    let body = |k: usize| {
        let start = cands[k].block + 1;
        let end = cands.get(k + 1).map_or(blocks.len(), |c| c.block);
        prefix[end.max(start)] - prefix[start]
    };
    let mut best: Vec<(usize, usize)> = Vec::new(); // (candidate, body) per key, first-seen order
    for k in 0..cands.len() {
        let len = body(k);
        match best.iter_mut().find(|(j, _)| cands[*j].key() == cands[k].key()) {
            Some(entry) => {
                if len >= entry.1 {
                    *entry = (k, len);
                }
            }
            None => best.push((k, len)),
        }
    }
    let mut chosen: Vec<usize> = best.into_iter().map(|(k, _)| k).collect();
    chosen.sort_by_key(|&k| cands[k].block);

    // 3b. The first Item may have no heading of its own in the body: some 10-Qs go straight
    // from the table of contents to the financial statements. Its text is what lies between
    // the table of contents and the first heading found.
    if let Some(&first) = chosen.first()
        && let Some(missing) = missing_first_item(&blocks, &cands, &chosen, cands[first].block, quarterly)
    {
        cands.push(missing);
        chosen.insert(0, cands.len() - 1);
    }

    // 4. Sections in document order.
    let mut sections: Vec<Section> = Vec::with_capacity(chosen.len());
    let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(chosen.len());
    for (n, &k) in chosen.iter().enumerate() {
        let c = &cands[k];
        let start = c.block + 1 + usize::from(c.title_from_next);
        let end = chosen.get(n + 1).map_or(blocks.len(), |&next| cands[next].block);
        ranges.push((start, end.max(start)));
        sections.push(Section {
            part: c.part.map(str::to_string),
            item: c.item.clone(),
            title: c.title.clone(),
            blocks: Vec::new(),
        });
    }
    let mut s = 0;
    for (i, block) in blocks.into_iter().enumerate() {
        while s < ranges.len() && i >= ranges[s].1 {
            s += 1;
        }
        if s == ranges.len() {
            break;
        }
        if i >= ranges[s].0 && !drop[i] {
            sections[s].blocks.push(block);
        }
    }
    sections
}

#[derive(Debug)]
struct Candidate {
    /// The heading block (for a heading found in the table of contents: the TOC table).
    block: usize,
    item: String,
    title: String,
    part: Option<&'static str>,
    title_from_next: bool,
}

impl Candidate {
    fn key(&self) -> (Option<&'static str>, &str) {
        (self.part, self.item.as_str())
    }
}

/// The Item listed first in the last table of contents before `first_block`, when no heading
/// was found for it: a candidate whose body starts after that table.
fn missing_first_item(
    blocks: &[Block],
    cands: &[Candidate],
    chosen: &[usize],
    first_block: usize,
    quarterly: bool,
) -> Option<Candidate> {
    let (toc_index, rows) = blocks[..first_block].iter().enumerate().rev().find_map(|(i, b)| match b {
        Block::Table { table }
            if table.rows.len() >= 3 && table.rows.iter().any(|r| row_item(r).is_some()) =>
        {
            Some((i, &table.rows))
        }
        _ => None,
    })?;
    let mut part = None;
    for row in rows {
        if let Some(first) = row.first()
            && let Some((p, _)) = part_marker(first)
        {
            part = Some(p);
        }
        let Some((item, title)) = row_item(row) else { continue };
        let part = if quarterly { Some(quarter_part(&item, &title, part)) } else { None };
        let cand = Candidate { block: toc_index, item, title, part, title_from_next: false };
        let taken = chosen.iter().any(|&k| cands[k].key() == cand.key());
        let has_body = first_block > toc_index + 1;
        return (!taken && has_body).then_some(cand);
    }
    None
}

/// An Item listed in a table-of-contents row: `| Item 1. | Financial Statements | 3 |`.
fn row_item(row: &[String]) -> Option<(String, String)> {
    let cells: Vec<&str> = row
        .iter()
        .map(String::as_str)
        .filter(|c| !c.chars().all(|ch| ch.is_ascii_digit() || ch == '-' || ch.is_whitespace()))
        .collect();
    let text = cells.join(" ");
    let (item, title) = item_heading(&text)?;
    let title = title.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_whitespace());
    Some((item, clean_title(title).to_string()))
}

/// The text of a block that could be a heading: a short paragraph, or a table of one or two
/// rows (some filers lay headings out as `| Item 1A. | Risk Factors |`).
fn heading_text(block: &Block) -> Option<String> {
    match block {
        Block::Paragraph { text } => (text.len() <= MAX_HEADING_LEN).then(|| text.clone()),
        Block::Table { table } => {
            if table.rows.is_empty() || table.rows.len() > 2 {
                return None;
            }
            let text = table.rows.iter().flatten().map(String::as_str).collect::<Vec<_>>().join(" ");
            (text.len() <= MAX_HEADING_LEN).then_some(text)
        }
    }
}

fn block_len(block: &Block) -> usize {
    match block {
        Block::Paragraph { text } => text.len(),
        Block::Table { table } => table.rows.iter().flatten().map(String::len).sum(),
    }
}

fn is_sep(c: char) -> bool {
    c.is_whitespace() || matches!(c, '.' | ':' | '-' | '–' | '—' | '|')
}

fn clean_title(t: &str) -> &str {
    t.trim().trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '.' | ':')).trim()
}

/// `Item 1A. Risk Factors` → (`1A`, `Risk Factors`). `None` when the text does not start
/// with an Item number used as a heading.
fn item_heading(text: &str) -> Option<(String, &str)> {
    let t = text.trim_start();
    let head = t.get(..4)?;
    if !head.eq_ignore_ascii_case("item") {
        return None;
    }
    let rest = t[4..].trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 2 {
        return None;
    }
    let number: u32 = rest[..digits].parse().ok()?;
    if !(1..=20).contains(&number) {
        return None;
    }
    let mut after = &rest[digits..];
    let mut item = number.to_string();
    if let Some(c) = after.chars().next()
        && matches!(c.to_ascii_uppercase(), 'A'..='D')
        && after[1..].chars().next().is_none_or(|n| !n.is_alphanumeric())
    {
        item.push(c.to_ascii_uppercase());
        after = &after[1..];
    }
    match after.chars().next() {
        None => {}
        Some(c) if c.is_alphanumeric() => return None,
        Some(',' | ';' | ')' | '(' | '/' | '&') => return None,
        Some(_) => {}
    }
    // `Item 5.02` (a Form 8-K item) or `Item 1.1`: not a heading.
    if after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let title = clean_title(after.trim_start_matches(is_sep));
    // `Item 7 of this report`, `Item 1A and ...`: a cross-reference, not a heading.
    if title.chars().next().is_some_and(char::is_lowercase) {
        return None;
    }
    Some((item, title))
}

/// `PART II — Other Information` → (`II`, rest after the marker, possibly an Item heading).
fn part_marker(text: &str) -> Option<(&'static str, &str)> {
    let t = text.trim_start();
    if !t.get(..4)?.eq_ignore_ascii_case("part") {
        return None;
    }
    let rest = &t[4..];
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim_start();
    let n = rest.chars().take_while(|c| matches!(c, 'I' | 'V' | 'i' | 'v')).count();
    let numeral = rest.get(..n)?;
    let part = match numeral.to_ascii_uppercase().as_str() {
        "I" => "I",
        "II" => "II",
        "III" => "III",
        "IV" => "IV",
        _ => return None,
    };
    let after = &rest[n..];
    if after.chars().next().is_some_and(char::is_alphanumeric) {
        return None;
    }
    if after.starts_with([',', ';']) && text.len() > 60 {
        return None;
    }
    let remainder = after.trim_start_matches(|c: char| is_sep(c) || c == ',');
    // `Part III incorporates information by reference ...`: prose, not a heading.
    if remainder.chars().next().is_some_and(char::is_lowercase) || text.len() > MAX_HEADING_LEN {
        return None;
    }
    Some((part, remainder))
}

/// The part of a 10-Q Item: by its title, then by its number, then by the last PART heading.
fn quarter_part(item: &str, title: &str, current: Option<&'static str>) -> &'static str {
    let t = title.to_lowercase();
    let part_one = [
        "financial statements",
        "discussion and analysis",
        "quantitative and qualitative",
        "controls and procedures",
    ];
    let part_two = [
        "legal proceedings",
        "risk factors",
        "unregistered sales",
        "defaults upon",
        "defaults on",
        "mine safety",
        "other information",
        "exhibits",
    ];
    if part_two.iter().any(|p| t.contains(p)) {
        return "II";
    }
    if part_one.iter().any(|p| t.contains(p)) {
        return "I";
    }
    if matches!(item, "1A" | "5" | "6") {
        return "II";
    }
    match current {
        Some("II") => "II",
        _ => "I",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Table;

    fn p(t: &str) -> Block {
        Block::Paragraph { text: t.to_string() }
    }

    fn table(rows: &[&[&str]]) -> Block {
        Block::Table {
            table: Table { rows: rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect() },
        }
    }

    fn long(word: &str) -> Block {
        p(&format!("{word} ").repeat(60))
    }

    fn summary(s: &[Section]) -> Vec<(Option<String>, String, String)> {
        s.iter().map(|s| (s.part.clone(), s.item.clone(), s.title.clone())).collect()
    }

    #[test]
    fn heading_patterns() {
        let h = |t| item_heading(t).map(|(i, t)| (i, t.to_string()));
        let ok = |i: &str, t: &str| Some((i.to_string(), t.to_string()));
        assert_eq!(h("Item 1. Business"), ok("1", "Business"));
        assert_eq!(h("ITEM 1A. RISK FACTORS"), ok("1A", "RISK FACTORS"));
        assert_eq!(h("ITEM 1A.RISK FACTORS"), ok("1A", "RISK FACTORS"));
        assert_eq!(
            h("Item 7A — Quantitative and Qualitative Disclosures"),
            ok("7A", "Quantitative and Qualitative Disclosures")
        );
        assert_eq!(h("Item 2 — Management’s discussion"), ok("2", "Management’s discussion"));
        assert_eq!(h("Item 1A. Risk Factors:"), ok("1A", "Risk Factors"));
        assert_eq!(h("Item 8."), ok("8", ""));
        assert_eq!(h("Item 1C"), ok("1C", ""));
        assert_eq!(h("Item\u{a0}9B. Other Information."), ok("9B", "Other Information"));
        assert_eq!(h("Item 6. [Reserved]"), ok("6", "[Reserved]"));
        for not in [
            "Item 7 of this Form 10-K describes",
            "Items 1 and 2",
            "Item 1A, “Risk Factors”",
            "Item 5.02 of Form 8-K",
            "Item 408(a) of Regulation S-K",
            "Item 105 of Regulation S-K",
            "Itemized deductions",
            "See Item 7.",
            "Item 1Business",
        ] {
            assert_eq!(h(not), None, "{not}");
        }
    }

    #[test]
    fn part_markers() {
        assert_eq!(part_marker("PART I"), Some(("I", "")));
        assert_eq!(part_marker("Part II — Other Information"), Some(("II", "Other Information")));
        assert_eq!(part_marker("PART I. FINANCIAL INFORMATION"), Some(("I", "FINANCIAL INFORMATION")));
        assert_eq!(
            part_marker("PART II Item 1. Legal Proceedings"),
            Some(("II", "Item 1. Legal Proceedings"))
        );
        assert_eq!(part_marker("Part III incorporates information by reference to the proxy"), None);
        assert_eq!(part_marker("Particulars"), None);
        assert_eq!(part_marker("Part IX"), None);
    }

    #[test]
    fn toc_is_skipped_and_longest_body_wins() {
        let blocks = vec![
            p("FORM 10-K"),
            // A table of contents as a table (not a candidate) and as links (short bodies).
            table(&[
                &["Item 1.", "Business", "3"],
                &["Item 1A.", "Risk Factors", "5"],
                &["Item 7.", "MD&A", "20"],
            ]),
            p("Item 1. Business"),
            p("Item 1A. Risk Factors"),
            p("Item 7. Management’s Discussion and Analysis"),
            p("PART I"),
            p("Item 1. Business"),
            long("business"),
            p("Item 1A. Risk Factors"),
            long("risk"),
            // A running page header repeating the Item inside its own body.
            p("Item 1A. Risk Factors"),
            long("more-risk"),
            p("See Item 7 for more."),
            p("PART II"),
            p("Item 7."),
            p("MANAGEMENT’S DISCUSSION AND ANALYSIS"),
            long("mdna"),
            table(&[&["Revenue", "$100"], &["Costs", "(40)"], &["Profit", "$60"]]),
            p("Item 8. Financial Statements and Supplementary Data"),
            p("See pages F-1 to F-40."),
        ];
        let s = split_sections(blocks, "10-K");
        assert_eq!(
            summary(&s),
            vec![
                (None, "1".into(), "Business".into()),
                (None, "1A".into(), "Risk Factors".into()),
                (None, "7".into(), "MANAGEMENT’S DISCUSSION AND ANALYSIS".into()),
                (None, "8".into(), "Financial Statements and Supplementary Data".into()),
            ]
        );
        assert!(s[0].text().starts_with("business business"));
        let risk = s[1].text();
        assert!(
            risk.contains("risk risk") && risk.contains("more-risk") && risk.contains("See Item 7"),
            "{risk}"
        );
        assert!(!risk.contains("PART II"));
        assert!(!s[2].text().contains("MANAGEMENT’S"), "title block not repeated in the body");
        assert!(matches!(s[2].blocks.last(), Some(Block::Table { .. })));
        assert_eq!(s[3].text(), "See pages F-1 to F-40.\n\n");
    }

    #[test]
    fn quarterly_parts() {
        let blocks = vec![
            table(&[&["Part I. Financial Information", "Page"], &["Item 1.", "Financial Statements", "1"]]),
            p("Item 2. Management’s Discussion and Analysis"),
            p("Part II. Other Information"),
            p("Item 1. Legal Proceedings"),
            p("Item 1A. Risk Factors"),
            p("PART I — FINANCIAL INFORMATION"),
            table(&[&["Item 1.", "Financial Statements"]]),
            long("statements"),
            p("Item 2. Management’s Discussion and Analysis"),
            long("mdna"),
            p("Item 4. Controls and Procedures"),
            long("controls"),
            p("PART II — OTHER INFORMATION"),
            p("Item 1. Legal Proceedings"),
            long("legal"),
            p("Item 1A. Risk Factors"),
            long("risk"),
            p("Item 6. Exhibits"),
            p("31.1 Certification"),
        ];
        let s = split_sections(blocks, "10-Q");
        let got: Vec<String> = s.iter().map(Section::label).collect();
        assert_eq!(
            got,
            vec![
                "Part I Item 1",
                "Part I Item 2",
                "Part I Item 4",
                "Part II Item 1",
                "Part II Item 1A",
                "Part II Item 6"
            ]
        );
        assert!(s[0].text().starts_with("statements"));
        assert!(s[3].text().starts_with("legal"));
        assert!(s[4].text().starts_with("risk"));
    }

    #[test]
    fn nothing_before_the_first_item_and_no_items() {
        assert!(split_sections(vec![p("cover"), long("text")], "10-K").is_empty());
        let s = split_sections(vec![p("cover"), p("Item 1. Business"), p("We sell things.")], "10-K");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].text(), "We sell things.\n\n");
    }
}
