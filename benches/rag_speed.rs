//! Speed of the RAG layer (see benches/run_rag.sh):
//!
//! - `ingest`: the Items of demo filings through the whole pipeline (chunking with the
//!   MiniLM tokenizer, embedding, BM25, upsert into qdrant-edge, optimize), chunks/s; the
//!   documents are also written as JSONL for the Python peer (benches/rag_ingest_peer.py).
//! - `latency`: qdrant-edge query latency p50/p99 at 10k and 100k chunks after `optimize()`
//!   (HNSW), dense and hybrid, and HNSW recall@10 against exact search.
//!
//!   cargo bench --profile dev --bench rag_speed -- ingest --home DIR --filings F1,F2 --docs-out docs.jsonl
//!   cargo bench --profile dev --bench rag_speed -- latency --home DIR --tweets FILE.jsonl.gz [--sizes 10000,100000]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bullpen::llm::Embedder;
use bullpen::llm::candle::CandleEmbedder;
use bullpen::llm::store::ModelStore;
use bullpen::rag::chunker::ChunkKind;
use bullpen::rag::ingest::{DocItem, IngestOptions, context_header, point_id};
use bullpen::rag::retrieve::RetrievalSettings;
use bullpen::rag::sources::filing_documents;
use bullpen::rag::sparse::{Bm25, Bm25Settings, Sparse};
use bullpen::rag::store::edge::EdgeStore;
use bullpen::rag::store::{ChunkPayload, Filter, Point, SearchMode, StoreQuery, VectorStore};
use bullpen::rag::{DocType, Index, IndexSettings};
use bullpen_connectors::types::Block;
use rand::{Rng, SeedableRng};
use serde_json::json;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

async fn minilm(home: &Path) -> Arc<dyn Embedder> {
    let dir = ModelStore::new(home, vec![]).ensure("minilm-l6-v2").await.expect("model");
    Arc::new(CandleEmbedder::load_async(dir, "minilm-l6-v2".into(), 64, 256).await.expect("load MiniLM"))
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn ingest(args: &[String], home: &Path) {
    let files: Vec<PathBuf> =
        arg(args, "--filings").expect("--filings").split(',').map(PathBuf::from).collect();
    let docs_out = PathBuf::from(arg(args, "--docs-out").expect("--docs-out"));
    let mut docs = Vec::new();
    for f in &files {
        let filing = bullpen_connectors::sec::ixbrl::parse_filing_file(f).expect("parse filing");
        docs.extend(filing_documents(&filing, "filings"));
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(&docs_out).expect("create docs"));
    for d in &docs {
        let blocks: Vec<serde_json::Value> = d
            .blocks
            .iter()
            .map(|b| match b {
                Block::Paragraph { text } => json!({"paragraph": text}),
                Block::Table { table } => json!({"table": table.rows}),
            })
            .collect();
        writeln!(out, "{}", json!({"id": d.id, "header": context_header(d), "blocks": blocks}))
            .expect("write");
    }
    out.flush().expect("flush");
    drop(out);

    let scratch = tempfile::tempdir().expect("tempdir");
    let settings = IndexSettings { path: Some(scratch.path().join("index")), ..IndexSettings::default() };
    let embedder = minilm(home).await;
    embedder.embed(&vec!["warm up".to_string(); 8]).await.expect("warm-up");
    let index = Index::open(&settings, home, embedder).await.expect("index");
    let n = docs.len();
    let (tx, rx) = tokio::sync::mpsc::channel::<DocItem>(64);
    tokio::spawn(async move {
        for d in docs {
            let _ = tx.send(Ok(d)).await;
        }
    });
    let t = Instant::now();
    let report = index
        .indexer()
        .ingest(&["filings".into()], rx, IngestOptions { progress: false, ..IngestOptions::default() })
        .await
        .expect("ingest");
    let total = t.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "impl": "bullpen (tokenizers + candle + qdrant-edge)",
            "documents": n,
            "chunks": report.chunks_written,
            "embed_seconds": report.embed_seconds,
            "total_seconds": total,
            "chunks_per_s": report.chunks_written as f64 / total,
            "peak_rss_mb": peak_rss_mb(),
            "threads": candle_core_threads(),
        })
    );
}

fn candle_core_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn payload(i: usize, text: &str) -> ChunkPayload {
    ChunkPayload {
        doc_id: format!("bench-{i}"),
        doc_hash: "h".into(),
        source: "bench".into(),
        chunk_index: 0,
        chunk_count: 1,
        doc_type: DocType::Tweet,
        ticker: Some(["AAPL", "MSFT", "GOOG", "AMZN"][i % 4].into()),
        cik: None,
        form: None,
        fiscal_period: None,
        date: None,
        date_num: None,
        section: None,
        title: None,
        uri: "bench".into(),
        char_start: 0,
        char_end: text.chars().count(),
        content_hash: format!("{i}"),
        kind: ChunkKind::Prose,
        text: text.to_string(),
    }
}

async fn latency(args: &[String], home: &Path) {
    let tweets = arg(args, "--tweets").expect("--tweets");
    let sizes: Vec<usize> = arg(args, "--sizes")
        .unwrap_or_else(|| "10000,100000".into())
        .split(',')
        .map(|s| s.parse().expect("size"))
        .collect();
    let real = arg(args, "--real").map_or(10_000, |s| s.parse().expect("--real N"));
    let n_queries = 200;
    // Distinct real tweets: `real` to store, `n_queries` held out as queries.
    let text = bullpen_connectors::files::read_string(Path::new(&tweets)).expect("tweets");
    let mut seen = std::collections::HashSet::new();
    let mut texts: Vec<String> = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("tweet JSON");
        let t = v["text"].as_str().unwrap_or_default().to_string();
        if seen.insert(t.clone()) {
            texts.push(t);
        }
        if texts.len() == real + n_queries {
            break;
        }
    }
    let embedder = minilm(home).await;
    let t = Instant::now();
    let mut vectors = Vec::with_capacity(texts.len());
    for batch in texts.chunks(256) {
        vectors.extend(embedder.embed(batch).await.expect("embed").vectors);
    }
    eprintln!("embedded {} tweets in {:.0} s", texts.len(), t.elapsed().as_secs_f64());
    let (queries, base) = vectors.split_at(n_queries);
    let (query_texts, base_texts) = texts.split_at(n_queries);
    let bm25 = Bm25::new(Bm25Settings::default()).expect("bm25");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut results = Vec::new();
    for &size in &sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EdgeStore::open(&dir.path().join("index"), 384).await.expect("store");
        let t = Instant::now();
        let mut batch = Vec::new();
        for i in 0..size {
            let j = i % base.len();
            // Beyond the real tweets: a real embedding plus Gaussian noise (σ = 0.02 per
            // dimension, renormalised): clusters around real points, like near-paraphrases.
            let dense: Vec<f32> = if i < base.len() {
                base[j].clone()
            } else {
                let mut v: Vec<f32> = base[j].iter().map(|x| x + 0.02 * gauss(&mut rng)).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                v
            };
            batch.push(Point {
                id: point_id("bench", i),
                dense,
                sparse: bm25.document(&base_texts[j]),
                payload: payload(i, &base_texts[j]),
            });
            if batch.len() == 1000 {
                store.upsert(std::mem::take(&mut batch)).await.expect("upsert");
            }
        }
        store.upsert(batch).await.expect("upsert");
        store.flush().await.expect("flush");
        let upsert_s = t.elapsed().as_secs_f64();
        let plain = measure(&store, queries, query_texts, &bm25, SearchMode::Dense, None, 100).await;
        let t = Instant::now();
        store.optimize().await.expect("optimize");
        let optimize_s = t.elapsed().as_secs_f64();
        let ef_default = RetrievalSettings::default().hnsw_ef;
        let hybrid =
            measure(&store, queries, query_texts, &bm25, SearchMode::Hybrid, Some(ef_default), 500).await;
        let mut filtered = measure_filtered(&store, queries, Some(ef_default), 200).await;
        filtered.sort_by(f64::total_cmp);
        let mut exact = Vec::new();
        for q in queries {
            exact.push(search_ids(&store, q, None, true).await);
        }
        // Latency and HNSW recall@10 against exact search, per beam width (None: the store's).
        let mut by_ef = Vec::new();
        for ef in [None, Some(64), Some(128), Some(256)] {
            let dense = measure(&store, queries, query_texts, &bm25, SearchMode::Dense, ef, 500).await;
            let mut recall = 0.0;
            for (q, exact) in queries.iter().zip(&exact) {
                let approx = search_ids(&store, q, ef, false).await;
                recall +=
                    approx.iter().filter(|id| exact.contains(id)).count() as f64 / exact.len().max(1) as f64;
            }
            by_ef.push(json!({
                "hnsw_ef": ef,
                "dense_p50_ms": percentile(&dense, 0.5),
                "dense_p99_ms": percentile(&dense, 0.99),
                "hnsw_recall@10": recall / queries.len() as f64,
            }));
        }
        let count = store.count(&Filter::default()).await.expect("count");
        let r = json!({
            "chunks": count,
            "upsert_seconds": upsert_s,
            "optimize_seconds": optimize_s,
            "dense_p50_ms_before_optimize": percentile(&plain, 0.5),
            "default_hnsw_ef": ef_default,
            "hybrid_p50_ms": percentile(&hybrid, 0.5),
            "hybrid_p99_ms": percentile(&hybrid, 0.99),
            "dense_ticker_filter_p50_ms": percentile(&filtered, 0.5),
            "dense": by_ef,
        });
        eprintln!("{r}");
        results.push(r);
    }
    println!("{}", json!({"latency": results, "peak_rss_mb": peak_rss_mb()}));
}

fn gauss(rng: &mut impl Rng) -> f32 {
    // Box-Muller.
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

/// A query of top 10; `ef`: HNSW beam width (None: the store's), `exact`: brute force.
fn query(
    q: &[f32],
    sparse: Sparse,
    mode: SearchMode,
    (ef, exact): (Option<usize>, bool),
    filter: Filter,
) -> StoreQuery {
    StoreQuery {
        dense: q.to_vec(),
        sparse,
        mode,
        filter,
        limit: 10,
        prefetch: 50,
        rrf_k: 60,
        exact,
        hnsw_ef: ef,
    }
}

async fn measure(
    store: &EdgeStore,
    queries: &[Vec<f32>],
    texts: &[String],
    bm25: &Bm25,
    mode: SearchMode,
    ef: Option<usize>,
    n: usize,
) -> Vec<f64> {
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let sparse = bm25.query(&texts[i % texts.len()]);
        let q = query(&queries[i % queries.len()], sparse, mode, (ef, false), Filter::default());
        let t = Instant::now();
        let hits = store.search(&q).await.expect("search");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!hits.is_empty());
    }
    times.sort_by(f64::total_cmp);
    times
}

async fn measure_filtered(store: &EdgeStore, queries: &[Vec<f32>], ef: Option<usize>, n: usize) -> Vec<f64> {
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let filter = Filter { tickers: vec!["MSFT".into()], ..Filter::default() };
        let q = query(&queries[i % queries.len()], Sparse::default(), SearchMode::Dense, (ef, false), filter);
        let t = Instant::now();
        store.search(&q).await.expect("search");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times
}

async fn search_ids(store: &EdgeStore, q: &[f32], ef: Option<usize>, exact: bool) -> Vec<uuid::Uuid> {
    let q = query(q, Sparse::default(), SearchMode::Dense, (ef, exact), Filter::default());
    store.search(&q).await.expect("search").into_iter().map(|h| h.id).collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let home = PathBuf::from(arg(&args, "--home").expect("--home DIR"));
    match args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--") && (*a == "ingest" || *a == "latency"))
        .map(String::as_str)
    {
        Some("ingest") => ingest(&args, &home).await,
        Some("latency") => latency(&args, &home).await,
        _ => panic!("usage: rag_speed ingest|latency --home DIR …"),
    }
}
