//! Settings of an index: where it lives (embedded directory or a Qdrant server), the
//! embedding profile, chunking, BM25 and retrieval.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::chunker::ChunkSettings;
use super::retrieve::RetrievalSettings;
use super::sparse::Bm25Settings;

/// An index of chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexSettings {
    /// Collection name (the embedded store's directory is `BULLPEN_HOME/indexes/<collection>`).
    #[serde(default = "default_collection")]
    pub collection: String,
    /// Directory of the embedded store instead of the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// A Qdrant server or cluster instead of the embedded store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteSettings>,
    /// The embedding profile (its model's tokenizer also counts chunk tokens).
    #[serde(default = "default_embedder")]
    pub embedder: String,
    #[serde(default)]
    pub chunking: ChunkSettings,
    #[serde(default)]
    pub bm25: Bm25Settings,
    #[serde(default)]
    pub retrieval: RetrievalSettings,
}

fn default_collection() -> String {
    "bullpen".to_string()
}

fn default_embedder() -> String {
    "minilm".to_string()
}

impl Default for IndexSettings {
    fn default() -> Self {
        Self {
            collection: default_collection(),
            path: None,
            remote: None,
            embedder: default_embedder(),
            chunking: ChunkSettings::default(),
            bm25: Bm25Settings::default(),
            retrieval: RetrievalSettings::default(),
        }
    }
}

/// A Qdrant server or cluster (gRPC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteSettings {
    /// gRPC URL, e.g. `http://localhost:6334`.
    pub url: String,
    /// Environment variable holding the API key (none sent when unset or empty).
    #[serde(default = "default_key_env", skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Request timeout, seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Shards of a new collection (the server's default when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
    /// Replicas of each shard of a new collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_factor: Option<u32>,
    /// Replicas that must acknowledge a write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_consistency_factor: Option<u32>,
    /// Write ordering: `weak`, `medium` or `strong`.
    #[serde(default = "default_ordering")]
    pub write_ordering: String,
}

fn default_key_env() -> Option<String> {
    Some("QDRANT_API_KEY".to_string())
}

fn default_timeout() -> u64 {
    30
}

fn default_ordering() -> String {
    "strong".to_string()
}

impl RemoteSettings {
    /// A server at `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            api_key_env: default_key_env(),
            timeout_secs: default_timeout(),
            shards: None,
            replication_factor: None,
            write_consistency_factor: None,
            write_ordering: default_ordering(),
        }
    }
}
