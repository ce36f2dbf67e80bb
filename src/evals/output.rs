//! The files of a run (`out/<name>/<run id>/`): `items.jsonl` and `items.parquet` (one row per
//! item and variant), `summary.json`, `summary.md` and `summary.html` (variants × metrics with
//! intervals, the best variant highlighted, regressions flagged), and the terminal table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::EvalError;
use super::run::ItemResult;
use super::summary::{Summary, VariantSummary};
use super::task::Metric;
use crate::settings::EvaluationJob;
use crate::utils::files::write_atomic;

/// Write every file of a run; returns their paths (`summary.json` last, so a complete run
/// directory is one with a summary).
pub fn write_all(
    dir: &Path,
    job: &EvaluationJob,
    dataset: &Path,
    summary: &Summary,
    items: &[ItemResult],
) -> Result<Vec<PathBuf>, EvalError> {
    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf, EvalError> {
        let path = dir.join(name);
        write_atomic(&path, bytes).map_err(|source| EvalError::Write { path: path.clone(), source })?;
        Ok(path)
    };
    let mut jsonl = String::new();
    for item in items {
        let line = serde_json::to_string(item).map_err(|e| EvalError::Config(format!("item result: {e}")))?;
        jsonl.push_str(&line);
        jsonl.push('\n');
    }
    let mut files = vec![write("items.jsonl", jsonl.as_bytes())?];
    files.push(write(
        "items.parquet",
        &parquet(items).map_err(|e| EvalError::Config(format!("Parquet: {e}")))?,
    )?);
    files.push(write("summary.md", markdown(summary, dataset).as_bytes())?);
    files.push(write("summary.html", html(summary, dataset).as_bytes())?);
    let json = serde_json::to_vec_pretty(&serde_json::json!({
        "summary": summary,
        "dataset": dataset,
        "job": job,
    }))
    .map_err(|e| EvalError::Config(format!("summary: {e}")))?;
    files.push(write("summary.json", &json)?);
    Ok(files)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Per-item results as a Parquet file (answers and golds as display text and as JSON).
pub fn parquet(items: &[ItemResult]) -> PolarsResult<Vec<u8>> {
    let text = |f: &dyn Fn(&ItemResult) -> String| items.iter().map(f).collect::<Vec<String>>();
    let opt =
        |f: &dyn Fn(&ItemResult) -> Option<String>| items.iter().map(f).collect::<Vec<Option<String>>>();
    let columns = vec![
        Column::new("variant".into(), text(&|r| r.variant.clone())),
        Column::new("index".into(), items.iter().map(|r| r.index as u64).collect::<Vec<_>>()),
        Column::new("id".into(), text(&|r| r.id.clone())),
        Column::new("line".into(), items.iter().map(|r| r.line as u64).collect::<Vec<_>>()),
        Column::new("prompt".into(), text(&|r| r.prompt.clone())),
        Column::new("output".into(), opt(&|r| r.output.clone())),
        Column::new("answer".into(), opt(&|r| r.answer.as_ref().map(|a| a.display()))),
        Column::new("answer_json".into(), opt(&|r| r.answer.as_ref().map(to_json))),
        Column::new("gold".into(), text(&|r| r.gold.display())),
        Column::new("gold_json".into(), text(&|r| to_json(&r.gold))),
        Column::new("correct".into(), items.iter().map(|r| r.correct).collect::<Vec<_>>()),
        Column::new("invalid".into(), opt(&|r| r.invalid.clone())),
        Column::new("error".into(), opt(&|r| r.error.clone())),
        Column::new("latency_ms".into(), items.iter().map(|r| r.latency_ms).collect::<Vec<_>>()),
        Column::new("prompt_tokens".into(), items.iter().map(|r| r.prompt_tokens).collect::<Vec<_>>()),
        Column::new(
            "completion_tokens".into(),
            items.iter().map(|r| r.completion_tokens).collect::<Vec<_>>(),
        ),
        Column::new("cached".into(), items.iter().map(|r| r.cached).collect::<Vec<_>>()),
        Column::new("examples".into(), text(&|r| r.examples.join(","))),
    ];
    let mut df = DataFrame::new_infer_height(columns)?;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut df)?;
    Ok(bytes)
}

fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.3}"),
        _ => "–".into(),
    }
}

fn ms(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.0}"),
        _ => "–".into(),
    }
}

fn main_cell(v: &VariantSummary) -> String {
    match (v.main, v.interval) {
        (Some(m), Some(i)) => format!("{m:.3} [{:.3}, {:.3}]", i.low, i.high),
        (m, _) => num(m),
    }
}

fn diff_cell(v: &VariantSummary) -> String {
    match v.vs_baseline {
        None => "baseline".into(),
        Some(d) => {
            let flag = if v.regression {
                " ▼ regression"
            } else if v.improvement {
                " ▲ better"
            } else {
                ""
            };
            format!("{:+.3} [{:+.3}, {:+.3}]{flag}", d.diff, d.interval.low, d.interval.high)
        }
    }
}

/// Metrics shown as columns besides the main one and the invalid rate.
fn other_metrics(s: &Summary) -> Vec<Metric> {
    s.metrics.iter().copied().filter(|m| *m != s.main && *m != Metric::InvalidRate).collect()
}

/// Column headers and rows of the summary table (shared by Markdown, HTML and the terminal).
fn table(s: &Summary) -> (Vec<String>, Vec<Vec<String>>) {
    let others = other_metrics(s);
    let mut head = vec!["variant".to_string(), format!("{} (95% CI)", s.main.name()), "vs baseline".into()];
    head.extend(others.iter().map(|m| m.name().to_string()));
    head.extend([
        "invalid".into(),
        "p50 ms".into(),
        "p95 ms".into(),
        "tokens in/out".into(),
        "cost $".into(),
    ]);
    let rows = s
        .variants
        .iter()
        .map(|v| {
            let mut row = vec![v.name.clone(), main_cell(v), diff_cell(v)];
            row.extend(others.iter().map(|m| num(v.values.get(m.name()).copied().flatten())));
            row.push(format!("{}/{}", v.invalid, v.items));
            row.push(ms(v.latency_p50_ms));
            row.push(ms(v.latency_p95_ms));
            row.push(format!("{}/{}", v.tokens_in, v.tokens_out));
            row.push(format!("{:.4}", v.cost_usd));
            row
        })
        .collect();
    (head, rows)
}

fn notes(s: &Summary) -> Vec<String> {
    let mut out = vec![format!(
        "{} items · main metric `{}` · 95% intervals from {} bootstrap resamples (seed {}); differences are paired on the same resampled items.",
        s.items,
        s.main.name(),
        s.bootstrap,
        s.seed
    )];
    if let Some(best) = &s.best {
        out.push(format!("Best: **{best}**."));
    }
    let regressions: Vec<&str> =
        s.variants.iter().filter(|v| v.regression).map(|v| v.name.as_str()).collect();
    if !regressions.is_empty() {
        out.push(format!("Regressions against `{}`: {}.", s.baseline, regressions.join(", ")));
    }
    let cached: usize = s.variants.iter().map(|v| v.cached).sum();
    if cached > 0 {
        out.push(format!("{cached} answers came from the cache (their latency is the original call's)."));
    }
    out
}

/// The summary as Markdown.
pub fn markdown(s: &Summary, dataset: &Path) -> String {
    let (head, rows) = table(s);
    let mut out = format!("# Evaluation: {}\n\n", s.task);
    if let Some(d) = &s.description {
        let _ = writeln!(out, "{d}\n");
    }
    let _ = writeln!(out, "Dataset: `{}`\n", dataset.display());
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", head.iter().map(|_| "---|").collect::<String>());
    for (row, v) in rows.iter().zip(&s.variants) {
        let mut cells = row.clone();
        if s.best.as_deref() == Some(v.name.as_str()) {
            cells[0] = format!("**{}**", cells[0]);
            cells[1] = format!("**{}**", cells[1]);
        }
        let _ = writeln!(
            out,
            "| {} |",
            cells.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | ")
        );
    }
    out.push('\n');
    for n in notes(s) {
        let _ = writeln!(out, "{n}\n");
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The summary as one self-contained HTML page.
pub fn html(s: &Summary, dataset: &Path) -> String {
    let (head, rows) = table(s);
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(out, "<title>Evaluation: {}</title>", esc(&s.task));
    out.push_str(
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24}table{border-collapse:collapse}\
         th,td{border:1px solid #c9d1d9;padding:.35rem .6rem;text-align:right}th{background:#f0f3f6}\
         td:first-child,th:first-child{text-align:left}tr.best td{background:#e6f4ea;font-weight:600}\
         tr.regression td{background:#fdecea}.flag{color:#b42318;font-weight:600}</style></head><body>",
    );
    let _ = write!(out, "<h1>Evaluation: {}</h1>", esc(&s.task));
    if let Some(d) = &s.description {
        let _ = write!(out, "<p>{}</p>", esc(d));
    }
    let _ =
        write!(out, "<p>Dataset: <code>{}</code></p><table><thead><tr>", esc(&dataset.display().to_string()));
    for h in &head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for (row, v) in rows.iter().zip(&s.variants) {
        let class = if s.best.as_deref() == Some(v.name.as_str()) {
            " class=\"best\""
        } else if v.regression {
            " class=\"regression\""
        } else {
            ""
        };
        let _ = write!(out, "<tr{class}>");
        for (i, cell) in row.iter().enumerate() {
            if i == 2 && v.regression {
                let _ = write!(out, "<td><span class=\"flag\">{}</span></td>", esc(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", esc(cell));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    for n in notes(s) {
        let n = esc(&n);
        // Markdown bold in the notes becomes <strong>.
        let mut parts = n.split("**");
        let mut html_note = parts.next().unwrap_or_default().to_string();
        for (i, p) in parts.enumerate() {
            html_note.push_str(if i % 2 == 0 { "<strong>" } else { "</strong>" });
            html_note.push_str(p);
        }
        let _ = write!(out, "<p>{html_note}</p>");
    }
    out.push_str("</body></html>\n");
    out
}

/// A short table for the terminal.
pub fn terminal(s: &Summary) -> String {
    let (head, rows) = table(s);
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(head);
    for (row, v) in rows.into_iter().zip(&s.variants) {
        let mut row = row;
        if s.best.as_deref() == Some(v.name.as_str()) {
            row[0] = format!("★ {}", row[0]);
        }
        t.add_row(row);
    }
    format!("{t}\n{}", notes(s).join("\n").replace("**", ""))
}
