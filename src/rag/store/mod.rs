//! The vector store seam: one trait, [`VectorStore`], with two backends — [`edge`]
//! (qdrant-edge in process, the default) and `remote` (a Qdrant server or cluster through
//! qdrant-client, feature `qdrant-remote`). Both hold one collection of chunks with a
//! named dense vector ([`DENSE`]), a BM25 sparse vector with the IDF modifier
//! ([`SPARSE`]) and a [`ChunkPayload`], with payload indexes on the filtered fields.

pub mod edge;
#[cfg(feature = "qdrant-remote")]
pub mod remote;

use async_trait::async_trait;
use chrono::{Datelike, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::RagError;
use super::chunker::ChunkKind;
use super::document::DocType;
use super::sparse::Sparse;

/// Name of the dense vector.
pub const DENSE: &str = "dense";
/// Name of the BM25 sparse vector.
pub const SPARSE: &str = "bm25";

/// Keyword payload fields with an index (filters and the ingestion manifest use them).
pub const KEYWORD_FIELDS: &[&str] = &["doc_id", "source", "ticker", "doc_type", "form", "section"];
/// Integer payload field with an index: the date as `yyyymmdd`.
pub const DATE_FIELD: &str = "date_num";

/// What every stored chunk carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChunkPayload {
    /// The document's stable id.
    pub doc_id: String,
    /// The document's content hash when ingested.
    pub doc_hash: String,
    /// Ingestion source (`filings`, `news` …).
    pub source: String,
    pub chunk_index: usize,
    /// Chunks of the document: a document with fewer stored is incomplete.
    pub chunk_count: usize,
    pub doc_type: DocType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cik: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fiscal_period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// `date` as `yyyymmdd`, for range filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_num: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// File path or URL of the document.
    pub uri: String,
    /// Character offsets of the chunk in the document's text.
    pub char_start: usize,
    pub char_end: usize,
    /// SHA-256 of the chunk's text.
    pub content_hash: String,
    pub kind: ChunkKind,
    /// The chunk's text.
    pub text: String,
}

/// `yyyymmdd` of a date.
pub fn date_num(date: NaiveDate) -> i64 {
    i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day())
}

/// A chunk to store.
#[derive(Debug, Clone)]
pub struct Point {
    pub id: Uuid,
    pub dense: Vec<f32>,
    pub sparse: Sparse,
    pub payload: ChunkPayload,
}

/// Payload filters; empty lists match everything. Values within a list are alternatives,
/// lists are combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tickers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doc_types: Vec<DocType>,
    /// Forms (`10-K`, `10-Q`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forms: Vec<String>,
    /// Section labels, exactly as stored (`Item 1A. Risk Factors`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<String>,
    /// Earliest date, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest date, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
    /// Documents by id (the ingestion uses it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doc_ids: Vec<String>,
    /// Ingestion sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Keyword conditions as `(field, values)`, empty lists left out.
    pub fn keyword_conditions(&self) -> Vec<(&'static str, Vec<String>)> {
        let types = self.doc_types.iter().map(|t| t.as_str().to_string()).collect();
        [
            ("ticker", self.tickers.iter().map(|t| t.to_ascii_uppercase()).collect()),
            ("doc_type", types),
            ("form", self.forms.iter().map(|f| f.to_ascii_uppercase()).collect()),
            ("section", self.sections.clone()),
            ("doc_id", self.doc_ids.clone()),
            ("source", self.sources.clone()),
        ]
        .into_iter()
        .filter(|(_, v): &(&str, Vec<String>)| !v.is_empty())
        .collect()
    }

    /// The date range as `yyyymmdd` bounds, when any.
    pub fn date_range(&self) -> Option<(Option<i64>, Option<i64>)> {
        (self.from.is_some() || self.to.is_some()).then(|| (self.from.map(date_num), self.to.map(date_num)))
    }
}

/// How to rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Embedding similarity only.
    Dense,
    /// BM25 only.
    Sparse,
    /// Both, fused by reciprocal rank.
    #[default]
    Hybrid,
}

/// One query to the store.
#[derive(Debug, Clone)]
pub struct StoreQuery {
    pub dense: Vec<f32>,
    pub sparse: Sparse,
    pub mode: SearchMode,
    pub filter: Filter,
    pub limit: usize,
    /// Candidates taken from each of dense and sparse before fusion.
    pub prefetch: usize,
    /// Reciprocal-rank-fusion constant (score = Σ 1 / (k + rank)).
    pub rrf_k: usize,
    /// Exact (brute-force) dense search instead of HNSW: for measuring HNSW recall.
    pub exact: bool,
    /// HNSW beam width at query time (the store's default when `None`).
    pub hnsw_ef: Option<usize>,
}

/// A stored chunk found by a query.
#[derive(Debug, Clone)]
pub struct ScoredChunk {
    pub id: Uuid,
    pub score: f32,
    pub payload: ChunkPayload,
}

/// What the ingestion needs to know of a stored chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChunk {
    pub id: Uuid,
    pub doc_id: String,
    pub doc_hash: String,
    pub source: String,
    pub chunk_count: usize,
}

/// A collection of chunks.
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// Where the chunks are (`qdrant-edge /path`, `qdrant http://host:6334/bullpen`).
    fn describe(&self) -> String;
    /// Dimension of the dense vectors.
    fn dimension(&self) -> usize;
    /// Inserts or replaces points (by id).
    async fn upsert(&self, points: Vec<Point>) -> Result<(), RagError>;
    /// Deletes every chunk matching `filter` (not empty).
    async fn delete(&self, filter: &Filter) -> Result<(), RagError>;
    /// Deletes points by id.
    async fn delete_ids(&self, ids: &[Uuid]) -> Result<(), RagError>;
    /// Every stored chunk's identity (no vectors, no text), for incremental ingestion.
    /// Points without a readable payload are returned with an empty `doc_id`.
    async fn manifest(&self) -> Result<Vec<StoredChunk>, RagError>;
    /// The best chunks for a query, best first.
    async fn search(&self, query: &StoreQuery) -> Result<Vec<ScoredChunk>, RagError>;
    /// Chunks matching `filter` (all when empty).
    async fn count(&self, filter: &Filter) -> Result<usize, RagError>;
    /// Makes writes durable.
    async fn flush(&self) -> Result<(), RagError>;
    /// Builds the search indexes after bulk writes (qdrant-edge builds HNSW only here; a
    /// server optimises on its own, so this is a no-op there).
    async fn optimize(&self) -> Result<(), RagError>;
}

/// Parses a stored payload, naming the point when it is unreadable.
pub fn parse_payload(id: &str, value: serde_json::Value) -> Result<ChunkPayload, RagError> {
    serde_json::from_value(value).map_err(|e| RagError::Store {
        backend: "payload".into(),
        reason: format!("point {id}: unreadable payload: {e}"),
    })
}
