//! company_tickers.json → ticker ↔ CIK.
//!
//! EDGAR publishes two shapes: `company_tickers.json`
//! (`{"0": {"cik_str": 320193, "ticker": "AAPL", "title": "Apple Inc."}, ...}`) and
//! `company_tickers_exchange.json`
//! (`{"fields": ["cik", "name", "ticker", "exchange"], "data": [[320193, "Apple Inc.", "AAPL", "Nasdaq"], ...]}`).
//! [`parse`] reads either.

use serde_json::{Map, Value};

use crate::error::{ConnectorError, Result};
use crate::types::Company;

/// Parses `company_tickers.json` or `company_tickers_exchange.json` into companies, in file
/// order. Tickers are upper-cased; `exchange` is filled only by the exchange variant.
/// `location` (a file path or URL) names the document in errors.
pub fn parse(json: &[u8], location: &str) -> Result<Vec<Company>> {
    let root: Value = serde_json::from_slice(json)
        .map_err(|e| ConnectorError::parse(location, format!("not JSON: {e}")))?;
    let Some(obj) = root.as_object() else {
        return Err(ConnectorError::parse(
            location,
            format!("expected a JSON object of companies, found {}", kind(&root)),
        ));
    };
    if obj.contains_key("fields") || obj.contains_key("data") {
        parse_exchange(obj, location)
    } else {
        parse_plain(obj, location)
    }
}

/// The company with `ticker` (case-insensitive), or [`ConnectorError::UnknownTicker`] naming
/// close matches.
pub fn find<'a>(companies: &'a [Company], ticker: &str) -> Result<&'a Company> {
    let wanted = ticker.trim().to_ascii_uppercase();
    if let Some(c) = companies.iter().find(|c| c.ticker == wanted) {
        return Ok(c);
    }
    // Close matches: same ticker with another class separator (BRK.B ↔ BRK-B) or a prefix.
    let squashed = |t: &str| t.replace(['.', '-', '/'], "");
    let close: Vec<&str> = companies
        .iter()
        .filter(|c| {
            !wanted.is_empty()
                && (squashed(&c.ticker) == squashed(&wanted)
                    || c.ticker.starts_with(&wanted)
                    || wanted.starts_with(&c.ticker))
        })
        .map(|c| c.ticker.as_str())
        .take(5)
        .collect();
    let detail = if close.is_empty() {
        format!("not among {} SEC company tickers", companies.len())
    } else {
        format!("not among {} SEC company tickers; close: {}", companies.len(), close.join(", "))
    };
    Err(ConnectorError::UnknownTicker { ticker: ticker.to_string(), detail })
}

/// The CIK of `ticker` (case-insensitive); see [`find`].
pub fn cik_of(companies: &[Company], ticker: &str) -> Result<u64> {
    let c = find(companies, ticker)?;
    c.cik.ok_or_else(|| ConnectorError::UnknownTicker {
        ticker: ticker.to_string(),
        detail: "the company has no CIK".to_string(),
    })
}

/// The companies registered under `cik` (one CIK can list several tickers: share classes).
pub fn by_cik(companies: &[Company], cik: u64) -> Vec<&Company> {
    companies.iter().filter(|c| c.cik == Some(cik)).collect()
}

fn parse_plain(obj: &Map<String, Value>, location: &str) -> Result<Vec<Company>> {
    let mut out = Vec::with_capacity(obj.len());
    for (key, entry) in obj {
        let at = |field: &str| format!("[{key:?}].{field}");
        let Some(entry) = entry.as_object() else {
            return Err(ConnectorError::parse(
                location,
                format!(
                    "[{key:?}]: expected an object with cik_str, ticker and title, found {}",
                    kind(entry)
                ),
            ));
        };
        let cik = entry
            .get("cik_str")
            .or_else(|| entry.get("cik"))
            .ok_or_else(|| ConnectorError::parse(location, format!("{}: missing", at("cik_str"))))
            .and_then(|v| {
                cik_value(v).map_err(|m| ConnectorError::parse(location, format!("{}: {m}", at("cik_str"))))
            })?;
        let ticker = match entry.get("ticker") {
            Some(Value::String(t)) if !t.trim().is_empty() => t.trim().to_ascii_uppercase(),
            Some(v) => {
                return Err(ConnectorError::parse(
                    location,
                    format!("{}: expected a non-empty string, found {}", at("ticker"), kind(v)),
                ));
            }
            None => return Err(ConnectorError::parse(location, format!("{}: missing", at("ticker")))),
        };
        let name = optional_string(entry.get("title"), location, &at("title"))?;
        out.push(Company { ticker, cik: Some(cik), name, sector: None, industry: None, exchange: None });
    }
    Ok(out)
}

fn parse_exchange(obj: &Map<String, Value>, location: &str) -> Result<Vec<Company>> {
    let fields = obj
        .get("fields")
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectorError::parse(location, "fields: expected an array of column names"))?;
    let data = obj
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectorError::parse(location, "data: expected an array of rows"))?;
    let column = |name: &str| fields.iter().position(|f| f.as_str() == Some(name));
    let (Some(cik_col), Some(ticker_col)) = (column("cik"), column("ticker")) else {
        return Err(ConnectorError::parse(
            location,
            format!(
                "fields: expected columns \"cik\" and \"ticker\", found {}",
                Value::Array(fields.clone())
            ),
        ));
    };
    let name_col = column("name");
    let exchange_col = column("exchange");
    let mut out = Vec::with_capacity(data.len());
    for (i, row) in data.iter().enumerate() {
        let Some(row) = row.as_array() else {
            return Err(ConnectorError::parse(
                location,
                format!("data[{i}]: expected an array, found {}", kind(row)),
            ));
        };
        if row.len() != fields.len() {
            return Err(ConnectorError::parse(
                location,
                format!("data[{i}]: {} cells for {} fields", row.len(), fields.len()),
            ));
        }
        let cell = |col: usize| row.get(col).unwrap_or(&Value::Null);
        let cik = cik_value(cell(cik_col))
            .map_err(|m| ConnectorError::parse(location, format!("data[{i}][{cik_col}] (cik): {m}")))?;
        let ticker = match cell(ticker_col) {
            Value::String(t) if !t.trim().is_empty() => t.trim().to_ascii_uppercase(),
            v => {
                return Err(ConnectorError::parse(
                    location,
                    format!(
                        "data[{i}][{ticker_col}] (ticker): expected a non-empty string, found {}",
                        kind(v)
                    ),
                ));
            }
        };
        let name = match name_col {
            Some(c) => optional_string(Some(cell(c)), location, &format!("data[{i}][{c}] (name)"))?,
            None => None,
        };
        let exchange = match exchange_col {
            Some(c) => optional_string(Some(cell(c)), location, &format!("data[{i}][{c}] (exchange)"))?,
            None => None,
        };
        out.push(Company { ticker, cik: Some(cik), name, sector: None, industry: None, exchange });
    }
    Ok(out)
}

/// A CIK given as a number (`320193`) or a string (`"0000320193"`).
pub(crate) fn cik_value(v: &Value) -> std::result::Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("expected a positive whole CIK, found {n}")),
        Value::String(s) => {
            s.trim().parse::<u64>().map_err(|_| format!("expected a CIK of digits, found {s:?}"))
        }
        other => Err(format!("expected a CIK (number or string of digits), found {}", kind(other))),
    }
}

/// A string field that may be absent, `null` or empty (→ `None`).
fn optional_string(v: Option<&Value>, location: &str, at: &str) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok((!s.trim().is_empty()).then(|| s.trim().to_string())),
        Some(other) => {
            Err(ConnectorError::parse(location, format!("{at}: expected a string, found {}", kind(other))))
        }
    }
}

/// A short name of a JSON value's type for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_format() {
        let json = br#"{"0":{"cik_str":320193,"ticker":"aapl","title":"Apple Inc."},
                        "1":{"cik_str":"1652044","ticker":"GOOGL","title":"Alphabet Inc."},
                        "2":{"cik_str":1067983,"ticker":"BRK-B","title":"BERKSHIRE HATHAWAY INC"}}"#;
        let cs = parse(json, "company_tickers.json").unwrap();
        assert_eq!(cs.len(), 3);
        assert_eq!(cs[0].ticker, "AAPL");
        assert_eq!(cs[0].cik, Some(320193));
        assert_eq!(cs[0].name.as_deref(), Some("Apple Inc."));
        assert_eq!(cs[0].exchange, None);
        assert_eq!(cs[1].cik, Some(1652044));
        assert_eq!(cik_of(&cs, "aapl").unwrap(), 320193);
        assert_eq!(by_cik(&cs, 1652044)[0].ticker, "GOOGL");
        let err = find(&cs, "BRK.B").unwrap_err().to_string();
        assert!(err.contains("BRK-B"), "{err}");
        assert!(matches!(find(&cs, "ZZZZ"), Err(ConnectorError::UnknownTicker { .. })));
    }

    #[test]
    fn exchange_format() {
        let json = br#"{"fields":["cik","name","ticker","exchange"],
                        "data":[[320193,"Apple Inc.","AAPL","Nasdaq"],[1045810,"NVIDIA CORP","nvda",null]]}"#;
        let cs = parse(json, "company_tickers_exchange.json").unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].exchange.as_deref(), Some("Nasdaq"));
        assert_eq!(cs[1].ticker, "NVDA");
        assert_eq!(cs[1].exchange, None);
        assert_eq!(cs[1].name.as_deref(), Some("NVIDIA CORP"));
    }

    #[test]
    fn bad_shapes_name_the_file() {
        for (json, needle) in [
            (&b"[1,2]"[..], "expected a JSON object"),
            (&b"{\"0\": 5}"[..], "[\"0\"]"),
            (&b"{\"0\": {\"cik_str\": 1}}"[..], "ticker"),
            (&b"{\"0\": {\"cik_str\": \"x\", \"ticker\": \"A\"}}"[..], "cik_str"),
            (&b"{\"fields\": [\"name\"], \"data\": []}"[..], "fields"),
            (&b"{\"fields\": [\"cik\",\"ticker\"], \"data\": [[1]]}"[..], "data[0]"),
            (&b"not json"[..], "not JSON"),
        ] {
            let err = parse(json, "/tmp/tickers.json").unwrap_err().to_string();
            assert!(err.contains("/tmp/tickers.json") && err.contains(needle), "{err}");
        }
    }
}
