//! Analytics over the data layer: the ratio engine (polars) and market metrics.
//!
//! `ratios` holds the fundamental ratio definitions and their polars plan, `market` the
//! price metrics, and `engine` assembles a [`RatioReport`] for one ticker as of a date with
//! every value's inputs (for citations) and every absent value's reason.

pub mod backtest;
pub mod calc;
pub mod charts;
pub mod engine;
pub mod format;
pub mod market;
pub mod ratios;

pub use engine::{AnalyticsError, InputRef, PeriodRatios, RatioEngine, RatioReport, RatioValue};
