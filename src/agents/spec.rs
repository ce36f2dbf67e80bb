//! The agent library: one declarative TOML file per agent in `agents/`, loaded and checked at
//! start (tools, prompt template, model profile, output schema) so that a mistake is an error
//! naming the file, not a failure in the middle of a conversation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AgentError;
use super::prompts::{PromptRef, PromptTemplate, Prompts};
use super::tools::ToolBox;

/// What an agent file declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Unique name (`market_analyst`); the file's stem by convention.
    pub name: String,
    /// What the agent does (shown by `bullpen agents list` and to the director).
    pub description: String,
    /// `analyst` (a tool-calling agent) or `director` (routes to other agents).
    #[serde(default)]
    pub kind: AgentKind,
    /// The role profile: who the agent is, rendered into its prompt.
    pub role: String,
    /// The prompt template in `prompts/` and its version.
    pub prompt: PromptRef,
    /// Tools the agent may call (names of built-in tools).
    #[serde(default)]
    pub tools: Vec<String>,
    /// The model profile.
    #[serde(default = "default_model")]
    pub model: String,
    /// Most model calls in one run.
    #[serde(default = "default_max_turns")]
    pub max_turns: u32,
    /// Most prompt + completion tokens in one run.
    #[serde(default = "default_token_budget")]
    pub token_budget: u32,
    /// Most tokens of one answer.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// The first model call must call a tool (gather data before answering).
    #[serde(default = "yes")]
    pub require_tool: bool,
    /// A JSON Schema file (relative to the agent file) the final answer must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<PathBuf>,
    /// Words in a request that route it to this agent (the director's first, model-free pass).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routing: Vec<String>,
    /// Director only: the agents it may route to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    /// Director only: the bull, bear and judge of a debate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debate: Option<DebateSpec>,
}

/// The parties of a debate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DebateSpec {
    pub bull: String,
    pub bear: String,
    pub judge: String,
}

/// Kind of agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    #[default]
    Analyst,
    Director,
}

fn default_model() -> String {
    "local".into()
}
fn default_max_turns() -> u32 {
    6
}
fn default_token_budget() -> u32 {
    16_000
}
fn default_max_tokens() -> u32 {
    256
}
fn yes() -> bool {
    true
}

/// A checked agent: its spec, its template and its output schema read.
#[derive(Debug, Clone)]
pub struct AgentDef {
    pub spec: AgentSpec,
    pub template: PromptTemplate,
    pub output_schema: Option<Value>,
    /// The file it was read from.
    pub file: PathBuf,
}

impl AgentDef {
    /// The agent's system prompt: its template rendered with its name, description, role,
    /// tools (`(name, description)`), the date it works as of, and the index ticker.
    pub fn system_prompt(
        &self,
        tools: &[(&str, &str)],
        today: &str,
        index: &str,
    ) -> Result<String, AgentError> {
        self.template.render(&serde_json::json!({
            "name": self.spec.name,
            "description": self.spec.description,
            "role": self.spec.role,
            "tools": tools.iter().map(|(n, d)| serde_json::json!({"name": n, "description": d})).collect::<Vec<_>>(),
            "today": today,
            "index": index,
        }))
    }
}

/// Every agent of a directory.
#[derive(Debug, Clone, Default)]
pub struct AgentLibrary {
    agents: BTreeMap<String, AgentDef>,
}

impl AgentLibrary {
    /// Reads every `*.toml` of `dir`, checking each against the tools, the templates of
    /// `prompts` and the model `profiles`; the first bad file is an error naming it.
    pub fn load(
        dir: &Path,
        prompts: &Prompts,
        tools: &ToolBox,
        profiles: &[String],
    ) -> Result<Self, AgentError> {
        let read_dir = std::fs::read_dir(dir).map_err(|e| AgentError::Library {
            file: dir.to_path_buf(),
            reason: format!("cannot read the agents directory: {e}"),
        })?;
        let mut files: Vec<PathBuf> = read_dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        let mut lib = Self::default();
        for file in files {
            let def = Self::load_file(&file, prompts, tools, profiles)?;
            if let Some(other) = lib.agents.get(&def.spec.name) {
                return Err(AgentError::Library {
                    file,
                    reason: format!(
                        "agent `{}` is already defined in {}",
                        def.spec.name,
                        other.file.display()
                    ),
                });
            }
            lib.agents.insert(def.spec.name.clone(), def);
        }
        if lib.agents.is_empty() {
            return Err(AgentError::Library {
                file: dir.to_path_buf(),
                reason: "no agent files (*.toml)".into(),
            });
        }
        lib.check_references()?;
        Ok(lib)
    }

    /// Reads and checks one agent file.
    pub fn load_file(
        file: &Path,
        prompts: &Prompts,
        tools: &ToolBox,
        profiles: &[String],
    ) -> Result<AgentDef, AgentError> {
        let bad = |reason: String| AgentError::Library { file: file.to_path_buf(), reason };
        let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read: {e}")))?;
        let spec: AgentSpec = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if spec.name.is_empty()
            || !spec.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad(format!("name `{}` must be letters, digits, `_` or `-`", spec.name)));
        }
        for tool in &spec.tools {
            if tools.get(tool).is_none() {
                return Err(bad(format!("unknown tool `{tool}`; known tools: {}", tools.names().join(", "))));
            }
        }
        if !profiles.contains(&spec.model) {
            return Err(bad(format!(
                "unknown model profile `{}`; known profiles: {}",
                spec.model,
                profiles.join(", ")
            )));
        }
        if spec.max_turns == 0 || spec.max_turns > 50 {
            return Err(bad(format!("max_turns must be 1 to 50, got {}", spec.max_turns)));
        }
        if spec.token_budget < 256 {
            return Err(bad(format!("token_budget must be at least 256, got {}", spec.token_budget)));
        }
        match spec.kind {
            AgentKind::Analyst if spec.require_tool && spec.tools.is_empty() => {
                return Err(bad("require_tool is set but the agent has no tools".into()));
            }
            AgentKind::Director if spec.agents.is_empty() => {
                return Err(bad("a director needs `agents` to route to".into()));
            }
            _ => {}
        }
        let template = prompts.get(&spec.prompt).map_err(|e| bad(e.to_string()))?;
        let output_schema = match &spec.output_schema {
            Some(rel) => {
                let path = file.parent().unwrap_or(Path::new(".")).join(rel);
                let (_, schema) = crate::jobs::base::read_schema(&path).map_err(|e| bad(e.to_string()))?;
                Some(schema)
            }
            None => None,
        };
        Ok(AgentDef { spec, template, output_schema, file: file.to_path_buf() })
    }

    /// Directors may only name agents of the library.
    fn check_references(&self) -> Result<(), AgentError> {
        for def in self.agents.values() {
            let mut names: Vec<&String> = def.spec.agents.iter().collect();
            if let Some(d) = &def.spec.debate {
                names.extend([&d.bull, &d.bear, &d.judge]);
            }
            for name in names {
                if !self.agents.contains_key(name) {
                    return Err(AgentError::Library {
                        file: def.file.clone(),
                        reason: format!(
                            "names agent `{name}`, which is not in the library ({})",
                            self.names().join(", ")
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<&AgentDef, AgentError> {
        self.agents.get(name).ok_or_else(|| AgentError::UnknownAgent {
            name: name.to_string(),
            known: self.names().join(", "),
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.agents.keys().cloned().collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &AgentDef> {
        self.agents.values()
    }

    /// Adds a checked agent (tests and embedding applications).
    pub fn insert(&mut self, def: AgentDef) {
        self.agents.insert(def.spec.name.clone(), def);
    }
}
