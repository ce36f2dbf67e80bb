//! [`ServeJob`]: the HTTP server (see [`crate::server`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;

use super::base::{Job, JobContext, JobError};
use crate::server::sessions::SessionStore;
use crate::server::{AppState, Limits, key_hash, router, serve, shutdown_signal};
use crate::settings::ServeJob;

/// The environment variable of API keys (comma-separated).
pub const API_KEYS_VAR: &str = "BULLPEN_API_KEYS";

/// A setting the server cannot start with.
fn refuse(reason: String) -> JobError {
    JobError::Setup(reason)
}

impl ServeJob {
    /// The keys of the settings and of `BULLPEN_API_KEYS`.
    pub fn keys(&self) -> Vec<String> {
        let env = std::env::var(API_KEYS_VAR).unwrap_or_default();
        self.api_keys
            .iter()
            .map(|k| k.trim().to_string())
            .chain(env.split(',').map(|k| k.trim().to_string()))
            .filter(|k| !k.is_empty())
            .collect()
    }

    /// The address, checked against the authentication settings.
    pub fn socket_addr(&self) -> Result<SocketAddr, JobError> {
        let addr: SocketAddr = self
            .addr
            .parse()
            .map_err(|e| refuse(format!("`addr` {:?} is not an IP address and port: {e}", self.addr)))?;
        let keys = self.keys();
        if keys.is_empty() && !self.allow_unauthenticated {
            return Err(refuse(format!(
                "no API keys: set {API_KEYS_VAR} or `job.api_keys`, or `allow_unauthenticated = true` on a loopback address"
            )));
        }
        if keys.is_empty() && !addr.ip().is_loopback() {
            return Err(refuse(format!(
                "`allow_unauthenticated` is only allowed on a loopback address, not {addr}"
            )));
        }
        Ok(addr)
    }

    /// The server's state: agents, sessions, limits. The default profile loads in the
    /// background; `/readyz` says when it is ready.
    pub async fn state(&self, ctx: &JobContext) -> Result<Arc<AppState>, JobError> {
        let keys = self.keys();
        let limits = Limits {
            key_hashes: keys.iter().map(|k| key_hash(k)).collect(),
            open: keys.is_empty() && self.allow_unauthenticated,
            requests_per_minute: self.requests_per_minute,
            max_body_bytes: self.max_body_kib.saturating_mul(1024),
            request_timeout: Duration::from_secs(self.request_timeout_s.max(1)),
            max_concurrent: self.max_concurrent.max(1),
            max_queue: self.max_queue,
            cors_origins: self.cors_origins.clone(),
        };
        let agents = self.agent_job().runtime(ctx).await?;
        let db = self.sessions_db.clone().unwrap_or_else(|| ctx.home.join("sessions.sqlite"));
        let sessions = SessionStore::open(&db).map_err(|e| refuse(e.to_string()))?;
        let state = Arc::new(
            AppState::new(ctx.clone(), agents, sessions, limits, self.default_profile.clone())
                .map_err(|e| refuse(e.message))?,
        );
        let s = state.clone();
        tokio::spawn(async move {
            match s.ctx.chat_model(&s.default_profile).await {
                Ok(_) => s.ready.store(true, Ordering::SeqCst),
                Err(e) => {
                    tracing::error!("the default profile `{}` could not be loaded: {e}", s.default_profile)
                }
            }
        });
        Ok(state)
    }
}

#[async_trait]
impl Job for ServeJob {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let addr = self.socket_addr()?;
        let state = self.state(ctx).await?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| refuse(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener.local_addr().map_err(|e| refuse(e.to_string()))?;
        ctx.notice(&format!(
            "Bullpen listening on http://{bound} (web chat at /, API at /v1, OpenAPI at /openapi.json)"
        ));
        serve(listener, router(state), shutdown_signal()).await.map_err(|e| refuse(format!("server: {e}")))
    }
}
