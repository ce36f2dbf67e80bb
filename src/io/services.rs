//! Services: things that run around a job (logging now; experiment tracking and
//! alerts later). They start before the job, in order, and stop after it in reverse
//! order, also when the job fails ([`run_with_services`]).

use std::fmt;
use std::future::Future;
use std::io::IsTerminal;

use async_trait::async_trait;
use tracing_subscriber::layer::SubscriberExt;
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

    /// The filter of [`filter_directive`], with its directive and origin.
    fn filter(&self, rust_log: Option<&str>) -> Result<(EnvFilter, String, &'static str), ServiceError> {
        let (level, origin) = filter_directive(&self.settings.level, rust_log);
        let filter = EnvFilter::try_new(&level).map_err(|e| ServiceError::Start {
            service: self.name().to_string(),
            reason: format!("invalid `{origin}` `{level}`: {e}"),
        })?;
        Ok((filter, level, origin))
    }
}

/// The `tracing` filter of a run and where it comes from: `RUST_LOG` when set and
/// not blank (the usual convention), else the `logging.level` setting.
/// qdrant-edge warns on every open that process-wide flags it keeps private were never
/// initialised (they only exist in the Qdrant server); its errors still show unless the
/// filter names `qdrant_edge` itself.
fn filter_directive(settings_level: &str, rust_log: Option<&str>) -> (String, &'static str) {
    let (level, origin) = match rust_log {
        Some(env) if !env.trim().is_empty() => (env.to_string(), "RUST_LOG"),
        _ => (settings_level.to_string(), "logging.level"),
    };
    if level.contains("qdrant_edge") {
        (level, origin)
    } else {
        (format!("{level},qdrant_edge=error"), origin)
    }
}

#[async_trait]
impl Service for LoggingService {
    fn name(&self) -> &str {
        "logging"
    }

    async fn start(&mut self) -> Result<(), ServiceError> {
        let rust_log = std::env::var("RUST_LOG").ok();
        let (filter, level, origin) = self.filter(rust_log.as_deref())?;
        let layer = if self.settings.json {
            tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr).boxed()
        } else {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .boxed()
        };
        if tracing_subscriber::registry().with(layer.with_filter(filter)).try_init().is_err() {
            tracing::debug!("a global tracing subscriber is already installed; keeping it");
        }
        tracing::debug!(%level, from = origin, json = self.settings.json, "logging started");
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), ServiceError> {
        tracing::debug!("logging stopped");
        Ok(())
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

    #[test]
    fn rust_log_wins_over_the_setting_unless_blank() {
        let from_settings = ("info,llama-cpp-2=warn,qdrant_edge=error".to_string(), "logging.level");
        assert_eq!(filter_directive("info,llama-cpp-2=warn", None), from_settings);
        assert_eq!(filter_directive("info,llama-cpp-2=warn", Some("  ")), from_settings);
        assert_eq!(
            filter_directive("warn", Some("bullpen=debug")),
            ("bullpen=debug,qdrant_edge=error".to_string(), "RUST_LOG")
        );
        assert_eq!(
            filter_directive("qdrant_edge=info", None),
            ("qdrant_edge=info".to_string(), "logging.level")
        );
    }

    #[test]
    fn a_bad_filter_is_a_start_error_naming_its_origin() {
        let service =
            LoggingService::new(LoggingSettings { level: "info,bullpen=notalevel".into(), json: false });
        let err = service.filter(None).expect_err("bad setting");
        assert!(err.to_string().contains("`logging.level`"), "{err}");
        assert!(service.filter(Some("info")).is_ok(), "RUST_LOG replaces the bad setting");
        let err = service.filter(Some("bullpen=notalevel")).expect_err("bad RUST_LOG");
        assert!(err.to_string().contains("`RUST_LOG`"), "{err}");
    }
}
