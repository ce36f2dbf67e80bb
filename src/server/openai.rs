//! The OpenAI wire format: chat completions (whole and streamed chunks), models, embeddings,
//! and their conversion to and from Bullpen's provider-neutral types. Unknown request fields
//! are ignored, as OpenAI-compatible servers do; Bullpen's own additions are `session_id`,
//! `mode` (a director's route / lead / debate) and the `bullpen` object of responses.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::errors::ApiError;
use crate::agents::DirectorMode;
use crate::llm::{ChatRequest, Message, Role, SamplingParams, ToolCall, ToolChoice, ToolSpec};

/// Text, or an array of content parts (only `text` parts are supported).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

/// A tool call as OpenAI writes it: arguments are a JSON string.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ApiToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: ApiFunctionCall,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ApiFunctionCall {
    pub name: String,
    pub arguments: String,
}

fn function_type() -> String {
    "function".into()
}

/// A message of a request.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ApiMessage {
    /// system, developer, user, assistant or tool.
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ApiToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool offered to a raw model.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ApiTool {
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: ApiFunction,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ApiFunction {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
}

/// `stop` as a string or a list.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ChatCompletionRequest {
    /// `agent:NAME` (an agent of the library, e.g. `agent:market-analyst`) or a model profile.
    pub model: String,
    pub messages: Vec<ApiMessage>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub top_p: Option<f32>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub stop: Option<Stop>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub tools: Vec<ApiTool>,
    /// `auto`, `none`, `required` or `{"type": "function", "function": {"name": …}}`.
    #[serde(default)]
    pub tool_choice: Option<Value>,
    /// `{"type": "json_schema", "json_schema": {"name", "schema"}}` or `{"type": "json_object"}`.
    #[serde(default)]
    pub response_format: Option<Value>,
    /// Bullpen: continue this session (its history goes before `messages`; the exchange is stored).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Bullpen: how a director works (route, lead, debate).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub mode: Option<DirectorMode>,
}

/// Token counts.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
pub struct ApiUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

impl From<crate::llm::Usage> for ApiUsage {
    fn from(u: crate::llm::Usage) -> Self {
        Self {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens + u.completion_tokens,
        }
    }
}

/// The assistant's message in a response.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResponseMessage {
    pub role: String,
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ApiToolCall>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Choice {
    pub index: u32,
    pub message: ResponseMessage,
    pub finish_reason: String,
}

/// A whole chat completion.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChatCompletion {
    pub id: String,
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: ApiUsage,
    /// Bullpen: an agent run's id, agents, tool calls, citations, data lines, files and the
    /// count of unsupported numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bullpen: Option<Value>,
}

/// The delta of a streamed chunk.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<Value>>,
    /// Bullpen: an agent event (tool call started / finished, routing, final verification),
    /// in a delta without content, which OpenAI clients skip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bullpen_event: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub finish_reason: Option<String>,
}

/// One chunk of a streamed completion (`data: {…}` lines, then `data: [DONE]`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChatCompletionChunk {
    pub id: String,
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<ApiUsage>,
}

impl ChatCompletionChunk {
    pub fn new(id: &str, model: &str, created: i64, delta: Delta, finish: Option<String>) -> Self {
        Self {
            id: id.to_string(),
            object: "chat.completion.chunk".into(),
            created,
            model: model.to_string(),
            choices: vec![ChunkChoice { index: 0, delta, finish_reason: finish }],
            usage: None,
        }
    }
}

/// `GET /v1/models` entries.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelCard {
    pub id: String,
    pub object: String,
    pub created: i64,
    pub owned_by: String,
    /// Bullpen: what it is (an agent's description, a profile's provider).
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelList {
    pub object: String,
    pub data: Vec<ModelCard>,
}

/// `POST /v1/embeddings`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct EmbeddingRequest {
    pub model: String,
    pub input: EmbeddingInput,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingData {
    pub object: String,
    pub index: usize,
    pub embedding: Vec<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingResponse {
    pub object: String,
    pub model: String,
    pub data: Vec<EmbeddingData>,
    pub usage: ApiUsage,
}

fn role(r: &str, i: usize) -> Result<Role, ApiError> {
    Ok(match r {
        "system" | "developer" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => {
            return Err(ApiError::invalid_param(
                &format!("messages[{i}].role"),
                format!("unknown role `{other}`; expected system, developer, user, assistant or tool"),
            ));
        }
    })
}

/// The request's messages in Bullpen's types.
pub fn messages(req: &ChatCompletionRequest) -> Result<Vec<Message>, ApiError> {
    let mut out = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let content = match &m.content {
            None => String::new(),
            Some(Content::Text(t)) => t.clone(),
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for (j, p) in parts.iter().enumerate() {
                    match (p.kind.as_str(), &p.text) {
                        ("text", Some(t)) => text.push_str(t),
                        (kind, _) => {
                            return Err(ApiError::invalid_param(
                                &format!("messages[{i}].content[{j}]"),
                                format!("content parts of type `{kind}` are not supported; only text"),
                            ));
                        }
                    }
                }
                text
            }
        };
        let mut msg = Message {
            role: role(&m.role, i)?,
            content,
            tool_calls: Vec::new(),
            tool_call_id: m.tool_call_id.clone(),
        };
        for (j, c) in m.tool_calls.iter().flatten().enumerate() {
            let arguments: Value = serde_json::from_str(&c.function.arguments).map_err(|e| {
                ApiError::invalid_param(
                    &format!("messages[{i}].tool_calls[{j}].function.arguments"),
                    format!("not JSON: {e}"),
                )
            })?;
            msg.tool_calls.push(ToolCall { id: c.id.clone(), name: c.function.name.clone(), arguments });
        }
        out.push(msg);
    }
    Ok(out)
}

/// The request for a raw model: messages, sampling, tools, tool choice, response format.
pub fn chat_request(req: &ChatCompletionRequest, messages: Vec<Message>) -> Result<ChatRequest, ApiError> {
    if req.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid_param("n", "only n = 1 is supported"));
    }
    if let Some(t) = req.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(ApiError::invalid_param("temperature", format!("must be between 0 and 2, got {t}")));
    }
    if let Some(p) = req.top_p
        && !(p > 0.0 && p <= 1.0)
    {
        return Err(ApiError::invalid_param("top_p", format!("must be in (0, 1], got {p}")));
    }
    let max_tokens = req.max_completion_tokens.or(req.max_tokens);
    if max_tokens == Some(0) {
        return Err(ApiError::invalid_param("max_tokens", "must be at least 1"));
    }
    let params = SamplingParams {
        temperature: req.temperature,
        top_p: req.top_p,
        max_tokens,
        stop: match &req.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s.clone()],
            Some(Stop::Many(v)) => v.clone(),
        },
        seed: req.seed,
    };
    let mut request = ChatRequest::new(messages).with_params(params);
    if !req.tools.is_empty() {
        let tools: Vec<ToolSpec> = req
            .tools
            .iter()
            .map(|t| ToolSpec {
                name: t.function.name.clone(),
                description: t.function.description.clone().unwrap_or_default(),
                parameters: t
                    .function
                    .parameters
                    .clone()
                    .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
            })
            .collect();
        let choice = match &req.tool_choice {
            None => ToolChoice::Auto,
            Some(Value::String(s)) if s == "auto" => ToolChoice::Auto,
            Some(Value::String(s)) if s == "none" => ToolChoice::None,
            Some(Value::String(s)) if s == "required" => ToolChoice::Required,
            Some(v) => match v.pointer("/function/name").and_then(Value::as_str) {
                Some(name) => ToolChoice::Named(name.to_string()),
                None => return Err(ApiError::invalid_param("tool_choice", format!("unsupported value {v}"))),
            },
        };
        request = request.with_tools(tools, choice);
    }
    if let Some(rf) = &req.response_format {
        match rf.get("type").and_then(Value::as_str) {
            Some("text") | None => {}
            Some("json_object") => {
                request = request.with_schema("json_object", serde_json::json!({"type": "object"}))
            }
            Some("json_schema") => {
                let name =
                    rf.pointer("/json_schema/name").and_then(Value::as_str).unwrap_or("response").to_string();
                let schema = rf.pointer("/json_schema/schema").cloned().ok_or_else(|| {
                    ApiError::invalid_param("response_format.json_schema.schema", "missing")
                })?;
                crate::core::schemas::check_schema(&schema).map_err(|e| {
                    ApiError::invalid_param("response_format.json_schema.schema", e.to_string())
                })?;
                request = request.with_schema(name, schema);
            }
            Some(other) => {
                return Err(ApiError::invalid_param(
                    "response_format.type",
                    format!("unsupported type `{other}`"),
                ));
            }
        }
    }
    Ok(request)
}

/// Bullpen's tool calls in OpenAI's format.
pub fn api_tool_calls(calls: &[ToolCall]) -> Vec<ApiToolCall> {
    calls
        .iter()
        .map(|c| ApiToolCall {
            id: c.id.clone(),
            kind: "function".into(),
            function: ApiFunctionCall { name: c.name.clone(), arguments: c.arguments.to_string() },
        })
        .collect()
}

/// OpenAI's name for a finish reason.
pub fn finish_reason(r: crate::llm::FinishReason) -> String {
    match r {
        crate::llm::FinishReason::Stop => "stop",
        crate::llm::FinishReason::Length => "length",
        crate::llm::FinishReason::ToolCalls => "tool_calls",
    }
    .into()
}
