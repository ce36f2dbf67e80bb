//! `bullpen ingest` / `bullpen search` as a user runs them, and crash safety: an ingestion
//! killed with SIGKILL mid-run and run again ends with exactly the chunks of a clean run.
#![cfg(all(feature = "candle", unix))]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

#[path = "common/home.rs"]
mod home;

const TWEETS: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/data/news/stocknet_tweets_2014_2015_20tickers.jsonl.gz");

/// A universe of the first `n` demo tweets.
fn universe(dir: &Path, n: usize) -> std::path::PathBuf {
    let root = dir.join("universe");
    std::fs::create_dir_all(root.join("news")).expect("mkdir");
    let text = bullpen_connectors::files::read_string(Path::new(TWEETS)).expect("read tweets");
    let lines: Vec<&str> = text.lines().take(n).collect();
    std::fs::write(root.join("news/tweets.jsonl"), lines.join("\n") + "\n").expect("write");
    root
}

fn bullpen(args: &[&str]) -> Command {
    let mut cmd = Command::new(cargo_bin("bullpen"));
    cmd.args(args).env("BULLPEN_HOME", home::test_home()).env_remove("BULLPEN_QDRANT_URL");
    cmd
}

fn ingest_json(data: &Path, index: &Path) -> Value {
    let out = bullpen(&["ingest", "--source", "news", "--json", "--batch-size", "16"])
        .arg("--data")
        .arg(data)
        .arg("--index-dir")
        .arg(index)
        .output()
        .expect("run bullpen ingest");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON summary")
}

#[test]
fn a_killed_ingestion_resumes_to_exactly_a_clean_ingestion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = universe(dir.path(), 2500);
    let index = dir.path().join("killed");

    let mut child = bullpen(&["ingest", "--source", "news", "--batch-size", "16"])
        .arg("--data")
        .arg(&data)
        .arg("--index-dir")
        .arg(&index)
        .env("BULLPEN_LOGGING__LEVEL", "warn,bullpen::rag::ingest=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut batches = 0;
    let mut log = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("line");
        if line.contains("batch written") {
            batches += 1;
        }
        log.push(line);
        if batches == 48 {
            child.kill().expect("SIGKILL");
            break;
        }
    }
    let status = child.wait().expect("wait");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the ingestion ended before it was killed: {status:?}\n{}",
        log.join("\n")
    );

    let resumed = ingest_json(&data, &index);
    let clean = ingest_json(&data, &dir.path().join("clean"));
    assert_eq!(resumed["chunks_total"], clean["chunks_total"], "resumed {resumed:#}\nclean {clean:#}");
    assert_eq!(resumed["documents"], clean["documents"]);
    let n = |v: &Value, k: &str| v[k].as_u64().expect(k);
    assert!(n(&resumed, "unchanged") > 0, "the killed run's complete documents are kept: {resumed:#}");
    assert_eq!(
        n(&resumed, "unchanged") + n(&resumed, "added") + n(&resumed, "replaced"),
        n(&clean, "documents")
    );
    // And once more: nothing to do.
    let again = ingest_json(&data, &index);
    assert_eq!((n(&again, "unchanged"), n(&again, "chunks_written")), (n(&clean, "documents"), 0));
}

#[test]
fn ingest_prints_a_summary_and_search_prints_citations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = universe(dir.path(), 200);
    let index = dir.path().join("index");
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).expect("mkdir");
    std::fs::write(files.join("empty.txt"), "").expect("w");
    let out = bullpen(&["ingest", "--source", "news"])
        .arg(&files)
        .arg("--data")
        .arg(&data)
        .arg("--index-dir")
        .arg(&index)
        .output()
        .expect("ingest");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("documents: ") && text.contains("chunks in the index: "), "{text}");
    assert!(text.contains("skipped: ") && text.contains("empty.txt: empty file"), "{text}");

    let out = bullpen(&[
        "search",
        "AAPL earnings",
        "--ticker",
        "aapl",
        "--type",
        "news",
        "-k",
        "3",
        "--from",
        "2014-01-01",
    ])
    .arg("--index-dir")
    .arg(&index)
    .output()
    .expect("search");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("1. [") && text.contains("AAPL") && text.contains("chars "), "{text}");

    let out = bullpen(&["search", "AAPL earnings", "--json", "-k", "2"])
        .arg("--index-dir")
        .arg(&index)
        .output()
        .expect("search");
    let hits: Value = serde_json::from_slice(&out.stdout).expect("JSON hits");
    assert_eq!(hits.as_array().map(Vec::len), Some(2));
    assert!(hits[0]["citation"]["char_end"].as_u64().is_some());

    // A query on a collection that does not exist yet is empty, not an error.
    let out =
        bullpen(&["search", "anything", "--index-dir"]).arg(dir.path().join("new")).output().expect("search");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no hits\n");
    // A bad date is a usage error naming the option.
    let out = bullpen(&["search", "x", "--from", "2024-13-01"]).output().expect("search");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from"));
}
