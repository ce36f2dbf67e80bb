//! The routes. Chat requests name an agent (`agent:NAME`) or a model profile; agents stream
//! their events as `bullpen_event` deltas and their verified answer as content, raw models
//! stream tokens as they come.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::{Json, extract::FromRequest};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::errors::ApiError;
use super::openai::{
    ApiUsage, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Choice, Delta, EmbeddingData,
    EmbeddingInput, EmbeddingRequest, EmbeddingResponse, ModelCard, ModelList, ResponseMessage,
    api_tool_calls, chat_request, finish_reason, messages,
};
use super::sessions::{Session, SessionDetail, SessionError};
use super::{AppState, key_hash};
use crate::agents::runtime::AgentEvent;
use crate::agents::{DirectorMode, Events, RunResult};
use crate::llm::{ChatEvent, Message, Role};

type AppStateRef = State<Arc<AppState>>;

/// JSON bodies with OpenAI-style errors: 413 over the size limit, 400 naming the line and
/// column of malformed JSON or the field of a wrong type.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let limit_hint = req.extensions().get::<BodyLimitHint>().map(|h| h.0).unwrap_or(0);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(limit_hint)
            } else {
                ApiError::bad_request(rejection.body_text())
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut de).map(ApiJson).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                ApiError::bad_request(format!("malformed JSON: {inner}"))
            } else {
                ApiError::invalid_param(&path, format!("`{path}`: {inner}"))
            }
        })
    }
}

/// The body limit, for the 413 message.
#[derive(Clone, Copy)]
pub struct BodyLimitHint(pub usize);

fn route_label(path: &str) -> &'static str {
    match path {
        "/v1/chat/completions" => "chat",
        "/v1/models" => "models",
        "/v1/embeddings" => "embeddings",
        p if p.starts_with("/v1/sessions") => "sessions",
        "/metrics" => "metrics",
        "/openapi.json" => "openapi",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/" | "/app.js" => "web",
        _ => "other",
    }
}

/// Counts requests by route and status and times them; logs method, path, status and
/// latency (never headers, so keys stay out of logs).
pub async fn observe(State(state): AppStateRef, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(req.uri().path());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    req.extensions_mut().insert(BodyLimitHint(state.limits.max_body_bytes));
    let response = next.run(req).await;
    let status = response.status();
    let secs = started.elapsed().as_secs_f64();
    state.metrics.requests.with_label_values(&[route, status.as_str()]).inc();
    state.metrics.latency.with_label_values(&[route]).observe(secs);
    tracing::info!(%method, %path, status = status.as_u16(), ms = (secs * 1000.0) as u64, "request");
    response
}

/// `Authorization: Bearer KEY` against the configured keys, then the key's rate limit.
pub async fn auth(State(state): AppStateRef, req: Request, next: Next) -> Result<Response, ApiError> {
    let key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let hash = match key {
        Some(k) if state.limits.key_hashes.contains(&key_hash(k)) => key_hash(k),
        _ if state.limits.open => key_hash(""),
        _ => {
            state.metrics.rejected.with_label_values(&["unauthorized"]).inc();
            return Err(ApiError::unauthorized());
        }
    };
    if let Err(wait) = state.check_rate(hash) {
        state.metrics.rejected.with_label_values(&["rate_limit"]).inc();
        return Err(ApiError::rate_limited(
            wait,
            format!(
                "rate limit of {} requests per minute reached for this key",
                state.limits.requests_per_minute
            ),
        ));
    }
    Ok(next.run(req).await)
}

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): AppStateRef) -> Response {
    if state.ready.load(Ordering::SeqCst) {
        Json(json!({"status": "ready", "model": state.default_profile})).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "loading", "model": state.default_profile})))
            .into_response()
    }
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /openapi.json")
}

pub async fn metrics(State(state): AppStateRef) -> Response {
    if let Ok(n) = state.sessions.count().await {
        state.metrics.active_sessions.set(n as i64);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}

static INDEX: &str = include_str!("web/index.html");
static APP_JS: &str = include_str!("web/app.js");

pub async fn index() -> Html<&'static str> {
    Html(INDEX)
}

pub async fn app_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], APP_JS).into_response()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `agent:market-analyst` → `market_analyst`.
fn agent_name(model: &str) -> Option<String> {
    model.strip_prefix("agent:").map(|n| n.trim().replace('-', "_"))
}

fn known_models(state: &AppState) -> String {
    let mut names: Vec<String> =
        state.agents.library.names().iter().map(|n| format!("agent:{}", n.replace('_', "-"))).collect();
    names.extend(state.profiles.iter().cloned());
    names.join(", ")
}

#[utoipa::path(get, path = "/v1/models", responses((status = 200, body = ModelList)), security(("bearer" = [])))]
pub async fn list_models(State(state): AppStateRef) -> Json<ModelList> {
    let created = now();
    let mut data: Vec<ModelCard> = state
        .agents
        .library
        .iter()
        .map(|d| ModelCard {
            id: format!("agent:{}", d.spec.name.replace('_', "-")),
            object: "model".into(),
            created,
            owned_by: "bullpen".into(),
            description: d.spec.description.clone(),
        })
        .collect();
    for p in &state.profiles {
        let description = match state.ctx.registry.profile(p) {
            Ok(s) => format!(
                "model profile ({})",
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.get("provider").cloned())
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "?".into())
            ),
            Err(_) => "model profile".into(),
        };
        data.push(ModelCard {
            id: p.clone(),
            object: "model".into(),
            created,
            owned_by: "bullpen".into(),
            description,
        });
    }
    Json(ModelList { object: "list".into(), data })
}

#[utoipa::path(post, path = "/v1/embeddings", request_body = EmbeddingRequest, responses((status = 200, body = EmbeddingResponse)), security(("bearer" = [])))]
pub async fn embeddings(
    State(state): AppStateRef,
    ApiJson(req): ApiJson<EmbeddingRequest>,
) -> Result<Json<EmbeddingResponse>, ApiError> {
    let texts = match req.input {
        EmbeddingInput::One(s) => vec![s],
        EmbeddingInput::Many(v) => v,
    };
    if texts.is_empty() || texts.len() > 2048 {
        return Err(ApiError::invalid_param("input", "give 1 to 2048 texts"));
    }
    if !state.profiles.contains(&req.model) {
        return Err(ApiError::model_not_found(&req.model, &state.profiles.join(", ")));
    }
    let embedder = state.ctx.embedder(&req.model).await.map_err(|e| match e {
        crate::jobs::JobError::Llm(l) => ApiError::from(*l),
        other => ApiError::internal(other.to_string()),
    })?;
    let out = tokio::time::timeout(state.limits.request_timeout, embedder.embed(&texts))
        .await
        .map_err(|_| ApiError::timeout())??;
    let tokens: u32 = texts.iter().map(|t| t.split_whitespace().count() as u32).sum();
    Ok(Json(EmbeddingResponse {
        object: "list".into(),
        model: req.model,
        data: out
            .vectors
            .into_iter()
            .enumerate()
            .map(|(index, embedding)| EmbeddingData { object: "embedding".into(), index, embedding })
            .collect(),
        usage: ApiUsage { prompt_tokens: tokens, completion_tokens: 0, total_tokens: tokens },
    }))
}

/// Body of `POST /v1/sessions`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct NewSession {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

fn session_error(e: SessionError) -> ApiError {
    match e {
        SessionError::NotFound(id) => ApiError::not_found(format!("no session `{id}`")),
        other => ApiError::internal(other.to_string()),
    }
}

#[utoipa::path(post, path = "/v1/sessions", request_body = NewSession, responses((status = 201, body = Session)), security(("bearer" = [])))]
pub async fn create_session(
    State(state): AppStateRef,
    body: Bytes,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let req: NewSession = if body.is_empty() {
        NewSession::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?
    };
    let s = state.sessions.create(req.model, req.title).await.map_err(session_error)?;
    Ok((StatusCode::CREATED, Json(s)))
}

#[utoipa::path(get, path = "/v1/sessions", responses((status = 200, body = [Session])), security(("bearer" = [])))]
pub async fn list_sessions(State(state): AppStateRef) -> Result<Json<Value>, ApiError> {
    let list = state.sessions.list().await.map_err(session_error)?;
    Ok(Json(json!({"object": "list", "data": list})))
}

#[utoipa::path(get, path = "/v1/sessions/{id}", responses((status = 200, body = SessionDetail), (status = 404)), security(("bearer" = [])))]
pub async fn get_session(
    State(state): AppStateRef,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, ApiError> {
    Ok(Json(state.sessions.get(&id).await.map_err(session_error)?))
}

#[utoipa::path(delete, path = "/v1/sessions/{id}", responses((status = 200), (status = 404)), security(("bearer" = [])))]
pub async fn delete_session(
    State(state): AppStateRef,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if state.sessions.delete(&id).await.map_err(session_error)? {
        Ok(Json(json!({"id": id, "object": "session.deleted", "deleted": true})))
    } else {
        Err(ApiError::not_found(format!("no session `{id}`")))
    }
}

/// What an agent run adds to a response.
fn run_extension(r: &RunResult) -> Value {
    let mut seen = std::collections::BTreeSet::new();
    json!({
        "run_id": r.run_id,
        "agents": r.agents,
        "status": r.status,
        "tool_calls": r.calls,
        "citations": r.citations.iter().map(|c| c.label()).filter(|l| seen.insert(l.clone())).collect::<Vec<_>>(),
        "data": r.data,
        "files": r.artifacts,
        "numbers_checked": r.verification.as_ref().map_or(0, |v| v.checked),
        "unsupported_numbers": r.unsupported_numbers(),
    })
}

/// The request's messages after the session's history.
async fn conversation(
    state: &AppState,
    req: &ChatCompletionRequest,
) -> Result<(Vec<Message>, Vec<Message>), ApiError> {
    let new = messages(req)?;
    if new.is_empty() {
        return Err(ApiError::invalid_param("messages", "at least one message is needed"));
    }
    let mut all = match &req.session_id {
        Some(id) => state.sessions.history(id).await.map_err(session_error)?,
        None => Vec::new(),
    };
    all.extend(new.iter().cloned());
    Ok((all, new))
}

#[utoipa::path(post, path = "/v1/chat/completions", request_body = ChatCompletionRequest,
    responses((status = 200, body = ChatCompletion, description = "a completion, or with `stream` server-sent `ChatCompletionChunk`s ending with `[DONE]`"),
              (status = 400), (status = 401), (status = 404), (status = 413), (status = 429)),
    security(("bearer" = [])))]
pub async fn chat_completions(
    State(state): AppStateRef,
    ApiJson(req): ApiJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    let agent = agent_name(&req.model);
    match &agent {
        Some(name) if state.agents.library.get(name).is_err() => {
            return Err(ApiError::model_not_found(&req.model, &known_models(&state)));
        }
        None if !state.profiles.contains(&req.model) => {
            return Err(ApiError::model_not_found(&req.model, &known_models(&state)));
        }
        _ => {}
    }
    if agent.is_some() && (!req.tools.is_empty() || req.response_format.is_some()) {
        return Err(ApiError::invalid_param(
            "tools",
            "`tools` and `response_format` apply to model profiles; agents use their own tools",
        ));
    }
    let (history, new) = conversation(&state, &req).await?;
    // Validate a raw request before queueing.
    let raw = match &agent {
        None => Some(chat_request(&req, history.clone())?),
        Some(_) => None,
    };
    let slot = state.slot().await?;
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    match (agent, raw) {
        (Some(name), _) => agent_completion(state.clone(), req, name, history, new, id, slot).await,
        (None, Some(request)) => model_completion(state.clone(), req, request, new, id, slot).await,
        (None, None) => Err(ApiError::internal("no request")),
    }
}

async fn store_exchange(
    state: &AppState,
    session: &Option<String>,
    mut new: Vec<Message>,
    answer: &str,
    run_id: Option<String>,
) {
    if let Some(id) = session {
        new.retain(|m| m.role != Role::System);
        new.push(Message::assistant(answer));
        if let Err(e) = state.sessions.append(id, new, run_id).await {
            tracing::error!("session {id}: the exchange could not be stored: {e}");
        }
    }
}

fn sse_data(v: &impl serde::Serialize) -> Result<Event, Infallible> {
    Ok(Event::default().data(serde_json::to_string(v).unwrap_or_else(|_| "{}".into())))
}

/// The answer in pieces of a few words, as a client would have seen it streamed.
fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, w) in text.split_inclusive(char::is_whitespace).enumerate() {
        cur.push_str(w);
        if i % 4 == 3 {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

async fn agent_completion(
    state: Arc<AppState>,
    req: ChatCompletionRequest,
    name: String,
    history: Vec<Message>,
    new: Vec<Message>,
    id: String,
    slot: super::Slot,
) -> Result<Response, ApiError> {
    let mode = req.mode.unwrap_or(DirectorMode::Route);
    let model = req.model.clone();
    let created = now();
    if !req.stream {
        let _slot = slot;
        let events = Events::default();
        let run = state.agents.run(&name, history, mode, &events, None);
        let r = tokio::time::timeout(state.limits.request_timeout, run)
            .await
            .map_err(|_| ApiError::timeout())??;
        state.metrics.usage(r.usage);
        let Some(answer) = r.answer.clone() else {
            return Err(ApiError::internal(format!(
                "the agent run ended without an answer: {}{} (run {})",
                r.status.describe(),
                r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default(),
                r.run_id
            )));
        };
        store_exchange(&state, &req.session_id, new, &answer, Some(r.run_id.clone())).await;
        let body = ChatCompletion {
            id,
            object: "chat.completion".into(),
            created,
            model,
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage {
                    role: "assistant".into(),
                    content: Some(answer),
                    tool_calls: None,
                },
                finish_reason: "stop".into(),
            }],
            usage: r.usage.into(),
            bullpen: Some(run_extension(&r)),
        };
        return Ok(Json(body).into_response());
    }
    let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<Event, Infallible>>();
    let started = Instant::now();
    tokio::spawn(async move {
        let _slot = slot;
        let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
        let chunk = |delta: Delta, finish: Option<String>| {
            ChatCompletionChunk::new(&id, &model, created, delta, finish)
        };
        let _ = tx.send(sse_data(&chunk(Delta { role: Some("assistant".into()), ..Delta::default() }, None)));
        let events = Events(Some(etx));
        let run = state.agents.run(&name, history, mode, &events, None);
        let run = tokio::time::timeout(state.limits.request_timeout, run);
        tokio::pin!(run);
        let mut first = true;
        let mut forward = |event: AgentEvent| {
            if matches!(event, AgentEvent::Token { .. } | AgentEvent::Final { .. }) {
                return;
            }
            if first {
                state.metrics.ttft.with_label_values(&["agent"]).observe(started.elapsed().as_secs_f64());
                first = false;
            }
            let v = serde_json::to_value(&event).unwrap_or(Value::Null);
            // A client that left does not stop the run: it finishes for its audit log.
            let _ = tx.send(sse_data(&chunk(Delta { bullpen_event: Some(v), ..Delta::default() }, None)));
        };
        let result = loop {
            tokio::select! {
                biased;
                Some(event) = erx.recv() => forward(event),
                r = &mut run => break r,
            }
        };
        while let Ok(event) = erx.try_recv() {
            forward(event);
        }
        let error = match result {
            Err(_) => Some(ApiError::timeout()),
            Ok(Err(e)) => Some(ApiError::from(e)),
            Ok(Ok(r)) => {
                state.metrics.usage(r.usage);
                match &r.answer {
                    Some(answer) => {
                        for p in pieces(answer) {
                            let _ = tx
                                .send(sse_data(&chunk(Delta { content: Some(p), ..Delta::default() }, None)));
                        }
                        let done = Delta {
                            bullpen_event: Some(json!({"type": "result", "result": run_extension(&r)})),
                            ..Delta::default()
                        };
                        let _ = tx.send(sse_data(&chunk(done, Some("stop".into()))));
                        if include_usage {
                            let mut c = chunk(Delta::default(), None);
                            c.choices.clear();
                            c.usage = Some(r.usage.into());
                            let _ = tx.send(sse_data(&c));
                        }
                        store_exchange(&state, &req.session_id, new, answer, Some(r.run_id.clone())).await;
                        None
                    }
                    None => Some(ApiError::internal(format!(
                        "the agent run ended without an answer: {}{} (run {})",
                        r.status.describe(),
                        r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default(),
                        r.run_id
                    ))),
                }
            }
        };
        if let Some(e) = error {
            let _ = tx.send(sse_data(&e.body()));
        }
        let _ = tx.send(Ok(Event::default().data("[DONE]")));
    });
    let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

async fn model_completion(
    state: Arc<AppState>,
    req: ChatCompletionRequest,
    request: crate::llm::ChatRequest,
    new: Vec<Message>,
    id: String,
    slot: super::Slot,
) -> Result<Response, ApiError> {
    let model_name = req.model.clone();
    let created = now();
    let model = state.ctx.chat_model(&req.model).await.map_err(|e| match e {
        crate::jobs::JobError::Llm(l) => ApiError::from(*l),
        other => ApiError::internal(other.to_string()),
    })?;
    if !req.stream {
        let _slot = slot;
        let r = tokio::time::timeout(state.limits.request_timeout, model.chat(request))
            .await
            .map_err(|_| ApiError::timeout())??;
        state.metrics.usage(r.usage);
        store_exchange(&state, &req.session_id, new, &r.text, None).await;
        let tool_calls = (!r.tool_calls.is_empty()).then(|| api_tool_calls(&r.tool_calls));
        let content = if tool_calls.is_some() { None } else { Some(r.text.clone()) };
        return Ok(Json(ChatCompletion {
            id,
            object: "chat.completion".into(),
            created,
            model: model_name,
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage { role: "assistant".into(), content, tool_calls },
                finish_reason: finish_reason(r.finish_reason),
            }],
            usage: r.usage.into(),
            bullpen: None,
        })
        .into_response());
    }
    let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let started = Instant::now();
    // The first event is awaited here, so a request the model refuses (e.g. over its
    // context window) is an HTTP error, not a broken stream.
    let mut stream = tokio::time::timeout(state.limits.request_timeout, model.chat_stream(request))
        .await
        .map_err(|_| ApiError::timeout())??;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<Event, Infallible>>();
    let deadline = tokio::time::Instant::now() + state.limits.request_timeout;
    tokio::spawn(async move {
        let _slot = slot;
        let chunk = |delta: Delta, finish: Option<String>| {
            ChatCompletionChunk::new(&id, &model_name, created, delta, finish)
        };
        let _ = tx.send(sse_data(&chunk(Delta { role: Some("assistant".into()), ..Delta::default() }, None)));
        let mut first = true;
        loop {
            let next = tokio::time::timeout_at(deadline, stream.next()).await;
            match next {
                Err(_) => {
                    let _ = tx.send(sse_data(&ApiError::timeout().body()));
                    break;
                }
                Ok(None) => {
                    let _ = tx.send(sse_data(&ApiError::unavailable("the model stopped").body()));
                    break;
                }
                Ok(Some(Err(e))) => {
                    let _ = tx.send(sse_data(&ApiError::from(e).body()));
                    break;
                }
                Ok(Some(Ok(ChatEvent::Delta { text }))) => {
                    if text.is_empty() {
                        continue;
                    }
                    if first {
                        state
                            .metrics
                            .ttft
                            .with_label_values(&["model"])
                            .observe(started.elapsed().as_secs_f64());
                        first = false;
                    }
                    if tx
                        .send(sse_data(&chunk(Delta { content: Some(text), ..Delta::default() }, None)))
                        .is_err()
                    {
                        // The client hung up: dropping the stream frees the model's slot.
                        return;
                    }
                }
                Ok(Some(Ok(ChatEvent::Done(r)))) => {
                    state.metrics.usage(r.usage);
                    if !r.tool_calls.is_empty() {
                        let calls: Vec<Value> = api_tool_calls(&r.tool_calls)
                            .into_iter()
                            .enumerate()
                            .map(|(i, c)| {
                                let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
                                v["index"] = json!(i);
                                v
                            })
                            .collect();
                        let _ = tx.send(sse_data(&chunk(
                            Delta { tool_calls: Some(calls), ..Delta::default() },
                            None,
                        )));
                    }
                    let _ = tx.send(sse_data(&chunk(Delta::default(), Some(finish_reason(r.finish_reason)))));
                    if include_usage {
                        let mut c = chunk(Delta::default(), None);
                        c.choices.clear();
                        c.usage = Some(r.usage.into());
                        let _ = tx.send(sse_data(&c));
                    }
                    store_exchange(&state, &req.session_id, new, &r.text, None).await;
                    break;
                }
            }
        }
        let _ = tx.send(Ok(Event::default().data("[DONE]")));
    });
    let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Bullpen", description = "OpenAI-compatible API over Bullpen's analyst agents and model profiles."),
    paths(chat_completions, list_models, embeddings, create_session, list_sessions, get_session, delete_session),
    components(schemas(
        ChatCompletionRequest, ChatCompletion, ChatCompletionChunk, ModelList, EmbeddingRequest, EmbeddingResponse,
        Session, SessionDetail, NewSession
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
