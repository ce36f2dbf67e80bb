//! BM25-style sparse vectors. Qdrant's own BM25 (from the `qdrant-edge` crate: the same
//! tokenizer, English stop words, Snowball stemmer and murmur3 term ids as the Qdrant
//! server's `qdrant/bm25` inference) weighs term frequencies with length normalisation;
//! the collection's sparse vector uses the IDF modifier, so the store applies inverse
//! document frequencies at query time over what it holds.

use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::NotNan;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::RagError;

/// A sparse vector: term ids and weights (same length, ids unique).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sparse {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Sparse {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// BM25 parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bm25Settings {
    /// Term-frequency saturation.
    #[serde(default = "default_k")]
    pub k: f64,
    /// Length normalisation (0 none, 1 full).
    #[serde(default = "default_b")]
    pub b: f64,
    /// Expected chunk length in BM25 terms (words less stop words).
    #[serde(default = "default_avg_len")]
    pub avg_len: f64,
}

fn default_k() -> f64 {
    1.2
}
fn default_b() -> f64 {
    0.75
}
fn default_avg_len() -> f64 {
    80.0
}

impl Default for Bm25Settings {
    fn default() -> Self {
        Self { k: default_k(), b: default_b(), avg_len: default_avg_len() }
    }
}

/// Embeds text into BM25 sparse vectors.
#[derive(Debug)]
pub struct Bm25 {
    inner: EdgeBm25,
}

impl Bm25 {
    pub fn new(settings: Bm25Settings) -> Result<Self, RagError> {
        let bad = |reason: String| RagError::Settings { key: "bm25".into(), reason };
        let not_nan = |name: &str, v: f64| NotNan::new(v).map_err(|_| bad(format!("{name} is NaN")));
        let config = EdgeBm25Config {
            k: not_nan("k", settings.k)?,
            b: not_nan("b", settings.b)?,
            avg_len: not_nan("avg_len", settings.avg_len)?,
            ..EdgeBm25Config::default()
        };
        let inner = EdgeBm25::new(config).map_err(|e| bad(e.to_string()))?;
        Ok(Self { inner })
    }

    /// The vector of a chunk (term frequencies, saturated and length-normalised).
    pub fn document(&self, text: &str) -> Sparse {
        let v = self.inner.embed_document(text);
        Sparse { indices: v.indices, values: v.values }
    }

    /// The vector of a query (1 per distinct term).
    pub fn query(&self, text: &str) -> Sparse {
        let v = self.inner.embed_query(text);
        Sparse { indices: v.indices, values: v.values }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_stop_words_make_query_and_document_terms_meet() {
        let bm25 = Bm25::new(Bm25Settings::default()).expect("bm25");
        let doc = bm25.document("The company's revenues increased and revenue growth continued");
        let query = bm25.query("revenue increase");
        assert!(!doc.is_empty() && query.indices.len() == 2, "{query:?}");
        for id in &query.indices {
            assert!(doc.indices.contains(id), "query term {id} not in the document");
        }
        assert!(bm25.query("the and of").is_empty(), "stop words only");
        assert!(Bm25::new(Bm25Settings { b: 2.0, ..Bm25Settings::default() }).is_err());
    }
}
