//! Yahoo Finance's chart API (free, no key):
//! `GET {base}/v8/finance/chart/{TICKER}?period1=…&period2=…&interval=1d&events=div,split&includeAdjustedClose=true`.
//!
//! The answer holds parallel arrays (`timestamp`, `indicators.quote[0].open/high/low/close/
//! volume`, `indicators.adjclose[0].adjclose`). Timestamps are the session open in UTC; they are
//! shifted by `meta.gmtoffset` (the exchange's UTC offset) before taking the date, so a Tokyo
//! bar opening at 00:00 UTC and a New York bar opening at 14:30 UTC both land on their trading
//! day. A `null` in any array (halted days) skips that row with a reason instead of inventing a
//! zero. An unknown symbol is a 404 (or a `null` result) with `error.code = "Not Found"`.

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveTime};
use serde::Deserialize;

use crate::error::{ConnectorError, Result};
use crate::http::{HttpClient, HttpConfig, redact_url};
use crate::live::{day_after, encode_segment, finish_bars, normalize_ticker, series};
use crate::traits::PriceSource;
use crate::types::{DateRange, PriceBar, PriceSeries, SkippedRow};

/// Default API host.
pub const YAHOO_BASE_URL: &str = "https://query1.finance.yahoo.com";

/// Settings of [`YahooPrices`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YahooConfig {
    /// Scheme and host (no trailing slash): `https://query1.finance.yahoo.com`.
    pub base_url: String,
    /// HTTP settings. Yahoo refuses some non-browser user agents; the default names Bullpen in
    /// a browser-style string and asks for at most 2 requests per second.
    pub http: HttpConfig,
}

impl Default for YahooConfig {
    fn default() -> Self {
        Self {
            base_url: YAHOO_BASE_URL.to_string(),
            http: HttpConfig {
                user_agent: concat!("Mozilla/5.0 (compatible; bullpen/", env!("CARGO_PKG_VERSION"), ")")
                    .to_string(),
                max_requests_per_second: 2,
                ..HttpConfig::default()
            },
        }
    }
}

/// Daily prices from Yahoo Finance (`name()` = `yahoo`).
#[derive(Debug, Clone)]
pub struct YahooPrices {
    http: HttpClient,
    base_url: String,
}

impl YahooPrices {
    /// A source with its own HTTP client.
    pub fn new(config: YahooConfig) -> Result<Self> {
        Ok(Self::with_client(HttpClient::new(config.http)?, config.base_url))
    }

    /// A source over an existing client (shared cache and rate limit).
    pub fn with_client(http: HttpClient, base_url: impl Into<String>) -> Self {
        Self { http, base_url: base_url.into().trim_end_matches('/').to_string() }
    }

    /// The chart URL for `ticker` covering `range` (one day of slack on each side: the bars are
    /// filtered by trading day after the timezone shift).
    pub fn url(&self, ticker: &str, range: DateRange) -> String {
        let start = range.from.and_then(|d| d.pred_opt()).map(unix_midnight).unwrap_or(0).max(0);
        let end = day_after(range.to).succ_opt().map(unix_midnight).unwrap_or(i64::MAX);
        format!(
            "{}/v8/finance/chart/{}?period1={start}&period2={end}&interval=1d&events=div,split&includeAdjustedClose=true",
            self.base_url,
            encode_segment(&normalize_ticker(ticker)),
        )
    }
}

fn unix_midnight(d: NaiveDate) -> i64 {
    d.and_time(NaiveTime::MIN).and_utc().timestamp()
}

#[derive(Debug, Deserialize)]
struct Envelope {
    chart: Chart,
}

#[derive(Debug, Deserialize)]
struct Chart {
    result: Option<Vec<ChartResult>>,
    error: Option<ChartError>,
}

#[derive(Debug, Deserialize)]
struct ChartError {
    code: Option<String>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChartResult {
    meta: Meta,
    #[serde(default)]
    timestamp: Vec<i64>,
    #[serde(default)]
    indicators: Indicators,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    currency: Option<String>,
    #[serde(rename = "gmtoffset")]
    gmt_offset: Option<i64>,
    exchange_timezone_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Indicators {
    #[serde(default)]
    quote: Vec<Quote>,
    #[serde(default)]
    adjclose: Vec<AdjClose>,
}

#[derive(Debug, Default, Deserialize)]
struct Quote {
    #[serde(default)]
    open: Vec<Option<f64>>,
    #[serde(default)]
    high: Vec<Option<f64>>,
    #[serde(default)]
    low: Vec<Option<f64>>,
    #[serde(default)]
    close: Vec<Option<f64>>,
    #[serde(default)]
    volume: Vec<Option<f64>>,
}

#[derive(Debug, Deserialize)]
struct AdjClose {
    #[serde(default)]
    adjclose: Vec<Option<f64>>,
}

fn unknown(ticker: &str, url: &str, detail: &str) -> ConnectorError {
    ConnectorError::UnknownTicker {
        ticker: ticker.to_string(),
        detail: format!("Yahoo Finance {url}: {detail}"),
    }
}

/// Parses a chart response for `ticker` (upper case) fetched from `url` (redacted).
pub(crate) fn parse_chart(body: &[u8], ticker: &str, url: &str, range: DateRange) -> Result<PriceSeries> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| ConnectorError::parse(url, format!("not a Yahoo chart response: {e}")))?;
    let chart = envelope.chart;
    let result = match (chart.result, chart.error) {
        (Some(mut results), _) if !results.is_empty() => results.swap_remove(0),
        (_, Some(err)) => {
            let code = err.code.unwrap_or_default();
            let description = err.description.unwrap_or_default();
            if code.eq_ignore_ascii_case("Not Found") {
                return Err(unknown(ticker, url, &description));
            }
            return Err(ConnectorError::parse(url, format!("Yahoo error {code}: {description}")));
        }
        _ => return Err(ConnectorError::parse(url, "chart.result is empty and chart.error is null")),
    };

    let offset = match result.meta.gmt_offset {
        Some(o) => o,
        None => {
            tracing::warn!(url, "Yahoo meta has no gmtoffset; dates are taken in UTC");
            0
        }
    };
    tracing::debug!(url, offset, tz = ?result.meta.exchange_timezone_name, "Yahoo chart");
    let quote = result.indicators.quote.into_iter().next().unwrap_or_default();
    let adj = result.indicators.adjclose.into_iter().next().map(|a| a.adjclose);
    let adjustment = if adj.is_some() { "column" } else { "assumed" };

    let mut skipped = Vec::new();
    let mut rows = Vec::with_capacity(result.timestamp.len());
    for (i, &ts) in result.timestamp.iter().enumerate() {
        let location = format!("{url} timestamp[{i}]");
        let Some(date) =
            chrono::DateTime::from_timestamp(ts.saturating_add(offset), 0).map(|t| t.date_naive())
        else {
            skipped.push(SkippedRow { location, reason: format!("timestamp {ts} is out of range") });
            continue;
        };
        let location = format!("{location} ({date})");
        let get = |v: &Vec<Option<f64>>| v.get(i).copied().flatten().filter(|x| x.is_finite());
        let (open, high, low, close, volume) =
            (get(&quote.open), get(&quote.high), get(&quote.low), get(&quote.close), get(&quote.volume));
        let adj_close = match &adj {
            Some(a) => get(a),
            None => close,
        };
        let fields = [
            ("open", open),
            ("high", high),
            ("low", low),
            ("close", close),
            ("adjclose", adj_close),
            ("volume", volume),
        ];
        let missing: Vec<&str> = fields.iter().filter(|(_, v)| v.is_none()).map(|(n, _)| *n).collect();
        match (open, high, low, close, adj_close, volume) {
            (Some(open), Some(high), Some(low), Some(close), Some(adj_close), Some(volume)) => {
                rows.push((PriceBar { date, open, high, low, close, adj_close, volume }, location));
            }
            _ => skipped.push(SkippedRow {
                location,
                reason: format!("null {} (no trading or halted); row skipped", missing.join(", ")),
            }),
        }
    }
    let bars = finish_bars(rows, range, &mut skipped);
    Ok(series(ticker.to_string(), result.meta.currency, bars, format!("yahoo {url}"), adjustment, skipped))
}

#[async_trait]
impl PriceSource for YahooPrices {
    fn name(&self) -> &str {
        "yahoo"
    }

    async fn daily_prices(&self, ticker: &str, range: DateRange) -> Result<PriceSeries> {
        let ticker = normalize_ticker(ticker);
        let url = self.url(&ticker, range);
        let shown = redact_url(&url);
        let body = match self.http.get_bytes(&url).await {
            Ok(b) => b,
            Err(ConnectorError::Http { status: Some(404), message, .. }) => {
                return Err(unknown(&ticker, &shown, &message));
            }
            Err(e) => return Err(e),
        };
        parse_chart(&body, &ticker, &shown, range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://y.test/v8/finance/chart/X";

    #[test]
    fn tokyo_bar_at_midnight_utc_lands_on_its_day() {
        // 2024-03-08 00:00 UTC = 09:00 JST: the Tokyo session of 2024-03-08.
        let body = br#"{"chart":{"result":[{"meta":{"currency":"JPY","symbol":"7203.T","gmtoffset":32400},
            "timestamp":[1709856000],
            "indicators":{"quote":[{"open":[3600.0],"high":[3650.0],"low":[3580.0],"close":[3620.0],"volume":[1000]}],
            "adjclose":[{"adjclose":[3610.0]}]}}],"error":null}}"#;
        let s = parse_chart(body, "7203.T", URL, DateRange::ALL).unwrap();
        assert_eq!(s.bars.len(), 1);
        assert_eq!(s.bars[0].date.to_string(), "2024-03-08");
        assert_eq!(s.currency.as_deref(), Some("JPY"));
        assert_eq!(s.bars[0].adj_close, 3610.0);
        assert_eq!(s.adjustment, "column");
    }

    #[test]
    fn no_timestamps_is_an_empty_series_and_missing_adjclose_is_assumed() {
        let body =
            br#"{"chart":{"result":[{"meta":{"currency":"USD"},"indicators":{"quote":[{}]}}],"error":null}}"#;
        let s = parse_chart(body, "AAPL", URL, DateRange::ALL).unwrap();
        assert!(s.bars.is_empty());
        assert_eq!(s.adjustment, "assumed");
    }

    #[test]
    fn short_arrays_skip_rows_and_errors_are_typed() {
        let body = br#"{"chart":{"result":[{"meta":{"gmtoffset":-18000},"timestamp":[1709908200,1709994600],
            "indicators":{"quote":[{"open":[1.0],"high":[1.0],"low":[1.0],"close":[1.0],"volume":[5]}]}}],"error":null}}"#;
        let s = parse_chart(body, "X", URL, DateRange::ALL).unwrap();
        assert_eq!(s.bars.len(), 1);
        assert_eq!(s.skipped.len(), 1);
        assert!(s.skipped[0].reason.contains("open, high, low, close"), "{:?}", s.skipped);

        let nf = br#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;
        assert!(matches!(
            parse_chart(nf, "X", URL, DateRange::ALL),
            Err(ConnectorError::UnknownTicker { .. })
        ));
        let bad =
            br#"{"chart":{"result":null,"error":{"code":"Bad Request","description":"Invalid input"}}}"#;
        let err = parse_chart(bad, "X", URL, DateRange::ALL).unwrap_err().to_string();
        assert!(err.contains(URL) && err.contains("Invalid input"), "{err}");
        let err = parse_chart(b"<html>", "X", URL, DateRange::ALL).unwrap_err().to_string();
        assert!(err.contains(URL), "{err}");
    }

    #[test]
    fn url_widens_the_range_by_a_day() {
        let y = YahooPrices::with_client(HttpClient::new(HttpConfig::default()).unwrap(), "http://h/");
        let range =
            DateRange { from: Some("2024-02-01".parse().unwrap()), to: Some("2024-03-08".parse().unwrap()) };
        assert_eq!(
            y.url("aapl", range),
            "http://h/v8/finance/chart/AAPL?period1=1706659200&period2=1710028800&interval=1d&events=div,split&includeAdjustedClose=true"
        );
    }
}
