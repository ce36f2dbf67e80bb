//! The batch: many tickers with bounded concurrency sharing one writer model, progress bars
//! (overall and one per ticker stage), every file written atomically (temp + rename, the
//! completion record `report.json` last), finished reports skipped on rerun, one ticker's
//! failure never stopping the others, and a `manifest.json` per run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::analysis::{Analysis, ValuationSettings, analyse};
use super::build::{Prose, YearTable, assemble, drafts};
use super::data::Gatherer;
use super::prose::{Writer, evidence};
use super::{ReportError, ReportFormat, render};
use crate::utils::signers::{sha256_bytes, sha256_file};

/// How one ticker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Done,
    /// A complete report with the same inputs was already there.
    Skipped,
    Failed,
}

/// Milliseconds per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Reading the data and the ratio engine (ticker and peers).
    pub data_ms: u64,
    /// Valuation, tables and charts.
    pub build_ms: u64,
    /// The writer's model calls (sections run concurrently: wall time).
    pub llm_ms: u64,
    /// Markdown, HTML, PDF and writing the files.
    pub render_ms: u64,
}

/// The outcome of one ticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub ticker: String,
    pub status: Status,
    pub reason: Option<String>,
    pub as_of: Option<NaiveDate>,
    pub seconds: f64,
    pub timings: Timings,
    /// Numbers of the prose checked, and the unsupported ones.
    pub checked: usize,
    pub unsupported: usize,
    pub files: Vec<PathBuf>,
    /// SHA-256 of every data file read.
    pub data: BTreeMap<String, String>,
}

/// `report.json`: written last, so its presence means the report is complete.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub ticker: String,
    pub as_of: NaiveDate,
    /// Hash of everything that shapes the report (formats, settings, prompt versions, model).
    pub key: String,
    pub formats: Vec<ReportFormat>,
    pub files: Vec<PathBuf>,
    pub timings: Timings,
    pub checked: usize,
    pub unsupported: usize,
    pub data: BTreeMap<String, String>,
    /// The multi-year table's numbers (label → fiscal year → value).
    pub year_table: YearTable,
    pub analysis: serde_json::Value,
    /// Prose per section id.
    pub prose: BTreeMap<String, Prose>,
    pub sections: Vec<String>,
}

/// One batch run's settings.
#[derive(Clone)]
pub struct Batch {
    pub gatherer: Gatherer,
    pub valuation: ValuationSettings,
    /// `None`: reports without prose (each section says so).
    pub writer: Option<Writer>,
    pub formats: Vec<ReportFormat>,
    pub out: PathBuf,
    pub concurrency: usize,
    /// Regenerate complete reports too.
    pub force: bool,
    /// Show progress bars (stderr is a terminal).
    pub progress: bool,
    /// Hash of the settings shaping a report (see [`Record::key`]).
    pub key: String,
}

/// What a run did: one outcome per ticker in the order asked, and the manifest path.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub outcomes: Vec<Outcome>,
    pub manifest: PathBuf,
    pub seconds: f64,
}

impl RunSummary {
    /// The tickers that failed.
    pub fn failed(&self) -> Vec<&Outcome> {
        self.outcomes.iter().filter(|o| o.status == Status::Failed).collect()
    }

    /// The summary table (ticker, status, reason, time, unsupported numbers).
    pub fn table(&self) -> String {
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
        t.set_header([
            "ticker",
            "status",
            "as of",
            "time (s)",
            "numbers checked",
            "unsupported",
            "reason / files",
        ]);
        for o in &self.outcomes {
            t.add_row([
                o.ticker.clone(),
                format!("{:?}", o.status).to_lowercase(),
                o.as_of.map(|d| d.to_string()).unwrap_or_default(),
                format!("{:.1}", o.seconds),
                o.checked.to_string(),
                o.unsupported.to_string(),
                o.reason.clone().unwrap_or_else(|| {
                    o.files
                        .first()
                        .and_then(|f| f.parent())
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                }),
            ]);
        }
        t.to_string()
    }
}

/// Writes `bytes` to `path` atomically (see [`crate::utils::files::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    crate::utils::files::write_atomic(path, bytes)
        .map_err(|source| ReportError::Write { path: path.to_path_buf(), source })
}

fn json_error(e: serde_json::Error) -> ReportError {
    ReportError::Render { format: "JSON record", reason: e.to_string() }
}

/// Removes temporary files a killed run left in `dir`.
fn clean_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(".tmp-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The completion record of a ticker directory, if complete for these inputs.
fn complete(dir: &Path, as_of: NaiveDate, key: &str) -> Option<Record> {
    let text = std::fs::read_to_string(dir.join("report.json")).ok()?;
    let r: Record = serde_json::from_str(&text).ok()?;
    (r.as_of == as_of && r.key == key && r.files.iter().all(|f| f.is_file())).then_some(r)
}

fn stage_bar(multi: &MultiProgress, show: bool, ticker: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = multi.add(ProgressBar::new(5));
    if let Ok(style) = ProgressStyle::with_template("  {prefix:<8} [{bar:20}] {pos}/{len} {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(ticker.to_string());
    bar
}

impl Batch {
    /// Runs every ticker (at most `concurrency` at once) and writes the manifest.
    pub async fn run(
        &self,
        tickers: &[String],
        as_of: Option<NaiveDate>,
        inputs: serde_json::Value,
    ) -> Result<RunSummary, ReportError> {
        let started = Instant::now();
        let started_at = chrono::Utc::now();
        let run_id = format!(
            "{}-{}",
            started_at.format("%Y%m%dT%H%M%SZ"),
            &sha256_bytes(format!("{tickers:?}{started_at:?}").as_bytes())[..8]
        );
        std::fs::create_dir_all(&self.out)
            .map_err(|source| ReportError::Write { path: self.out.clone(), source })?;
        let multi = MultiProgress::with_draw_target(if self.progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let overall = if self.progress {
            let b = multi.add(ProgressBar::new(tickers.len() as u64));
            if let Ok(style) = ProgressStyle::with_template("reports  [{bar:30}] {pos}/{len} {elapsed} {msg}")
            {
                b.set_style(style.progress_chars("=> "));
            }
            b
        } else {
            ProgressBar::hidden()
        };
        let multi = Arc::new(multi);
        let mut results: Vec<(usize, Outcome)> = futures::stream::iter(tickers.iter().cloned().enumerate())
            .map(|(i, ticker)| {
                let multi = multi.clone();
                let overall = overall.clone();
                async move {
                    let bar = stage_bar(&multi, self.progress, &ticker);
                    let t0 = Instant::now();
                    let outcome = match self.one(&ticker, as_of, &bar).await {
                        Ok(o) => o,
                        Err((e, resolved)) => Outcome {
                            ticker: ticker.trim().to_uppercase(),
                            status: Status::Failed,
                            reason: Some(e.to_string()),
                            as_of: resolved,
                            seconds: t0.elapsed().as_secs_f64(),
                            timings: Timings::default(),
                            checked: 0,
                            unsupported: 0,
                            files: vec![],
                            data: BTreeMap::new(),
                        },
                    };
                    bar.finish_and_clear();
                    multi.remove(&bar);
                    overall.inc(1);
                    let line = match outcome.status {
                        Status::Failed => format!(
                            "{}: failed: {}",
                            outcome.ticker,
                            outcome.reason.clone().unwrap_or_default()
                        ),
                        Status::Skipped => format!("{}: already complete, skipped", outcome.ticker),
                        Status::Done => format!(
                            "{}: done in {:.1} s ({} numbers checked, {} unsupported)",
                            outcome.ticker, outcome.seconds, outcome.checked, outcome.unsupported
                        ),
                    };
                    if self.progress {
                        overall.println(&line);
                    } else {
                        eprintln!("{line}");
                    }
                    (i, outcome)
                }
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        overall.finish_and_clear();
        results.sort_by_key(|r| r.0);
        let outcomes: Vec<Outcome> = results.into_iter().map(|r| r.1).collect();
        let manifest = serde_json::json!({
            "run_id": run_id,
            "bullpen_version": env!("CARGO_PKG_VERSION"),
            "started": started_at.to_rfc3339(),
            "finished": chrono::Utc::now().to_rfc3339(),
            "seconds": started.elapsed().as_secs_f64(),
            "inputs": inputs,
            "settings_key": self.key,
            "valuation": self.valuation,
            "formats": self.formats,
            "concurrency": self.concurrency,
            "writer": self.writer.as_ref().map(|w| serde_json::json!({
                "model": w.model_name.clone(),
                "prompts": w.versions,
                "max_tokens": w.max_tokens,
                "policy": w.policy,
            })),
            "reports": outcomes,
        });
        let text = serde_json::to_vec_pretty(&manifest).map_err(json_error)?;
        let path = self.out.join("manifest.json");
        write_atomic(&path, &text)?;
        write_atomic(&self.out.join("manifests").join(format!("{run_id}.json")), &text)?;
        Ok(RunSummary { run_id, outcomes, manifest: path, seconds: started.elapsed().as_secs_f64() })
    }

    /// One ticker: skip when complete, else gather → build → prose → render → record.
    async fn one(
        &self,
        ticker: &str,
        as_of: Option<NaiveDate>,
        bar: &ProgressBar,
    ) -> Result<Outcome, (ReportError, Option<NaiveDate>)> {
        let started = Instant::now();
        let ticker = ticker.trim().to_uppercase();
        let mut timings = Timings::default();
        bar.set_message("data");
        // Default: a report as of today, from whatever the universe knows by then.
        let as_of = as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
        let fail = |e: ReportError| (e, Some(as_of));
        let dir = self.out.join(&ticker);
        clean_temporaries(&dir);
        if !self.force
            && let Some(r) = complete(&dir, as_of, &self.key)
        {
            return Ok(Outcome {
                ticker,
                status: Status::Skipped,
                reason: None,
                as_of: Some(as_of),
                seconds: started.elapsed().as_secs_f64(),
                timings: r.timings,
                checked: r.checked,
                unsupported: r.unsupported,
                files: r.files,
                data: r.data,
            });
        }
        let t = Instant::now();
        // Shared, not copied, with the blocking task that builds tables and charts.
        let inputs = Arc::new(self.gatherer.gather(&ticker, as_of).await.map_err(fail)?);
        timings.data_ms = t.elapsed().as_millis() as u64;
        bar.inc(1);

        bar.set_message("valuation, tables, charts");
        let t = Instant::now();
        let (analysis, drafts, years): (Analysis, _, _) = {
            let inputs = Arc::clone(&inputs);
            let valuation = self.valuation.clone();
            tokio::task::spawn_blocking(move || {
                let a = analyse(&inputs, &valuation);
                let (d, y) = drafts(&inputs, &a);
                (a, d, y)
            })
            .await
            .map_err(|e| fail(ReportError::Render { format: "charts", reason: e.to_string() }))?
        };
        timings.build_ms = t.elapsed().as_millis() as u64;
        bar.inc(1);

        bar.set_message("prose");
        let t = Instant::now();
        let prose: Vec<Prose> = match &self.writer {
            Some(w) => {
                let ev = evidence(&inputs, &drafts);
                futures::future::join_all(drafts.iter().map(|d| w.write(&inputs, d, &ev))).await
            }
            None => drafts
                .iter()
                .map(|d| Prose {
                    error: d.prose.then(|| "prose is turned off for this run (`--no-prose`)".to_string()),
                    ..Prose::default()
                })
                .collect(),
        };
        timings.llm_ms = t.elapsed().as_millis() as u64;
        bar.inc(1);

        bar.set_message("render");
        let t = Instant::now();
        let footer = format!(
            "Bullpen · {} as of {} · every number from the data; prose checked against it",
            ticker, as_of
        );
        let document = assemble(&inputs, &analysis, &drafts, &prose, footer);
        let mut files = Vec::new();
        for format in &self.formats {
            let path = dir.join(format.file_name());
            let bytes = match format {
                ReportFormat::Md => {
                    for (title, svg) in document.charts() {
                        write_atomic(
                            &dir.join("charts").join(render::chart_file_name(title)),
                            svg.as_bytes(),
                        )
                        .map_err(fail)?;
                    }
                    render::markdown(&document, Some("charts")).into_bytes()
                }
                ReportFormat::Html => render::html(&document).into_bytes(),
                ReportFormat::Pdf => pdf_bytes(&document).await.map_err(fail)?,
            };
            write_atomic(&path, &bytes).map_err(fail)?;
            files.push(path);
        }
        timings.render_ms = t.elapsed().as_millis() as u64;
        bar.inc(1);

        let mut data = BTreeMap::new();
        for f in &inputs.files {
            if let Ok(h) = sha256_file(f) {
                data.insert(f.display().to_string(), h);
            }
        }
        let checked = prose.iter().map(|p| p.checked).sum();
        let unsupported = prose.iter().map(|p| p.unsupported.len()).sum();
        let record = Record {
            ticker: ticker.clone(),
            as_of,
            key: self.key.clone(),
            formats: self.formats.clone(),
            files: files.clone(),
            timings,
            checked,
            unsupported,
            data: data.clone(),
            year_table: years,
            analysis: serde_json::to_value(&analysis).map_err(|e| fail(json_error(e)))?,
            prose: drafts.iter().zip(&prose).map(|(d, p)| (d.id.to_string(), p.clone())).collect(),
            sections: document.section_ids().into_iter().map(String::from).collect(),
        };
        let json = serde_json::to_vec_pretty(&record).map_err(|e| fail(json_error(e)))?;
        write_atomic(&dir.join("report.json"), &json).map_err(fail)?;
        bar.inc(1);
        Ok(Outcome {
            ticker,
            status: Status::Done,
            reason: None,
            as_of: Some(as_of),
            seconds: started.elapsed().as_secs_f64(),
            timings,
            checked,
            unsupported,
            files,
            data,
        })
    }
}

#[cfg(feature = "pdf")]
async fn pdf_bytes(document: &super::doc::Document) -> Result<Vec<u8>, ReportError> {
    let document = document.clone();
    tokio::task::spawn_blocking(move || super::pdf::render_pdf(&document))
        .await
        .map_err(|e| ReportError::Render { format: "PDF", reason: e.to_string() })?
        .map_err(|e| ReportError::Render { format: "PDF", reason: e.to_string() })
}

#[cfg(not(feature = "pdf"))]
async fn pdf_bytes(_document: &super::doc::Document) -> Result<Vec<u8>, ReportError> {
    Err(ReportError::Render {
        format: "PDF",
        reason: "this build has no PDF renderer: rebuild with `--features pdf`".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_leave_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("report.md");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["report.md"]);
        std::fs::write(path.parent().unwrap().join(".tmp-report.md-x"), b"half").unwrap();
        clean_temporaries(path.parent().unwrap());
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }
}
