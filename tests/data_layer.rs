//! The data layer end to end on the demo universe in `data/`: ratios against hand
//! computations from the statement lines, the 52-week range from a known price window, no
//! look-ahead, iXBRL and companyfacts agreeing, and a one-ticker universe.

use std::path::{Path, PathBuf};

use bullpen::analytics::{RatioEngine, RatioReport, RatioValue};
use bullpen_connectors::universe::{Universe, UniverseConfig};
use bullpen_connectors::{
    DateRange, FiscalPeriod, FundamentalsSource, LineItem, PriceSource, StatementPeriod,
};
use chrono::NaiveDate;

fn demo() -> Universe {
    Universe::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("data"), &UniverseConfig::default()).unwrap()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn period<'a>(r: &'a RatioReport, label: &str) -> &'a [RatioValue] {
    &r.periods
        .iter()
        .find(|p| p.label == label)
        .unwrap_or_else(|| panic!("no {label} in {:?}", labels(r)))
        .values
}

fn labels(r: &RatioReport) -> Vec<String> {
    r.periods.iter().map(|p| p.label.clone()).collect()
}

fn value(values: &[RatioValue], name: &str) -> f64 {
    let v = values.iter().find(|v| v.name == name).unwrap();
    v.value.unwrap_or_else(|| panic!("{name} absent: {:?}", v.reason))
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
}

fn fy(periods: &[StatementPeriod], year: i32) -> &StatementPeriod {
    periods.iter().find(|p| p.fiscal_year == year && p.fiscal_period == FiscalPeriod::FY).unwrap()
}

#[tokio::test]
async fn aapl_ratios_match_hand_computations_from_statement_lines() {
    let u = demo();
    let as_of = d("2024-03-08");
    let s = u.statements_as_of("AAPL", as_of).await.unwrap();
    let p = fy(&s.periods, 2023);
    let prior = fy(&s.periods, 2022);
    let g = |item: LineItem| p.get(item).unwrap_or_else(|| panic!("FY2023 {item:?} missing"));
    // Published FY2023 figures (10-K filed 2023-11-03), read back from the data.
    close(g(LineItem::Revenue), 383_285_000_000.0);
    close(g(LineItem::NetIncome), 96_995_000_000.0);

    let r = RatioEngine::default().report(&u, "AAPL", Some(as_of)).await.unwrap();
    let v = period(&r, "FY2023");
    let rev = g(LineItem::Revenue);
    close(value(v, "revenue_growth"), rev / prior.get(LineItem::Revenue).unwrap() - 1.0);
    let gross = p.get(LineItem::GrossProfit).unwrap_or(rev - g(LineItem::CostOfRevenue));
    close(value(v, "gross_margin"), gross / rev);
    close(value(v, "operating_margin"), g(LineItem::OperatingIncome) / rev);
    close(value(v, "net_margin"), g(LineItem::NetIncome) / rev);
    close(value(v, "ebitda"), g(LineItem::OperatingIncome) + g(LineItem::DepreciationAmortization));
    let fcf = g(LineItem::OperatingCashFlow) - g(LineItem::CapitalExpenditure);
    close(value(v, "free_cash_flow"), fcf);
    close(value(v, "fcf_conversion"), fcf / g(LineItem::NetIncome));
    close(value(v, "roe"), g(LineItem::NetIncome) / g(LineItem::StockholdersEquity));
    close(value(v, "roa"), g(LineItem::NetIncome) / g(LineItem::TotalAssets));
    let debt = g(LineItem::LongTermDebt) + g(LineItem::ShortTermDebt);
    close(value(v, "debt_to_equity"), debt / g(LineItem::StockholdersEquity));
    close(value(v, "current_ratio"), g(LineItem::CurrentAssets) / g(LineItem::CurrentLiabilities));
    close(value(v, "interest_coverage"), g(LineItem::OperatingIncome) / g(LineItem::InterestExpense));
    let tax = g(LineItem::IncomeTax) / g(LineItem::PretaxIncome);
    let invested = g(LineItem::StockholdersEquity) + debt - g(LineItem::Cash);
    close(value(v, "roic"), g(LineItem::OperatingIncome) * (1.0 - tax) / invested);
    close(value(v, "eps_diluted"), 6.13);

    // Valuation at the close on the period end (2023-09-29, the last trading day).
    let prices = u.daily_prices("AAPL", DateRange::ALL).await.unwrap();
    let bar = prices.bars.iter().rev().find(|b| b.date <= p.end).unwrap();
    assert_eq!(bar.date, d("2023-09-29"));
    close(value(v, "pe"), bar.close / g(LineItem::EpsDiluted));

    // Every value carries its inputs, with the concept and the document they came from.
    let gm = v.iter().find(|x| x.name == "gross_margin").unwrap();
    assert!(
        gm.inputs
            .iter()
            .any(|i| i.name == "revenue" && i.concept.starts_with("us-gaap:") && i.filed.is_some())
    );
    let pe = v.iter().find(|x| x.name == "pe").unwrap();
    assert!(pe.inputs.iter().any(|i| i.name == "price" && i.document.ends_with("AAPL.csv.gz")), "{pe:?}");
}

#[tokio::test]
async fn fifty_two_week_range_and_returns_from_the_price_window() {
    let u = demo();
    let as_of = d("2024-03-08");
    let bars = u.daily_prices("AAPL", DateRange::ALL).await.unwrap().bars;
    let start = d("2023-03-08");
    let window: Vec<_> = bars.iter().filter(|b| b.date > start && b.date <= as_of).collect();
    let high = window.iter().map(|b| b.high).fold(f64::MIN, f64::max);
    let low = window.iter().map(|b| b.low).fold(f64::MAX, f64::min);
    let r = RatioEngine::default().report(&u, "AAPL", Some(as_of)).await.unwrap();
    close(value(&r.market, "high_52w"), high);
    close(value(&r.market, "low_52w"), low);
    assert!(high > low, "high from daily highs, low from daily lows");
    let month_ago = bars.iter().rev().find(|b| b.date <= d("2024-02-08")).unwrap();
    close(value(&r.market, "return_1m"), bars.last().unwrap().adj_close / month_ago.adj_close - 1.0);
    // The demo index ends in 2018: beta is absent with the reason, never zero.
    let beta = r.market.iter().find(|m| m.name == "beta").unwrap();
    assert!(beta.value.is_none() && beta.reason.as_deref().unwrap().contains("2018-12-31"), "{beta:?}");

    // In 2017 the index covers the window: beta is computed.
    let r = RatioEngine::default().report(&u, "AAPL", Some(d("2017-06-30"))).await.unwrap();
    let beta = value(&r.market, "beta");
    assert!(beta > 0.3 && beta < 2.5, "AAPL beta {beta}");
}

#[tokio::test]
async fn no_look_ahead_before_the_filing_date() {
    let u = demo();
    // Apple's FY2024 10-K was filed on 2024-11-01.
    let before = RatioEngine::default().report(&u, "AAPL", Some(d("2024-10-31"))).await.unwrap();
    assert!(!labels(&before).contains(&"FY2024".to_string()), "{:?}", labels(&before));
    assert!(labels(&before).contains(&"Q3 FY2024".to_string()), "{:?}", labels(&before));
    let on = RatioEngine::default().report(&u, "AAPL", Some(d("2024-11-01"))).await.unwrap();
    close(value(period(&on, "FY2024"), "eps_diluted"), 6.08);
    // Prices end in March 2024: valuation needs a price near the date, so it is absent with why.
    let pe = on.valuation.as_ref().unwrap().values.iter().find(|v| v.name == "pe").unwrap();
    assert!(pe.value.is_none() && pe.reason.as_deref().unwrap().contains("2024-03-08"), "{pe:?}");
    // Nothing is ever filed after the as-of date.
    for p in &before.periods {
        for v in &p.values {
            assert!(
                v.inputs.iter().all(|i| i.filed.is_none_or(|f| f <= d("2024-10-31"))),
                "{} {v:?}",
                p.label
            );
        }
    }
}

#[tokio::test]
async fn ixbrl_and_companyfacts_agree_for_aapl_fy2024() {
    let u = demo();
    let filing = u
        .filing_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/filings/aapl-10-k-2024-11-01.html.gz"))
        .await
        .unwrap();
    assert_eq!(filing.meta.filed, Some(d("2024-11-01")));
    let cf = bullpen_connectors::sec::companyfacts::statements_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sec/companyfacts_CIK0000320193.json.gz"),
    )
    .unwrap();
    let (from_filing, _) = bullpen_connectors::sec::normalize::statements_from_facts(&filing.facts);
    let a = fy(&from_filing, 2024);
    let b = fy(&cf.periods, 2024);
    for (item, published) in [
        (LineItem::Revenue, 391_035_000_000.0),
        (LineItem::NetIncome, 93_736_000_000.0),
        (LineItem::EpsDiluted, 6.08),
        (LineItem::TotalAssets, 364_980_000_000.0),
    ] {
        close(a.get(item).unwrap(), published);
        close(b.get(item).unwrap(), published);
    }
}

#[tokio::test]
async fn one_filing_and_one_price_file_are_enough_for_a_ticker() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("prices")).unwrap();
    std::fs::create_dir_all(dir.path().join("filings")).unwrap();
    std::fs::copy(root.join("prices/KO.csv.gz"), dir.path().join("prices/KO.csv.gz")).unwrap();
    std::fs::copy(
        root.join("filings/ko-10-k-2025-02-20.html.gz"),
        dir.path().join("filings/coca-cola.htm.gz"),
    )
    .unwrap();
    // A broken document beside it does not hide the good one.
    std::fs::write(dir.path().join("filings/broken.html"), "<html><body><p>not a filing</p></body></html>")
        .unwrap();
    let u = Universe::open(dir.path(), &UniverseConfig::default()).unwrap();
    let company = bullpen_connectors::ReferenceSource::company(&u, "KO").await.unwrap();
    assert_eq!(company.cik, Some(21344));
    let all = u.all_filings().await.unwrap();
    assert_eq!(all.errors.len(), 1);
    assert!(all.errors[0].location.ends_with("broken.html"));
    // Filed "by" 2025-03-31 (the deadline bound): unknown on 2025-03-01, known on 2025-04-01.
    let early = RatioEngine::default().report(&u, "KO", Some(d("2025-03-01"))).await.unwrap();
    assert!(!labels(&early).contains(&"FY2024".to_string()));
    let r = RatioEngine::default().report(&u, "KO", Some(d("2025-04-01"))).await.unwrap();
    let fy2024 = period(&r, "FY2024");
    assert!(value(fy2024, "net_margin") > 0.0);
    // The file name has no date: the filing date is the statutory bound after the period end.
    let filing = &u.filings_of("KO").await.unwrap()[0];
    assert_eq!(filing.meta.filed, Some(d("2024-12-31") + chrono::Days::new(90)));
    let err = RatioEngine::default().report(&u, "MSFT", None).await.unwrap_err().to_string();
    assert!(err.contains("MSFT"), "{err}");
}
