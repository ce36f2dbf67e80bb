//! The `bullpen` command line.
//!
//! Exit status: 0 on success, 2 for a bad configuration or usage, 1 for any other
//! failure. Errors are printed as one `error: …` line with their causes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

pub mod agents;
pub mod data;
pub mod rag;

use crate::io::configs::{self, ConfigError, ConfigSources};
use crate::io::osvariables;
use crate::io::services::{default_services, run_with_services};
use crate::jobs::{self, JobContext, JobError};
use crate::llm::store::ModelStore;
use crate::settings::{self, AgentJob, BaseSettings, ChatJob, JobSettings, PullModelsJob};

/// LLM analyst agents for financial research.
#[derive(Debug, Parser)]
#[command(name = "bullpen", version, about, propagate_version = true)]
pub struct Cli {
    /// A settings file for `chat`, `embed` and `models` (profiles, models, logging);
    /// repeatable, later files win. For `run`, read before its own files.
    #[arg(long = "config", short = 'c', global = true, value_name = "FILE")]
    pub config: Vec<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the job of layered settings files (later files win), then `BULLPEN_A__B`
    /// environment variables, then `-e` overrides.
    Run {
        /// Settings files (TOML) with a `[job]` table.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Override a setting: `-e job.temperature=0.2` (a TOML value, else a string).
        #[arg(short = 'e', long = "set", value_name = "KEY.PATH=VALUE")]
        overrides: Vec<String>,
        /// Print the resolved settings and exit without running the job.
        #[arg(long)]
        dry_run: bool,
        /// Format of `--dry-run`.
        #[arg(long, value_enum, default_value_t = Format::Toml)]
        format: Format,
    },
    /// Print the JSON Schema of the settings, or of one job kind.
    Schema {
        /// A job kind, e.g. `ChatJob`.
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
    },
    /// Chat with a model: one streamed answer, or a conversation on stdin without MESSAGE.
    Chat {
        /// The model profile.
        #[arg(long, short = 'm', value_name = "PROFILE", default_value = "local")]
        model: String,
        /// A JSON Schema file: the answer is JSON satisfying it, printed once complete
        /// (never streamed).
        #[arg(long, value_name = "FILE.json")]
        schema: Option<PathBuf>,
        /// A system prompt.
        #[arg(long, value_name = "TEXT")]
        system: Option<String>,
        /// Most tokens in the answer (default: the profile's).
        #[arg(long)]
        max_tokens: Option<u32>,
        /// Sampling temperature (default: the profile's).
        #[arg(long)]
        temperature: Option<f32>,
        /// Print the answer once complete instead of token by token.
        #[arg(long)]
        no_stream: bool,
        /// Ask an agent of the library instead of a bare model (`director` routes to the others).
        #[arg(long, short = 'a', value_name = "NAME", conflicts_with_all = ["schema", "system"])]
        agent: Option<String>,
        /// How the director works: route, lead (sub-tasks for several analysts) or debate.
        #[arg(long, value_enum, default_value_t = crate::agents::DirectorMode::Route, requires = "agent")]
        mode: crate::agents::DirectorMode,
        /// The data universe for an agent's tools (default: `BULLPEN_DATA`, else the demo universe).
        #[arg(long, value_name = "DIR", requires = "agent")]
        data: Option<PathBuf>,
        /// An agent uses only data known on this date.
        #[arg(long, value_name = "YYYY-MM-DD", requires = "agent")]
        as_of: Option<chrono::NaiveDate>,
        /// Print an agent's run result as JSON.
        #[arg(long, requires = "agent")]
        json: bool,
        /// The message; without it, read a conversation from stdin (`/exit` ends it).
        message: Option<String>,
    },
    /// Equity research reports for many tickers (Markdown, HTML, PDF), resumable.
    Report {
        /// Tickers, comma-separated (`AAPL,MSFT`).
        #[arg(long, value_delimiter = ',', required = true)]
        tickers: Vec<String>,
        /// The data universe: its directory or its `universe.toml` (default: `BULLPEN_DATA`,
        /// else the demo universe).
        #[arg(long, value_name = "DIR|FILE")]
        universe: Option<PathBuf>,
        /// Only data public on this date is used (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<chrono::NaiveDate>,
        /// Output directory.
        #[arg(long, value_name = "DIR", default_value = "reports")]
        out: PathBuf,
        /// Formats, comma-separated.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "md,html,pdf")]
        format: Vec<crate::reports::ReportFormat>,
        /// Tickers in progress at once.
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// Tables, charts and notes only: no model calls.
        #[arg(long)]
        no_prose: bool,
        /// Regenerate reports that are already complete.
        #[arg(long)]
        force: bool,
    },
    /// Evaluate prompt, model, parameter and agent variants on a task (`confs/evals/NAME.toml`).
    Eval {
        /// The evaluation's settings file (an `EvaluationJob`).
        file: PathBuf,
        /// Run only these variants (names, comma-separated).
        #[arg(long, value_delimiter = ',')]
        variants: Vec<String>,
        /// Only the first N items.
        #[arg(long)]
        limit: Option<usize>,
        /// A random sample of N items (seeded, the same for every variant).
        #[arg(long)]
        sample: Option<usize>,
        /// Requests in flight at once (1 = one at a time).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Ask the model again even when an identical request has a cached answer.
        #[arg(long)]
        no_cache: bool,
        /// Override a setting: `-e job.seed=7`.
        #[arg(short = 'e', long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// The agent library.
    Agents {
        #[command(subcommand)]
        command: agents::AgentsCommand,
    },
    /// Agent runs: list, show the audit log of one, replay one.
    Runs {
        #[command(subcommand)]
        command: agents::RunsCommand,
    },
    /// Serve the OpenAI-compatible HTTP API over the agents and model profiles, with
    /// sessions, metrics and a web chat page at `/`.
    Serve {
        /// Address to listen on (default: `job.addr` of the config, else 127.0.0.1:8080).
        #[arg(long, value_name = "IP:PORT")]
        addr: Option<String>,
        /// Serve without API keys (loopback addresses only).
        #[arg(long)]
        allow_unauthenticated: bool,
    },
    /// Print one JSON array of floats per text (one line each).
    Embed {
        /// The embedding profile.
        #[arg(long, short = 'm', value_name = "PROFILE", default_value = "minilm")]
        model: String,
        #[arg(required = true, value_name = "TEXT")]
        texts: Vec<String>,
    },
    /// The data universe: prices, XBRL facts, filings, ratios (`--data DIR`).
    Data(data::DataArgs),
    /// Ingest the data universe (filings, transcripts, news, ratio cards) and/or files into
    /// the RAG index; incremental: unchanged documents are not embedded again.
    Ingest(rag::IngestArgs),
    /// Search the RAG index: hits with citations.
    Search(rag::SearchArgs),
    /// The model store: list, pull, locate models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// The catalog with each model's status.
    List,
    /// Install a model (default: the default chat and embedding models).
    Pull {
        name: Option<String>,
        /// Download again even when installed.
        #[arg(long)]
        force: bool,
    },
    /// Print the installed path of a model.
    Path { name: String },
}

/// Output format of `run --dry-run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Toml,
    Json,
}

/// The `bullpen` binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit_status(&error))
        }
    }
}

/// 2 for configuration errors, 1 for the rest.
pub fn exit_status(error: &anyhow::Error) -> u8 {
    if error.chain().any(|cause| cause.is::<ConfigError>()) { 2 } else { 1 }
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { files, overrides, dry_run, format } => {
            let files: Vec<PathBuf> = cli.config.into_iter().chain(files).collect();
            let settings = ConfigSources::new(files)
                .with_overrides(overrides)
                .load()
                .context("invalid configuration")?;
            if dry_run {
                let text = match format {
                    Format::Toml => {
                        let text = toml::to_string_pretty(&settings).context("cannot print the settings")?;
                        if text.ends_with('\n') { text } else { text + "\n" }
                    }
                    Format::Json => {
                        serde_json::to_string_pretty(&settings).context("cannot print the settings")? + "\n"
                    }
                };
                return print(&text);
            }
            let kind = settings.job.kind();
            jobs::run(settings).await.with_context(|| format!("{kind} failed"))
        }
        Command::Schema { kind } => {
            let schema = settings::schema(kind.as_deref())?;
            let text = serde_json::to_string_pretty(&schema).context("cannot print the schema")?;
            print(&(text + "\n"))
        }
        Command::Chat { agent: Some(agent), mode, data, as_of, json, message, .. } => {
            let base = base_settings(&cli.config)?;
            let job = AgentJob { mode, data, as_of, json, ..AgentJob::new(agent, message) };
            jobs::run(base.with_job(JobSettings::AgentJob(job))).await.context("agent run failed")
        }
        Command::Report { tickers, universe, as_of, out, format, concurrency, no_prose, force } => {
            let base = base_settings(&cli.config)?;
            let data =
                universe.map(|u| if u.is_file() { u.parent().map(PathBuf::from).unwrap_or(u) } else { u });
            let job = settings::ReportsJob {
                data,
                as_of,
                out,
                formats: format,
                concurrency,
                prose: !no_prose,
                force,
                ..settings::ReportsJob::new(tickers)
            };
            jobs::run(base.with_job(JobSettings::ReportsJob(job))).await.context("report run failed")
        }
        Command::Eval { file, variants, limit, sample, concurrency, no_cache, overrides } => {
            let files: Vec<PathBuf> = cli.config.into_iter().chain(std::iter::once(file.clone())).collect();
            let mut settings = ConfigSources::new(files)
                .with_overrides(overrides)
                .load()
                .context("invalid configuration")?;
            let JobSettings::EvaluationJob(job) = &mut settings.job else {
                anyhow::bail!("`{}` is a {}, not an EvaluationJob", file.display(), settings.job.kind());
            };
            if !variants.is_empty() {
                job.only = variants;
            }
            if limit.is_some() {
                job.limit = limit;
            }
            if sample.is_some() {
                job.sample = sample;
            }
            if let Some(c) = concurrency {
                job.concurrency = c;
            }
            if no_cache {
                job.cache = false;
            }
            jobs::run(settings).await.context("evaluation failed")
        }
        Command::Agents { command: agents::AgentsCommand::List { agents_dir, prompts_dir } } => {
            let base = base_settings(&cli.config)?;
            print(&agents::list_agents(&base, agents_dir, prompts_dir)?)
        }
        Command::Serve { addr, allow_unauthenticated } => {
            // `--config` files may hold a `[job]` table of kind ServeJob; flags win over it.
            let has_job = cli.config.iter().any(|f| {
                std::fs::read_to_string(f)
                    .ok()
                    .and_then(|t| t.parse::<toml::Table>().ok())
                    .is_some_and(|t| t.contains_key("job"))
            });
            let mut job = if has_job {
                let settings =
                    ConfigSources::new(cli.config.clone()).load().context("invalid configuration")?;
                match settings.job {
                    JobSettings::ServeJob(job) => job,
                    other => {
                        anyhow::bail!("--config: the `[job]` table is a {}, not a ServeJob", other.kind())
                    }
                }
            } else {
                settings::ServeJob::default()
            };
            if let Some(addr) = addr {
                job.addr = addr;
            }
            job.allow_unauthenticated |= allow_unauthenticated;
            let base = ConfigSources::new(cli.config.iter().cloned())
                .with_default("logging.level", "info")
                .load_base()
                .context("invalid configuration")?;
            jobs::run(base.with_job(JobSettings::ServeJob(job))).await.context("serve failed")
        }
        Command::Runs { command } => {
            let base = base_settings(&cli.config)?;
            print(&agents::runs(base, command).await?)
        }
        Command::Chat { model, schema, system, max_tokens, temperature, no_stream, message, .. } => {
            let base = base_settings(&cli.config)?;
            let job = ChatJob {
                profile: model,
                message,
                system,
                schema,
                stream: !no_stream,
                max_tokens,
                temperature,
            };
            let settings = base.with_job(JobSettings::ChatJob(job));
            configs::check_job_profile(&settings, "--model", None).context("invalid command line")?;
            jobs::run(settings).await.context("chat failed")
        }
        Command::Embed { model, texts } => {
            let base = base_settings(&cli.config)?;
            configs::check_embedding_profile(&base.profiles, &model, "--model")
                .context("invalid command line")?;
            embed(base, &model, texts).await.context("embed failed")
        }
        Command::Data(args) => {
            let base = base_settings(&cli.config)?;
            let mut services = default_services(&base.logging);
            run_with_services(&mut services, async { data::run(args).await.map_err(DataError) })
                .await
                .map_err(|e| e.0)
        }
        Command::Ingest(args) => {
            let settings = base_settings(&cli.config)?.with_job(JobSettings::IngestJob(args.job()));
            check_embedder(&settings)?;
            jobs::run(settings).await.context("ingest failed")
        }
        Command::Search(args) => {
            let settings = base_settings(&cli.config)?.with_job(JobSettings::SearchJob(args.job()));
            check_embedder(&settings)?;
            jobs::run(settings).await.context("search failed")
        }
        Command::Models { command } => {
            let base = base_settings(&cli.config)?;
            models(base, command).await
        }
    }
}

fn check_embedder(settings: &settings::Settings) -> anyhow::Result<()> {
    if let Some(profile) = settings.job.embedding_profile() {
        configs::check_embedding_profile(&settings.profiles, profile, "--embedder")
            .context("invalid command line")?;
    }
    Ok(())
}

/// An error of `bullpen data`, carried through the services wrapper.
struct DataError(anyhow::Error);

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl From<crate::io::services::ServiceError> for DataError {
    fn from(e: crate::io::services::ServiceError) -> Self {
        DataError(e.into())
    }
}

/// Profiles, models and logging from `--config` files and the environment; logs
/// default to warnings so that answers are not buried.
fn base_settings(config: &[PathBuf]) -> anyhow::Result<BaseSettings> {
    ConfigSources::new(config.iter().cloned())
        .with_default("logging.level", "warn")
        .load_base()
        .context("invalid configuration")
}

async fn embed(base: BaseSettings, profile: &str, texts: Vec<String>) -> anyhow::Result<()> {
    // A job-less run: the settings carry a placeholder job only to build the context.
    let settings =
        base.with_job(JobSettings::PullModelsJob(PullModelsJob { models: Vec::new(), force: false }));
    let ctx = JobContext::new(&settings);
    let mut services = default_services(&settings.logging);
    let vectors = run_with_services(&mut services, async {
        let embedder = ctx.embedder(profile).await?;
        Ok::<_, JobError>(embedder.embed(&texts).await?.vectors)
    })
    .await?;
    let mut text = String::new();
    for vector in vectors {
        text.push_str(&serde_json::to_string(&vector).context("cannot print a vector")?);
        text.push('\n');
    }
    print(&text)
}

async fn models(base: BaseSettings, command: ModelsCommand) -> anyhow::Result<()> {
    match command {
        ModelsCommand::List => {
            let store = ModelStore::new(&osvariables::bullpen_home(), base.models);
            let mut text = String::new();
            for entry in store.list() {
                let spec = &entry.spec;
                let kind = format!("{:?}", spec.kind).to_lowercase();
                let format = format!("{:?}", spec.format).to_lowercase();
                let status = if entry.installed { "installed" } else { "-" };
                text.push_str(&format!(
                    "{:<28} {:<10} {:<12} {:<10} {}\n",
                    spec.name, kind, format, status, spec.description
                ));
            }
            print(&text)
        }
        ModelsCommand::Pull { name, force } => {
            let mut job = PullModelsJob { force, ..PullModelsJob::default() };
            if let Some(name) = name {
                job.models = vec![name];
            }
            jobs::run(base.with_job(JobSettings::PullModelsJob(job))).await.context("pull failed")
        }
        ModelsCommand::Path { name } => {
            let store = ModelStore::new(&osvariables::bullpen_home(), base.models);
            let path = store.path(&name)?;
            print(&format!("{}\n", path.display()))
        }
    }
}

/// Write to stdout; a closed pipe is an error, not a panic.
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).context("cannot write to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn config_errors_exit_with_2_and_others_with_1() {
        let config = anyhow::Error::new(ConfigError::NotFound { path: "x.toml".into() })
            .context("invalid configuration");
        assert_eq!(exit_status(&config), 2);
        assert_eq!(exit_status(&anyhow::anyhow!("boom")), 1);
    }
}
