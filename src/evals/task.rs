//! What an evaluation is made of, as configuration: the task (dataset, prompt template, parser,
//! metrics, few-shot pool) and its variants (prompt versions × profiles × parameters × agents).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::EvalError;
use super::dataset::DatasetSpec;
use super::parse::ParserSpec;

/// One task: items, how each becomes a prompt, how an answer is read and scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// One line on what the task measures (shown in the summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub dataset: DatasetSpec,
    /// The prompt template: `prompts/<prompt>/<version>.md`; variants choose the version. The
    /// template sees the item's fields, `examples` (few-shot items, each with its fields) and `labels`.
    pub prompt: String,
    /// A system message sent before the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The item field holding the gold answer.
    pub gold: String,
    /// The item field holding a table (rows of cells) for FinQA programs, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The item field holding the answer's scale (`thousand`, `million`, `percent`, …), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<String>,
    pub parser: ParserSpec,
    /// Metrics reported (invalid rate, latency, tokens and cost always are).
    pub metrics: Vec<Metric>,
    /// The metric ranked on, with a bootstrap interval and the paired comparison (default: the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<Metric>,
    #[serde(default)]
    pub fewshot: FewShotSpec,
    /// Most tokens of one answer (a variant may override).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Text fields cut to at most this many characters before rendering (long transcripts).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub truncate: BTreeMap<String, usize>,
}

fn default_max_tokens() -> u32 {
    48
}

/// How few-shot examples are drawn (the count is a variant parameter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FewShotSpec {
    /// Where examples come from (default: the task's own items, never the item being asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<DatasetSpec>,
    #[serde(default)]
    pub strategy: FewShotStrategy,
    /// The item field compared for `nearest` (default: the first string field of the prompt, `text`).
    #[serde(default = "default_key")]
    pub key: String,
    /// The embedding profile for `nearest`.
    #[serde(default = "default_embedder")]
    pub embedder: String,
}

impl Default for FewShotSpec {
    fn default() -> Self {
        Self {
            pool: None,
            strategy: FewShotStrategy::default(),
            key: default_key(),
            embedder: default_embedder(),
        }
    }
}

fn default_key() -> String {
    "text".into()
}

fn default_embedder() -> String {
    "minilm".into()
}

/// How examples are chosen for an item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FewShotStrategy {
    /// The first k of the pool, the same for every item.
    #[default]
    Fixed,
    /// k drawn at random per item, from the run's seed and the item's position.
    Random,
    /// The k pool items whose `key` field is nearest to the item's by embedding (cosine).
    Nearest,
}

/// A metric of the summary table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Accuracy,
    MacroF1,
    WeightedF1,
    Mcc,
    ExactMatch,
    /// Numbers within the parser's tolerance and scale (same as accuracy for numeric parsers).
    NumericMatch,
    /// SQuAD-style token F1 of text answers.
    TokenF1,
    EntityF1,
    EntityPrecision,
    EntityRecall,
    Rouge1,
    Rouge2,
    RougeL,
    /// Share of items without a valid answer (lower is better).
    InvalidRate,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::MacroF1 => "macro_f1",
            Metric::WeightedF1 => "weighted_f1",
            Metric::Mcc => "mcc",
            Metric::ExactMatch => "exact_match",
            Metric::NumericMatch => "numeric_match",
            Metric::TokenF1 => "token_f1",
            Metric::EntityF1 => "entity_f1",
            Metric::EntityPrecision => "entity_precision",
            Metric::EntityRecall => "entity_recall",
            Metric::Rouge1 => "rouge1",
            Metric::Rouge2 => "rouge2",
            Metric::RougeL => "rouge_l",
            Metric::InvalidRate => "invalid_rate",
        }
    }

    /// Whether a higher value is better.
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::InvalidRate)
    }
}

/// One variant: a prompt version, a profile, parameters, optionally an agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Default: built from what differs (`v1·local·t0·k0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The prompt template's version (`prompts/<task.prompt>/<version>.md`).
    #[serde(default = "default_version")]
    pub prompt: String,
    /// The chat profile (local GGUF with or without LoRA adapters, hosted API).
    #[serde(default = "default_profile")]
    pub profile: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Few-shot examples per item.
    #[serde(default)]
    pub fewshot: usize,
    /// Overrides the task's few-shot strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<FewShotStrategy>,
    /// Overrides the task's parser (FinQA: a program the calculator runs, or a number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parser: Option<ParserSpec>,
    /// Ask an agent of the library (with its tools and its own profile) instead of a bare model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

fn default_version() -> String {
    "v1".into()
}

fn default_profile() -> String {
    "local".into()
}

/// A cross product of variant parameters; each list defaults to one default value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixSpec {
    #[serde(default)]
    pub prompts: Vec<String>,
    #[serde(default)]
    pub profiles: Vec<String>,
    #[serde(default)]
    pub temperatures: Vec<f32>,
    #[serde(default)]
    pub fewshot: Vec<usize>,
    /// Agent names; `""` means the bare model.
    #[serde(default)]
    pub agents: Vec<String>,
}

/// A variant with its name settled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    pub name: String,
    #[serde(flatten)]
    pub spec: VariantSpec,
}

/// Every variant of a job: the explicit ones, then the matrix's, named and checked for clashes;
/// `only` keeps the named ones (in their declared order).
pub fn expand(
    variants: &[VariantSpec],
    matrix: Option<&MatrixSpec>,
    only: &[String],
) -> Result<Vec<Variant>, EvalError> {
    let mut specs: Vec<VariantSpec> = variants.to_vec();
    if let Some(m) = matrix {
        let or_default = |v: &[String], d: &str| if v.is_empty() { vec![d.to_string()] } else { v.to_vec() };
        let prompts = or_default(&m.prompts, "v1");
        let profiles = or_default(&m.profiles, "local");
        let temps: Vec<Option<f32>> = if m.temperatures.is_empty() {
            vec![None]
        } else {
            m.temperatures.iter().map(|t| Some(*t)).collect()
        };
        let shots = if m.fewshot.is_empty() { vec![0] } else { m.fewshot.clone() };
        let agents: Vec<Option<String>> = if m.agents.is_empty() {
            vec![None]
        } else {
            m.agents.iter().map(|a| (!a.is_empty()).then(|| a.clone())).collect()
        };
        for prompt in &prompts {
            for profile in &profiles {
                for t in &temps {
                    for k in &shots {
                        for agent in &agents {
                            specs.push(VariantSpec {
                                prompt: prompt.clone(),
                                profile: profile.clone(),
                                temperature: *t,
                                fewshot: *k,
                                agent: agent.clone(),
                                ..VariantSpec::default()
                            });
                        }
                    }
                }
            }
        }
    }
    if specs.is_empty() {
        specs.push(VariantSpec {
            prompt: default_version(),
            profile: default_profile(),
            ..Default::default()
        });
    }
    let mut out: Vec<Variant> = Vec::new();
    let mut seen = BTreeSet::new();
    for spec in specs {
        let name = spec.name.clone().unwrap_or_else(|| auto_name(&spec));
        if name.trim().is_empty() {
            return Err(EvalError::Config("a variant's name is empty".into()));
        }
        if !seen.insert(name.clone()) {
            return Err(EvalError::Config(format!(
                "two variants are named `{name}`: give one a `name` (or change what differs)"
            )));
        }
        if let Some(t) = spec.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(EvalError::Config(format!("variant `{name}`: temperature {t} is outside 0..=2")));
        }
        out.push(Variant { name, spec });
    }
    if !only.is_empty() {
        let known: BTreeMap<&str, ()> = out.iter().map(|v| (v.name.as_str(), ())).collect();
        if let Some(missing) = only.iter().find(|n| !known.contains_key(n.as_str())) {
            let names: Vec<&str> = out.iter().map(|v| v.name.as_str()).collect();
            return Err(EvalError::Config(format!(
                "no variant named `{missing}`; the variants are {}",
                names.join(", ")
            )));
        }
        out.retain(|v| only.contains(&v.name));
    }
    Ok(out)
}

/// `v1·local·t0·k0` (+ `·agent`), from the variant's parameters.
fn auto_name(v: &VariantSpec) -> String {
    let mut parts = vec![v.prompt.clone(), v.profile.clone()];
    if let Some(t) = v.temperature {
        parts.push(format!("t{t}"));
    }
    parts.push(format!("k{}", v.fewshot));
    if let Some(a) = &v.agent {
        parts.push(a.clone());
    }
    parts.join("·")
}

impl TaskSpec {
    /// The main metric.
    pub fn main_metric(&self) -> Result<Metric, EvalError> {
        let main = self
            .main
            .or_else(|| self.metrics.first().copied())
            .ok_or_else(|| EvalError::Config("`task.metrics` is empty".into()))?;
        if !main.higher_is_better() {
            return Err(EvalError::Config(format!("`{}` cannot be the main metric", main.name())));
        }
        Ok(main)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_is_a_cross_product_with_stable_names() {
        let m = MatrixSpec {
            prompts: vec!["v1".into(), "v2".into()],
            temperatures: vec![0.0, 0.7],
            fewshot: vec![0, 3],
            ..Default::default()
        };
        let v = expand(&[], Some(&m), &[]).unwrap();
        assert_eq!(v.len(), 8);
        assert_eq!(v[0].name, "v1·local·t0·k0");
        assert_eq!(v[7].name, "v2·local·t0.7·k3");
        let only = expand(&[], Some(&m), &["v2·local·t0·k3".into()]).unwrap();
        assert_eq!(only.len(), 1);
        let err = expand(&[], Some(&m), &["nope".into()]).unwrap_err().to_string();
        assert!(err.contains("no variant named `nope`") && err.contains("v1·local·t0·k0"), "{err}");
    }

    #[test]
    fn an_absent_fewshot_table_has_the_documented_defaults() {
        let f = FewShotSpec::default();
        assert_eq!(
            (f.key.as_str(), f.embedder.as_str(), f.strategy),
            ("text", "minilm", FewShotStrategy::Fixed)
        );
        let parsed: FewShotSpec = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, f);
    }

    #[test]
    fn clashing_names_and_bad_temperatures_are_refused() {
        let a = VariantSpec { prompt: "v1".into(), profile: "local".into(), ..Default::default() };
        let err = expand(&[a.clone(), a.clone()], None, &[]).unwrap_err().to_string();
        assert!(err.contains("two variants are named `v1·local·k0`"), "{err}");
        let hot = VariantSpec { temperature: Some(9.0), ..a };
        assert!(expand(&[hot], None, &[]).unwrap_err().to_string().contains("temperature 9"));
    }
}
