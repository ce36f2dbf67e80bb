//! Retrieval-augmented generation over Qdrant: documents from the data layer are cleaned,
//! chunked by the embedding model's tokens ([`chunker`]), embedded (dense) and weighed by
//! BM25 ([`sparse`]), and stored with a citation-ready payload ([`store`]: qdrant-edge in
//! process, or a Qdrant server); [`retrieve`] fuses dense and sparse rankings and returns
//! hits with citations. [`ingest`] is idempotent and incremental; [`sources`] turns the
//! universe and files into documents.

pub mod chunker;
pub mod document;
pub mod ingest;
pub mod retrieve;
pub mod settings;
pub mod sources;
pub mod sparse;
pub mod store;
pub mod tokens;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use chunker::{ChunkSettings, Chunker};
pub use document::{DocType, Document};
pub use ingest::{Indexer, IngestOptions, IngestReport, Skipped};
pub use retrieve::{Citation, Hit, Retriever, SearchRequest};
pub use settings::{IndexSettings, RemoteSettings};
pub use store::{Filter, SearchMode, VectorStore};

use crate::llm::{Embedder, LlmError};
use sparse::Bm25;
use tokens::{HfTokens, TokenCounter, WordTokens};

/// Errors of the RAG layer.
#[derive(Debug, thiserror::Error)]
pub enum RagError {
    /// A setting that cannot work.
    #[error("invalid `{key}` setting: {reason}")]
    Settings { key: String, reason: String },
    #[error("tokenizer `{name}`: {reason}")]
    Tokenizer { name: String, reason: String },
    /// The vector store failed.
    #[error("{backend}: {reason}")]
    Store { backend: String, reason: String },
    /// Another process holds the embedded store.
    #[error("the index at {} is in use by another Bullpen process (ingestion or search); wait for it to finish", path.display())]
    Busy { path: PathBuf },
    #[error(
        "the index {store} holds {stored}-dimensional vectors but the embedding model gives {wanted}; use another collection for another model"
    )]
    Dimension { store: String, stored: usize, wanted: usize },
    #[error("embedding failed: {0}")]
    Embed(#[source] Box<LlmError>),
    #[error("data: {0}")]
    Data(#[source] Box<bullpen_connectors::ConnectorError>),
}

/// The directory of the embedded store of `settings` under `home`.
pub fn edge_dir(settings: &IndexSettings, home: &Path) -> PathBuf {
    settings.path.clone().unwrap_or_else(|| home.join("indexes").join(&settings.collection))
}

/// An open index: its store, embedder, chunker and BM25 — what ingestion and retrieval share.
#[derive(Clone)]
pub struct Index {
    pub store: Arc<dyn VectorStore>,
    pub embedder: Arc<dyn Embedder>,
    pub chunker: Chunker,
    pub bm25: Arc<Bm25>,
    pub settings: IndexSettings,
}

impl Index {
    /// Opens the store of `settings` for `embedder` (creating it when new).
    pub async fn open(
        settings: &IndexSettings,
        home: &Path,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Self, RagError> {
        if settings.collection.is_empty()
            || !settings.collection.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || settings.collection.starts_with('.')
        {
            return Err(RagError::Settings {
                key: "collection".into(),
                reason: format!("`{}` must be letters, digits, `-`, `_` or `.`", settings.collection),
            });
        }
        settings.chunking.check(embedder.max_input_tokens())?;
        let tokens: Arc<dyn TokenCounter> = match embedder.tokenizer() {
            Some(t) => Arc::new(HfTokens::new(format!("tokenizer of {}", embedder.name()), t)?),
            None => {
                tracing::warn!(
                    embedder = embedder.name(),
                    "no local tokenizer: chunk sizes are counted in words"
                );
                Arc::new(WordTokens)
            }
        };
        let bm25 = Arc::new(Bm25::new(settings.bm25)?);
        let store = open_store(settings, home, embedder.dimension()).await?;
        Ok(Self {
            store,
            embedder,
            chunker: Chunker::new(tokens, settings.chunking),
            bm25,
            settings: settings.clone(),
        })
    }

    /// The ingestion side.
    pub fn indexer(&self) -> Indexer {
        Indexer {
            store: self.store.clone(),
            embedder: self.embedder.clone(),
            chunker: self.chunker.clone(),
            bm25: self.bm25.clone(),
        }
    }

    /// The retrieval side.
    pub fn retriever(&self) -> Retriever {
        Retriever {
            store: self.store.clone(),
            embedder: self.embedder.clone(),
            bm25: self.bm25.clone(),
            settings: self.settings.retrieval,
        }
    }
}

/// The store of `settings`: a Qdrant server when `remote` is set, else qdrant-edge.
pub async fn open_store(
    settings: &IndexSettings,
    home: &Path,
    dimension: usize,
) -> Result<Arc<dyn VectorStore>, RagError> {
    match &settings.remote {
        #[cfg(feature = "qdrant-remote")]
        Some(remote) => {
            Ok(Arc::new(store::remote::QdrantStore::open(remote, &settings.collection, dimension).await?))
        }
        #[cfg(not(feature = "qdrant-remote"))]
        Some(_) => Err(RagError::Settings {
            key: "remote".into(),
            reason: "this build has no Qdrant client; rebuild with the `qdrant-remote` feature".into(),
        }),
        None => Ok(Arc::new(store::edge::EdgeStore::open(&edge_dir(settings, home), dimension).await?)),
    }
}
