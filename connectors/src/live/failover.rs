//! [`FailoverPrices`]: several price sources tried in order.
//!
//! Any failure moves on to the next source: HTTP errors after retries, rate limiting, a missing
//! API key, a response that no longer parses, and also an unknown ticker (one provider's
//! coverage is not another's: `7203.T` may be on Yahoo and not on Tiingo). The first series
//! served wins and its [`PriceSeries::source`] names the provider. When every source fails, the
//! errors are combined into one message; it is [`ConnectorError::UnknownTicker`] only when every
//! source said the ticker is unknown, [`ConnectorError::Config`] when every source is
//! misconfigured, and [`ConnectorError::Http`] otherwise.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{ConnectorError, Result};
use crate::traits::PriceSource;
use crate::types::{DateRange, PriceSeries};

/// Price sources tried in order (`name()` = `failover`).
#[derive(Clone)]
pub struct FailoverPrices {
    sources: Vec<Arc<dyn PriceSource>>,
}

impl std::fmt::Debug for FailoverPrices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailoverPrices").field("sources", &self.source_names()).finish()
    }
}

impl FailoverPrices {
    /// Sources in the order they are tried.
    pub fn new(sources: Vec<Arc<dyn PriceSource>>) -> Self {
        Self { sources }
    }

    /// The sources' names, in order.
    pub fn source_names(&self) -> Vec<String> {
        self.sources.iter().map(|s| s.name().to_string()).collect()
    }
}

#[async_trait]
impl PriceSource for FailoverPrices {
    fn name(&self) -> &str {
        "failover"
    }

    async fn daily_prices(&self, ticker: &str, range: DateRange) -> Result<PriceSeries> {
        if self.sources.is_empty() {
            return Err(ConnectorError::Config("FailoverPrices has no price sources".to_string()));
        }
        let mut failures: Vec<(String, ConnectorError)> = Vec::with_capacity(self.sources.len());
        for source in &self.sources {
            match source.daily_prices(ticker, range).await {
                Ok(series) => {
                    if !failures.is_empty() {
                        tracing::info!(
                            ticker,
                            served_by = source.name(),
                            "price failover: served by a later source"
                        );
                    }
                    return Ok(series);
                }
                Err(e) => {
                    tracing::warn!(
                        ticker,
                        source = source.name(),
                        "price source failed, trying the next: {e}"
                    );
                    failures.push((source.name().to_string(), e));
                }
            }
        }
        let combined = failures.iter().map(|(name, e)| format!("{name}: {e}")).collect::<Vec<_>>().join("; ");
        let all = |f: fn(&ConnectorError) -> bool| failures.iter().all(|(_, e)| f(e));
        if all(|e| matches!(e, ConnectorError::UnknownTicker { .. })) {
            Err(ConnectorError::UnknownTicker { ticker: ticker.to_string(), detail: combined })
        } else if all(|e| matches!(e, ConnectorError::Config(_))) {
            Err(ConnectorError::Config(combined))
        } else {
            let status = failures.iter().rev().find_map(|(_, e)| match e {
                ConnectorError::Http { status, .. } => *status,
                _ => None,
            });
            Err(ConnectorError::Http {
                url: format!("every price source ({})", self.source_names().join(", ")),
                status,
                message: format!("no source served {ticker}: {combined}"),
            })
        }
    }
}
