//! Equity research reports over the demo universe: a whole report with the real SmolLM2
//! writing the prose (every section, tables equal to the ratio engine's values, valid HTML, a
//! PDF that opens, charts), and the batch as a user runs it with `bullpen report`: a kill
//! mid-run then a rerun, an unknown ticker among good ones, the as-of date respected.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use bullpen::analytics::RatioEngine;
use bullpen::jobs::JobContext;
use bullpen::reports::batch::{Record, Status};
use bullpen::settings::{BaseSettings, JobSettings, ReportsJob};
use chrono::NaiveDate;

#[path = "common/home.rs"]
mod home;
use home::test_home;

const SECTIONS: [&str; 10] = [
    "business-overview",
    "market-position",
    "operating-results",
    "financial-analysis",
    "segment-analysis",
    "valuation",
    "risk-assessment",
    "competitor-comparison",
    "investment-thesis",
    "sources",
];

fn bullpen(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(cargo_bin("bullpen"));
    cmd.args(args).env("BULLPEN_HOME", home).env_remove("BULLPEN_DATA").env("NO_COLOR", "1");
    cmd
}

fn record(dir: &Path, ticker: &str) -> Record {
    let text = std::fs::read_to_string(dir.join(ticker).join("report.json")).expect("report.json");
    serde_json::from_str(&text).expect("a report record")
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

/// Files of a ticker directory, temporaries included, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(all(feature = "llama", feature = "pdf"))]
#[tokio::test]
async fn a_report_has_every_section_engine_values_valid_html_a_pdf_and_charts() {
    let out = tempfile::tempdir().expect("out");
    let as_of = date("2025-03-31");
    let job = ReportsJob {
        as_of: Some(as_of),
        out: out.path().to_path_buf(),
        concurrency: 1,
        ..ReportsJob::new(vec!["AAPL".into()])
    };
    let settings = BaseSettings::default().with_job(JobSettings::ReportsJob(job.clone()));
    let ctx = JobContext::with_home(&settings, test_home());
    let summary = job.report(&ctx).await.expect("the batch runs");
    let o = &summary.outcomes[0];
    assert_eq!(o.status, Status::Done, "{o:?}");
    let r = record(out.path(), "AAPL");
    assert_eq!(r.sections, SECTIONS);
    assert_eq!(r.as_of, as_of);

    // The multi-year table holds the ratio engine's values, not copies made elsewhere.
    let universe = bullpen::io::datasets::open_universe(&bullpen::io::osvariables::demo_data_dir()).unwrap();
    let engine = RatioEngine::default().report(&universe, "AAPL", Some(as_of)).await.expect("engine");
    let mut compared = 0;
    for (label, name) in [
        ("Gross margin", "gross_margin"),
        ("ROIC", "roic"),
        ("EPS (diluted)", "eps_diluted"),
        ("P/E", "pe"),
        ("Free cash flow", "free_cash_flow"),
    ] {
        let row = &r.year_table[label];
        assert!(!row.is_empty(), "{label} has years");
        for (fy, value) in row {
            let p = engine.periods.iter().find(|p| &p.label == fy).expect("the year is the engine's");
            let want = p.values.iter().find(|v| v.name == name).and_then(|v| v.value);
            // Equal up to JSON's last bit (serde_json parses floats to within one ulp).
            match (value, want) {
                (Some(a), Some(b)) => {
                    assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{label} {fy}: {a} vs {b}")
                }
                (a, b) => assert_eq!(*a, b, "{label} {fy}"),
            }
            compared += usize::from(want.is_some());
        }
    }
    assert!(compared >= 10, "values were compared, not only absences: {compared}");
    let md = std::fs::read_to_string(out.path().join("AAPL/report.md")).unwrap();
    let gm = engine.periods.iter().rev().find(|p| p.label.starts_with("FY")).unwrap();
    let gm = gm.values.iter().find(|v| v.name == "gross_margin").unwrap();
    assert!(md.contains(&bullpen::analytics::format::fmt_value(gm)), "the latest gross margin is shown");
    for t in [
        "Financial summary by fiscal year",
        "Competitor comparison",
        "Discounted cash flow",
        "Sensitivity",
        "Revenue by",
    ] {
        assert!(md.contains(t), "the report has `{t}`");
    }

    // Prose: written by the model or said to have failed; every unsupported number marked.
    for (id, p) in &r.prose {
        assert!(p.text.is_some() || p.error.is_some() || id == "sources", "{id}: {p:?}");
        if let Some(t) = &p.text {
            assert!(!t.trim().is_empty(), "{id}");
            for u in &p.unsupported {
                assert!(t.contains(&format!("[unverified: {u}]")), "{id}: {u} is marked in {t}");
            }
        }
    }
    assert!(r.prose.values().filter(|p| p.text.is_some()).count() >= 5, "the writer wrote the sections");
    assert_eq!(r.unsupported, r.prose.values().map(|p| p.unsupported.len()).sum::<usize>());
    assert!(md.contains(&format!(
        "checked against the report's data and passages: {}; unsupported: {}.",
        r.checked, r.unsupported
    )));

    // HTML: parses without errors, self-contained, every section and chart inline.
    let html = std::fs::read_to_string(out.path().join("AAPL/report.html")).unwrap();
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    for id in SECTIONS {
        let sel = scraper::Selector::parse(&format!("h2#{id}")).unwrap();
        assert_eq!(doc.select(&sel).count(), 1, "section {id}");
    }
    let svg = scraper::Selector::parse("figure svg").unwrap();
    assert!(doc.select(&svg).count() >= 4, "the four charts are inline");
    for bad in ["<script", "src=\"http", "href=\"http", "<link"] {
        assert!(!html.contains(bad), "no external asset: {bad}");
    }

    // PDF: opens, A4, several pages.
    let pdf = std::fs::read(out.path().join("AAPL/report.pdf")).unwrap();
    let parsed = lopdf::Document::load_mem(&pdf).expect("the PDF opens");
    let pages = parsed.get_pages();
    assert!(pages.len() >= 2, "{} pages", pages.len());
    let first = parsed.get_object(*pages.values().next().unwrap()).unwrap().as_dict().unwrap();
    let media = first.get(b"MediaBox").unwrap().as_array().unwrap();
    let w = media[2].as_float().unwrap();
    assert!((w - 595.0).abs() < 1.0, "A4 width, got {w}");

    // Charts beside the Markdown.
    let charts = listing(&out.path().join("AAPL/charts"));
    assert!(charts.len() >= 4, "{charts:?}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["writer"]["prompts"].as_array().is_some_and(|p| p.len() == 2), "{manifest}");
    assert!(manifest["reports"][0]["data"].as_object().is_some_and(|d| !d.is_empty()), "data hashes");
}

#[test]
fn a_killed_batch_rerun_ends_with_one_complete_report_per_ticker() {
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().to_str().unwrap();
    let tickers = ["AAPL", "KO", "GOOGL", "JNJ"];
    let args = [
        "report",
        "--tickers",
        "AAPL,KO,GOOGL,JNJ",
        "--as-of",
        "2025-03-31",
        "--out",
        out_s,
        "--no-prose",
        "--concurrency",
        "1",
    ];
    let mut child = bullpen(home.path(), &args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    // Kill as soon as the first report is complete: the next one is being written.
    loop {
        if tickers.iter().any(|t| out.path().join(t).join("report.json").is_file()) {
            break;
        }
        assert!(Instant::now() < deadline, "no report completed");
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let done_before: Vec<&str> =
        tickers.iter().copied().filter(|t| out.path().join(t).join("report.json").is_file()).collect();
    assert!(!done_before.is_empty());

    let rerun = bullpen(home.path(), &args).output().unwrap();
    assert!(rerun.status.success(), "{}", String::from_utf8_lossy(&rerun.stderr));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("manifest.json")).unwrap()).unwrap();
    for t in tickers {
        let files = listing(&out.path().join(t));
        assert_eq!(files, ["charts", "report.html", "report.json", "report.md", "report.pdf"], "{t}");
        let r = record(out.path(), t);
        assert_eq!(r.ticker, t);
        let status =
            manifest["reports"].as_array().unwrap().iter().find(|o| o["ticker"] == t).unwrap()["status"]
                .clone();
        let want = if done_before.contains(&t) { "skipped" } else { "done" };
        assert_eq!(status, want, "{t}");
        let md = std::fs::read_to_string(out.path().join(t).join("report.md")).unwrap();
        assert!(md.ends_with('\n') && md.contains("Sources and checks"), "{t} complete");
    }
    // One manifest per run that finished: the killed one wrote none (unless it had finished).
    let manifests = listing(&out.path().join("manifests")).len();
    assert!(manifests == 1 || (manifests == 2 && done_before.len() == tickers.len()), "{manifests}");
}

#[test]
fn an_unknown_ticker_fails_alone_and_the_exit_status_says_so() {
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let result = bullpen(
        home.path(),
        &[
            "report",
            "--tickers",
            "KO,ZZZZQ",
            "--out",
            out.path().to_str().unwrap(),
            "--no-prose",
            "--format",
            "md,html",
        ],
    )
    .output()
    .unwrap();
    assert!(!result.status.success());
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stdout.contains("ZZZZQ") && stdout.contains("failed") && stdout.contains("unknown ticker"),
        "{stdout}"
    );
    assert!(stderr.contains("1 of 2 reports failed: ZZZZQ"), "{stderr}");
    assert_eq!(record(out.path(), "KO").formats.len(), 2);
    assert!(out.path().join("KO/report.html").is_file() && !out.path().join("KO/report.pdf").exists());
    assert!(!out.path().join("ZZZZQ").join("report.json").exists());
}

#[test]
fn a_report_as_of_a_date_before_a_10k_was_filed_does_not_use_it() {
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = |as_of: &str, sub: &str| -> PathBuf {
        let dir = out.path().join(sub);
        let r = bullpen(
            home.path(),
            &[
                "report",
                "--tickers",
                "AAPL",
                "--as-of",
                as_of,
                "--out",
                dir.to_str().unwrap(),
                "--no-prose",
                "--format",
                "md",
            ],
        )
        .output()
        .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        dir
    };
    // Apple's FY2024 10-K was filed on 2024-11-01.
    let before = run("2024-10-31", "before");
    let after = run("2024-11-30", "after");
    let uses_10k = |dir: &Path| record(dir, "AAPL").data.keys().any(|k| k.contains("aapl-10-k-2024"));
    assert!(!uses_10k(&before), "{:?}", record(&before, "AAPL").data.keys().collect::<Vec<_>>());
    assert!(uses_10k(&after));
    let years = |dir: &Path| record(dir, "AAPL").year_table["Revenue"].keys().cloned().collect::<Vec<_>>();
    assert!(!years(&before).contains(&"FY2024".to_string()), "{:?}", years(&before));
    assert!(years(&after).contains(&"FY2024".to_string()), "{:?}", years(&after));
    let md = std::fs::read_to_string(before.join("AAPL/report.md")).unwrap();
    assert!(md.contains("No 10-K of AAPL filed on or before 2024-10-31"), "{md}");
    assert!(!md.contains("Revenue by"), "no segments from a filing not yet public");
}

#[test]
fn a_rating_rule_out_of_order_is_refused_before_any_report() {
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let result = bullpen(
        home.path(),
        &[
            "run",
            "confs/reports.toml",
            "-e",
            &format!("job.out=\"{}\"", out.path().display()),
            "-e",
            "job.prose=false",
            "-e",
            "job.valuation.rating.buy=-0.5",
        ],
    )
    .output()
    .unwrap();
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("job.valuation.rating"), "{stderr}");
    assert!(listing(out.path()).is_empty(), "nothing written: {:?}", listing(out.path()));
}
