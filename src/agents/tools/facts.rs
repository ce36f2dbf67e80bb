//! `statement_facts`: income statement, balance sheet and cash-flow lines of a fiscal
//! period, or revenue by segment from a filing, each value with its source.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bullpen_connectors::universe::{filed_by, pick_filing};
use bullpen_connectors::{FundamentalsSource, LineItem};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

use super::{ToolContext, ToolError, ToolOutput, TypedTool, connector_error, parse_date};
use crate::agents::tickers::Ticker;

/// Which statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    Income,
    Balance,
    CashFlow,
    /// Revenue by segment, product or geography (dimensional facts of a filing).
    Segments,
    All,
}

/// Arguments of `statement_facts`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FactsArgs {
    /// Ticker, e.g. AAPL.
    pub ticker: String,
    /// income, balance, cash_flow, segments or all.
    pub statement: StatementKind,
    /// Fiscal period label, e.g. FY2024 or Q2 FY2025; default: the latest fiscal year.
    #[serde(default)]
    pub period: Option<String>,
    /// Use only data published by this date (YYYY-MM-DD).
    #[serde(default)]
    #[schemars(extend("format" = "date"))]
    pub as_of: Option<String>,
}

/// The `statement_facts` tool.
pub struct StatementFacts;

fn statement_of(item: LineItem) -> StatementKind {
    use LineItem::*;
    match item {
        OperatingCashFlow | CapitalExpenditure | DividendsPaid | DepreciationAmortization => {
            StatementKind::CashFlow
        }
        TotalAssets | CurrentAssets | CurrentLiabilities | TotalLiabilities | StockholdersEquity | Cash
        | LongTermDebt | ShortTermDebt | SharesOutstanding => StatementKind::Balance,
        _ => StatementKind::Income,
    }
}

#[async_trait]
impl TypedTool for StatementFacts {
    type Args = FactsArgs;
    const NAME: &'static str = "statement_facts";
    const DESCRIPTION: &'static str = "Reported statement lines (income, balance, cash_flow) of a fiscal period, or revenue by segment, from the company's XBRL filings.";

    async fn run(&self, args: FactsArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let ticker = ctx.ticker(&args.ticker).await?;
        if args.statement == StatementKind::Segments {
            return segments(&ticker, args.period.as_deref(), ctx).await;
        }
        let as_of = match &args.as_of {
            Some(d) => Some(parse_date("as_of", d)?),
            None => ctx.as_of,
        };
        let statements = match as_of {
            Some(d) => ctx.universe.statements_as_of(&ticker.symbol, d).await,
            None => ctx.universe.statements(&ticker.symbol).await,
        }
        .map_err(connector_error)?;
        let period = match &args.period {
            Some(label) => {
                statements.periods.iter().find(|p| p.label().eq_ignore_ascii_case(label.trim())).ok_or_else(
                    || {
                        ToolError::NotFound(format!(
                            "no period `{label}` for {}; known: {}",
                            ticker.symbol,
                            statements.periods.iter().map(|p| p.label()).collect::<Vec<_>>().join(", ")
                        ))
                    },
                )?
            }
            None => statements
                .periods
                .iter()
                .rev()
                .find(|p| p.fiscal_period.as_str() == "FY")
                .or(statements.periods.last())
                .ok_or_else(|| ToolError::NotFound(format!("no reported periods for {}", ticker.symbol)))?,
        };
        let mut groups: BTreeMap<&str, Map<String, serde_json::Value>> = BTreeMap::new();
        let mut sources = std::collections::BTreeSet::new();
        for (item, v) in &period.values {
            let kind = statement_of(*item);
            if args.statement != StatementKind::All && kind != args.statement {
                continue;
            }
            let group = match kind {
                StatementKind::Income => "income",
                StatementKind::Balance => "balance",
                _ => "cash_flow",
            };
            groups.entry(group).or_default().insert(item.as_str().to_string(), json!(v.value));
            sources.insert(format!("{} ({})", v.source.document, v.source.form.as_deref().unwrap_or("?")));
        }
        if groups.is_empty() {
            return Err(ToolError::NotFound(format!(
                "no {:?} lines for {} {}",
                args.statement,
                ticker.symbol,
                period.label()
            )));
        }
        let unit = period.values.values().find(|v| v.unit.starts_with("USD")).map(|v| v.unit.clone());
        Ok(ToolOutput::json(json!({
            "ticker": ticker.symbol,
            "company": statements.entity_name,
            "period": period.label(),
            "period_end": period.end,
            "currency": unit.map(|u| u.split('/').next().unwrap_or("USD").to_string()),
            "lines": groups,
            "sources": sources,
        })))
    }
}

/// Revenue facts with one dimension for the filing's own period (the longest duration
/// ending at its period end).
async fn segments(ticker: &Ticker, period: Option<&str>, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
    // Only what was public on the run's as-of date.
    let filings =
        filed_by(&ctx.universe.filings_of(&ticker.symbol).await.map_err(connector_error)?, ctx.as_of);
    let filing = pick_filing(&filings, Some("10-K"), period)
        .or_else(|| pick_filing(&filings, None, period))
        .ok_or_else(|| {
            ToolError::NotFound(format!(
                "no filing of {} for {}",
                ticker.symbol,
                period.unwrap_or("any period")
            ))
        })?;
    let end = filing.meta.period_end;
    let by_axis: BTreeMap<String, Map<String, serde_json::Value>> =
        crate::reports::build::revenue_segments(filing)
            .into_iter()
            .map(|(axis, members)| (axis, members.into_iter().map(|(m, v)| (m, json!(v))).collect()))
            .collect();
    if by_axis.is_empty() {
        return Err(ToolError::NotFound(format!(
            "{} {} reports no revenue by segment for its period",
            ticker.symbol, filing.meta.form
        )));
    }
    Ok(ToolOutput::json(json!({
        "ticker": ticker.symbol,
        "form": filing.meta.form,
        "period_end": end,
        "revenue_by": by_axis,
        "source": filing.meta.source,
    })))
}
