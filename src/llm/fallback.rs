//! Fallback chains: a profile whose provider fails hands the request to the next
//! profile of its chain (e.g. a hosted API, then the local model).

use async_trait::async_trait;

use super::profiles::Registry;
use super::{ChatModel, ChatRequest, ChatResponse, ChatStream, LlmError};

/// Tries the profiles of a chain in order. Only provider failures (unreachable,
/// unavailable, failed to load) move on; a bad request fails at once. A stream that
/// has started is not restarted elsewhere.
pub struct FallbackChat {
    name: String,
    registry: Registry,
    chain: Vec<String>,
}

impl FallbackChat {
    pub fn new(registry: Registry, chain: Vec<String>) -> Self {
        Self { name: chain.join(" > "), registry, chain }
    }

    async fn attempt<T, F, Fut>(&self, mut call: F) -> Result<T, LlmError>
    where
        F: FnMut(std::sync::Arc<dyn ChatModel>) -> Fut,
        Fut: std::future::Future<Output = Result<T, LlmError>>,
    {
        let mut failures = Vec::new();
        for name in &self.chain {
            let result = match self.registry.chat_single(name).await {
                Ok(model) => call(model).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(value) => return Ok(value),
                Err(e) if e.is_provider_failure() => {
                    tracing::warn!(profile = %name, error = %e, "profile failed; trying the next in its fallback chain");
                    failures.push(format!("{name}: {e}"));
                }
                Err(e) => return Err(e),
            }
        }
        Err(LlmError::Unavailable {
            provider: self.name.clone(),
            attempts: failures.len() as u32,
            reason: failures.join("; "),
        })
    }
}

#[async_trait]
impl ChatModel for FallbackChat {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        self.attempt(|model| {
            let request = request.clone();
            async move { model.chat_stream(request).await }
        })
        .await
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        self.attempt(|model| {
            let request = request.clone();
            async move { model.chat(request).await }
        })
        .await
    }
}
