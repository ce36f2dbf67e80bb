//! Loading [`Settings`] from layered sources:
//!
//! 1. the built-in profiles (`local`, `minilm`) and defaults a command may set
//!    (lowest priority),
//! 2. TOML files, in order (a later file wins),
//! 3. environment variables `BULLPEN_A__B=value` (key path `a.b`; only names holding
//!    the `__` separator are settings, so `BULLPEN_HOME` is not one),
//! 4. `-e key.path=value` overrides (the value is read as a TOML value when it
//!    parses as one, else as a string).
//!
//! A configured profile with a built-in's name merges key by key into the built-in
//! one (`[profiles.local]` with only `context = 4096` keeps the rest of `local`),
//! unless it names another `provider`: then it replaces the built-in whole.
//!
//! After extraction the loader checks what serde cannot: every `fallback` names a
//! chat profile, the llama numbers (`context`, `slots`, `batch`, `threads`) are at
//! least 1, `[[models]]` entries are installable catalog entries, and the job's
//! profile exists and suits the job.
//!
//! A bad configuration gives one [`ConfigError`] naming the source (file, variable or
//! override, where known), the key path (`job.temperature`) and what was expected.
//! The messages (the CLI prints them after `error: invalid configuration: ` and exits
//! with status 2):
//!
//! ```text
//! config file `a.toml` not found
//! config file `a.toml` is not valid TOML: line 3, column 34: invalid basic string, expected `"`
//! setting `job.temprature` (from file `a.toml`): unknown key; expected one of `profile`, `message`, … or `temperature`
//! setting `job.temperature` (from file `a.toml`): expected f32, found string "hot"
//! setting `job.input` (from file `a.toml`): missing; this key is required
//! setting `job.KIND` (from file `a.toml`): unknown job kind `ChatJobs`; expected one of `ChatJob`, `InferenceJob`, `PullModelsJob`, `IngestJob`, `SearchJob`, `AgentJob`, `ServeJob`, `ReportsJob` or `EvaluationJob`
//! setting `job.stream` (from environment variable `BULLPEN_JOB__STREAM`): expected a boolean, found string "maybe"
//! setting `job.profile` (from override `-e job.profile=nope`): unknown profile `nope`; expected one of `local` or `minilm`
//! setting `profiles.local.context` (from file `a.toml`): expected at least 1, found 0
//! setting `models.0` (from file `a.toml`): model `../x` has an invalid catalog entry: the name `../x` must …
//! ```
//!
//! The `[job]` table is an internally tagged enum (`KIND`). serde buffers such enums
//! and loses figment's key paths and sources, so the loader reads `job.KIND` first
//! and then extracts the chosen job's struct directly (the same for the `provider`
//! tag of model profiles).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use figment::error::Kind;
use figment::value::{Dict, Map, Tag, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::de::{self, DeserializeSeed, IgnoredAny, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::core::models::ModelSpec;
use crate::io::osvariables::{self, SETTINGS_PREFIX, SETTINGS_SEPARATOR};
use crate::llm::profiles::{CandleProfile, LlamaProfile, OpenAiProfile, ProfileSettings, builtin_profiles};
use crate::llm::store::{ModelStore, StoreError};
use crate::settings::{
    AgentJob, BaseSettings, ChatJob, EvaluationJob, InferenceJob, IngestJob, JOB_KINDS, JobSettings,
    KIND_KEY, LoggingSettings, PullModelsJob, ReportsJob, SearchJob, ServeJob, Settings,
};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file `{}` not found", path.display())]
    NotFound { path: PathBuf },
    #[error("config file `{}` cannot be read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file `{}` is not valid TOML: {message}", path.display())]
    InvalidToml { path: PathBuf, message: String },
    #[error("invalid override `-e {arg}`: {reason}")]
    BadOverride { arg: String, reason: String },
    /// A setting with a bad, missing or unknown key or value.
    #[error("setting `{key}`{}: {message}", Origin(origin))]
    Setting {
        /// Dotted key path, e.g. `job.temperature`.
        key: String,
        /// Where the value came from (`file `a.toml``, an environment variable, an
        /// override), when known.
        origin: Option<String>,
        /// What is wrong and what was expected.
        message: String,
    },
    /// An unknown job kind, in a configuration (`origin` known) or on the command line.
    #[error("{}unknown job kind `{kind}`; expected one of {expected}", KindSetting(origin))]
    UnknownKind { kind: String, origin: Option<String>, expected: String },
}

/// ` (from …)` when the origin is known.
struct Origin<'a>(&'a Option<String>);

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(origin) => write!(f, " (from {origin})"),
            None => Ok(()),
        }
    }
}

/// `setting `job.KIND` (from …): ` for a kind read from a configuration.
struct KindSetting<'a>(&'a Option<String>);

impl fmt::Display for KindSetting<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(origin) => write!(f, "setting `job.{KIND_KEY}` (from {origin}): "),
            None => Ok(()),
        }
    }
}

/// The sources of one configuration, lowest priority first.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    defaults: Vec<(String, String)>,
    files: Vec<PathBuf>,
    env: Vec<(String, String)>,
    overrides: Vec<String>,
}

impl ConfigSources {
    /// These files (in order, later wins) and the process environment.
    pub fn new<P: Into<PathBuf>>(files: impl IntoIterator<Item = P>) -> Self {
        Self {
            files: files.into_iter().map(Into::into).collect(),
            env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            ..Self::default()
        }
    }

    /// Replace the environment (for tests, or to ignore the process environment).
    pub fn with_env<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env = vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        self
    }

    /// `-e key.path=value` overrides, applied in order after files and environment.
    pub fn with_overrides<S: Into<String>>(mut self, overrides: impl IntoIterator<Item = S>) -> Self {
        self.overrides.extend(overrides.into_iter().map(Into::into));
        self
    }

    /// A default below every file (`logging.level`, `warn`), value read like an override's.
    pub fn with_default(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.defaults.push((key.into(), value.into()));
        self
    }

    /// The layered figment, the built-in profiles at the bottom; reads and checks
    /// every file.
    pub fn figment(&self) -> Result<Figment, ConfigError> {
        let configured = self.configured()?;
        Ok(builtin_profiles_under(&configured)?.merge(configured))
    }

    /// Every layer but the built-in profiles.
    fn configured(&self) -> Result<Figment, ConfigError> {
        let mut figment = Figment::new();
        for (key, value) in &self.defaults {
            let arg = format!("{key}={value}");
            figment = figment.merge(KeyValue::parse(&arg, Metadata::named("built-in defaults"))?);
        }
        for path in &self.files {
            figment = figment.merge(TomlFile::read(path)?);
        }
        let mut vars: Vec<&(String, String)> = self.env.iter().collect();
        vars.sort();
        for (name, value) in vars {
            if let Some(provider) = EnvVar::new(name, value) {
                figment = figment.merge(provider);
            }
        }
        for arg in &self.overrides {
            let metadata = Metadata::named(format!("override `-e {arg}`"));
            figment = figment.merge(KeyValue::parse(arg, metadata)?);
        }
        Ok(figment)
    }

    /// The whole settings; a `[job]` table with a `KIND` is required.
    pub fn load(&self) -> Result<Settings, ConfigError> {
        let figment = self.figment()?;
        let base = extract_base(&figment)?;
        let job = extract_job(&figment)?;
        let settings = base.with_job(job);
        let origin = figment.find_value("job.profile").ok().and_then(|v| origin_of(&figment, v.tag()));
        check_job_profile(&settings, "job.profile", origin)?;
        if let Some(profile) = settings.job.embedding_profile() {
            check_embedding_profile(&settings.profiles, profile, "job.index.embedder")?;
        }
        if let JobSettings::EvaluationJob(job) = &settings.job {
            for (i, v) in job.variants.iter().filter(|v| v.agent.is_none()).enumerate() {
                let key = format!("job.variants[{i}].profile");
                check_chat_profile(&settings.profiles, &v.profile, &key, None, "EvaluationJob")?;
            }
            for profile in job.matrix.iter().flat_map(|m| &m.profiles) {
                check_chat_profile(
                    &settings.profiles,
                    profile,
                    "job.matrix.profiles",
                    None,
                    "EvaluationJob",
                )?;
            }
            let nearest = crate::evals::FewShotStrategy::Nearest;
            let shots = job.variants.iter().any(|v| v.fewshot > 0)
                || job.matrix.as_ref().is_some_and(|m| m.fewshot.iter().any(|k| *k > 0));
            if shots
                && (job.task.fewshot.strategy == nearest
                    || job.variants.iter().any(|v| v.strategy == Some(nearest)))
            {
                let embedder = &job.task.fewshot.embedder;
                check_embedding_profile(&settings.profiles, embedder, "job.task.fewshot.embedder")?;
            }
        }
        Ok(settings)
    }

    /// Profiles, models and logging only (for commands that build their own job); a
    /// `[job]` table, if any, is not read.
    pub fn load_base(&self) -> Result<BaseSettings, ConfigError> {
        extract_base(&self.figment()?)
    }
}

// ---------------------------------------------------------------------------
// Providers.

/// One TOML file, read and parsed up front so that a missing file or bad TOML is
/// reported with the file's name.
struct TomlFile {
    path: PathBuf,
    dict: Dict,
}

impl TomlFile {
    fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => ConfigError::NotFound { path: path.to_path_buf() },
            _ => ConfigError::Read { path: path.to_path_buf(), source },
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::InvalidToml {
            path: path.to_path_buf(),
            message: toml_message(&text, &e),
        })?;
        let dict = to_figment(toml::Value::Table(table)).into_dict().ok_or_else(|| {
            ConfigError::InvalidToml { path: path.to_path_buf(), message: "not a table".into() }
        })?;
        Ok(Self { path: path.to_path_buf(), dict })
    }
}

impl Provider for TomlFile {
    fn metadata(&self) -> Metadata {
        Metadata::from("TOML file", Source::File(self.path.clone()))
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// `line L, column C: message` on one line.
fn toml_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', "; ");
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// A TOML value as a figment value (datetimes become their text).
fn to_figment(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::from(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::from(b),
        toml::Value::Datetime(d) => Value::from(d.to_string()),
        toml::Value::Array(items) => Value::from(items.into_iter().map(to_figment).collect::<Vec<_>>()),
        toml::Value::Table(table) => {
            Value::from(table.into_iter().map(|(k, v)| (k, to_figment(v))).collect::<Dict>())
        }
    }
}

/// The built-in profiles as the lowest layer under `configured`, except those
/// `configured` gives another `provider`: these it replaces whole (the keys of one
/// provider mean nothing to another).
fn builtin_profiles_under(configured: &Figment) -> Result<Figment, ConfigError> {
    let mut figment = Figment::new();
    for (name, profile) in builtin_profiles() {
        let key = format!("profiles.{name}");
        let value = Value::serialize(&profile).map_err(|e| ConfigError::Setting {
            key: key.clone(),
            origin: Some(BUILTIN_PROFILES.to_string()),
            message: e.to_string(),
        })?;
        let builtin = value.find_ref("provider").and_then(Value::as_str);
        let replaced = configured
            .find_value(&format!("{key}.provider"))
            .is_ok_and(|provider| provider.as_str() != builtin);
        if !replaced {
            figment = figment.merge(KeyValue { key, value, metadata: Metadata::named(BUILTIN_PROFILES) });
        }
    }
    Ok(figment)
}

const BUILTIN_PROFILES: &str = "built-in profiles";

/// One `key.path=value` (an override or a default).
struct KeyValue {
    key: String,
    value: Value,
    metadata: Metadata,
}

impl KeyValue {
    fn parse(arg: &str, metadata: Metadata) -> Result<Self, ConfigError> {
        let bad =
            |reason: &str| ConfigError::BadOverride { arg: arg.to_string(), reason: reason.to_string() };
        let (key, raw) = arg.split_once('=').ok_or_else(|| bad("expected KEY.PATH=VALUE"))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(|part| part.trim().is_empty()) {
            return Err(bad("the key path is empty or has an empty part (expected e.g. job.temperature)"));
        }
        Ok(Self { key: key.to_string(), value: parse_value(raw), metadata })
    }
}

/// A TOML value when `raw` parses as one, else the string itself.
fn parse_value(raw: &str) -> Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut table) => match table.remove("v") {
            Some(value) => to_figment(value),
            None => Value::from(raw.to_string()),
        },
        Err(_) => Value::from(raw.to_string()),
    }
}

impl Provider for KeyValue {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = figment::util::nest(&self.key, self.value.clone())
            .into_dict()
            .ok_or_else(|| figment::Error::from(format!("empty key path in `{}`", self.key)))?;
        Ok(Profile::Default.collect(dict))
    }
}

/// One `BULLPEN_A__B=value` variable, as key path `a.b` (`KIND` keeps its case).
struct EnvVar {
    name: String,
    key: String,
    value: Value,
}

impl EnvVar {
    fn new(name: &str, value: &str) -> Option<Self> {
        let rest = name.strip_prefix(SETTINGS_PREFIX)?;
        if !rest.contains(SETTINGS_SEPARATOR) {
            return None;
        }
        let parts: Vec<String> =
            rest.split(SETTINGS_SEPARATOR)
                .map(|part| {
                    if part.eq_ignore_ascii_case(KIND_KEY) {
                        KIND_KEY.to_string()
                    } else {
                        part.to_lowercase()
                    }
                })
                .collect();
        if parts.iter().any(String::is_empty) {
            return None;
        }
        let Ok(value) = value.parse::<Value>();
        Some(Self { name: name.to_string(), key: parts.join("."), value })
    }
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable `{}`", self.name))
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = figment::util::nest(&self.key, self.value.clone())
            .into_dict()
            .ok_or_else(|| figment::Error::from(format!("empty key path in `{}`", self.name)))?;
        Ok(Profile::Default.collect(dict))
    }
}

// ---------------------------------------------------------------------------
// Extraction.

/// The top level with the tagged parts (`job`, `profiles`) left for later.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Frame {
    #[serde(default)]
    #[allow(dead_code)]
    job: Option<IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    profiles: Option<BTreeMap<String, IgnoredAny>>,
    #[serde(default)]
    models: Vec<ModelSpec>,
    #[serde(default)]
    logging: LoggingSettings,
}

fn extract_base(figment: &Figment) -> Result<BaseSettings, ConfigError> {
    let frame: Frame = figment.extract().map_err(|e| setting_error(e, &[], None))?;
    let profiles = extract_profiles(figment)?;
    check_profiles(figment, &profiles)?;
    check_models(figment, &frame.models)?;
    Ok(BaseSettings { profiles, models: frame.models, logging: frame.logging })
}

/// What serde cannot check in profiles: fallbacks name chat profiles, and the llama
/// numbers are at least 1.
fn check_profiles(
    figment: &Figment,
    profiles: &BTreeMap<String, ProfileSettings>,
) -> Result<(), ConfigError> {
    let invalid = |key: String, message: String| {
        let origin = figment.find_value(&key).ok().and_then(|v| origin_of(figment, v.tag()));
        Err(ConfigError::Setting { key, origin, message })
    };
    for (name, profile) in profiles {
        if let ProfileSettings::Llama(p) = profile {
            let numbers = [("context", Some(p.context)), ("slots", Some(p.slots)), ("batch", Some(p.batch))];
            for (field, value) in numbers.into_iter().chain([("threads", p.threads)]) {
                if value == Some(0) {
                    return invalid(
                        format!("profiles.{name}.{field}"),
                        "expected at least 1, found 0".into(),
                    );
                }
            }
        }
        for fallback in profile.fallback() {
            let message = match profiles.get(fallback) {
                None => {
                    let names: Vec<&str> = profiles.keys().map(String::as_str).collect();
                    format!("unknown profile `{fallback}`; expected one of {}", one_of(&names))
                }
                Some(ProfileSettings::Candle(_)) => format!(
                    "profile `{fallback}` is an embedding profile (candle); a fallback must be a chat profile (llama or openai)"
                ),
                Some(_) => continue,
            };
            return invalid(format!("profiles.{name}.fallback"), message);
        }
    }
    Ok(())
}

/// Every `[[models]]` entry must be one the store can install (the store's own check).
fn check_models(figment: &Figment, models: &[ModelSpec]) -> Result<(), ConfigError> {
    let home = osvariables::bullpen_home();
    let values = figment.find_value("models").ok();
    for (index, spec) in models.iter().enumerate() {
        // One store per entry: a later entry of the same name would hide this one.
        let store = ModelStore::new(&home, vec![spec.clone()]);
        if let Err(error @ StoreError::InvalidSpec { .. }) = store.is_installed(&spec.name) {
            let value = values.as_ref().and_then(Value::as_array).and_then(|items| items.get(index));
            return Err(ConfigError::Setting {
                key: format!("models.{index}"),
                origin: value.and_then(|v| origin_of(figment, v.tag())),
                message: error.to_string(),
            });
        }
    }
    Ok(())
}

/// Where a value came from, in words.
fn origin_of(figment: &Figment, tag: Tag) -> Option<String> {
    figment.get_metadata(tag).map(describe)
}

fn describe(metadata: &Metadata) -> String {
    match &metadata.source {
        Some(Source::File(path)) => format!("file `{}`", path.display()),
        _ => metadata.name.to_string(),
    }
}

/// The job kinds, quoted: "`ChatJob`, `InferenceJob`, …, `SearchJob`".
pub(crate) fn expected_kinds() -> String {
    one_of(JOB_KINDS)
}

fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => "nothing".to_string(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// What kind of value `value` is, in words.
fn actual(value: &Value) -> String {
    value.to_actual().to_string()
}

fn extract_job(figment: &Figment) -> Result<JobSettings, ConfigError> {
    let job = figment.find_value("job").map_err(|_| ConfigError::Setting {
        key: "job".to_string(),
        origin: None,
        message: format!("missing; expected a [job] table with `KIND` = {}", expected_kinds()),
    })?;
    let job_origin = origin_of(figment, job.tag());
    let Some(dict) = job.as_dict() else {
        return Err(ConfigError::Setting {
            key: "job".to_string(),
            origin: job_origin,
            message: format!("expected a table, found {}", actual(&job)),
        });
    };
    let Some(kind_value) = dict.get(KIND_KEY) else {
        return Err(ConfigError::Setting {
            key: format!("job.{KIND_KEY}"),
            origin: job_origin,
            message: format!("missing; expected one of {}", expected_kinds()),
        });
    };
    let kind_origin = origin_of(figment, kind_value.tag());
    let Some(kind) = kind_value.as_str() else {
        return Err(ConfigError::Setting {
            key: format!("job.{KIND_KEY}"),
            origin: kind_origin,
            message: format!("expected a string, one of {}; found {}", expected_kinds(), actual(kind_value)),
        });
    };
    let origin = &job_origin;
    Ok(match kind {
        "ChatJob" => JobSettings::ChatJob(extract_untagged::<ChatJob, JobTag>(figment, "job", origin)?),
        "InferenceJob" => {
            JobSettings::InferenceJob(extract_untagged::<InferenceJob, JobTag>(figment, "job", origin)?)
        }
        "IngestJob" => JobSettings::IngestJob(extract_untagged::<IngestJob, JobTag>(figment, "job", origin)?),
        "SearchJob" => JobSettings::SearchJob(extract_untagged::<SearchJob, JobTag>(figment, "job", origin)?),
        "AgentJob" => JobSettings::AgentJob(extract_untagged::<AgentJob, JobTag>(figment, "job", origin)?),
        "ServeJob" => JobSettings::ServeJob(extract_untagged::<ServeJob, JobTag>(figment, "job", origin)?),
        "ReportsJob" => {
            JobSettings::ReportsJob(extract_untagged::<ReportsJob, JobTag>(figment, "job", origin)?)
        }
        "EvaluationJob" => {
            JobSettings::EvaluationJob(extract_untagged::<EvaluationJob, JobTag>(figment, "job", origin)?)
        }
        "PullModelsJob" => {
            JobSettings::PullModelsJob(extract_untagged::<PullModelsJob, JobTag>(figment, "job", origin)?)
        }
        other => {
            return Err(ConfigError::UnknownKind {
                kind: other.to_string(),
                origin: kind_origin,
                expected: expected_kinds(),
            });
        }
    })
}

const PROVIDERS: &[&str] = &["llama", "openai", "candle"];

fn extract_profiles(figment: &Figment) -> Result<BTreeMap<String, ProfileSettings>, ConfigError> {
    let mut profiles = BTreeMap::new();
    let Ok(value) = figment.find_value("profiles") else {
        return Ok(profiles);
    };
    let Some(dict) = value.as_dict() else {
        return Err(ConfigError::Setting {
            key: "profiles".to_string(),
            origin: origin_of(figment, value.tag()),
            message: format!("expected a table of named profiles, found {}", actual(&value)),
        });
    };
    for (name, profile) in dict {
        let key = format!("profiles.{name}");
        let origin = origin_of(figment, profile.tag());
        if name.contains('.') {
            return Err(ConfigError::Setting {
                key,
                origin,
                message: "a profile name may not contain `.`".into(),
            });
        }
        let Some(fields) = profile.as_dict() else {
            return Err(ConfigError::Setting {
                key,
                origin,
                message: format!("expected a table with a `provider`, found {}", actual(profile)),
            });
        };
        let Some(provider_value) = fields.get("provider") else {
            return Err(ConfigError::Setting {
                key: format!("{key}.provider"),
                origin,
                message: format!("missing; expected one of {}", one_of(PROVIDERS)),
            });
        };
        let provider_origin = origin_of(figment, provider_value.tag());
        let settings = match provider_value.as_str() {
            Some("llama") => {
                ProfileSettings::Llama(extract_untagged::<LlamaProfile, ProviderTag>(figment, &key, &origin)?)
            }
            Some("openai") => ProfileSettings::Openai(extract_untagged::<OpenAiProfile, ProviderTag>(
                figment, &key, &origin,
            )?),
            Some("candle") => ProfileSettings::Candle(extract_untagged::<CandleProfile, ProviderTag>(
                figment, &key, &origin,
            )?),
            _ => {
                return Err(ConfigError::Setting {
                    key: format!("{key}.provider"),
                    origin: provider_origin,
                    message: format!(
                        "expected one of {}, found {}",
                        one_of(PROVIDERS),
                        actual(provider_value)
                    ),
                });
            }
        };
        profiles.insert(name.clone(), settings);
    }
    Ok(profiles)
}

/// A job's profile must exist and suit the job; `key` names the setting in errors
/// (`job.profile`, or a command-line option), `origin` where it came from.
pub fn check_job_profile(settings: &Settings, key: &str, origin: Option<String>) -> Result<(), ConfigError> {
    let Some(profile) = settings.job.profile() else {
        return Ok(());
    };
    check_chat_profile(&settings.profiles, profile, key, origin, settings.job.kind())
}

/// A chat profile (llama or openai) must exist; `key` names the setting in errors.
pub fn check_chat_profile(
    profiles: &BTreeMap<String, ProfileSettings>,
    profile: &str,
    key: &str,
    origin: Option<String>,
    kind: &str,
) -> Result<(), ConfigError> {
    match profiles.get(profile) {
        None => {
            let names: Vec<&str> = profiles.keys().map(String::as_str).collect();
            Err(ConfigError::Setting {
                key: key.to_string(),
                origin,
                message: format!("unknown profile `{profile}`; expected one of {}", one_of(&names)),
            })
        }
        Some(ProfileSettings::Candle(_)) => Err(ConfigError::Setting {
            key: key.to_string(),
            origin,
            message: format!(
                "profile `{profile}` is an embedding profile (candle); a {kind} needs a chat profile (llama or openai)"
            ),
        }),
        Some(_) => Ok(()),
    }
}

/// An embedding profile (candle or openai) must exist; `key` names the setting in errors.
pub fn check_embedding_profile(
    profiles: &BTreeMap<String, ProfileSettings>,
    profile: &str,
    key: &str,
) -> Result<(), ConfigError> {
    let message = match profiles.get(profile) {
        Some(ProfileSettings::Llama(_)) => {
            format!(
                "profile `{profile}` is a chat profile (llama); expected an embedding profile (candle or openai)"
            )
        }
        Some(_) => return Ok(()),
        None => {
            let names: Vec<&str> = profiles.keys().map(String::as_str).collect();
            format!("unknown profile `{profile}`; expected one of {}", one_of(&names))
        }
    };
    Err(ConfigError::Setting { key: key.to_string(), origin: None, message })
}

/// Turn figment's error into a [`ConfigError::Setting`] with the full key path.
fn setting_error(error: figment::Error, prefix: &[&str], fallback_origin: Option<String>) -> ConfigError {
    // figment chains several errors only for several failing providers; ours never
    // fail, so the first error is the one.
    let Some(error) = error.into_iter().next() else {
        return ConfigError::Setting {
            key: prefix.join("."),
            origin: fallback_origin,
            message: "invalid".into(),
        };
    };
    let mut path: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
    path.extend(error.path.iter().cloned());
    let origin = error.metadata.as_ref().map(describe).or(fallback_origin);
    let message = match &error.kind {
        Kind::InvalidType(found, expected) => format!("expected {expected}, found {found}"),
        Kind::InvalidValue(found, expected) => format!("expected {expected}, found {found}"),
        Kind::InvalidLength(n, expected) => format!("expected {expected}, found {n} items"),
        Kind::UnknownVariant(found, expected) => {
            format!("unknown value `{found}`; expected one of {}", one_of(expected))
        }
        Kind::UnknownField(_, expected) => format!("unknown key; expected one of {}", one_of(expected)),
        Kind::MissingField(field) => {
            path.push(field.to_string());
            "missing; this key is required".to_string()
        }
        Kind::DuplicateField(field) => {
            path.push(field.to_string());
            "given more than once".to_string()
        }
        other => other.to_string(),
    };
    let key = if path.is_empty() { "(top level)".to_string() } else { path.join(".") };
    ConfigError::Setting { key, origin, message }
}

// ---------------------------------------------------------------------------
// Deserializing one variant of a tagged enum without buffering.

/// The name of a tag key to skip.
trait TagKey {
    const NAME: &'static str;
}

struct JobTag;
impl TagKey for JobTag {
    const NAME: &'static str = KIND_KEY;
}

struct ProviderTag;
impl TagKey for ProviderTag {
    const NAME: &'static str = "provider";
}

/// Extract the table at the dotted `key` as `T`, skipping its tag key `K`; errors
/// name the full key path, and `origin` (the table's) when the value's is unknown.
fn extract_untagged<T, K>(figment: &Figment, key: &str, origin: &Option<String>) -> Result<T, ConfigError>
where
    T: for<'de> Deserialize<'de>,
    K: TagKey,
{
    let prefix: Vec<&str> = key.split('.').collect();
    figment
        .focus(key)
        .extract::<Untagged<T, K>>()
        .map(|u| u.0)
        .map_err(|e| setting_error(e, &prefix, origin.clone()))
}

/// `T` deserialized from a map minus the key `K::NAME`; errors keep the
/// deserializer's key paths and sources.
struct Untagged<T, K>(T, PhantomData<K>);

impl<'de, T: Deserialize<'de>, K: TagKey> Deserialize<'de> for Untagged<T, K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T, K>(PhantomData<(T, K)>);
        impl<'de, T: Deserialize<'de>, K: TagKey> Visitor<'de> for MapVisitor<T, K> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<T, M::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(SkipKey::<M, K>(map, PhantomData)))
            }
        }
        deserializer.deserialize_map(MapVisitor::<T, K>(PhantomData)).map(|t| Untagged(t, PhantomData))
    }
}

struct SkipKey<M, K>(M, PhantomData<K>);

impl<'de, M: MapAccess<'de>, K: TagKey> MapAccess<'de> for SkipKey<M, K> {
    type Error = M::Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, M::Error> {
        let mut seed = Some(seed);
        loop {
            match self.0.next_key_seed(PeekKey::<S, K>(&mut seed, PhantomData))? {
                None => return Ok(None),
                Some(Some(key)) => return Ok(Some(key)),
                // The tag: skip its value.
                Some(None) => {
                    self.0.next_value::<IgnoredAny>()?;
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, M::Error> {
        self.0.next_value_seed(seed)
    }
}

/// Reads a key: `None` for the tag key, else the inner seed's key (deserialized
/// inside the map's own key deserialization, so its errors get the key's path).
struct PeekKey<'a, S, K>(&'a mut Option<S>, PhantomData<K>);

impl<'de, S: DeserializeSeed<'de>, K: TagKey> DeserializeSeed<'de> for PeekKey<'_, S, K> {
    type Value = Option<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, S: DeserializeSeed<'de>, K: TagKey> Visitor<'de> for PeekKey<'_, S, K> {
    type Value = Option<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        if key == K::NAME {
            return Ok(None);
        }
        let seed = self.0.take().ok_or_else(|| E::custom("internal error: key read twice"))?;
        seed.deserialize(IntoDeserializer::<E>::into_deserializer(key)).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        let mut f = std::fs::File::create(&path).expect("create fixture");
        f.write_all(text.as_bytes()).expect("write fixture");
        path
    }

    fn sources(files: &[PathBuf]) -> ConfigSources {
        ConfigSources::new(files.iter().cloned()).with_env(Vec::<(String, String)>::new())
    }

    fn setting(err: ConfigError) -> (String, Option<String>, String) {
        match err {
            ConfigError::Setting { key, origin, message } => (key, origin, message),
            other => panic!("expected a setting error, got {other:?}"),
        }
    }

    const CHAT: &str = "[job]\nKIND = \"ChatJob\"\nmessage = \"hi\"\n";

    #[test]
    fn loads_a_chat_job_with_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = file(&dir, "a.toml", CHAT);
        let settings = sources(&[a]).load().expect("valid");
        let JobSettings::ChatJob(job) = settings.job else { panic!("not a chat job") };
        assert_eq!(job.profile, "local");
        assert_eq!(job.message.as_deref(), Some("hi"));
        assert!(job.stream);
        assert_eq!(settings.profiles, builtin_profiles());
    }

    // Single-file errors, the layering and their exact messages are checked on the
    // binary (tests/config.rs); these check what those tests do not.

    #[test]
    fn unknown_key_in_second_file_names_that_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = file(&dir, "a.toml", CHAT);
        let b = file(&dir, "b.toml", "[job]\ntemprature = 0.5\n");
        let (key, origin, message) = setting(sources(&[a, b.clone()]).load().unwrap_err());
        assert_eq!(key, "job.temprature");
        assert_eq!(origin, Some(format!("file `{}`", b.display())));
        assert!(message.contains("unknown key") && message.contains("`temperature`"), "{message}");
    }

    #[test]
    fn a_malformed_override_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = file(&dir, "a.toml", CHAT);
        for arg in ["job.message", "=x", "job..message=x"] {
            let err = sources(std::slice::from_ref(&a)).with_overrides([arg]).load();
            assert!(matches!(err, Err(ConfigError::BadOverride { .. })), "{arg}: {err:?}");
        }
    }

    #[test]
    fn kind_from_the_environment_and_profiles_with_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = file(
            &dir,
            "a.toml",
            "[job]\nmodels = [\"x\"]\n[profiles.fast]\nprovider = \"llama\"\nmodel = \"m\"\ncontext = \"big\"\n",
        );
        let err = sources(std::slice::from_ref(&a)).with_env([("BULLPEN_JOB__KIND", "PullModelsJob")]).load();
        let (key, origin, message) = setting(err.unwrap_err());
        assert_eq!(key, "profiles.fast.context");
        assert_eq!(origin, Some(format!("file `{}`", a.display())));
        assert!(message.contains("expected u32"), "{message}");

        let settings = sources(&[a])
            .with_env([("BULLPEN_JOB__KIND", "PullModelsJob")])
            .with_overrides(["profiles.fast.context=4096"])
            .load()
            .expect("valid");
        assert!(matches!(settings.job, JobSettings::PullModelsJob(ref j) if j.models == ["x"]));
        assert!(matches!(&settings.profiles["fast"], ProfileSettings::Llama(p) if p.context == 4096));
    }

    #[test]
    fn a_partial_builtin_profile_merges_into_the_builtin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = file(&dir, "a.toml", &format!("{CHAT}[profiles.local]\ncontext = 4096\n"));
        let settings = sources(&[a]).with_overrides(["profiles.local.threads=2"]).load().expect("valid");
        let ProfileSettings::Llama(local) = &settings.profiles["local"] else { panic!("not llama") };
        let ProfileSettings::Llama(builtin) = &builtin_profiles()["local"] else { panic!("not llama") };
        assert_eq!((local.context, local.threads), (4096, Some(2)));
        assert_eq!(
            (&local.model, &local.params, local.slots),
            (&builtin.model, &builtin.params, builtin.slots)
        );
    }

    #[test]
    fn another_provider_replaces_the_builtin_and_a_new_profile_needs_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a =
            file(&dir, "a.toml", &format!("{CHAT}[profiles.local]\nprovider = \"openai\"\nmodel = \"m\"\n"));
        let settings = sources(&[a]).load().expect("valid");
        assert!(matches!(&settings.profiles["local"], ProfileSettings::Openai(p) if p.model == "m"));
        assert!(
            matches!(&settings.profiles["minilm"], ProfileSettings::Candle(_)),
            "the other built-in kept"
        );

        let b = file(&dir, "b.toml", &format!("{CHAT}[profiles.fast]\ncontext = 4096\n"));
        let (key, origin, message) = setting(sources(std::slice::from_ref(&b)).load().unwrap_err());
        assert_eq!(key, "profiles.fast.provider");
        assert_eq!(origin, Some(format!("file `{}`", b.display())));
        assert!(message.contains("missing"), "{message}");
    }

    #[test]
    fn a_bad_key_in_a_builtin_profile_names_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = file(&dir, "a.toml", &format!("{CHAT}[profiles.local]\ncontxt = 4096\n"));
        let (key, origin, message) = setting(sources(std::slice::from_ref(&a)).load().unwrap_err());
        assert_eq!(key, "profiles.local.contxt");
        assert_eq!(origin, Some(format!("file `{}`", a.display())));
        assert!(message.contains("`context`"), "{message}");
    }

    #[test]
    fn fallbacks_must_name_chat_profiles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = file(&dir, "a.toml", &format!("{CHAT}[profiles.local]\nfallback = [\"nope\"]\n"));
        let (key, origin, message) = setting(sources(std::slice::from_ref(&a)).load().unwrap_err());
        assert_eq!(key, "profiles.local.fallback");
        assert_eq!(origin, Some(format!("file `{}`", a.display())));
        assert_eq!(message, "unknown profile `nope`; expected one of `local` or `minilm`");
        let err = sources(&[]).with_overrides(["profiles.local.fallback=[\"minilm\"]"]).load_base();
        let (key, origin, message) = setting(err.unwrap_err());
        assert_eq!(key, "profiles.local.fallback");
        assert_eq!(origin.as_deref(), Some("override `-e profiles.local.fallback=[\"minilm\"]`"));
        assert!(message.contains("embedding profile"), "{message}");
    }

    #[test]
    fn llama_numbers_must_be_at_least_one() {
        for field in ["context", "slots", "batch", "threads"] {
            let arg = format!("profiles.local.{field}=0");
            let (key, origin, message) =
                setting(sources(&[]).with_overrides([&arg]).load_base().unwrap_err());
            assert_eq!(key, format!("profiles.local.{field}"));
            assert_eq!(origin, Some(format!("override `-e {arg}`")));
            assert_eq!(message, "expected at least 1, found 0");
        }
        assert!(sources(&[]).with_overrides(["profiles.local.threads=1"]).load_base().is_ok());
    }

    #[test]
    fn model_entries_must_be_installable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let entry = |name: &str, file: &str| {
            format!(
                "[[models]]\nname = \"{name}\"\nkind = \"chat\"\nformat = \"gguf\"\n\
                 files = [{{ name = \"{file}\" }}]\nsources = [{{ KIND = \"Local\", path = \"/x\" }}]\n"
            )
        };
        let good = file(&dir, "good.toml", &entry("mine", "m.gguf"));
        let base = sources(std::slice::from_ref(&good)).load_base().expect("valid entry");
        assert_eq!(base.models.len(), 1);
        let text = format!("{}{}", entry("mine", "m.gguf"), entry("evil", "../m.gguf"));
        let bad = file(&dir, "bad.toml", &text);
        let (key, origin, message) = setting(sources(std::slice::from_ref(&bad)).load_base().unwrap_err());
        assert_eq!(key, "models.1");
        assert_eq!(origin, Some(format!("file `{}`", bad.display())));
        assert!(message.contains("`evil`") && message.contains("`../m.gguf`"), "{message}");
    }

    #[test]
    fn job_profile_must_be_a_chat_profile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = file(&dir, "a.toml", CHAT);
        let (key, origin, message) =
            setting(sources(&[a]).with_overrides(["job.profile=minilm"]).load().unwrap_err());
        assert_eq!(key, "job.profile");
        assert_eq!(origin.as_deref(), Some("override `-e job.profile=minilm`"));
        assert!(message.contains("embedding profile"), "{message}");
    }

    #[test]
    fn top_level_unknown_key_and_missing_job() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = file(&dir, "a.toml", &format!("{CHAT}[loging]\nlevel = \"debug\"\n"));
        let (key, _, message) = setting(sources(&[a]).load().unwrap_err());
        assert_eq!(key, "loging");
        assert!(message.contains("`logging`"), "{message}");
        let b = file(&dir, "b.toml", "[logging]\nlevel = \"debug\"\n");
        let (key, _, _) = setting(sources(std::slice::from_ref(&b)).load().unwrap_err());
        assert_eq!(key, "job");
        let base = sources(&[b]).load_base().expect("base settings need no job");
        assert_eq!(base.logging.level, "debug");
    }

    #[test]
    fn printed_settings_load_back_unchanged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = file(
            &dir,
            "a.toml",
            &format!(
                "{CHAT}[profiles.local]\nfallback = [\"api\"]\n[profiles.api]\nprovider = \"openai\"\nmodel = \"m\"\n"
            ),
        );
        let settings = sources(&[a]).load().expect("valid");
        let text = toml::to_string_pretty(&settings).expect("serializes");
        assert!(text.contains("KIND = \"ChatJob\""), "{text}");
        let printed = file(&dir, "printed.toml", &text);
        assert_eq!(sources(&[printed]).load().expect("loads back"), settings);
    }
}
