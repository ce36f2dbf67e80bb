//! Tiingo end-of-day prices (API key):
//! `GET {base}/tiingo/daily/{ticker}/prices?startDate=YYYY-MM-DD&endDate=YYYY-MM-DD&format=json&token=KEY`.
//!
//! The answer is a JSON array of `{"date":"2024-03-08T00:00:00.000Z","open":…,"high":…,"low":…,
//! "close":…,"volume":…,"adjClose":…,…}`; the date part is the trading day. An unknown ticker
//! is a 404 with `{"detail":"Error: Ticker 'XXXX' not found"}`. The key is read from
//! [`TiingoConfig::api_key`] (which defaults to the `TIINGO_API_KEY` environment variable); it
//! is sent in the query string and redacted from every error, log line and cache key.

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::Value;

use crate::error::{ConnectorError, Result};
use crate::http::{HttpClient, HttpConfig, redact_url};
use crate::live::{encode_segment, finish_bars, normalize_ticker, series};
use crate::traits::PriceSource;
use crate::types::{DateRange, PriceBar, PriceSeries, SkippedRow};

/// Default API host.
pub const TIINGO_BASE_URL: &str = "https://api.tiingo.com";
/// Environment variable holding the Tiingo API key.
pub const TIINGO_API_KEY_ENV: &str = "TIINGO_API_KEY";
/// First day asked for when a range has no start (Tiingo returns only the latest bar without a
/// `startDate`).
const EARLIEST: &str = "1900-01-01";

/// Settings of [`TiingoPrices`].
#[derive(Clone, PartialEq, Eq)]
pub struct TiingoConfig {
    /// Scheme and host (no trailing slash): `https://api.tiingo.com`.
    pub base_url: String,
    /// The API key; `Default` reads `TIINGO_API_KEY`. `None` makes every request fail with
    /// [`ConnectorError::Config`] (so a failover list can move past this source).
    pub api_key: Option<String>,
    /// HTTP settings (default: at most 1 request per second; free keys allow ~50 per hour).
    pub http: HttpConfig,
}

impl std::fmt::Debug for TiingoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiingoConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "REDACTED"))
            .field("http", &self.http)
            .finish()
    }
}

impl Default for TiingoConfig {
    fn default() -> Self {
        Self {
            base_url: TIINGO_BASE_URL.to_string(),
            api_key: std::env::var(TIINGO_API_KEY_ENV).ok().filter(|k| !k.trim().is_empty()),
            http: HttpConfig { max_requests_per_second: 1, ..HttpConfig::default() },
        }
    }
}

/// Daily prices from Tiingo (`name()` = `tiingo`).
#[derive(Clone)]
pub struct TiingoPrices {
    http: HttpClient,
    base_url: String,
    api_key: Option<String>,
}

impl std::fmt::Debug for TiingoPrices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiingoPrices")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "REDACTED"))
            .finish()
    }
}

impl TiingoPrices {
    /// A source with its own HTTP client. A missing key is not an error here; requests report
    /// it.
    pub fn new(config: TiingoConfig) -> Result<Self> {
        Ok(Self::with_client(HttpClient::new(config.http)?, config.base_url, config.api_key))
    }

    /// A source over an existing client (shared cache and rate limit).
    pub fn with_client(http: HttpClient, base_url: impl Into<String>, api_key: Option<String>) -> Self {
        Self {
            http,
            base_url: base_url.into().trim_end_matches('/').to_string(),
            api_key: api_key.filter(|k| !k.trim().is_empty()),
        }
    }

    /// Whether an API key is configured.
    pub fn has_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// The request URL, key included (redact it with [`redact_url`] before showing it).
    fn url(&self, ticker: &str, range: DateRange, key: &str) -> String {
        let start = range.from.map(|d| d.to_string()).unwrap_or_else(|| EARLIEST.to_string());
        let mut url = format!(
            "{}/tiingo/daily/{}/prices?startDate={start}",
            self.base_url,
            encode_segment(&normalize_ticker(ticker))
        );
        if let Some(to) = range.to {
            url.push_str(&format!("&endDate={to}"));
        }
        url.push_str("&format=json&token=");
        url.push_str(&encode_segment(key));
        url
    }
}

fn number(row: &Value, field: &str) -> Option<f64> {
    row.get(field).and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// Parses a Tiingo price array for `ticker` fetched from `url` (redacted).
pub(crate) fn parse_prices(body: &[u8], ticker: &str, url: &str, range: DateRange) -> Result<PriceSeries> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ConnectorError::parse(url, format!("not a Tiingo price response: {e}")))?;
    let rows = match value {
        Value::Array(rows) => rows,
        Value::Object(obj) => {
            let detail = obj.get("detail").and_then(Value::as_str).unwrap_or("no detail");
            if detail.to_ascii_lowercase().contains("not found") {
                return Err(ConnectorError::UnknownTicker {
                    ticker: ticker.to_string(),
                    detail: format!("Tiingo {url}: {detail}"),
                });
            }
            return Err(ConnectorError::parse(url, format!("expected an array of prices, got: {detail}")));
        }
        other => {
            return Err(ConnectorError::parse(url, format!("expected an array of prices, got {other}")));
        }
    };
    let mut skipped = Vec::new();
    let mut bars = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let location = format!("{url} [{i}]");
        let date_text = row.get("date").and_then(Value::as_str).unwrap_or("");
        let date = date_text.get(..10).and_then(|d| d.parse::<NaiveDate>().ok());
        let Some(date) = date else {
            skipped.push(SkippedRow { location, reason: format!("unreadable date {date_text:?}") });
            continue;
        };
        let location = format!("{location} ({date})");
        let fields = ["open", "high", "low", "close", "adjClose", "volume"].map(|f| (f, number(row, f)));
        match fields.map(|(_, v)| v) {
            [Some(open), Some(high), Some(low), Some(close), Some(adj_close), Some(volume)] => {
                bars.push((PriceBar { date, open, high, low, close, adj_close, volume }, location));
            }
            _ => {
                let missing: Vec<&str> =
                    fields.iter().filter(|(_, v)| v.is_none()).map(|(n, _)| *n).collect();
                skipped.push(SkippedRow {
                    location,
                    reason: format!("missing or null {}; row skipped", missing.join(", ")),
                });
            }
        }
    }
    let bars = finish_bars(bars, range, &mut skipped);
    Ok(series(ticker.to_string(), None, bars, format!("tiingo {url}"), "column", skipped))
}

#[async_trait]
impl PriceSource for TiingoPrices {
    fn name(&self) -> &str {
        "tiingo"
    }

    async fn daily_prices(&self, ticker: &str, range: DateRange) -> Result<PriceSeries> {
        let Some(key) = &self.api_key else {
            return Err(ConnectorError::Config(format!(
                "Tiingo needs an API key: set the {TIINGO_API_KEY_ENV} environment variable (or \
                 TiingoConfig.api_key); free keys at https://www.tiingo.com"
            )));
        };
        let ticker = normalize_ticker(ticker);
        let url = self.url(&ticker, range, key);
        let shown = redact_url(&url);
        let body = match self.http.get_bytes(&url).await {
            Ok(b) => b,
            Err(ConnectorError::Http { status: Some(404), message, .. }) => {
                return Err(ConnectorError::UnknownTicker {
                    ticker,
                    detail: format!("Tiingo {shown}: {message}"),
                });
            }
            Err(e) => return Err(e),
        };
        parse_prices(&body, &ticker, &shown, range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://t.test/tiingo/daily/X/prices?token=REDACTED";

    #[test]
    fn parses_rows_and_skips_bad_ones() {
        let body = br#"[
            {"date":"2024-03-08T00:00:00.000Z","open":1,"high":2,"low":0.5,"close":1.5,"volume":10,"adjClose":1.4},
            {"date":"2024-03-07T00:00:00.000Z","open":1,"high":2,"low":0.5,"close":null,"volume":10,"adjClose":1.4},
            {"date":"garbage","open":1}
        ]"#;
        let s = parse_prices(body, "X", URL, DateRange::ALL).unwrap();
        assert_eq!(s.bars.len(), 1);
        assert_eq!(s.bars[0].adj_close, 1.4);
        assert_eq!(s.skipped.len(), 2);
        assert!(s.skipped.iter().any(|r| r.reason.contains("close")));
        assert!(s.source.starts_with("tiingo "));
    }

    #[test]
    fn detail_objects_become_errors() {
        let nf = br#"{"detail":"Error: Ticker 'XXXX' not found"}"#;
        assert!(matches!(
            parse_prices(nf, "XXXX", URL, DateRange::ALL),
            Err(ConnectorError::UnknownTicker { .. })
        ));
        let err = parse_prices(br#"{"detail":"Invalid token."}"#, "X", URL, DateRange::ALL).unwrap_err();
        assert!(matches!(err, ConnectorError::Parse { .. }) && err.to_string().contains("Invalid token"));
    }

    #[test]
    fn url_carries_the_range_and_debug_hides_the_key() {
        let t = TiingoPrices::with_client(
            HttpClient::new(HttpConfig::default()).unwrap(),
            "http://h",
            Some("sekrit".to_string()),
        );
        let range =
            DateRange { from: Some("2024-02-01".parse().unwrap()), to: Some("2024-03-08".parse().unwrap()) };
        let url = t.url("aapl", range, "sekrit");
        assert_eq!(
            url,
            "http://h/tiingo/daily/AAPL/prices?startDate=2024-02-01&endDate=2024-03-08&format=json&token=sekrit"
        );
        assert!(!redact_url(&url).contains("sekrit"));
        assert!(!format!("{t:?}").contains("sekrit"));
        assert!(t.url("x", DateRange::ALL, "k").contains("startDate=1900-01-01&format=json"));
    }
}
