//! Analyst agents: a declarative library (`agents/*.toml` + versioned templates in
//! `prompts/`), typed tools, a tool-calling runtime with memory, events and an audit log, a
//! director (routing, leader workflow, debate), and a verifier that checks every number of an
//! answer against the run's tool results.
//!
//! - [`spec`]: agent files, loaded and checked at start.
//! - [`prompts`]: versioned minijinja templates.
//! - [`tools`]: one typed tool per file.
//! - [`runtime`]: the tool-calling loop, memory, events.
//! - [`director`]: route / lead / debate, and [`RunResult`].
//! - [`audit`]: the per-run JSONL log, `bullpen runs show`, replay.
//! - [`verify`]: numbers of answers against tool results.
//! - [`tickers`]: exchange suffixes and currencies.
//! - [`replay`]: a model that answers from a run's log.

pub mod audit;
pub mod director;
pub mod prompts;
pub mod replay;
pub mod runtime;
pub mod spec;
pub mod tickers;
pub mod tools;
pub mod verify;

use std::path::PathBuf;

pub use audit::RunStatus;
pub use director::{DirectorMode, RunResult};
pub use runtime::{AgentEvent, AgentRuntime, Events, ModelSource, RegistryModels};
pub use spec::{AgentLibrary, AgentSpec};
pub use verify::Policy;

/// Errors of the agent layer.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A bad agent file (or directory).
    #[error("agent file `{}`: {reason}", file.display())]
    Library { file: PathBuf, reason: String },
    #[error("prompt template `{}`: {reason}", path.display())]
    Template { path: PathBuf, reason: String },
    #[error("unknown agent `{name}`; known agents: {known}")]
    UnknownAgent { name: String, known: String },
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    #[error("the request is empty")]
    EmptyRequest,
    #[error("model: {0}")]
    Model(String),
    #[error("audit log `{}`: {reason}", path.display())]
    Audit { path: PathBuf, reason: String },
    #[error("no run `{run_id}` in {}", dir.display())]
    UnknownRun { run_id: String, dir: PathBuf },
    #[error("replay: {0}")]
    Replay(String),
}
