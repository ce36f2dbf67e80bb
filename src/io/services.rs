//! Services: things that run around a job (logging now; experiment tracking and
//! alerts later). They start before the job, in order, and stop after it in reverse
//! order, also when the job fails ([`run_with_services`]).

use std::fmt;
use std::future::Future;
use std::io::IsTerminal;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::settings::LoggingSettings;

/// Errors of services.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("service `{service}` could not start: {reason}")]
    Start { service: String, reason: String },
    #[error("service `{service}` could not stop cleanly: {reason}")]
    Stop { service: String, reason: String },
}

/// Something that runs around a job.
#[async_trait]
pub trait Service: Send {
    /// A short name for logs and errors.
    fn name(&self) -> &str;
    /// Called before the job, in the order the services are given.
    async fn start(&mut self) -> Result<(), ServiceError>;
    /// Called after the job (also a failed one), in reverse order; only for started services.
    async fn stop(&mut self) -> Result<(), ServiceError>;
}

/// Start `services` in order, run `job`, then stop the started services in reverse
/// order whatever happened. A failed start stops the services already started and
/// skips the job. The job's error wins over a stop error; stop errors of a failed
/// job are logged.
pub async fn run_with_services<T, E, F>(services: &mut [Box<dyn Service>], job: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<ServiceError> + fmt::Display,
{
    let mut started = 0;
    let mut start_error = None;
    for service in services.iter_mut() {
        match service.start().await {
            Ok(()) => started += 1,
            Err(error) => {
                start_error = Some(error);
                break;
            }
        }
    }
    let result = match start_error {
        Some(error) => Err(E::from(error)),
        None => job.await,
    };
    let mut stop_error = None;
    for service in services[..started].iter_mut().rev() {
        if let Err(error) = service.stop().await {
            tracing::warn!(service = service.name(), "{error}");
            stop_error.get_or_insert(error);
        }
    }
    match (result, stop_error) {
        (Err(error), _) => Err(error),
        (Ok(_), Some(error)) => Err(E::from(error)),
        (Ok(value), None) => Ok(value),
    }
}

/// The services of a run, in start order.
pub fn default_services(logging: &LoggingSettings) -> Vec<Box<dyn Service>> {
    vec![Box::new(LoggingService::new(logging.clone()))]
}

/// Logs on stderr through `tracing`: human-readable lines, or one JSON object per
/// line. The first start in a process installs the global subscriber; later starts
/// (several jobs in one process, tests) keep it.
pub struct LoggingService {
    settings: LoggingSettings,
}

impl LoggingService {
    pub fn new(settings: LoggingSettings) -> Self {
        Self { settings }
    }
}

#[async_trait]
impl Service for LoggingService {
    fn name(&self) -> &str {
        "logging"
    }

    async fn start(&mut self) -> Result<(), ServiceError> {
        let filter = EnvFilter::try_new(&self.settings.level).map_err(|e| ServiceError::Start {
            service: self.name().to_string(),
            reason: format!("invalid `logging.level` `{}`: {e}", self.settings.level),
        })?;
        let layer = if self.settings.json {
            tracing_subscriber::fmt::layer().with_writer(std::io::stderr).event_format(JsonLines).boxed()
        } else {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .boxed()
        };
        if tracing_subscriber::registry().with(layer.with_filter(filter)).try_init().is_err() {
            tracing::debug!("a global tracing subscriber is already installed; keeping it");
        }
        tracing::debug!(level = %self.settings.level, json = self.settings.json, "logging started");
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), ServiceError> {
        tracing::debug!("logging stopped");
        Ok(())
    }
}

/// One JSON object per event: `ts` (seconds since the Unix epoch), `level`,
/// `target`, `spans` and `fields`.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        event.record(&mut JsonFields(&mut fields));
        let metadata = event.metadata();
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let spans: Vec<Value> = ctx
            .event_scope()
            .map(|scope| scope.from_root().map(|span| Value::from(span.name())).collect())
            .unwrap_or_default();
        let mut line = Map::new();
        line.insert("ts".into(), Value::from(ts));
        line.insert("level".into(), Value::from(metadata.level().as_str()));
        line.insert("target".into(), Value::from(metadata.target()));
        if !spans.is_empty() {
            line.insert("spans".into(), Value::from(spans));
        }
        line.insert("fields".into(), Value::Object(fields));
        writeln!(writer, "{}", Value::Object(line))
    }
}

struct JsonFields<'a>(&'a mut Map<String, Value>);

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_string(), Value::from(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    type Log = Arc<Mutex<Vec<String>>>;

    struct Recording {
        name: String,
        log: Log,
        fail_start: bool,
    }

    #[async_trait]
    impl Service for Recording {
        fn name(&self) -> &str {
            &self.name
        }
        async fn start(&mut self) -> Result<(), ServiceError> {
            self.log.lock().expect("log").push(format!("start {}", self.name));
            if self.fail_start {
                return Err(ServiceError::Start { service: self.name.clone(), reason: "refused".into() });
            }
            Ok(())
        }
        async fn stop(&mut self) -> Result<(), ServiceError> {
            self.log.lock().expect("log").push(format!("stop {}", self.name));
            Ok(())
        }
    }

    #[derive(Debug, thiserror::Error)]
    enum TestError {
        #[error("job failed")]
        Job,
        #[error(transparent)]
        Service(#[from] ServiceError),
    }

    fn services(log: &Log, failing: Option<&str>) -> Vec<Box<dyn Service>> {
        ["a", "b", "c"]
            .into_iter()
            .map(|name| {
                Box::new(Recording { name: name.into(), log: log.clone(), fail_start: failing == Some(name) })
                    as Box<dyn Service>
            })
            .collect()
    }

    fn entries(log: &Log) -> Vec<String> {
        log.lock().expect("log").clone()
    }

    #[tokio::test]
    async fn services_stop_in_reverse_order_after_a_successful_job() {
        let log = Log::default();
        let job_log = log.clone();
        let result = run_with_services(&mut services(&log, None), async move {
            job_log.lock().expect("log").push("job".into());
            Ok::<_, TestError>(7)
        })
        .await;
        assert_eq!(result.expect("job ok"), 7);
        assert_eq!(entries(&log), ["start a", "start b", "start c", "job", "stop c", "stop b", "stop a"]);
    }

    #[tokio::test]
    async fn services_stop_in_reverse_order_after_a_failed_job() {
        let log = Log::default();
        let job_log = log.clone();
        let result = run_with_services(&mut services(&log, None), async move {
            job_log.lock().expect("log").push("job".into());
            Err::<(), _>(TestError::Job)
        })
        .await;
        assert!(matches!(result, Err(TestError::Job)));
        assert_eq!(entries(&log), ["start a", "start b", "start c", "job", "stop c", "stop b", "stop a"]);
    }

    #[tokio::test]
    async fn a_failed_start_stops_the_started_services_and_skips_the_job() {
        let log = Log::default();
        let job_log = log.clone();
        let result = run_with_services(&mut services(&log, Some("b")), async move {
            job_log.lock().expect("log").push("job".into());
            Ok::<_, TestError>(())
        })
        .await;
        assert!(matches!(result, Err(TestError::Service(ServiceError::Start { .. }))));
        assert_eq!(entries(&log), ["start a", "start b", "stop a"]);
    }

    #[tokio::test]
    async fn logging_service_rejects_a_bad_filter() {
        let mut service =
            LoggingService::new(LoggingSettings { level: "info,bullpen=notalevel".into(), json: false });
        let err = service.start().await.expect_err("bad filter");
        assert!(err.to_string().contains("logging.level"), "{err}");
    }
}
