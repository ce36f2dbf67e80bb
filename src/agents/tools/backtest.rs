//! `backtest`: a rule-based strategy (moving-average cross, momentum, mean reversion) on a
//! ticker's adjusted closes, parameters given or chosen from history, against buy-and-hold
//! and the index, with an equity-curve chart.

use async_trait::async_trait;
use bullpen_connectors::{DateRange, PriceSource};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ToolContext, ToolError, ToolOutput, TypedTool, connector_error, failed, parse_date};
use crate::analytics::backtest::{BacktestResult, Costs, Metrics, Strategy, StrategyKind, backtest, choose};
use crate::analytics::calc::round_to;
use crate::analytics::charts::{ChartFormat, Series, line_chart};

/// Arguments of `backtest`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestArgs {
    /// Ticker, e.g. AAPL.
    pub ticker: String,
    /// sma_cross, momentum or mean_reversion.
    pub strategy: StrategyKind,
    /// Parameters (sma_cross: fast, slow; momentum: lookback; mean_reversion: window,
    /// entry_z); default: chosen by Sharpe on the first 60% of the history, scored on the rest.
    #[serde(default)]
    pub fast: Option<u16>,
    #[serde(default)]
    pub slow: Option<u16>,
    #[serde(default)]
    pub lookback: Option<u16>,
    #[serde(default)]
    pub window: Option<u16>,
    #[serde(default)]
    pub entry_z: Option<f64>,
    /// First day (YYYY-MM-DD).
    #[serde(default)]
    #[schemars(extend("format" = "date"))]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD).
    #[serde(default)]
    #[schemars(extend("format" = "date"))]
    pub to: Option<String>,
    /// Commission per trade in basis points (default 1).
    #[serde(default)]
    pub commission_bps: Option<f64>,
    /// Slippage per trade in basis points (default 2).
    #[serde(default)]
    pub slippage_bps: Option<f64>,
}

impl BacktestArgs {
    /// The strategy when its parameters are given; `None`: choose them from history.
    fn fixed(&self) -> Result<Option<Strategy>, ToolError> {
        let given = |v: Option<u16>| v.map(usize::from);
        Ok(match self.strategy {
            StrategyKind::SmaCross => match (given(self.fast), given(self.slow)) {
                (Some(fast), Some(slow)) => Some(Strategy::SmaCross { fast, slow }),
                (None, None) => None,
                _ => {
                    return Err(ToolError::Invalid(
                        "sma_cross needs both `fast` and `slow`, or neither".into(),
                    ));
                }
            },
            StrategyKind::Momentum => given(self.lookback).map(|lookback| Strategy::Momentum { lookback }),
            StrategyKind::MeanReversion => given(self.window).map(|window| Strategy::MeanReversion {
                window,
                entry_z: self.entry_z.unwrap_or(1.5),
                exit_z: 0.0,
            }),
        })
    }
}

/// The `backtest` tool.
pub struct Backtest;

fn metrics_json(m: &Metrics) -> Value {
    let r = |x: Option<f64>| x.map(|v| round_to(v, 4));
    json!({
        "total_return": round_to(m.total_return, 4),
        "cagr": r(m.cagr),
        "sharpe": r(m.sharpe),
        "sortino": r(m.sortino),
        "max_drawdown": round_to(m.max_drawdown, 4),
        "hit_rate": r(m.hit_rate),
        "turnover": r(m.turnover),
        "trades": m.trades,
        "exposure": round_to(m.exposure, 4),
    })
}

#[async_trait]
impl TypedTool for Backtest {
    type Args = BacktestArgs;
    const NAME: &'static str = "backtest";
    const DESCRIPTION: &'static str = "Backtest a rule-based strategy (sma_cross, momentum, mean_reversion) on a ticker: CAGR, Sharpe, Sortino, drawdown, hit rate, turnover vs buy-and-hold and the index.";

    async fn run(&self, args: BacktestArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let ticker = ctx.ticker(&args.ticker).await?;
        let from = args.from.as_deref().map(|d| parse_date("from", d)).transpose()?;
        let to = match &args.to {
            Some(d) => Some(parse_date("to", d)?),
            None => ctx.as_of,
        };
        let costs = Costs {
            commission_bps: args.commission_bps.unwrap_or(1.0),
            slippage_bps: args.slippage_bps.unwrap_or(2.0),
        };
        let series = ctx
            .universe
            .daily_prices(&ticker.symbol, DateRange { from, to })
            .await
            .map_err(connector_error)?;
        let dates: Vec<NaiveDate> = series.bars.iter().map(|b| b.date).collect();
        let close: Vec<f64> = series.bars.iter().map(|b| b.adj_close).collect();
        // The index aligned on the stock's dates (missing days carried forward by the engine).
        let index = match ctx.universe.daily_prices(&ctx.index_ticker, DateRange { from, to }).await {
            Ok(ix) => {
                let by_date: std::collections::HashMap<NaiveDate, f64> =
                    ix.bars.iter().map(|b| (b.date, b.adj_close)).collect();
                Some(dates.iter().map(|d| by_date.get(d).copied().unwrap_or(f64::NAN)).collect::<Vec<f64>>())
            }
            Err(_) => None,
        };
        let invalid = |e: crate::analytics::backtest::BacktestError| ToolError::Invalid(e.to_string());
        let (result, chosen): (BacktestResult, Option<Value>) = match args.fixed()? {
            Some(strategy) => {
                (backtest(&dates, &close, index.as_deref(), &strategy, &costs).map_err(invalid)?, None)
            }
            None => {
                let c =
                    choose(args.strategy, &dates, &close, index.as_deref(), &costs, 0.6).map_err(invalid)?;
                let how = json!({
                    "chosen_on": format!("{} to {}", c.train_start, c.train_end),
                    "train_sharpe": c.train_sharpe.map(|s| round_to(s, 4)),
                    "grid_points": c.grid.len(),
                });
                (c.result, Some(how))
            }
        };
        let format = ChartFormat::Png;
        let path = ctx.artifacts.join(format!(
            "{}-backtest-{}.{}",
            ticker.file_symbol().replace('.', "_"),
            result.label.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
            format.extension()
        ));
        let mut lines = vec![
            Series {
                name: result.label.clone(),
                points: result.equity.iter().map(|p| (p.date, p.strategy)).collect(),
            },
            Series {
                name: "buy and hold".into(),
                points: result.equity.iter().map(|p| (p.date, p.buy_and_hold)).collect(),
            },
        ];
        if result.index.is_some() {
            lines.push(Series {
                name: ctx.index_ticker.clone(),
                points: result.equity.iter().filter_map(|p| p.index.map(|v| (p.date, v))).collect(),
            });
        }
        let title = format!("{} — {} (growth of 1)", ticker.symbol, result.label);
        let p = path.clone();
        tokio::task::spawn_blocking(move || line_chart(&p, &title, "equity", &lines, format))
            .await
            .map_err(failed)?
            .map_err(failed)?;
        let mut content = json!({
            "ticker": ticker.symbol,
            "strategy": result.label,
            "period": format!("{} to {}", result.start, result.end),
            "bars": result.bars,
            "costs_bps": costs.commission_bps + costs.slippage_bps,
            "strategy_metrics": metrics_json(&result.metrics),
            "buy_and_hold": metrics_json(&result.buy_and_hold),
            "chart": path.display().to_string(),
            "rules": "signals at the close, trades at the next bar",
        });
        if let Some(ix) = &result.index {
            content["index"] = json!({"ticker": ctx.index_ticker, "metrics": metrics_json(ix)});
        }
        if let Some(how) = chosen {
            content["parameters"] = how;
        }
        Ok(ToolOutput { content, citations: Vec::new(), artifacts: vec![path] })
    }
}
