//! `ratios`: financial ratios of one fiscal period and the valuation at the latest price,
//! from the ratio engine (every value traceable to its XBRL inputs).

use std::collections::BTreeSet;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ToolContext, ToolError, ToolOutput, TypedTool, failed, parse_date};
use crate::analytics::calc::round_to;
use crate::analytics::{AnalyticsError, PeriodRatios, RatioEngine};

/// Arguments of `ratios`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RatiosArgs {
    /// Ticker, e.g. AAPL.
    pub ticker: String,
    /// Fiscal period label, e.g. FY2024 or Q2 FY2025; default: the latest fiscal year.
    #[serde(default)]
    pub period: Option<String>,
    /// Use only data published by this date (YYYY-MM-DD).
    #[serde(default)]
    #[schemars(extend("format" = "date"))]
    pub as_of: Option<String>,
}

/// The `ratios` tool.
pub struct Ratios;

/// A period's present values as `{name: value}` and absent ones as `{name: reason}`.
pub fn period_values(p: &PeriodRatios) -> (Map<String, Value>, Map<String, Value>) {
    let mut values = Map::new();
    let mut absent = Map::new();
    for v in &p.values {
        match v.value {
            Some(x) => {
                values.insert(v.name.clone(), json!(round_to(x, 4)));
            }
            None => {
                absent.insert(v.name.clone(), json!(v.reason.clone().unwrap_or_default()));
            }
        }
    }
    (values, absent)
}

#[async_trait]
impl TypedTool for Ratios {
    type Args = RatiosArgs;
    const NAME: &'static str = "ratios";
    const DESCRIPTION: &'static str = "Financial ratios of a fiscal year or quarter (margins, returns, growth, leverage, liquidity) and valuation (P/E, EV/EBITDA) of a ticker.";

    async fn run(&self, args: RatiosArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let ticker = ctx.ticker(&args.ticker).await?;
        let as_of = match &args.as_of {
            Some(d) => Some(parse_date("as_of", d)?),
            None => ctx.as_of,
        };
        let engine = RatioEngine { index: Some(ctx.index_ticker.clone()), ..RatioEngine::default() };
        let report =
            engine.report(ctx.universe.as_ref(), &ticker.symbol, as_of).await.map_err(|e| match e {
                AnalyticsError::Source(c) => super::connector_error(c),
                AnalyticsError::NoData { .. } => ToolError::NotFound(e.to_string()),
                other => failed(other),
            })?;
        let period = match &args.period {
            Some(label) => {
                report.periods.iter().find(|p| p.label.eq_ignore_ascii_case(label.trim())).ok_or_else(
                    || {
                        ToolError::NotFound(format!(
                            "no period `{label}` for {}; known: {}",
                            ticker.symbol,
                            report.periods.iter().map(|p| p.label.as_str()).collect::<Vec<_>>().join(", ")
                        ))
                    },
                )?
            }
            None => report
                .periods
                .iter()
                .rev()
                .find(|p| p.fiscal_period.as_str() == "FY")
                .or(report.periods.last())
                .ok_or_else(|| ToolError::NotFound(format!("no fiscal periods for {}", ticker.symbol)))?,
        };
        let (values, absent) = period_values(period);
        let mut sources = BTreeSet::new();
        for v in &period.values {
            for i in &v.inputs {
                sources.insert(i.document.clone());
            }
        }
        let mut content = json!({
            "ticker": report.ticker,
            "period": period.label,
            "period_end": period.end,
            "as_of": report.as_of,
            "ratios": values,
        });
        if !absent.is_empty() {
            content["absent"] = Value::Object(absent);
        }
        if let Some(v) = &report.valuation {
            let (values, _) = period_values(v);
            content["valuation"] = json!({"basis": v.label, "price_date": v.price_date, "values": values});
        }
        content["sources"] = json!(sources);
        Ok(ToolOutput::json(content))
    }
}
