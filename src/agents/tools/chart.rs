//! `chart`: a price chart of a ticker (close, optional moving averages) as PNG or SVG.

use async_trait::async_trait;
use bullpen_connectors::{DateRange, PriceSource};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{ToolContext, ToolError, ToolOutput, TypedTool, connector_error, failed, parse_date};
use crate::analytics::charts::{ChartFormat, Series, line_chart};

/// Arguments of `chart`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChartArgs {
    /// Ticker, e.g. AAPL.
    pub ticker: String,
    /// First day (YYYY-MM-DD); default: one year before the last.
    #[serde(default)]
    #[schemars(extend("format" = "date"))]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD); default: the latest.
    #[serde(default)]
    #[schemars(extend("format" = "date"))]
    pub to: Option<String>,
    /// Moving averages to overlay, in trading days (e.g. 50, 200).
    #[serde(default)]
    #[schemars(length(max = 3))]
    pub moving_averages: Vec<u16>,
    /// png or svg; default png.
    #[serde(default)]
    pub format: Option<ChartFormat>,
}

/// The `chart` tool.
pub struct Chart;

/// Simple moving average of `window` values ending at each index (`None` before it fills).
pub fn sma(values: &[f64], window: usize) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0;
    for (i, v) in values.iter().enumerate() {
        sum += v;
        if i >= window {
            sum -= values[i - window];
        }
        out.push((window > 0 && i + 1 >= window).then(|| sum / window as f64));
    }
    out
}

#[async_trait]
impl TypedTool for Chart {
    type Args = ChartArgs;
    const NAME: &'static str = "chart";
    const DESCRIPTION: &'static str =
        "Draw a price chart of a ticker (close and moving averages) as PNG or SVG.";

    async fn run(&self, args: ChartArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let ticker = ctx.ticker(&args.ticker).await?;
        let to = match &args.to {
            Some(d) => Some(parse_date("to", d)?),
            None => ctx.as_of,
        };
        let from = args.from.as_deref().map(|d| parse_date("from", d)).transpose()?;
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(ToolError::Invalid(format!("`from` {f} is not before `to` {t}")));
        }
        if args.moving_averages.iter().any(|&w| w < 2) {
            return Err(ToolError::Invalid("moving averages need at least 2 days".into()));
        }
        let series = ctx
            .universe
            .daily_prices(&ticker.symbol, DateRange { from: None, to })
            .await
            .map_err(connector_error)?;
        let last = series.bars.last().map(|b| b.date).ok_or_else(|| {
            ToolError::NotFound(format!(
                "no prices of {} ({}, {})",
                ticker.symbol, ticker.exchange, ticker.currency
            ))
        })?;
        let start = from.unwrap_or_else(|| crate::analytics::market::window_start(last));
        let closes: Vec<f64> = series.bars.iter().map(|b| b.close).collect();
        let shown = |i: usize| series.bars[i].date >= start;
        let mut lines = vec![Series {
            name: format!("{} close", ticker.symbol),
            points: (0..closes.len())
                .filter(|&i| shown(i))
                .map(|i| (series.bars[i].date, closes[i]))
                .collect(),
        }];
        for &w in &args.moving_averages {
            let avg = sma(&closes, usize::from(w));
            lines.push(Series {
                name: format!("{w}-day average"),
                points: (0..closes.len())
                    .filter(|&i| shown(i))
                    .filter_map(|i| avg[i].map(|v| (series.bars[i].date, v)))
                    .collect(),
            });
        }
        let format = args.format.unwrap_or_default();
        let currency = series.currency.clone().unwrap_or(ticker.currency.clone());
        let path = ctx.artifacts.join(format!(
            "{}-price-{start}-{last}.{}",
            ticker.file_symbol().replace('.', "_"),
            format.extension()
        ));
        let title = format!("{} close ({currency})", ticker.symbol);
        let (p, t, c, l) = (path.clone(), title, currency.clone(), lines.clone());
        tokio::task::spawn_blocking(move || line_chart(&p, &t, &c, &l, format))
            .await
            .map_err(failed)?
            .map_err(|e| match e {
                crate::analytics::charts::ChartError::Empty(m) => ToolError::NotFound(m),
                other => failed(other),
            })?;
        let first = lines[0].points.first().map(|p| p.1);
        let last_close = lines[0].points.last().map(|p| p.1);
        Ok(ToolOutput {
            content: json!({
                "ticker": ticker.symbol,
                "file": path.display().to_string(),
                "from": start,
                "to": last,
                "first_close": first,
                "last_close": last_close,
                "points": lines[0].points.len(),
            }),
            citations: Vec::new(),
            artifacts: vec![path],
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn moving_average_fills_after_the_window() {
        let a = super::sma(&[1.0, 2.0, 3.0, 4.0], 2);
        assert_eq!(a, vec![None, Some(1.5), Some(2.5), Some(3.5)]);
    }
}
