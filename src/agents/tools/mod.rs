//! The agents' tools: typed Rust structs whose JSON Schemas come from schemars. A tool's
//! arguments are validated against its schema before it runs; its output is JSON for the
//! model plus citations and files (charts) for the user.
//!
//! One tool per file: [`prices`], [`ratios`], [`facts`], [`filing`], [`search`],
//! [`sentiment`], [`calculator`], [`chart`], [`backtest`].

pub mod backtest;
pub mod calculator;
pub mod chart;
pub mod facts;
pub mod filing;
pub mod prices;
pub mod ratios;
pub mod search;
pub mod sentiment;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bullpen_connectors::universe::Universe;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::agents::tickers::Ticker;
use crate::core::schemas;
use crate::jobs::JobContext;
use crate::llm::{ChatModel, ToolSpec};
use crate::rag::{Citation, Index, IndexSettings, Retriever};

pub use sentiment::Lexicon;

/// Why a tool call failed. The message goes back to the model as the tool's result, so it
/// says what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not satisfy the schema or make no sense (an unknown ticker).
    #[error("invalid arguments: {0}")]
    Invalid(String),
    /// Nothing matches (no such filing, no prices in the range).
    #[error("not found: {0}")]
    NotFound(String),
    /// The tool itself failed (a file could not be read, the index is busy).
    #[error("failed: {0}")]
    Failed(String),
}

/// What a tool returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolOutput {
    /// The result shown to the model (and checked by the number verifier).
    pub content: Value,
    /// Sources of the result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Citation>,
    /// Files written (charts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<PathBuf>,
}

impl ToolOutput {
    pub fn json(content: Value) -> Self {
        Self { content, ..Self::default() }
    }
}

/// A tool as the runtime sees it.
#[async_trait]
pub trait Tool: Send + Sync {
    fn name(&self) -> &str;
    /// Name, description and argument schema for the model.
    fn spec(&self) -> ToolSpec;
    /// Runs the tool on arguments already validated against [`Tool::spec`].
    async fn call(&self, arguments: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError>;
}

/// A tool with typed arguments; every `TypedTool` is a [`Tool`].
#[async_trait]
pub trait TypedTool: Send + Sync + 'static {
    type Args: DeserializeOwned + JsonSchema + Send;
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    async fn run(&self, args: Self::Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError>;
}

#[async_trait]
impl<T: TypedTool> Tool for T {
    fn name(&self) -> &str {
        T::NAME
    }
    fn spec(&self) -> ToolSpec {
        ToolSpec::of::<T::Args>(T::NAME, T::DESCRIPTION)
    }
    async fn call(&self, arguments: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let args: T::Args =
            serde_json::from_value(arguments).map_err(|e| ToolError::Invalid(e.to_string()))?;
        self.run(args, ctx).await
    }
}

/// Checks `arguments` against the tool's schema: the runtime's guard for providers that do
/// not constrain tool calls.
pub fn validate_arguments(spec: &ToolSpec, arguments: &Value) -> Result<(), ToolError> {
    schemas::validate(&spec.parameters, arguments).map_err(|e| ToolError::Invalid(e.to_string()))
}

/// The RAG index, opened on first use (opening the embedded store takes its lock).
pub struct RagAccess {
    settings: IndexSettings,
    ctx: JobContext,
    retriever: OnceCell<Retriever>,
}

impl RagAccess {
    pub fn new(settings: IndexSettings, ctx: JobContext) -> Self {
        Self { settings, ctx, retriever: OnceCell::new() }
    }

    pub async fn retriever(&self) -> Result<&Retriever, ToolError> {
        self.retriever
            .get_or_try_init(|| async {
                let embedder = self.ctx.embedder(&self.settings.embedder).await.map_err(failed)?;
                let index = Index::open(&self.settings, &self.ctx.home, embedder).await.map_err(failed)?;
                Ok(index.retriever())
            })
            .await
    }
}

/// What tools work with: the data universe, the RAG index, where to write files.
#[derive(Clone)]
pub struct ToolContext {
    pub universe: Arc<Universe>,
    /// The RAG index; `None`: the search tool answers that there is no index.
    pub rag: Option<Arc<RagAccess>>,
    /// Directory for charts and other files (the runtime points it at the run's directory).
    pub artifacts: PathBuf,
    /// The Loughran–McDonald lexicon, when the user has it.
    pub lexicon: Option<Arc<Lexicon>>,
    /// The model classifying sentiment when there is no lexicon.
    pub model: Option<Arc<dyn ChatModel>>,
    /// Index ticker for beta and benchmark comparisons.
    pub index_ticker: String,
    /// No data after this date is used (default: all).
    pub as_of: Option<NaiveDate>,
    /// The universe's companies, read on first use (to resolve company names to tickers).
    pub companies: Arc<OnceCell<Vec<bullpen_connectors::Company>>>,
}

impl ToolContext {
    /// A ticker from what the model wrote: a symbol (`AAPL`, `7203.T`) or, when that is not
    /// in the universe, a company name (`Apple`, `Coca-Cola`) matched against the universe's
    /// companies. Unknown symbols stay as written, so tools report them as not found.
    pub async fn ticker(&self, input: &str) -> Result<Ticker, ToolError> {
        let parsed = Ticker::parse(input);
        let companies = self
            .companies
            .get_or_try_init(|| async {
                use bullpen_connectors::ReferenceSource;
                self.universe.companies().await
            })
            .await;
        let Ok(companies) = companies else {
            return parsed.map_err(|e| ToolError::Invalid(e.to_string()));
        };
        if let Ok(t) = &parsed
            && companies.iter().any(|c| c.ticker == t.symbol)
        {
            return parsed.map_err(|e| ToolError::Invalid(e.to_string()));
        }
        let key = name_key(input);
        if !key.is_empty()
            && let Some(c) = companies.iter().find(|c| {
                c.name.as_deref().is_some_and(|n| {
                    let n = name_key(n);
                    n == key || n.starts_with(&format!("{key} "))
                })
            })
        {
            return Ticker::parse(&c.ticker).map_err(|e| ToolError::Invalid(e.to_string()));
        }
        parsed.map_err(|e| ToolError::Invalid(e.to_string()))
    }
}

/// A company name reduced for matching: lower case, letters and digits, legal suffixes dropped.
fn name_key(name: &str) -> String {
    let cleaned: String =
        name.to_lowercase().chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
    let drop =
        ["inc", "corp", "corporation", "co", "company", "plc", "ltd", "the", "incorporated", "holdings"];
    cleaned.split_whitespace().filter(|w| !drop.contains(w)).collect::<Vec<_>>().join(" ")
}

/// A [`ToolError::Failed`] from any error.
pub fn failed(e: impl std::fmt::Display) -> ToolError {
    ToolError::Failed(e.to_string())
}

/// A connector error as a tool error: unknown tickers and missing data are the model's to fix.
pub fn connector_error(e: bullpen_connectors::ConnectorError) -> ToolError {
    use bullpen_connectors::ConnectorError as E;
    match e {
        E::UnknownTicker { .. } | E::NotFound { .. } => ToolError::NotFound(e.to_string()),
        other => ToolError::Failed(other.to_string()),
    }
}

/// Every built-in tool by name.
pub struct ToolBox {
    tools: BTreeMap<String, Arc<dyn Tool>>,
}

impl Default for ToolBox {
    fn default() -> Self {
        Self::builtin()
    }
}

impl ToolBox {
    /// The built-in tools.
    pub fn builtin() -> Self {
        let list: Vec<Arc<dyn Tool>> = vec![
            Arc::new(prices::Prices),
            Arc::new(ratios::Ratios),
            Arc::new(facts::StatementFacts),
            Arc::new(filing::FilingSection),
            Arc::new(search::SearchDocuments),
            Arc::new(sentiment::NewsSentiment),
            Arc::new(calculator::Calculator),
            Arc::new(chart::Chart),
            Arc::new(backtest::Backtest),
        ];
        Self { tools: list.into_iter().map(|t| (t.name().to_string(), t)).collect() }
    }

    /// Adds (or replaces) a tool.
    pub fn insert(&mut self, tool: Arc<dyn Tool>) {
        self.tools.insert(tool.name().to_string(), tool);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools.get(name).cloned()
    }

    pub fn names(&self) -> Vec<&str> {
        self.tools.keys().map(String::as_str).collect()
    }
}

/// Accepts a date written `YYYY-MM-DD`.
pub fn parse_date(field: &str, value: &str) -> Result<NaiveDate, ToolError> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map_err(|_| ToolError::Invalid(format!("`{field}` must be a date YYYY-MM-DD, got `{value}`")))
}

/// The first `max` characters of `text` (on a character boundary), with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// A one-line digest of a tool result for people: its scalar fields (nested one level) as
/// `key value` pairs, long texts and lists left out. Numbers are printed as the tool gave them.
pub fn digest(content: &Value, max_pairs: usize) -> String {
    const SKIP: [&str; 10] =
        ["source", "sources", "citation", "text", "news", "recent", "passages", "steps", "file", "chart"];
    let scalar = |v: &Value| match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if s.chars().count() <= 40 => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let mut pairs = Vec::new();
    if let Value::Object(map) = content {
        for (k, v) in map.iter().filter(|(k, _)| !SKIP.contains(&k.as_str())) {
            match v {
                Value::Object(inner) => {
                    for (k2, v2) in inner {
                        if let Some(x) = scalar(v2) {
                            pairs.push(format!("{k2} {x}"));
                        }
                    }
                }
                other => {
                    if let Some(x) = scalar(other) {
                        pairs.push(format!("{k} {x}"));
                    }
                }
            }
        }
    }
    let more = pairs.len().saturating_sub(max_pairs);
    pairs.truncate(max_pairs);
    let mut line = pairs.join(" · ");
    if more > 0 {
        line.push_str(&format!(" · (+{more} more)"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_digest_lists_scalars_one_level_deep_and_skips_texts() {
        let v = json!({"ticker": "KO", "close": 59.52, "metrics": {"beta": 0.53, "notes": ["x"]}, "text": "long", "recent": [1, 2]});
        assert_eq!(digest(&v, 10), "ticker KO · close 59.52 · beta 0.53");
        assert_eq!(digest(&v, 2), "ticker KO · close 59.52 · (+1 more)");
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("€€€€", 2), "€€…");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
