//! Equity research reports in batch.
//!
//! For each ticker, as of a date: [`data`] gathers what was public then (ratio engine,
//! statements, prices, the latest 10-K/10-Q, sector peers) → [`analysis`] values it in code
//! (DCF, peer multiples, target, rating, sensitivity) → [`build`] makes the tables, charts,
//! key data and each section's data lines and passages → [`prose`] has the report writer
//! agent write each section (numbers verified) → [`doc::Document`] → [`render`] (Markdown,
//! self-contained HTML) and [`pdf`] (in process). [`batch`] runs many tickers with bounded
//! concurrency, progress bars, atomic files, resumption and a manifest.

pub mod analysis;
pub mod batch;
pub mod build;
pub mod charts;
pub mod data;
pub mod doc;
#[cfg(feature = "pdf")]
pub mod pdf;
pub mod prose;
pub mod render;
pub mod valuation;

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why one report could not be made (the batch goes on with the other tickers).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("unknown ticker {ticker}: {detail}")]
    UnknownTicker { ticker: String, detail: String },
    #[error("missing data for {ticker}: {detail}")]
    MissingData { ticker: String, detail: String },
    #[error("data of {ticker} unreadable: {detail}")]
    Data { ticker: String, detail: String },
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot render the {format}: {reason}")]
    Render { format: &'static str, reason: String },
}

/// An output format.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Md,
    Html,
    Pdf,
}

impl ReportFormat {
    /// The file name of the report in this format.
    pub fn file_name(self) -> &'static str {
        match self {
            ReportFormat::Md => "report.md",
            ReportFormat::Html => "report.html",
            ReportFormat::Pdf => "report.pdf",
        }
    }

    /// Every format.
    pub const ALL: [ReportFormat; 3] = [ReportFormat::Md, ReportFormat::Html, ReportFormat::Pdf];
}
