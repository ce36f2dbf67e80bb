//! Agent benchmark: 20 fixed questions over the demo universe, each sent to the director
//! (route mode) with the real SmolLM2-135M. Reports per question the agent chosen, steps
//! (model calls), tool calls and their validity, unsupported numbers and latency; and overall
//! the tool-call validity rate, the share of answers with zero unsupported numbers, routing
//! accuracy and latency percentiles. Run: `benches/run_agents.sh` (writes JSON to --out).

use std::path::PathBuf;
use std::time::Instant;

use bullpen::agents::{DirectorMode, Events, RunStatus};
use bullpen::jobs::JobContext;
use bullpen::llm::Message;
use bullpen::settings::{AgentJob, BaseSettings, JobSettings};
use serde_json::{Value, json};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let questions = arg("--questions")
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/benches/agent_questions.jsonl").into());
    let out = arg("--out").map(PathBuf::from);
    let job = AgentJob::new("director", None);
    let settings = BaseSettings::default().with_job(JobSettings::AgentJob(job.clone()));
    let ctx = JobContext::new(&settings);
    let mut runtime = job.runtime(&ctx).await?;
    let runs = tempfile::tempdir()?;
    runtime.runs_dir = runs.path().to_path_buf();
    let mut rows = Vec::new();
    let (mut calls, mut valid, mut answered, mut clean, mut routed_ok) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut latencies = Vec::new();
    let mut steps = Vec::new();
    for line in std::fs::read_to_string(&questions)?.lines().filter(|l| !l.trim().is_empty()) {
        let q: Value = serde_json::from_str(line)?;
        let text = q["question"].as_str().unwrap_or_default().to_string();
        let started = Instant::now();
        let r = runtime
            .run("director", vec![Message::user(text.clone())], DirectorMode::Route, &Events::default(), None)
            .await?;
        let secs = started.elapsed().as_secs_f64();
        let n_calls = r.calls.len() + r.invalid_replies - r.calls.iter().filter(|c| !c.valid).count();
        let n_valid = r.calls.iter().filter(|c| c.valid).count();
        calls += n_calls;
        valid += n_valid;
        let unsupported = r.unsupported_numbers();
        let checked = r.verification.as_ref().map_or(0, |v| v.checked);
        if r.status == RunStatus::Completed {
            answered += 1;
            if unsupported == 0 {
                clean += 1;
            }
        }
        let agent = r.agents.first().cloned().unwrap_or_default();
        if Some(agent.as_str()) == q["expect"].as_str() {
            routed_ok += 1;
        }
        latencies.push(secs);
        steps.push(r.turns as f64);
        eprintln!(
            "{} {:<18} {:?} steps {} calls {}/{} numbers {}/{} unsupported, {:.1} s",
            q["id"].as_str().unwrap_or("?"),
            agent,
            r.status,
            r.turns,
            n_valid,
            n_calls,
            unsupported,
            checked,
            secs
        );
        rows.push(json!({
            "id": q["id"], "question": text, "agent": agent, "expected": q["expect"], "status": r.status,
            "steps": r.turns, "tool_calls": n_calls, "valid_calls": n_valid, "numbers_checked": checked,
            "unsupported": unsupported, "latency_s": secs, "answer": r.answer,
        }));
    }
    let n = rows.len();
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    let summary = json!({
        "questions": n,
        "model": "SmolLM2-135M-Instruct Q4_1 (llama.cpp, grammar-constrained tool calls)",
        "tool_calls": calls,
        "tool_call_validity": if calls > 0 { valid as f64 / calls as f64 } else { f64::NAN },
        "answered": answered,
        "answers_with_zero_unsupported": clean,
        "share_zero_unsupported": clean as f64 / answered.max(1) as f64,
        "routing_accuracy": routed_ok as f64 / n.max(1) as f64,
        "mean_steps": steps.iter().sum::<f64>() / n.max(1) as f64,
        "latency_p50_s": percentile(&sorted, 0.5),
        "latency_p90_s": percentile(&sorted, 0.9),
        "latency_mean_s": latencies.iter().sum::<f64>() / n.max(1) as f64,
        "threads": std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1),
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    if let Some(out) = out {
        std::fs::write(out, serde_json::to_string_pretty(&json!({"summary": summary, "rows": rows}))?)?;
    }
    Ok(())
}
