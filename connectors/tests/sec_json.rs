//! SEC JSON on real EDGAR responses: companyfacts → statements, submissions → filing index,
//! company_tickers → ticker ↔ CIK.

use std::path::Path;

use bullpen_connectors::sec::{companyfacts, submissions, tickers};
use bullpen_connectors::{ConnectorError, FiscalPeriod, LineItem, StatementPeriod, Statements, files};
use chrono::{Datelike, NaiveDate};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/sec");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sec");

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn read(dir: &str, name: &str) -> (Vec<u8>, String) {
    let path = Path::new(dir).join(name);
    (files::read_bytes(&path).unwrap(), path.display().to_string())
}

fn apple() -> Statements {
    companyfacts::statements_file(&Path::new(DATA).join("companyfacts_CIK0000320193.json.gz")).unwrap()
}

fn period(st: &Statements, fy: i32, fp: FiscalPeriod) -> &StatementPeriod {
    st.periods.iter().find(|p| p.fiscal_year == fy && p.fiscal_period == fp).unwrap_or_else(|| {
        panic!("no {fp:?} {fy} in {:?}", st.periods.iter().map(|p| p.label()).collect::<Vec<_>>())
    })
}

#[test]
fn apple_companyfacts_parse() {
    let (bytes, location) = read(DATA, "companyfacts_CIK0000320193.json.gz");
    let cf = companyfacts::parse(&bytes, &location).unwrap();
    assert_eq!(cf.cik, 320193);
    assert_eq!(cf.entity_name.as_deref(), Some("Apple Inc."));
    assert!(cf.facts.len() > 10_000, "{} facts", cf.facts.len());
    assert!(cf.skipped.is_empty(), "{:?}", &cf.skipped[..cf.skipped.len().min(5)]);
    let rev = cf
        .facts
        .iter()
        .find(|f| {
            f.concept == "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax"
                && f.period.end() == d(2024, 9, 28)
                && f.period.days() > 300
                && f.source.accession.as_deref() == Some("0000320193-24-000123")
        })
        .unwrap();
    assert_eq!(rev.value, 391_035_000_000.0);
    assert_eq!(rev.source.document, "companyfacts CIK0000320193");
    assert_eq!(rev.source.location, "accn 0000320193-24-000123 form 10-K filed 2024-11-01 fy 2024 fp FY");
}

#[test]
fn apple_fy2024_statements() {
    let st = apple();
    assert_eq!(st.cik, Some(320193));
    let fy = period(&st, 2024, FiscalPeriod::FY);
    assert_eq!(fy.end, d(2024, 9, 28));
    assert_eq!(fy.start, Some(d(2023, 10, 1)));
    assert_eq!(fy.get(LineItem::Revenue), Some(391_035_000_000.0));
    assert_eq!(fy.get(LineItem::NetIncome), Some(93_736_000_000.0));
    assert_eq!(fy.get(LineItem::EpsDiluted), Some(6.08));
    assert_eq!(fy.get(LineItem::TotalAssets), Some(364_980_000_000.0));
    for item in [LineItem::Revenue, LineItem::NetIncome, LineItem::EpsDiluted, LineItem::TotalAssets] {
        let v = &fy.values[&item];
        assert_eq!(v.source.form.as_deref(), Some("10-K"), "{item:?}");
        assert_eq!(v.source.filed, Some(d(2024, 11, 1)), "{item:?}: {:?}", v.source);
        assert_eq!(v.source.accession.as_deref(), Some("0000320193-24-000123"), "{item:?}");
        assert_eq!(v.derived, None);
    }
    assert_eq!(fy.values[&LineItem::EpsDiluted].unit, "USD/shares");
    assert_eq!(
        fy.values[&LineItem::Revenue].concept,
        "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax"
    );
    assert_eq!(fy.available_from(), Some(d(2024, 11, 1)));
    // Cover-page shares (dated 2024-10-18) belong to the year ending 2024-09-28.
    let shares = &fy.values[&LineItem::SharesOutstanding];
    assert_eq!(shares.concept, "dei:EntityCommonStockSharesOutstanding");
    assert!(shares.period.end() > fy.end && (shares.period.end() - fy.end).num_days() <= 120);
}

#[test]
fn apple_q4_is_derived_from_the_year() {
    let st = apple();
    let q4 = period(&st, 2024, FiscalPeriod::Q4);
    assert_eq!(q4.start, Some(d(2024, 6, 30)));
    assert_eq!(q4.end, d(2024, 9, 28));
    let rev = &q4.values[&LineItem::Revenue];
    let parts: Vec<f64> = [FiscalPeriod::FY, FiscalPeriod::Q1, FiscalPeriod::Q2, FiscalPeriod::Q3]
        .iter()
        .map(|&fp| period(&st, 2024, fp).get(LineItem::Revenue).unwrap())
        .collect();
    assert_eq!(rev.value, parts[0] - parts[1] - parts[2] - parts[3]);
    assert_eq!(rev.value, 94_930_000_000.0);
    assert_eq!(rev.derived.as_deref(), Some("FY − Q1 − Q2 − Q3"));
    assert_eq!(rev.source.form.as_deref(), Some("10-K"));
    assert_eq!(rev.source.filed, Some(d(2024, 11, 1)));
    assert_eq!(q4.get(LineItem::EpsDiluted), None, "per-share values are never derived");
    assert_eq!(q4.get(LineItem::TotalAssets), Some(364_980_000_000.0), "balance at the year end");
    // Quarters: Q1 FY2024 = 2023-10-01..2023-12-30.
    let q1 = period(&st, 2024, FiscalPeriod::Q1);
    assert_eq!((q1.start, q1.end), (Some(d(2023, 10, 1)), d(2023, 12, 30)));
    assert_eq!(q1.get(LineItem::Revenue), Some(119_575_000_000.0));
    assert_eq!(q1.values[&LineItem::Revenue].source.form.as_deref(), Some("10-Q"));
}

#[test]
fn apple_prior_years_keep_their_own_fiscal_year() {
    let st = apple();
    let fy22 = period(&st, 2022, FiscalPeriod::FY);
    assert_eq!(fy22.end, d(2022, 9, 24));
    assert_eq!(fy22.get(LineItem::Revenue), Some(394_328_000_000.0));
    assert_eq!(period(&st, 2023, FiscalPeriod::FY).get(LineItem::Revenue), Some(383_285_000_000.0));
    // Every fiscal year is labelled by the calendar year it ends in, once.
    let years: Vec<(i32, NaiveDate)> = st
        .periods
        .iter()
        .filter(|p| p.fiscal_period == FiscalPeriod::FY)
        .map(|p| (p.fiscal_year, p.end))
        .collect();
    for (fy, end) in &years {
        assert_eq!(*fy, end.year(), "{years:?}");
    }
    let mut labels: Vec<String> = st.periods.iter().map(|p| p.label()).collect();
    let n = labels.len();
    labels.dedup();
    assert_eq!(labels.len(), n, "one entry per fiscal period");
    // Sorted by end date, quarters before the year ending the same day.
    for w in st.periods.windows(2) {
        assert!(
            (w[0].end, w[0].fiscal_period) < (w[1].end, w[1].fiscal_period),
            "{} {}",
            w[0].label(),
            w[1].label()
        );
    }
    // The year in progress (FY2026 Q1, ending 2025-12-27) is placed without an annual figure.
    let q1_26 = period(&st, 2026, FiscalPeriod::Q1);
    assert_eq!(q1_26.end, d(2025, 12, 27));
    assert_eq!(q1_26.get(LineItem::Revenue), Some(143_756_000_000.0));
}

#[test]
fn alphabet_calendar_years() {
    let st =
        companyfacts::statements_file(&Path::new(DATA).join("companyfacts_CIK0001652044.json.gz")).unwrap();
    assert_eq!(st.cik, Some(1652044));
    let fy = period(&st, 2024, FiscalPeriod::FY);
    assert_eq!((fy.start, fy.end), (Some(d(2024, 1, 1)), d(2024, 12, 31)));
    assert_eq!(fy.get(LineItem::Revenue), Some(350_018_000_000.0));
    let q3 = period(&st, 2025, FiscalPeriod::Q3);
    assert_eq!((q3.start, q3.end), (Some(d(2025, 7, 1)), d(2025, 9, 30)));
    assert_eq!(q3.get(LineItem::Revenue), Some(102_346_000_000.0));
    for p in &st.periods {
        for (item, v) in &p.values {
            assert!(v.value.is_finite(), "{} {item:?}", p.label());
            if v.derived.is_some() {
                assert!(!item.is_per_share_or_count(), "{} {item:?} derived", p.label());
            }
        }
    }
}

#[test]
fn submissions_index() {
    let (bytes, location) = read(DATA, "submissions_CIK0000320193.json.gz");
    let s = submissions::parse(&bytes, &location).unwrap();
    assert_eq!(s.cik, 320193);
    assert_eq!(s.name.as_deref(), Some("Apple Inc."));
    assert_eq!(s.tickers, vec!["AAPL"]);
    assert_eq!(s.exchanges, vec!["Nasdaq"]);
    assert_eq!(s.sic_description.as_deref(), Some("Electronic Computers"));
    assert_eq!(s.fiscal_year_end.as_deref(), Some("0926"));
    assert_eq!(s.more_files, vec!["CIK0000320193-submissions-001.json"]);
    assert_eq!(s.filings.len(), 1005);
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
    let k = s.filings.iter().find(|f| f.accession == "0000320193-24-000123").unwrap();
    assert_eq!(k.form, "10-K");
    assert_eq!(k.filed, d(2024, 11, 1));
    assert_eq!(k.report_date, Some(d(2024, 9, 28)));
    assert_eq!(k.primary_document.as_deref(), Some("aapl-20240928.htm"));
    assert!(k.inline_xbrl);
    // Newest first, as EDGAR lists them.
    assert!(s.filings.windows(2).all(|w| w[0].filed >= w[1].filed));

    for (name, cik) in
        [("submissions_CIK0001045810.json.gz", 1045810), ("submissions_CIK0001318605.json.gz", 1318605)]
    {
        let (bytes, location) = read(DATA, name);
        let s = submissions::parse(&bytes, &location).unwrap();
        assert_eq!(s.cik, cik);
        assert!(s.filings.iter().any(|f| f.form == "10-K"), "{name}");
    }
}

#[test]
fn submissions_page() {
    let (bytes, location) = read(FIXTURES, "submissions_CIK0001318605-submissions-001.json.gz");
    let (filings, skipped) = submissions::parse_page_with_skipped(&bytes, 1318605, &location).unwrap();
    assert_eq!(filings.len(), 720);
    assert!(skipped.is_empty(), "{skipped:?}");
    assert!(filings.iter().all(|f| f.cik == 1318605));
    assert_eq!(filings[0].accession, "0000950103-18-001851");
    assert_eq!(filings[0].form, "SC 13G/A");
    assert_eq!(filings[0].filed, d(2018, 2, 12));
    assert_eq!(filings[0].report_date, None);
    assert_eq!(submissions::parse_page(&bytes, 1318605, &location).unwrap(), filings);
    // The page is not a main file: it has no cik.
    let err = submissions::parse(&bytes, &location).unwrap_err().to_string();
    assert!(err.contains("submissions_CIK0001318605-submissions-001.json.gz"), "{err}");
}

#[test]
fn company_tickers() {
    let (bytes, location) = read(DATA, "company_tickers.json.gz");
    let cs = tickers::parse(&bytes, &location).unwrap();
    assert!(cs.len() > 5000, "{}", cs.len());
    assert_eq!(tickers::cik_of(&cs, "AAPL").unwrap(), 320193);
    assert_eq!(tickers::cik_of(&cs, "aapl").unwrap(), 320193);
    assert_eq!(tickers::find(&cs, "GOOGL").unwrap().cik, Some(1652044));
    assert_eq!(tickers::find(&cs, "AAPL").unwrap().name.as_deref(), Some("Apple Inc."));
    assert!(cs.iter().all(|c| c.ticker == c.ticker.to_ascii_uppercase() && c.cik.is_some()));
    assert!(matches!(tickers::find(&cs, "NOPE-NOT-A-TICKER"), Err(ConnectorError::UnknownTicker { .. })));
}

#[test]
fn unknown_shapes_name_the_file() {
    let (bytes, location) = read(DATA, "company_tickers.json.gz");
    // company_tickers.json is neither a companyfacts nor a submissions file.
    for err in [
        companyfacts::parse(&bytes, &location).unwrap_err(),
        submissions::parse(&bytes, &location).unwrap_err(),
    ] {
        assert!(matches!(err, ConnectorError::Parse { .. }));
        assert!(err.to_string().contains("company_tickers.json.gz"), "{err}");
    }
    let (bytes, location) = read(DATA, "submissions_CIK0000320193.json.gz");
    let err = tickers::parse(&bytes, &location).unwrap_err().to_string();
    assert!(err.contains("submissions_CIK0000320193.json.gz"), "{err}");
}
