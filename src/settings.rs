//! The settings of one Bullpen run: the job to run (a tagged enum of job kinds,
//! `KIND = "…"`), the model profiles, extra catalog models and logging.
//!
//! Settings are read from TOML files, the environment and `-e` overrides by
//! [`crate::io::configs`]; every struct denies unknown fields, so a typo is an error.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::models::{DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL, ModelSpec};
use crate::io::configs::ConfigError;
use crate::llm::profiles::{ProfileSettings, builtin_profiles};
use crate::rag::{Filter, IndexSettings, SearchMode, SearchRequest};

/// Everything a run needs. Only [`crate::io::configs`] builds it from a
/// configuration (serde would lose the key paths of errors); it serializes for
/// `run --dry-run`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The job to run.
    pub job: JobSettings,
    /// Model profiles by name, the built-in ones (`local`, `minilm`) included. A
    /// configured profile with a built-in's name and the same `provider` (or none)
    /// changes only the keys it sets; with another `provider` it replaces the built-in.
    #[serde(default = "builtin_profiles")]
    pub profiles: BTreeMap<String, ProfileSettings>,
    /// Extra entries of the model catalog (the two default models are always there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelSpec>,
    #[serde(default)]
    pub logging: LoggingSettings,
}

impl Settings {
    /// Settings running `job` with the built-in profiles, no extra model and default logging.
    pub fn new(job: JobSettings) -> Self {
        BaseSettings::default().with_job(job)
    }
}

/// Settings without a job: what commands that build their own job (`chat`, `embed`)
/// read from `--config` files.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseSettings {
    pub profiles: BTreeMap<String, ProfileSettings>,
    pub models: Vec<ModelSpec>,
    pub logging: LoggingSettings,
}

impl Default for BaseSettings {
    fn default() -> Self {
        Self { profiles: builtin_profiles(), models: Vec::new(), logging: LoggingSettings::default() }
    }
}

impl BaseSettings {
    /// These settings running `job`.
    pub fn with_job(self, job: JobSettings) -> Settings {
        Settings { job, profiles: self.profiles, models: self.models, logging: self.logging }
    }
}

/// Logs of a run (on stderr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoggingSettings {
    /// A `tracing` filter: a level (`error`, `warn`, `info`, `debug`, `trace`) or
    /// directives such as `bullpen=debug,warn`.
    #[serde(default = "default_level")]
    pub level: String,
    /// One JSON object per line instead of human-readable lines.
    #[serde(default)]
    pub json: bool,
}

/// Information from Bullpen, warnings only from llama.cpp's loader (it logs every
/// model key at `info`).
fn default_level() -> String {
    "info,llama-cpp-2=warn".to_string()
}

impl Default for LoggingSettings {
    fn default() -> Self {
        Self { level: default_level(), json: false }
    }
}

/// The job kinds; the `KIND` key of the `[job]` table selects one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "KIND")]
pub enum JobSettings {
    /// One chat answer (or a conversation on stdin), streamed to stdout.
    ChatJob(ChatJob),
    /// Batch inference over a JSONL file of prompts.
    InferenceJob(InferenceJob),
    /// Install models of the catalog into `BULLPEN_HOME`.
    PullModelsJob(PullModelsJob),
    /// Ingest documents into the RAG index.
    IngestJob(IngestJob),
    /// Search the RAG index.
    SearchJob(SearchJob),
    /// Ask an analyst agent (or the director) a question.
    AgentJob(AgentJob),
    /// Serve the OpenAI-compatible HTTP API, sessions and the web chat page.
    ServeJob(ServeJob),
    /// Equity research reports for many tickers (Markdown, HTML, PDF).
    ReportsJob(ReportsJob),
    /// Evaluate prompt, model, parameter and agent variants on a task.
    EvaluationJob(EvaluationJob),
}

/// The name of the tag key of [`JobSettings`].
pub const KIND_KEY: &str = "KIND";

/// Every job kind, in declaration order.
pub const JOB_KINDS: &[&str] = &[
    "ChatJob",
    "InferenceJob",
    "PullModelsJob",
    "IngestJob",
    "SearchJob",
    "AgentJob",
    "ServeJob",
    "ReportsJob",
    "EvaluationJob",
];

impl JobSettings {
    /// The `KIND` of this job.
    pub fn kind(&self) -> &'static str {
        match self {
            JobSettings::ChatJob(_) => "ChatJob",
            JobSettings::InferenceJob(_) => "InferenceJob",
            JobSettings::PullModelsJob(_) => "PullModelsJob",
            JobSettings::IngestJob(_) => "IngestJob",
            JobSettings::SearchJob(_) => "SearchJob",
            JobSettings::AgentJob(_) => "AgentJob",
            JobSettings::ServeJob(_) => "ServeJob",
            JobSettings::ReportsJob(_) => "ReportsJob",
            JobSettings::EvaluationJob(_) => "EvaluationJob",
        }
    }

    /// The chat profile the job uses, if any.
    pub fn profile(&self) -> Option<&str> {
        match self {
            JobSettings::ChatJob(job) => Some(&job.profile),
            JobSettings::InferenceJob(job) => Some(&job.profile),
            JobSettings::PullModelsJob(_) => None,
            JobSettings::ServeJob(job) => Some(&job.default_profile),
            JobSettings::ReportsJob(job) => job.profile.as_deref(),
            JobSettings::IngestJob(_)
            | JobSettings::SearchJob(_)
            | JobSettings::AgentJob(_)
            | JobSettings::EvaluationJob(_) => None,
        }
    }

    /// The embedding profile the job uses, if any.
    pub fn embedding_profile(&self) -> Option<&str> {
        match self {
            JobSettings::IngestJob(job) => Some(&job.index.embedder),
            JobSettings::SearchJob(job) => Some(&job.index.embedder),
            _ => None,
        }
    }
}

fn default_profile() -> String {
    "local".to_string()
}

fn yes() -> bool {
    true
}

/// One chat answer streamed to stdout; without `message`, a multi-turn conversation
/// read from stdin (`/exit` or end of input ends it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatJob {
    /// The model profile answering.
    #[serde(default = "default_profile")]
    pub profile: String,
    /// The user's message; absent: read a conversation from stdin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Path to a JSON Schema file: the answer is JSON satisfying it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<PathBuf>,
    /// Print the answer token by token as it is generated. Not with `schema`: the
    /// answer is checked whole, then its JSON printed.
    #[serde(default = "yes")]
    pub stream: bool,
    /// Overrides the profile's `max_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Overrides the profile's temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

impl ChatJob {
    /// A chat job for `message` on the default profile.
    pub fn new(message: Option<String>) -> Self {
        Self {
            profile: default_profile(),
            message,
            system: None,
            schema: None,
            stream: true,
            max_tokens: None,
            temperature: None,
        }
    }
}

/// Batch inference: one answer per line of a JSONL file of prompts
/// (`{"id": …, "prompt": "…"}` or `{"id": …, "messages": [{"role": …, "content": …}]}`),
/// written as JSONL in input order. The output is written atomically, and only when
/// every prompt was answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InferenceJob {
    #[serde(default = "default_profile")]
    pub profile: String,
    /// The JSONL file of prompts.
    pub input: PathBuf,
    /// The JSONL file of answers (replaced if it exists).
    pub output: PathBuf,
    /// Path to a JSON Schema file: every answer is JSON satisfying it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<PathBuf>,
    /// A system prompt prepended to every `prompt` line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Overrides the profile's `max_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Overrides the profile's temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

fn default_concurrency() -> usize {
    8
}

/// Install models of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PullModelsJob {
    /// Catalog names; default: the default chat and embedding models.
    #[serde(default = "default_models")]
    pub models: Vec<String>,
    /// Download again even when installed.
    #[serde(default)]
    pub force: bool,
}

fn default_models() -> Vec<String> {
    vec![DEFAULT_CHAT_MODEL.to_string(), DEFAULT_EMBEDDING_MODEL.to_string()]
}

impl Default for PullModelsJob {
    fn default() -> Self {
        Self { models: default_models(), force: false }
    }
}

/// Ingest documents into the RAG index: sources of the data universe and/or files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestJob {
    #[serde(default)]
    pub index: IndexSettings,
    /// The data universe (default: `BULLPEN_DATA`, else the repository's demo universe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Universe sources: `filings`, `transcripts`, `news`, `ratios`. Default: all of them
    /// when no `paths` are given, none otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Files or directories of `.txt`, `.md` or `.html` (optionally gzipped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathBuf>,
    /// Delete the stored documents of these sources that are no longer there.
    #[serde(default)]
    pub prune: bool,
    /// Chunks per embedding call.
    #[serde(default = "default_ingest_batch")]
    pub batch_size: usize,
    /// Only data known on this date (filings filed, news published, prices) is ingested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Files given by path larger than this (MiB) are skipped with a reason.
    #[serde(default = "default_max_file_mb")]
    pub max_file_mb: u64,
    /// Print the summary as JSON.
    #[serde(default)]
    pub json: bool,
}

fn default_ingest_batch() -> usize {
    64
}

fn default_max_file_mb() -> u64 {
    32
}

impl Default for IngestJob {
    fn default() -> Self {
        Self {
            index: IndexSettings::default(),
            data: None,
            sources: Vec::new(),
            paths: Vec::new(),
            prune: false,
            batch_size: default_ingest_batch(),
            as_of: None,
            max_file_mb: default_max_file_mb(),
            json: false,
        }
    }
}

/// Ask an agent of the library: the answer on stdout (numbers verified against the run's
/// tool results), progress on stderr, the audit log in `$BULLPEN_HOME/runs/<run id>/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentJob {
    /// The agent (`director` routes to the others).
    #[serde(default = "default_agent")]
    pub agent: String,
    /// The question; absent: a conversation read from stdin (`/exit` ends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How a director works: route, lead or debate.
    #[serde(default)]
    pub mode: crate::agents::DirectorMode,
    /// The agent library (default: `./agents`, else the repository's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents_dir: Option<PathBuf>,
    /// The prompt templates (default: `./prompts`, else the repository's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts_dir: Option<PathBuf>,
    /// The data universe (default: `BULLPEN_DATA`, else the repository's demo universe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// The RAG index searched by `search_documents`.
    #[serde(default)]
    pub index: IndexSettings,
    /// The Loughran–McDonald master dictionary (CSV, optionally gzipped); default:
    /// `$BULLPEN_HOME/lexicons/LoughranMcDonald_MasterDictionary.csv[.gz]` when present, else
    /// the model classifies sentiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexicon: Option<PathBuf>,
    /// What happens to numbers of an answer no tool result supports: mark, remove or keep.
    #[serde(default)]
    pub unsupported_numbers: crate::agents::Policy,
    /// Index for beta and benchmark comparisons.
    #[serde(default = "default_index_ticker")]
    pub index_ticker: String,
    /// Only data known on this date is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Print the run's result as JSON instead of the answer.
    #[serde(default)]
    pub json: bool,
}

fn default_agent() -> String {
    "director".into()
}

fn default_index_ticker() -> String {
    "^GSPC".into()
}

impl AgentJob {
    /// A job asking `agent` the `message`, other settings default.
    pub fn new(agent: impl Into<String>, message: Option<String>) -> Self {
        Self {
            agent: agent.into(),
            message,
            mode: Default::default(),
            agents_dir: None,
            prompts_dir: None,
            data: None,
            index: IndexSettings::default(),
            lexicon: None,
            unsupported_numbers: Default::default(),
            index_ticker: default_index_ticker(),
            as_of: None,
            json: false,
        }
    }
}

/// Equity research reports in batch: for each ticker, as of a date, a multi-section report
/// (key data, tables and charts computed from the data, valuation in code, prose by the
/// report writer agent with every number checked) in Markdown, HTML and PDF under
/// `out/<TICKER>/`, plus `out/manifest.json`. Finished reports are skipped on rerun.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportsJob {
    /// Tickers to report on.
    pub tickers: Vec<String>,
    /// The data universe (default: `BULLPEN_DATA`, else the repository's demo universe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Only data public on this date is used (default: today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Output directory.
    #[serde(default = "default_reports_out")]
    pub out: PathBuf,
    /// Output formats.
    #[serde(default = "default_report_formats")]
    pub formats: Vec<crate::reports::ReportFormat>,
    /// Tickers in progress at once (they share one loaded model).
    #[serde(default = "default_report_concurrency")]
    pub concurrency: usize,
    /// Have the report writer agent write the prose (off: tables, charts and notes only).
    #[serde(default = "yes")]
    pub prose: bool,
    /// The model profile of the writer (default: the report writer agent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Most tokens of one section's prose.
    #[serde(default = "default_section_tokens")]
    pub max_tokens: u32,
    /// The agent library (default: `./agents`, else the repository's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents_dir: Option<PathBuf>,
    /// The prompt templates (default: `./prompts`, else the repository's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts_dir: Option<PathBuf>,
    /// The section prompt version (`prompts/report_section/<version>.md`).
    #[serde(default = "default_section_prompt")]
    pub section_prompt: String,
    /// What happens to numbers of the prose that the data does not support.
    #[serde(default)]
    pub unsupported_numbers: crate::agents::Policy,
    /// Index for beta and the price chart.
    #[serde(default = "default_index_ticker")]
    pub index_ticker: String,
    /// Peers compared at most.
    #[serde(default = "default_max_peers")]
    pub max_peers: usize,
    /// DCF, multiples and rating settings.
    #[serde(default)]
    pub valuation: crate::reports::analysis::ValuationSettings,
    /// Regenerate reports that are already complete.
    #[serde(default)]
    pub force: bool,
}

fn default_reports_out() -> PathBuf {
    PathBuf::from("reports")
}

fn default_report_formats() -> Vec<crate::reports::ReportFormat> {
    crate::reports::ReportFormat::ALL.to_vec()
}

fn default_report_concurrency() -> usize {
    2
}

fn default_section_tokens() -> u32 {
    200
}

fn default_section_prompt() -> String {
    "v1".into()
}

fn default_max_peers() -> usize {
    6
}

impl ReportsJob {
    /// Reports on `tickers` with every other setting at its default.
    pub fn new(tickers: Vec<String>) -> Self {
        Self {
            tickers,
            data: None,
            as_of: None,
            out: default_reports_out(),
            formats: default_report_formats(),
            concurrency: default_report_concurrency(),
            prose: true,
            profile: None,
            max_tokens: default_section_tokens(),
            agents_dir: None,
            prompts_dir: None,
            section_prompt: default_section_prompt(),
            unsupported_numbers: Default::default(),
            index_ticker: default_index_ticker(),
            max_peers: default_max_peers(),
            valuation: Default::default(),
            force: false,
        }
    }
}

/// An evaluation: a task (dataset, prompt template, parser, metrics) and its variants, run on the
/// same items in the same order; results under `out/<name>/<run id>/`, tracked under
/// `BULLPEN_HOME/tracking`. Run with `bullpen eval confs/evals/NAME.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationJob {
    /// The task's name (results under `out/<name>/`, tracked as experiment `evals/<name>`).
    pub name: String,
    pub task: Box<crate::evals::TaskSpec>,
    /// Explicit variants (each may set a name, prompt version, profile, parameters, parser, agent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<crate::evals::VariantSpec>,
    /// A cross product of variant parameters, added after the explicit variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<crate::evals::MatrixSpec>,
    /// The variant the others are compared with (default, or when `only` leaves it out: the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Run only these variants (names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// Only the first N items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// A random sample of N items (drawn with `seed`, kept in file order), the same for every
    /// variant; applied before `limit`. For datasets stored sorted by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<usize>,
    /// Requests in flight at once (the local engine batches them; 1 = one at a time).
    #[serde(default = "default_eval_concurrency")]
    pub concurrency: usize,
    /// Seed of few-shot draws, sampling and bootstrap resamples.
    #[serde(default = "default_eval_seed")]
    pub seed: u64,
    /// Bootstrap resamples for intervals and paired comparisons.
    #[serde(default = "default_bootstrap")]
    pub bootstrap: usize,
    /// Results directory.
    #[serde(default = "default_eval_out")]
    pub out: PathBuf,
    /// Reuse answers to identical requests (content-addressed, under `BULLPEN_HOME/cache/evals`).
    #[serde(default = "yes")]
    pub cache: bool,
    /// Prices per million tokens, by profile (cost column; absent = 0, as for local models).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub prices: std::collections::BTreeMap<String, Price>,
    /// The prompt templates (default: `./prompts`, else the repository's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts_dir: Option<PathBuf>,
    /// The agent library, for agent variants (default: `./agents`, else the repository's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents_dir: Option<PathBuf>,
    /// The data universe agents read (default: `BULLPEN_DATA`, else the demo universe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Agents work as of this date (default: today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Progress bars on a terminal and the summary table on stdout.
    #[serde(default = "yes")]
    pub print: bool,
}

/// A profile's price per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

fn default_eval_concurrency() -> usize {
    8
}

fn default_eval_seed() -> u64 {
    42
}

fn default_bootstrap() -> usize {
    1000
}

fn default_eval_out() -> PathBuf {
    PathBuf::from("evals")
}

/// The HTTP server: OpenAI-compatible chat completions over agents (`agent:NAME`) and model
/// profiles, embeddings, sessions in SQLite, metrics, OpenAPI and a web chat page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServeJob {
    /// Address to listen on.
    #[serde(default = "default_addr")]
    pub addr: String,
    /// Accepted API keys (also `BULLPEN_API_KEYS`, comma-separated). Never printed.
    #[serde(default, skip_serializing)]
    pub api_keys: Vec<String>,
    /// Serve without keys. Refused unless `addr` is a loopback address.
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// Requests per minute per key.
    #[serde(default = "default_rpm")]
    pub requests_per_minute: u32,
    /// Largest request body in KiB.
    #[serde(default = "default_body_kib")]
    pub max_body_kib: usize,
    /// Longest a request may take, in seconds (a stream's whole generation included).
    #[serde(default = "default_timeout_s")]
    pub request_timeout_s: u64,
    /// Chat generations at once (match the local profile's `slots`).
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
    /// Chat requests waiting for a slot before new ones get 429.
    #[serde(default = "default_max_queue")]
    pub max_queue: usize,
    /// Origins allowed by CORS; empty: CORS off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    /// The model profile loaded at start (`/readyz` waits for it).
    #[serde(default = "default_profile")]
    pub default_profile: String,
    /// The sessions database (default: `$BULLPEN_HOME/sessions.sqlite`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_db: Option<PathBuf>,
    /// The agent library (default: `./agents`, else the repository's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents_dir: Option<PathBuf>,
    /// The prompt templates (default: `./prompts`, else the repository's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts_dir: Option<PathBuf>,
    /// The data universe of the agents' tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// The RAG index of `search_documents`.
    #[serde(default)]
    pub index: IndexSettings,
    /// The Loughran–McDonald dictionary (see `AgentJob`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexicon: Option<PathBuf>,
    /// Numbers of agent answers no tool result supports: mark, remove or keep.
    #[serde(default)]
    pub unsupported_numbers: crate::agents::Policy,
    /// Index for beta and benchmark comparisons.
    #[serde(default = "default_index_ticker")]
    pub index_ticker: String,
}

fn default_addr() -> String {
    "127.0.0.1:8080".into()
}
fn default_rpm() -> u32 {
    120
}
fn default_body_kib() -> usize {
    1024
}
fn default_timeout_s() -> u64 {
    300
}
fn default_max_concurrent() -> usize {
    8
}
fn default_max_queue() -> usize {
    64
}

impl Default for ServeJob {
    fn default() -> Self {
        Self {
            addr: default_addr(),
            api_keys: Vec::new(),
            allow_unauthenticated: false,
            requests_per_minute: default_rpm(),
            max_body_kib: default_body_kib(),
            request_timeout_s: default_timeout_s(),
            max_concurrent: default_max_concurrent(),
            max_queue: default_max_queue(),
            cors_origins: Vec::new(),
            default_profile: default_profile(),
            sessions_db: None,
            agents_dir: None,
            prompts_dir: None,
            data: None,
            index: IndexSettings::default(),
            lexicon: None,
            unsupported_numbers: Default::default(),
            index_ticker: default_index_ticker(),
        }
    }
}

impl ServeJob {
    /// The agent settings of the server, as an [`AgentJob`] without a question.
    pub fn agent_job(&self) -> AgentJob {
        AgentJob {
            agents_dir: self.agents_dir.clone(),
            prompts_dir: self.prompts_dir.clone(),
            data: self.data.clone(),
            index: self.index.clone(),
            lexicon: self.lexicon.clone(),
            unsupported_numbers: self.unsupported_numbers,
            index_ticker: self.index_ticker.clone(),
            ..AgentJob::new("director", None)
        }
    }
}

/// Search the RAG index; hits with citations on stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchJob {
    #[serde(default)]
    pub index: IndexSettings,
    /// The question or keywords.
    pub query: String,
    #[serde(default)]
    pub filter: Filter,
    /// Hits wanted.
    #[serde(default = "default_k")]
    pub k: usize,
    #[serde(default)]
    pub mode: SearchMode,
    /// Print the hits as JSON.
    #[serde(default)]
    pub json: bool,
}

fn default_k() -> usize {
    5
}

impl SearchJob {
    /// A search for `query` with the defaults.
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            index: IndexSettings::default(),
            query: query.into(),
            filter: Filter::default(),
            k: default_k(),
            mode: SearchMode::Hybrid,
            json: false,
        }
    }

    /// The request this job makes.
    pub fn request(&self) -> SearchRequest {
        SearchRequest { query: self.query.clone(), filter: self.filter.clone(), k: self.k, mode: self.mode }
    }
}

/// The JSON Schema of [`Settings`], or with `kind` the schema of one job's `[job]`
/// table (its `KIND` included). An unknown kind is an error listing the kinds.
pub fn schema(kind: Option<&str>) -> Result<Value, ConfigError> {
    let Some(kind) = kind else {
        return Ok(schemars::schema_for!(Settings).to_value());
    };
    let mut schema = match kind {
        "ChatJob" => schemars::schema_for!(ChatJob),
        "InferenceJob" => schemars::schema_for!(InferenceJob),
        "PullModelsJob" => schemars::schema_for!(PullModelsJob),
        "IngestJob" => schemars::schema_for!(IngestJob),
        "SearchJob" => schemars::schema_for!(SearchJob),
        "AgentJob" => schemars::schema_for!(AgentJob),
        "ServeJob" => schemars::schema_for!(ServeJob),
        "ReportsJob" => schemars::schema_for!(ReportsJob),
        "EvaluationJob" => schemars::schema_for!(EvaluationJob),
        other => {
            return Err(ConfigError::UnknownKind {
                kind: other.to_string(),
                origin: None,
                expected: crate::io::configs::expected_kinds(),
            });
        }
    };
    // The job table carries its tag: declare it, so the schema validates a real table.
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        properties.shift_insert(
            0,
            KIND_KEY.to_string(),
            serde_json::json!({ "description": "The job kind.", "const": kind, "type": "string" }),
        );
    }
    match schema.get_mut("required").and_then(Value::as_array_mut) {
        Some(required) => required.insert(0, Value::from(KIND_KEY)),
        None => {
            schema.insert("required".to_string(), serde_json::json!([KIND_KEY]));
        }
    }
    Ok(schema.to_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_of_one_kind_declares_its_tag_and_unknown_kind_lists_kinds() {
        let chat = schema(Some("ChatJob")).expect("known kind");
        assert_eq!(chat["properties"]["KIND"]["const"], "ChatJob");
        assert_eq!(chat["required"][0], "KIND");
        let whole = schema(None).expect("whole schema").to_string();
        for kind in JOB_KINDS {
            assert!(whole.contains(kind), "{kind} missing");
        }
        let err = schema(Some("Nope")).expect_err("unknown kind").to_string();
        assert!(err.contains("Nope") && err.contains("InferenceJob"), "{err}");
    }
}
