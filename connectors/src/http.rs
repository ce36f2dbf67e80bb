//! HTTP plumbing for live sources: an on-disk cache, a token-bucket rate limit, and retries with
//! exponential backoff.
//!
//! [`HttpClient::get_bytes`] is the one entry point the live sources use:
//!
//! 1. a cached body younger than [`HttpConfig::cache_ttl`] is returned without a request;
//! 2. otherwise the client waits for its [`RateLimit`], sends the request, and retries connect
//!    errors, timeouts, `429 Too Many Requests` (honouring `Retry-After`) and `5xx` answers with
//!    exponential backoff plus jitter, at most [`HttpConfig::max_retries`] times;
//! 3. any other `4xx` fails at once with its status in [`ConnectorError::Http`];
//! 4. a success is written to the cache atomically; when every attempt failed for a transient
//!    reason and an expired cache entry exists, that stale body is served with a warning.
//!
//! URLs are redacted ([`redact_url`]) before they reach an error, a log line or a cache key, so
//! an API key in a query string (`token=`, `apikey=` ...) never leaves the request itself.

use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use governor::clock::{Clock, DefaultClock};
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{ConnectorError, Result};
use crate::files;

/// Longest wait a `Retry-After` header may impose before the client gives up on it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// Longest backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How much of an error response body is quoted in an error message.
const BODY_EXCERPT_CHARS: usize = 300;
/// Query parameters whose values are secrets (compared case-insensitively).
const SECRET_PARAMS: [&str; 8] =
    ["token", "apikey", "api_key", "api-key", "key", "access_token", "secret", "password"];

/// Settings of an [`HttpClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// `User-Agent` header sent with every request.
    pub user_agent: String,
    /// Requests per second this client may send (evenly spaced, no bursts); at least 1.
    pub max_requests_per_second: u32,
    /// Directory of the on-disk cache; `None` disables caching.
    pub cache_dir: Option<PathBuf>,
    /// How long a cached body is served without asking the server again. Expired entries are
    /// still served when the server cannot be reached.
    pub cache_ttl: Duration,
    /// Retries after the first attempt for transient failures (connect errors, timeouts, 429,
    /// 5xx).
    pub max_retries: u32,
    /// Timeout of one attempt (connect + response + body).
    pub timeout: Duration,
    /// Backoff before the first retry; doubled each further retry (plus up to 50 % jitter,
    /// capped at 30 s).
    pub base_backoff: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            user_agent: concat!("bullpen/", env!("CARGO_PKG_VERSION")).to_string(),
            max_requests_per_second: 5,
            cache_dir: None,
            cache_ttl: Duration::from_secs(24 * 3600),
            max_retries: 3,
            timeout: Duration::from_secs(30),
            base_backoff: Duration::from_millis(500),
        }
    }
}

/// The governor quota for at most `per_second` requests in any one-second window: one request
/// every `1 / per_second` seconds, no bursts.
pub(crate) fn quota_per_second(per_second: NonZeroU32) -> Quota {
    let period = Duration::from_secs(1) / per_second.get();
    // `period` is > 0 for any u32 divisor, so `with_period` cannot fail; the fallback keeps the
    // function total all the same.
    Quota::with_period(period).unwrap_or_else(|| Quota::per_second(per_second))
}

/// A token-bucket rate limit (governor GCRA) that may be shared between clients.
///
/// The quota spaces requests `1 / n` seconds apart with a burst of one, so no one-second window
/// ever holds more than `n` requests.
pub struct RateLimit {
    limiter: RateLimiter<NotKeyed, InMemoryState, DefaultClock>,
    per_second: NonZeroU32,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit").field("per_second", &self.per_second).finish()
    }
}

impl RateLimit {
    /// A limit of `per_second` requests per second.
    pub fn per_second(per_second: NonZeroU32) -> Arc<Self> {
        Arc::new(Self { limiter: RateLimiter::direct(quota_per_second(per_second)), per_second })
    }

    /// The configured requests per second.
    pub fn requests_per_second(&self) -> u32 {
        self.per_second.get()
    }

    /// Takes a permit now if one is free (does not wait).
    pub fn try_acquire(&self) -> bool {
        self.limiter.check().is_ok()
    }

    /// Waits (on the tokio timer) until a permit is free, then takes it.
    pub async fn acquire(&self) {
        loop {
            match self.limiter.check() {
                Ok(()) => return,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
            }
        }
    }
}

/// The URL with the values of secret query parameters (`token`, `apikey`, `api_key`, `key`,
/// `access_token` ...) replaced by `REDACTED`. Use it for anything that is shown or stored.
pub fn redact_url(url: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let Some((path, query)) = base.split_once('?') else {
        return url.to_string();
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name)) => {
                format!("{name}=REDACTED")
            }
            _ => pair.to_string(),
        })
        .collect();
    let mut out = format!("{path}?{}", redacted.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// An HTTP GET client with an on-disk cache, a rate limit and retries. Cheap to clone: clones
/// share the connection pool and the rate limit.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    config: HttpConfig,
    limit: Arc<RateLimit>,
}

/// Why one attempt failed.
enum Attempt {
    /// Worth retrying; `wait` overrides the backoff (from `Retry-After`).
    Transient { status: Option<u16>, message: String, wait: Option<Duration> },
    /// Not worth retrying.
    Fatal(ConnectorError),
}

impl HttpClient {
    /// A client with its own rate limit of `config.max_requests_per_second`.
    pub fn new(config: HttpConfig) -> Result<Self> {
        let per_second = NonZeroU32::new(config.max_requests_per_second).ok_or_else(|| {
            ConnectorError::Config("HttpConfig.max_requests_per_second must be at least 1".to_string())
        })?;
        Self::with_rate_limit(config, RateLimit::per_second(per_second))
    }

    /// A client that draws permits from `limit`, which other clients may share (so that a
    /// host's limit holds for the whole process). `config.max_requests_per_second` is ignored.
    pub fn with_rate_limit(config: HttpConfig, limit: Arc<RateLimit>) -> Result<Self> {
        if config.user_agent.trim().is_empty() {
            return Err(ConnectorError::Config("HttpConfig.user_agent must not be empty".to_string()));
        }
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| {
                ConnectorError::Config(format!("cannot build the HTTP client: {}", e.without_url()))
            })?;
        Ok(Self { inner: Arc::new(Inner { client, config, limit }) })
    }

    /// The settings.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// The rate limit this client draws from.
    pub fn rate_limit(&self) -> &Arc<RateLimit> {
        &self.inner.limit
    }

    /// The cache file of `url`: `<cache_dir>/<sha256 of the redacted URL>.body`, or `None`
    /// without a cache directory. The key is computed from the redacted URL, so no secret is
    /// hashed and a changed API key reuses the entry.
    pub fn cache_path(&self, url: &str) -> Option<PathBuf> {
        let dir = self.inner.config.cache_dir.as_ref()?;
        let digest = Sha256::digest(redact_url(url).as_bytes());
        Some(dir.join(format!("{}.body", hex::encode(digest))))
    }

    /// GETs `url` and parses the body as JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T> {
        let bytes = self.get_bytes(url).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ConnectorError::parse(redact_url(url), format!("invalid JSON: {e}")))
    }

    /// GETs `url`: from the cache when fresh, else from the server with rate limiting and
    /// retries, else (transient failure) from a stale cache entry. Errors name the redacted URL.
    pub async fn get_bytes(&self, url: &str) -> Result<Vec<u8>> {
        let shown = redact_url(url);
        let cache = self.cache_path(url);
        // A cached copy past its TTL is kept in hand: it is served if every attempt fails.
        let mut stale = None;
        if let Some(path) = &cache
            && let Some((body, age)) = read_cache(path).await
        {
            if age <= self.inner.config.cache_ttl {
                tracing::debug!(url = %shown, age_s = age.as_secs(), "HTTP cache hit");
                return Ok(body);
            }
            stale = Some((body, age));
        }

        let attempts = self.inner.config.max_retries.saturating_add(1);
        let mut last: Option<(Option<u16>, String)> = None;
        for attempt in 0..attempts {
            self.inner.limit.acquire().await;
            tracing::debug!(url = %shown, attempt = attempt + 1, "HTTP GET");
            match self.attempt(url, &shown).await {
                Ok(body) => {
                    if let Some(path) = cache {
                        store_cache(path, body.clone(), &shown).await;
                    }
                    return Ok(body);
                }
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Transient { status, message, wait }) => {
                    if attempt + 1 < attempts {
                        let wait = wait.unwrap_or_else(|| self.backoff(attempt));
                        tracing::warn!(
                            url = %shown,
                            attempt = attempt + 1,
                            of = attempts,
                            wait_ms = wait.as_millis() as u64,
                            "HTTP GET failed ({message}); retrying"
                        );
                        tokio::time::sleep(wait).await;
                    }
                    last = Some((status, message));
                }
            }
        }

        let (status, message) = last.unwrap_or((None, "no attempt was made".to_string()));
        if let Some((body, age)) = stale {
            tracing::warn!(
                url = %shown,
                age_s = age.as_secs(),
                "HTTP GET failed after {attempts} attempt(s) ({message}); serving the stale cached copy"
            );
            return Ok(body);
        }
        Err(ConnectorError::Http {
            url: shown,
            status,
            message: format!("failed after {attempts} attempt(s): {message}"),
        })
    }

    /// One request, classified.
    async fn attempt(&self, url: &str, shown: &str) -> std::result::Result<Vec<u8>, Attempt> {
        let response = match self.inner.client.get(url).send().await {
            Ok(r) => r,
            Err(e) => return Err(classify_reqwest_error(e, shown)),
        };
        let status = response.status();
        if status.is_success() {
            return match response.bytes().await {
                Ok(b) => Ok(b.to_vec()),
                Err(e) => Err(classify_reqwest_error(e, shown)),
            };
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        // The body of an error response explains it (Tiingo: `{"detail": ...}`); a failure to
        // read it is not worth reporting over the status itself.
        let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        let message = status_message(status, &body);
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = retry_after.map(|w| {
                if w > MAX_RETRY_AFTER {
                    tracing::warn!(url = %shown, "Retry-After of {}s capped at {}s", w.as_secs(), MAX_RETRY_AFTER.as_secs());
                }
                w.min(MAX_RETRY_AFTER)
            });
            Err(Attempt::Transient { status: Some(status.as_u16()), message, wait })
        } else if status.is_server_error() {
            Err(Attempt::Transient { status: Some(status.as_u16()), message, wait: None })
        } else {
            Err(Attempt::Fatal(ConnectorError::Http {
                url: shown.to_string(),
                status: Some(status.as_u16()),
                message,
            }))
        }
    }

    /// `base_backoff * 2^attempt` plus up to 50 % jitter, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.inner.config.base_backoff.saturating_mul(1u32 << attempt.min(16));
        let base = base.min(MAX_BACKOFF);
        let jitter_ms = (base.as_millis() as u64) / 2;
        let jitter = if jitter_ms == 0 { 0 } else { random_u64() % (jitter_ms + 1) };
        (base + Duration::from_millis(jitter)).min(MAX_BACKOFF)
    }
}

/// A random number from the standard library's randomly keyed hasher (enough for jitter).
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}

/// `Retry-After` as delta-seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// `HTTP 404 Not Found: <start of the body>`.
fn status_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut msg = format!("HTTP {status}");
    if !text.is_empty() {
        let excerpt: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
        msg.push_str(": ");
        msg.push_str(&excerpt);
        if text.chars().count() > BODY_EXCERPT_CHARS {
            msg.push('…');
        }
    }
    msg
}

/// Transport errors: connect, timeout and body errors are transient; the rest (a malformed URL,
/// a redirect loop) are not. The message never contains the URL (it may hold a key).
fn classify_reqwest_error(e: reqwest::Error, shown: &str) -> Attempt {
    let transient = e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode();
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut message = format!("{kind}: {e}");
    // The causes (hyper, io) explain "error sending request"; none of them names the URL.
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    if transient {
        Attempt::Transient { status: None, message, wait: None }
    } else {
        Attempt::Fatal(ConnectorError::Http { url: shown.to_string(), status: None, message })
    }
}

/// A cached body and its age, when the entry exists and can be read.
async fn read_cache(path: &std::path::Path) -> Option<(Vec<u8>, Duration)> {
    let meta = tokio::fs::metadata(path).await.ok()?;
    let modified = meta.modified().ok()?;
    let age = SystemTime::now().duration_since(modified).unwrap_or(Duration::ZERO);
    match tokio::fs::read(path).await {
        Ok(body) => Some((body, age)),
        Err(e) => {
            tracing::warn!(path = %path.display(), "unreadable HTTP cache entry ignored: {e}");
            None
        }
    }
}

/// Writes a cache entry atomically; a failure is logged, not returned (the body is still good).
async fn store_cache(path: PathBuf, body: Vec<u8>, shown: &str) {
    let written = tokio::task::spawn_blocking(move || files::write_atomic(&path, &body)).await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(url = %shown, "could not write the HTTP cache: {e}"),
        Err(e) => tracing::warn!(url = %shown, "could not write the HTTP cache: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn redacts_secret_query_values_only() {
        assert_eq!(
            redact_url("https://api.tiingo.com/tiingo/daily/aapl/prices?startDate=2024-01-01&token=abc123"),
            "https://api.tiingo.com/tiingo/daily/aapl/prices?startDate=2024-01-01&token=REDACTED"
        );
        assert_eq!(
            redact_url("https://x.test/q?APIKEY=s3cret&a=1#frag"),
            "https://x.test/q?APIKEY=REDACTED&a=1#frag"
        );
        assert_eq!(
            redact_url("https://x.test/q?api_key=1&tokenish=2"),
            "https://x.test/q?api_key=REDACTED&tokenish=2"
        );
        assert_eq!(redact_url("https://x.test/path"), "https://x.test/path");
    }

    #[test]
    fn cache_key_ignores_the_secret() {
        let dir = PathBuf::from("/tmp/bullpen-cache-test");
        let client =
            HttpClient::new(HttpConfig { cache_dir: Some(dir.clone()), ..HttpConfig::default() }).unwrap();
        let a = client.cache_path("https://x.test/p?token=one").unwrap();
        let b = client.cache_path("https://x.test/p?token=two").unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with(&dir));
        let name = a.file_name().unwrap().to_string_lossy().to_string();
        assert!(!name.contains("one") && name.ends_with(".body") && name.len() == 64 + 5, "{name}");
        assert_ne!(a, client.cache_path("https://x.test/q?token=one").unwrap());
    }

    #[test]
    fn quota_allows_n_per_second_and_no_burst() {
        // Deterministic: governor's fake clock, stepped 1 ms at a time over 3 simulated seconds.
        for n in [1u32, 2, 10] {
            let clock = FakeRelativeClock::default();
            let limiter =
                RateLimiter::direct_with_clock(quota_per_second(NonZeroU32::new(n).unwrap()), clock.clone());
            let mut granted_at = Vec::new();
            for ms in 0..3000u64 {
                while limiter.check().is_ok() {
                    granted_at.push(ms);
                }
                clock.advance(Duration::from_millis(1));
            }
            // Every one-second window [t, t + 1000) holds at most n grants.
            for (i, &t) in granted_at.iter().enumerate() {
                let in_window = granted_at[i..].iter().take_while(|&&u| u < t + 1000).count();
                assert!(in_window <= n as usize, "n={n}: {in_window} grants in the second from {t} ms");
            }
            assert_eq!(granted_at.len(), 3 * n as usize, "n={n}: {granted_at:?}");
        }
    }

    #[test]
    fn rate_limit_takes_one_permit_then_refuses() {
        let limit = RateLimit::per_second(NonZeroU32::new(1).unwrap());
        assert_eq!(limit.requests_per_second(), 1);
        assert!(limit.try_acquire());
        // The next permit is a full second away; nothing in this test takes that long.
        assert!(!limit.try_acquire());
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let client =
            HttpClient::new(HttpConfig { base_backoff: Duration::from_millis(100), ..HttpConfig::default() })
                .unwrap();
        for attempt in 0..4 {
            let b = client.backoff(attempt);
            let base = Duration::from_millis(100 * (1 << attempt));
            assert!(b >= base && b <= base + base / 2, "attempt {attempt}: {b:?}");
        }
        assert!(client.backoff(30) <= MAX_BACKOFF);
    }

    #[test]
    fn status_message_quotes_the_body() {
        let m = status_message(StatusCode::NOT_FOUND, br#"{"detail":"Error: Ticker 'XXXX' not found"}"#);
        assert_eq!(m, r#"HTTP 404 Not Found: {"detail":"Error: Ticker 'XXXX' not found"}"#);
        assert_eq!(status_message(StatusCode::BAD_GATEWAY, b""), "HTTP 502 Bad Gateway");
    }

    #[test]
    fn zero_rate_is_a_config_error() {
        let err =
            HttpClient::new(HttpConfig { max_requests_per_second: 0, ..HttpConfig::default() }).unwrap_err();
        assert!(matches!(err, ConnectorError::Config(_)), "{err}");
    }
}
