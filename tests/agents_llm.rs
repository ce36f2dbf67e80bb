//! Agents with the real SmolLM2-135M-Instruct (llama.cpp, grammar-constrained tool calls) over
//! the demo universe, and the `bullpen chat --agent` / `agents` / `runs` commands as a user
//! runs them.
#![cfg(feature = "llama")]

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use bullpen::agents::audit::{self, Record};
use bullpen::agents::{DirectorMode, Events, RunStatus};
use bullpen::jobs::JobContext;
use bullpen::llm::Message;
use bullpen::settings::{AgentJob, BaseSettings, JobSettings};

#[path = "common/home.rs"]
mod home;
use home::test_home;

fn bullpen(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(cargo_bin("bullpen"));
    cmd.args(args).env("BULLPEN_HOME", home).env_remove("BULLPEN_DATA").env("NO_COLOR", "1");
    cmd
}

#[tokio::test]
async fn a_market_analyst_run_makes_valid_calls_and_its_answer_is_verified() {
    let job = AgentJob::new("market_analyst", None);
    let settings = BaseSettings::default().with_job(JobSettings::AgentJob(job.clone()));
    // Models from the shared test home; runs in a fresh one.
    let ctx = JobContext::with_home(&settings, test_home());
    let mut runtime = job.runtime(&ctx).await.expect("runtime");
    let runs = tempfile::tempdir().expect("runs");
    runtime.runs_dir = runs.path().to_path_buf();
    // A fixed date: the system prompt says "Today is …", and a greedy model's path depends on
    // every token of its prompt (tool call ids are derived from the messages for the same reason).
    runtime.tool_ctx.as_of = chrono::NaiveDate::from_ymd_opt(2024, 3, 8);
    let input = vec![Message::user("What is the latest price of KO and how did it move?")];
    let r = runtime
        .run("market_analyst", input, DirectorMode::Route, &Events::default(), None)
        .await
        .expect("run");
    assert_eq!(r.status, RunStatus::Completed, "{r:?}");
    assert!(!r.calls.is_empty(), "the first turn must call a tool");
    assert!(
        r.calls.iter().all(|c| c.valid),
        "every grammar-constrained call satisfies its schema: {:?}",
        r.calls
    );
    assert_eq!(r.invalid_replies, 0);
    let v = r.verification.as_ref().expect("the answer is verified");
    let answer = r.answer.as_deref().expect("an answer");
    for u in &v.unsupported {
        assert!(answer.contains(&format!("[unverified: {}]", u.raw)), "{} is marked in {answer}", u.raw);
    }
    let log = audit::load(runs.path(), &r.run_id).expect("log");
    let models: Vec<_> = log
        .iter()
        .filter_map(|rec| match rec {
            Record::Model { template, template_version, response: Some(resp), latency_ms, .. } => {
                Some((template.clone(), template_version.clone(), resp.usage.prompt_tokens, *latency_ms))
            }
            _ => None,
        })
        .collect();
    assert!(!models.is_empty());
    assert!(models.iter().all(|(t, v, tokens, _)| t == "analyst" && v == "v1" && *tokens > 0));
    assert!(log.iter().any(|rec| matches!(rec, Record::Tool { valid: true, .. })));
    assert!(log.iter().any(|rec| matches!(rec, Record::Finish { status: RunStatus::Completed, .. })));
}

#[test]
fn chat_with_an_agent_then_show_and_replay_the_run() {
    let home = tempfile::tempdir().expect("home");
    // The models of the shared test home, without copying them.
    std::os::unix::fs::symlink(test_home().join("models"), home.path().join("models")).expect("link models");
    let out = bullpen(
        home.path(),
        &["chat", "--agent", "trading_strategist", "--json", "Backtest a momentum strategy on KO"],
    )
    .output()
    .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    let run_id = r["run_id"].as_str().expect("run id").to_string();
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("run {run_id}")), "progress on stderr");

    let show = bullpen(home.path(), &["runs", "show", &run_id]).output().expect("show");
    assert!(show.status.success());
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("prompt analyst@v1") && text.contains("tool [trading_strategist]"), "{text}");

    let replay = bullpen(home.path(), &["runs", "replay", &run_id]).output().expect("replay");
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let text = String::from_utf8_lossy(&replay.stdout);
    assert!(text.contains("identical"), "{text}");

    let list = bullpen(home.path(), &["runs", "list"]).output().expect("list");
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 2, "the run and its replay");
}

#[test]
fn agents_list_and_clear_errors_for_bad_agent_files() {
    let home = tempfile::tempdir().expect("home");
    let out = bullpen(home.path(), &["agents", "list"]).output().expect("list");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "director",
        "market_analyst",
        "trading_strategist",
        "report_analyst",
        "risk_analyst",
        "report_writer",
    ] {
        assert!(text.contains(name), "{name} in {text}");
    }
    let dir = tempfile::tempdir().expect("agents");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"bad\"\ndescription = \"d\"\nrole = \"r\"\nprompt = { template = \"analyst\", version = \"v1\" }\ntools = [\"teleport\"]\n").expect("write");
    let out = bullpen(home.path(), &["agents", "list", "--agents-dir", dir.path().to_str().unwrap()])
        .output()
        .expect("list");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("unknown tool `teleport`"), "{err}");
    std::fs::write(&bad, "name = \"bad\"\ndescription = \"d\"\nrole = \"r\"\nprompt = { template = \"analyst\", version = \"v9\" }\ntools = [\"prices\"]\n").expect("write");
    let out = bullpen(home.path(), &["agents", "list", "--agents-dir", dir.path().to_str().unwrap()])
        .output()
        .expect("list");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("version `v9`"), "{err}");
    std::fs::write(&bad, "name = \"bad\"\ndescription = \"d\"\nrole = \"r\"\nprompt = { template = \"analyst\", version = \"v1\" }\ntools = [\"prices\"]\nmodel = \"gpt-9\"\n").expect("write");
    let out = bullpen(home.path(), &["agents", "list", "--agents-dir", dir.path().to_str().unwrap()])
        .output()
        .expect("list");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("unknown model profile `gpt-9`"), "{err}");
    let out = bullpen(home.path(), &["runs", "show", "nope"]).output().expect("show");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run `nope`"));
}
