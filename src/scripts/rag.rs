//! `bullpen ingest` and `bullpen search`: the RAG index from the command line. Both build
//! their job ([`IngestJob`], [`SearchJob`]) and run it like `bullpen run` would.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

use crate::rag::{DocType, IndexSettings, RemoteSettings, SearchMode};
use crate::settings::{IngestJob, SearchJob};

/// Where the index is (shared by `ingest` and `search`).
#[derive(Debug, Clone, Args)]
pub struct IndexArgs {
    /// Collection name (embedded store: `BULLPEN_HOME/indexes/NAME`).
    #[arg(long, value_name = "NAME", default_value = "bullpen")]
    pub collection: String,
    /// Directory of the embedded store instead of the default.
    #[arg(long, value_name = "DIR", conflicts_with = "qdrant_url")]
    pub index_dir: Option<PathBuf>,
    /// A Qdrant server (gRPC URL, e.g. http://localhost:6334) instead of the embedded store;
    /// its API key is read from QDRANT_API_KEY.
    #[arg(long, value_name = "URL", env = "BULLPEN_QDRANT_URL")]
    pub qdrant_url: Option<String>,
    /// The embedding profile.
    #[arg(long, value_name = "PROFILE", default_value = "minilm")]
    pub embedder: String,
}

impl IndexArgs {
    pub fn settings(&self) -> IndexSettings {
        IndexSettings {
            collection: self.collection.clone(),
            path: self.index_dir.clone(),
            remote: self.qdrant_url.as_ref().map(RemoteSettings::new),
            embedder: self.embedder.clone(),
            ..IndexSettings::default()
        }
    }
}

/// `bullpen ingest`.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// A universe source: filings, transcripts, news, ratios (repeatable). Default: all of
    /// them when no PATH is given.
    #[arg(long = "source", value_name = "NAME")]
    pub sources: Vec<String>,
    /// Files or directories of .txt, .md or .html (optionally .gz).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The data universe (default: BULLPEN_DATA, else the repository's demo data).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Delete indexed documents of these sources that are no longer there.
    #[arg(long)]
    pub prune: bool,
    /// Only what was known on this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
    /// Chunks per embedding call.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Skip files larger than this many MiB.
    #[arg(long, default_value_t = 32)]
    pub max_file_mb: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub index: IndexArgs,
}

impl IngestArgs {
    pub fn job(self) -> IngestJob {
        IngestJob {
            index: self.index.settings(),
            data: self.data,
            sources: self.sources,
            paths: self.paths,
            prune: self.prune,
            batch_size: self.batch_size,
            as_of: self.as_of,
            max_file_mb: self.max_file_mb,
            json: self.json,
        }
    }
}

/// `bullpen search`.
#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// The question or keywords.
    pub query: String,
    /// Only these tickers (repeatable).
    #[arg(long = "ticker", short = 't', value_name = "TICKER")]
    pub tickers: Vec<String>,
    /// Only this form (10-K, 10-Q) or document type (filing, transcript, news, tweet,
    /// ratio_card, text); repeatable.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only this section (`Item 1A. Risk Factors`); repeatable.
    #[arg(long = "section", value_name = "SECTION")]
    pub sections: Vec<String>,
    /// Earliest date (YYYY-MM-DD), inclusive.
    #[arg(long, value_name = "DATE")]
    pub from: Option<NaiveDate>,
    /// Latest date (YYYY-MM-DD), inclusive.
    #[arg(long, value_name = "DATE")]
    pub to: Option<NaiveDate>,
    /// Hits wanted.
    #[arg(short = 'k', long, default_value_t = 5)]
    pub k: usize,
    /// Ranking: hybrid (dense + BM25 fused by reciprocal rank), dense or sparse.
    #[arg(long, value_enum, default_value_t = SearchMode::Hybrid)]
    pub mode: SearchMode,
    /// Print the hits as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub index: IndexArgs,
}

impl SearchArgs {
    pub fn job(self) -> SearchJob {
        let mut job = SearchJob::new(self.query);
        job.index = self.index.settings();
        job.filter.tickers = self.tickers.iter().map(|t| t.to_ascii_uppercase()).collect();
        for t in &self.types {
            match DocType::parse(t) {
                Some(kind) => job.filter.doc_types.push(kind),
                None => job.filter.forms.push(t.to_ascii_uppercase()),
            }
        }
        job.filter.sections = self.sections;
        job.filter.from = self.from;
        job.filter.to = self.to;
        job.k = self.k;
        job.mode = self.mode;
        job.json = self.json;
        job
    }
}
