//! Chat throughput and latency: Bullpen's llama.cpp provider (in process, continuous
//! batching) vs the llama-cpp-python server (the peer), same GGUF, same thread count,
//! same prompts, in one run. Not a test: nothing here asserts on time.
//!
//! ```text
//! benches/run_llm.sh        # starts the peer, runs this, stops the peer
//! cargo bench --profile dev --bench llm -- --peer-url http://127.0.0.1:8012/v1 [--threads 2]
//! ```
//!
//! Figures, each for both sides:
//! - single stream: prompt tokens/s (prompt tokens / time to first token) and decode
//!   tokens/s (tokens after the first / time after the first), median of `--reps` runs;
//! - `--streams` concurrent streams (`--rounds` rounds): aggregate decode tokens/s
//!   (all generated tokens / wall time of the round) and time-to-first-token p50 / p95.
//!
//! Every prompt starts with a unique line, so that neither side can reuse a cached
//! prompt prefix from an earlier request.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bullpen::llm::llama::{EngineConfig, LlamaChat};
use bullpen::llm::openai::OpenAiChat;
use bullpen::llm::profiles::OpenAiProfile;
use bullpen::llm::store::ModelStore;
use bullpen::llm::{ChatEvent, ChatModel, ChatRequest, Message, SamplingParams};
use clap::Parser;
use futures::StreamExt;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Base URL of the peer (llama-cpp-python server running the same GGUF).
    #[arg(long)]
    peer_url: String,
    /// Model name the peer serves.
    #[arg(long, default_value = "smollm2-135m-instruct")]
    peer_model: String,
    /// GGUF file; default: the store's smollm2-135m-instruct.
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    threads: u32,
    #[arg(long, default_value_t = 128)]
    max_tokens: u32,
    #[arg(long, default_value_t = 5)]
    reps: usize,
    #[arg(long, default_value_t = 8)]
    streams: usize,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// `long`: a ~190-token earnings paragraph + the instruction (RAG-style);
    /// `short`: the instruction alone (~30 tokens, chat-style).
    #[arg(long, value_enum, default_value_t = PromptKind::Long)]
    prompt: PromptKind,
    /// `cargo bench` passes `--bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PromptKind {
    Short,
    Long,
}

/// One streamed request, timed.
struct Sample {
    ttft: Duration,
    tokens: u32,
    after_first: Duration,
}

const CONTEXT: &str = "Apple reported quarterly revenue of $94.9 billion, up 6 percent year over year, \
and earnings per diluted share of $1.64. Services revenue reached an all-time high of $25 billion while \
iPhone revenue grew 6 percent. Gross margin was 46.2 percent. The board declared a cash dividend of \
$0.25 per share and the company returned over $29 billion to shareholders during the quarter. Operating \
cash flow was $26.8 billion. Management guided to revenue growth in the low to mid single digits for the \
December quarter, with gross margin between 46 and 47 percent, citing foreign exchange headwinds and \
continued strength in emerging markets such as India.";

fn prompt(kind: PromptKind, i: usize) -> ChatRequest {
    let instruction = "Write a detailed analyst note on Apple's results: growth, margins, capital returns, \
                       guidance and risks.";
    let text = match kind {
        PromptKind::Long => format!("Request {i}.\n{CONTEXT}\n{instruction}"),
        PromptKind::Short => format!("Request {i}. {instruction}"),
    };
    ChatRequest::new(vec![Message::user(text)])
}

async fn timed(model: &dyn ChatModel, request: ChatRequest, start: Instant) -> Sample {
    let mut stream = model.chat_stream(request).await.expect("request accepted");
    let (mut first, mut deltas) = (None, 0u32);
    let mut usage = None;
    while let Some(event) = stream.next().await {
        match event.expect("stream") {
            ChatEvent::Delta { .. } => {
                first.get_or_insert_with(Instant::now);
                deltas += 1;
            }
            ChatEvent::Done(r) => usage = Some(r.usage),
        }
    }
    let end = Instant::now();
    let first = first.unwrap_or(end);
    let usage = usage.unwrap_or_default();
    // llama-cpp-python reports no usage on streams but sends one chunk per token.
    let tokens = if usage.completion_tokens > 0 { usage.completion_tokens } else { deltas };
    Sample { ttft: first - start, tokens, after_first: end - first }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (v.len() as f64 - 1.0)).round() as usize;
    v[rank]
}

struct Figures {
    prompt_tps: f64,
    decode_tps: f64,
    agg_decode_tps: f64,
    ttft_p50_ms: f64,
    ttft_p95_ms: f64,
}

async fn measure(model: Arc<dyn ChatModel>, args: &Args, prompt_tokens: u32, label: &str) -> Figures {
    let params =
        SamplingParams { temperature: Some(0.0), max_tokens: Some(args.max_tokens), ..Default::default() };
    // Warm-up.
    let _ = timed(model.as_ref(), prompt(args.prompt, 0).with_params(params.clone()), Instant::now()).await;
    let mut prompt_tps = Vec::new();
    let mut decode_tps = Vec::new();
    for rep in 0..args.reps {
        let s = timed(
            model.as_ref(),
            prompt(args.prompt, 1000 + rep).with_params(params.clone()),
            Instant::now(),
        )
        .await;
        prompt_tps.push(f64::from(prompt_tokens) / s.ttft.as_secs_f64());
        decode_tps.push(f64::from(s.tokens.saturating_sub(1)) / s.after_first.as_secs_f64());
    }
    let mut ttfts = Vec::new();
    let mut agg = Vec::new();
    for round in 0..args.rounds {
        let start = Instant::now();
        let samples = futures::future::join_all((0..args.streams).map(|i| {
            let model = model.clone();
            let request = prompt(args.prompt, 2000 + round * 100 + i).with_params(params.clone());
            async move { timed(model.as_ref(), request, start).await }
        }))
        .await;
        let wall = start.elapsed().as_secs_f64();
        let tokens: u32 = samples.iter().map(|s| s.tokens).sum();
        agg.push(f64::from(tokens) / wall);
        ttfts.extend(samples.iter().map(|s| s.ttft.as_secs_f64() * 1000.0));
    }
    let f = Figures {
        prompt_tps: median(prompt_tps),
        decode_tps: median(decode_tps),
        agg_decode_tps: median(agg),
        ttft_p50_ms: percentile(ttfts.clone(), 50.0),
        ttft_p95_ms: percentile(ttfts, 95.0),
    };
    eprintln!(
        "{label}: prompt {:.0} tok/s, decode {:.1} tok/s, {}-stream aggregate {:.1} tok/s, TTFT p50 {:.0} ms p95 {:.0} ms",
        f.prompt_tps, f.decode_tps, args.streams, f.agg_decode_tps, f.ttft_p50_ms, f.ttft_p95_ms
    );
    f
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let model_path = match &args.model {
        Some(p) => p.clone(),
        None => ModelStore::new(&bullpen::io::osvariables::bullpen_home(), vec![])
            .ensure(bullpen::core::models::DEFAULT_CHAT_MODEL)
            .await
            .expect("model installed"),
    };
    let ours: Arc<dyn ChatModel> = Arc::new(
        LlamaChat::load(
            "bullpen",
            EngineConfig {
                model_path: model_path.clone(),
                lora: vec![],
                context: 2048,
                slots: args.streams as u32,
                batch: 512,
                threads: args.threads,
                prompt_cache: true,
            },
            SamplingParams::default(),
        )
        .await
        .expect("load model"),
    );
    let peer_profile = OpenAiProfile {
        model: args.peer_model.clone(),
        base_url: args.peer_url.clone(),
        api_key_env: "BULLPEN_BENCH_NO_KEY".into(),
        organization: None,
        headers: Default::default(),
        timeout_secs: 600,
        max_retries: 0,
        native_json_schema: true,
        params: SamplingParams::default(),
        fallback: vec![],
    };
    let peer: Arc<dyn ChatModel> = Arc::new(OpenAiChat::new("peer", &peer_profile).expect("peer client"));

    // Prompt size in tokens, as each side counts it (non-streamed call reports usage).
    let kind = args.prompt;
    let probe = |m: Arc<dyn ChatModel>| async move {
        m.chat(prompt(kind, 1).max_tokens(1).temperature(0.0)).await.expect("probe").usage.prompt_tokens
    };
    let ours_prompt = probe(ours.clone()).await;
    let peer_prompt = probe(peer.clone()).await;

    let o = measure(ours, &args, ours_prompt, "bullpen").await;
    let p = measure(peer, &args, peer_prompt, "llama-cpp-python").await;
    let report = json!({
        "model": model_path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "threads": args.threads,
        "max_tokens": args.max_tokens,
        "prompt_tokens": {"bullpen": ours_prompt, "peer": peer_prompt},
        "streams": args.streams,
        "prompt": match args.prompt { PromptKind::Long => "long", PromptKind::Short => "short" },
        "bullpen": {"prompt_tps": o.prompt_tps, "decode_tps": o.decode_tps, "agg_decode_tps": o.agg_decode_tps,
                    "ttft_p50_ms": o.ttft_p50_ms, "ttft_p95_ms": o.ttft_p95_ms},
        "peer": {"prompt_tps": p.prompt_tps, "decode_tps": p.decode_tps, "agg_decode_tps": p.agg_decode_tps,
                 "ttft_p50_ms": p.ttft_p50_ms, "ttft_p95_ms": p.ttft_p95_ms},
        "ratios": {
            "prompt_tps": o.prompt_tps / p.prompt_tps,
            "single_decode_tps": o.decode_tps / p.decode_tps,
            "agg_decode_tps": o.agg_decode_tps / p.agg_decode_tps,
            "ttft_p95": o.ttft_p95_ms / p.ttft_p95_ms,
        }
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
}
