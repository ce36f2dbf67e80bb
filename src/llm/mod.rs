//! The pluggable LLM layer: provider-neutral types, the [`ChatModel`] and [`Embedder`]
//! traits, and one implementation per provider behind cargo features.
//!
//! - [`llama`]: local GGUF models through llama.cpp, continuous batching, grammars, LoRA.
//! - [`candle`]: BERT-family sentence embeddings.
//! - [`openai`]: any OpenAI-compatible HTTP API.
//! - [`profiles`]: named model profiles from config, fallback chains.
//! - [`store`]: the catalog of named models and their installation.

pub mod fallback;
pub mod profiles;
pub mod store;
pub mod structured;
pub mod types;

#[cfg(feature = "candle")]
pub mod candle;
#[cfg(feature = "llama")]
pub mod llama;
#[cfg(feature = "openai")]
pub mod openai;

use std::pin::Pin;

use async_trait::async_trait;
use futures::{Stream, StreamExt};

pub use types::*;

/// Errors of the LLM layer.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error(
        "prompt of {prompt_tokens} tokens does not fit the context window of {context} tokens (an answer of up to {max_tokens} tokens was asked for); shorten the conversation or raise `context` in the profile"
    )]
    ContextOverflow { prompt_tokens: usize, max_tokens: usize, context: usize },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("model `{model}` could not be loaded: {reason}")]
    Load { model: String, reason: String },
    #[error("the model's output did not satisfy the schema `{schema}`: {reason}; output: {output}")]
    SchemaViolation { schema: String, reason: String, output: String },
    #[error("the model called tool `{tool}` with invalid arguments: {reason}")]
    InvalidToolCall { tool: String, reason: String },
    #[error("provider `{provider}` failed: {reason}")]
    Provider { provider: String, reason: String },
    #[error("provider `{provider}` is unavailable (after {attempts} attempts): {reason}")]
    Unavailable { provider: String, attempts: u32, reason: String },
    #[error("the model engine stopped")]
    EngineStopped,
    #[error("unknown model profile `{0}`; known profiles: {1}")]
    UnknownProfile(String, String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl LlmError {
    /// Whether a fallback chain should try the next provider after this error.
    /// Errors in the request itself would fail on every provider.
    pub fn is_provider_failure(&self) -> bool {
        matches!(
            self,
            LlmError::Load { .. }
                | LlmError::Provider { .. }
                | LlmError::Unavailable { .. }
                | LlmError::EngineStopped
                | LlmError::Store(_)
        )
    }
}

/// A stream of [`ChatEvent`]s ending with [`ChatEvent::Done`].
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, LlmError>> + Send>>;

/// A chat model: anything that completes conversations.
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// A short name for logs and responses.
    fn name(&self) -> &str;

    /// Stream the answer as text deltas, then the full [`ChatResponse`].
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, LlmError>;

    /// The whole answer at once.
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        collect(self.chat_stream(request).await?).await
    }
}

/// Drain a stream to its final response.
pub async fn collect(mut stream: ChatStream) -> Result<ChatResponse, LlmError> {
    while let Some(event) = stream.next().await {
        if let ChatEvent::Done(response) = event? {
            return Ok(response);
        }
    }
    Err(LlmError::EngineStopped)
}

/// A sentence embedding model.
#[async_trait]
pub trait Embedder: Send + Sync {
    fn name(&self) -> &str;
    /// Dimension of the vectors.
    fn dimension(&self) -> usize;
    /// Embed a batch of texts; one vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Embeddings, LlmError>;
    /// The model's own tokenizer, when it is local (the RAG chunker counts tokens with it).
    fn tokenizer(&self) -> Option<tokenizers::Tokenizer> {
        None
    }
    /// Most input tokens (special tokens included) the model reads; longer inputs are
    /// truncated.
    fn max_input_tokens(&self) -> Option<usize> {
        None
    }
}
