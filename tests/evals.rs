//! `bullpen eval` as a user runs it: every built-in task of `confs/evals/` end to end with the
//! real SmolLM2 (and MiniLM for nearest-neighbour few-shot) on the small slices in
//! `data/evals/`; the content-addressed cache; bad dataset rows named by line.
#![cfg(feature = "llama")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::cargo_bin;
use polars::prelude::*;
use serde_json::Value;

#[path = "common/home.rs"]
mod home;
use home::test_home;

/// A fresh `BULLPEN_HOME` that sees the shared test home's models.
fn fresh_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("home");
    std::os::unix::fs::symlink(test_home().join("models"), home.path().join("models")).expect("link models");
    home
}

/// `bullpen eval CONF` on the repository's sample of the task (never the full public set).
fn eval(home: &Path, out: &Path, conf: &str, sample: &str, extra: &[&str]) -> Output {
    let mut cmd = Command::new(cargo_bin("bullpen"));
    cmd.arg("eval")
        .arg(format!("confs/evals/{conf}.toml"))
        .args(["-e", &format!("job.task.dataset.paths=[\"data/evals/{sample}\"]")])
        .args(["-e", &format!("job.out=\"{}\"", out.display())])
        .args(extra)
        .env("BULLPEN_HOME", home)
        .env("NO_COLOR", "1");
    cmd.output().expect("bullpen runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The single run directory under `out/<task>/`.
fn run_dir(out: &Path, task: &str) -> PathBuf {
    let runs: Vec<PathBuf> =
        std::fs::read_dir(out.join(task)).expect("task dir").flatten().map(|e| e.path()).collect();
    assert_eq!(runs.len(), 1, "one run of {task}: {runs:?}");
    runs[0].clone()
}

fn read_items(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("items.jsonl"))
        .expect("items.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// Checks every output of a run; returns the summary.
fn check_run(dir: &Path, variants: &[&str], items: usize) -> Value {
    let rows = read_items(dir);
    assert_eq!(rows.len(), variants.len() * items, "one row per item and variant");
    for (i, v) in variants.iter().enumerate() {
        let mine: Vec<&Value> = rows.iter().filter(|r| r["variant"] == *v).collect();
        assert_eq!(mine.len(), items, "{v}");
        // Every variant sees the same items in the same order.
        let ids: Vec<&Value> = mine.iter().map(|r| &r["id"]).collect();
        let first: Vec<&Value> =
            rows.iter().filter(|r| r["variant"] == variants[0]).map(|r| &r["id"]).collect();
        assert_eq!(ids, first, "variant {i} order");
        for r in &mine {
            assert!(r["gold"]["type"].is_string(), "typed gold: {r}");
            let valid = r["answer"].is_object();
            // An item without an answer says why; one with an answer is scored.
            assert!(valid || r["invalid"].is_string() || r["error"].is_string(), "{r}");
            assert!(valid || r["correct"] == false, "{r}");
            assert!(r["prompt"].as_str().is_some_and(|p| !p.is_empty()), "{r}");
        }
    }
    let mut file = std::fs::File::open(dir.join("items.parquet")).expect("parquet");
    let df = ParquetReader::new(&mut file).finish().expect("Parquet reads");
    assert_eq!(df.height(), rows.len());
    for column in ["variant", "id", "output", "answer", "gold", "correct", "latency_ms", "prompt_tokens"] {
        assert!(df.column(column).is_ok(), "column {column}");
    }
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).expect("summary.json"))
            .expect("JSON");
    let s = &summary["summary"];
    assert_eq!(s["variants"].as_array().map(Vec::len), Some(variants.len()));
    for v in s["variants"].as_array().expect("variants") {
        for (name, value) in v["values"].as_object().expect("values") {
            if let Some(x) = value.as_f64() {
                assert!((-1.0..=1.0).contains(&x), "{name} = {x}");
            }
        }
        assert!(v["tokens_in"].as_u64().is_some_and(|t| t > 0), "{v}");
    }
    let md = std::fs::read_to_string(dir.join("summary.md")).expect("summary.md");
    let html = std::fs::read_to_string(dir.join("summary.html")).expect("summary.html");
    for v in variants {
        assert!(md.contains(v) && html.contains(v), "{v} in the summaries");
    }
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML parses cleanly: {:?}", doc.errors);
    summary
}

#[test]
fn every_builtin_task_runs_end_to_end_with_smollm2() {
    let home = fresh_home();
    let out = tempfile::tempdir().expect("out");
    // (task, sample file, variants, items, extra arguments)
    type Case<'a> = (&'a str, &'a str, &'a [&'a str], usize, &'a [&'a str]);
    let cases: &[Case] = &[
        ("fpb", "sentiment_sample.txt", &["zero-shot", "zero-shot-v2", "three-shot"], 4, &[]),
        ("gold_news", "gold_headlines_sample.tsv", &["zero-shot", "two-shot-nearest"], 3, &[]),
        (
            "finqa",
            "finqa_dev_sample.json",
            &["program", "direct"],
            3,
            &["-e", "job.task.fewshot.pool.paths=[\"data/evals/finqa_train_sample.json\"]"],
        ),
        ("tatqa", "tatqa_dev_sample.json", &["zero-shot"], 4, &[]),
        ("finner", "finner_test_sample.conll", &["zero-shot", "two-shot"], 3, &[]),
        ("ectsum", "earnings_calls_sample.jsonl", &["zero-shot"], 2, &[]),
    ];
    for (task, sample, variants, limit, extra) in cases {
        let mut args = vec!["--limit".to_string(), limit.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = eval(home.path(), out.path(), task, sample, &args);
        assert!(o.status.success(), "{task}: {}", stderr(&o));
        let table = String::from_utf8_lossy(&o.stdout);
        assert!(variants.iter().all(|v| table.contains(v)), "{task} terminal table: {table}");
        let summary = check_run(&run_dir(out.path(), task), variants, *limit);
        assert_eq!(summary["summary"]["baseline"], variants[0], "{task}");
    }
    // Results are tracked under BULLPEN_HOME/tracking.
    let tracked: Vec<PathBuf> = std::fs::read_dir(home.path().join("tracking/evals_fpb"))
        .expect("tracked experiment")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(tracked.len(), 1);
    let run: Value =
        serde_json::from_slice(&std::fs::read(tracked[0].join("run.json")).expect("run")).expect("JSON");
    assert_eq!(run["state"], "finished");
    let metrics = std::fs::read_to_string(tracked[0].join("metrics.jsonl")).expect("metrics");
    assert!(metrics.contains("zero-shot/macro_f1"), "{metrics}");
    assert!(tracked[0].join("artifacts/summary.md").is_file());
}

#[test]
fn the_cache_answers_identical_requests_and_a_new_variant_only_computes_itself() {
    let home = fresh_home();
    let out = tempfile::tempdir().expect("out");
    let first = eval(
        home.path(),
        out.path(),
        "fpb",
        "sentiment_sample.txt",
        &["--limit", "5", "--variants", "zero-shot"],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stderr(&first).contains("5 model calls, 0 cached"), "{}", stderr(&first));
    // The same variant again plus a new one: only the new variant's five items are asked.
    let second = eval(
        home.path(),
        out.path(),
        "fpb",
        "sentiment_sample.txt",
        &["--limit", "5", "--variants", "zero-shot,zero-shot-v2"],
    );
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stderr(&second).contains("5 model calls, 5 cached"), "{}", stderr(&second));
    // A third identical run makes no model call at all, with the same answers.
    let third = eval(
        home.path(),
        out.path(),
        "fpb",
        "sentiment_sample.txt",
        &["--limit", "5", "--variants", "zero-shot,zero-shot-v2"],
    );
    assert!(third.status.success(), "{}", stderr(&third));
    assert!(stderr(&third).contains("0 model calls, 10 cached"), "{}", stderr(&third));
    let mut runs: Vec<PathBuf> =
        std::fs::read_dir(out.path().join("fpb")).expect("runs").flatten().map(|e| e.path()).collect();
    runs.sort();
    assert_eq!(runs.len(), 3);
    let answers = |dir: &Path| -> Vec<(String, Value)> {
        read_items(dir)
            .into_iter()
            .map(|r| (r["variant"].as_str().unwrap_or("").to_string(), r["output"].clone()))
            .collect()
    };
    assert_eq!(answers(&runs[1]), answers(&runs[2]));
    assert!(read_items(&runs[2]).iter().all(|r| r["cached"] == true));
}

#[test]
fn a_malformed_dataset_row_is_reported_with_its_line_number() {
    let home = fresh_home();
    let out = tempfile::tempdir().expect("out");
    let dir = tempfile::tempdir().expect("data");
    let bad = dir.path().join("bad.txt");
    std::fs::write(
        &bad,
        "Sales rose.@positive\nCosts fell.@positive\nno label on this line\nFlat.@neutral\n",
    )
    .expect("write");
    let mut cmd = Command::new(cargo_bin("bullpen"));
    let o = cmd
        .args(["eval", "confs/evals/fpb.toml"])
        .args(["-e", &format!("job.task.dataset.paths=[\"{}\"]", bad.display())])
        .args(["-e", &format!("job.out=\"{}\"", out.path().display())])
        .env("BULLPEN_HOME", home.path())
        .output()
        .expect("runs");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("bad.txt") && err.contains("line 3"), "{err}");
    assert!(!out.path().join("fpb").exists(), "nothing written");
    // An unknown variant is refused with the names of the real ones.
    let o = eval(home.path(), out.path(), "fpb", "sentiment_sample.txt", &["--variants", "nope"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("no variant named `nope`") && err.contains("zero-shot-v2"), "{err}");
}

#[test]
fn an_agent_variant_answers_through_the_agent_runtime() {
    let home = fresh_home();
    let out = tempfile::tempdir().expect("out");
    let variant = "v1·local·k0·market_analyst";
    let o = eval(
        home.path(),
        out.path(),
        "fpb",
        "sentiment_sample.txt",
        &["--limit", "1", "-e", "job.matrix.agents=[\"market_analyst\"]", "--variants", variant],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = read_items(&run_dir(out.path(), "fpb"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["variant"], variant);
    // The agent answered (or its run ended without an answer, which the row says).
    assert!(
        rows[0]["output"].is_string() || rows[0]["error"].as_str().is_some_and(|e| e.contains("agent")),
        "{}",
        rows[0]
    );
    // The agent's run is in the audit log, as every agent run is.
    let runs: Vec<PathBuf> =
        std::fs::read_dir(home.path().join("runs")).expect("runs").flatten().map(|e| e.path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let log = std::fs::read_to_string(runs[0].join("log.jsonl")).expect("log");
    assert!(log.contains("\"agent\":\"market_analyst\""), "{log}");
}

#[path = "common/peer.rs"]
mod peer;

#[cfg(feature = "openai")]
#[test]
fn a_hosted_variant_is_scored_through_an_openai_compatible_server() {
    let test = "a_hosted_variant_is_scored_through_an_openai_compatible_server";
    let Some(url) = peer::peer_url(test) else { return };
    let home = fresh_home();
    let out = tempfile::tempdir().expect("out");
    // A profile for the third-party server (llama-cpp-python), crossed with the task's prompt.
    let o = eval(
        home.path(),
        out.path(),
        "fpb",
        "sentiment_sample.txt",
        &[
            "--limit",
            "3",
            "-e",
            "profiles.hosted.provider=\"openai\"",
            "-e",
            &format!("profiles.hosted.model=\"{}\"", peer::peer_model()),
            "-e",
            &format!("profiles.hosted.base_url=\"{url}\""),
            "-e",
            "profiles.hosted.api_key_env=\"BULLPEN_PEER_API_KEY\"",
            "-e",
            "job.matrix.profiles=[\"hosted\"]",
            "-e",
            "job.prices.hosted={input_per_mtok=1.0, output_per_mtok=2.0}",
            "--variants",
            "zero-shot,v1·hosted·k0",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = check_run(&run_dir(out.path(), "fpb"), &["zero-shot", "v1·hosted·k0"], 3);
    let hosted = &summary["summary"]["variants"][1];
    assert!(hosted["cost_usd"].as_f64().is_some_and(|c| c > 0.0), "priced: {hosted}");
}
