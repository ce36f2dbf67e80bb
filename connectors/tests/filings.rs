//! Inline-XBRL parsing over the demo filings in `data/filings`.

use std::path::{Path, PathBuf};

use bullpen_connectors::sec::ixbrl::{parse_filing, parse_filing_file};
use bullpen_connectors::{Block, Fact, FiledDateSource, Filing, FiscalPeriod, Period};
use chrono::NaiveDate;

const FILINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/filings");
const AAPL_10K: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/filings/aapl-10-k-2024-11-01.html.gz");

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn filing_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(FILINGS)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".htm"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "expected the 30 demo filings in {FILINGS}, found {}", files.len());
    files
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// The consolidated (no dimensions) fact of a concept for a period.
fn consolidated<'a>(f: &'a Filing, concept: &str, period: Period) -> &'a Fact {
    let found: Vec<&Fact> = f
        .facts
        .iter()
        .filter(|x| x.concept == concept && x.period == period && x.dimensions.is_empty())
        .collect();
    assert_eq!(found.len(), 1, "{concept} {period}: {found:?}");
    found[0]
}

#[test]
fn aapl_10k_facts_and_cover() {
    let f = parse_filing_file(Path::new(AAPL_10K)).unwrap();
    let fy = Period::Duration { start: date(2023, 10, 1), end: date(2024, 9, 28) };

    // Apple tags net sales as RevenueFromContractWithCustomerExcludingAssessedTax (the filing
    // has no us-gaap:Revenues fact).
    assert!(!f.facts.iter().any(|x| x.concept == "us-gaap:Revenues"));
    let revenue = consolidated(&f, "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax", fy);
    assert_eq!(
        (revenue.value, revenue.unit.as_str(), revenue.decimals),
        (391_035_000_000.0, "USD", Some(-6))
    );
    assert_eq!(consolidated(&f, "us-gaap:NetIncomeLoss", fy).value, 93_736_000_000.0);
    let eps = consolidated(&f, "us-gaap:EarningsPerShareDiluted", fy);
    assert_eq!((eps.value, eps.unit.as_str()), (6.08, "USD/shares"));
    let assets = consolidated(&f, "us-gaap:Assets", Period::Instant { date: date(2024, 9, 28) });
    assert_eq!(assets.value, 364_980_000_000.0);
    // A dimensional fact keeps its axis.
    assert!(
        f.facts.iter().any(|x| x.concept == "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax"
            && x.period == fy
            && x.dimensions.contains_key("srt:ProductOrServiceAxis"))
    );

    let m = &f.meta;
    assert_eq!(m.form, "10-K");
    assert_eq!(m.cik, Some(320193));
    assert_eq!(m.ticker.as_deref(), Some("AAPL"));
    assert_eq!(m.company.as_deref(), Some("Apple Inc."));
    assert_eq!(m.period_end, Some(date(2024, 9, 28)));
    assert_eq!(m.fiscal_year, Some(2024));
    assert_eq!(m.fiscal_period, Some(FiscalPeriod::FY));
    assert_eq!(m.filed, Some(date(2024, 11, 1)));
    assert_eq!(m.filed_source, Some(FiledDateSource::FileName));
    assert!(m.source.ends_with("aapl-10-k-2024-11-01.html.gz"));

    // Provenance on every fact.
    let src = &revenue.source;
    assert!(src.document.ends_with("aapl-10-k-2024-11-01.html.gz"));
    assert!(src.location.starts_with("ix:nonFraction id=") && src.location.contains(" context="), "{src:?}");
    assert_eq!(src.form.as_deref(), Some("10-K"));
    assert_eq!(
        (src.filed, src.fiscal_year, src.fiscal_period),
        (Some(date(2024, 11, 1)), Some(2024), Some(FiscalPeriod::FY))
    );
    assert!(f.facts.iter().all(|x| x.source.filed == Some(date(2024, 11, 1))));

    // Deduplicated: one fact per concept, period, dimensions and unit.
    let mut keys: Vec<_> = f.facts.iter().map(|x| (&x.concept, x.period, &x.dimensions, &x.unit)).collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n);
    assert!(n > 500, "only {n} facts");
}

#[test]
fn every_10k_has_items_1_1a_7_8() {
    for path in filing_files().iter().filter(|p| name(p).contains("-10-k-")) {
        let f = parse_filing_file(path).unwrap();
        let file = name(path);
        assert_eq!(f.meta.form, "10-K", "{file}");
        assert!(
            f.meta.ticker.is_some() && f.meta.cik.is_some() && f.meta.period_end.is_some(),
            "{file}: {:?}",
            f.meta
        );
        assert!(f.sections.iter().all(|s| s.part.is_none()), "{file}");
        for item in ["1", "1A", "7", "8"] {
            let s = f.section(item).unwrap_or_else(|| {
                let found: Vec<_> = f.sections.iter().map(|s| s.label()).collect();
                panic!("{file}: Item {item} not found; found {found:?}")
            });
            let len = s.text().len();
            assert!(len > 0, "{file}: Item {item} is empty");
            // IBM and WFC incorporate most of their 10-K by reference to the annual report, and
            // Netflix's Item 8 points to the statements after Part IV: a short pointer is all
            // there is. Everyone else has substantial text.
            let by_reference = file.starts_with("ibm-") || file.starts_with("wfc-");
            let pointer = item == "8" && file.starts_with("nflx-");
            if ["1A", "7", "8"].contains(&item) && !by_reference && !pointer {
                assert!(len > 1_000, "{file}: Item {item} has only {len} chars: {:?}", s.text());
            }
            if by_reference || pointer {
                let t = s.text().to_lowercase();
                assert!(
                    t.contains("incorporated") || t.contains("refer") || t.contains("can be found"),
                    "{file}: {t}"
                );
            }
        }
        // Items appear once each, in document order of the real headings.
        let mut labels: Vec<_> = f.sections.iter().map(|s| s.label()).collect();
        let n = labels.len();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), n, "{file}");
    }
}

#[test]
fn every_10q_has_part_i_items_1_2_and_risk_factors_where_present() {
    for path in filing_files().iter().filter(|p| name(p).contains("-10-q-")) {
        let f = parse_filing_file(path).unwrap();
        let file = name(path);
        assert_eq!(f.meta.form, "10-Q", "{file}");
        assert!(
            matches!(f.meta.fiscal_period, Some(FiscalPeriod::Q1 | FiscalPeriod::Q2 | FiscalPeriod::Q3)),
            "{file}"
        );
        let labels: Vec<_> = f.sections.iter().map(|s| s.label()).collect();
        for key in ["I-1", "I-2"] {
            let s = f.section(key).unwrap_or_else(|| panic!("{file}: {key} not found; found {labels:?}"));
            assert!(s.text().len() > 1_000, "{file}: {key} has {} chars", s.text().len());
        }
        assert!(f.section("II-1").is_some(), "{file}: Part II Item 1 not found; found {labels:?}");
        // IBM, J&J and Exxon have no Part II Item 1A (Risk Factors) in these 10-Qs; all the
        // others do.
        let without_1a = ["ibm-", "jnj-", "xom-"].iter().any(|p| file.starts_with(p));
        match f.section("II-1A") {
            Some(s) => {
                assert!(!without_1a, "{file}: unexpected II-1A {:?}", s.title);
                assert!(s.title.to_lowercase().contains("risk factors") && !s.text().is_empty(), "{file}");
            }
            None => assert!(without_1a, "{file}: II-1A not found; found {labels:?}"),
        }
        assert!(f.sections.iter().all(|s| s.part.as_deref() == Some("I") || s.part.as_deref() == Some("II")));
    }
}

#[test]
fn aapl_item_8_keeps_tables() {
    let f = parse_filing_file(Path::new(AAPL_10K)).unwrap();
    let item8 = f.section("8").unwrap();
    assert!(item8.title.contains("Financial Statements"), "{}", item8.title);
    let tables: Vec<_> = item8
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Table { table } => Some(table),
            Block::Paragraph { .. } => None,
        })
        .collect();
    assert!(tables.len() >= 5, "only {} tables", tables.len());
    assert!(tables.iter().any(|t| t.rows.len() > 1));
    // The income statement: a row "Net sales"/"Total net sales" with the number in it.
    assert!(
        tables.iter().flat_map(|t| &t.rows).any(|r| r.iter().any(|c| c.contains("391,035"))),
        "no table cell with 391,035"
    );
    assert!(tables.iter().flat_map(|t| &t.rows).flatten().all(|c| !c.trim().is_empty()));
    assert!(f.section("1A").unwrap().title.contains("Risk Factors"));
}

#[test]
fn truncated_and_non_xbrl_files_are_errors_naming_the_file() {
    let html = bullpen_connectors::files::read_string(Path::new(AAPL_10K)).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let mut cut = html.len() / 2;
    while !html.is_char_boundary(cut) {
        cut -= 1;
    }
    let truncated = dir.path().join("aapl-truncated.htm");
    std::fs::write(&truncated, &html[..cut]).unwrap();
    let err = parse_filing_file(&truncated).unwrap_err().to_string();
    assert!(err.contains("aapl-truncated.htm") && err.contains("truncated"), "{err}");

    let plain = dir.path().join("hello.html");
    std::fs::write(&plain, "<html><body><p>Hello</p></body></html>").unwrap();
    let err = parse_filing_file(&plain).unwrap_err().to_string();
    assert!(err.contains("hello.html") && err.contains("not an inline XBRL filing"), "{err}");

    let not_xml = dir.path().join("legacy.htm");
    std::fs::write(
        &not_xml,
        "<HTML><BODY><P>Old <B>filing<BR><TABLE border=1><TR><TD>x</TABLE></BODY></HTML>",
    )
    .unwrap();
    let err = parse_filing_file(&not_xml).unwrap_err().to_string();
    assert!(err.contains("legacy.htm") && err.contains("not an inline XBRL filing"), "{err}");

    let missing = dir.path().join("missing.htm");
    let err = parse_filing_file(&missing).unwrap_err().to_string();
    assert!(err.contains("missing.htm"), "{err}");
}

#[test]
fn deadline_date_when_the_name_has_none() {
    let html = bullpen_connectors::files::read_string(Path::new(AAPL_10K)).unwrap();
    let f = parse_filing(&html, "aapl-10k.htm").unwrap();
    assert_eq!(f.meta.filed, Some(date(2024, 12, 27)));
    assert_eq!(f.meta.filed_source, Some(FiledDateSource::Deadline));
    assert!(f.facts.iter().all(|x| x.source.filed == Some(date(2024, 12, 27))));
}

#[test]
fn all_filings_parse_with_cover_and_facts() {
    let start = std::time::Instant::now();
    let files = filing_files();
    for path in &files {
        let f = parse_filing_file(path).unwrap();
        let file = name(path);
        let expected_ticker = file.split('-').next().unwrap().to_uppercase();
        assert_eq!(f.meta.ticker.as_deref(), Some(expected_ticker.as_str()), "{file}");
        // IBM's and WFC's 10-Ks carry only cover and a few Item 5/12 facts (the statements are in
        // the annual report exhibit).
        let min_facts = if file.starts_with("ibm-10-k") || file.starts_with("wfc-10-k") { 10 } else { 500 };
        assert!(f.facts.len() > min_facts, "{file}: {} facts", f.facts.len());
        assert_eq!(f.meta.filed_source, Some(FiledDateSource::FileName), "{file}");
        let unexplained: Vec<_> = f.skipped.iter().filter(|s| !s.reason.contains("disagrees")).collect();
        assert!(unexplained.len() < 5, "{file}: {unexplained:?}");
    }
    eprintln!("parsed {} filings in {:?}", files.len(), start.elapsed());
}
