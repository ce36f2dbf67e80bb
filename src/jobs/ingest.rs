//! [`IngestJob`]: documents of the data universe and of files into the RAG index, with a
//! progress bar and a summary (documents, chunks, skipped inputs with reasons).

use std::io::Write;
use std::sync::Arc;

use async_trait::async_trait;

use super::base::{Job, JobContext, JobError};
use crate::io::{datasets, osvariables};
use crate::rag::ingest::{DocItem, IngestOptions, IngestReport};
use crate::rag::sources::{self, FileLimits, SOURCES, path_source};
use crate::rag::{Index, RagError};
use crate::settings::IngestJob;

impl IngestJob {
    /// The universe sources of the run (all when neither sources nor paths are given).
    pub fn universe_sources(&self) -> Vec<String> {
        if self.sources.is_empty() && self.paths.is_empty() {
            SOURCES.iter().map(|s| s.to_string()).collect()
        } else {
            self.sources.clone()
        }
    }

    /// Runs the ingestion and returns its report (printing nothing).
    pub async fn ingest(&self, ctx: &JobContext, progress: bool) -> Result<IngestReport, JobError> {
        let universe_sources = self.universe_sources();
        if let Some(bad) = universe_sources.iter().find(|s| !SOURCES.contains(&s.as_str())) {
            return Err(RagError::Settings {
                key: "sources".into(),
                reason: format!("unknown source `{bad}`; sources are {}", SOURCES.join(", ")),
            }
            .into());
        }
        let embedder = ctx.embedder(&self.index.embedder).await?;
        let index = Index::open(&self.index, &ctx.home, embedder).await?;
        let mut run_sources = universe_sources.clone();
        run_sources.extend(self.paths.iter().map(|p| path_source(p)));

        let (tx, rx) = tokio::sync::mpsc::channel::<DocItem>(64);
        let data_dir = osvariables::data_dir(self.data.clone());
        let paths = self.paths.clone();
        let as_of = self.as_of;
        let limits =
            FileLimits { max_file_bytes: self.max_file_mb.saturating_mul(1 << 20), ..FileLimits::default() };
        let producer = tokio::spawn(async move {
            if !universe_sources.is_empty() {
                let universe =
                    Arc::new(datasets::open_universe(&data_dir).map_err(|e| RagError::Data(Box::new(e)))?);
                sources::send_universe(universe, universe_sources, as_of, tx.clone()).await?;
            }
            if !paths.is_empty() {
                tokio::task::spawn_blocking(move || sources::send_paths(paths, limits, tx)).await.map_err(
                    |e| RagError::Settings { key: "paths".into(), reason: format!("reader failed: {e}") },
                )?;
            }
            Ok::<(), RagError>(())
        });
        let options = IngestOptions {
            batch_size: self.batch_size,
            prune: self.prune,
            progress,
            ..IngestOptions::default()
        };
        let report = index.indexer().ingest(&run_sources, rx, options).await;
        // A producer error (the universe cannot be read) explains an empty run: report it first.
        match producer.await {
            Ok(Err(e)) => return Err(e.into()),
            Err(e) => {
                return Err(RagError::Settings {
                    key: "sources".into(),
                    reason: format!("reader failed: {e}"),
                }
                .into());
            }
            Ok(Ok(())) => {}
        }
        Ok(report?)
    }
}

/// The summary of a report, for people.
pub fn summary(report: &IngestReport) -> String {
    let mut out = format!(
        "ingested into {} in {:.1} s ({:.1} s embedding)\n\
         documents: {} (added {}, replaced {}, unchanged {})\n\
         chunks written: {}, chunks in the index: {}\n",
        report.store,
        report.seconds,
        report.embed_seconds,
        report.documents,
        report.added,
        report.replaced,
        report.unchanged,
        report.chunks_written,
        report.chunks_total,
    );
    if report.deleted > 0 {
        out.push_str(&format!("deleted: {} documents no longer in their source\n", report.deleted));
    }
    if report.stale > 0 {
        out.push_str(&format!(
            "stale: {} documents no longer in their source are still indexed (run with --prune to delete them)\n",
            report.stale
        ));
    }
    if !report.skipped.is_empty() {
        out.push_str(&format!("skipped: {}\n", report.skipped.len()));
        for s in report.skipped.iter().take(20) {
            out.push_str(&format!("  {}: {}\n", s.location, s.reason));
        }
        if report.skipped.len() > 20 {
            out.push_str(&format!("  … and {} more (--json lists them all)\n", report.skipped.len() - 20));
        }
    }
    out
}

#[async_trait]
impl Job for IngestJob {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let report = self.ingest(ctx, true).await?;
        let text = if self.json {
            serde_json::to_string_pretty(&report).map_err(|e| JobError::Output(std::io::Error::other(e)))?
                + "\n"
        } else {
            summary(&report)
        };
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(JobError::Output)
    }
}
