//! [`AgentJob`]: ask an agent of the library. The answer goes to stdout (numbers verified
//! against the run's tool results), the agent's progress (routing, tool calls, memory
//! summaries) to stderr, and the run's audit log to `$BULLPEN_HOME/runs/<run id>/`.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::AsyncBufReadExt;

use super::base::{Job, JobContext, JobError};
use super::chat::EXIT_COMMAND;
use crate::agents::prompts::{Prompts, default_dir};
use crate::agents::runtime::{AgentEvent, Events};
use crate::agents::tools::{Lexicon, RagAccess, ToolBox, ToolContext};
use crate::agents::{AgentLibrary, AgentRuntime, RegistryModels, RunResult};
use crate::io::osvariables;
use crate::llm::Message;
use crate::settings::AgentJob;

impl AgentJob {
    /// The library, tools and models of this job.
    pub async fn runtime(&self, ctx: &JobContext) -> Result<AgentRuntime, JobError> {
        let agents_dir = self.agents_dir.clone().unwrap_or_else(|| default_dir("agents"));
        let prompts = Prompts::new(self.prompts_dir.clone().unwrap_or_else(|| default_dir("prompts")));
        let tools = ToolBox::builtin();
        let library = AgentLibrary::load(&agents_dir, &prompts, &tools, &ctx.registry.names())?;
        library.get(&self.agent)?;
        let data = osvariables::data_dir(self.data.clone());
        let universe = crate::io::datasets::open_universe(&data)
            .map_err(|e| JobError::Data { path: data.clone(), reason: e.to_string() })?;
        let lexicon =
            Lexicon::find(self.lexicon.as_deref(), &ctx.home).map_err(|e| JobError::Setup(e.to_string()))?;
        // The model of the agent asked classifies sentiment when there is no lexicon.
        let model = match &lexicon {
            Some(_) => None,
            None => Some(ctx.chat_model(&library.get(&self.agent)?.spec.model).await?),
        };
        let runs_dir = ctx.home.join("runs");
        let tool_ctx = ToolContext {
            universe: Arc::new(universe),
            rag: Some(Arc::new(RagAccess::new(self.index.clone(), ctx.clone()))),
            // Replaced per run by the run's own directory.
            artifacts: runs_dir.clone(),
            lexicon,
            model,
            index_ticker: self.index_ticker.clone(),
            as_of: self.as_of,
            companies: Default::default(),
        };
        Ok(AgentRuntime {
            library: Arc::new(library),
            tools: Arc::new(tools),
            tool_ctx,
            models: Arc::new(RegistryModels(ctx.clone())),
            runs_dir,
            policy: self.unsupported_numbers,
        })
    }

    /// Runs one question, printing progress on stderr as it happens.
    pub async fn ask(&self, runtime: &AgentRuntime, input: Vec<Message>) -> Result<RunResult, JobError> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if let Some(line) = progress_line(&event) {
                    eprintln!("{line}");
                }
            }
        });
        let result = runtime.run(&self.agent, input, self.mode, &Events(Some(tx)), None).await;
        // The sender is gone with `run`'s events: the printer drains and ends.
        let _ = printer.await;
        Ok(result?)
    }
}

/// One stderr line per event worth showing to a person.
pub fn progress_line(event: &AgentEvent) -> Option<String> {
    match event {
        AgentEvent::RunStarted { run_id, agent } => Some(format!("· run {run_id} ({agent})")),
        AgentEvent::Routed { agents, method } => {
            Some(format!("· routed to {} ({method})", agents.join(", ")))
        }
        AgentEvent::ToolStarted { agent, name, arguments, .. } => {
            Some(format!("· [{agent}] {name} {arguments}"))
        }
        AgentEvent::ToolFinished { ok: false, summary, .. } => Some(format!("  ✗ {summary}")),
        AgentEvent::Summarised { agent, messages } => {
            Some(format!("· [{agent}] {messages} earlier messages summarised to fit the context window"))
        }
        _ => None,
    }
}

/// The answer and a footer for people.
pub fn render_result(r: &RunResult) -> String {
    let mut out = String::new();
    match &r.answer {
        Some(a) => {
            out.push_str(a.trim());
            out.push('\n');
        }
        None => out.push_str(&format!(
            "no answer: {}{}\n",
            r.status.describe(),
            r.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
        )),
    }
    if !r.data.is_empty() {
        out.push_str("\ndata (from the tools):\n");
        for d in &r.data {
            out.push_str(&format!("  {d}\n"));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let cites: Vec<String> =
        r.citations.iter().map(|c| c.label()).filter(|l| seen.insert(l.clone())).collect();
    if !cites.is_empty() {
        out.push_str("\nsources:\n");
        for (i, c) in cites.iter().enumerate().take(8) {
            out.push_str(&format!("  [{}] {c}\n", i + 1));
        }
    }
    for a in &r.artifacts {
        out.push_str(&format!("file: {}\n", a.display()));
    }
    let v = r.verification.as_ref();
    out.push_str(&format!(
        "\n— run {} · {} · {} turns · {} tool calls · numbers: {} checked, {} unsupported · {} ms\n",
        r.run_id,
        r.agents.join(" → "),
        r.turns,
        r.calls.len(),
        v.map_or(0, |v| v.checked),
        v.map_or(0, |v| v.unsupported.len()),
        r.latency_ms
    ));
    out
}

#[async_trait]
impl Job for AgentJob {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let runtime = self.runtime(ctx).await?;
        let mut out = std::io::stdout();
        let mut print = |r: &RunResult| -> Result<(), JobError> {
            let text = if self.json {
                serde_json::to_string(r).map_err(|e| JobError::Output(std::io::Error::other(e)))? + "\n"
            } else {
                render_result(r)
            };
            out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(JobError::Output)
        };
        if let Some(message) = &self.message {
            let result = self.ask(&runtime, vec![Message::user(message.clone())]).await?;
            return print(&result);
        }
        // A conversation: the history goes with every question; memory summarises it when long.
        let interactive = std::io::stdin().is_terminal();
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut history: Vec<Message> = Vec::new();
        loop {
            if interactive {
                eprint!("> ");
            }
            let Some(line) = lines.next_line().await.map_err(JobError::Input)? else { break };
            let line = line.trim();
            if line == EXIT_COMMAND {
                break;
            }
            if line.is_empty() {
                continue;
            }
            history.push(Message::user(line));
            let result = self.ask(&runtime, history.clone()).await?;
            print(&result)?;
            match &result.answer {
                Some(a) => history.push(Message::assistant(a.clone())),
                None => {
                    history.pop();
                }
            }
        }
        Ok(())
    }
}
