//! The OpenAI-compatible provider: any server that speaks `/v1/chat/completions` and
//! `/v1/embeddings` (OpenAI, vLLM, llama.cpp's server, llama-cpp-python, Ollama).
//!
//! Transport is async-openai with our own HTTP service under it ([`RetryPolicy`]):
//! every request is retried on 429, 5xx, timeouts and connection errors with
//! exponential backoff and jitter, honouring `Retry-After` / `retry-after-ms`; once the
//! retries are spent the call fails with [`LlmError::Unavailable`] and the attempt count.
//! async-openai's own retry layer is not used, so a profile's `max_retries` is exact.
//! Other statuses are not retried: 400, 422 and the other 4xx are
//! [`LlmError::InvalidRequest`] (the request would fail anywhere, so a fallback chain
//! stops), 401 / 403 / 404 and a spent quota are [`LlmError::Provider`] failures.
//!
//! Requests are built from async-openai's typed request structs; responses are read
//! with lenient local structs, because servers differ in the fields they fill in
//! (llama-cpp-python repeats the tool name in every stream chunk, Ollama may omit
//! `type` on tool calls, …).
//!
//! Structured output: with `native_json_schema` the request carries
//! `response_format: {"type": "json_schema", "json_schema": {..., "strict": ...}}`;
//! servers that do not know that form (llama-cpp-python accepts only the older
//! `{"type": "json_object", "schema": ...}`) say so in their error, and the call is
//! re-sent in the older form, which is kept for later calls once the server accepted
//! it. Without `native_json_schema` the schema goes into the system prompt and a wrong
//! answer is retried once, the whole answer shown back with the error.
//! Either way the answer is always validated against the schema
//! ([`LlmError::SchemaViolation`]), and tool-call arguments against the tool's schema
//! ([`LlmError::InvalidToolCall`]); raw control characters inside JSON strings (which
//! llama-cpp-python's grammars let through) are escaped before parsing.
//!
//! Usage: streamed calls ask for `stream_options.include_usage`; servers that ignore it
//! (llama-cpp-python) leave the streamed [`Usage`] at zero.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls, ChatCompletionNamedToolChoice,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestToolMessage,
    ChatCompletionRequestToolMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, ChatCompletionStreamOptions, ChatCompletionTool,
    ChatCompletionToolChoiceOption, ChatCompletionTools, CreateChatCompletionRequest, FunctionCall,
    FunctionName, FunctionObject, ResponseFormat, ResponseFormatJsonSchema, StopConfiguration,
    ToolChoiceOptions,
};
use async_trait::async_trait;
use futures::StreamExt;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::profiles::OpenAiProfile;
use super::structured;
use super::{
    ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, Embedder, Embeddings, FinishReason,
    LlmError, Message, ResponseSchema, Role, SamplingParams, ToolCall, ToolChoice, ToolSpec, Usage,
};
use crate::core::schemas::{self, SchemaError};

// ---------------------------------------------------------------------------
// Retry policy (pure parts).

/// How failed HTTP attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// Backoff before the first retry; doubles with every further retry.
    pub base_delay: Duration,
    /// Upper bound of the exponential backoff.
    pub max_delay: Duration,
    /// Upper bound of a server's `Retry-After`.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// The default schedule (0.5 s, 1 s, 2 s, … up to 20 s; `Retry-After` up to 60 s).
    pub fn new(max_retries: u32) -> Self {
        Self {
            max_retries,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
        }
    }

    /// Exponential backoff with "equal jitter" before retry number `retry` (0-based):
    /// `e/2 + jitter * e/2` with `e = min(base * 2^retry, max)` and `jitter` in `[0, 1]`.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exp = self.base_delay.saturating_mul(2u32.saturating_pow(retry.min(31))).min(self.max_delay);
        let half = exp / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// The wait before retry number `retry`: the server's `Retry-After` when it gave
    /// one (capped at `max_retry_after`), the jittered backoff otherwise.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.max_retry_after),
            None => self.backoff(retry, jitter),
        }
    }
}

/// Parse a `Retry-After` value: delay-seconds (`"120"`, also fractional `"1.5"`) or an
/// HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`, relative to `now`; a date in the past
/// means "now"). `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait a response asks for: `retry-after-ms` (OpenAI) or `Retry-After`.
fn retry_after_from_headers(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) =
        headers.get("retry-after-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms.min(1e12) / 1000.0));
    }
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP/1.1 servers must send.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let rest = value.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let day: u32 = day.parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| m == month)? as u32
        + 1;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<u32>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + i64::from(h * 3600 + m * 60 + s);
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

// ---------------------------------------------------------------------------
// The HTTP service under async-openai: headers, timeouts, retries.

/// Failures of the HTTP layer, carried through async-openai as `OpenAIError::Boxed`.
#[derive(Debug, thiserror::Error)]
enum TransportError {
    /// A retryable failure that persisted through every attempt.
    #[error("{reason}")]
    Exhausted { attempts: u32, reason: String },
    /// A non-retryable HTTP status.
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String },
}

#[derive(Clone)]
struct RetryingHttp {
    http: reqwest::Client,
    policy: RetryPolicy,
    provider: Arc<str>,
    /// Sent on every request (organisation and the profile's extra headers).
    headers: HeaderMap,
    /// Drop async-openai's `Authorization` header (no key configured).
    strip_auth: bool,
    /// Whole-request timeout for non-streaming calls; streams are bounded per read.
    timeout: Duration,
}

type HttpFuture = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

impl tower::Service<HttpRequestFactory> for RetryingHttp {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = HttpFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        Box::pin(self.clone().run(factory))
    }
}

fn is_retryable_status(status: reqwest::StatusCode) -> bool {
    status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error()
}

/// Whether a reqwest failure may pass on a retry: timeouts, refused connections, broken
/// bodies, and sending failures caused by the connection (reset, closed before the
/// answer). A request that could not be built or that hyper refuses to send (an
/// unsupported method or URI) fails the same way every time.
fn is_transient(error: &reqwest::Error) -> bool {
    if error.is_builder() {
        return false;
    }
    if error.is_timeout() || error.is_connect() || error.is_body() {
        return true;
    }
    error.is_request() && dropped_connection(error)
}

/// Whether an error's causes show the connection failing: an I/O error, or hyper's
/// words for a connection that went away.
fn dropped_connection(error: &(dyn std::error::Error + 'static)) -> bool {
    const CLOSED: [&str; 5] = [
        "connection closed before message completed",
        "connection error",
        "channel closed",
        "operation was canceled",
        "error writing a body to connection",
    ];
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<std::io::Error>() || CLOSED.iter().any(|c| e.to_string().starts_with(c)) {
            return true;
        }
        cause = e.source();
    }
    false
}

fn describe_reqwest(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if error.is_timeout() { format!("timed out: {text}") } else { text }
}

/// The human part of an error body: OpenAI's `error.message`, FastAPI's `detail`, or the
/// (truncated) body itself.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| v.get("error").and_then(Value::as_str).map(str::to_string))
            .or_else(|| {
                v.get("detail").map(|d| d.as_str().map(str::to_string).unwrap_or_else(|| d.to_string()))
            })
            .or_else(|| v.get("message").and_then(Value::as_str).map(str::to_string))
    });
    truncate(message.as_deref().unwrap_or(body).trim(), 600)
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn is_stream_request(request: &reqwest::Request) -> bool {
    request
        .body()
        .and_then(|b| b.as_bytes())
        .is_some_and(|bytes| bytes.windows(13).any(|w| w == b"\"stream\":true"))
}

impl RetryingHttp {
    async fn run(self, factory: HttpRequestFactory) -> Result<reqwest::Response, OpenAIError> {
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            let mut request = factory.build().await?;
            if self.strip_auth {
                request.headers_mut().remove(AUTHORIZATION);
            }
            for (name, value) in &self.headers {
                request.headers_mut().insert(name.clone(), value.clone());
            }
            if !is_stream_request(&request) {
                *request.timeout_mut() = Some(self.timeout);
            }
            let url = request.url().clone();
            let (reason, retry_after) = match self.http.execute(request).await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) if is_retryable_status(response.status()) => {
                    let status = response.status();
                    let retry_after = retry_after_from_headers(response.headers());
                    let body = response.text().await.unwrap_or_default();
                    // Out of credit, or a request the server cannot parse (llama-cpp-python
                    // answers pydantic validation errors with 500): waiting will not help.
                    if (status.as_u16() == 429 && body.contains("insufficient_quota"))
                        || (status.is_server_error() && body.contains("validation error"))
                    {
                        let status = status.as_u16();
                        return Err(boxed(TransportError::Status { status, message: error_message(&body) }));
                    }
                    (format!("HTTP {}: {}", status.as_u16(), error_message(&body)), retry_after)
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap_or_default();
                    return Err(boxed(TransportError::Status { status, message: error_message(&body) }));
                }
                Err(error) if is_transient(&error) => (describe_reqwest(&error), None),
                Err(error) => return Err(OpenAIError::Reqwest(error)),
            };
            if attempts > self.policy.max_retries {
                tracing::warn!(provider = %self.provider, %url, attempts, %reason, "giving up");
                return Err(boxed(TransportError::Exhausted { attempts, reason }));
            }
            let delay = self.policy.delay(attempts - 1, retry_after, rand::random::<f64>());
            tracing::warn!(
                provider = %self.provider,
                %url,
                attempt = attempts,
                delay_ms = delay.as_millis() as u64,
                %reason,
                "request failed, retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

fn boxed(error: TransportError) -> OpenAIError {
    OpenAIError::Boxed(Box::new(error))
}

/// What a non-retryable HTTP status means: a request the server finds malformed (400,
/// 422 and the other 4xx) would fail on any provider, so it is an
/// [`LlmError::InvalidRequest`] and a fallback chain stops there; a misconfigured
/// provider (401, 403, 404), a spent quota (429) and server errors are
/// [`LlmError::Provider`] failures worth falling back from.
fn status_error(provider: String, status: u16, message: String) -> LlmError {
    let reason = format!("HTTP {status}: {message}");
    if (400..500).contains(&status) && !matches!(status, 401 | 403 | 404 | 408 | 429) {
        LlmError::InvalidRequest(format!("{provider} answered {reason}"))
    } else {
        LlmError::Provider { provider, reason }
    }
}

/// Whether an HTTP error says the server does not know the `json_schema` response
/// format: llama-cpp-python answers it with a pydantic "validation error" (status 500)
/// naming the literal `json_schema`; older llama.cpp servers say the type "must be one
/// of" text or json_object. Other complaints about `response_format` (OpenAI's
/// "Invalid schema for response_format ...") are errors in the request, and the older
/// form would not help.
fn says_json_schema_unsupported(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("json_schema")
        && [
            "validation error",
            "literal_error",
            "input should be",
            "must be one of",
            "not supported",
            "unsupported",
        ]
        .iter()
        .any(|p| message.contains(p))
}

/// Map an async-openai error to ours.
fn map_error(provider: &str, error: OpenAIError) -> LlmError {
    let provider = provider.to_string();
    match error {
        OpenAIError::Boxed(inner) => match inner.downcast::<TransportError>() {
            Ok(t) => match *t {
                TransportError::Exhausted { attempts, reason } => {
                    LlmError::Unavailable { provider, attempts, reason }
                }
                TransportError::Status { status, message } => status_error(provider, status, message),
            },
            Err(other) => LlmError::Provider { provider, reason: other.to_string() },
        },
        OpenAIError::Reqwest(e) if is_transient(&e) => {
            LlmError::Unavailable { provider, attempts: 1, reason: describe_reqwest(&e) }
        }
        OpenAIError::Reqwest(e) => LlmError::Provider { provider, reason: describe_reqwest(&e) },
        OpenAIError::ApiError(api) => LlmError::Provider { provider, reason: api.to_string() },
        OpenAIError::JSONDeserialize(e, content) => LlmError::Provider {
            provider,
            reason: format!("unexpected response ({e}): {}", truncate(&content, 400)),
        },
        OpenAIError::InvalidArgument(reason) => LlmError::InvalidRequest(reason),
        other => LlmError::Provider { provider, reason: other.to_string() },
    }
}

// ---------------------------------------------------------------------------
// Client construction (shared by chat and embeddings).

struct Connection {
    client: Client<OpenAIConfig>,
    provider: Arc<str>,
    model: String,
    base_url: String,
}

fn connect(
    profile_name: &str,
    profile: &OpenAiProfile,
    api_key: Option<String>,
) -> Result<Connection, LlmError> {
    let load_err =
        |reason: String| LlmError::Load { model: format!("{profile_name} ({})", profile.model), reason };
    let base_url = profile.base_url.trim().trim_end_matches('/').to_string();
    let url = reqwest::Url::parse(&base_url)
        .map_err(|e| load_err(format!("invalid base_url `{base_url}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(load_err(format!("base_url `{base_url}` must be http or https")));
    }
    if profile.timeout_secs == 0 {
        return Err(load_err("timeout_secs must be at least 1".into()));
    }
    let api_key = api_key.map(|k| k.trim().to_string()).filter(|k| !k.is_empty());
    if let Some(key) = &api_key
        && HeaderValue::from_str(&format!("Bearer {key}")).is_err()
    {
        // The key itself is never printed.
        return Err(load_err(format!(
            "the API key in ${} is not a valid HTTP header value",
            profile.api_key_env
        )));
    }
    let mut headers = HeaderMap::new();
    if let Some(org) = profile.organization.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
        let value =
            HeaderValue::from_str(org).map_err(|_| load_err(format!("invalid organization `{org}`")))?;
        headers.insert(HeaderName::from_static("openai-organization"), value);
    }
    for (name, value) in &profile.headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| load_err(format!("invalid header name `{name}`")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| load_err(format!("invalid value for header `{name}`")))?;
        headers.insert(header, value);
    }
    let timeout = Duration::from_secs(profile.timeout_secs);
    let http = reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(30)))
        .read_timeout(timeout)
        .build()
        .map_err(|e| load_err(format!("HTTP client: {e}")))?;
    let provider: Arc<str> = Arc::from(format!("openai:{profile_name}"));
    let service = RetryingHttp {
        http,
        policy: RetryPolicy::new(profile.max_retries),
        provider: provider.clone(),
        headers,
        strip_auth: api_key.is_none(),
        timeout,
    };
    // Explicit values for everything OpenAIConfig would otherwise read from OPENAI_* variables.
    let config = OpenAIConfig::new()
        .with_api_base(base_url.clone())
        .with_api_key(api_key.clone().unwrap_or_default())
        .with_org_id("")
        .with_project_id("");
    tracing::debug!(
        provider = %provider,
        base_url = %base_url,
        model = %profile.model,
        authenticated = api_key.is_some(),
        max_retries = profile.max_retries,
        "OpenAI-compatible provider ready"
    );
    if api_key.is_none() && url.host_str() == Some("api.openai.com") {
        tracing::warn!(provider = %provider, env = %profile.api_key_env, "no API key for api.openai.com");
    }
    Ok(Connection {
        client: Client::with_config(config).with_http_service(service),
        provider,
        model: profile.model.clone(),
        base_url,
    })
}

fn key_from_env(profile: &OpenAiProfile) -> Option<String> {
    std::env::var(&profile.api_key_env).ok()
}

// ---------------------------------------------------------------------------
// Request mapping (pure).

/// Map our messages to OpenAI's: assistant tool calls keep their ids and carry the
/// arguments as a JSON string; tool results need the id of the call they answer.
pub fn to_openai_messages(messages: &[Message]) -> Result<Vec<ChatCompletionRequestMessage>, LlmError> {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Ok(match m.role {
                Role::System => ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
                    content: ChatCompletionRequestSystemMessageContent::Text(m.content.clone()),
                    name: None,
                }),
                Role::User => ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
                    content: ChatCompletionRequestUserMessageContent::Text(m.content.clone()),
                    name: None,
                }),
                Role::Assistant => {
                    let tool_calls: Vec<ChatCompletionMessageToolCalls> = m
                        .tool_calls
                        .iter()
                        .map(|c| {
                            ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                                id: c.id.clone(),
                                function: FunctionCall {
                                    name: c.name.clone(),
                                    arguments: c.arguments.to_string(),
                                },
                            })
                        })
                        .collect();
                    // Content stays a string even next to tool calls: chat templates that
                    // concatenate `message.content` fail on null.
                    ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                        content: Some(ChatCompletionRequestAssistantMessageContent::Text(m.content.clone())),
                        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                        ..Default::default()
                    })
                }
                Role::Tool => {
                    let id = m.tool_call_id.clone().filter(|id| !id.is_empty()).ok_or_else(|| {
                        LlmError::InvalidRequest(format!(
                            "message {i}: a tool result needs the tool_call_id it answers"
                        ))
                    })?;
                    ChatCompletionRequestMessage::Tool(ChatCompletionRequestToolMessage {
                        content: ChatCompletionRequestToolMessageContent::Text(m.content.clone()),
                        tool_call_id: id,
                    })
                }
            })
        })
        .collect()
}

fn to_openai_tools(tools: &[ToolSpec]) -> Vec<ChatCompletionTools> {
    tools
        .iter()
        .map(|t| {
            ChatCompletionTools::Function(ChatCompletionTool {
                function: FunctionObject {
                    name: t.name.clone(),
                    description: (!t.description.is_empty()).then(|| t.description.clone()),
                    parameters: Some(t.parameters.clone()),
                    strict: None,
                },
            })
        })
        .collect()
}

fn to_openai_tool_choice(
    tools: &[ToolSpec],
    choice: &ToolChoice,
) -> Result<ChatCompletionToolChoiceOption, LlmError> {
    Ok(match choice {
        ToolChoice::Auto => ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::Auto),
        ToolChoice::Required => ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::Required),
        ToolChoice::None => ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::None),
        ToolChoice::Named(name) => {
            let tool = structured::named_tool(tools, name)?;
            ChatCompletionToolChoiceOption::Function(ChatCompletionNamedToolChoice {
                function: FunctionName { name: tool.name.clone() },
            })
        }
    })
}

/// Whether a schema meets OpenAI's strict structured-output rules (every object closed
/// with `additionalProperties: false` and every property required), so `strict: true`
/// can be asked for without the server rejecting the schema.
pub fn is_strict_compatible(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => {
            let is_object = map
                .get("type")
                .is_some_and(|t| t == "object" || t.as_array().is_some_and(|a| a.contains(&json!("object"))));
            if is_object || map.contains_key("properties") {
                if map.get("additionalProperties") != Some(&Value::Bool(false)) {
                    return false;
                }
                let props: Vec<&String> = map
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|p| p.keys().collect())
                    .unwrap_or_default();
                let required: Vec<&str> = map
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if props.iter().any(|p| !required.contains(&p.as_str())) {
                    return false;
                }
            }
            map.values().all(is_strict_compatible)
        }
        Value::Array(items) => items.iter().all(is_strict_compatible),
        _ => true,
    }
}

/// How a server wants `response_format` for a JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum SchemaDialect {
    /// OpenAI's `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`.
    JsonSchema = 0,
    /// The older `{"type": "json_object", "schema": ...}` (llama-cpp-python, Anyscale).
    JsonObjectSchema = 1,
}

/// Escape raw control characters inside JSON strings (`None` when there are none).
/// Some servers' JSON grammars (llama-cpp-python's) let a model put a literal newline
/// in a string, which is not JSON; the repaired text means the same value.
pub fn escape_control_chars(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 8);
    let (mut in_string, mut escaped, mut changed) = (false, false, false);
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if c < ' ' {
                changed = true;
                match c {
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    other => out.push_str(&format!("\\u{:04x}", other as u32)),
                }
                continue;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    changed.then_some(out)
}

/// Parse JSON, tolerating raw control characters in strings; returns the JSON text
/// actually parsed (repaired when needed) and the value.
pub fn parse_json_lenient(text: &str) -> Result<(String, Value), serde_json::Error> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok((text.to_string(), v)),
        Err(e) => match escape_control_chars(text) {
            Some(repaired) => match serde_json::from_str::<Value>(&repaired) {
                Ok(v) => Ok((repaired, v)),
                Err(_) => Err(e),
            },
            None => Err(e),
        },
    }
}

/// Find the JSON in a model's reply: the whole text, a fenced block, or the span from
/// the first `{`/`[` to the last `}`/`]`.
pub fn extract_json(text: &str) -> Option<(String, Value)> {
    let trimmed = text.trim();
    if let Ok(found) = parse_json_lenient(trimmed) {
        return Some(found);
    }
    if let Some(start) = trimmed.find("```") {
        let after = &trimmed[start + 3..];
        let body = after.split_once('\n').map(|(_, b)| b).unwrap_or(after);
        if let Some(end) = body.find("```")
            && let Ok(found) = parse_json_lenient(body[..end].trim())
        {
            return Some(found);
        }
    }
    let start = trimmed.find(['{', '['])?;
    let end = trimmed.rfind(['}', ']'])?;
    if end <= start {
        return None;
    }
    parse_json_lenient(&trimmed[start..=end]).ok()
}

// ---------------------------------------------------------------------------
// Response reading (lenient).

#[derive(Debug, Default, Deserialize)]
struct WireCompletion {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    /// Some servers report failures mid-stream as an event with an `error` member.
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    delta: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Debug, Default, Deserialize)]
struct WireToolCall {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Debug, Default, Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    /// A JSON string per the spec; some servers send the object itself.
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

fn arguments_text(arguments: Option<Value>) -> String {
    match arguments {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

/// A tool call as received, arguments still text.
#[derive(Debug, Default, Clone, PartialEq)]
struct RawToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// The answer as received, before validation; built from one response or from stream chunks.
#[derive(Debug, Default)]
struct Accumulator {
    text: String,
    refusal: String,
    /// Stream tool calls by their `index`.
    tool_calls: Vec<(u32, RawToolCall)>,
    finish_reason: Option<String>,
    usage: Option<WireUsage>,
    model: Option<String>,
}

impl Accumulator {
    fn from_response(response: WireCompletion) -> Self {
        let mut acc = Accumulator { model: response.model, usage: response.usage, ..Default::default() };
        if let Some(choice) = response.choices.into_iter().next() {
            acc.finish_reason = choice.finish_reason;
            if let Some(message) = choice.message.or(choice.delta) {
                acc.text = message.content.unwrap_or_default();
                acc.refusal = message.refusal.unwrap_or_default();
                for (i, call) in message.tool_calls.unwrap_or_default().into_iter().enumerate() {
                    let function = call.function.unwrap_or_default();
                    acc.tool_calls.push((
                        i as u32,
                        RawToolCall {
                            id: call.id.unwrap_or_default(),
                            name: function.name.unwrap_or_default(),
                            arguments: arguments_text(function.arguments),
                        },
                    ));
                }
            }
        }
        acc
    }

    /// Fold one stream chunk in; returns the text delta it carried.
    fn push_chunk(&mut self, chunk: WireCompletion) -> String {
        if chunk.model.is_some() {
            self.model = chunk.model;
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        let mut delta_text = String::new();
        // The usage chunk of `include_usage` has no choices.
        if let Some(choice) = chunk.choices.into_iter().next() {
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
            if let Some(delta) = choice.delta.or(choice.message) {
                if let Some(text) = delta.content {
                    delta_text = text;
                }
                if let Some(refusal) = delta.refusal {
                    self.refusal.push_str(&refusal);
                }
                for (pos, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
                    let index = call.index.unwrap_or(pos as u32);
                    let slot = match self.tool_calls.iter().position(|(i, _)| *i == index) {
                        Some(p) => p,
                        None => {
                            self.tool_calls.push((index, RawToolCall::default()));
                            self.tool_calls.len() - 1
                        }
                    };
                    let entry = &mut self.tool_calls[slot].1;
                    if let Some(id) = call.id.filter(|id| !id.is_empty())
                        && entry.id.is_empty()
                    {
                        entry.id = id;
                    }
                    let function = call.function.unwrap_or_default();
                    // OpenAI sends the name once; llama-cpp-python repeats it in every chunk.
                    if let Some(name) = function.name.filter(|n| !n.is_empty())
                        && entry.name.is_empty()
                    {
                        entry.name = name;
                    }
                    entry.arguments.push_str(&arguments_text(function.arguments));
                }
            }
        }
        self.text.push_str(&delta_text);
        delta_text
    }
}

/// What a call needs to turn a raw answer into a validated [`ChatResponse`].
#[derive(Debug, Clone)]
struct CallContext {
    provider: Arc<str>,
    model: String,
    tools: Vec<ToolSpec>,
    tool_choice: ToolChoice,
    schema: Option<ResponseSchema>,
    /// The server enforced the schema: the whole reply must be the JSON.
    native_schema: bool,
}

fn map_finish_reason(reason: Option<&str>, has_tool_calls: bool) -> FinishReason {
    if has_tool_calls {
        return FinishReason::ToolCalls;
    }
    match reason {
        Some("length") => FinishReason::Length,
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        Some("stop" | "eos" | "end_turn") | None => FinishReason::Stop,
        Some(other) => {
            tracing::debug!(finish_reason = other, "unknown finish reason, taken as stop");
            FinishReason::Stop
        }
    }
}

fn validate_tool_call(raw: RawToolCall, position: usize, tools: &[ToolSpec]) -> Result<ToolCall, LlmError> {
    let arguments: Value = if raw.arguments.trim().is_empty() {
        json!({})
    } else {
        parse_json_lenient(raw.arguments.trim())
            .map_err(|e| LlmError::InvalidToolCall {
                tool: raw.name.clone(),
                reason: format!("arguments are not JSON ({e}): {}", truncate(&raw.arguments, 300)),
            })?
            .1
    };
    structured::validate_call(tools, &raw.name, &arguments)?;
    let id = if raw.id.is_empty() { format!("call_{position}") } else { raw.id };
    Ok(ToolCall { id, name: raw.name, arguments })
}

fn finish(acc: Accumulator, ctx: &CallContext) -> Result<ChatResponse, LlmError> {
    let has_calls = !acc.tool_calls.is_empty();
    let finish_reason = map_finish_reason(acc.finish_reason.as_deref(), has_calls);
    let tool_calls = acc
        .tool_calls
        .into_iter()
        .enumerate()
        .map(|(i, (_, raw))| validate_tool_call(raw, i, &ctx.tools))
        .collect::<Result<Vec<_>, _>>()?;
    if tool_calls.is_empty() && acc.text.is_empty() && !acc.refusal.is_empty() {
        return Err(LlmError::Provider {
            provider: ctx.provider.to_string(),
            reason: format!("the model refused: {}", truncate(&acc.refusal, 400)),
        });
    }
    if tool_calls.is_empty() && !ctx.tools.is_empty() {
        let forced = match &ctx.tool_choice {
            ToolChoice::Named(name) => Some(name.clone()),
            ToolChoice::Required => Some("(any)".to_string()),
            ToolChoice::Auto | ToolChoice::None => None,
        };
        if let Some(tool) = forced {
            return Err(LlmError::InvalidToolCall {
                tool,
                reason: format!(
                    "tool_choice required a tool call but the model answered with text: {}",
                    truncate(&acc.text, 200)
                ),
            });
        }
    }
    let mut text = acc.text;
    if let Some(schema) = ctx.schema.as_ref().filter(|_| tool_calls.is_empty()) {
        let violation = |reason: String, output: &str| LlmError::SchemaViolation {
            schema: schema.name.clone(),
            reason,
            output: truncate(output, 2000),
        };
        if finish_reason == FinishReason::Length {
            return Err(violation("the answer was cut off at max_tokens".into(), &text));
        }
        let (json_text, value) = if ctx.native_schema {
            parse_json_lenient(text.trim()).map_err(|e| violation(format!("not JSON: {e}"), &text))?
        } else {
            extract_json(&text).ok_or_else(|| violation("no JSON value found".into(), &text))?
        };
        schemas::validate(&schema.schema, &value).map_err(|e| violation(e.to_string(), &json_text))?;
        text = json_text;
    }
    let usage =
        acc.usage.map(|u| Usage { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens });
    Ok(ChatResponse {
        text,
        tool_calls,
        finish_reason,
        usage: usage.unwrap_or_default(),
        model: acc.model.filter(|m| !m.is_empty()).unwrap_or_else(|| ctx.model.clone()),
    })
}

// ---------------------------------------------------------------------------
// The chat model.

/// A chat model behind an OpenAI-compatible HTTP API.
pub struct OpenAiChat {
    name: String,
    conn: Connection,
    defaults: SamplingParams,
    native_json_schema: bool,
    /// The `response_format` form for JSON Schemas: `json_schema` until a server rejects
    /// it and then accepts the older form.
    dialect: AtomicU8,
    /// `max_completion_tokens` (api.openai.com) or `max_tokens` (everyone else).
    use_max_completion_tokens: bool,
}

impl std::fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiChat")
            .field("name", &self.name)
            .field("base_url", &self.conn.base_url)
            .field("model", &self.conn.model)
            .finish_non_exhaustive()
    }
}

impl OpenAiChat {
    /// Build the provider for a profile; the API key comes from the environment
    /// variable the profile names (unset or empty: no `Authorization` header, as local
    /// servers expect). Nothing is sent until the first call.
    pub fn new(profile_name: &str, profile: &OpenAiProfile) -> Result<Self, LlmError> {
        Self::with_api_key(profile_name, profile, key_from_env(profile))
    }

    /// Like [`new`](Self::new) with the API key given directly.
    pub fn with_api_key(
        profile_name: &str,
        profile: &OpenAiProfile,
        api_key: Option<String>,
    ) -> Result<Self, LlmError> {
        let conn = connect(profile_name, profile, api_key)?;
        let use_max_completion_tokens = conn.base_url.starts_with("https://api.openai.com");
        Ok(Self {
            name: profile_name.to_string(),
            conn,
            defaults: profile.params.clone(),
            native_json_schema: profile.native_json_schema,
            dialect: AtomicU8::new(SchemaDialect::JsonSchema as u8),
            use_max_completion_tokens,
        })
    }

    /// The model name sent to the server.
    pub fn model(&self) -> &str {
        &self.conn.model
    }

    fn dialect(&self) -> SchemaDialect {
        if self.dialect.load(Ordering::Relaxed) == SchemaDialect::JsonObjectSchema as u8 {
            SchemaDialect::JsonObjectSchema
        } else {
            SchemaDialect::JsonSchema
        }
    }

    fn context(&self, request: &ChatRequest) -> CallContext {
        CallContext {
            provider: self.conn.provider.clone(),
            model: self.conn.model.clone(),
            tools: request.tools.clone(),
            tool_choice: request.tool_choice.clone(),
            schema: request.response_schema.clone(),
            native_schema: self.native_json_schema,
        }
    }

    /// Check a request before anything is sent.
    fn check(&self, request: &ChatRequest) -> Result<(), LlmError> {
        if request.messages.is_empty() {
            return Err(LlmError::InvalidRequest("no messages".into()));
        }
        if let Some(schema) = &request.response_schema {
            schemas::check_schema(&schema.schema).map_err(|e| match e {
                SchemaError::InvalidSchema(r) | SchemaError::Violation(r) => {
                    LlmError::InvalidRequest(format!("response schema `{}`: {r}", schema.name))
                }
            })?;
        }
        for tool in &request.tools {
            schemas::check_schema(&tool.parameters)
                .map_err(|e| LlmError::InvalidRequest(format!("tool `{}`: {e}", tool.name)))?;
        }
        Ok(())
    }

    /// The JSON body of a chat completion request.
    #[allow(deprecated)] // `max_tokens` and `seed` are deprecated upstream but what most servers read.
    fn body(&self, request: &ChatRequest, dialect: SchemaDialect, stream: bool) -> Result<Value, LlmError> {
        let params = request.params.clone().or(&self.defaults);
        let messages = match (&request.response_schema, self.native_json_schema) {
            (Some(schema), false) => {
                structured::with_system(&request.messages, &structured::schema_prompt(&schema.schema))
            }
            _ => request.messages.clone(),
        };
        let mut body = CreateChatCompletionRequest {
            model: self.conn.model.clone(),
            messages: to_openai_messages(&messages)?,
            temperature: params.temperature,
            top_p: params.top_p,
            stop: (!params.stop.is_empty()).then(|| StopConfiguration::StringArray(params.stop.clone())),
            seed: params
                .seed
                .map(|s| {
                    i64::try_from(s).map_err(|_| LlmError::InvalidRequest(format!("seed {s} is too large")))
                })
                .transpose()?,
            ..Default::default()
        };
        if self.use_max_completion_tokens {
            body.max_completion_tokens = params.max_tokens;
        } else {
            body.max_tokens = params.max_tokens;
        }
        if !request.tools.is_empty() {
            body.tool_choice = Some(to_openai_tool_choice(&request.tools, &request.tool_choice)?);
            body.tools = Some(to_openai_tools(&request.tools));
        } else if let ToolChoice::Named(name) = &request.tool_choice {
            return Err(LlmError::InvalidRequest(format!(
                "tool_choice names `{name}` but no tools were given"
            )));
        }
        if stream {
            body.stream = Some(true);
            body.stream_options =
                Some(ChatCompletionStreamOptions { include_usage: Some(true), include_obfuscation: None });
        }
        let schema = request.response_schema.as_ref().filter(|_| self.native_json_schema);
        if let (Some(schema), SchemaDialect::JsonSchema) = (schema, dialect) {
            body.response_format = Some(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: None,
                    name: schema_name(&schema.name),
                    schema: schema.schema.clone(),
                    strict: Some(is_strict_compatible(&schema.schema)),
                },
            });
        }
        let mut value = serde_json::to_value(&body)
            .map_err(|e| LlmError::InvalidRequest(format!("request does not serialize: {e}")))?;
        if let (Some(schema), SchemaDialect::JsonObjectSchema, Some(obj)) =
            (schema, dialect, value.as_object_mut())
        {
            obj.insert("response_format".into(), json!({"type": "json_object", "schema": schema.schema}));
        }
        Ok(value)
    }

    /// Whether a failed request was a structured-output call in the `json_schema` form
    /// that the server rejected for not knowing that form.
    fn rejects_json_schema(
        &self,
        request: &ChatRequest,
        dialect: SchemaDialect,
        error: &OpenAIError,
    ) -> bool {
        let OpenAIError::Boxed(inner) = error else { return false };
        self.native_json_schema
            && request.response_schema.is_some()
            && dialect == SchemaDialect::JsonSchema
            && matches!(inner.downcast_ref::<TransportError>(),
                Some(TransportError::Status { message, .. }) if says_json_schema_unsupported(message))
    }

    /// Send a request built for the learnt dialect. When the server rejects the
    /// `json_schema` form, the request is sent once more in the older
    /// `{"type": "json_object", "schema": ...}` form, and only when the server accepts
    /// that is the older form remembered for later calls; otherwise the first error
    /// stands.
    async fn send<T, F, Fut>(&self, request: &ChatRequest, stream: bool, post: F) -> Result<T, LlmError>
    where
        F: Fn(Value) -> Fut,
        Fut: Future<Output = Result<T, OpenAIError>>,
    {
        let dialect = self.dialect();
        let rejection = match post(self.body(request, dialect, stream)?).await {
            Ok(answer) => return Ok(answer),
            Err(e) if self.rejects_json_schema(request, dialect, &e) => map_error(&self.conn.provider, e),
            Err(e) => return Err(map_error(&self.conn.provider, e)),
        };
        match post(self.body(request, SchemaDialect::JsonObjectSchema, stream)?).await {
            Ok(answer) => {
                tracing::info!(
                    provider = %self.conn.provider,
                    error = %rejection,
                    "server rejects response_format json_schema; using {{\"type\": \"json_object\", \"schema\": ...}}"
                );
                self.dialect.store(SchemaDialect::JsonObjectSchema as u8, Ordering::Relaxed);
                Ok(answer)
            }
            Err(e) => {
                let error = map_error(&self.conn.provider, e);
                tracing::debug!(provider = %self.conn.provider, %error, "the json_object form failed too");
                Err(rejection)
            }
        }
    }

    /// One non-streaming round trip, not yet validated.
    async fn fetch(&self, request: &ChatRequest) -> Result<Accumulator, LlmError> {
        let response = self
            .send(request, false, |body| async move {
                self.conn.client.chat().create_byot::<Value, WireCompletion>(body).await
            })
            .await?;
        if let Some(error) = response.error {
            return Err(LlmError::Provider {
                provider: self.conn.provider.to_string(),
                reason: error.to_string(),
            });
        }
        if response.choices.is_empty() {
            return Err(LlmError::Provider {
                provider: self.conn.provider.to_string(),
                reason: "the response has no choices".into(),
            });
        }
        Ok(Accumulator::from_response(response))
    }
}

/// OpenAI wants `^[a-zA-Z0-9_-]{1,64}$` as a schema name.
fn schema_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .take(64)
        .collect();
    if cleaned.is_empty() { "answer".to_string() } else { cleaned }
}

struct StreamState {
    inner: async_openai::types::stream::StreamResponse<WireCompletion>,
    acc: Accumulator,
    ctx: CallContext,
    done: bool,
}

#[async_trait]
impl ChatModel for OpenAiChat {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        self.check(&request)?;
        let ctx = self.context(&request);
        let inner = self
            .send(&request, true, |body| async move {
                self.conn.client.chat().create_stream_byot::<Value, WireCompletion>(body).await
            })
            .await?;
        let state = StreamState { inner, acc: Accumulator::default(), ctx, done: false };
        let stream = futures::stream::unfold(state, |mut state| async move {
            if state.done {
                return None;
            }
            loop {
                match state.inner.next().await {
                    Some(Ok(chunk)) => {
                        if let Some(error) = chunk.error {
                            state.done = true;
                            let reason = error.get("message").and_then(Value::as_str).map(str::to_string);
                            let reason = reason.unwrap_or_else(|| error.to_string());
                            let provider = state.ctx.provider.to_string();
                            return Some((Err(LlmError::Provider { provider, reason }), state));
                        }
                        let text = state.acc.push_chunk(chunk);
                        if !text.is_empty() {
                            return Some((Ok(ChatEvent::Delta { text }), state));
                        }
                    }
                    Some(Err(e)) => {
                        state.done = true;
                        let error = map_error(&state.ctx.provider, e);
                        return Some((Err(error), state));
                    }
                    None => {
                        state.done = true;
                        let acc = std::mem::take(&mut state.acc);
                        let result = finish(acc, &state.ctx).map(ChatEvent::Done);
                        return Some((result, state));
                    }
                }
            }
        });
        Ok(Box::pin(stream))
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        self.check(&request)?;
        let ctx = self.context(&request);
        let answer = self.fetch(&request).await?;
        // The server cannot enforce the schema: a wrong answer is shown to the model, whole
        // (the error's copy is cut short), with the reason, once.
        let correctable = !self.native_json_schema && request.response_schema.is_some();
        let output = correctable.then(|| answer.text.clone());
        match (finish(answer, &ctx), output) {
            (Err(LlmError::SchemaViolation { reason, .. }), Some(output)) => {
                tracing::debug!(provider = %self.conn.provider, %reason, "answer violates the schema; asking again");
                let mut retry = request;
                retry.messages.push(Message::assistant(output));
                retry.messages.push(Message::user(format!(
                    "That reply does not satisfy the schema: {reason}. Reply again with only the corrected JSON."
                )));
                finish(self.fetch(&retry).await?, &ctx)
            }
            (result, _) => result,
        }
    }
}

// ---------------------------------------------------------------------------
// Embeddings.

#[derive(Debug, Deserialize)]
struct WireEmbeddings {
    #[serde(default)]
    data: Vec<WireEmbedding>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct WireEmbedding {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

/// An embedding model behind an OpenAI-compatible `/v1/embeddings`.
pub struct OpenAiEmbedder {
    name: String,
    conn: Connection,
    /// 0 until the first answer tells it.
    dimension: AtomicUsize,
}

impl std::fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("name", &self.name)
            .field("base_url", &self.conn.base_url)
            .field("model", &self.conn.model)
            .finish_non_exhaustive()
    }
}

impl OpenAiEmbedder {
    /// Build the embedder for a profile (API key from the profile's environment variable).
    /// [`Embedder::dimension`] is 0 until the first call.
    pub fn new(profile_name: &str, profile: &OpenAiProfile) -> Result<Self, LlmError> {
        Self::with_api_key(profile_name, profile, key_from_env(profile))
    }

    /// Like [`new`](Self::new) with the API key given directly.
    pub fn with_api_key(
        profile_name: &str,
        profile: &OpenAiProfile,
        api_key: Option<String>,
    ) -> Result<Self, LlmError> {
        Ok(Self {
            name: profile_name.to_string(),
            conn: connect(profile_name, profile, api_key)?,
            dimension: AtomicUsize::new(0),
        })
    }

    /// One `/v1/embeddings` request: the vectors in the order of `texts`, and the
    /// prompt tokens the server counted.
    async fn embed_batch(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, u32), LlmError> {
        let provider = self.conn.provider.to_string();
        let body = json!({"model": self.conn.model, "input": texts, "encoding_format": "float"});
        let response = self
            .conn
            .client
            .embeddings()
            .create_byot::<Value, WireEmbeddings>(body)
            .await
            .map_err(|e| map_error(&provider, e))?;
        let bad = |reason: String| LlmError::Provider { provider: provider.clone(), reason };
        if response.data.len() != texts.len() {
            return Err(bad(format!("{} vectors for {} texts", response.data.len(), texts.len())));
        }
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (pos, item) in response.data.into_iter().enumerate() {
            let index = item.index.unwrap_or(pos);
            let slot =
                slots.get_mut(index).ok_or_else(|| bad(format!("vector index {index} out of range")))?;
            if slot.replace(item.embedding).is_some() {
                return Err(bad(format!("vector index {index} appears twice")));
            }
        }
        let vectors: Vec<Vec<f32>> = slots.into_iter().flatten().collect();
        let dim = vectors.first().map(Vec::len).unwrap_or(0);
        if dim == 0 || vectors.iter().any(|v| v.len() != dim) {
            return Err(bad("vectors are empty or of different dimensions".into()));
        }
        let known = self.dimension.load(Ordering::Relaxed);
        if known != 0 && known != dim {
            return Err(bad(format!("dimension changed from {known} to {dim}")));
        }
        self.dimension.store(dim, Ordering::Relaxed);
        Ok((vectors, response.usage.map(|u| u.prompt_tokens).unwrap_or(0)))
    }
}

/// Texts per `/v1/embeddings` request: OpenAI takes at most 2,048 inputs (and 300,000
/// tokens) per request, local servers hold the whole batch in memory.
pub const EMBED_BATCH: usize = 256;

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimension(&self) -> usize {
        self.dimension.load(Ordering::Relaxed)
    }

    /// Embeds `texts` [`EMBED_BATCH`] at a time, one request after another; the
    /// vectors come back in the order of `texts`.
    async fn embed(&self, texts: &[String]) -> Result<Embeddings, LlmError> {
        let mut out = Embeddings { vectors: Vec::with_capacity(texts.len()), prompt_tokens: 0 };
        for batch in texts.chunks(EMBED_BATCH) {
            let (vectors, prompt_tokens) = self.embed_batch(batch).await?;
            out.vectors.extend(vectors);
            out.prompt_tokens = out.prompt_tokens.saturating_add(prompt_tokens);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(5)
    }

    #[test]
    fn backoff_doubles_within_jitter_bounds_and_caps() {
        let p = policy();
        // Equal jitter: [e/2, e].
        assert_eq!(p.backoff(0, 0.0), Duration::from_millis(250));
        assert_eq!(p.backoff(0, 1.0), Duration::from_millis(500));
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(1000));
        assert_eq!(p.backoff(3, 0.0), Duration::from_millis(2000));
        assert_eq!(p.backoff(3, 0.5), Duration::from_millis(3000));
        // Capped at max_delay however many retries.
        assert_eq!(p.backoff(10, 1.0), Duration::from_secs(20));
        assert_eq!(p.backoff(u32::MAX, 1.0), Duration::from_secs(20));
        // Out-of-range jitter is clamped.
        assert_eq!(p.backoff(0, 7.0), Duration::from_millis(500));
        assert_eq!(p.backoff(0, -1.0), Duration::from_millis(250));
    }

    #[test]
    fn retry_after_wins_over_backoff_and_is_capped() {
        let p = policy();
        assert_eq!(p.delay(0, Some(Duration::from_secs(3)), 1.0), Duration::from_secs(3));
        assert_eq!(p.delay(4, Some(Duration::ZERO), 1.0), Duration::ZERO);
        assert_eq!(p.delay(0, Some(Duration::from_secs(3600)), 0.0), Duration::from_secs(60));
        assert_eq!(p.delay(2, None, 1.0), Duration::from_secs(2));
    }

    #[test]
    fn parses_retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_470); // Wed, 21 Oct 2015 07:27:50 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 1.5 ", now), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(10)));
        // A date in the past means "retry now".
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("Wed, 32 Oct 2015 07:28:00 GMT", now), None);
        assert_eq!(parse_retry_after("Wed, 21 Foo 2015 07:28:00 GMT", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn http_dates_match_known_epochs() {
        let at = |s: &str| parse_http_date(s).map(|t| t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).ok());
        assert_eq!(at("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Some(0)));
        assert_eq!(at("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Some(784_111_777)));
        assert_eq!(at("Tue, 29 Feb 2000 12:00:00 GMT"), Some(Some(951_825_600)));
        assert_eq!(at("Tue, 29 Feb 2000 12:00:00 UTC"), None);
    }

    #[test]
    fn retry_after_headers_prefer_milliseconds() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after_from_headers(&headers), Some(Duration::from_secs(7)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after_from_headers(&headers), Some(Duration::from_millis(250)));
        assert_eq!(retry_after_from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn maps_messages_with_tool_traffic() {
        let call =
            ToolCall { id: "c1".into(), name: "get_quote".into(), arguments: json!({"ticker": "MSFT"}) };
        let messages = vec![
            Message::system("be brief"),
            Message::user("price?"),
            Message::assistant_tool_calls(vec![call]),
            Message::tool("c1", "{\"price\": 410.5}"),
            Message::assistant("410.5"),
        ];
        let mapped = serde_json::to_value(to_openai_messages(&messages).unwrap()).unwrap();
        assert_eq!(mapped[0], json!({"role": "system", "content": "be brief"}));
        assert_eq!(mapped[1], json!({"role": "user", "content": "price?"}));
        assert_eq!(
            mapped[2],
            json!({"role": "assistant", "content": "", "tool_calls": [
                {"type": "function", "id": "c1", "function": {"name": "get_quote", "arguments": "{\"ticker\":\"MSFT\"}"}}
            ]})
        );
        assert_eq!(mapped[3], json!({"role": "tool", "content": "{\"price\": 410.5}", "tool_call_id": "c1"}));
        assert_eq!(mapped[4], json!({"role": "assistant", "content": "410.5"}));

        let orphan = Message { tool_call_id: None, ..Message::tool("x", "result") };
        assert!(matches!(to_openai_messages(&[orphan]), Err(LlmError::InvalidRequest(_))));
    }

    #[test]
    fn maps_tool_choice() {
        let tools = vec![ToolSpec {
            name: "f".into(),
            description: String::new(),
            parameters: json!({"type": "object"}),
        }];
        let v = |c: ToolChoice| serde_json::to_value(to_openai_tool_choice(&tools, &c).unwrap()).unwrap();
        assert_eq!(v(ToolChoice::Auto), json!("auto"));
        assert_eq!(v(ToolChoice::Required), json!("required"));
        assert_eq!(v(ToolChoice::None), json!("none"));
        assert_eq!(v(ToolChoice::Named("f".into())), json!({"type": "function", "function": {"name": "f"}}));
        assert!(to_openai_tool_choice(&tools, &ToolChoice::Named("g".into())).is_err());
        let mapped = serde_json::to_value(to_openai_tools(&tools)).unwrap();
        assert_eq!(
            mapped,
            json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])
        );
    }

    #[test]
    fn strictness_needs_closed_objects_with_all_fields_required() {
        let strict = json!({"type": "object", "additionalProperties": false, "required": ["a", "b"],
            "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"type": "object",
            "additionalProperties": false, "required": ["x"], "properties": {"x": {"type": "number"}}}}}});
        assert!(is_strict_compatible(&strict));
        let mut open = strict.clone();
        open["properties"]["b"]["items"]["additionalProperties"] = json!(true);
        assert!(!is_strict_compatible(&open));
        let mut optional = strict;
        optional["required"] = json!(["a"]);
        assert!(!is_strict_compatible(&optional));
        assert!(is_strict_compatible(&json!({"type": "string", "enum": ["a"]})));
    }

    #[test]
    fn extracts_json_from_chatty_replies() {
        assert_eq!(extract_json(" {\"a\": 1} ").map(|(_, v)| v), Some(json!({"a": 1})));
        assert_eq!(extract_json("```json\n{\"a\": [1, 2]}\n```").map(|(_, v)| v), Some(json!({"a": [1, 2]})));
        assert_eq!(
            extract_json("Sure! Here it is: {\"a\": true}. Hope it helps").map(|(_, v)| v),
            Some(json!({"a": true}))
        );
        assert_eq!(extract_json("no json here"), None);
        // A literal newline inside a string (llama-cpp-python's grammar allows it) is escaped.
        let (text, value) = extract_json("{\"name\": \"two\nlines\", \"n\": 1}").unwrap();
        assert_eq!(value, json!({"name": "two\nlines", "n": 1}));
        assert_eq!(text, "{\"name\": \"two\\nlines\", \"n\": 1}");
        assert_eq!(extract_json("} backwards {"), None);
    }

    #[test]
    fn control_characters_are_escaped_only_inside_strings() {
        assert_eq!(escape_control_chars("{\n\"a\": 1}"), None);
        assert_eq!(
            escape_control_chars("[\"x\ty\u{1}\", \"q\\\"\r\"]").as_deref(),
            Some("[\"x\\ty\\u0001\", \"q\\\"\\r\"]")
        );
        assert!(parse_json_lenient("{\"a\": \"b").is_err());
    }

    #[test]
    fn system_text_joins_the_leading_system_message() {
        let with_system = structured::with_system;
        let joined = with_system(&[Message::system("You are terse."), Message::user("hi")], "JSON only");
        assert_eq!(joined.len(), 2);
        assert_eq!(joined[0].content, "You are terse.\n\nJSON only");
        let added = with_system(&[Message::user("hi")], "JSON only");
        assert_eq!((added[0].role, added[0].content.as_str()), (Role::System, "JSON only"));
        assert_eq!(
            structured::schema_prompt(&json!({"type": "string"})),
            "Reply with one JSON value only, matching this JSON Schema: {\"type\":\"string\"}"
        );
    }

    #[test]
    fn client_errors_are_invalid_requests_except_provider_setup() {
        let kind = |status: u16| status_error("openai:t".into(), status, "nope".into());
        for status in [400, 413, 422] {
            let error = kind(status);
            assert!(matches!(error, LlmError::InvalidRequest(_)), "{status}: {error:?}");
            assert!(!error.is_provider_failure());
            assert!(error.to_string().contains(&format!("HTTP {status}: nope")), "{error}");
        }
        for status in [401, 403, 404, 408, 429, 500, 503] {
            let error = kind(status);
            assert!(matches!(error, LlmError::Provider { .. }), "{status}: {error:?}");
            assert!(error.is_provider_failure());
        }
    }

    #[test]
    fn only_an_unknown_json_schema_format_switches_dialect() {
        // llama-cpp-python (pydantic, status 500).
        assert!(says_json_schema_unsupported(
            "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), \
             'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}"
        ));
        // llama.cpp's older server.
        assert!(says_json_schema_unsupported(
            "response_format type must be one of \"text\" or \"json_object\", but got: json_schema"
        ));
        // OpenAI rejecting a schema, or a request without the word: errors in the request.
        assert!(!says_json_schema_unsupported(
            "Invalid schema for response_format 'view': In context=(), 'additionalProperties' is required \
             to be supplied and to be false."
        ));
        assert!(!says_json_schema_unsupported("Invalid 'response_format.json_schema.name': string too long"));
        assert!(!says_json_schema_unsupported("1 validation error: messages.0.content: field required"));
    }

    #[test]
    fn only_connection_failures_make_a_send_error_transient() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        assert!(dropped_connection(&reset));
        assert!(!dropped_connection(&std::fmt::Error));
        let built = reqwest::Client::new().get("http://x").header("bad\nname", "v").build().unwrap_err();
        assert!(built.is_builder() && !is_transient(&built));
    }

    fn ctx(tools: Vec<ToolSpec>, schema: Option<ResponseSchema>) -> CallContext {
        CallContext {
            provider: Arc::from("openai:test"),
            model: "m".into(),
            tools,
            tool_choice: ToolChoice::Auto,
            schema,
            native_schema: true,
        }
    }

    fn quote_tool() -> ToolSpec {
        ToolSpec {
            name: "get_quote".into(),
            description: "price".into(),
            parameters: json!({"type": "object", "properties": {"ticker": {"type": "string"}}, "required": ["ticker"]}),
        }
    }

    fn chunk(v: Value) -> WireCompletion {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn accumulates_streamed_tool_calls_across_chunks() {
        let mut acc = Accumulator::default();
        // OpenAI style: id and name once, arguments in pieces; a second call interleaved.
        acc.push_chunk(chunk(json!({"choices": [{"delta": {"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_quote", "arguments": ""}}]}}]})));
        acc.push_chunk(chunk(json!({"choices": [{"delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": "{\"tick"}},
            {"index": 1, "id": "call_b", "function": {"name": "get_quote", "arguments": "{\"ticker\":"}}]}}]})));
        // llama-cpp-python style: the name repeated with every piece.
        acc.push_chunk(chunk(json!({"choices": [{"delta": {"tool_calls": [
            {"index": 0, "id": "call_a", "function": {"name": "get_quote", "arguments": "er\": \"AAPL\"}"}},
            {"index": 1, "function": {"name": "get_quote", "arguments": "\"MSFT\"}"}}]}}]})));
        acc.push_chunk(chunk(json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]})));
        acc.push_chunk(chunk(json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 9}})));
        let response = finish(acc, &ctx(vec![quote_tool()], None)).unwrap();
        assert_eq!(response.finish_reason, FinishReason::ToolCalls);
        assert_eq!(response.tool_calls.len(), 2);
        assert_eq!(response.tool_calls[0].id, "call_a");
        assert_eq!(response.tool_calls[0].arguments, json!({"ticker": "AAPL"}));
        assert_eq!(response.tool_calls[1].arguments, json!({"ticker": "MSFT"}));
        assert_eq!(response.usage, Usage { prompt_tokens: 12, completion_tokens: 9 });
    }

    #[test]
    fn text_deltas_concatenate_and_finish_reasons_map() {
        let mut acc = Accumulator::default();
        assert_eq!(
            acc.push_chunk(chunk(json!({"model": "srv", "choices": [{"delta": {"content": "Hel"}}]}))),
            "Hel"
        );
        assert_eq!(
            acc.push_chunk(chunk(
                json!({"choices": [{"delta": {"content": "lo"}, "finish_reason": "length"}]})
            )),
            "lo"
        );
        let response = finish(acc, &ctx(Vec::new(), None)).unwrap();
        assert_eq!((response.text.as_str(), response.finish_reason), ("Hello", FinishReason::Length));
        assert_eq!(response.model, "srv");
        assert_eq!(map_finish_reason(Some("stop"), false), FinishReason::Stop);
        assert_eq!(map_finish_reason(Some("content_filter"), false), FinishReason::Stop);
        assert_eq!(map_finish_reason(Some("function_call"), false), FinishReason::ToolCalls);
        // Ollama reports "stop" even when it called tools.
        assert_eq!(map_finish_reason(Some("stop"), true), FinishReason::ToolCalls);
    }

    #[test]
    fn invalid_tool_arguments_and_unknown_tools_are_rejected() {
        let call = |name: &str, args: &str| {
            let mut acc = Accumulator::default();
            acc.tool_calls
                .push((0, RawToolCall { id: String::new(), name: name.into(), arguments: args.into() }));
            finish(acc, &ctx(vec![quote_tool()], None))
        };
        assert!(matches!(call("get_quote", "{\"ticker\": 5}"), Err(LlmError::InvalidToolCall { .. })));
        assert!(matches!(call("get_quote", "{\"ticker\": "), Err(LlmError::InvalidToolCall { .. })));
        assert!(
            matches!(call("sell_everything", "{}"), Err(LlmError::InvalidToolCall { tool, .. }) if tool == "sell_everything")
        );
        let ok = call("get_quote", "{\"ticker\": \"IBM\"}").unwrap();
        assert_eq!(ok.tool_calls[0].id, "call_0");
    }

    #[test]
    fn forced_tool_choice_without_a_call_is_an_error() {
        let mut c = ctx(vec![quote_tool()], None);
        c.tool_choice = ToolChoice::Named("get_quote".into());
        let acc = Accumulator { text: "I think AAPL".into(), ..Default::default() };
        assert!(matches!(finish(acc, &c), Err(LlmError::InvalidToolCall { .. })));
    }

    #[test]
    fn structured_answers_are_validated() {
        let schema = ResponseSchema {
            name: "rating".into(),
            schema: json!({"type": "object", "properties": {"rating": {"enum": ["buy", "sell"]}}, "required": ["rating"]}),
        };
        let answer = |text: &str, native: bool| {
            let mut c = ctx(Vec::new(), Some(schema.clone()));
            c.native_schema = native;
            finish(Accumulator { text: text.into(), ..Default::default() }, &c)
        };
        assert_eq!(answer("{\"rating\": \"buy\"}", true).unwrap().json().unwrap(), json!({"rating": "buy"}));
        assert!(matches!(answer("{\"rating\": \"hold\"}", true), Err(LlmError::SchemaViolation { .. })));
        assert!(matches!(answer("not json", true), Err(LlmError::SchemaViolation { .. })));
        // Without native enforcement a fenced answer is accepted, and its text is the JSON alone.
        assert!(matches!(
            answer("```json\n{\"rating\": \"sell\"}\n```", true),
            Err(LlmError::SchemaViolation { .. })
        ));
        assert_eq!(
            answer("```json\n{\"rating\": \"sell\"}\n```", false).unwrap().text,
            "{\"rating\": \"sell\"}"
        );
        let cut = Accumulator {
            text: "{\"rating\": \"bu".into(),
            finish_reason: Some("length".into()),
            ..Default::default()
        };
        assert!(matches!(
            finish(cut, &ctx(Vec::new(), Some(schema.clone()))),
            Err(LlmError::SchemaViolation { .. })
        ));
    }

    fn profile(base_url: &str) -> OpenAiProfile {
        serde_json::from_value(json!({"model": "m", "base_url": base_url})).unwrap()
    }

    #[test]
    fn request_body_follows_dialect_and_params() {
        let chat = OpenAiChat::with_api_key("t", &profile("http://127.0.0.1:9/v1/"), None).unwrap();
        assert_eq!(chat.conn.base_url, "http://127.0.0.1:9/v1");
        let schema = json!({"type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"], "additionalProperties": false});
        let mut request =
            ChatRequest::new(vec![Message::user("x")]).with_schema("my schema!", schema.clone());
        request.params = SamplingParams {
            temperature: Some(0.0),
            max_tokens: Some(9),
            seed: Some(4),
            stop: vec!["\n".into()],
            ..Default::default()
        };
        let body = chat.body(&request, SchemaDialect::JsonSchema, true).unwrap();
        assert_eq!(
            body["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "my_schema_", "schema": schema, "strict": true}})
        );
        assert_eq!(
            (body["max_tokens"].clone(), body["seed"].clone(), body["temperature"].clone()),
            (json!(9), json!(4), json!(0.0))
        );
        assert_eq!(body["stop"], json!(["\n"]));
        assert_eq!(body["stream"], json!(true));
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert!(body.get("tools").is_none());
        let body = chat.body(&request, SchemaDialect::JsonObjectSchema, false).unwrap();
        assert_eq!(body["response_format"], json!({"type": "json_object", "schema": schema}));
        assert!(body.get("stream").is_none());

        let hosted =
            OpenAiChat::with_api_key("t", &profile("https://api.openai.com/v1"), Some("k".into())).unwrap();
        let body = hosted.body(&request, SchemaDialect::JsonSchema, false).unwrap();
        assert_eq!((body["max_completion_tokens"].clone(), body.get("max_tokens")), (json!(9), None));
    }

    #[test]
    fn bad_profiles_are_load_errors() {
        assert!(matches!(
            OpenAiChat::with_api_key("t", &profile("not a url"), None),
            Err(LlmError::Load { .. })
        ));
        assert!(matches!(
            OpenAiChat::with_api_key("t", &profile("ftp://x/v1"), None),
            Err(LlmError::Load { .. })
        ));
        let err =
            OpenAiChat::with_api_key("t", &profile("http://x/v1"), Some("sk-secret\nwith newline".into()))
                .unwrap_err()
                .to_string();
        assert!(!err.contains("sk-secret"), "{err}");
        let mut p = profile("http://x/v1");
        p.headers.insert("bad header".into(), "v".into());
        assert!(matches!(OpenAiChat::with_api_key("t", &p, None), Err(LlmError::Load { .. })));
    }

    #[test]
    fn error_bodies_are_summarised() {
        assert_eq!(
            error_message("{\"error\": {\"message\": \"Rate limit\", \"type\": \"x\"}}"),
            "Rate limit"
        );
        assert!(
            error_message("{\"detail\": [{\"loc\": [\"body\", \"response_format\"]}]}")
                .contains("response_format")
        );
        assert_eq!(error_message("  plain text "), "plain text");
        assert_eq!(truncate("ééé", 3), "é…");
    }
}
