//! Running an evaluation: every variant on the same items in the same order, requests in flight
//! `concurrency` at a time through the model layer (the local engine batches them), answers
//! cached by content, each parsed and scored against the gold answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::EvalError;
use super::cache::{self, AnswerCache, CachedAnswer};
use super::dataset::{self, Dataset, DatasetSpec, Item};
use super::fewshot;
use super::parse::{Answer, ItemContext, ParserSpec};
use super::summary::{self, Summary};
use super::task::{FewShotStrategy, Variant};
use crate::agents::prompts::{PromptRef, PromptTemplate, Prompts, default_dir};
use crate::agents::{AgentRuntime, DirectorMode, Events, RunStatus};
use crate::io::tracking::{LocalTracker, RunState, TrackedRun, Tracker};
use crate::jobs::JobContext;
use crate::llm::{ChatModel, ChatRequest, Message};
use crate::settings::{AgentJob, EvaluationJob};
use crate::utils::progress;

/// One item answered by one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    pub variant: String,
    /// Position in the dataset: every variant sees the same items in the same order.
    pub index: usize,
    pub id: String,
    /// The item's line in the dataset file.
    pub line: usize,
    /// The prompt as sent (the user message; few-shot examples included).
    pub prompt: String,
    /// The model's raw output (absent when the call failed).
    pub output: Option<String>,
    /// The parsed answer (absent when the output could not be parsed).
    pub answer: Option<Answer>,
    pub gold: Answer,
    pub correct: bool,
    /// Why the output is not a valid answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
    /// Why the model call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u64,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// Answered from the cache (latency and tokens are those of the original call).
    pub cached: bool,
    /// Ids of the few-shot examples.
    pub examples: Vec<String>,
}

impl ItemResult {
    /// No valid answer: the call failed or the output did not parse.
    pub fn is_invalid(&self) -> bool {
        self.answer.is_none()
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct EvalOutcome {
    pub run_id: String,
    /// `out/<name>/<run id>/`.
    pub dir: PathBuf,
    pub dataset: PathBuf,
    pub items: Vec<ItemResult>,
    pub summary: Summary,
    /// Requests sent to a model (the rest came from the cache).
    pub model_calls: usize,
    pub cached: usize,
}

/// How a variant gets its answers.
enum Answerer {
    Model(Arc<dyn ChatModel>),
    Agent(Arc<AgentRuntime>, String),
}

/// A variant ready to run.
struct Prepared {
    variant: Variant,
    template: PromptTemplate,
    parser: ParserSpec,
    strategy: FewShotStrategy,
    answerer: Answerer,
    /// What identifies the answers besides the request (model, adapters, agent files).
    identity: Value,
    max_tokens: u32,
}

/// Run an evaluation job and write its results.
pub async fn evaluate(job: &EvaluationJob, ctx: &JobContext) -> Result<EvalOutcome, EvalError> {
    let task = &job.task;
    let main = task.main_metric()?;
    task.parser.check().map_err(|e| EvalError::Config(format!("task.parser: {e}")))?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if job.name.is_empty() || job.name.starts_with('.') || !job.name.chars().all(plain) {
        return Err(EvalError::Config(format!(
            "`name` `{}` must be a plain name (letters, digits, `_`, `-`, `.`): it names the results directory",
            job.name
        )));
    }
    if job.concurrency == 0 {
        return Err(EvalError::Config("`concurrency` must be at least 1".into()));
    }
    if job.limit == Some(0) {
        return Err(EvalError::Config("`limit` must be at least 1".into()));
    }
    let variants = super::task::expand(&job.variants, job.matrix.as_ref(), &job.only)?;
    let baseline = match &job.baseline {
        Some(b) if job.only.is_empty() || job.only.contains(b) => {
            if !variants.iter().any(|v| &v.name == b) {
                let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                return Err(EvalError::Config(format!(
                    "baseline `{b}` is not a variant; the variants are {}",
                    names.join(", ")
                )));
            }
            b.clone()
        }
        _ => variants.first().map(|v| v.name.clone()).unwrap_or_default(),
    };

    // Items: the same for every variant, in file order.
    let data = load_dataset(&task.dataset)?;
    let pool_data = match &task.fewshot.pool {
        Some(spec) if variants.iter().any(|v| v.spec.fewshot > 0) => Some(load_dataset(spec)?),
        _ => None,
    };
    let mut items = match job.sample {
        Some(0) => return Err(EvalError::Config("`sample` must be at least 1".into())),
        Some(n) if n < data.items.len() => {
            let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(job.seed);
            let mut picked = rand::seq::index::sample(&mut rng, data.items.len(), n).into_vec();
            picked.sort_unstable();
            picked.into_iter().filter_map(|i| data.items.get(i).cloned()).collect()
        }
        _ => data.items.clone(),
    };
    if let Some(limit) = job.limit {
        items.truncate(limit);
    }
    let pool: &[Item] = pool_data.as_ref().map(|d| d.items.as_slice()).unwrap_or(&data.items);
    let pool_is_dataset = pool_data.is_none();
    let golds = gold_answers(task, &variants, &items, &data)?;

    let prompts = Prompts::new(job.prompts_dir.clone().unwrap_or_else(|| default_dir("prompts")));
    let mut agents: Option<Arc<AgentRuntime>> = None;
    let mut prepared = Vec::new();
    for variant in &variants {
        prepared.push(prepare(job, ctx, &prompts, variant, &mut agents).await?);
    }
    let similarities = nearest_scores(job, ctx, &prepared, &items, pool).await?;

    let tracker = LocalTracker::new(ctx.home.join("tracking"));
    let tags =
        BTreeMap::from([("kind".to_string(), "evaluation".to_string()), ("task".into(), job.name.clone())]);
    let run = tracker.start_run(&format!("evals/{}", job.name), &job.name, &tags).await?;
    let params = BTreeMap::from([
        ("dataset".to_string(), data.path.display().to_string()),
        ("items".into(), items.len().to_string()),
        ("sample".into(), job.sample.map(|n| n.to_string()).unwrap_or_else(|| "all".into())),
        ("variants".into(), variants.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ")),
        ("baseline".into(), baseline.clone()),
        ("seed".into(), job.seed.to_string()),
        ("concurrency".into(), job.concurrency.to_string()),
        ("main_metric".into(), main.name().to_string()),
    ]);
    tracker.log_params(&run, &params).await?;

    let result = run_variants(
        job,
        ctx,
        &prepared,
        &items,
        pool,
        pool_is_dataset,
        &golds,
        &similarities,
        &tracker,
        &run,
    )
    .await;
    let (results, calls, cached) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = tracker.end_run(&run, RunState::Failed).await;
            return Err(e);
        }
    };
    let summary = summary::summarize(task, &variants, &prepared_parsers(&prepared), &results, &baseline, job);
    let dir = job.out.join(&job.name).join(&run.id);
    let finish = async {
        let files = super::output::write_all(&dir, job, &data.path, &summary, &results)?;
        for file in &files {
            tracker.log_artifact(&run, file).await?;
        }
        tracker.log_metrics(&run, &summary.tracked_metrics(), variants.len() as u64).await?;
        Ok::<_, EvalError>(())
    };
    if let Err(e) = finish.await {
        let _ = tracker.end_run(&run, RunState::Failed).await;
        return Err(e);
    }
    tracker.end_run(&run, RunState::Finished).await?;
    Ok(EvalOutcome {
        run_id: run.id,
        dir,
        dataset: data.path,
        items: results,
        summary,
        model_calls: calls,
        cached,
    })
}

/// The parser of each variant, by name.
fn prepared_parsers(prepared: &[Prepared]) -> BTreeMap<String, ParserSpec> {
    prepared.iter().map(|p| (p.variant.name.clone(), p.parser.clone())).collect()
}

/// Dataset paths are tried as given (relative to the working directory), then relative to the
/// repository, so `bullpen eval confs/evals/…` works from anywhere in a checkout.
fn load_dataset(spec: &DatasetSpec) -> Result<Dataset, EvalError> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut resolved = spec.clone();
    resolved.paths = spec
        .paths
        .iter()
        .flat_map(|p| if p.is_relative() { vec![p.clone(), repo.join(p)] } else { vec![p.clone()] })
        .collect();
    match dataset::load(&resolved, Path::new("")) {
        Err(dataset::DatasetError::Missing(_)) => {
            Err(dataset::DatasetError::Missing(spec.paths.clone()).into())
        }
        other => Ok(other?),
    }
}

/// The gold answer of every item under every parser in use; an item whose gold cannot be read is
/// an error naming its line, before any model runs.
fn gold_answers(
    task: &super::TaskSpec,
    variants: &[Variant],
    items: &[Item],
    data: &Dataset,
) -> Result<BTreeMap<String, Vec<Answer>>, EvalError> {
    let mut golds = BTreeMap::new();
    let mut bad = Vec::new();
    for variant in variants {
        let parser = variant.spec.parser.as_ref().unwrap_or(&task.parser);
        parser.check().map_err(|e| EvalError::Config(format!("variant `{}`: parser: {e}", variant.name)))?;
        let key = parser_key(parser);
        if golds.contains_key(&key) {
            continue;
        }
        let mut answers = Vec::with_capacity(items.len());
        for item in items {
            let table = table_of(task, item);
            let ctx = ItemContext { table: table.as_deref(), scale: scale_of(task, item) };
            let Some(value) = item.fields.get(&task.gold) else {
                bad.push(format!("line {} (item {}): no field `{}`", item.line, item.id, task.gold));
                continue;
            };
            match parser.gold(value, &ctx) {
                Ok(a) => answers.push(a),
                Err(e) => bad.push(format!("line {} (item {}): gold {value}: {e}", item.line, item.id)),
            }
        }
        golds.insert(key, answers);
    }
    if !bad.is_empty() {
        let count = bad.len();
        bad.truncate(10);
        return Err(EvalError::Config(format!(
            "`{}`: {count} item(s) whose gold answer cannot be read: {}",
            data.path.display(),
            bad.join("; ")
        )));
    }
    Ok(golds)
}

fn parser_key(parser: &ParserSpec) -> String {
    serde_json::to_string(parser).unwrap_or_default()
}

/// The item's table (rows of cells), when the task names a table field.
fn table_of(task: &super::TaskSpec, item: &Item) -> Option<Vec<Vec<String>>> {
    let rows = item.fields.get(task.table.as_deref()?)?.as_array()?;
    Some(
        rows.iter()
            .map(|row| match row {
                Value::Array(cells) => cells.iter().map(cell_text).collect(),
                other => vec![cell_text(other)],
            })
            .collect(),
    )
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn scale_of<'a>(task: &super::TaskSpec, item: &'a Item) -> Option<&'a str> {
    item.fields.get(task.scale.as_deref()?)?.as_str()
}

/// Resolve a variant: its template, parser and how it answers (a profile's model or an agent).
async fn prepare(
    job: &EvaluationJob,
    ctx: &JobContext,
    prompts: &Prompts,
    variant: &Variant,
    agents: &mut Option<Arc<AgentRuntime>>,
) -> Result<Prepared, EvalError> {
    let task = &job.task;
    let spec = &variant.spec;
    let named = |e: String| EvalError::Config(format!("variant `{}`: {e}", variant.name));
    let template = prompts
        .get(&PromptRef { template: task.prompt.clone(), version: spec.prompt.clone() })
        .map_err(|e| EvalError::Template(format!("variant `{}`: {e}", variant.name)))?;
    let parser = spec.parser.clone().unwrap_or_else(|| task.parser.clone());
    let strategy = spec.strategy.unwrap_or(task.fewshot.strategy);
    let (answerer, identity) = match &spec.agent {
        None => {
            let profile = ctx.registry.profile(&spec.profile).map_err(|e| named(e.to_string()))?;
            let identity = cache::model_identity(profile);
            let model = ctx.chat_model(&spec.profile).await.map_err(|e| named(e.to_string()))?;
            (Answerer::Model(model), identity)
        }
        Some(agent) => {
            let runtime = match agents {
                Some(r) => r.clone(),
                None => {
                    let mut aj = AgentJob::new(agent, None);
                    aj.agents_dir = job.agents_dir.clone();
                    aj.prompts_dir = job.prompts_dir.clone();
                    aj.data = job.data.clone();
                    aj.as_of = job.as_of;
                    let r = Arc::new(aj.runtime(ctx).await.map_err(|e| named(e.to_string()))?);
                    *agents = Some(r.clone());
                    r
                }
            };
            let def = runtime.library.get(agent).map_err(|e| named(e.to_string()))?;
            let profile = ctx.registry.profile(&def.spec.model).map_err(|e| named(e.to_string()))?;
            let identity = json!({
                "agent": def.spec,
                "template": def.template.source,
                "model": cache::model_identity(profile),
                "as_of": job.as_of,
                "data": job.data,
            });
            (Answerer::Agent(runtime.clone(), agent.clone()), identity)
        }
    };
    Ok(Prepared {
        variant: variant.clone(),
        template,
        parser,
        strategy,
        answerer,
        identity,
        max_tokens: spec.max_tokens.unwrap_or(task.max_tokens),
    })
}

/// Item × pool similarities, when a variant draws its examples by embedding.
async fn nearest_scores(
    job: &EvaluationJob,
    ctx: &JobContext,
    prepared: &[Prepared],
    items: &[Item],
    pool: &[Item],
) -> Result<Option<Vec<Vec<f32>>>, EvalError> {
    if !prepared.iter().any(|p| p.strategy == FewShotStrategy::Nearest && p.variant.spec.fewshot > 0) {
        return Ok(None);
    }
    let key = &job.task.fewshot.key;
    let text = |item: &Item| -> Result<String, EvalError> {
        match item.fields.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Ok(other.to_string()),
            None => Err(EvalError::Config(format!(
                "few-shot `key` field `{key}` is missing from item {} (line {})",
                item.id, item.line
            ))),
        }
    };
    let embedder =
        ctx.embedder(&job.task.fewshot.embedder).await.map_err(|e| EvalError::Model(e.to_string()))?;
    let item_texts: Vec<String> = items.iter().map(text).collect::<Result<_, _>>()?;
    let pool_texts: Vec<String> = pool.iter().map(text).collect::<Result<_, _>>()?;
    let embed = |texts: Vec<String>| {
        let embedder = embedder.clone();
        async move { embedder.embed(&texts).await.map(|e| e.vectors).map_err(|e| EvalError::Model(e.to_string())) }
    };
    let item_vectors = embed(item_texts).await?;
    let pool_vectors = embed(pool_texts).await?;
    Ok(Some(fewshot::similarities(&item_vectors, &pool_vectors)))
}

#[allow(clippy::too_many_arguments)]
async fn run_variants(
    job: &EvaluationJob,
    ctx: &JobContext,
    prepared: &[Prepared],
    items: &[Item],
    pool: &[Item],
    pool_is_dataset: bool,
    golds: &BTreeMap<String, Vec<Answer>>,
    similarities: &Option<Vec<Vec<f32>>>,
    tracker: &LocalTracker,
    run: &TrackedRun,
) -> Result<(Vec<ItemResult>, usize, usize), EvalError> {
    let cache = job.cache.then(|| AnswerCache::new(ctx.home.join("cache").join("evals")));
    let show = job.print && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut all = Vec::with_capacity(items.len() * prepared.len());
    let (mut calls, mut cached) = (0, 0);
    for (step, p) in prepared.iter().enumerate() {
        let gold = golds.get(&parser_key(&p.parser)).map(Vec::as_slice).unwrap_or(&[]);
        let bar = progress::bar(
            show,
            Some(items.len() as u64),
            "{prefix:>18} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
            "{prefix} {spinner}",
        );
        bar.set_prefix(p.variant.name.clone());
        let started = Instant::now();
        // By index: a closure over references would need to be generic over their lifetimes.
        let futures = (0..items.len().min(gold.len())).map(|i| {
            let (item, gold) = (&items[i], &gold[i]);
            let cache = cache.as_ref();
            let bar = bar.clone();
            let scores = similarities.as_ref().and_then(|s| s.get(i)).map(Vec::as_slice);
            async move {
                let r = answer_item(job, p, item, gold, pool, pool_is_dataset, scores, cache).await;
                bar.inc(1);
                r
            }
        });
        let mut results: Vec<(ItemResult, Source)> =
            futures::stream::iter(futures).buffer_unordered(job.concurrency).collect::<Vec<_>>().await;
        bar.finish_and_clear();
        results.sort_by_key(|(r, _)| r.index);
        let hits = results.iter().filter(|(_, s)| *s == Source::Cache).count();
        let sent = results.iter().filter(|(_, s)| *s == Source::Model).count();
        cached += hits;
        calls += sent;
        let done: Vec<ItemResult> = results.into_iter().map(|(r, _)| r).collect();
        let correct = done.iter().filter(|r| r.correct).count();
        tracing::info!(
            variant = %p.variant.name,
            items = done.len(),
            correct,
            cached = hits,
            seconds = started.elapsed().as_secs_f64(),
            "variant evaluated"
        );
        let mut metrics = BTreeMap::new();
        metrics
            .insert(format!("{}/correct_share", p.variant.name), correct as f64 / done.len().max(1) as f64);
        tracker.log_metrics(run, &metrics, step as u64).await?;
        all.extend(done);
    }
    Ok((all, calls, cached))
}

/// Where an item's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Cache,
    /// The model (or agent) was asked, whether or not it answered.
    Model,
    /// Nothing was asked (the prompt could not be rendered).
    None,
}

/// Ask one item.
#[allow(clippy::too_many_arguments)]
async fn answer_item(
    job: &EvaluationJob,
    p: &Prepared,
    item: &Item,
    gold: &Answer,
    pool: &[Item],
    pool_is_dataset: bool,
    scores: Option<&[f32]>,
    cache: Option<&AnswerCache>,
) -> (ItemResult, Source) {
    let task = &job.task;
    let own = pool_is_dataset.then_some(item.index);
    let chosen =
        fewshot::choose(p.strategy, p.variant.spec.fewshot, pool.len(), own, job.seed, item.index, scores);
    let examples: Vec<&Item> = chosen.iter().filter_map(|i| pool.get(*i)).collect();
    let mut result = ItemResult {
        variant: p.variant.name.clone(),
        index: item.index,
        id: item.id.clone(),
        line: item.line,
        prompt: String::new(),
        output: None,
        answer: None,
        gold: gold.clone(),
        correct: false,
        invalid: None,
        error: None,
        latency_ms: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        cached: false,
        examples: examples.iter().map(|e| e.id.clone()).collect(),
    };
    let prompt = match render(&p.template, item, &examples, &p.parser, &task.truncate) {
        Ok(prompt) => prompt,
        Err(e) => {
            result.error = Some(e);
            return (result, Source::None);
        }
    };
    result.prompt = prompt.clone();
    let mut messages = Vec::new();
    if let Some(system) = &task.system {
        messages.push(Message::system(system.clone()));
    }
    messages.push(Message::user(prompt));
    let mut request = ChatRequest::new(messages).max_tokens(p.max_tokens);
    request.params.temperature = Some(p.variant.spec.temperature.unwrap_or(0.0));
    request.params.seed = Some(job.seed);
    if let Some(schema) = p.parser.label_schema() {
        request = request.with_schema("label", schema);
    }
    let key = cache::key(&p.identity, &serde_json::to_value(&request).unwrap_or(Value::Null));
    let hit = cache.and_then(|c| c.get(&key));
    let from_cache = hit.is_some();
    let answer = match hit {
        Some(a) => Ok(a),
        None => call(&p.answerer, request).await,
    };
    match answer {
        Ok(a) => {
            if !from_cache
                && let Some(c) = cache
                && let Err(e) = c.put(&key, &a)
            {
                tracing::warn!(error = %e, "answer not cached");
            }
            result.latency_ms = a.latency_ms;
            result.prompt_tokens = a.prompt_tokens;
            result.completion_tokens = a.completion_tokens;
            result.cached = from_cache;
            let table = table_of(task, item);
            let ctx = ItemContext { table: table.as_deref(), scale: scale_of(task, item) };
            match p.parser.parse(&a.text, &ctx) {
                Ok(answer) => {
                    result.correct = p.parser.is_correct(&answer, gold);
                    result.answer = Some(answer);
                }
                Err(e) => result.invalid = Some(e.to_string()),
            }
            result.output = Some(a.text);
        }
        Err(e) => result.error = Some(e.to_string()),
    }
    (result, if from_cache { Source::Cache } else { Source::Model })
}

/// The user prompt of an item: the template with the item's fields, its examples and the labels.
fn render(
    template: &PromptTemplate,
    item: &Item,
    examples: &[&Item],
    parser: &ParserSpec,
    truncate: &BTreeMap<String, usize>,
) -> Result<String, String> {
    let cut = |fields: &Map<String, Value>| -> Map<String, Value> {
        let mut fields = fields.clone();
        for (name, max) in truncate {
            if let Some(Value::String(text)) = fields.get_mut(name)
                && let Some((at, _)) = text.char_indices().nth(*max)
            {
                text.truncate(at);
                text.push('…');
            }
        }
        fields
    };
    let mut context: Map<String, Value> = cut(&item.fields);
    context.insert(
        "examples".into(),
        Value::Array(examples.iter().map(|e| Value::Object(cut(&e.fields))).collect()),
    );
    if let ParserSpec::Label { labels, .. } = parser {
        context.insert("labels".into(), json!(labels));
    }
    template.render(&Value::Object(context)).map_err(|e| e.to_string())
}

/// One answer from the variant's model or agent.
async fn call(answerer: &Answerer, request: ChatRequest) -> Result<CachedAnswer, EvalError> {
    let started = Instant::now();
    match answerer {
        Answerer::Model(model) => {
            let r = model.chat(request).await.map_err(|e| EvalError::Model(e.to_string()))?;
            Ok(CachedAnswer {
                text: r.text,
                prompt_tokens: r.usage.prompt_tokens,
                completion_tokens: r.usage.completion_tokens,
                latency_ms: started.elapsed().as_millis() as u64,
                model: r.model,
            })
        }
        Answerer::Agent(runtime, agent) => {
            let input: Vec<Message> =
                request.messages.into_iter().filter(|m| m.role != crate::llm::Role::System).collect();
            let r = runtime
                .run(agent, input, DirectorMode::Route, &Events::default(), None)
                .await
                .map_err(|e| EvalError::Model(e.to_string()))?;
            match (r.status, r.answer) {
                (RunStatus::Completed, Some(text)) => Ok(CachedAnswer {
                    text,
                    prompt_tokens: r.usage.prompt_tokens,
                    completion_tokens: r.usage.completion_tokens,
                    latency_ms: r.latency_ms,
                    model: format!("agent:{agent}"),
                }),
                (status, _) => Err(EvalError::Model(format!(
                    "agent `{agent}` run {} ended {status:?}{}",
                    r.run_id,
                    r.error.map(|e| format!(": {e}")).unwrap_or_default()
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(index: usize, text: &str, label: &str) -> Item {
        let mut fields = Map::new();
        fields.insert("text".into(), json!(text));
        fields.insert("label".into(), json!(label));
        Item { index, id: index.to_string(), line: index + 1, fields }
    }

    #[test]
    fn prompts_show_the_examples_labels_and_cut_fields() {
        let template = PromptTemplate {
            name: "t".into(),
            version: "v1".into(),
            source: "{{ labels | join(\", \") }}\n{% for ex in examples %}{{ ex.text }} = {{ ex.label }}\n{% endfor %}{{ text }} =".into(),
            path: "t/v1.md".into(),
        };
        let parser = ParserSpec::Label {
            labels: vec!["neg".into(), "pos".into()],
            aliases: Default::default(),
            constrain: false,
        };
        let examples = [item(1, "up", "pos"), item(2, "down", "neg")];
        let refs: Vec<&Item> = examples.iter().collect();
        let out = render(
            &template,
            &item(0, "sales rose sharply", "pos"),
            &refs,
            &parser,
            &BTreeMap::from([("text".to_string(), 5)]),
        )
        .unwrap();
        assert_eq!(out, "neg, pos\nup = pos\ndown = neg\nsales… =");
    }
}
