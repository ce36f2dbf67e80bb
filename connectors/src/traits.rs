//! The seams: one trait per kind of data. Local files, SEC EDGAR and live price APIs
//! implement them; the library (ratio engine, agents, reports) depends only on these.

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::error::Result;
use crate::types::{Company, DateRange, Filing, FilingRef, PriceSeries, Statements, TextItem, TextKind};

/// Daily OHLCV prices (raw and adjusted close).
#[async_trait]
pub trait PriceSource: Send + Sync {
    /// Short name for messages and provenance (`local`, `yahoo`, `tiingo` ...).
    fn name(&self) -> &str;
    /// Bars of `ticker` inside `range`, ascending. An unknown ticker is
    /// [`crate::ConnectorError::UnknownTicker`]; a known ticker with no bars in the range is an
    /// empty series.
    async fn daily_prices(&self, ticker: &str, range: DateRange) -> Result<PriceSeries>;
}

/// Statement line items per fiscal period.
#[async_trait]
pub trait FundamentalsSource: Send + Sync {
    /// Every fiscal period the source knows for `ticker`, each value with its filing date so
    /// that callers can filter as of a date.
    async fn statements(&self, ticker: &str) -> Result<Statements>;

    /// The statements as they could be known on `as_of`: facts filed after that date are
    /// ignored. The default drops values filed later (a restated value disappears rather than
    /// falling back to the original); sources holding facts override it to filter facts
    /// before normalising, which keeps the originally reported value.
    async fn statements_as_of(&self, ticker: &str, as_of: NaiveDate) -> Result<Statements> {
        let mut s = self.statements(ticker).await?;
        for p in &mut s.periods {
            p.values.retain(|_, v| v.source.filed.is_some_and(|f| f <= as_of));
        }
        s.periods.retain(|p| !p.values.is_empty());
        Ok(s)
    }
}

/// Filings: an index per company and the parsed documents.
#[async_trait]
pub trait FilingSource: Send + Sync {
    /// The filings of `ticker`, newest first.
    async fn filings(&self, ticker: &str) -> Result<Vec<FilingRef>>;
    /// One filing, parsed (facts + sections).
    async fn filing(&self, filing: &FilingRef) -> Result<Filing>;
}

/// Dated text: news, transcripts, posts.
#[async_trait]
pub trait TextSource: Send + Sync {
    /// Items about `ticker` (all items when `None`) of the given kinds (all when empty) in
    /// `range`, ascending by date.
    async fn text_items(
        &self,
        ticker: Option<&str>,
        kinds: &[TextKind],
        range: DateRange,
    ) -> Result<Vec<TextItem>>;
}

/// Company reference data: ticker ↔ CIK, name, sector, exchange.
#[async_trait]
pub trait ReferenceSource: Send + Sync {
    /// One company by ticker (case-insensitive).
    async fn company(&self, ticker: &str) -> Result<Company>;
    /// Every company the source knows.
    async fn companies(&self) -> Result<Vec<Company>>;
}
