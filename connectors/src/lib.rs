//! Data sources for Bullpen: daily prices, fundamentals, filings, dated text items and
//! company reference data, from local files, SEC EDGAR and price APIs.
//!
//! This crate depends on nothing in the `bullpen` crate, so a connector can be used and
//! tested on its own. Its traits and implementations arrive with the data layer.
