//! What every job shares: the [`Job`] trait, the [`JobContext`] (registry, model
//! store, `BULLPEN_HOME`) and [`JobError`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::io::osvariables;
use crate::io::services::ServiceError;
use crate::llm::profiles::{Registry, is_path};
use crate::llm::store::{ModelStore, StoreError};
use crate::llm::{ChatModel, Embedder, LlmError};
use crate::settings::Settings;

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Llm(Box<LlmError>),
    #[error(transparent)]
    Store(Box<StoreError>),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Rag(Box<crate::rag::RagError>),
    #[error(transparent)]
    Agent(Box<crate::agents::AgentError>),
    #[error(transparent)]
    Eval(Box<crate::evals::EvalError>),
    /// The data universe could not be opened.
    #[error("data universe `{}`: {reason}", path.display())]
    Data { path: PathBuf, reason: String },
    /// The job cannot start with its settings (e.g. a server without API keys).
    #[error("{0}")]
    Setup(String),
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A bad line of an input file; nothing was written.
    #[error("`{}` line {line}: {reason}; nothing was written", path.display())]
    InputLine { path: PathBuf, line: usize, reason: String },
    #[error("JSON Schema file `{}`: {reason}", path.display())]
    Schema { path: PathBuf, reason: String },
    /// An answer to a schema that is not JSON (the providers validate answers against
    /// the schema, so only a provider's bug gets here).
    #[error("the answer does not satisfy the schema `{}`: {reason}", path.display())]
    Answer { path: PathBuf, reason: String },
    /// One request of a batch failed; nothing was written.
    #[error("request `{id}` (line {line} of `{}`) failed: {source}; nothing was written", path.display())]
    Request {
        id: String,
        line: usize,
        path: PathBuf,
        #[source]
        source: Box<LlmError>,
    },
    #[error("cannot write the answer: {0}")]
    Output(#[source] std::io::Error),
    #[error("cannot read standard input: {0}")]
    Input(#[source] std::io::Error),
    /// Some items of a batch failed (the others were done); the message names them.
    #[error("{0}")]
    Incomplete(String),
}

impl From<LlmError> for JobError {
    fn from(error: LlmError) -> Self {
        JobError::Llm(Box::new(error))
    }
}

impl From<crate::rag::RagError> for JobError {
    fn from(error: crate::rag::RagError) -> Self {
        JobError::Rag(Box::new(error))
    }
}

impl From<crate::agents::AgentError> for JobError {
    fn from(error: crate::agents::AgentError) -> Self {
        JobError::Agent(Box::new(error))
    }
}

impl From<crate::evals::EvalError> for JobError {
    fn from(error: crate::evals::EvalError) -> Self {
        JobError::Eval(Box::new(error))
    }
}

impl From<StoreError> for JobError {
    fn from(error: StoreError) -> Self {
        JobError::Store(Box::new(error))
    }
}

/// A job kind's behaviour; its settings struct implements it.
#[async_trait]
pub trait Job: Send + Sync {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError>;
}

/// What a job gets to work with.
#[derive(Clone)]
pub struct JobContext {
    /// `BULLPEN_HOME`: models, indexes, registries and runs.
    pub home: PathBuf,
    pub store: Arc<ModelStore>,
    pub registry: Registry,
}

impl fmt::Debug for JobContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobContext")
            .field("home", &self.home)
            .field("profiles", &self.registry.names())
            .finish()
    }
}

impl JobContext {
    /// The context of `settings` under `BULLPEN_HOME`; notices go to stderr.
    pub fn new(settings: &Settings) -> Self {
        Self::with_home(settings, osvariables::bullpen_home())
    }

    /// The context of `settings` under `home`.
    pub fn with_home(settings: &Settings, home: PathBuf) -> Self {
        let store = Arc::new(ModelStore::new(&home, settings.models.clone()));
        let registry = Registry::new(settings.profiles.clone(), store.clone());
        Self { home, store, registry }
    }

    /// Tell the user what is going on outside the logs (e.g. "pulling model …"), on
    /// stderr.
    pub fn notice(&self, message: &str) {
        tracing::info!("{message}");
        eprintln!("{message}");
    }

    /// The installed path of a catalog model, pulling it first (and saying so) when
    /// it is not installed yet.
    pub async fn ensure_model(&self, name: &str) -> Result<PathBuf, JobError> {
        if !self.store.is_installed(name)? {
            self.notice(&format!("pulling model {name}…"));
        }
        Ok(self.store.ensure(name).await?)
    }

    /// Install the catalog models a profile needs (its model and LoRA adapters).
    pub async fn prepare_profile(&self, profile: &str) -> Result<(), JobError> {
        let references = self.registry.profile(profile)?.model_references();
        for reference in references.into_iter().filter(|r| is_path(r).is_none()) {
            self.ensure_model(reference).await?;
        }
        Ok(())
    }

    /// The chat model of a profile, its models installed first.
    pub async fn chat_model(&self, profile: &str) -> Result<Arc<dyn ChatModel>, JobError> {
        self.prepare_profile(profile).await?;
        Ok(self.registry.chat(profile).await?)
    }

    /// The embedding model of a profile, its model installed first.
    pub async fn embedder(&self, profile: &str) -> Result<Arc<dyn Embedder>, JobError> {
        self.prepare_profile(profile).await?;
        Ok(self.registry.embedder(profile).await?)
    }
}

/// Read a JSON Schema file: `(name, schema)` for
/// [`ChatRequest::with_schema`](crate::llm::ChatRequest::with_schema); the name is the
/// file's stem.
pub fn read_schema(path: &Path) -> Result<(String, Value), JobError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| JobError::Read { path: path.to_path_buf(), source })?;
    let schema: Value = serde_json::from_str(&text)
        .map_err(|e| JobError::Schema { path: path.to_path_buf(), reason: format!("not valid JSON: {e}") })?;
    crate::core::schemas::check_schema(&schema)
        .map_err(|e| JobError::Schema { path: path.to_path_buf(), reason: e.to_string() })?;
    let name = path
        .file_stem()
        .map(|s| {
            s.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
        })
        .unwrap_or_else(|| "answer".to_string());
    Ok((name, schema))
}

/// Write `lines` (each followed by a newline) to `path` atomically: a temporary file
/// in the same directory, renamed over `path` once complete.
pub fn write_lines_atomically(path: &Path, lines: &[String]) -> Result<(), JobError> {
    use std::io::Write;
    let write_err = |source| JobError::Write { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(write_err)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".bullpen-").suffix(".tmp");
    // An ordinary file once renamed (the umask applies), not tempfile's private 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut file = builder.tempfile_in(&dir).map_err(write_err)?;
    {
        let mut out = std::io::BufWriter::new(file.as_file_mut());
        for line in lines {
            out.write_all(line.as_bytes()).map_err(write_err)?;
            out.write_all(b"\n").map_err(write_err)?;
        }
        out.flush().map_err(write_err)?;
    }
    file.as_file().sync_all().map_err(write_err)?;
    file.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("sub").join("out.jsonl");
        write_lines_atomically(&out, &["a".into()]).expect("first write");
        write_lines_atomically(&out, &["b".into(), "c".into()]).expect("second write");
        assert_eq!(std::fs::read_to_string(&out).expect("read"), "b\nc\n");
        let names: Vec<_> = std::fs::read_dir(out.parent().expect("parent"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["out.jsonl"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let plain = dir.path().join("plain");
            std::fs::File::create(&plain).expect("create");
            let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode(&out), mode(&plain), "the same mode as an ordinary new file");
        }
    }

    #[test]
    fn schema_files_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("my-answer.json");
        std::fs::write(&good, r#"{"type":"object","properties":{"n":{"type":"number"}},"required":["n"]}"#)
            .expect("write");
        let (name, schema) = read_schema(&good).expect("valid schema");
        assert_eq!(name, "my_answer");
        assert_eq!(schema["required"][0], "n");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{").expect("write");
        assert!(matches!(read_schema(&bad), Err(JobError::Schema { .. })));
    }
}
