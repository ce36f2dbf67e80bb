//! The HTTP server: an OpenAI-compatible API over Bullpen's agents and model profiles, with
//! sessions (SQLite), API keys, per-key rate limits, a body-size limit, a request timeout, a
//! bounded generation queue, Prometheus metrics, an OpenAPI document and a web chat page.
//!
//! - [`openai`]: the wire format and its conversion.
//! - [`sessions`]: the SQLite session store.
//! - [`errors`]: OpenAI-style error bodies.
//! - [`metrics`]: Prometheus metrics.
//! - [`handlers`]: the routes.

pub mod errors;
pub mod handlers;
pub mod metrics;
pub mod openai;
pub mod sessions;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::agents::AgentRuntime;
use crate::jobs::JobContext;
use errors::ApiError;
use metrics::Metrics;
use sessions::SessionStore;

/// Limits and access of a running server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// SHA-256 of each accepted API key; empty with `open` = no authentication.
    pub key_hashes: Vec<[u8; 32]>,
    /// No key needed (allowed only on a loopback address, when turned on explicitly).
    pub open: bool,
    pub requests_per_minute: u32,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub max_concurrent: usize,
    pub max_queue: usize,
    pub cors_origins: Vec<String>,
}

/// SHA-256 of a key: keys are compared by hash and never kept or logged in clear.
pub fn key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Everything the handlers share.
pub struct AppState {
    pub ctx: JobContext,
    pub agents: AgentRuntime,
    pub sessions: SessionStore,
    pub metrics: Metrics,
    pub limits: Limits,
    /// Profiles served as raw models.
    pub profiles: Vec<String>,
    /// The profile loaded at start; `/readyz` answers 200 once it is.
    pub default_profile: String,
    pub ready: AtomicBool,
    limiter: DefaultKeyedRateLimiter<[u8; 32]>,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
}

/// A generation slot; dropping it frees the slot.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    state: Arc<AppState>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.state.metrics.in_flight.dec();
    }
}

impl AppState {
    pub fn new(
        ctx: JobContext,
        agents: AgentRuntime,
        sessions: SessionStore,
        limits: Limits,
        default_profile: String,
    ) -> Result<Self, ApiError> {
        let metrics = Metrics::new().map_err(|e| ApiError::internal(e.to_string()))?;
        let rpm = NonZeroU32::new(limits.requests_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let profiles = ctx.registry.names();
        Ok(Self {
            limiter: RateLimiter::keyed(Quota::per_minute(rpm)),
            slots: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            ctx,
            agents,
            sessions,
            metrics,
            limits,
            profiles,
            default_profile,
            ready: AtomicBool::new(false),
        })
    }

    /// Checks the rate limit of a key (by hash); `Err` carries the seconds to wait.
    pub fn check_rate(&self, key: [u8; 32]) -> Result<(), u64> {
        self.limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until
                .wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            wait.as_secs_f64().ceil() as u64
        })
    }

    /// Waits for a generation slot; 429 at once when the queue is full.
    pub async fn slot(self: &Arc<Self>) -> Result<Slot, ApiError> {
        if self.slots.available_permits() == 0 && self.waiting.load(Ordering::SeqCst) >= self.limits.max_queue
        {
            self.metrics.rejected.with_label_values(&["queue_full"]).inc();
            return Err(ApiError::rate_limited(
                1,
                "the server is at capacity (generation queue full); retry shortly",
            ));
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        self.metrics.queue_depth.inc();
        let permit = self.slots.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        self.metrics.queue_depth.dec();
        let permit = permit.map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        self.metrics.in_flight.inc();
        Ok(Slot { _permit: permit, state: self.clone() })
    }
}

/// The router of the API, the web page and the operational endpoints.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(handlers::chat_completions))
        .route("/v1/models", get(handlers::list_models))
        .route("/v1/embeddings", post(handlers::embeddings))
        .route("/v1/sessions", post(handlers::create_session).get(handlers::list_sessions))
        .route("/v1/sessions/{id}", get(handlers::get_session).delete(handlers::delete_session))
        .route("/metrics", get(handlers::metrics))
        .route("/openapi.json", get(handlers::openapi))
        .layer(axum::middleware::from_fn_with_state(state.clone(), handlers::auth));
    let open = Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .route("/", get(handlers::index))
        .route("/app.js", get(handlers::app_js));
    let mut app = api
        .merge(open)
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), handlers::observe));
    if !state.limits.cors_origins.is_empty() {
        use tower_http::cors::{AllowOrigin, CorsLayer};
        let origins: Vec<axum::http::HeaderValue> =
            state.limits.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods(tower_http::cors::Any)
            .allow_headers(tower_http::cors::Any);
        app = app.layer(cors);
    }
    app.with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves; then new connections are refused
/// and requests in flight (streams included) finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: no new connections; requests in flight finish");
}
