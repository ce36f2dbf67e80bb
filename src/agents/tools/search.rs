//! `search_documents`: hybrid retrieval over the RAG index; every hit comes back with its
//! citation.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{ToolContext, ToolError, ToolOutput, TypedTool, failed, truncate};
use crate::rag::{DocType, Filter, SearchMode, SearchRequest};

/// Arguments of `search_documents`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// What to look for.
    pub query: String,
    /// Only documents about this ticker.
    #[serde(default)]
    pub ticker: Option<String>,
    /// Only this kind of document.
    #[serde(default)]
    pub doc_type: Option<DocType>,
    /// Only this form, e.g. 10-K.
    #[serde(default)]
    pub form: Option<String>,
    /// Hits wanted (1-8, default 4).
    #[serde(default)]
    #[schemars(range(min = 1, max = 8))]
    pub k: Option<u8>,
}

/// The `search_documents` tool.
pub struct SearchDocuments;

#[async_trait]
impl TypedTool for SearchDocuments {
    type Args = SearchArgs;
    const NAME: &'static str = "search_documents";
    const DESCRIPTION: &'static str =
        "Search filings, transcripts, news and ratio cards; returns passages with citations.";

    async fn run(&self, args: SearchArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        if args.query.trim().is_empty() {
            return Err(ToolError::Invalid("`query` is empty".into()));
        }
        let Some(rag) = &ctx.rag else {
            return Err(ToolError::Failed("no document index is configured for this agent".into()));
        };
        let retriever = rag.retriever().await?;
        let filter = Filter {
            tickers: args.ticker.iter().map(|t| t.trim().to_uppercase()).collect(),
            doc_types: args.doc_type.into_iter().collect(),
            forms: args.form.iter().map(|f| f.trim().to_uppercase()).collect(),
            to: ctx.as_of,
            ..Filter::default()
        };
        let request = SearchRequest {
            query: args.query.clone(),
            filter,
            k: usize::from(args.k.unwrap_or(4).clamp(1, 8)),
            mode: SearchMode::Hybrid,
        };
        let hits = retriever.search(&request).await.map_err(failed)?;
        if hits.is_empty() {
            return Err(ToolError::NotFound(format!(
                "no passages match `{}` (is the index built? run `bullpen ingest`)",
                args.query
            )));
        }
        let passages: Vec<_> = hits
            .iter()
            .map(|h| json!({"rank": h.rank, "citation": h.citation.label(), "text": truncate(&h.text, 600)}))
            .collect();
        Ok(ToolOutput {
            content: json!({"query": args.query, "passages": passages}),
            citations: hits.into_iter().map(|h| h.citation).collect(),
            artifacts: Vec::new(),
        })
    }
}
