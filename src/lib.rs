//! Bullpen: LLM analyst agents for financial research.
//!
//! Package map (see ARCHITECTURE.md): [`core`] (schemas, model descriptors),
//! [`io`] (configs, environment, services), [`llm`] (the pluggable LLM layer),
//! [`jobs`] (one module per job kind), [`settings`] (the tagged enum of jobs),
//! [`utils`] (signers, …) and [`scripts`] (the CLI).

pub mod agents;
pub mod analytics;
pub mod core;
pub mod evals;
pub mod io;
pub mod jobs;
pub mod llm;
pub mod rag;
pub mod reports;
pub mod scripts;
#[cfg(feature = "server")]
pub mod server;
pub mod settings;
pub mod utils;
