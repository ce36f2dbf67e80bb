//! Versioned prompt templates: `prompts/<name>/<version>.md`, rendered with minijinja. The
//! template name and version of every model call go into the run's audit log.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::AgentError;

/// A template by name and version (`{ template = "analyst", version = "v1" }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptRef {
    pub template: String,
    pub version: String,
}

/// A template read from disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PromptTemplate {
    pub name: String,
    pub version: String,
    pub source: String,
    pub path: PathBuf,
}

impl PromptTemplate {
    /// Renders the template with `context` (strict: an undefined variable is an error).
    pub fn render(&self, context: &serde_json::Value) -> Result<String, AgentError> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let bad =
            |e: minijinja::Error| AgentError::Template { path: self.path.clone(), reason: format!("{e:#}") };
        env.add_template("t", &self.source).map_err(bad)?;
        let t = env.get_template("t").map_err(bad)?;
        t.render(context).map(|s| s.trim().to_string()).map_err(bad)
    }
}

/// The templates directory.
#[derive(Debug, Clone)]
pub struct Prompts {
    pub dir: PathBuf,
}

impl Prompts {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Reads `<dir>/<template>/<version>.md` and checks that it parses.
    pub fn get(&self, r: &PromptRef) -> Result<PromptTemplate, AgentError> {
        let safe = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                && !s.starts_with('.')
        };
        let path = self.dir.join(&r.template).join(format!("{}.md", r.version));
        if !safe(&r.template) || !safe(&r.version) {
            return Err(AgentError::Template {
                path,
                reason: "template and version must be plain names".into(),
            });
        }
        let source = std::fs::read_to_string(&path).map_err(|e| AgentError::Template {
            path: path.clone(),
            reason: format!("missing prompt template `{}` version `{}`: {e}", r.template, r.version),
        })?;
        let t = PromptTemplate { name: r.template.clone(), version: r.version.clone(), source, path };
        let mut env = minijinja::Environment::new();
        env.add_template("t", &t.source)
            .map_err(|e| AgentError::Template { path: t.path.clone(), reason: format!("{e:#}") })?;
        Ok(t)
    }
}

/// `./<name>` when it exists, else the repository's copy (beside `Cargo.toml`).
pub fn default_dir(name: &str) -> PathBuf {
    let local = Path::new(name);
    if local.is_dir() {
        return local.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}
