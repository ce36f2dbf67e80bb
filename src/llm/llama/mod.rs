//! Local GGUF chat models through llama.cpp (`llama` feature).
//!
//! [`LlamaChat`] turns provider-neutral requests into engine jobs: it applies the
//! model's own chat template (in the engine), turns tool specs and response schemas
//! into a JSON Schema compiled to a llama.cpp grammar, so that a small model's JSON
//! always parses, and parses the result back into text, tool calls or JSON.

mod engine;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

pub use engine::{Engine, EngineConfig};
use engine::{EngineEvent, Job};

use super::structured::{self, Action};
use super::{
    ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, FinishReason, LlmError, Role,
    SamplingParams, ToolChoice, ToolSpec, Usage,
};
use crate::core::schemas;

/// Default answer budget when neither the request nor the profile sets one.
const DEFAULT_MAX_TOKENS: u32 = 512;
/// Longest free-form JSON string a grammar allows (see [`structured::bound_strings`]).
const JSON_STRING_MAX_CHARS: u64 = 200;
/// Repetition penalty under a grammar: it breaks the loops small models fall into
/// inside strings, and cannot break the JSON (the grammar masks invalid tokens).
const JSON_REPEAT_PENALTY: f32 = 1.15;

/// A chat model served by a shared llama.cpp [`Engine`].
pub struct LlamaChat {
    name: String,
    engine: Arc<Engine>,
    defaults: SamplingParams,
    /// JSON Schema text → GBNF grammar.
    grammars: Mutex<HashMap<String, String>>,
}

/// How a request's output is shaped.
enum Mode {
    Text,
    Json { name: String, schema: Value },
    Tools { tools: Vec<ToolSpec> },
}

impl LlamaChat {
    /// Start an engine for `config` and serve it under `name`.
    pub async fn load(name: &str, config: EngineConfig, defaults: SamplingParams) -> Result<Self, LlmError> {
        Ok(Self::with_engine(name, Arc::new(Engine::start(config).await?), defaults))
    }

    /// Serve an already running engine (engines are shared between profiles).
    pub fn with_engine(name: &str, engine: Arc<Engine>, defaults: SamplingParams) -> Self {
        Self { name: name.to_string(), engine, defaults, grammars: Mutex::new(HashMap::new()) }
    }

    fn grammar(&self, schema: &Value) -> Result<String, LlmError> {
        let key = structured::bound_strings(schema, JSON_STRING_MAX_CHARS).to_string();
        if let Some(g) = self.grammars.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(g);
        }
        let grammar = llama_cpp_2::json_schema_to_grammar(&key).map_err(|e| {
            LlmError::InvalidRequest(format!(
                "JSON Schema not supported by llama.cpp's grammar converter: {e}"
            ))
        })?;
        let grammar = bound_exponents(&grammar);
        if let Ok(mut m) = self.grammars.lock() {
            m.insert(key, grammar.clone());
        }
        Ok(grammar)
    }
}

/// llama.cpp's converter lets a JSON number's exponent run to 16 digits
/// (`5.9e3287610510`), which no JSON parser reads as a finite double. Limit exponents
/// to two digits: with the converter's at most 16 integer digits a number stays far below
/// f64's 1.8e308 (three digits let `102E777` through).
fn bound_exponents(grammar: &str) -> String {
    grammar.replace("([eE] [-+]? integral-part)?", "([eE] [-+]? [0-9]{1,2})?")
}

/// A tool call's id, derived from the request's messages: the same conversation gets the same
/// ids, so a rerun sends the model the same prompt (a random id would change its tokens and,
/// with them, what a greedy model writes next). Each turn adds messages, so ids stay unique.
fn call_id(messages: &[(Role, String)]) -> String {
    let bytes = serde_json::to_vec(messages).unwrap_or_default();
    let digest = crate::utils::signers::sha256_bytes(&bytes);
    format!("call_{}", &digest[..16])
}

#[async_trait]
impl ChatModel for LlamaChat {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        if request.messages.is_empty() {
            return Err(LlmError::InvalidRequest("no messages".into()));
        }
        let params = request.params.clone().or(&self.defaults);
        let tools_on = !request.tools.is_empty() && request.tool_choice != ToolChoice::None;
        if tools_on && request.response_schema.is_some() {
            return Err(LlmError::InvalidRequest("tools and a response schema cannot be combined".into()));
        }
        let (mode, grammar, note) = if tools_on {
            let schema = structured::action_schema(&request.tools, &request.tool_choice)?;
            let note = structured::tools_prompt(&request.tools, &request.tool_choice);
            (Mode::Tools { tools: request.tools.clone() }, Some(self.grammar(&schema)?), Some(note))
        } else if let Some(rs) = &request.response_schema {
            schemas::check_schema(&rs.schema).map_err(|e| LlmError::InvalidRequest(e.to_string()))?;
            let mode = Mode::Json { name: rs.name.clone(), schema: rs.schema.clone() };
            (mode, Some(self.grammar(&rs.schema)?), Some(structured::schema_prompt(&rs.schema)))
        } else {
            (Mode::Text, None, None)
        };
        let messages = match note {
            Some(note) => {
                structured::flatten_tool_messages(&structured::with_system(&request.messages, &note))
            }
            None => structured::flatten_tool_messages(&request.messages),
        };
        let call_id = call_id(&messages);
        let (events_tx, mut events) = mpsc::unbounded_channel();
        self.engine.submit(Job {
            messages,
            stop_at_json_end: grammar.is_some(),
            repeat_penalty: if grammar.is_some() { JSON_REPEAT_PENALTY } else { 1.0 },
            grammar,
            temperature: params.temperature.unwrap_or(0.0),
            top_p: params.top_p.unwrap_or(1.0),
            // llama.cpp seeds are 32-bit: fold the halves so distinct u64 seeds stay distinct.
            seed: params.seed.map(|s| (s ^ (s >> 32)) as u32).unwrap_or_else(rand::random),
            max_tokens: params.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            stop: params.stop.clone(),
            events: events_tx,
        })?;
        // The first event tells whether the prompt was accepted: errors such as a
        // context overflow come back from this call, not from the stream.
        let prompt_tokens = match events.recv().await {
            Some(EngineEvent::Started { prompt_tokens }) => prompt_tokens,
            Some(EngineEvent::Failed(e)) => return Err(e),
            _ => return Err(LlmError::EngineStopped),
        };
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let model = self.engine.model_name.clone();
        tokio::spawn(async move {
            let mut text = String::new();
            loop {
                let event = tokio::select! {
                    event = events.recv() => event,
                    _ = out_tx.closed() => return, // the caller hung up: dropping `events` frees the slot
                };
                let item = match event {
                    Some(EngineEvent::Text(piece)) => {
                        text.push_str(&piece);
                        if matches!(mode, Mode::Tools { .. }) {
                            continue;
                        }
                        Ok(ChatEvent::Delta { text: piece })
                    }
                    Some(EngineEvent::Finished { reason, completion_tokens }) => {
                        let usage = Usage { prompt_tokens, completion_tokens };
                        let done = finish(&mode, text, reason, usage, model, &call_id);
                        if let Ok(resp) = &done
                            && matches!(mode, Mode::Tools { .. })
                            && !resp.text.is_empty()
                        {
                            let _ = out_tx.send(Ok(ChatEvent::Delta { text: resp.text.clone() }));
                        }
                        let _ = out_tx.send(done.map(ChatEvent::Done));
                        return;
                    }
                    Some(EngineEvent::Failed(e)) => {
                        let _ = out_tx.send(Err(e));
                        return;
                    }
                    Some(EngineEvent::Started { .. }) => continue,
                    None => {
                        let _ = out_tx.send(Err(LlmError::EngineStopped));
                        return;
                    }
                };
                if out_tx.send(item).is_err() {
                    return;
                }
            }
        });
        Ok(Box::pin(UnboundedReceiverStream::new(out_rx)))
    }
}

/// Build the final response for a finished generation.
fn finish(
    mode: &Mode,
    text: String,
    reason: FinishReason,
    usage: Usage,
    model: String,
    call_id: &str,
) -> Result<ChatResponse, LlmError> {
    let response = |text: String, tool_calls, finish_reason| ChatResponse {
        text,
        tool_calls,
        finish_reason,
        usage,
        model: model.clone(),
    };
    match mode {
        Mode::Text => Ok(response(text, Vec::new(), reason)),
        Mode::Json { name, schema } => {
            let violation = |reason: String| LlmError::SchemaViolation {
                schema: name.clone(),
                reason,
                output: text.clone(),
            };
            let value: Value = serde_json::from_str(text.trim()).map_err(|e| {
                violation(if reason == FinishReason::Length {
                    format!("the answer was cut at max_tokens ({e})")
                } else {
                    e.to_string()
                })
            })?;
            schemas::validate(schema, &value).map_err(|e| violation(e.to_string()))?;
            Ok(response(text.trim().to_string(), Vec::new(), reason))
        }
        Mode::Tools { tools } => match structured::parse_action(&text, tools, call_id.to_string())? {
            Action::Answer(answer) => Ok(response(answer, Vec::new(), reason)),
            Action::Call(call) => Ok(response(String::new(), vec![call], FinishReason::ToolCalls)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_exponents_are_bounded_in_the_grammar() {
        let schema = r#"{"type":"object","properties":{"x":{"type":"number"}},"required":["x"]}"#;
        let raw = llama_cpp_2::json_schema_to_grammar(schema).unwrap();
        assert!(raw.contains("([eE] [-+]? integral-part)?"), "the converter's number rule changed:\n{raw}");
        let bounded = bound_exponents(&raw);
        assert!(bounded.contains("([eE] [-+]? [0-9]{1,2})?"), "{bounded}");
        assert!(!bounded.contains("[eE] [-+]? integral-part"));
    }
}
