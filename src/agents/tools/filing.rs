//! `filing_section`: the text of one Item of a 10-K or 10-Q (tables kept as tables), cited.

use async_trait::async_trait;
use bullpen_connectors::universe::{filed_by, pick_filing};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{ToolContext, ToolError, ToolOutput, TypedTool, connector_error, truncate};
use crate::rag::{Citation, DocType};

/// Arguments of `filing_section`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilingArgs {
    /// Ticker, e.g. AAPL.
    pub ticker: String,
    /// Item: 1, 1A (risk factors), 7 (MD&A), 7A (market risk), 8; 10-Q Part II: II-1A.
    pub item: String,
    /// 10-K or 10-Q; default 10-K.
    #[serde(default)]
    pub form: Option<String>,
    /// Fiscal period label, e.g. FY2024; default: the latest.
    #[serde(default)]
    pub period: Option<String>,
    /// Most characters returned (200-6000, default 2000).
    #[serde(default)]
    #[schemars(range(min = 200, max = 6000))]
    pub max_chars: Option<u32>,
}

/// The `filing_section` tool.
pub struct FilingSection;

#[async_trait]
impl TypedTool for FilingSection {
    type Args = FilingArgs;
    const NAME: &'static str = "filing_section";
    const DESCRIPTION: &'static str = "Text of one Item of a 10-K or 10-Q filing (1A risk factors, 7 MD&A, 7A market risk), with its citation.";

    async fn run(&self, args: FilingArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let ticker = ctx.ticker(&args.ticker).await?;
        let form = args.form.as_deref().unwrap_or("10-K");
        // Only what was public on the run's as-of date.
        let filings =
            filed_by(&ctx.universe.filings_of(&ticker.symbol).await.map_err(connector_error)?, ctx.as_of);
        let filing = pick_filing(&filings, Some(form), args.period.as_deref()).ok_or_else(|| {
            ToolError::NotFound(format!(
                "no {form} of {} for {}; filings: {}",
                ticker.symbol,
                args.period.as_deref().unwrap_or("any period"),
                filings.iter().map(|f| f.meta.form.clone()).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let section = filing.section(&args.item).ok_or_else(|| {
            ToolError::NotFound(format!(
                "{} {} has no Item {}; Items: {}",
                ticker.symbol,
                filing.meta.form,
                args.item,
                filing.sections.iter().map(|s| s.label()).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let text = section.text();
        let max = args.max_chars.unwrap_or(2000).clamp(200, 6000) as usize;
        let shown = truncate(&text, max);
        let label = format!("{}. {}", section.label(), section.title);
        let citation = Citation {
            doc_id: format!("{}#{}", filing.meta.source, section.label()),
            document: filing.meta.source.clone(),
            doc_type: DocType::Filing,
            ticker: Some(ticker.symbol.clone()),
            form: Some(filing.meta.form.clone()),
            fiscal_period: filing.meta.fiscal_year.map(|y| format!("FY{y}")),
            section: Some(label.clone()),
            title: filing.meta.company.clone(),
            date: filing.meta.filed,
            char_start: 0,
            char_end: shown.chars().count().min(text.chars().count()),
        };
        Ok(ToolOutput {
            content: json!({
                "ticker": ticker.symbol,
                "form": filing.meta.form,
                "period_end": filing.meta.period_end,
                "filed": filing.meta.filed,
                "section": label,
                "chars": text.chars().count(),
                "text": shown,
                "citation": citation.label(),
            }),
            citations: vec![citation],
            artifacts: Vec::new(),
        })
    }
}
