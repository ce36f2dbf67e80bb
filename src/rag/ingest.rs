//! Ingestion: documents → chunks → embeddings (dense, in batches) + BM25 vectors →
//! upserts with payloads. Idempotent and incremental, with the store as the only record:
//! each chunk carries its document's id, content hash and chunk count, so a run reads the
//! store's manifest first and
//! - skips a document whose chunks are all there with the same hash (no embedding work);
//! - replaces a changed — or incomplete, after a crash — document: its old chunks are
//!   deleted before the new ones are written;
//! - deletes (with `prune`) or reports the documents of the run's sources that are gone.
//!
//! Point ids derive from `(document id, chunk index)`, so writing a chunk twice replaces
//! it: a run killed at any point and run again ends with exactly the chunks of a clean run.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use indicatif::ProgressBar;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::RagError;
use super::chunker::{Chunk, Chunker};
use super::document::Document;
use super::sparse::Bm25;
use super::store::{ChunkPayload, Filter, Point, VectorStore, date_num};
use crate::llm::Embedder;

/// Namespace of chunk point ids (UUID v5 of `doc_id#index`).
const POINT_NAMESPACE: Uuid = Uuid::from_u128(0x6c1e_2b8a_47d3_4f0e_9a55_b0f1_d2c3_e4a5);

/// A document, or why an input gave none.
pub type DocItem = Result<Document, Skipped>;

/// An input left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// File, file:line or document id.
    pub location: String,
    pub reason: String,
}

impl Skipped {
    pub fn new(location: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { location: location.into(), reason: reason.into() }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestReport {
    /// Where the chunks are.
    pub store: String,
    /// Documents read.
    pub documents: usize,
    /// Documents embedded for the first time.
    pub added: usize,
    /// Documents whose earlier chunks were replaced (changed or incomplete).
    pub replaced: usize,
    /// Documents already stored with the same content: no work done.
    pub unchanged: usize,
    /// Documents of the run's sources no longer present, deleted (`prune`).
    pub deleted: usize,
    /// Documents of the run's sources no longer present, kept (no `prune`).
    pub stale: usize,
    /// Chunks embedded and written by this run.
    pub chunks_written: usize,
    /// Chunks in the store after the run.
    pub chunks_total: usize,
    /// Inputs left out, with reasons.
    pub skipped: Vec<Skipped>,
    /// Seconds spent embedding.
    pub embed_seconds: f64,
    /// Seconds of the whole run.
    pub seconds: f64,
}

/// Settings of one ingestion run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOptions {
    /// Chunks embedded per call to the embedding model.
    pub batch_size: usize,
    /// Delete the stored documents of the run's sources that the run did not see.
    pub prune: bool,
    /// Make writes durable every this many chunks (qdrant-edge keeps unflushed writes in
    /// memory: a crash loses at most this much embedding work).
    pub flush_every: usize,
    /// Show a progress bar on a terminal.
    pub progress: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self { batch_size: 64, prune: false, flush_every: 512, progress: true }
    }
}

/// The state of one stored document, from the manifest.
#[derive(Debug, Default)]
struct Stored {
    hash: String,
    mixed: bool,
    chunks: usize,
    declared: usize,
    source: String,
}

struct Pending {
    id: Uuid,
    embed_text: String,
    payload: ChunkPayload,
}

/// Writes documents into a store.
pub struct Indexer {
    pub store: Arc<dyn VectorStore>,
    pub embedder: Arc<dyn Embedder>,
    pub chunker: Chunker,
    pub bm25: Arc<Bm25>,
}

/// The id of chunk `index` of document `doc_id`.
pub fn point_id(doc_id: &str, index: usize) -> Uuid {
    Uuid::new_v5(&POINT_NAMESPACE, format!("{doc_id}#{index}").as_bytes())
}

/// The line put before a chunk's text when embedding it (never shown or cited): what the
/// document is, so that "AAPL risk factors" finds AAPL's Item 1A chunks.
pub fn context_header(doc: &Document) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = &doc.ticker {
        parts.push(t.clone());
    }
    if let Some(f) = &doc.form {
        parts.push(f.clone());
    }
    if let Some(p) = &doc.fiscal_period {
        parts.push(p.clone());
    }
    if let Some(s) = &doc.section {
        parts.push(s.clone());
    }
    if let Some(t) = &doc.title
        && doc.section.is_none()
    {
        parts.push(t.clone());
    }
    parts.join(" · ")
}

impl Indexer {
    /// What decides chunks besides the document: a change re-ingests everything.
    pub fn salt(&self) -> String {
        let s = self.chunker.settings();
        format!(
            "embedder={};tokenizer={};size={};overlap={}",
            self.embedder.name(),
            self.chunker.tokenizer(),
            s.size,
            s.overlap
        )
    }

    /// Ingests `items` (of the ingestion sources `sources`: pruning only looks at those).
    pub async fn ingest(
        &self,
        sources: &[String],
        mut items: tokio::sync::mpsc::Receiver<DocItem>,
        options: IngestOptions,
    ) -> Result<IngestReport, RagError> {
        let started = Instant::now();
        let mut report = IngestReport { store: self.store.describe(), ..IngestReport::default() };
        let batch_size = options.batch_size.max(1);
        let salt = self.salt();

        // The store's record of what it holds; points without a payload (a write cut by a
        // crash) are removed.
        let mut stored: HashMap<String, Stored> = HashMap::new();
        let mut orphans = Vec::new();
        for chunk in self.store.manifest().await? {
            if chunk.doc_id.is_empty() {
                orphans.push(chunk.id);
                continue;
            }
            let entry = stored.entry(chunk.doc_id).or_default();
            if entry.chunks == 0 {
                entry.hash = chunk.doc_hash;
                entry.source = chunk.source;
                entry.declared = chunk.chunk_count;
            } else if entry.hash != chunk.doc_hash || entry.declared != chunk.chunk_count {
                entry.mixed = true;
            }
            entry.chunks += 1;
        }
        if !orphans.is_empty() {
            tracing::warn!(count = orphans.len(), "removing chunks without a payload");
            self.store.delete_ids(&orphans).await?;
        }

        let bar = progress_bar(options.progress);
        let mut seen: HashSet<String> = HashSet::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut since_flush = 0;
        while let Some(item) = items.recv().await {
            bar.inc(1);
            let doc = match item {
                Ok(doc) => doc,
                Err(skipped) => {
                    report.skipped.push(skipped);
                    continue;
                }
            };
            if !seen.insert(doc.id.clone()) {
                report
                    .skipped
                    .push(Skipped::new(&doc.id, "duplicate document id in this run (first one kept)"));
                continue;
            }
            report.documents += 1;
            let hash = doc.content_hash(&salt);
            let previous = stored.get(&doc.id);
            if let Some(s) = previous
                && !s.mixed
                && s.hash == hash
                && s.chunks == s.declared
            {
                report.unchanged += 1;
                continue;
            }
            if previous.is_some() {
                self.store.delete(&Filter { doc_ids: vec![doc.id.clone()], ..Filter::default() }).await?;
            }
            if doc.is_empty() {
                report.skipped.push(Skipped::new(&doc.uri, "no text left after cleaning"));
                continue;
            }
            if previous.is_some() {
                report.replaced += 1;
            } else {
                report.added += 1;
            }
            let header = context_header(&doc);
            let header_tokens = if header.is_empty() { 0 } else { self.chunker.count(&header) + 1 };
            let chunks = self.chunker.chunk(&doc, header_tokens);
            let count = chunks.len();
            for chunk in chunks {
                let embed_text =
                    if header.is_empty() { chunk.text.clone() } else { format!("{header}\n{}", chunk.text) };
                pending.push(Pending {
                    id: point_id(&doc.id, chunk.index),
                    embed_text,
                    payload: payload(&doc, &hash, count, chunk),
                });
            }
            while pending.len() >= batch_size {
                let batch: Vec<Pending> = pending.drain(..batch_size).collect();
                since_flush += self.write(batch, &mut report).await?;
                if since_flush >= options.flush_every {
                    self.store.flush().await?;
                    since_flush = 0;
                }
            }
            bar.set_message(format!("{} chunks", report.chunks_written + pending.len()));
        }
        if !pending.is_empty() {
            self.write(std::mem::take(&mut pending), &mut report).await?;
        }
        bar.finish_and_clear();

        let gone: Vec<String> = stored
            .iter()
            .filter(|(id, s)| sources.contains(&s.source) && !seen.contains(*id))
            .map(|(id, _)| id.clone())
            .collect();
        if options.prune && !gone.is_empty() {
            for ids in gone.chunks(256) {
                self.store.delete(&Filter { doc_ids: ids.to_vec(), ..Filter::default() }).await?;
            }
            report.deleted = gone.len();
        } else {
            report.stale = gone.len();
        }

        self.store.flush().await?;
        if report.chunks_written > 0 || report.deleted > 0 || report.replaced > 0 {
            tracing::info!(store = %report.store, "building the search index");
            self.store.optimize().await?;
        }
        report.chunks_total = self.store.count(&Filter::default()).await?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Embeds and writes one batch; returns the number of chunks written.
    async fn write(&self, batch: Vec<Pending>, report: &mut IngestReport) -> Result<usize, RagError> {
        let sparse: Vec<_> = batch.iter().map(|p| self.bm25.document(&p.embed_text)).collect();
        let (heads, texts): (Vec<(Uuid, ChunkPayload)>, Vec<String>) =
            batch.into_iter().map(|p| ((p.id, p.payload), p.embed_text)).unzip();
        let t = Instant::now();
        let embeddings = self.embedder.embed(&texts).await.map_err(|e| RagError::Embed(Box::new(e)))?;
        report.embed_seconds += t.elapsed().as_secs_f64();
        if embeddings.vectors.len() != texts.len() {
            return Err(RagError::Store {
                backend: "embedder".into(),
                reason: format!("{} vectors for {} texts", embeddings.vectors.len(), texts.len()),
            });
        }
        let points: Vec<Point> = heads
            .into_iter()
            .zip(sparse)
            .zip(embeddings.vectors)
            .map(|(((id, payload), sparse), dense)| Point { id, dense, sparse, payload })
            .collect();
        let n = points.len();
        self.store.upsert(points).await?;
        report.chunks_written += n;
        tracing::debug!(chunks = n, total = report.chunks_written, "batch written");
        Ok(n)
    }
}

fn payload(doc: &Document, doc_hash: &str, chunk_count: usize, chunk: Chunk) -> ChunkPayload {
    ChunkPayload {
        doc_id: doc.id.clone(),
        doc_hash: doc_hash.to_string(),
        source: doc.source.clone(),
        chunk_index: chunk.index,
        chunk_count,
        doc_type: doc.doc_type,
        ticker: doc.ticker.clone(),
        cik: doc.cik,
        form: doc.form.clone(),
        fiscal_period: doc.fiscal_period.clone(),
        date: doc.date,
        date_num: doc.date.map(date_num),
        section: doc.section.clone(),
        title: doc.title.clone(),
        uri: doc.uri.clone(),
        char_start: chunk.chars.start,
        char_end: chunk.chars.end,
        content_hash: hex::encode(Sha256::digest(chunk.text.as_bytes())),
        kind: chunk.kind,
        text: chunk.text,
    }
}

/// A spinner: documents arrive through a channel, their number is not known up front.
fn progress_bar(show: bool) -> ProgressBar {
    crate::utils::progress::bar(show, None, "", "{spinner} ingesting {pos} documents, {msg} ({elapsed})")
}
