//! [`PullModelsJob`]: install catalog models into `BULLPEN_HOME`.

use std::io::Write;

use async_trait::async_trait;

use super::base::{Job, JobContext, JobError};
use crate::settings::PullModelsJob;

#[async_trait]
impl Job for PullModelsJob {
    /// Pull each model (progress bars on a terminal), then print one line per model on
    /// stdout: `NAME<TAB>PATH`, followed by the SHA-256 of files whose catalog entry
    /// has none (to paste into the catalog).
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        // Check every name before the first download.
        for name in &self.models {
            ctx.store.spec(name)?;
        }
        for name in &self.models {
            let installed = ctx.store.is_installed(name)?;
            if self.force || !installed {
                ctx.notice(&format!("pulling model {name}…"));
            }
            let report = ctx.store.pull(name, self.force, true).await?;
            match &report.source {
                Some(source) => tracing::info!(model = %name, %source, "model installed"),
                None => tracing::info!(model = %name, "model already installed"),
            }
            let spec = ctx.store.spec(name)?;
            let mut out = std::io::stdout();
            writeln!(out, "{}\t{}", report.name, report.path.display()).map_err(JobError::Output)?;
            for file in &report.files {
                let undeclared = spec.files.iter().any(|f| f.name == file.name && f.sha256.is_none());
                if undeclared {
                    writeln!(out, "  {}\tsha256 {}", file.name, file.sha256).map_err(JobError::Output)?;
                }
            }
        }
        Ok(())
    }
}
