//! The audit log of a run: one JSON record per line in `$BULLPEN_HOME/runs/<run id>/log.jsonl`
//! (every model call and tool call with inputs, outputs, model, template and version,
//! latency and tokens), written as the run goes, so a crashed run still leaves its trail.
//! Charts and other files of the run sit beside it.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AgentError;
use super::tools::ToolOutput;
use super::verify::Verification;
use crate::llm::{ChatResponse, Message, ToolChoice, Usage};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The agent answered.
    Completed,
    /// The turn limit was reached before an answer.
    MaxTurns,
    /// The token budget was spent before an answer.
    TokenBudget,
    /// A model call failed (the failure is reported, never replaced by filler text).
    ModelError,
}

impl RunStatus {
    pub fn describe(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::MaxTurns => "stopped: the maximum number of turns was reached without an answer",
            RunStatus::TokenBudget => "stopped: the token budget was spent without an answer",
            RunStatus::ModelError => "failed: a model call failed",
        }
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    Start {
        run_id: String,
        agent: String,
        mode: String,
        input: Vec<Message>,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replay_of: Option<String>,
    },
    Route {
        director: String,
        agents: Vec<String>,
        method: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tasks: Vec<(String, String)>,
    },
    Model {
        agent: String,
        turn: u32,
        purpose: String,
        template: String,
        template_version: String,
        profile: String,
        messages: Vec<Message>,
        tools: Vec<String>,
        tool_choice: ToolChoice,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response: Option<ChatResponse>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        latency_ms: u64,
    },
    Tool {
        agent: String,
        turn: u32,
        call_id: String,
        name: String,
        arguments: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<ToolOutput>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The arguments satisfied the tool's schema.
        valid: bool,
        latency_ms: u64,
    },
    Summary {
        agent: String,
        replaced_messages: usize,
        summary: String,
    },
    AgentEnd {
        agent: String,
        status: RunStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verification: Option<Verification>,
        usage: Usage,
        turns: u32,
    },
    Finish {
        status: RunStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer: Option<String>,
        unsupported_numbers: usize,
        usage: Usage,
        latency_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// Appends the records of one run.
pub struct Recorder {
    pub run_id: String,
    pub dir: PathBuf,
    file: Mutex<std::io::BufWriter<std::fs::File>>,
}

/// A new run id: UTC time and a random suffix (`20261129-013012-3f9a1c`).
pub fn new_run_id() -> String {
    let suffix: u32 = rand::random::<u32>() & 0x00ff_ffff;
    format!("{}-{suffix:06x}", Utc::now().format("%Y%m%d-%H%M%S"))
}

impl Recorder {
    /// Creates `<runs>/<run_id>/log.jsonl`.
    pub fn create(runs: &Path, run_id: String) -> Result<Self, AgentError> {
        let dir = runs.join(&run_id);
        let io = |e: std::io::Error| AgentError::Audit { path: dir.clone(), reason: e.to_string() };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(dir.join("log.jsonl"))
            .map_err(io)?;
        Ok(Self { run_id, dir, file: Mutex::new(std::io::BufWriter::new(file)) })
    }

    /// Appends a record and flushes it.
    pub fn record(&self, record: &Record) -> Result<(), AgentError> {
        let path = self.dir.join("log.jsonl");
        let line = serde_json::to_string(record)
            .map_err(|e| AgentError::Audit { path: path.clone(), reason: e.to_string() })?;
        let mut file = self
            .file
            .lock()
            .map_err(|_| AgentError::Audit { path: path.clone(), reason: "log lock poisoned".into() })?;
        writeln!(file, "{line}")
            .and_then(|()| file.flush())
            .map_err(|e| AgentError::Audit { path, reason: e.to_string() })
    }
}

/// Reads the log of `run_id` under `runs`.
pub fn load(runs: &Path, run_id: &str) -> Result<Vec<Record>, AgentError> {
    if run_id.is_empty() || run_id.contains(['/', '\\']) || run_id.starts_with('.') {
        return Err(AgentError::UnknownRun { run_id: run_id.to_string(), dir: runs.to_path_buf() });
    }
    let path = runs.join(run_id).join("log.jsonl");
    let file = std::fs::File::open(&path)
        .map_err(|_| AgentError::UnknownRun { run_id: run_id.to_string(), dir: runs.to_path_buf() })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| AgentError::Audit { path: path.clone(), reason: e.to_string() })?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line)
            .map_err(|e| AgentError::Audit { path: path.clone(), reason: format!("line {}: {e}", i + 1) })?;
        out.push(record);
    }
    Ok(out)
}

/// Runs under `runs`, newest first: (run id, agent, status, answer start).
pub fn list(runs: &Path) -> Result<Vec<(String, String, String)>, AgentError> {
    let Ok(entries) = std::fs::read_dir(runs) else { return Ok(Vec::new()) };
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("log.jsonl").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids.reverse();
    let mut out = Vec::new();
    for id in ids {
        let records = load(runs, &id).unwrap_or_default();
        let agent = records.iter().find_map(|r| match r {
            Record::Start { agent, .. } => Some(agent.clone()),
            _ => None,
        });
        let status = records.iter().rev().find_map(|r| match r {
            Record::Finish { status, .. } => Some(format!("{status:?}").to_lowercase()),
            _ => None,
        });
        out.push((id, agent.unwrap_or_else(|| "?".into()), status.unwrap_or_else(|| "unfinished".into())));
    }
    Ok(out)
}

fn shorten(s: &str, n: usize) -> String {
    super::tools::truncate(&s.replace('\n', " "), n)
}

/// The log for people: one block per record.
pub fn render(records: &[Record]) -> String {
    let mut out = String::new();
    for r in records {
        match r {
            Record::Start { run_id, agent, mode, input, at, replay_of } => {
                out.push_str(&format!("run {run_id} — agent {agent} ({mode}) at {at}\n"));
                if let Some(of) = replay_of {
                    out.push_str(&format!("  replay of {of}\n"));
                }
                if let Some(m) = input.last() {
                    out.push_str(&format!("  input: {}\n", shorten(&m.content, 300)));
                }
            }
            Record::Route { director, agents, method, tasks } => {
                out.push_str(&format!("route [{director}] → {} (by {method})\n", agents.join(", ")));
                for (a, t) in tasks {
                    out.push_str(&format!("  task for {a}: {}\n", shorten(t, 200)));
                }
            }
            Record::Model {
                agent,
                turn,
                purpose,
                template,
                template_version,
                profile,
                response,
                error,
                latency_ms,
                tools,
                ..
            } => {
                out.push_str(&format!(
                    "model [{agent}] turn {turn} {purpose}: profile {profile}, prompt {template}@{template_version}, {} tools, {latency_ms} ms",
                    tools.len()
                ));
                match (response, error) {
                    (Some(r), _) => {
                        out.push_str(&format!(
                            ", {} model, {}+{} tokens\n",
                            r.model, r.usage.prompt_tokens, r.usage.completion_tokens
                        ));
                        for c in &r.tool_calls {
                            out.push_str(&format!(
                                "  → {}({})\n",
                                c.name,
                                shorten(&c.arguments.to_string(), 200)
                            ));
                        }
                        if r.tool_calls.is_empty() {
                            out.push_str(&format!("  answer: {}\n", shorten(&r.text, 400)));
                        }
                    }
                    (None, Some(e)) => out.push_str(&format!("\n  error: {e}\n")),
                    (None, None) => out.push('\n'),
                }
            }
            Record::Tool { agent, name, arguments, output, error, valid, latency_ms, .. } => {
                out.push_str(&format!(
                    "tool [{agent}] {name}({}) {latency_ms} ms{}\n",
                    shorten(&arguments.to_string(), 200),
                    if *valid { "" } else { " — invalid arguments" }
                ));
                match (output, error) {
                    (Some(o), _) => {
                        out.push_str(&format!("  ← {}\n", shorten(&o.content.to_string(), 300)));
                        for c in &o.citations {
                            out.push_str(&format!("  cite: {}\n", c.label()));
                        }
                        for a in &o.artifacts {
                            out.push_str(&format!("  file: {}\n", a.display()));
                        }
                    }
                    (None, Some(e)) => out.push_str(&format!("  error: {e}\n")),
                    _ => {}
                }
            }
            Record::Summary { agent, replaced_messages, summary } => {
                out.push_str(&format!(
                    "memory [{agent}] {replaced_messages} messages summarised: {}\n",
                    shorten(summary, 300)
                ));
            }
            Record::AgentEnd { agent, status, verification, usage, turns, .. } => {
                out.push_str(&format!(
                    "end [{agent}] {} after {turns} turns, {}+{} tokens",
                    status.describe(),
                    usage.prompt_tokens,
                    usage.completion_tokens
                ));
                if let Some(v) = verification {
                    out.push_str(&format!(
                        ", numbers {} checked / {} unsupported",
                        v.checked,
                        v.unsupported.len()
                    ));
                }
                out.push('\n');
            }
            Record::Finish { status, answer, unsupported_numbers, usage, latency_ms, error } => {
                out.push_str(&format!(
                    "finish: {} in {latency_ms} ms, {}+{} tokens, {unsupported_numbers} unsupported numbers\n",
                    status.describe(),
                    usage.prompt_tokens,
                    usage.completion_tokens
                ));
                if let Some(e) = error {
                    out.push_str(&format!("  error: {e}\n"));
                }
                if let Some(a) = answer {
                    out.push_str(&format!("answer:\n{a}\n"));
                }
            }
        }
    }
    out
}
