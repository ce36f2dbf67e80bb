//! Load generator for OpenAI-compatible chat servers: N concurrent sessions, each sending
//! streamed chat completions back to back for a fixed time. Reports requests/s, aggregate
//! completion tokens/s, time to first token p50/p95 and errors (429s counted apart).
//! Used by `benches/run_serve.sh` against `bullpen serve` and the llama-cpp-python server.
//!
//!   serve --url http://127.0.0.1:8080/v1 --model local --sessions 8 --seconds 60 [--key K] [--max-tokens 64]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;

const PROMPTS: [&str; 8] = [
    "What does free cash flow tell an investor?",
    "Explain the price-to-earnings ratio.",
    "What is a stock buyback?",
    "Why do bond prices fall when rates rise?",
    "What is a dividend yield?",
    "Explain market capitalisation.",
    "What is diversification?",
    "What does a high beta mean for a stock?",
];

#[derive(Default)]
struct Tally {
    ok: usize,
    errors: usize,
    rejected: usize,
    tokens: u64,
    ttft: Vec<f64>,
    error_samples: Vec<String>,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

async fn one(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    model: &str,
    prompt: &str,
    max_tokens: u32,
) -> Result<(f64, u64), (bool, String)> {
    let started = Instant::now();
    let mut req = client.post(format!("{url}/chat/completions")).json(&json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": true,
        "stream_options": {"include_usage": true}
    }));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.map_err(|e| (false, e.to_string()))?;
    if resp.status() == 429 {
        return Err((true, "429".into()));
    }
    if !resp.status().is_success() {
        let status = resp.status();
        return Err((false, format!("{status}: {}", resp.text().await.unwrap_or_default())));
    }
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut ttft = None;
    let (mut chunks, mut usage_tokens) = (0u64, None);
    while let Some(bytes) = body.next().await {
        let bytes = bytes.map_err(|e| (false, e.to_string()))?;
        buf.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(i) = buf.find("\n\n").or_else(|| buf.find("\r\n\r\n")) {
            let block: String = buf.drain(..i).collect();
            buf = buf.trim_start_matches(['\r', '\n']).to_string();
            for line in block.lines() {
                let Some(data) = line.strip_prefix("data:").map(str::trim) else { continue };
                if data == "[DONE]" {
                    continue;
                }
                let v: Value =
                    serde_json::from_str(data).map_err(|e| (false, format!("bad chunk {data}: {e}")))?;
                if let Some(err) = v.get("error") {
                    return Err((false, err.to_string()));
                }
                if v.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
                {
                    chunks += 1;
                    ttft.get_or_insert_with(|| started.elapsed().as_secs_f64());
                }
                if let Some(n) = v.pointer("/usage/completion_tokens").and_then(Value::as_u64) {
                    usage_tokens = Some(n);
                }
            }
        }
    }
    Ok((ttft.unwrap_or_else(|| started.elapsed().as_secs_f64()), usage_tokens.unwrap_or(chunks)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let url = arg("--url").unwrap_or_else(|| "http://127.0.0.1:8080/v1".into());
    let model = arg("--model").unwrap_or_else(|| "local".into());
    let key = arg("--key");
    let sessions: usize = arg("--sessions").and_then(|s| s.parse().ok()).unwrap_or(1);
    let seconds: u64 = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(30);
    let max_tokens: u32 = arg("--max-tokens").and_then(|s| s.parse().ok()).unwrap_or(64);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(600)).build()?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for s in 0..sessions {
        let (client, url, model, key, tally) =
            (client.clone(), url.clone(), model.clone(), key.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = s;
            // A bounded loop: no new request after the deadline.
            while Instant::now() < deadline {
                let r =
                    one(&client, &url, key.as_deref(), &model, PROMPTS[i % PROMPTS.len()], max_tokens).await;
                let mut t = tally.lock().await;
                match r {
                    Ok((ttft, tokens)) => {
                        t.ok += 1;
                        t.tokens += tokens;
                        t.ttft.push(ttft);
                    }
                    Err((true, _)) => {
                        t.rejected += 1;
                        drop(t);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err((false, e)) => {
                        t.errors += 1;
                        if t.error_samples.len() < 3 {
                            t.error_samples.push(e);
                        }
                    }
                }
                i += sessions;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let wall = started.elapsed().as_secs_f64();
    let mut t = tally.lock().await;
    let out = json!({
        "url": url, "model": model, "sessions": sessions, "seconds": wall,
        "requests": t.ok, "requests_per_s": t.ok as f64 / wall,
        "completion_tokens": t.tokens, "tokens_per_s": t.tokens as f64 / wall,
        "ttft_p50_s": percentile(&mut t.ttft, 0.5), "ttft_p95_s": percentile(&mut t.ttft, 0.95),
        "errors": t.errors, "rejected_429": t.rejected, "error_samples": t.error_samples,
    });
    println!("{out}");
    Ok(())
}
