//! The llama.cpp engine: one thread owns the model and one context with a slot
//! (sequence) per concurrent request, and decodes every active sequence in one
//! batch per step — continuous batching: requests join a running batch as soon as
//! a slot is free, finished ones leave at once, and prompt prefill is chunked so
//! that it shares steps with the decoding of other sequences.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::mpsc as std_mpsc;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc, oneshot};

use crate::llm::{FinishReason, LlmError, Role};

/// What the engine needs to load a model.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    pub model_path: PathBuf,
    /// LoRA adapters (GGUF) and their scales, applied to every sequence.
    pub lora: Vec<(PathBuf, f32)>,
    /// Context window per sequence.
    pub context: u32,
    /// Concurrent sequences.
    pub slots: u32,
    /// Most tokens per decode step.
    pub batch: u32,
    pub threads: u32,
    /// Reuse a sequence's cached prompt prefix for the next request.
    pub prompt_cache: bool,
}

/// A request as the engine sees it: messages already flattened to template roles.
pub struct Job {
    pub messages: Vec<(Role, String)>,
    /// GBNF grammar the output must follow.
    pub grammar: Option<String>,
    /// 0 = greedy.
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u32,
    pub max_tokens: u32,
    pub stop: Vec<String>,
    /// Stop as soon as the text so far is one complete JSON value (structured output).
    pub stop_at_json_end: bool,
    /// Penalty on tokens repeated within the last 64 (1.0 = off).
    pub repeat_penalty: f32,
    pub events: mpsc::UnboundedSender<EngineEvent>,
}

/// What the engine sends back for a job.
#[derive(Debug)]
pub enum EngineEvent {
    /// The prompt was accepted; its size in tokens.
    Started {
        prompt_tokens: u32,
    },
    /// Decoded text (always whole UTF-8 characters).
    Text(String),
    Finished {
        reason: FinishReason,
        completion_tokens: u32,
    },
    Failed(LlmError),
}

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

fn backend() -> Result<&'static LlamaBackend, LlmError> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlmError::Load { model: "llama.cpp backend".into(), reason: e.clone() })
}

/// Handle to a running engine thread. Dropping every handle stops the thread.
pub struct Engine {
    jobs: std_mpsc::Sender<Job>,
    pub model_name: String,
}

impl Engine {
    /// Load the model on a new thread; returns once it is ready (or failed).
    pub async fn start(config: EngineConfig) -> Result<Engine, LlmError> {
        let model_name = config
            .model_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| config.model_path.display().to_string());
        for (what, value) in [
            ("context", config.context),
            ("slots", config.slots),
            ("batch", config.batch),
            ("threads", config.threads),
        ] {
            if value == 0 || value > i32::MAX as u32 {
                return Err(LlmError::Load {
                    model: model_name,
                    reason: format!("`{what}` must be at least 1, got {value}"),
                });
            }
        }
        let (jobs_tx, jobs_rx) = std_mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), LlmError>>();
        let name = model_name.clone();
        std::thread::Builder::new()
            .name(format!("llama-{name}"))
            .spawn(move || engine_thread(config, jobs_rx, ready_tx))
            .map_err(|e| LlmError::Load { model: model_name.clone(), reason: e.to_string() })?;
        ready_rx.await.map_err(|_| LlmError::EngineStopped)??;
        Ok(Engine { jobs: jobs_tx, model_name })
    }

    /// Queue a job; its events arrive on `job.events`.
    pub fn submit(&self, job: Job) -> Result<(), LlmError> {
        self.jobs.send(job).map_err(|_| LlmError::EngineStopped)
    }
}

fn engine_thread(
    config: EngineConfig,
    jobs: std_mpsc::Receiver<Job>,
    ready: oneshot::Sender<Result<(), LlmError>>,
) {
    let model_label = config.model_path.display().to_string();
    let load_err = |reason: String| LlmError::Load { model: model_label.clone(), reason };
    let setup = (|| {
        let backend = backend()?;
        if !config.model_path.is_file() {
            return Err(load_err("file not found".into()));
        }
        let mut model = LlamaModel::load_from_file(backend, &config.model_path, &LlamaModelParams::default())
            .map_err(|e| load_err(e.to_string()))?;
        let mut adapters = Vec::new();
        for (path, scale) in &config.lora {
            let adapter = model
                .lora_adapter_init(path)
                .map_err(|e| load_err(format!("LoRA adapter {}: {e}", path.display())))?;
            adapters.push((adapter, *scale));
        }
        Ok((model, adapters))
    })();
    let (model, mut adapters) = match setup {
        Ok(loaded) => loaded,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    // Checked in `Engine::start`: all at least 1 and at most i32::MAX.
    let slots = config.slots;
    let n_ctx = config.context.saturating_mul(slots);
    let threads = i32::try_from(config.threads).unwrap_or(i32::MAX);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(config.batch.max(slots))
        .with_n_ubatch(config.batch.max(slots))
        .with_n_seq_max(slots)
        .with_kv_unified(false)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let Ok(backend) = backend() else { return };
    let mut ctx = match model.new_context(backend, params) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = ready.send(Err(load_err(format!("context: {e}"))));
            return;
        }
    };
    for (adapter, scale) in adapters.iter_mut() {
        if let Err(e) = ctx.lora_adapter_set(adapter, *scale) {
            let _ = ready.send(Err(load_err(format!("LoRA: {e}"))));
            return;
        }
    }
    let template = match model.chat_template(None) {
        Ok(t) => t,
        Err(e) => {
            let _ = ready.send(Err(load_err(format!("the model has no chat template: {e}"))));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    tracing::info!(model = %model_label, slots, context = config.context, threads, "llama.cpp engine ready");
    let mut scheduler = Scheduler {
        model: &model,
        template,
        ctx: &mut ctx,
        slots: (0..slots).map(|_| None).collect(),
        cached: (0..slots).map(|_| Vec::new()).collect(),
        prompt_cache: config.prompt_cache,
        admitted: 0,
        batch_size: config.batch.max(slots) as usize,
        context: config.context,
    };
    scheduler.run(&jobs);
}

/// One request being served.
struct Slot {
    /// Admission order: prompts are prefilled first come, first served.
    ticket: u64,
    events: mpsc::UnboundedSender<EngineEvent>,
    prompt: Vec<LlamaToken>,
    /// Prompt tokens already in the KV cache.
    prefilled: usize,
    /// Next position in the sequence.
    pos: i32,
    sampler: LlamaSampler,
    /// The token sampled last, to be fed in the next step.
    pending: Option<LlamaToken>,
    /// Index in the current batch whose logits belong to this slot.
    logits_at: Option<i32>,
    generated: u32,
    max_tokens: u32,
    stop: Vec<String>,
    stop_at_json_end: bool,
    /// Bytes of an incomplete UTF-8 character.
    utf8: Vec<u8>,
    text: String,
    /// How much of `text` has been sent.
    sent: usize,
}

struct Scheduler<'m, 'c> {
    model: &'m LlamaModel,
    template: llama_cpp_2::model::LlamaChatTemplate,
    ctx: &'c mut LlamaContext<'m>,
    slots: Vec<Option<Slot>>,
    /// The prompt tokens whose keys and values each sequence holds (kept after a request ends,
    /// so the next prompt sharing a prefix with them skips prefilling it).
    cached: Vec<Vec<LlamaToken>>,
    prompt_cache: bool,
    /// Tickets handed out so far.
    admitted: u64,
    batch_size: usize,
    context: u32,
}

impl Scheduler<'_, '_> {
    fn run(&mut self, jobs: &std_mpsc::Receiver<Job>) {
        let mut batch = LlamaBatch::new(self.batch_size, 1);
        loop {
            // Admit new jobs into free slots; block when there is nothing to do.
            while self.slots.iter().any(Option::is_none) {
                let idle = self.slots.iter().all(Option::is_none);
                let job = if idle {
                    match jobs.recv() {
                        Ok(job) => job,
                        Err(_) => return, // every handle dropped
                    }
                } else {
                    match jobs.try_recv() {
                        Ok(job) => job,
                        Err(std_mpsc::TryRecvError::Empty) => break,
                        Err(std_mpsc::TryRecvError::Disconnected) => {
                            if self.slots.iter().all(Option::is_none) {
                                return;
                            }
                            break;
                        }
                    }
                };
                if let Some(slot) = self.admit(job) {
                    self.place(slot);
                }
            }
            self.drop_cancelled();
            if self.slots.iter().all(Option::is_none) {
                continue;
            }
            if let Err(e) = self.step(&mut batch) {
                // A failed decode poisons every sequence in the batch.
                tracing::error!("llama.cpp decode failed: {e}");
                for seq in 0..self.slots.len() {
                    if let Some(slot) = self.slots[seq].take() {
                        let _ = slot.events.send(EngineEvent::Failed(LlmError::Provider {
                            provider: "llama".into(),
                            reason: format!("decode failed: {e}"),
                        }));
                        self.clear_seq(seq);
                    }
                }
            }
        }
    }

    /// Render, tokenize and check a job; `None` when it failed (already reported).
    fn admit(&mut self, job: Job) -> Option<Slot> {
        let fail = |job: &Job, e: LlmError| {
            let _ = job.events.send(EngineEvent::Failed(e));
            None
        };
        let messages: Result<Vec<LlamaChatMessage>, _> = job
            .messages
            .iter()
            .map(|(role, content)| LlamaChatMessage::new(role.as_str().to_string(), content.clone()))
            .collect();
        let messages = match messages {
            Ok(m) => m,
            Err(e) => return fail(&job, LlmError::InvalidRequest(format!("message: {e}"))),
        };
        let prompt = match self.model.apply_chat_template(&self.template, &messages, true) {
            Ok(p) => p,
            Err(e) => return fail(&job, LlmError::InvalidRequest(format!("chat template: {e}"))),
        };
        let tokens = self.model.vocab().tokenize(prompt.as_bytes(), true, true);
        let context = self.context as usize;
        if tokens.is_empty() || tokens.len() >= context {
            return fail(
                &job,
                LlmError::ContextOverflow {
                    prompt_tokens: tokens.len(),
                    max_tokens: job.max_tokens as usize,
                    context,
                },
            );
        }
        let room = (context - tokens.len()) as u32;
        let sampler = match self.sampler(&job) {
            Ok(s) => s,
            Err(e) => return fail(&job, e),
        };
        let _ = job.events.send(EngineEvent::Started { prompt_tokens: tokens.len() as u32 });
        self.admitted += 1;
        Some(Slot {
            ticket: self.admitted,
            events: job.events,
            prompt: tokens,
            prefilled: 0,
            pos: 0,
            sampler,
            pending: None,
            logits_at: None,
            generated: 0,
            max_tokens: job.max_tokens.min(room),
            stop: job.stop,
            stop_at_json_end: job.stop_at_json_end,
            utf8: Vec::new(),
            text: String::new(),
            sent: 0,
        })
    }

    fn sampler(&self, job: &Job) -> Result<LlamaSampler, LlmError> {
        let mut chain = Vec::new();
        if let Some(grammar) = &job.grammar {
            let g = LlamaSampler::grammar(self.model, grammar, "root").map_err(|e| {
                LlmError::InvalidRequest(format!(
                    "llama.cpp rejected the grammar built from the JSON Schema: {e}"
                ))
            })?;
            chain.push(g);
        }
        if job.repeat_penalty != 1.0 {
            chain.push(LlamaSampler::penalties(self.model.n_vocab(), 64, job.repeat_penalty, 0.0, 0.0));
        }
        if job.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            if job.top_p < 1.0 {
                chain.push(LlamaSampler::top_p(job.top_p, 1));
            }
            chain.push(LlamaSampler::temp(job.temperature));
            chain.push(LlamaSampler::dist(job.seed));
        }
        Ok(LlamaSampler::chain_simple(chain))
    }

    fn drop_cancelled(&mut self) {
        for seq in 0..self.slots.len() {
            if self.slots[seq].as_ref().is_some_and(|s| s.events.is_closed()) {
                self.slots[seq] = None;
                self.clear_seq(seq);
            }
        }
    }

    fn clear_seq(&mut self, seq: usize) {
        let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
        self.cached[seq].clear();
    }

    /// Put an admitted request in the free sequence whose cached prompt shares the longest
    /// prefix with it, keep that prefix's keys and values and drop the rest: only the new
    /// tokens are prefilled (at least the last one, whose logits start generation).
    fn place(&mut self, mut slot: Slot) {
        let free = (0..self.slots.len()).filter(|&i| self.slots[i].is_none());
        let best = free
            .map(|i| (common_prefix(&self.cached[i], &slot.prompt), i))
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let Some((shared, seq)) = best else {
            // Callers admit only while a sequence is free; never drop a request silently.
            let _ = slot.events.send(EngineEvent::Failed(LlmError::Provider {
                provider: "llama".into(),
                reason: "no free sequence for the request".into(),
            }));
            return;
        };
        let keep = if self.prompt_cache { shared.min(slot.prompt.len().saturating_sub(1)) } else { 0 };
        let trimmed = keep > 0
            && matches!(self.ctx.clear_kv_cache_seq(Some(seq as u32), Some(keep as u32), None), Ok(true));
        if trimmed {
            slot.prefilled = keep;
            slot.pos = keep as i32;
        } else {
            self.clear_seq(seq);
        }
        self.cached[seq] = slot.prompt.clone();
        self.slots[seq] = Some(slot);
    }

    /// One decode step over every active slot.
    fn step(&mut self, batch: &mut LlamaBatch) -> Result<(), llama_cpp_2::DecodeError> {
        batch.clear();
        let mut used = 0usize;
        // Sequences that are generating feed their last token (one each).
        for (seq, slot) in self.slots.iter_mut().enumerate() {
            let Some(slot) = slot else { continue };
            slot.logits_at = None;
            if let Some(token) = slot.pending.take() {
                // Capacity is at least `slots`, so this cannot overflow.
                if batch.add(token, slot.pos, &[seq as i32], true).is_ok() {
                    slot.logits_at = Some(used as i32);
                    slot.pos += 1;
                    used += 1;
                }
            }
        }
        // Prompts fill the rest of the batch, first come first served.
        let mut prefilling: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i].as_ref().is_some_and(|s| s.prefilled < s.prompt.len()))
            .collect();
        prefilling.sort_by_key(|&i| self.slots[i].as_ref().map(|s| s.ticket));
        for seq in prefilling {
            let Some(slot) = self.slots[seq].as_mut() else { continue };
            while slot.prefilled < slot.prompt.len() && used < self.batch_size {
                let last = slot.prefilled + 1 == slot.prompt.len();
                if batch.add(slot.prompt[slot.prefilled], slot.pos, &[seq as i32], last).is_err() {
                    break;
                }
                if last {
                    slot.logits_at = Some(used as i32);
                }
                slot.prefilled += 1;
                slot.pos += 1;
                used += 1;
            }
        }
        if used == 0 {
            return Ok(());
        }
        self.ctx.decode(batch)?;
        for seq in 0..self.slots.len() {
            let finished = {
                let Some(slot) = self.slots[seq].as_mut() else { continue };
                let Some(at) = slot.logits_at else { continue };
                let token = slot.sampler.sample(self.ctx, at);
                advance(self.model, slot, token)
            };
            if let Some(reason) = finished {
                // The sequence's cache stays for the next prompt with the same prefix.
                if let Some(slot) = self.slots[seq].take() {
                    let _ =
                        slot.events.send(EngineEvent::Finished { reason, completion_tokens: slot.generated });
                }
            }
        }
        Ok(())
    }
}

/// Length of the common prefix of two token lists.
fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Take one sampled token: emit its text, decide whether the sequence is finished.
fn advance(model: &LlamaModel, slot: &mut Slot, token: LlamaToken) -> Option<FinishReason> {
    if model.vocab().is_eog(token) {
        flush(slot, true);
        return Some(FinishReason::Stop);
    }
    slot.generated += 1;
    slot.utf8.extend(model.vocab().token_to_piece(token, false, None));
    let valid = match std::str::from_utf8(&slot.utf8) {
        Ok(s) => s.len(),
        Err(e) => e.valid_up_to(),
    };
    if valid > 0 {
        let piece: Vec<u8> = slot.utf8.drain(..valid).collect();
        slot.text.push_str(&String::from_utf8_lossy(&piece));
    }
    // Stop strings: cut the text at the first one.
    if let Some(cut) = slot.stop.iter().filter_map(|s| slot.text.find(s.as_str())).min() {
        slot.text.truncate(cut);
        flush(slot, true);
        return Some(FinishReason::Stop);
    }
    if slot.stop_at_json_end && slot.text.trim_end().ends_with(['}', ']']) && is_complete_json(&slot.text) {
        flush(slot, true);
        return Some(FinishReason::Stop);
    }
    if slot.generated >= slot.max_tokens {
        flush(slot, true);
        return Some(FinishReason::Length);
    }
    slot.pending = Some(token);
    flush(slot, false);
    None
}

fn is_complete_json(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text.trim()).is_ok()
}

/// Send the text not sent yet, holding back a tail that may begin a stop string
/// (unless `all`), so that the deltas always concatenate to the final text.
fn flush(slot: &mut Slot, all: bool) {
    let mut end = slot.text.len();
    if !all {
        let hold =
            slot.stop.iter().map(|stop| partial_suffix(&slot.text[slot.sent..], stop)).max().unwrap_or(0);
        end -= hold;
    }
    if end > slot.sent {
        let _ = slot.events.send(EngineEvent::Text(slot.text[slot.sent..end].to_string()));
        slot.sent = end;
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `stop`, at a
/// character boundary.
fn partial_suffix(text: &str, stop: &str) -> usize {
    (1..stop.len().min(text.len() + 1))
        .rev()
        .find(|&n| {
            text.is_char_boundary(text.len() - n) && stop.is_char_boundary(n) && text.ends_with(&stop[..n])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_suffix_finds_stop_prefix() {
        assert_eq!(partial_suffix("hello wor", "world"), 3);
        assert_eq!(partial_suffix("hello", "xyz"), 0);
        assert_eq!(partial_suffix("ab", "abc"), 2);
        assert_eq!(partial_suffix("", "abc"), 0);
        assert_eq!(partial_suffix("é", "éa"), 2);
    }

    #[test]
    fn json_completeness() {
        assert!(is_complete_json(r#" {"a": [1, 2]} "#));
        assert!(!is_complete_json(r#"{"a": [1, 2]"#));
    }
}
