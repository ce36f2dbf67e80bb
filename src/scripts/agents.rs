//! `bullpen agents list` and `bullpen runs list|show|replay`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;

use crate::agents::audit::{self, Record};
use crate::agents::prompts::{Prompts, default_dir};
use crate::agents::replay::{ReplayModels, compare};
use crate::agents::tools::ToolBox;
use crate::agents::{AgentLibrary, DirectorMode, Events};
use crate::io::osvariables;
use crate::jobs::JobContext;
use crate::settings::{AgentJob, BaseSettings, JobSettings};

/// `bullpen agents …`.
#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// The agents of the library with their tools and models.
    List {
        /// The agent library (default: `./agents`, else the repository's).
        #[arg(long, value_name = "DIR")]
        agents_dir: Option<PathBuf>,
        /// The prompt templates (default: `./prompts`, else the repository's).
        #[arg(long, value_name = "DIR")]
        prompts_dir: Option<PathBuf>,
    },
}

/// `bullpen runs …`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Runs in `$BULLPEN_HOME/runs`, newest first.
    List,
    /// Every model and tool call of a run.
    Show {
        run_id: String,
        /// The raw JSONL records.
        #[arg(long)]
        json: bool,
    },
    /// Runs the request of a run again: the model's recorded replies are served back, the
    /// tools run on today's data; differences are reported.
    Replay { run_id: String },
}

pub fn list_agents(
    base: &BaseSettings,
    agents_dir: Option<PathBuf>,
    prompts_dir: Option<PathBuf>,
) -> anyhow::Result<String> {
    let dir = agents_dir.unwrap_or_else(|| default_dir("agents"));
    let prompts = Prompts::new(prompts_dir.unwrap_or_else(|| default_dir("prompts")));
    let profiles: Vec<String> = base.profiles.keys().cloned().collect();
    let lib = AgentLibrary::load(&dir, &prompts, &ToolBox::builtin(), &profiles)
        .context("invalid agent library")?;
    let mut out = String::new();
    for def in lib.iter() {
        let s = &def.spec;
        out.push_str(&format!(
            "{:<20} {:<8} model {:<8} prompt {}@{}\n    {}\n",
            s.name,
            format!("{:?}", s.kind).to_lowercase(),
            s.model,
            s.prompt.template,
            s.prompt.version,
            s.description
        ));
        if !s.tools.is_empty() {
            out.push_str(&format!("    tools: {}\n", s.tools.join(", ")));
        }
        if !s.agents.is_empty() {
            out.push_str(&format!("    agents: {}\n", s.agents.join(", ")));
        }
    }
    Ok(out)
}

pub async fn runs(base: BaseSettings, command: RunsCommand) -> anyhow::Result<String> {
    let runs_dir = osvariables::bullpen_home().join("runs");
    match command {
        RunsCommand::List => {
            let mut out = String::new();
            for (id, agent, status) in audit::list(&runs_dir)? {
                out.push_str(&format!("{id}  {agent:<20} {status}\n"));
            }
            if out.is_empty() {
                out = format!("no runs in {}\n", runs_dir.display());
            }
            Ok(out)
        }
        RunsCommand::Show { run_id, json } => {
            if json {
                let path = runs_dir.join(&run_id).join("log.jsonl");
                audit::load(&runs_dir, &run_id)?;
                return std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()));
            }
            Ok(audit::render(&audit::load(&runs_dir, &run_id)?))
        }
        RunsCommand::Replay { run_id } => {
            let original = audit::load(&runs_dir, &run_id)?;
            let Some(Record::Start { agent, mode, input, .. }) = original.first().cloned() else {
                anyhow::bail!("run {run_id} has no start record");
            };
            let mode = match mode.as_str() {
                "lead" => DirectorMode::Lead,
                "debate" => DirectorMode::Debate,
                _ => DirectorMode::Route,
            };
            let job = AgentJob { mode, ..AgentJob::new(agent.clone(), None) };
            let settings = base.with_job(JobSettings::AgentJob(job.clone()));
            let ctx = JobContext::new(&settings);
            let mut runtime = job.runtime(&ctx).await?;
            runtime.models = Arc::new(ReplayModels::new(&original));
            let result = runtime.run(&agent, input, mode, &Events::default(), Some(run_id.clone())).await?;
            let replay = audit::load(&runs_dir, &result.run_id)?;
            let diffs = compare(&original, &replay);
            let mut out = format!("replay {} of {run_id}: {}\n", result.run_id, result.status.describe());
            if diffs.is_empty() {
                out.push_str("identical: same tool calls, same tool outputs, same answer\n");
            } else {
                for d in diffs {
                    out.push_str(&format!("differs: {d}\n"));
                }
            }
            Ok(out)
        }
    }
}
