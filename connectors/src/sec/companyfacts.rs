//! companyfacts JSON → facts → normalised statements.
//!
//! `data.sec.gov/api/xbrl/companyfacts/CIK##########.json` lists every XBRL fact a company
//! filed, per taxonomy and concept and unit:
//! `{cik, entityName, facts: {"us-gaap": {"Revenues": {label, description, units: {"USD":
//! [{start?, end, val, accn, fy, fp, form, filed, frame?}, ...]}}}, "dei": {...}}}`.
//! [`parse`] turns each entry into a [`Fact`]; [`statements`] also normalises them into fiscal
//! years and quarters with [`super::normalize::statements_from_facts`].

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::normalize::statements_from_facts;
use super::tickers::{cik_value, kind};
use crate::error::{ConnectorError, Result};
use crate::types::{Fact, FiscalPeriod, Period, SkippedRow, SourceRef, Statements};

/// Every fact of one company's companyfacts file.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanyFacts {
    /// CIK of the company.
    pub cik: u64,
    /// Entity name (`entityName`).
    pub entity_name: Option<String>,
    /// One fact per entry, concept qualified by taxonomy (`us-gaap:Revenues`), no dimensions,
    /// no decimals (companyfacts gives none).
    pub facts: Vec<Fact>,
    /// Entries that could not be read (non-numeric values, bad dates), with reasons.
    pub skipped: Vec<SkippedRow>,
}

/// Parses a companyfacts JSON document. `location` (a file path or URL) names the document in
/// errors and skipped rows. A document of another shape is an error; a bad entry is skipped.
pub fn parse(json: &[u8], location: &str) -> Result<CompanyFacts> {
    let root = match serde_json::from_slice::<Value>(json) {
        Ok(Value::Object(m)) => m,
        Ok(other) => {
            return Err(ConnectorError::parse(
                location,
                format!("expected a JSON object, found {}", kind(&other)),
            ));
        }
        Err(e) => return Err(ConnectorError::parse(location, format!("not JSON: {e}"))),
    };
    let cik = match root.get("cik") {
        Some(v) => cik_value(v).map_err(|m| ConnectorError::parse(location, format!("cik: {m}")))?,
        None => return Err(ConnectorError::parse(location, "cik: missing (not a companyfacts file?)")),
    };
    let entity_name = match root.get("entityName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => (!s.trim().is_empty()).then(|| s.trim().to_string()),
        Some(other) => {
            return Err(ConnectorError::parse(
                location,
                format!("entityName: expected a string, found {}", kind(other)),
            ));
        }
    };
    let taxonomies = match root.get("facts") {
        Some(Value::Object(m)) => m,
        // A company without XBRL data has `"facts": {}` or (rarely) none at all.
        None | Some(Value::Null) => &Map::new(),
        Some(other) => {
            return Err(ConnectorError::parse(
                location,
                format!("facts: expected an object, found {}", kind(other)),
            ));
        }
    };

    let document = format!("companyfacts CIK{}", super::cik10(cik));
    let mut facts = Vec::new();
    let mut skipped = Vec::new();
    for (taxonomy, concepts) in taxonomies {
        let Some(concepts) = concepts.as_object() else {
            return Err(ConnectorError::parse(
                location,
                format!("facts.{taxonomy}: expected an object of concepts, found {}", kind(concepts)),
            ));
        };
        for (name, concept) in concepts {
            let path = format!("facts.{taxonomy}.{name}");
            let units = match concept.get("units") {
                Some(Value::Object(u)) => u,
                Some(other) => {
                    return Err(ConnectorError::parse(
                        location,
                        format!("{path}.units: expected an object, found {}", kind(other)),
                    ));
                }
                None => return Err(ConnectorError::parse(location, format!("{path}.units: missing"))),
            };
            let qualified = format!("{taxonomy}:{name}");
            for (unit, entries) in units {
                let Some(entries) = entries.as_array() else {
                    return Err(ConnectorError::parse(
                        location,
                        format!("{path}.units.{unit}: expected an array, found {}", kind(entries)),
                    ));
                };
                for (i, entry) in entries.iter().enumerate() {
                    match entry_fact(entry, &qualified, unit, &document) {
                        Ok(fact) => facts.push(fact),
                        Err(reason) => skipped.push(SkippedRow {
                            location: format!("{location}: {path}.units.{unit}[{i}]"),
                            reason: format!("{qualified}: {reason}"),
                        }),
                    }
                }
            }
        }
    }
    if !skipped.is_empty() {
        tracing::warn!(location, skipped = skipped.len(), "companyfacts entries skipped");
    }
    Ok(CompanyFacts { cik, entity_name, facts, skipped })
}

/// Reads and parses a companyfacts file (gzip or plain); see [`parse`].
pub fn parse_file(path: &Path) -> Result<CompanyFacts> {
    let bytes = crate::files::read_bytes(path)?;
    parse(&bytes, &path.display().to_string())
}

/// Parses a companyfacts document and normalises it into statements (fiscal years and
/// quarters). `skipped` lists unreadable entries and facts the normalisation could not use.
pub fn statements(json: &[u8], location: &str) -> Result<Statements> {
    let cf = parse(json, location)?;
    Ok(to_statements(cf))
}

/// Reads a companyfacts file (gzip or plain) and normalises it; see [`statements`].
pub fn statements_file(path: &Path) -> Result<Statements> {
    Ok(to_statements(parse_file(path)?))
}

fn to_statements(cf: CompanyFacts) -> Statements {
    let (periods, more) = statements_from_facts(&cf.facts);
    let mut skipped = cf.skipped;
    skipped.extend(more);
    Statements { ticker: None, cik: Some(cf.cik), entity_name: cf.entity_name, periods, skipped }
}

fn date(entry: &Map<String, Value>, field: &str) -> std::result::Result<Option<NaiveDate>, String> {
    match entry.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("bad {field} date {s:?}")),
        Some(other) => Err(format!("{field} is {}, not a date", kind(other))),
    }
}

fn text(entry: &Map<String, Value>, field: &str) -> Option<String> {
    entry.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// One companyfacts entry as a fact, or why it cannot be one.
fn entry_fact(entry: &Value, concept: &str, unit: &str, document: &str) -> std::result::Result<Fact, String> {
    let Some(entry) = entry.as_object() else {
        return Err(format!("entry is {}, not an object", kind(entry)));
    };
    let value = match entry.get("val") {
        Some(Value::Number(n)) => {
            n.as_f64().filter(|v| v.is_finite()).ok_or_else(|| format!("val {n} is not finite"))?
        }
        Some(other) => return Err(format!("val {other} is not a number")),
        None => return Err("no val".to_string()),
    };
    let end = date(entry, "end")?.ok_or("no end date")?;
    let period = match date(entry, "start")? {
        None => Period::Instant { date: end },
        Some(start) if start <= end => Period::Duration { start, end },
        Some(start) => return Err(format!("start {start} is after end {end}")),
    };
    let filed = date(entry, "filed")?.ok_or("no filed date")?;
    let accession = text(entry, "accn");
    let form = text(entry, "form");
    let fiscal_year = entry.get("fy").and_then(Value::as_i64).and_then(|y| i32::try_from(y).ok());
    let fiscal_period = text(entry, "fp").and_then(|p| p.parse::<FiscalPeriod>().ok());

    let mut location = Vec::new();
    if let Some(a) = &accession {
        location.push(format!("accn {a}"));
    }
    if let Some(f) = &form {
        location.push(format!("form {f}"));
    }
    location.push(format!("filed {filed}"));
    if let Some(y) = fiscal_year {
        location.push(format!("fy {y}"));
    }
    if let Some(p) = fiscal_period {
        location.push(format!("fp {}", p.as_str()));
    }

    Ok(Fact {
        concept: concept.to_string(),
        value,
        unit: unit.to_string(),
        period,
        dimensions: BTreeMap::new(),
        decimals: None,
        source: SourceRef {
            document: document.to_string(),
            location: location.join(" "),
            accession,
            form,
            filed: Some(filed),
            fiscal_year,
            fiscal_period,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::LineItem;

    const DOC: &str = r#"{"cik": 320193, "entityName": "Apple Inc.", "facts": {
      "dei": {"EntityCommonStockSharesOutstanding": {"label": "x", "units": {"shares": [
        {"end": "2024-10-18", "val": 15115823000, "accn": "0000320193-24-000123", "fy": 2024, "fp": "FY", "form": "10-K", "filed": "2024-11-01"}]}}},
      "us-gaap": {
        "Revenues": {"label": "Revenues", "description": "d", "units": {"USD": [
          {"start": "2023-10-01", "end": "2024-09-28", "val": 391035000000, "accn": "0000320193-24-000123", "fy": 2024, "fp": "FY", "form": "10-K", "filed": "2024-11-01"},
          {"start": "2023-10-01", "end": "2024-09-28", "val": "n/a", "accn": "0000320193-24-000123", "fy": 2024, "fp": "FY", "form": "10-K", "filed": "2024-11-01"},
          {"start": "2023-10-01", "end": "2024-02-30", "val": 5, "accn": "0000320193-24-000123", "fy": 2024, "fp": "FY", "form": "10-K", "filed": "2024-11-01"},
          {"start": "2022-09-25", "end": "2023-09-30", "val": 383285000000, "accn": "0000320193-23-000106", "fy": 2023, "fp": "FY", "form": "10-K", "filed": "2023-11-03"},
          {"start": "2022-09-25", "end": "2023-09-30", "val": 383000000000, "accn": "0000320193-24-000123", "fy": 2024, "fp": "FY", "form": "10-K", "filed": "2024-11-01", "frame": "CY2023"}]}},
        "Assets": {"label": "Assets", "units": {"USD": [
          {"end": "2024-09-28", "val": 364980000000, "accn": "0000320193-24-000123", "fy": 2024, "fp": "FY", "form": "10-K", "filed": "2024-11-01"}]}}}}}"#;

    #[test]
    fn parses_entries_into_facts() {
        let cf = parse(DOC.as_bytes(), "cf.json").unwrap();
        assert_eq!(cf.cik, 320193);
        assert_eq!(cf.entity_name.as_deref(), Some("Apple Inc."));
        assert_eq!(cf.facts.len(), 5);
        let rev = cf.facts.iter().find(|f| f.concept == "us-gaap:Revenues").unwrap();
        assert_eq!(rev.value, 391035000000.0);
        assert_eq!(rev.unit, "USD");
        assert!(matches!(rev.period, Period::Duration { .. }));
        assert_eq!(rev.decimals, None);
        assert_eq!(rev.source.document, "companyfacts CIK0000320193");
        assert_eq!(rev.source.location, "accn 0000320193-24-000123 form 10-K filed 2024-11-01 fy 2024 fp FY");
        assert_eq!(rev.source.fiscal_period, Some(FiscalPeriod::FY));
        let assets = cf.facts.iter().find(|f| f.concept == "us-gaap:Assets").unwrap();
        assert!(matches!(assets.period, Period::Instant { .. }));
        assert_eq!(cf.skipped.len(), 2, "{:?}", cf.skipped);
        assert!(cf.skipped[0].location.starts_with("cf.json: facts.us-gaap.Revenues.units.USD[1]"));
        assert!(cf.skipped[0].reason.contains("not a number"));
        assert!(cf.skipped[1].reason.contains("2024-02-30"));
    }

    #[test]
    fn statements_restatement_latest_filing_wins() {
        let st = statements(DOC.as_bytes(), "cf.json").unwrap();
        assert_eq!(st.cik, Some(320193));
        let fy23 = st.periods.iter().find(|p| p.label() == "FY2023").unwrap();
        let rev = &fy23.values[&LineItem::Revenue];
        assert_eq!(rev.value, 383_000_000_000.0, "restated value filed 2024-11-01 wins");
        assert_eq!(rev.source.filed, NaiveDate::from_ymd_opt(2024, 11, 1));
        let fy24 = st.periods.iter().find(|p| p.label() == "FY2024").unwrap();
        assert_eq!(fy24.get(LineItem::TotalAssets), Some(364_980_000_000.0));
        assert_eq!(fy24.get(LineItem::SharesOutstanding), Some(15_115_823_000.0));
    }

    #[test]
    fn bad_shapes_name_the_file_and_path() {
        for (json, needle) in [
            (r#"[]"#, "expected a JSON object"),
            (r#"{"entityName": "x"}"#, "cik"),
            (r#"{"cik": 1, "facts": []}"#, "facts"),
            (
                r#"{"cik": 1, "facts": {"us-gaap": {"Revenues": {"label": "x"}}}}"#,
                "facts.us-gaap.Revenues.units",
            ),
            (r#"{"cik": 1, "facts": {"us-gaap": {"Revenues": {"units": {"USD": {}}}}}}"#, "units.USD"),
        ] {
            let err = parse(json.as_bytes(), "/data/cf.json").unwrap_err().to_string();
            assert!(err.contains("/data/cf.json") && err.contains(needle), "{err}");
        }
        assert!(parse(br#"{"cik": "0000000001", "facts": {}}"#, "x").unwrap().facts.is_empty());
    }
}
