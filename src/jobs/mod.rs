//! Jobs: one module per job kind, run through the same lifecycle ([`run`]): the
//! services start, the job runs with a [`JobContext`], the services stop in reverse
//! order (also when the job fails).

pub mod agent;
pub mod base;
pub mod chat;
pub mod evaluations;
pub mod inference;
pub mod ingest;
pub mod models;
pub mod reports;
pub mod search;
#[cfg(feature = "server")]
pub mod serve;

pub use base::{Job, JobContext, JobError};

use crate::io::services::{default_services, run_with_services};
use crate::settings::{JobSettings, Settings};

/// The behaviour of a job's settings.
pub fn job(settings: &JobSettings) -> &dyn Job {
    match settings {
        JobSettings::ChatJob(job) => job,
        JobSettings::InferenceJob(job) => job,
        JobSettings::PullModelsJob(job) => job,
        JobSettings::IngestJob(job) => job,
        JobSettings::SearchJob(job) => job,
        JobSettings::AgentJob(job) => job,
        JobSettings::ReportsJob(job) => job,
        JobSettings::EvaluationJob(job) => job,
        #[cfg(feature = "server")]
        JobSettings::ServeJob(job) => job,
        #[cfg(not(feature = "server"))]
        JobSettings::ServeJob(_) => &serve_disabled::ServeDisabled,
    }
}

/// Run the job of `settings` under `BULLPEN_HOME`, with the default services.
pub async fn run(settings: Settings) -> Result<(), JobError> {
    let ctx = JobContext::new(&settings);
    run_in(&settings, &ctx).await
}

/// Run the job of `settings` with the given context, with the default services.
pub async fn run_in(settings: &Settings, ctx: &JobContext) -> Result<(), JobError> {
    let mut services = default_services(&settings.logging);
    let kind = settings.job.kind();
    run_with_services(&mut services, async {
        tracing::info!(kind, home = %ctx.home.display(), "job started");
        let result = job(&settings.job).run(ctx).await;
        match &result {
            Ok(()) => tracing::info!(kind, "job finished"),
            Err(error) => tracing::debug!(kind, %error, "job failed"),
        }
        result
    })
    .await
}

#[cfg(not(feature = "server"))]
mod serve_disabled {
    use super::{Job, JobContext, JobError};

    /// `ServeJob` in a build without the `server` feature.
    pub struct ServeDisabled;

    #[async_trait::async_trait]
    impl Job for ServeDisabled {
        async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
            Err(JobError::Setup("this build has no HTTP server: rebuild with `--features server`".into()))
        }
    }
}
