//! [`ReportsJob`]: equity research reports for many tickers. The summary table goes to
//! stdout; progress to stderr; the job fails (exit status 1) when any ticker failed, after
//! the others are done.

use std::io::IsTerminal;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use super::base::{Job, JobContext, JobError};
use crate::agents::AgentLibrary;
use crate::agents::prompts::{PromptRef, Prompts, default_dir};
use crate::agents::tools::ToolBox;
use crate::analytics::RatioEngine;
use crate::io::osvariables;
use crate::reports::batch::{Batch, RunSummary};
use crate::reports::data::Gatherer;
use crate::reports::prose::Writer;
use crate::settings::ReportsJob;
use crate::utils::signers::sha256_bytes;

/// The agent whose system prompt and model write the prose.
pub const WRITER_AGENT: &str = "report_writer";

impl ReportsJob {
    /// The batch of this job (loads the writer's model unless prose is off).
    pub async fn batch(&self, ctx: &JobContext) -> Result<Batch, JobError> {
        if self.tickers.iter().all(|t| t.trim().is_empty()) {
            return Err(JobError::Setup("no tickers given (`--tickers AAPL,MSFT` or `job.tickers`)".into()));
        }
        if self.formats.is_empty() {
            return Err(JobError::Setup("no output format given (`--format md,html,pdf`)".into()));
        }
        self.valuation
            .rating
            .validate()
            .map_err(|e| JobError::Setup(format!("job.valuation.rating: {e}")))?;
        let data = osvariables::data_dir(self.data.clone());
        let universe = crate::io::datasets::open_universe(&data)
            .map_err(|e| JobError::Data { path: data.clone(), reason: e.to_string() })?;
        let gatherer = Gatherer::new(
            Arc::new(universe),
            RatioEngine { index: Some(self.index_ticker.clone()), ..RatioEngine::default() },
            self.index_ticker.clone(),
            self.max_peers,
        );
        let writer = if self.prose {
            let prompts = Prompts::new(self.prompts_dir.clone().unwrap_or_else(|| default_dir("prompts")));
            let agents_dir = self.agents_dir.clone().unwrap_or_else(|| default_dir("agents"));
            let library =
                AgentLibrary::load(&agents_dir, &prompts, &ToolBox::builtin(), &ctx.registry.names())?;
            let def = library.get(WRITER_AGENT)?;
            let profile = self.profile.clone().unwrap_or_else(|| def.spec.model.clone());
            let today = self.as_of.map(|d| d.to_string()).unwrap_or_default();
            let system = def.system_prompt(&[], &today, &self.index_ticker)?;
            let section =
                PromptRef { template: "report_section".into(), version: self.section_prompt.clone() };
            let template = prompts.get(&section)?;
            let model = ctx.chat_model(&profile).await?;
            Some(Writer {
                model,
                model_name: profile,
                system,
                template,
                max_tokens: self.max_tokens,
                policy: self.unsupported_numbers,
                versions: vec![
                    format!("{}@{}", def.spec.prompt.template, def.spec.prompt.version),
                    format!("report_section@{}", self.section_prompt),
                ],
            })
        } else {
            None
        };
        let key_source = json!({
            "formats": self.formats,
            "prose": self.prose,
            "writer": writer.as_ref().map(|w| json!({"model": w.model_name, "prompts": w.versions, "system": w.system})),
            "max_tokens": self.max_tokens,
            "policy": self.unsupported_numbers,
            "valuation": self.valuation,
            "index": self.index_ticker,
            "max_peers": self.max_peers,
            "data": data,
        });
        Ok(Batch {
            gatherer,
            valuation: self.valuation.clone(),
            writer,
            formats: self.formats.clone(),
            out: self.out.clone(),
            concurrency: self.concurrency.max(1),
            force: self.force,
            progress: std::io::stderr().is_terminal(),
            key: sha256_bytes(key_source.to_string().as_bytes()),
        })
    }

    /// Runs the batch and returns its summary (failures included).
    pub async fn report(&self, ctx: &JobContext) -> Result<RunSummary, JobError> {
        let batch = self.batch(ctx).await?;
        let tickers: Vec<String> =
            self.tickers.iter().map(|t| t.trim().to_uppercase()).filter(|t| !t.is_empty()).fold(
                Vec::new(),
                |mut v, t| {
                    if !v.contains(&t) {
                        v.push(t);
                    }
                    v
                },
            );
        let inputs = json!({
            "tickers": tickers,
            "as_of": self.as_of,
            "universe": osvariables::data_dir(self.data.clone()),
            "out": self.out,
        });
        batch.run(&tickers, self.as_of, inputs).await.map_err(|e| JobError::Setup(e.to_string()))
    }
}

#[async_trait]
impl Job for ReportsJob {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let summary = self.report(ctx).await?;
        println!("{}", summary.table());
        println!("manifest: {}", summary.manifest.display());
        let failed = summary.failed();
        if failed.is_empty() {
            return Ok(());
        }
        Err(JobError::Incomplete(format!(
            "{} of {} reports failed: {}",
            failed.len(),
            summary.outcomes.len(),
            failed.iter().map(|o| o.ticker.as_str()).collect::<Vec<_>>().join(", ")
        )))
    }
}
