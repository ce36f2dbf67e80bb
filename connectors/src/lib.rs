//! Data sources for Bullpen: daily prices, statement fundamentals, SEC filings (companyfacts,
//! submissions, inline XBRL), dated text and company reference data.
//!
//! The crate depends on nothing in the `bullpen` crate. [`traits`] holds the seams;
//! [`local`] reads any universe a user brings (CSV, CSV.gz, Parquet, JSON, JSONL through
//! polars), [`sec`] parses and fetches EDGAR data, [`live`] fetches prices over HTTP with a
//! cache, rate limits, retries and failover, and [`universe`] ties a data directory together.

pub mod error;
pub mod files;
pub mod http;
pub mod live;
pub mod local;
pub mod sec;
pub mod traits;
pub mod types;
pub mod universe;

pub use error::{ConnectorError, Result};
pub use traits::{FilingSource, FundamentalsSource, PriceSource, ReferenceSource, TextSource};
pub use types::*;
