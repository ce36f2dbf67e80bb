//! The agent runtime's logic, driven by `ScriptedModel` — a TEST DOUBLE standing in for a
//! chat model, replaying a script of replies so that each branch (tool errors, turn limits,
//! budgets, memory summaries, routing, verification, replay) is reached on purpose. The
//! tools are the real ones over the demo universe in `data/`; the real SmolLM2 runs the
//! agents in `tests/agents_llm.rs`.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bullpen::agents::audit::{self, Record, RunStatus};
use bullpen::agents::prompts::Prompts;
use bullpen::agents::replay::{ReplayModels, compare};
use bullpen::agents::runtime::ModelSource;
use bullpen::agents::spec::AgentLibrary;
use bullpen::agents::tools::{ToolBox, ToolContext};
use bullpen::agents::{AgentError, AgentEvent, AgentRuntime, DirectorMode, Events, Policy};
use bullpen::llm::{
    ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, FinishReason, LlmError, Message, Role,
    ToolCall, Usage,
};
use serde_json::{Value, json};

type Script = Arc<Mutex<HashMap<String, VecDeque<Reply>>>>;

#[derive(Clone)]
enum Reply {
    Call(&'static str, Value),
    Answer(String),
    Json(Value),
    Fail,
}

/// TEST DOUBLE: a chat model answering from a per-agent script; it keeps every request.
struct ScriptedModels {
    script: Script,
    seen: Arc<Mutex<Vec<(String, ChatRequest)>>>,
    context: u32,
    tokens_per_reply: u32,
}

struct ScriptedModel {
    agent: String,
    script: Script,
    seen: Arc<Mutex<Vec<(String, ChatRequest)>>>,
    tokens: u32,
}

#[async_trait]
impl ModelSource for ScriptedModels {
    async fn model(&self, agent: &str, _profile: &str) -> Result<Arc<dyn ChatModel>, AgentError> {
        Ok(Arc::new(ScriptedModel {
            agent: agent.into(),
            script: self.script.clone(),
            seen: self.seen.clone(),
            tokens: self.tokens_per_reply,
        }))
    }
    fn context_window(&self, _profile: &str) -> u32 {
        self.context
    }
}

#[async_trait]
impl ChatModel for ScriptedModel {
    fn name(&self) -> &str {
        "scripted"
    }
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        self.seen.lock().unwrap().push((self.agent.clone(), request.clone()));
        let reply = self.script.lock().unwrap().get_mut(&self.agent).and_then(VecDeque::pop_front);
        let usage = Usage { prompt_tokens: self.tokens, completion_tokens: 10 };
        let response = |text: String, tool_calls: Vec<ToolCall>| ChatResponse {
            finish_reason: if tool_calls.is_empty() { FinishReason::Stop } else { FinishReason::ToolCalls },
            text,
            tool_calls,
            usage,
            model: "scripted".into(),
        };
        let r = match reply {
            Some(Reply::Call(name, arguments)) => response(
                String::new(),
                vec![ToolCall { id: format!("call_{name}"), name: name.into(), arguments }],
            ),
            Some(Reply::Answer(text)) => response(text, Vec::new()),
            Some(Reply::Json(v)) => response(v.to_string(), Vec::new()),
            Some(Reply::Fail) | None => {
                return Err(LlmError::Provider {
                    provider: "scripted".into(),
                    reason: "script exhausted".into(),
                });
            }
        };
        let events = vec![Ok(ChatEvent::Delta { text: r.text.clone() }), Ok(ChatEvent::Done(r))];
        Ok(Box::pin(futures::stream::iter(events)))
    }
}

struct Fixture {
    runtime: AgentRuntime,
    seen: Arc<Mutex<Vec<(String, ChatRequest)>>>,
    _home: tempfile::TempDir,
}

fn fixture(script: Vec<(&str, Vec<Reply>)>, context: u32, tokens_per_reply: u32) -> Fixture {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tools = ToolBox::builtin();
    let library = AgentLibrary::load(
        &root.join("agents"),
        &Prompts::new(root.join("prompts")),
        &tools,
        &["local".into()],
    )
    .expect("the repository's agent library loads");
    let universe = bullpen::io::datasets::open_universe(&root.join("data")).expect("demo universe");
    let home = tempfile::tempdir().expect("home");
    let script: Script = Arc::new(Mutex::new(
        script.into_iter().map(|(a, r)| (a.to_string(), r.into_iter().collect())).collect(),
    ));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let models = ScriptedModels { script, seen: seen.clone(), context, tokens_per_reply };
    let runtime = AgentRuntime {
        library: Arc::new(library),
        tools: Arc::new(tools),
        tool_ctx: ToolContext {
            universe: Arc::new(universe),
            rag: None,
            artifacts: home.path().join("files"),
            lexicon: None,
            model: None,
            index_ticker: "^GSPC".into(),
            as_of: None,
            companies: Default::default(),
        },
        models: Arc::new(models),
        runs_dir: home.path().join("runs"),
        policy: Policy::Mark,
    };
    Fixture { runtime, seen, _home: home }
}

fn ask(text: &str) -> Vec<Message> {
    vec![Message::user(text)]
}

/// The close of AAPL's last bar in the demo data, as the prices tool reports it.
fn tool_outputs(f: &Fixture, run_id: &str) -> Vec<Value> {
    audit::load(&f.runtime.runs_dir, run_id)
        .expect("log")
        .into_iter()
        .filter_map(|r| match r {
            Record::Tool { output: Some(o), .. } => Some(o.content),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn numbers_from_tools_are_supported_and_invented_ones_are_marked() {
    // First run: learn the real close, then script an answer quoting it plus an invented number.
    let f = fixture(
        vec![(
            "market_analyst",
            vec![Reply::Call("prices", json!({"ticker": "AAPL"})), Reply::Answer("x".into())],
        )],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("market_analyst", ask("AAPL price?"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    let close = tool_outputs(&f, &r.run_id)[0]["close"].as_f64().expect("close");
    let answer = format!("AAPL closed at ${close:.2}, up 987.6% this week.");
    let f = fixture(
        vec![(
            "market_analyst",
            vec![Reply::Call("prices", json!({"ticker": "AAPL"})), Reply::Answer(answer)],
        )],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("market_analyst", ask("AAPL price?"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    assert_eq!(r.status, RunStatus::Completed);
    let v = r.verification.as_ref().expect("verified");
    assert_eq!(v.checked, 2, "{v:?}");
    assert_eq!(v.unsupported.len(), 1, "only the invented number: {v:?}");
    assert_eq!(v.unsupported[0].raw, "987.6%");
    let text = r.answer.unwrap();
    assert!(text.contains(&format!("${close:.2}")) && text.contains("[unverified: 987.6%]"), "{text}");
    // The count is in the audit log too.
    let log = audit::load(&f.runtime.runs_dir, &r.run_id).unwrap();
    assert!(log.iter().any(|rec| matches!(rec, Record::Finish { unsupported_numbers: 1, .. })));
}

#[tokio::test]
async fn a_tool_error_goes_back_to_the_model_and_the_run_goes_on() {
    let f = fixture(
        vec![(
            "market_analyst",
            vec![Reply::Call("prices", json!({"ticker": "ZZZZ"})), Reply::Answer("No data for ZZZZ.".into())],
        )],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("market_analyst", ask("ZZZZ quote"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    assert_eq!(r.status, RunStatus::Completed);
    assert!(!r.calls[0].ok && r.calls[0].valid);
    let seen = f.seen.lock().unwrap();
    let second = &seen[1].1.messages;
    let tool_msg = second.iter().find(|m| m.role == Role::Tool).expect("tool message");
    assert!(tool_msg.content.starts_with("error: not found"), "{}", tool_msg.content);
}

#[tokio::test]
async fn arguments_outside_the_schema_are_refused_before_the_tool_runs() {
    // `bars` is limited to 0..=10 by the schema; an unknown field is refused too.
    let f = fixture(
        vec![(
            "market_analyst",
            vec![
                Reply::Call("prices", json!({"ticker": "AAPL", "bars": 99})),
                Reply::Call("prices", json!({"ticker": "AAPL", "colour": "red"})),
                Reply::Answer("Done.".into()),
            ],
        )],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("market_analyst", ask("AAPL"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    assert_eq!(r.invalid_replies, 2);
    assert!(r.calls.iter().all(|c| !c.valid && !c.ok));
    assert!(tool_outputs(&f, &r.run_id).is_empty(), "the tool never ran");
}

#[tokio::test]
async fn the_turn_limit_ends_a_runaway_loop_with_a_clear_status() {
    let calls: Vec<Reply> =
        (0..10).map(|i| Reply::Call("calculator", json!({"expression": format!("{i} + 1")}))).collect();
    let f = fixture(vec![("market_analyst", calls)], 2048, 100);
    let r = f
        .runtime
        .run("market_analyst", ask("loop"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    assert_eq!(r.status, RunStatus::MaxTurns);
    assert!(r.answer.is_none(), "no filler answer");
    assert_eq!(r.turns, 5, "max_turns of market_analyst.toml");
}

#[tokio::test]
async fn the_token_budget_ends_a_run() {
    let calls: Vec<Reply> =
        (0..10).map(|i| Reply::Call("calculator", json!({"expression": format!("{i} * 2")}))).collect();
    // 12,000 tokens of budget at 5,000 per reply: the third call is never made.
    let f = fixture(vec![("market_analyst", calls)], 2048, 5_000);
    let r = f
        .runtime
        .run("market_analyst", ask("spend"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    assert_eq!(r.status, RunStatus::TokenBudget);
    assert_eq!(r.turns, 3);
}

#[tokio::test]
async fn a_repeated_call_is_not_run_twice_and_the_model_must_answer() {
    let same = Reply::Call("calculator", json!({"expression": "2 + 2"}));
    let f = fixture(
        vec![("market_analyst", vec![same.clone(), same, Reply::Answer("It is 4.".into())])],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("market_analyst", ask("2+2"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(r.calls.len(), 1);
    let seen = f.seen.lock().unwrap();
    let third = &seen[2].1;
    assert!(third.tools.is_empty(), "the third request offers no tools");
    assert_eq!(third.response_schema.as_ref().map(|s| s.name.as_str()), Some("answer"), "only an answer");
    assert_eq!(r.verification.unwrap().unsupported.len(), 0);
}

#[tokio::test]
async fn a_model_failure_is_reported_not_papered_over() {
    let f = fixture(
        vec![("market_analyst", vec![Reply::Call("calculator", json!({"expression": "1+1"})), Reply::Fail])],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("market_analyst", ask("x"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    assert_eq!(r.status, RunStatus::ModelError);
    assert!(r.answer.is_none());
    assert!(r.error.unwrap().contains("script exhausted"));
}

#[tokio::test]
async fn a_long_conversation_is_summarised_not_dropped() {
    let mut history = Vec::new();
    for i in 0..12 {
        history.push(Message::user(format!(
            "Question {i}: tell me about Apple's services business in detail, please."
        )));
        history.push(Message::assistant(format!(
            "Answer {i}: services keep growing, with a long explanation of the segment."
        )));
    }
    history.push(Message::user("And what is 6 times 7?"));
    let f = fixture(
        vec![(
            "market_analyst",
            vec![
                Reply::Answer("Earlier: services questions.".into()), // the summary
                Reply::Call("calculator", json!({"expression": "6 * 7"})),
                Reply::Answer("It is 42.".into()),
            ],
        )],
        1024,
        100,
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let r =
        f.runtime.run("market_analyst", history, DirectorMode::Route, &Events(Some(tx)), None).await.unwrap();
    assert_eq!(r.status, RunStatus::Completed);
    let log = audit::load(&f.runtime.runs_dir, &r.run_id).unwrap();
    assert!(log.iter().any(|rec| matches!(rec, Record::Summary { replaced_messages: 24, .. })));
    let seen = f.seen.lock().unwrap();
    let after = &seen[1].1.messages;
    assert!(
        after
            .iter()
            .any(|m| m.content.contains("Summary of the earlier conversation: Earlier: services questions."))
    );
    assert!(after.len() < 10, "older turns replaced by the summary");
    let mut summarised = false;
    while let Ok(e) = rx.try_recv() {
        summarised |= matches!(e, AgentEvent::Summarised { messages: 24, .. });
    }
    assert!(summarised, "the summary is announced");
    assert_eq!(r.verification.unwrap().unsupported.len(), 0, "42 came from the calculator");
}

#[tokio::test]
async fn the_director_routes_by_keywords_then_by_the_model() {
    let f = fixture(
        vec![(
            "trading_strategist",
            vec![Reply::Call("prices", json!({"ticker": "KO"})), Reply::Answer("ok".into())],
        )],
        2048,
        100,
    );
    let r = f
        .runtime
        .run(
            "director",
            ask("Backtest a momentum strategy on KO"),
            DirectorMode::Route,
            &Events::default(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.agents, vec!["trading_strategist"]);
    let log = audit::load(&f.runtime.runs_dir, &r.run_id).unwrap();
    assert!(log.iter().any(|rec| matches!(rec, Record::Route { method, .. } if method == "keywords")));

    // No routing word: the director's model chooses (grammar-constrained to the agent names).
    let f = fixture(
        vec![
            ("director", vec![Reply::Json(json!({"agent": "risk_analyst"}))]),
            (
                "risk_analyst",
                vec![Reply::Call("prices", json!({"ticker": "BA"})), Reply::Answer("ok".into())],
            ),
        ],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("director", ask("Should I worry about Boeing?"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    assert_eq!(r.agents, vec!["risk_analyst"]);
    let seen = f.seen.lock().unwrap();
    let schema = seen[0].1.response_schema.as_ref().expect("schema");
    assert_eq!(schema.schema["properties"]["agent"]["enum"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn the_leader_splits_runs_and_merges_with_all_evidence() {
    let f = fixture(
        vec![
            (
                "director",
                vec![
                    Reply::Json(json!({"tasks": [
                        {"agent": "market_analyst", "task": "quote of KO"},
                        {"agent": "trading_strategist", "task": "test momentum on KO"}]})),
                    Reply::Answer("Combined view.".into()),
                ],
            ),
            (
                "market_analyst",
                vec![
                    Reply::Call("calculator", json!({"expression": "10 * 3"})),
                    Reply::Answer("30 it is.".into()),
                ],
            ),
            (
                "trading_strategist",
                vec![Reply::Call("prices", json!({"ticker": "KO"})), Reply::Answer("fine".into())],
            ),
        ],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("director", ask("Full view on KO"), DirectorMode::Lead, &Events::default(), None)
        .await
        .unwrap();
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(r.parts.len(), 2);
    assert_eq!(r.agents.last().map(String::as_str), Some("director"));
    assert_eq!(r.calls.len(), 2);
}

#[tokio::test]
async fn a_debate_ends_with_the_judges_verdict_checked_against_both_sides() {
    let f = fixture(
        vec![
            (
                "bull_analyst",
                vec![
                    Reply::Call("calculator", json!({"expression": "12.5 * 2"})),
                    Reply::Answer("Growth of 25 points.".into()),
                ],
            ),
            (
                "bear_analyst",
                vec![
                    Reply::Call("calculator", json!({"expression": "3 * 3"})),
                    Reply::Answer("Risk of 9 points.".into()),
                ],
            ),
            ("judge", vec![Reply::Answer("Bull wins: 25 beats 9, not 77.".into())]),
        ],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("director", ask("AAPL: buy or sell?"), DirectorMode::Debate, &Events::default(), None)
        .await
        .unwrap();
    assert_eq!(r.agents, vec!["bull_analyst", "bear_analyst", "judge"]);
    let v = r.verification.unwrap();
    assert_eq!((v.checked, v.unsupported.len()), (3, 1), "{v:?}");
    assert_eq!(v.unsupported[0].raw, "77");
}

#[tokio::test]
async fn a_run_replays_from_its_log() {
    let f = fixture(
        vec![(
            "market_analyst",
            vec![Reply::Call("ratios", json!({"ticker": "AAPL"})), Reply::Answer("Ratios fetched.".into())],
        )],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("market_analyst", ask("AAPL ratios"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    let original = audit::load(&f.runtime.runs_dir, &r.run_id).unwrap();
    let replay_rt = AgentRuntime { models: Arc::new(ReplayModels::new(&original)), ..f.runtime };
    let again = replay_rt
        .run(
            "market_analyst",
            ask("AAPL ratios"),
            DirectorMode::Route,
            &Events::default(),
            Some(r.run_id.clone()),
        )
        .await
        .unwrap();
    let replayed = audit::load(&replay_rt.runs_dir, &again.run_id).unwrap();
    assert!(compare(&original, &replayed).is_empty(), "{:?}", compare(&original, &replayed));
    assert_eq!(again.answer, r.answer);
    // A diverging replay (one reply short) is reported, not hidden.
    let short: Vec<Record> =
        original.iter().filter(|rec| !matches!(rec, Record::Model { turn: 2, .. })).cloned().collect();
    let rt = AgentRuntime { models: Arc::new(ReplayModels::new(&short)), ..replay_rt };
    let diverged = rt
        .run("market_analyst", ask("AAPL ratios"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    let log = audit::load(&rt.runs_dir, &diverged.run_id).unwrap();
    assert!(!compare(&original, &log).is_empty());
    assert!(audit::render(&log).contains("diverged"));
}

#[tokio::test]
async fn exchange_suffixed_tickers_show_their_currency_without_data() {
    let f = fixture(
        vec![(
            "market_analyst",
            vec![Reply::Call("prices", json!({"ticker": "7203.T"})), Reply::Answer("No Toyota data.".into())],
        )],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("market_analyst", ask("Toyota"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    let log = audit::load(&f.runtime.runs_dir, &r.run_id).unwrap();
    let err = log
        .iter()
        .find_map(|rec| match rec {
            Record::Tool { error: Some(e), .. } => Some(e.clone()),
            _ => None,
        })
        .expect("an error");
    assert!(err.contains("7203.T") && err.contains("JPY") && err.contains("Tokyo"), "{err}");
}

#[tokio::test]
async fn charts_are_written_beside_the_runs_log_and_listed_as_data() {
    let f = fixture(
        vec![(
            "trading_strategist",
            vec![
                Reply::Call(
                    "backtest",
                    json!({"ticker": "KO", "strategy": "sma_cross", "fast": 10, "slow": 50}),
                ),
                Reply::Answer("Done.".into()),
            ],
        )],
        2048,
        100,
    );
    let r = f
        .runtime
        .run("trading_strategist", ask("backtest KO"), DirectorMode::Route, &Events::default(), None)
        .await
        .unwrap();
    assert_eq!(r.artifacts.len(), 1);
    assert!(r.artifacts[0].starts_with(f.runtime.runs_dir.join(&r.run_id)), "{:?}", r.artifacts);
    assert!(r.artifacts[0].is_file());
    assert!(r.data[0].starts_with("backtest: ticker KO · strategy SMA 10/50 cross"), "{:?}", r.data);
}
