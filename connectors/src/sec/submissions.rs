//! submissions JSON → filing index.
//!
//! `data.sec.gov/submissions/CIK##########.json` holds the company's details and its most recent
//! filings as columnar arrays under `filings.recent` (`accessionNumber`, `filingDate`,
//! `reportDate`, `form`, `primaryDocument`, `isInlineXBRL` ...), plus the names of older pages
//! under `filings.files`. An older page (`CIK##########-submissions-001.json`) has the same
//! columnar arrays at its top level.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::tickers::{cik_value, kind};
use crate::error::{ConnectorError, Result};
use crate::types::{FilingRef, SkippedRow};

/// A company's submissions file: details and filing index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submissions {
    /// CIK of the filer.
    pub cik: u64,
    /// Registered name.
    pub name: Option<String>,
    /// Tickers (upper case), in the file's order.
    pub tickers: Vec<String>,
    /// Exchanges, in the file's order (parallel to `tickers` in EDGAR's data).
    pub exchanges: Vec<String>,
    /// SIC industry description (`Electronic Computers`).
    pub sic_description: Option<String>,
    /// Fiscal year end as `MMDD` (`"0928"`).
    pub fiscal_year_end: Option<String>,
    /// The recent filings, in file order (newest first).
    pub filings: Vec<FilingRef>,
    /// File names of older pages (`filings.files[].name`), to be read with [`parse_page`].
    pub more_files: Vec<String>,
    /// Rows of `filings.recent` that could not be used (bad dates ...), with reasons.
    pub skipped: Vec<SkippedRow>,
}

/// Parses a company's main submissions file. `location` (a file path or URL) names the
/// document in errors. Columns of unequal length are an error; a row with a bad date is
/// skipped (listed in [`Submissions::skipped`], logged as a warning).
pub fn parse(json: &[u8], location: &str) -> Result<Submissions> {
    let root = parse_object(json, location)?;
    let cik = match root.get("cik") {
        Some(v) => cik_value(v).map_err(|m| ConnectorError::parse(location, format!("cik: {m}")))?,
        None => return Err(ConnectorError::parse(location, "cik: missing (not a submissions file?)")),
    };
    let name = string_field(&root, "name", location)?;
    let tickers =
        string_list(&root, "tickers", location)?.into_iter().map(|t| t.to_ascii_uppercase()).collect();
    let exchanges = string_list(&root, "exchanges", location)?;
    let sic_description = string_field(&root, "sicDescription", location)?;
    let fiscal_year_end = string_field(&root, "fiscalYearEnd", location)?;

    let Some(filings) = root.get("filings") else {
        return Err(ConnectorError::parse(location, "filings: missing (not a submissions file?)"));
    };
    let Some(filings) = filings.as_object() else {
        return Err(ConnectorError::parse(
            location,
            format!("filings: expected an object, found {}", kind(filings)),
        ));
    };
    let recent = match filings.get("recent") {
        Some(Value::Object(r)) => r,
        Some(other) => {
            return Err(ConnectorError::parse(
                location,
                format!("filings.recent: expected an object of columns, found {}", kind(other)),
            ));
        }
        None => return Err(ConnectorError::parse(location, "filings.recent: missing")),
    };
    let (filings_out, skipped) = columns(recent, cik, location, "filings.recent")?;

    let mut more_files = Vec::new();
    match filings.get("files") {
        None | Some(Value::Null) => {}
        Some(Value::Array(files)) => {
            for (i, f) in files.iter().enumerate() {
                match f.get("name") {
                    Some(Value::String(n)) if !n.is_empty() => more_files.push(n.clone()),
                    _ => {
                        return Err(ConnectorError::parse(
                            location,
                            format!("filings.files[{i}].name: expected a file name"),
                        ));
                    }
                }
            }
        }
        Some(other) => {
            return Err(ConnectorError::parse(
                location,
                format!("filings.files: expected an array, found {}", kind(other)),
            ));
        }
    }

    Ok(Submissions {
        cik,
        name,
        tickers,
        exchanges,
        sic_description,
        fiscal_year_end,
        filings: filings_out,
        more_files,
        skipped,
    })
}

/// Parses an older page of a company's filing index (`CIK##########-submissions-001.json`):
/// the columnar arrays at the top level. The page does not carry the CIK, so the caller passes
/// it. Rows with bad dates are skipped with a warning; see [`parse_page_with_skipped`].
pub fn parse_page(json: &[u8], cik: u64, location: &str) -> Result<Vec<FilingRef>> {
    parse_page_with_skipped(json, cik, location).map(|(filings, _)| filings)
}

/// [`parse_page`], also returning the rows that were skipped, with reasons.
pub fn parse_page_with_skipped(
    json: &[u8],
    cik: u64,
    location: &str,
) -> Result<(Vec<FilingRef>, Vec<SkippedRow>)> {
    let root = parse_object(json, location)?;
    if !root.contains_key("accessionNumber")
        && let Some(Value::Object(f)) = root.get("filings")
        && let Some(Value::Object(recent)) = f.get("recent")
    {
        // A main submissions file passed as a page: read its recent filings.
        return columns(recent, cik, location, "filings.recent");
    }
    columns(&root, cik, location, "")
}

fn parse_object(json: &[u8], location: &str) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(json) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => {
            Err(ConnectorError::parse(location, format!("expected a JSON object, found {}", kind(&other))))
        }
        Err(e) => Err(ConnectorError::parse(location, format!("not JSON: {e}"))),
    }
}

/// Zips the columnar arrays of `obj` (at JSON path `path`) into filing references.
fn columns(
    obj: &Map<String, Value>,
    cik: u64,
    location: &str,
    path: &str,
) -> Result<(Vec<FilingRef>, Vec<SkippedRow>)> {
    let at = |field: &str| if path.is_empty() { field.to_string() } else { format!("{path}.{field}") };
    let column = |field: &str, required: bool| -> Result<Option<&Vec<Value>>> {
        match obj.get(field) {
            Some(Value::Array(a)) => Ok(Some(a)),
            None if !required => Ok(None),
            None => Err(ConnectorError::parse(
                location,
                format!("{}: missing (expected columnar filing arrays)", at(field)),
            )),
            Some(other) => Err(ConnectorError::parse(
                location,
                format!("{}: expected an array, found {}", at(field), kind(other)),
            )),
        }
    };
    let accession = column("accessionNumber", true)?.map_or(&[][..], Vec::as_slice);
    let filing_date = column("filingDate", true)?.map_or(&[][..], Vec::as_slice);
    let form = column("form", true)?.map_or(&[][..], Vec::as_slice);
    let report_date = column("reportDate", false)?;
    let primary_document = column("primaryDocument", false)?;
    let inline_xbrl = column("isInlineXBRL", false)?;

    let n = accession.len();
    for (field, value) in obj {
        if let Value::Array(a) = value
            && a.len() != n
        {
            return Err(ConnectorError::parse(
                location,
                format!("{}: {} entries but accessionNumber has {n}", at(field), a.len()),
            ));
        }
    }

    let mut filings = Vec::with_capacity(n);
    let mut skipped = Vec::new();
    for i in 0..n {
        let row = |field: &str| format!("{location}: {}[{i}]", at(field));
        let mut skip = |field: &str, reason: String| {
            tracing::warn!(location = %row(field), "skipping filing row: {reason}");
            skipped.push(SkippedRow { location: row(field), reason });
        };
        let accn = match accession.get(i) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            other => {
                skip("accessionNumber", format!("no accession number ({})", other.map_or("missing", kind)));
                continue;
            }
        };
        let filed = match filing_date.get(i).and_then(Value::as_str).map(parse_date) {
            Some(Some(d)) => d,
            _ => {
                let raw = filing_date.get(i).map_or_else(|| "missing".to_string(), Value::to_string);
                skip("filingDate", format!("accession {accn}: bad filing date {raw}"));
                continue;
            }
        };
        let form_value = match form.get(i) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            other => {
                skip("form", format!("accession {accn}: no form type ({})", other.map_or("missing", kind)));
                continue;
            }
        };
        let report = match report_date.and_then(|c| c.get(i)) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => match parse_date(s) {
                Some(d) => Some(d),
                None => {
                    skip("reportDate", format!("accession {accn}: bad report date {s:?}"));
                    continue;
                }
            },
            Some(other) => {
                skip("reportDate", format!("accession {accn}: report date is {}", kind(other)));
                continue;
            }
        };
        let primary = match primary_document.and_then(|c| c.get(i)) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => None,
        };
        let inline = match inline_xbrl.and_then(|c| c.get(i)) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(x)) => x.as_f64().is_some_and(|x| x != 0.0),
            Some(Value::String(s)) => matches!(s.trim(), "1" | "true" | "True"),
            _ => false,
        };
        filings.push(FilingRef {
            cik,
            accession: accn,
            form: form_value,
            filed,
            report_date: report,
            primary_document: primary,
            inline_xbrl: inline,
        });
    }
    Ok((filings, skipped))
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

fn string_field(obj: &Map<String, Value>, field: &str, location: &str) -> Result<Option<String>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok((!s.trim().is_empty()).then(|| s.trim().to_string())),
        Some(other) => {
            Err(ConnectorError::parse(location, format!("{field}: expected a string, found {}", kind(other))))
        }
    }
}

/// An array of strings; `null` elements (EDGAR writes them for unknown exchanges) are dropped.
fn string_list(obj: &Map<String, Value>, field: &str, location: &str) -> Result<Vec<String>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, v) in a.iter().enumerate() {
                match v {
                    Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                    Value::String(_) | Value::Null => {}
                    other => {
                        return Err(ConnectorError::parse(
                            location,
                            format!("{field}[{i}]: expected a string, found {}", kind(other)),
                        ));
                    }
                }
            }
            Ok(out)
        }
        Some(other) => Err(ConnectorError::parse(
            location,
            format!("{field}: expected an array of strings, found {}", kind(other)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: &str = r#"{"cik":"0000320193","name":"Apple Inc.","tickers":["aapl"],"exchanges":["Nasdaq"],
        "sicDescription":"Electronic Computers","fiscalYearEnd":"0928",
        "filings":{"recent":{
            "accessionNumber":["0000320193-24-000123","0000320193-24-000081","0000320193-24-000070"],
            "filingDate":["2024-11-01","2024-08-02","2024-13-45"],
            "reportDate":["2024-09-28","",""],
            "form":["10-K","10-Q","8-K"],
            "primaryDocument":["aapl-20240928.htm","aapl-20240629.htm",""],
            "isInlineXBRL":[1,0,0]},
          "files":[{"name":"CIK0000320193-submissions-001.json","filingCount":1206}]}}"#;

    #[test]
    fn main_file() {
        let s = parse(MAIN.as_bytes(), "sub.json").unwrap();
        assert_eq!(s.cik, 320193);
        assert_eq!(s.name.as_deref(), Some("Apple Inc."));
        assert_eq!(s.tickers, vec!["AAPL"]);
        assert_eq!(s.exchanges, vec!["Nasdaq"]);
        assert_eq!(s.sic_description.as_deref(), Some("Electronic Computers"));
        assert_eq!(s.fiscal_year_end.as_deref(), Some("0928"));
        assert_eq!(s.more_files, vec!["CIK0000320193-submissions-001.json"]);
        assert_eq!(s.filings.len(), 2);
        let k = &s.filings[0];
        assert_eq!(k.accession, "0000320193-24-000123");
        assert_eq!(k.form, "10-K");
        assert_eq!(k.filed, NaiveDate::from_ymd_opt(2024, 11, 1).unwrap());
        assert_eq!(k.report_date, NaiveDate::from_ymd_opt(2024, 9, 28));
        assert!(k.inline_xbrl);
        assert_eq!(
            k.url().unwrap(),
            "https://www.sec.gov/Archives/edgar/data/320193/000032019324000123/aapl-20240928.htm"
        );
        assert_eq!(s.filings[1].report_date, None);
        assert!(!s.filings[1].inline_xbrl);
        assert_eq!(s.skipped.len(), 1);
        assert!(s.skipped[0].location.contains("filings.recent.filingDate[2]"), "{:?}", s.skipped);
        assert!(s.skipped[0].reason.contains("0000320193-24-000070"), "{:?}", s.skipped);
    }

    #[test]
    fn page_file() {
        let page = r#"{"accessionNumber":["0000950103-18-001851"],"filingDate":["2018-02-12"],
                       "reportDate":[""],"form":["SC 13G/A"],"primaryDocument":["dp86572_sc13ga.htm"],
                       "isInlineXBRL":[0]}"#;
        let f = parse_page(page.as_bytes(), 1318605, "page.json").unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].cik, 1318605);
        assert_eq!(f[0].form, "SC 13G/A");
        // A main file read as a page gives its recent filings.
        assert_eq!(parse_page(MAIN.as_bytes(), 320193, "sub.json").unwrap().len(), 2);
    }

    #[test]
    fn unequal_columns_and_bad_shapes_are_errors() {
        let page = r#"{"accessionNumber":["a","b"],"filingDate":["2018-02-12"],"form":["4","4"]}"#;
        let err = parse_page(page.as_bytes(), 1, "page.json").unwrap_err().to_string();
        assert!(err.contains("page.json") && err.contains("filingDate"), "{err}");

        let err = parse(br#"{"cik":1,"filings":{}}"#, "x.json").unwrap_err().to_string();
        assert!(err.contains("x.json") && err.contains("filings.recent"), "{err}");
        let err = parse(br#"{"name":"x"}"#, "x.json").unwrap_err().to_string();
        assert!(err.contains("x.json") && err.contains("cik"), "{err}");
        let err = parse_page(br#"{"form":[]}"#, 1, "p.json").unwrap_err().to_string();
        assert!(err.contains("p.json") && err.contains("accessionNumber"), "{err}");
        let err = parse(b"[]", "x.json").unwrap_err().to_string();
        assert!(err.contains("x.json"), "{err}");
    }
}
