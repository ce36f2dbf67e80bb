//! The llama.cpp provider against the real SmolLM2-135M-Instruct GGUF (installed
//! by the model store into the test home, pulled once).
#![cfg(feature = "llama")]

use std::collections::BTreeMap;
use std::sync::Arc;

use bullpen::core::schemas;
use bullpen::llm::profiles::{ProfileSettings, Registry, builtin_profiles};
use bullpen::llm::store::ModelStore;
use bullpen::llm::{
    ChatEvent, ChatModel, ChatRequest, FinishReason, LlmError, Message, ToolChoice, ToolSpec, collect,
};
use futures::StreamExt;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::OnceCell;

#[path = "common/home.rs"]
mod home;
use home::test_home;

static MODEL: OnceCell<Arc<dyn ChatModel>> = OnceCell::const_new();

/// One engine for the whole binary: 8 slots, 2048 tokens each.
async fn model() -> Arc<dyn ChatModel> {
    MODEL
        .get_or_init(|| async {
            let mut profiles: BTreeMap<String, ProfileSettings> = builtin_profiles();
            if let Some(ProfileSettings::Llama(p)) = profiles.get_mut("local") {
                p.slots = 8;
                p.context = 1024;
            }
            let store = Arc::new(ModelStore::new(&test_home(), vec![]));
            Registry::new(profiles, store).chat("local").await.expect("load SmolLM2")
        })
        .await
        .clone()
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest::new(vec![Message::user(text)]).temperature(0.0).max_tokens(48)
}

#[tokio::test]
async fn answers_a_finance_prompt_and_stream_matches() {
    let model = model().await;
    let request = ask("In one sentence, what does a company's revenue measure?");
    let whole = model.chat(request.clone()).await.unwrap();
    assert!(whole.text.split_whitespace().count() >= 3, "answer: {:?}", whole.text);
    assert!(whole.usage.prompt_tokens > 0 && whole.usage.completion_tokens > 0);

    let mut stream = model.chat_stream(request).await.unwrap();
    let (mut deltas, mut done) = (String::new(), None);
    let mut n_deltas = 0;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ChatEvent::Delta { text } => {
                deltas.push_str(&text);
                n_deltas += 1;
            }
            ChatEvent::Done(r) => done = Some(r),
        }
    }
    let done = done.expect("stream ends with Done");
    assert!(n_deltas > 1, "the answer was streamed in pieces");
    assert_eq!(deltas, whole.text);
    assert_eq!(done.text, whole.text);
}

#[tokio::test]
async fn stop_strings_cut_the_answer() {
    let model = model().await;
    let request = ask("Explain what a balance sheet shows.");
    let full = model.chat(request.clone()).await.unwrap().text;
    // Stop at a word from the middle of the unconstrained answer.
    let words: Vec<&str> = full.split_whitespace().collect();
    assert!(words.len() > 6, "{full:?}");
    let stop = words[words.len() / 2];
    let expected = &full[..full.find(stop).unwrap()];
    let mut stopped = request;
    stopped.params.stop = vec![stop.to_string()];
    let r = model.chat(stopped.clone()).await.unwrap();
    assert_eq!(r.finish_reason, FinishReason::Stop, "{:?}", r.text);
    assert_eq!(r.text, expected);
    // Streamed deltas never leak the stop string.
    let streamed = collect(model.chat_stream(stopped).await.unwrap()).await.unwrap();
    assert_eq!(streamed.text, expected);
}

#[tokio::test]
async fn structured_output_always_validates() {
    let model = model().await;
    let schema = json!({
        "type": "object",
        "properties": {
            "company": {"type": "string"},
            "rating": {"type": "string", "enum": ["buy", "hold", "sell"]},
            "price_target": {"type": "number"},
            "risks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "severity": {"type": "integer", "minimum": 1, "maximum": 5}
                    },
                    "required": ["name", "severity"]
                },
                "minItems": 1,
                "maxItems": 3
            }
        },
        "required": ["company", "rating", "price_target", "risks"]
    });
    let companies = [
        "Apple",
        "Microsoft",
        "Nvidia",
        "Amazon",
        "Alphabet",
        "Meta",
        "Tesla",
        "Berkshire Hathaway",
        "JPMorgan",
        "Visa",
        "Mastercard",
        "Exxon Mobil",
        "Johnson & Johnson",
        "Procter & Gamble",
        "Coca-Cola",
        "Boeing",
        "Nike",
        "Netflix",
        "IBM",
        "Walmart",
    ];
    let calls = companies.iter().map(|c| {
        let model = model.clone();
        let schema = schema.clone();
        async move {
            let request = ChatRequest::new(vec![Message::user(format!(
                "Give an equity research view on {c} as JSON with its main risks."
            ))])
            .temperature(0.7)
            .max_tokens(400)
            .with_schema("view", schema);
            model.chat(request).await
        }
    });
    let results = futures::future::join_all(calls).await;
    assert_eq!(results.len(), 20);
    for r in results {
        let r = r.expect("structured output");
        let value = r.json().expect("valid JSON");
        schemas::validate(&schema, &value).expect("satisfies the schema");
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct QuoteArgs {
    /// Ticker symbol, e.g. AAPL.
    ticker: String,
}

#[tokio::test]
async fn tool_call_round_trip() {
    let model = model().await;
    let tools = vec![ToolSpec::of::<QuoteArgs>("get_quote", "Latest closing price of a stock ticker.")];
    let mut messages = vec![Message::user("What is the latest closing price of Apple (ticker AAPL)?")];
    let first = model
        .chat(
            ChatRequest::new(messages.clone())
                .temperature(0.0)
                .with_tools(tools.clone(), ToolChoice::Required),
        )
        .await
        .unwrap();
    assert_eq!(first.finish_reason, FinishReason::ToolCalls);
    let call = first.tool_calls.first().expect("a tool call").clone();
    assert_eq!(call.name, "get_quote");
    let args: QuoteArgs = call.parse().expect("arguments match the tool's type");
    assert!(!args.ticker.is_empty());

    messages.push(Message::assistant_tool_calls(first.tool_calls.clone()));
    messages.push(Message::tool(call.id.clone(), json!({"ticker": "AAPL", "close": 227.52}).to_string()));
    // The last turn answers from the tool result (tools still listed, calls not allowed).
    let second = model
        .chat(ChatRequest::new(messages).temperature(0.0).max_tokens(64).with_tools(tools, ToolChoice::None))
        .await
        .unwrap();
    assert!(second.tool_calls.is_empty());
    assert!(!second.text.trim().is_empty(), "no answer after the tool result");
}

#[tokio::test]
async fn prompt_over_the_context_window_is_a_clear_error() {
    let model = model().await;
    let long = "revenue ".repeat(2000);
    let err = model.chat(ask(&long)).await.unwrap_err();
    match &err {
        LlmError::ContextOverflow { prompt_tokens, context, .. } => {
            assert!(*prompt_tokens > *context);
            assert_eq!(*context, 1024);
        }
        other => panic!("expected ContextOverflow, got {other:?}"),
    }
    assert!(err.to_string().contains("context window"), "{err}");
    // The engine still serves requests afterwards.
    assert!(!model.chat(ask("Name one stock index.")).await.unwrap().text.is_empty());
}

#[tokio::test]
async fn concurrent_requests_match_single_answers() {
    let model = model().await;
    let prompts = [
        "What is a dividend?",
        "Explain the price-to-earnings ratio briefly.",
        "What does EBITDA stand for?",
        "What is a bond yield?",
        "Define market capitalisation.",
        "What is free cash flow?",
        "What is a stock split?",
        "What does a central bank do?",
    ];
    let mut single = Vec::new();
    for p in prompts {
        single.push(model.chat(ask(p)).await.unwrap().text);
    }
    let together = futures::future::join_all(prompts.iter().map(|p| {
        let model = model.clone();
        async move { collect(model.chat_stream(ask(p)).await.unwrap()).await.unwrap().text }
    }))
    .await;
    for (i, (a, b)) in single.iter().zip(&together).enumerate() {
        assert_eq!(a, b, "prompt {i} differs when batched");
    }
}

#[tokio::test]
async fn a_reused_prompt_prefix_gives_the_answers_of_a_fresh_prefill() {
    // One slot: every request lands on the same sequence, whose cache holds the last prompt.
    let mut profiles: BTreeMap<String, ProfileSettings> = builtin_profiles();
    if let Some(ProfileSettings::Llama(p)) = profiles.get_mut("local") {
        p.slots = 1;
        p.context = 1024;
    }
    let store = Arc::new(ModelStore::new(&test_home(), vec![]));
    let engine = Registry::new(profiles, store).chat("local").await.expect("load SmolLM2");
    let instruction = "Classify the sentiment of this sentence from financial news for an investor \
                       in the company. Answer with one word: negative, neutral or positive.\n\nSentence: ";
    let sentences = [
        "Operating profit rose to EUR 9.1 million from EUR 6.4 million.",
        "The company will cut 300 jobs after sales fell.",
        "Operating profit rose to EUR 9.1 million from EUR 6.4 million.",
    ];
    let mut answers = Vec::new();
    for s in sentences {
        answers.push(engine.chat(ask(&format!("{instruction}{s}"))).await.unwrap().text);
    }
    // The first ask prefilled everything; the third reused the instruction the second left in
    // the cache (and the second reused the first's): same answers as from scratch.
    assert_eq!(answers[0], answers[2]);
    let fresh = model().await.chat(ask(&format!("{instruction}{}", sentences[1]))).await.unwrap().text;
    assert_eq!(answers[1], fresh);
}

#[cfg(feature = "openai")]
#[tokio::test]
async fn fallback_chain_moves_to_the_local_model_when_the_hosted_one_is_down() {
    use bullpen::llm::profiles::OpenAiProfile;
    let mut profiles = builtin_profiles();
    if let Some(ProfileSettings::Llama(p)) = profiles.get_mut("local") {
        p.slots = 2;
        p.context = 512;
    }
    // Nothing listens on port 9 of the loopback: the hosted provider is unreachable.
    profiles.insert(
        "hosted".into(),
        ProfileSettings::Openai(OpenAiProfile {
            model: "gpt-4o-mini".into(),
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key_env: "BULLPEN_TEST_NO_SUCH_KEY".into(),
            organization: None,
            headers: Default::default(),
            timeout_secs: 5,
            max_retries: 0,
            native_json_schema: true,
            params: Default::default(),
            fallback: vec!["local".into()],
        }),
    );
    let registry = Registry::new(profiles, Arc::new(ModelStore::new(&test_home(), vec![])));
    assert_eq!(registry.chain("hosted").unwrap(), vec!["hosted".to_string(), "local".to_string()]);
    let model = registry.chat("hosted").await.unwrap();
    let answer = model.chat(ask("Name one stock exchange.")).await.unwrap();
    assert!(!answer.text.is_empty());
    assert_eq!(answer.model, "SmolLM2-135M-Instruct.Q4_1.gguf", "answered by the local model");
    // A bad request is not retried down the chain: it fails as a bad request.
    let bad = model.chat(ChatRequest::new(vec![])).await.unwrap_err();
    assert!(matches!(bad, LlmError::InvalidRequest(_)), "{bad:?}");
}

#[tokio::test]
async fn lora_adapter_attached_to_a_profile_changes_the_output() {
    use bullpen::llm::profiles::LoraSettings;
    let adapter = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smollm2-test-lora.gguf");
    let mut profiles = builtin_profiles();
    let Some(ProfileSettings::Llama(base)) = profiles.get("local").cloned() else {
        panic!("built-in local profile")
    };
    let with_lora = |scale: f32| {
        let mut p = base.clone();
        p.slots = 1;
        p.context = 512;
        p.lora = vec![LoraSettings { adapter: adapter.to_string(), scale }];
        ProfileSettings::Llama(p)
    };
    let mut plain = base.clone();
    plain.slots = 1;
    plain.context = 512;
    profiles.insert("plain".into(), ProfileSettings::Llama(plain));
    profiles.insert("lora".into(), with_lora(1.0));
    profiles.insert("lora-off".into(), with_lora(0.0));
    let registry = Registry::new(profiles, Arc::new(ModelStore::new(&test_home(), vec![])));
    let request = ask("What is a dividend?");
    let plain = registry.chat("plain").await.unwrap().chat(request.clone()).await.unwrap().text;
    let lora = registry.chat("lora").await.unwrap().chat(request.clone()).await.unwrap().text;
    let off = registry.chat("lora-off").await.unwrap().chat(request).await.unwrap().text;
    assert_ne!(plain, lora, "the adapter is applied");
    assert_eq!(plain, off, "an adapter at scale 0 leaves the model unchanged");

    // A missing adapter file is a clear load error.
    let mut profiles = builtin_profiles();
    let mut broken = base.clone();
    broken.lora = vec![LoraSettings { adapter: "/nonexistent/adapter.gguf".into(), scale: 1.0 }];
    profiles.insert("broken".into(), ProfileSettings::Llama(broken));
    let registry = Registry::new(profiles, Arc::new(ModelStore::new(&test_home(), vec![])));
    let err = registry.chat("broken").await.err().expect("load error");
    assert!(err.to_string().contains("/nonexistent/adapter.gguf"), "{err}");
}
