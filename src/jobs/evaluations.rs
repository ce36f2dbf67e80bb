//! [`EvaluationJob`]: prompt, model, parameter and agent variants scored on a task
//! (see [`crate::evals`]). The summary table goes to stdout, progress and paths to stderr.

use async_trait::async_trait;

use super::base::{Job, JobContext, JobError};
use crate::evals::output;
use crate::settings::EvaluationJob;

#[async_trait]
impl Job for EvaluationJob {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let outcome = crate::evals::run::evaluate(self, ctx).await?;
        if self.print {
            println!("{}", output::terminal(&outcome.summary));
        }
        ctx.notice(&format!(
            "evaluation {} · {} items × {} variants · {} model calls, {} cached · results in {}",
            outcome.run_id,
            outcome.summary.items,
            outcome.summary.variants.len(),
            outcome.model_calls,
            outcome.cached,
            outcome.dir.display()
        ));
        Ok(())
    }
}
