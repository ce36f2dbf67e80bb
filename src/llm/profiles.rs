//! Model profiles: named configurations (provider, model, default parameters) from
//! the settings, built lazily into shared [`ChatModel`]s and [`Embedder`]s, with
//! fallback chains.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SamplingParams;

/// One named profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "provider", rename_all = "lowercase", deny_unknown_fields)]
pub enum ProfileSettings {
    /// A local GGUF chat model served by llama.cpp in this process.
    Llama(LlamaProfile),
    /// An OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp server, Ollama, …).
    Openai(OpenAiProfile),
    /// A local BERT-family embedding model run by candle.
    Candle(CandleProfile),
}

/// A LoRA adapter (GGUF) applied on top of a llama profile's model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoraSettings {
    /// A catalog name or a path to the adapter's GGUF file.
    pub adapter: String,
    #[serde(default = "one")]
    pub scale: f32,
}

fn one() -> f32 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlamaProfile {
    /// A catalog name (`smollm2-135m-instruct`) or a path to a GGUF file.
    pub model: String,
    /// Context window per sequence, in tokens.
    #[serde(default = "default_context")]
    pub context: u32,
    /// Sequences decoded together in one batch (concurrent requests served at once).
    #[serde(default = "default_slots")]
    pub slots: u32,
    /// Most tokens fed to llama.cpp in one decode step (prompt chunks + one per active sequence).
    #[serde(default = "default_batch")]
    pub batch: u32,
    /// CPU threads; default: all cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lora: Vec<LoraSettings>,
    /// Keep each sequence's prompt in the KV cache after a request, so the next prompt that
    /// starts the same way (system prompt, instructions, conversation so far) prefills only
    /// what is new.
    #[serde(default = "yes")]
    pub prompt_cache: bool,
    #[serde(default)]
    pub params: SamplingParams,
    /// Profiles tried in order when this one fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback: Vec<String>,
}

fn default_context() -> u32 {
    2048
}
fn default_slots() -> u32 {
    8
}
fn default_batch() -> u32 {
    512
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAiProfile {
    /// The model name the server knows.
    pub model: String,
    /// e.g. `https://api.openai.com/v1`, `http://127.0.0.1:8000/v1`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Name of the environment variable holding the API key (never the key itself).
    #[serde(default = "default_key_env")]
    pub api_key_env: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Extra HTTP headers sent with every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Per-request timeout.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Retries on 429 / 5xx / timeouts / connection errors, with exponential backoff
    /// honouring `Retry-After`.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// Whether the server enforces `response_format: json_schema` itself. When false,
    /// Bullpen still validates the answer and retries once with the error shown.
    #[serde(default = "yes")]
    pub native_json_schema: bool,
    #[serde(default)]
    pub params: SamplingParams,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback: Vec<String>,
}

fn default_base_url() -> String {
    "https://api.openai.com/v1".to_string()
}
fn default_key_env() -> String {
    "OPENAI_API_KEY".to_string()
}
fn default_timeout() -> u64 {
    120
}
fn default_retries() -> u32 {
    3
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CandleProfile {
    /// A catalog name (`minilm-l6-v2`) or a directory with config.json, model.safetensors, tokenizer.json.
    pub model: String,
    /// Texts embedded per forward pass.
    #[serde(default = "default_embed_batch")]
    pub batch_size: usize,
    /// Longer inputs are truncated to this many tokens.
    #[serde(default = "default_max_len")]
    pub max_length: usize,
}

fn default_embed_batch() -> usize {
    64
}
fn default_max_len() -> usize {
    256
}

impl ProfileSettings {
    /// The local model files this profile loads (catalog names or paths): the model,
    /// then any LoRA adapters. Empty for remote providers.
    pub fn model_references(&self) -> Vec<&str> {
        match self {
            ProfileSettings::Llama(p) => {
                std::iter::once(p.model.as_str()).chain(p.lora.iter().map(|l| l.adapter.as_str())).collect()
            }
            ProfileSettings::Candle(p) => vec![p.model.as_str()],
            ProfileSettings::Openai(_) => Vec::new(),
        }
    }

    /// The context window in tokens, where the profile states it (local models).
    pub fn context_window(&self) -> Option<u32> {
        match self {
            ProfileSettings::Llama(p) => Some(p.context),
            _ => None,
        }
    }

    pub fn fallback(&self) -> &[String] {
        match self {
            ProfileSettings::Llama(p) => &p.fallback,
            ProfileSettings::Openai(p) => &p.fallback,
            ProfileSettings::Candle(_) => &[],
        }
    }
}

/// The built-in profiles: `local` (SmolLM2 through llama.cpp) and `minilm` (embeddings).
pub fn builtin_profiles() -> BTreeMap<String, ProfileSettings> {
    let mut profiles = BTreeMap::new();
    profiles.insert(
        "local".to_string(),
        ProfileSettings::Llama(LlamaProfile {
            model: crate::core::models::DEFAULT_CHAT_MODEL.to_string(),
            context: default_context(),
            slots: default_slots(),
            batch: default_batch(),
            threads: None,
            lora: Vec::new(),
            prompt_cache: true,
            params: SamplingParams { temperature: Some(0.0), max_tokens: Some(256), ..Default::default() },
            fallback: Vec::new(),
        }),
    );
    profiles.insert(
        "minilm".to_string(),
        ProfileSettings::Candle(CandleProfile {
            model: crate::core::models::DEFAULT_EMBEDDING_MODEL.to_string(),
            batch_size: default_embed_batch(),
            max_length: default_max_len(),
        }),
    );
    profiles
}

/// Resolve a model reference: an existing path is used as is, anything else is a
/// catalog name.
pub fn is_path(reference: &str) -> Option<PathBuf> {
    let p = PathBuf::from(reference);
    (reference.contains('/') || reference.ends_with(".gguf")).then_some(p)
}

// ---------------------------------------------------------------------------
// Registry: profiles → loaded models.

use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};

use super::fallback::FallbackChat;
use super::{ChatModel, Embedder, LlmError};
use crate::llm::store::ModelStore;

/// One lazily built value per key. The map lock is held only to find the cell, so a
/// slow load (a model pull, an engine start) never blocks other keys.
struct Cells<T>(Mutex<BTreeMap<String, Arc<OnceCell<T>>>>);

impl<T: Clone> Cells<T> {
    fn new() -> Self {
        Self(Mutex::new(BTreeMap::new()))
    }

    async fn get_or_try_init<F, Fut>(&self, key: &str, init: F) -> Result<T, LlmError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, LlmError>>,
    {
        let cell = self.0.lock().await.entry(key.to_string()).or_default().clone();
        cell.get_or_try_init(init).await.cloned()
    }
}

/// Builds and caches the models of the configured profiles. Cheap to clone.
/// A local model file is loaded once and shared by every profile that uses it with
/// the same engine shape (context, slots, LoRA set).
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    profiles: BTreeMap<String, ProfileSettings>,
    /// Installs local model files; unused in a build with only remote providers.
    #[cfg_attr(not(any(feature = "llama", feature = "candle")), allow(dead_code))]
    store: Arc<ModelStore>,
    chats: Cells<Arc<dyn ChatModel>>,
    embedders: Cells<Arc<dyn Embedder>>,
    #[cfg(feature = "llama")]
    engines: Cells<Arc<super::llama::Engine>>,
}

impl Registry {
    pub fn new(profiles: BTreeMap<String, ProfileSettings>, store: Arc<ModelStore>) -> Self {
        Self {
            inner: Arc::new(Inner {
                profiles,
                store,
                chats: Cells::new(),
                embedders: Cells::new(),
                #[cfg(feature = "llama")]
                engines: Cells::new(),
            }),
        }
    }

    /// Profile names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.inner.profiles.keys().cloned().collect()
    }

    pub fn profile(&self, name: &str) -> Result<&ProfileSettings, LlmError> {
        self.inner
            .profiles
            .get(name)
            .ok_or_else(|| LlmError::UnknownProfile(name.to_string(), self.names().join(", ")))
    }

    /// The profile and every profile of its fallback chain, in the order they are tried.
    pub fn chain(&self, name: &str) -> Result<Vec<String>, LlmError> {
        let mut chain = vec![name.to_string()];
        let mut next: Vec<String> = self.profile(name)?.fallback().to_vec();
        while !next.is_empty() {
            let fallback = next.remove(0);
            if chain.contains(&fallback) {
                continue;
            }
            next.extend(self.profile(&fallback)?.fallback().iter().cloned());
            chain.push(fallback);
        }
        Ok(chain)
    }

    /// The chat model of a profile, loading it on first use. A profile with a
    /// fallback chain is served by a [`FallbackChat`] that loads the others lazily.
    pub async fn chat(&self, name: &str) -> Result<Arc<dyn ChatModel>, LlmError> {
        let chain = self.chain(name)?;
        if chain.len() == 1 {
            return self.chat_single(name).await;
        }
        Ok(Arc::new(FallbackChat::new(self.clone(), chain)))
    }

    /// The chat model of exactly this profile (no fallback), loading it on first use.
    pub async fn chat_single(&self, name: &str) -> Result<Arc<dyn ChatModel>, LlmError> {
        self.inner.chats.get_or_try_init(name, || self.build_chat(name)).await
    }

    async fn build_chat(&self, name: &str) -> Result<Arc<dyn ChatModel>, LlmError> {
        match self.profile(name)? {
            #[cfg(feature = "llama")]
            ProfileSettings::Llama(p) => {
                let engine = self.engine(p).await?;
                Ok(Arc::new(super::llama::LlamaChat::with_engine(name, engine, p.params.clone())))
            }
            #[cfg(feature = "openai")]
            ProfileSettings::Openai(p) => Ok(Arc::new(super::openai::OpenAiChat::new(name, p)?)),
            ProfileSettings::Candle(_) => Err(LlmError::InvalidRequest(format!(
                "profile `{name}` is an embedding model (candle), not a chat model"
            ))),
            #[allow(unreachable_patterns)]
            _ => Err(LlmError::InvalidRequest(format!(
                "profile `{name}` needs a provider this build was compiled without (cargo features llama / openai)"
            ))),
        }
    }

    #[cfg(feature = "llama")]
    async fn engine(&self, p: &LlamaProfile) -> Result<Arc<super::llama::Engine>, LlmError> {
        let model_path = self.resolve_file(&p.model).await?;
        let mut lora = Vec::new();
        for l in &p.lora {
            lora.push((self.resolve_file(&l.adapter).await?, l.scale));
        }
        let threads = p
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1));
        let config = super::llama::EngineConfig {
            model_path,
            lora,
            context: p.context,
            slots: p.slots,
            batch: p.batch,
            threads,
            prompt_cache: p.prompt_cache,
        };
        let key = format!("{config:?}");
        self.inner
            .engines
            .get_or_try_init(&key, || async { Ok(Arc::new(super::llama::Engine::start(config).await?)) })
            .await
    }

    /// A model reference to a local path: an existing path as is, else a catalog
    /// name installed (pulled if needed) by the store.
    #[cfg(any(feature = "llama", feature = "candle"))]
    async fn resolve_file(&self, reference: &str) -> Result<PathBuf, LlmError> {
        if let Some(path) = is_path(reference) {
            if path.exists() {
                return Ok(path);
            }
            return Err(LlmError::Load { model: reference.to_string(), reason: "no such file".into() });
        }
        Ok(self.inner.store.ensure(reference).await?)
    }

    /// The embedding model of a profile, loading it on first use.
    pub async fn embedder(&self, name: &str) -> Result<Arc<dyn Embedder>, LlmError> {
        self.inner.embedders.get_or_try_init(name, || self.build_embedder(name)).await
    }

    async fn build_embedder(&self, name: &str) -> Result<Arc<dyn Embedder>, LlmError> {
        match self.profile(name)? {
            #[cfg(feature = "candle")]
            ProfileSettings::Candle(p) => {
                let dir = self.resolve_file(&p.model).await?;
                let model = super::candle::CandleEmbedder::load_async(
                    dir,
                    name.to_string(),
                    p.batch_size,
                    p.max_length,
                )
                .await?;
                Ok(Arc::new(model))
            }
            #[cfg(feature = "openai")]
            ProfileSettings::Openai(p) => Ok(Arc::new(super::openai::OpenAiEmbedder::new(name, p)?)),
            ProfileSettings::Llama(_) => Err(LlmError::InvalidRequest(format!(
                "profile `{name}` is a chat model (llama), not an embedding model"
            ))),
            #[allow(unreachable_patterns)]
            _ => Err(LlmError::InvalidRequest(format!(
                "profile `{name}` needs a provider this build was compiled without (cargo features candle / openai)"
            ))),
        }
    }
}
