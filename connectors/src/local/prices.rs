//! Daily prices from files: `DIR/TICKER.{csv,csv.gz,parquet,json,jsonl}` with a column mapping.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::parse_date;
use super::table::{StringTable, read_table};
use crate::error::{ConnectorError, Result};
use crate::files::list_dir;
use crate::traits::PriceSource;
use crate::types::{DateRange, PriceBar, PriceSeries, SkippedRow};

/// Column names of a price file. Unset names are found by common aliases, case-insensitively
/// (`Date`/`timestamp`, `Open`, `High`, `Low`, `Close`, `Adj Close`/`adj_close`/`adjclose`,
/// `Volume`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceColumns {
    /// Date column.
    pub date: Option<String>,
    /// Open column.
    pub open: Option<String>,
    /// High column.
    pub high: Option<String>,
    /// Low column.
    pub low: Option<String>,
    /// Close column (as traded).
    pub close: Option<String>,
    /// Adjusted close column; when the file has none, `close` is used and the series says so.
    pub adj_close: Option<String>,
    /// Volume column.
    pub volume: Option<String>,
    /// chrono format of the date column (default: ISO, `M/D/YYYY`, `YYYYMMDD` ... detected).
    pub date_format: Option<String>,
}

const EXTENSIONS: [&str; 9] =
    ["csv", "csv.gz", "parquet", "jsonl", "jsonl.gz", "json", "json.gz", "tsv", "tsv.gz"];

/// Prices from a directory of per-ticker files. Parsed series are kept in memory.
#[derive(Debug, Clone)]
pub struct LocalPrices {
    dir: PathBuf,
    columns: PriceColumns,
    cache: Arc<Mutex<HashMap<String, Arc<PriceSeries>>>>,
}

impl LocalPrices {
    /// A source over `dir` with the given column mapping.
    pub fn new(dir: impl Into<PathBuf>, columns: PriceColumns) -> Self {
        Self { dir: dir.into(), columns, cache: Arc::default() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `ticker`'s prices (`^GSPC` is also looked up as `GSPC`).
    pub fn file_for(&self, ticker: &str) -> Option<PathBuf> {
        let t = ticker.trim();
        let mut names = vec![t.to_string(), t.to_uppercase(), t.to_lowercase()];
        if let Some(stripped) = t.strip_prefix('^') {
            names.push(stripped.to_uppercase());
        }
        names
            .iter()
            .flat_map(|n| EXTENSIONS.iter().map(move |e| self.dir.join(format!("{n}.{e}"))))
            .find(|p| p.is_file())
    }

    /// Every ticker with a price file, sorted.
    pub fn tickers(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for path in list_dir(&self.dir)? {
            let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if let Some(t) = EXTENSIONS.iter().find_map(|e| name.strip_suffix(&format!(".{e}"))) {
                out.push(t.to_uppercase());
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Reads and validates one file (no caching).
    pub fn read_file(&self, ticker: &str, path: &Path) -> Result<PriceSeries> {
        parse_prices(ticker, &read_table(path)?, &self.columns)
    }

    fn load(&self, ticker: &str) -> Result<Arc<PriceSeries>> {
        let key = ticker.trim().to_uppercase();
        if let Some(s) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(s);
        }
        let path = self.file_for(&key).ok_or_else(|| ConnectorError::UnknownTicker {
            ticker: ticker.to_string(),
            detail: format!(
                "no price file {key}.{{csv,csv.gz,parquet,json,jsonl}} in {}",
                self.dir.display()
            ),
        })?;
        let series = Arc::new(self.read_file(&key, &path)?);
        if !series.skipped.is_empty() {
            tracing::warn!(
                file = %path.display(),
                skipped = series.skipped.len(),
                first = %series.skipped[0].reason,
                "price rows skipped"
            );
        }
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, series.clone());
        }
        Ok(series)
    }
}

#[async_trait]
impl PriceSource for LocalPrices {
    fn name(&self) -> &str {
        "local"
    }

    async fn daily_prices(&self, ticker: &str, range: DateRange) -> Result<PriceSeries> {
        let this = self.clone();
        let t = ticker.to_string();
        let full = tokio::task::spawn_blocking(move || this.load(&t))
            .await
            .map_err(|e| ConnectorError::Config(format!("price reader task failed: {e}")))??;
        let mut series = (*full).clone();
        series.bars.retain(|b| range.contains(b.date));
        Ok(series)
    }
}

/// Turns a text table into a validated series: rows with unparseable dates or numbers,
/// non-positive prices, or a date seen before are skipped and reported; rows are sorted.
pub fn parse_prices(ticker: &str, table: &StringTable, cols: &PriceColumns) -> Result<PriceSeries> {
    let date_col = table.require("date", cols.date.as_deref(), &["date", "timestamp", "datetime", "day"])?;
    let open = table.require("open", cols.open.as_deref(), &["open"])?;
    let high = table.require("high", cols.high.as_deref(), &["high"])?;
    let low = table.require("low", cols.low.as_deref(), &["low"])?;
    let close = table.require("close", cols.close.as_deref(), &["close"])?;
    let volume = table.require("volume", cols.volume.as_deref(), &["volume", "vol"])?;
    let adj = match cols.adj_close.as_deref() {
        Some(c) => Some(table.require("adjusted close", Some(c), &[])?),
        None => table.find(None, &["adj close", "adj_close", "adjclose", "adjusted close", "adjusted_close"]),
    };

    let dates = table.cells(&date_col)?;
    let num_cols: Vec<(String, Vec<Option<String>>)> = [&open, &high, &low, &close, &volume]
        .into_iter()
        .chain(adj.as_ref())
        .map(|c| table.cells(c).map(|v| (c.clone(), v)))
        .collect::<Result<_>>()?;

    let mut bars: Vec<(PriceBar, usize)> = Vec::with_capacity(dates.len());
    let mut skipped = Vec::new();
    'rows: for (row, cell) in dates.iter().enumerate() {
        let loc = || table.location(row);
        let Some(date) = cell.as_deref().and_then(|c| parse_date(c, cols.date_format.as_deref())) else {
            skipped.push(SkippedRow {
                location: loc(),
                reason: format!("column {date_col:?}: {:?} is not a date", cell.as_deref().unwrap_or("")),
            });
            continue;
        };
        let mut v = [0f64; 6];
        for (i, (name, cells)) in num_cols.iter().enumerate() {
            let raw = cells[row].as_deref().unwrap_or("").trim();
            match raw.replace(',', "").parse::<f64>() {
                Ok(x) if x.is_finite() && (i == 4 || x > 0.0) && x >= 0.0 => v[i] = x,
                Ok(x) => {
                    let why = if x.is_finite() { "not a positive price" } else { "not a finite number" };
                    skipped.push(SkippedRow {
                        location: loc(),
                        reason: format!("column {name:?}: {raw:?} is {why}"),
                    });
                    continue 'rows;
                }
                Err(_) => {
                    let why =
                        if raw.is_empty() { "empty".to_string() } else { format!("{raw:?} is not a number") };
                    skipped.push(SkippedRow { location: loc(), reason: format!("column {name:?}: {why}") });
                    continue 'rows;
                }
            }
        }
        let adj_close = if adj.is_some() { v[5] } else { v[3] };
        bars.push((
            PriceBar { date, open: v[0], high: v[1], low: v[2], close: v[3], adj_close, volume: v[4] },
            row,
        ));
    }
    bars.sort_by_key(|(b, _)| b.date);
    let mut out: Vec<PriceBar> = Vec::with_capacity(bars.len());
    let mut kept_row: Option<usize> = None;
    for (bar, row) in bars {
        if out.last().is_some_and(|l| l.date == bar.date) {
            let first = kept_row.map(|r| table.location(r)).unwrap_or_default();
            skipped.push(SkippedRow {
                location: table.location(row),
                reason: format!("duplicate date {} (kept {first})", bar.date),
            });
            continue;
        }
        kept_row = Some(row);
        out.push(bar);
    }
    if out.is_empty() && table.height() > 0 {
        let first = skipped.first().map(|s| format!("{}: {}", s.location, s.reason)).unwrap_or_default();
        return Err(ConnectorError::parse(
            &table.path,
            format!("no usable price rows ({} skipped; first: {first})", skipped.len()),
        ));
    }
    Ok(PriceSeries {
        ticker: ticker.to_uppercase(),
        currency: None,
        bars: out,
        source: table.path.clone(),
        adjustment: if adj.is_some() { "column".into() } else { "assumed".into() },
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[tokio::test]
    async fn reads_sorts_dedups_and_reports_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "ABC.csv",
            "Date,Open,High,Low,Close,Adj Close,Volume\n\
             2024-01-03,2,3,1,2.5,2.4,100\n\
             2024-01-02,1,2,1,1.5,1.4,100\n\
             2024-01-03,9,9,9,9,9,9\n\
             2024-01-04,abc,3,1,2,2,100\n\
             not-a-date,1,1,1,1,1,1\n\
             2024-01-05,1,1,1,,1,1\n",
        );
        let src = LocalPrices::new(dir.path(), PriceColumns::default());
        let s = src.daily_prices("abc", DateRange::ALL).await.unwrap();
        assert_eq!(s.bars.len(), 2);
        assert!(s.bars[0].date < s.bars[1].date, "sorted");
        assert_eq!(s.bars[1].close, 2.5, "the first of two rows for a date is kept");
        assert_eq!(s.adjustment, "column");
        let reasons: Vec<_> = s.skipped.iter().map(|r| format!("{} {}", r.location, r.reason)).collect();
        assert_eq!(s.skipped.len(), 4, "{reasons:#?}");
        assert!(
            reasons.iter().any(|r| r.contains("ABC.csv:5") && r.contains("\"abc\" is not a number")),
            "{reasons:#?}"
        );
        assert!(reasons.iter().any(|r| r.contains("duplicate date 2024-01-03")), "{reasons:#?}");
        assert!(reasons.iter().any(|r| r.contains("is not a date")), "{reasons:#?}");
        assert!(reasons.iter().any(|r| r.contains("\"Close\": empty")), "{reasons:#?}");

        let jan2 = chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        let r = src.daily_prices("ABC", DateRange { from: None, to: Some(jan2) }).await.unwrap();
        assert_eq!(r.bars.len(), 1);
    }

    #[tokio::test]
    async fn missing_column_unknown_ticker_and_mapping() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "NOVOL.csv", "Date,Open,High,Low,Close\n2024-01-02,1,1,1,1\n");
        let src = LocalPrices::new(dir.path(), PriceColumns::default());
        let err = src.daily_prices("NOVOL", DateRange::ALL).await.unwrap_err().to_string();
        assert!(err.contains("NOVOL.csv") && err.contains("missing volume column"), "{err}");

        let err = src.daily_prices("ZZZZ", DateRange::ALL).await.unwrap_err();
        assert!(matches!(err, ConnectorError::UnknownTicker { .. }), "{err}");

        write(dir.path(), "MAPPED.csv", "day,o,h,l,c,v\n08.03.2024,1,2,0.5,1.5,10\n");
        let cols = PriceColumns {
            date: Some("day".into()),
            open: Some("o".into()),
            high: Some("h".into()),
            low: Some("l".into()),
            close: Some("c".into()),
            volume: Some("v".into()),
            adj_close: None,
            date_format: Some("%d.%m.%Y".into()),
        };
        let s = LocalPrices::new(dir.path(), cols).daily_prices("mapped", DateRange::ALL).await.unwrap();
        assert_eq!(s.bars.len(), 1);
        assert_eq!(s.bars[0].adj_close, 1.5);
        assert_eq!(s.adjustment, "assumed");
        assert_eq!(s.bars[0].date, chrono::NaiveDate::from_ymd_opt(2024, 3, 8).unwrap());
    }

    #[tokio::test]
    async fn all_rows_bad_is_an_error_not_an_empty_series() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "BAD.csv", "Date,Open,High,Low,Close,Volume\n2024-01-02,x,x,x,x,x\n");
        let err = LocalPrices::new(dir.path(), PriceColumns::default())
            .daily_prices("BAD", DateRange::ALL)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("no usable price rows") && err.contains("BAD.csv:2"), "{err}");
    }
}
