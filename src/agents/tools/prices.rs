//! `prices`: the latest quote of a ticker and its market metrics, with recent bars.

use async_trait::async_trait;
use bullpen_connectors::{DateRange, PriceSource};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{ToolContext, ToolError, ToolOutput, TypedTool, connector_error, failed, parse_date};
use crate::analytics::RatioEngine;
use crate::analytics::calc::round_to;

/// Arguments of `prices`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PricesArgs {
    /// Ticker, e.g. AAPL or 7203.T.
    pub ticker: String,
    /// Quote as of this date (YYYY-MM-DD); default: the latest.
    #[serde(default)]
    #[schemars(extend("format" = "date"))]
    pub as_of: Option<String>,
    /// Recent daily bars to include (0-10).
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    pub bars: Option<u8>,
}

/// The `prices` tool.
pub struct Prices;

#[async_trait]
impl TypedTool for Prices {
    type Args = PricesArgs;
    const NAME: &'static str = "prices";
    const DESCRIPTION: &'static str = "Latest close, daily change, 52-week range, 1/3/12-month returns, volatility, beta and drawdown of a ticker.";

    async fn run(&self, args: PricesArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let ticker = ctx.ticker(&args.ticker).await?;
        let as_of = match &args.as_of {
            Some(d) => Some(parse_date("as_of", d)?),
            None => ctx.as_of,
        };
        let series =
            match ctx.universe.daily_prices(&ticker.symbol, DateRange { from: None, to: as_of }).await {
                Ok(s) if !s.bars.is_empty() => s,
                Ok(_) => {
                    return Err(ToolError::NotFound(format!(
                        "no prices of {} on or before {}",
                        ticker.symbol,
                        as_of.map(|d| d.to_string()).unwrap_or_else(|| "today".into())
                    )));
                }
                Err(e) => {
                    // The ticker is parsed, so its listing is known even without prices.
                    return Err(ToolError::NotFound(format!(
                        "{} ({}, quoted in {}): {}",
                        ticker.symbol,
                        ticker.exchange,
                        ticker.currency,
                        connector_error(e)
                    )));
                }
            };
        let Some(last) = series.bars.last() else {
            return Err(ToolError::NotFound(format!("no prices of {}", ticker.symbol)));
        };
        let date = last.date;
        let engine = RatioEngine { index: Some(ctx.index_ticker.clone()), ..RatioEngine::default() };
        let mut notes = Vec::new();
        let market =
            engine.market_values(ctx.universe.as_ref(), &series, date, &mut notes).await.map_err(failed)?;
        let prev = series.bars.len().checked_sub(2).and_then(|i| series.bars.get(i));
        let currency = series.currency.clone().unwrap_or_else(|| ticker.currency.clone());
        let mut metrics = serde_json::Map::new();
        for v in &market {
            let value = match v.value {
                Some(x) => json!(round_to(x, 4)),
                None => json!(v.reason.clone().unwrap_or_else(|| "absent".into())),
            };
            metrics.insert(v.name.clone(), value);
        }
        let n = usize::from(args.bars.unwrap_or(3).min(10));
        let recent: Vec<_> = series.bars[series.bars.len().saturating_sub(n)..]
            .iter()
            .map(|b| json!({"date": b.date, "close": round_to(b.close, 4), "volume": b.volume}))
            .collect();
        let mut content = json!({
            "ticker": ticker.symbol,
            "exchange": ticker.exchange,
            "currency": currency,
            "date": date,
            "close": round_to(last.close, 4),
        });
        if let Some(p) = prev {
            content["previous_close"] = json!(round_to(p.close, 4));
            content["change_pct"] = json!(round_to((last.adj_close / p.adj_close - 1.0) * 100.0, 2));
        }
        content["metrics"] = serde_json::Value::Object(metrics);
        if !recent.is_empty() {
            content["recent"] = json!(recent);
        }
        if !notes.is_empty() {
            content["notes"] = json!(notes);
        }
        content["source"] = json!(series.source);
        Ok(ToolOutput::json(content))
    }
}
