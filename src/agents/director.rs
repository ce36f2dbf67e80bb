//! The director: routes a request to the right agent (keywords first, the model when they do
//! not decide), leads a workflow (the model splits the request into sub-tasks for analysts,
//! their answers are merged), or runs a bull/bear debate settled by a judge. Every run is one
//! audit log; the final answer's numbers are verified against every tool result of the run.

use std::time::Instant;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AgentError;
use super::audit::{Record, Recorder, RunStatus, new_run_id};
use super::runtime::{AgentEvent, AgentOutcome, AgentRuntime, CallSummary, Events, Turn};
use super::spec::{AgentDef, AgentKind};
use super::verify::{Evidence, Verification, verify};
use crate::llm::{ChatRequest, Message, Role, ToolChoice, Usage};
use crate::rag::Citation;

/// How a director works.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DirectorMode {
    /// Send the request to the one agent that fits it.
    #[default]
    Route,
    /// Split the request into sub-tasks for several analysts, then merge their answers.
    Lead,
    /// A bull and a bear argue; a judge decides.
    Debate,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub run_id: String,
    /// The agent asked (a director or an analyst).
    pub agent: String,
    /// The agents that worked, in order.
    pub agents: Vec<String>,
    pub status: RunStatus,
    /// The verified answer; `None` when the run ended without one (see `status`, `error`).
    pub answer: Option<String>,
    pub verification: Option<Verification>,
    /// Every sub-answer of a leader workflow or debate, verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<(String, Option<String>)>,
    pub calls: Vec<CallSummary>,
    pub invalid_replies: usize,
    pub citations: Vec<Citation>,
    pub artifacts: Vec<std::path::PathBuf>,
    /// The data behind the answer: one line per successful tool call, straight from the tools.
    pub data: Vec<String>,
    pub usage: Usage,
    /// Model calls over all agents.
    pub turns: u32,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunResult {
    pub fn unsupported_numbers(&self) -> usize {
        self.verification.as_ref().map_or(0, |v| v.unsupported.len())
    }
}

fn absorb(result: &mut RunResult, o: &AgentOutcome) {
    result.agents.push(o.agent.clone());
    result.calls.extend(o.calls.iter().cloned());
    result.invalid_replies += o.invalid_replies;
    result.citations.extend(o.citations.iter().cloned());
    result.artifacts.extend(o.artifacts.iter().cloned());
    result.data.extend(o.data.iter().cloned());
    result.usage.prompt_tokens += o.usage.prompt_tokens;
    result.usage.completion_tokens += o.usage.completion_tokens;
    result.turns += o.turns;
}

fn last_user(input: &[Message]) -> String {
    input.iter().rev().find(|m| m.role == Role::User).map(|m| m.content.clone()).unwrap_or_default()
}

/// The agents whose routing words occur in `request` most often; one winner or none.
pub fn route_by_keywords<'a>(request: &str, candidates: &[&'a AgentDef]) -> Option<&'a AgentDef> {
    let text = request.to_lowercase();
    let words: Vec<&str> =
        text.split(|c: char| !c.is_alphanumeric() && c != '-').filter(|w| !w.is_empty()).collect();
    let score = |d: &AgentDef| {
        d.spec
            .routing
            .iter()
            .map(|k| {
                let k = k.to_lowercase();
                if k.contains(' ') {
                    usize::from(text.contains(&k)) * 2
                } else {
                    words.iter().filter(|w| w.starts_with(k.as_str())).count()
                }
            })
            .sum::<usize>()
    };
    let mut scored: Vec<(usize, &AgentDef)> = candidates.iter().map(|d| (score(d), *d)).collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    match scored.as_slice() {
        [(top, d), rest @ ..] if *top > 0 && rest.first().is_none_or(|(s, _)| s < top) => Some(d),
        _ => None,
    }
}

impl AgentRuntime {
    /// Runs agent `name` on `input` (a conversation ending with the user's message); a
    /// director works in `mode`. Events go to `events`; the run is logged under its id.
    pub async fn run(
        &self,
        name: &str,
        input: Vec<Message>,
        mode: DirectorMode,
        events: &Events,
        replay_of: Option<String>,
    ) -> Result<RunResult, AgentError> {
        let started = Instant::now();
        let def = self.library.get(name)?;
        if !input.iter().any(|m| m.role == Role::User && !m.content.trim().is_empty()) {
            return Err(AgentError::EmptyRequest);
        }
        let recorder = Recorder::create(&self.runs_dir, new_run_id())?;
        let mode_label = match def.spec.kind {
            AgentKind::Analyst => "analyst".to_string(),
            AgentKind::Director => format!("{mode:?}").to_lowercase(),
        };
        recorder.record(&Record::Start {
            run_id: recorder.run_id.clone(),
            agent: name.to_string(),
            mode: mode_label,
            input: input.clone(),
            at: chrono::Utc::now(),
            replay_of,
        })?;
        events.send(AgentEvent::RunStarted { run_id: recorder.run_id.clone(), agent: name.to_string() });
        let mut result = RunResult {
            run_id: recorder.run_id.clone(),
            agent: name.to_string(),
            agents: Vec::new(),
            status: RunStatus::Completed,
            answer: None,
            verification: None,
            parts: Vec::new(),
            calls: Vec::new(),
            invalid_replies: 0,
            citations: Vec::new(),
            artifacts: Vec::new(),
            data: Vec::new(),
            usage: Usage::default(),
            turns: 0,
            latency_ms: 0,
            error: None,
        };
        // Numbers the user wrote may be repeated in the answer.
        let mut seed = Evidence::new();
        for m in input.iter().filter(|m| m.role == Role::User) {
            seed.add_text(&m.content);
        }
        let seed = &seed;
        let run = async {
            match def.spec.kind {
                AgentKind::Analyst => {
                    let o = self.run_agent(def, &input, seed.clone(), &recorder, events).await?;
                    absorb(&mut result, &o);
                    Ok(o)
                }
                AgentKind::Director => match mode {
                    DirectorMode::Route => {
                        self.route(def, &input, seed, &recorder, events, &mut result).await
                    }
                    DirectorMode::Lead => self.lead(def, &input, seed, &recorder, events, &mut result).await,
                    DirectorMode::Debate => {
                        self.debate(def, &input, seed, &recorder, events, &mut result).await
                    }
                },
            }
        }
        .await;
        let outcome = match run {
            Ok(o) => o,
            Err(e) => {
                // A failure of the run itself is logged before it is returned.
                let _ = recorder.record(&Record::Finish {
                    status: RunStatus::ModelError,
                    answer: None,
                    unsupported_numbers: 0,
                    usage: result.usage,
                    latency_ms: started.elapsed().as_millis() as u64,
                    error: Some(e.to_string()),
                });
                return Err(e);
            }
        };
        result.status = outcome.status;
        result.answer = outcome.answer.clone();
        result.verification = outcome.verification.clone();
        result.error = outcome.error.clone();
        result.latency_ms = started.elapsed().as_millis() as u64;
        recorder.record(&Record::Finish {
            status: result.status,
            answer: result.answer.clone(),
            unsupported_numbers: result.unsupported_numbers(),
            usage: result.usage,
            latency_ms: result.latency_ms,
            error: result.error.clone(),
        })?;
        events.send(AgentEvent::Final {
            run_id: result.run_id.clone(),
            status: result.status,
            answer: result.answer.clone(),
            unsupported_numbers: result.unsupported_numbers(),
        });
        Ok(result)
    }

    /// Logs and announces who the work goes to.
    fn routed(
        director: &AgentDef,
        agents: Vec<String>,
        method: &str,
        tasks: Vec<(String, String)>,
        recorder: &Recorder,
        events: &Events,
    ) -> Result<(), AgentError> {
        recorder.record(&Record::Route {
            director: director.spec.name.clone(),
            agents: agents.clone(),
            method: method.into(),
            tasks,
        })?;
        events.send(AgentEvent::Routed { agents, method: method.into() });
        Ok(())
    }

    fn members(&self, director: &AgentDef) -> Result<Vec<&AgentDef>, AgentError> {
        director.spec.agents.iter().map(|n| self.library.get(n)).collect()
    }

    /// One grammar-constrained JSON answer of the director's model.
    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        director: &AgentDef,
        instruction: String,
        request: &str,
        schema: Value,
        recorder: &Recorder,
        purpose: &str,
        result: &mut RunResult,
    ) -> Result<Value, AgentError> {
        let model = self.models.model(&director.spec.name, &director.spec.model).await?;
        let messages = vec![Message::system(instruction), Message::user(request.to_string())];
        let req = ChatRequest::new(messages)
            .with_schema(purpose.replace(' ', "_"), schema)
            .temperature(0.0)
            .max_tokens(director.spec.max_tokens);
        let turn = Turn { number: 0, choice: ToolChoice::None };
        let reply = self
            .call_model(director, model.as_ref(), req, &turn, purpose, recorder, &Events::default())
            .await?;
        let response = reply.map_err(|e| AgentError::Model(format!("{purpose}: {e}")))?;
        result.usage.prompt_tokens += response.usage.prompt_tokens;
        result.usage.completion_tokens += response.usage.completion_tokens;
        result.turns += 1;
        response.json().map_err(|e| AgentError::Model(format!("{purpose}: the answer is not JSON: {e}")))
    }

    fn roster(members: &[&AgentDef]) -> String {
        members
            .iter()
            .map(|d| format!("- {}: {}", d.spec.name, d.spec.description))
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn route(
        &self,
        director: &AgentDef,
        input: &[Message],
        seed: &Evidence,
        recorder: &Recorder,
        events: &Events,
        result: &mut RunResult,
    ) -> Result<AgentOutcome, AgentError> {
        let members = self.members(director)?;
        let request = last_user(input);
        let (chosen, method) = match route_by_keywords(&request, &members) {
            Some(d) => (d, "keywords"),
            None => {
                let names: Vec<&str> = members.iter().map(|d| d.spec.name.as_str()).collect();
                let schema = json!({"type": "object", "properties": {"agent": {"enum": names}}, "required": ["agent"], "additionalProperties": false});
                let instruction = format!(
                    "Choose the agent best suited to the request.\nAgents:\n{}",
                    Self::roster(&members)
                );
                let v =
                    self.decide(director, instruction, &request, schema, recorder, "route", result).await?;
                let name = v.get("agent").and_then(Value::as_str).unwrap_or_default();
                (self.library.get(name)?, "model")
            }
        };
        Self::routed(director, vec![chosen.spec.name.clone()], method, Vec::new(), recorder, events)?;
        let o = self.run_agent(chosen, input, seed.clone(), recorder, events).await?;
        absorb(result, &o);
        Ok(o)
    }

    async fn lead(
        &self,
        director: &AgentDef,
        input: &[Message],
        seed: &Evidence,
        recorder: &Recorder,
        events: &Events,
        result: &mut RunResult,
    ) -> Result<AgentOutcome, AgentError> {
        let members = self.members(director)?;
        let request = last_user(input);
        let names: Vec<&str> = members.iter().map(|d| d.spec.name.as_str()).collect();
        let schema = json!({
            "type": "object",
            "properties": {"tasks": {"type": "array", "minItems": 1, "maxItems": 3, "items": {
                "type": "object",
                "properties": {"agent": {"enum": names}, "task": {"type": "string", "minLength": 3, "maxLength": 200}},
                "required": ["agent", "task"], "additionalProperties": false}}},
            "required": ["tasks"], "additionalProperties": false
        });
        let instruction = format!(
            "Split the request into one to three sub-tasks, each for the agent best suited to it.\nAgents:\n{}",
            Self::roster(&members)
        );
        let plan = self.decide(director, instruction, &request, schema, recorder, "plan", result).await?;
        let mut tasks = Vec::new();
        for t in plan.get("tasks").and_then(Value::as_array).into_iter().flatten() {
            let agent = t.get("agent").and_then(Value::as_str).unwrap_or_default().to_string();
            let task = t.get("task").and_then(Value::as_str).unwrap_or_default().to_string();
            tasks.push((agent, task));
        }
        if tasks.is_empty() {
            return Err(AgentError::Model("plan: no sub-tasks".into()));
        }
        let agents = tasks.iter().map(|t| t.0.clone()).collect();
        Self::routed(director, agents, "plan", tasks.clone(), recorder, events)?;
        let whole = request.as_str();
        let runs = tasks.iter().map(|(agent, task)| async move {
            let def = self.library.get(agent)?;
            // Each analyst sees the original request for context and its own sub-task.
            let msgs = vec![Message::user(format!("{task}\n(Part of the request: {whole})"))];
            self.run_agent(def, &msgs, seed.clone(), recorder, events).await
        });
        let outcomes: Vec<AgentOutcome> = futures::future::try_join_all(runs).await?;
        self.merge(
            director,
            &request,
            outcomes,
            recorder,
            events,
            result,
            "Merge the analysts' answers into one answer to the request.",
        )
        .await
    }

    async fn debate(
        &self,
        director: &AgentDef,
        input: &[Message],
        seed: &Evidence,
        recorder: &Recorder,
        events: &Events,
        result: &mut RunResult,
    ) -> Result<AgentOutcome, AgentError> {
        let Some(d) = &director.spec.debate else {
            return Err(AgentError::Library {
                file: director.file.clone(),
                reason: "no `debate` parties configured".into(),
            });
        };
        let request = last_user(input);
        let parties = vec![d.bull.clone(), d.bear.clone(), d.judge.clone()];
        Self::routed(director, parties, "debate", Vec::new(), recorder, events)?;
        let (bull, bear) = (self.library.get(&d.bull)?, self.library.get(&d.bear)?);
        let side = |stance: &str| {
            vec![Message::user(format!("{request}\nArgue the {stance} case, using data from your tools."))]
        };
        let (bull_msgs, bear_msgs) = (side("bull"), side("bear"));
        let (b, r) = futures::future::try_join(
            self.run_agent(bull, &bull_msgs, seed.clone(), recorder, events),
            self.run_agent(bear, &bear_msgs, seed.clone(), recorder, events),
        )
        .await?;
        let judge = self.library.get(&d.judge)?;
        let mut evidence = Evidence::new();
        for o in [&b, &r] {
            evidence.extend(&o.evidence);
        }
        let text = format!(
            "Request: {request}\nBull case ({}): {}\nBear case ({}): {}\nWeigh both cases and give a verdict.",
            b.agent,
            b.answer.as_deref().unwrap_or("(no answer)"),
            r.agent,
            r.answer.as_deref().unwrap_or("(no answer)")
        );
        result.parts.push((b.agent.clone(), b.answer.clone()));
        result.parts.push((r.agent.clone(), r.answer.clone()));
        absorb(result, &b);
        absorb(result, &r);
        let verdict = self.run_agent(judge, &[Message::user(text)], evidence, recorder, events).await?;
        absorb(result, &verdict);
        Ok(verdict)
    }

    /// The director's own answer over its analysts' answers, verified against all their data.
    #[allow(clippy::too_many_arguments)]
    async fn merge(
        &self,
        director: &AgentDef,
        request: &str,
        outcomes: Vec<AgentOutcome>,
        recorder: &Recorder,
        events: &Events,
        result: &mut RunResult,
        instruction: &str,
    ) -> Result<AgentOutcome, AgentError> {
        let mut evidence = Evidence::new();
        let mut text = format!("Request: {request}\n");
        for o in &outcomes {
            evidence.extend(&o.evidence);
            text.push_str(&format!(
                "Answer of {}: {}\n",
                o.agent,
                o.answer.as_deref().unwrap_or("(no answer: the agent failed)")
            ));
            result.parts.push((o.agent.clone(), o.answer.clone()));
            absorb(result, o);
        }
        text.push_str(instruction);
        let merged = self.run_agent(director, &[Message::user(text)], evidence, recorder, events).await?;
        absorb(result, &merged);
        Ok(merged)
    }
}

/// Verifies `text` against `evidence` with the runtime's policy (used by callers composing
/// their own answers, e.g. reports).
pub fn verify_with(runtime: &AgentRuntime, text: &str, evidence: &Evidence) -> Verification {
    verify(text, evidence, runtime.policy)
}
