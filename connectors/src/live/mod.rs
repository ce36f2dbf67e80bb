//! Live daily prices over HTTP: Yahoo Finance's chart API (free, no key), Tiingo's end-of-day
//! API (API key) and [`FailoverPrices`], which tries sources in order.
//!
//! Every source goes through [`crate::http::HttpClient`] (on-disk cache, rate limit, retries)
//! and returns bars sorted by date with one bar per date; rows a source cannot use (null values
//! on halted days, unparseable dates) are reported in [`crate::PriceSeries::skipped`].

pub mod failover;
pub mod tiingo;
pub mod yahoo;

use chrono::NaiveDate;

pub use failover::FailoverPrices;
pub use tiingo::{TiingoConfig, TiingoPrices};
pub use yahoo::{YahooConfig, YahooPrices};

use crate::types::{DateRange, PriceBar, PriceSeries, SkippedRow};

/// Percent-encodes one URL path segment (tickers such as `^GSPC` or `BRK/B`); letters, digits
/// and `-._~` pass through, so `7203.T` and `BMW.DE` stay as they are.
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The ticker as series carry it: trimmed, upper case.
pub(crate) fn normalize_ticker(ticker: &str) -> String {
    ticker.trim().to_ascii_uppercase()
}

/// Keeps the bars inside `range`, sorts them by date and keeps one bar per date (the last one
/// the source listed; the others are reported as skipped).
pub(crate) fn finish_bars(
    mut rows: Vec<(PriceBar, String)>,
    range: DateRange,
    skipped: &mut Vec<SkippedRow>,
) -> Vec<PriceBar> {
    rows.retain(|(bar, _)| range.contains(bar.date));
    // Stable sort: among equal dates the source's order is kept, and the last one wins.
    rows.sort_by_key(|(bar, _)| bar.date);
    let mut bars: Vec<PriceBar> = Vec::with_capacity(rows.len());
    let mut locations: Vec<String> = Vec::with_capacity(rows.len());
    for (bar, location) in rows {
        if let Some(last) = bars.last_mut()
            && last.date == bar.date
        {
            let replaced = locations.pop().unwrap_or_default();
            skipped.push(SkippedRow {
                location: replaced,
                reason: format!("duplicate bar for {}; the later row ({location}) is kept", bar.date),
            });
            *last = bar;
            locations.push(location);
            continue;
        }
        bars.push(bar);
        locations.push(location);
    }
    bars
}

/// A series with the common fields filled in.
pub(crate) fn series(
    ticker: String,
    currency: Option<String>,
    bars: Vec<PriceBar>,
    source: String,
    adjustment: &str,
    skipped: Vec<SkippedRow>,
) -> PriceSeries {
    PriceSeries { ticker, currency, bars, source, adjustment: adjustment.to_string(), skipped }
}

/// The first day after `to` (for exclusive upper bounds), or tomorrow when open.
pub(crate) fn day_after(to: Option<NaiveDate>) -> NaiveDate {
    let base = to.unwrap_or_else(|| chrono::Utc::now().date_naive());
    base.succ_opt().unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(d: &str, close: f64) -> PriceBar {
        PriceBar {
            date: d.parse().unwrap(),
            open: close,
            high: close,
            low: close,
            close,
            adj_close: close,
            volume: 1.0,
        }
    }

    #[test]
    fn sorts_filters_and_dedupes() {
        let rows = vec![
            (bar("2024-03-05", 3.0), "r0".to_string()),
            (bar("2024-03-01", 1.0), "r1".to_string()),
            (bar("2024-03-04", 2.0), "r2".to_string()),
            (bar("2024-03-04", 2.5), "r3".to_string()),
            (bar("2024-02-01", 0.5), "r4".to_string()),
        ];
        let mut skipped = Vec::new();
        let range = DateRange { from: Some("2024-03-01".parse().unwrap()), to: None };
        let bars = finish_bars(rows, range, &mut skipped);
        let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
        assert_eq!(closes, vec![1.0, 2.5, 3.0]);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].location, "r2");
        assert!(skipped[0].reason.contains("r3"), "{:?}", skipped[0]);
    }

    #[test]
    fn encodes_only_unsafe_ticker_characters() {
        assert_eq!(encode_segment("7203.T"), "7203.T");
        assert_eq!(encode_segment("BRK-B"), "BRK-B");
        assert_eq!(encode_segment("^GSPC"), "%5EGSPC");
        assert_eq!(encode_segment("A B/C"), "A%20B%2FC");
    }
}
