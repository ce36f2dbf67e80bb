//! A content-addressed cache of model answers: the key is the SHA-256 of what determines the
//! answer (the model's identity and the whole request), the value the answer with its usage and
//! latency. Each answer is written (temp file + rename) as soon as it arrives, so an interrupted
//! run resumes where it stopped and a matrix with one new variant computes only that variant.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EvalError;
use crate::llm::profiles::ProfileSettings;
use crate::utils::signers::sha256_bytes;

/// One cached answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    pub text: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// How long the original call took.
    pub latency_ms: u64,
    pub model: String,
}

/// Answers on disk under `dir/<first two hex digits>/<key>.json`.
#[derive(Debug, Clone)]
pub struct AnswerCache {
    dir: PathBuf,
}

impl AnswerCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2.min(key.len())]).join(format!("{key}.json"))
    }

    /// The cached answer of `key`; an unreadable or corrupt entry counts as a miss (and is
    /// overwritten by the next answer).
    pub fn get(&self, key: &str) -> Option<CachedAnswer> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(answer) => Some(answer),
            Err(e) => {
                tracing::warn!(key, error = %e, "corrupt cache entry ignored");
                None
            }
        }
    }

    /// Store an answer atomically.
    pub fn put(&self, key: &str, answer: &CachedAnswer) -> Result<(), EvalError> {
        let path = self.path(key);
        serde_json::to_vec(answer)
            .map_err(std::io::Error::other)
            .and_then(|bytes| crate::utils::files::write_atomic(&path, &bytes))
            .map_err(|source| EvalError::Write { path, source })
    }
}

/// The key of a request to a model: SHA-256 of the canonical JSON of both.
pub fn key(model: &Value, request: &Value) -> String {
    let bytes =
        serde_json::to_vec(&serde_json::json!({"model": model, "request": request})).unwrap_or_default();
    sha256_bytes(&bytes)
}

/// What identifies a profile's answers: the model (file, adapters, server and name) and its
/// default parameters — not knobs that only change speed (slots, threads, retries, timeouts).
/// A model given as a path adds the file's size and modification time.
pub fn model_identity(profile: &ProfileSettings) -> Value {
    let file = |reference: &str| {
        let meta = crate::llm::profiles::is_path(reference).and_then(|p| std::fs::metadata(p).ok());
        meta.map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            serde_json::json!({"bytes": m.len(), "modified": modified})
        })
    };
    match profile {
        ProfileSettings::Llama(p) => serde_json::json!({
            "provider": "llama",
            "model": p.model,
            "file": file(&p.model),
            "context": p.context,
            "lora": p.lora.iter().map(|l| serde_json::json!({
                "adapter": l.adapter, "scale": l.scale, "file": file(&l.adapter)
            })).collect::<Vec<_>>(),
            "params": p.params,
        }),
        ProfileSettings::Openai(p) => serde_json::json!({
            "provider": "openai",
            "model": p.model,
            "base_url": p.base_url,
            "params": p.params,
        }),
        ProfileSettings::Candle(p) => serde_json::json!({"provider": "candle", "model": p.model}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_and_corrupt_entries_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = AnswerCache::new(dir.path());
        let k = key(&serde_json::json!({"m": 1}), &serde_json::json!({"messages": []}));
        assert_eq!(k.len(), 64);
        assert!(cache.get(&k).is_none());
        let a = CachedAnswer {
            text: "positive".into(),
            prompt_tokens: 10,
            completion_tokens: 2,
            latency_ms: 30,
            model: "m".into(),
        };
        cache.put(&k, &a).unwrap();
        assert_eq!(cache.get(&k), Some(a));
        std::fs::write(cache.path(&k), b"{not json").unwrap();
        assert!(cache.get(&k).is_none());
    }

    #[test]
    fn keys_change_with_the_model_and_the_request() {
        let a = key(&serde_json::json!({"m": 1}), &serde_json::json!({"t": 0}));
        assert_ne!(a, key(&serde_json::json!({"m": 2}), &serde_json::json!({"t": 0})));
        assert_ne!(a, key(&serde_json::json!({"m": 1}), &serde_json::json!({"t": 1})));
        assert_eq!(a, key(&serde_json::json!({"m": 1}), &serde_json::json!({"t": 0})));
    }
}
