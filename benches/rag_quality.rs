//! Retrieval quality of the RAG layer on FinQA and TAT-QA (see benches/run_rag.sh):
//! every record's paragraphs and table rows (FinQA) / paragraphs and tables (TAT-QA) are
//! ingested through the real pipeline (chunker, MiniLM, BM25, qdrant-edge) into one
//! collection per dataset, all records together; each question is searched in dense,
//! sparse and hybrid mode and its gold evidence looked for among the hits.
//!
//!   cargo bench --profile dev --bench rag_quality -- --finqa A.json[,B.json] --tatqa DEV.json --home DIR
//!
//! Prints one JSON object: per dataset and mode, recall@5, recall@10 (a question counts when
//! any of its gold evidence is in the top k), all@10 (all of it) and MRR@10.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bullpen::llm::Embedder;
use bullpen::llm::candle::CandleEmbedder;
use bullpen::llm::store::ModelStore;
use bullpen::rag::ingest::{DocItem, IngestOptions};
use bullpen::rag::store::edge::EdgeStore;
use bullpen::rag::{DocType, Document};
use bullpen::rag::{Filter, Index, IndexSettings, SearchMode, SearchRequest};
use bullpen_connectors::types::{Block, Table};
use serde_json::{Value, json};

struct Question {
    text: String,
    /// Gold evidence: document ids.
    gold: HashSet<String>,
    /// The record's company and year, for the filtered run (FinQA only).
    scope: Option<Filter>,
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text_doc(id: String, text: &str) -> Document {
    Document::new(id.clone(), "bench", DocType::Text, id, vec![Block::Paragraph { text: text.to_string() }])
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

/// FinQA: one document per text sentence (`text_i` over pre_text + post_text) and per table
/// row (`table_i`, rendered in FinQA's own row-sentence convention), per report page: records
/// asking about the same page (`V/2008/page_17.pdf`) share its documents. Each document
/// carries the page's company (ticker) and year (dated December 31).
fn finqa(paths: &[PathBuf]) -> (Vec<Document>, Vec<Question>) {
    let mut docs = Vec::new();
    let mut questions = Vec::new();
    let mut pages = HashSet::new();
    for path in paths {
        for record in read_json(path).as_array().expect("FinQA is a list") {
            let id = record["filename"].as_str().expect("filename");
            let mut parts = id.split('/');
            let ticker = parts.next().unwrap_or_default().to_string();
            let year: i32 = parts.next().and_then(|y| y.parse().ok()).unwrap_or(1970);
            let date = chrono::NaiveDate::from_ymd_opt(year, 12, 31);
            let scope = Filter {
                tickers: vec![ticker.clone()],
                from: chrono::NaiveDate::from_ymd_opt(year, 1, 1),
                to: date,
                ..Filter::default()
            };
            if pages.insert(id.to_string()) {
                let mut page = Vec::new();
                let texts: Vec<String> =
                    strings(&record["pre_text"]).into_iter().chain(strings(&record["post_text"])).collect();
                for (i, t) in texts.iter().enumerate() {
                    page.push(text_doc(format!("{id}#text_{i}"), t));
                }
                let table: Vec<Vec<String>> =
                    record["table"].as_array().map(|r| r.iter().map(strings).collect()).unwrap_or_default();
                if let Some(header) = table.first() {
                    for (i, row) in table.iter().enumerate().skip(1) {
                        let mut s = String::new();
                        for (j, cell) in row.iter().enumerate().skip(1) {
                            let col = header.get(j).map_or("", String::as_str);
                            s.push_str(&format!("{} {} of {col} is {cell} ; ", header[0], row[0]));
                        }
                        page.push(text_doc(format!("{id}#table_{i}"), s.trim()));
                    }
                }
                for mut d in page {
                    d.ticker = Some(ticker.clone());
                    d.date = date;
                    docs.push(d);
                }
            }
            let qa = &record["qa"];
            let gold: HashSet<String> = qa["gold_inds"]
                .as_object()
                .map(|m| m.keys().map(|k| format!("{id}#{k}")).collect())
                .unwrap_or_default();
            if !gold.is_empty() {
                let text = qa["question"].as_str().unwrap_or_default().to_string();
                questions.push(Question { text, gold, scope: Some(scope) });
            }
        }
    }
    (docs, questions)
}

/// TAT-QA: one document per paragraph and one per table (chunked by the chunker: rows
/// never cut, header repeated); gold = the related paragraphs and/or the table.
fn tatqa(path: &Path) -> (Vec<Document>, Vec<Question>) {
    let mut docs = Vec::new();
    let mut questions = Vec::new();
    for context in read_json(path).as_array().expect("TAT-QA is a list") {
        let uid = context["table"]["uid"].as_str().expect("uid");
        let rows: Vec<Vec<String>> =
            context["table"]["table"].as_array().map(|r| r.iter().map(strings).collect()).unwrap_or_default();
        let table_id = format!("{uid}#table");
        docs.push(Document::new(
            table_id.clone(),
            "bench",
            DocType::Text,
            table_id.clone(),
            vec![Block::Table { table: Table { rows } }],
        ));
        for p in context["paragraphs"].as_array().into_iter().flatten() {
            let order = p["order"].as_u64().unwrap_or(0);
            docs.push(text_doc(format!("{uid}#p{order}"), p["text"].as_str().unwrap_or_default()));
        }
        for q in context["questions"].as_array().into_iter().flatten() {
            let from = q["answer_from"].as_str().unwrap_or_default();
            let mut gold = HashSet::new();
            if from.contains("table") {
                gold.insert(table_id.clone());
            }
            if from.contains("text") {
                for p in q["rel_paragraphs"].as_array().into_iter().flatten() {
                    let order = p.as_str().map(str::to_string).unwrap_or_else(|| p.to_string());
                    gold.insert(format!("{uid}#p{order}"));
                }
            }
            if !gold.is_empty() {
                questions.push(Question {
                    text: q["question"].as_str().unwrap_or_default().to_string(),
                    gold,
                    scope: None,
                });
            }
        }
    }
    (docs, questions)
}

async fn evaluate(
    name: &str,
    index: &Index,
    keep: Option<&Path>,
    docs: Vec<Document>,
    questions: &[Question],
) -> Value {
    // With `--keep DIR` the stores stay there, and a later run with other retrieval
    // settings skips the embedding (ingestion is incremental).
    let dir = tempfile::tempdir().expect("tempdir");
    let root = keep.unwrap_or(dir.path());
    let store = Arc::new(EdgeStore::open(&root.join(name), index.embedder.dimension()).await.expect("store"));
    let index = Index { store, ..index.clone() };
    let (tx, rx) = tokio::sync::mpsc::channel::<DocItem>(256);
    let n_docs = docs.len();
    tokio::spawn(async move {
        for d in docs {
            if tx.send(Ok(d)).await.is_err() {
                break;
            }
        }
    });
    let report = index
        .indexer()
        .ingest(&["bench".to_string()], rx, IngestOptions { progress: false, ..IngestOptions::default() })
        .await
        .expect("ingest");
    eprintln!("{name}: {} documents → {} chunks in {:.0} s", n_docs, report.chunks_total, report.seconds);
    let retriever = index.retriever();
    let mut out = serde_json::Map::new();
    out.insert("documents".into(), json!(n_docs));
    out.insert("chunks".into(), json!(report.chunks_total));
    out.insert("questions".into(), json!(questions.len()));
    let scoped = questions.iter().any(|q| q.scope.is_some());
    let runs = [false, true]
        .into_iter()
        .filter(|s| !s || scoped)
        .flat_map(|s| [SearchMode::Dense, SearchMode::Sparse, SearchMode::Hybrid].map(move |m| (s, m)));
    for (scope, mode) in runs {
        let (mut r5, mut r10, mut all10, mut mrr) = (0usize, 0usize, 0usize, 0f64);
        for q in questions {
            let filter = if scope { q.scope.clone().unwrap_or_default() } else { Filter::default() };
            let request = SearchRequest { k: 10, mode, filter, ..SearchRequest::new(q.text.clone()) };
            let hits = retriever.search(&request).await.expect("search");
            let ids: Vec<&str> = hits.iter().map(|h| h.citation.doc_id.as_str()).collect();
            let first = ids.iter().position(|id| q.gold.contains(*id));
            if first.is_some_and(|r| r < 5) {
                r5 += 1;
            }
            if let Some(r) = first {
                r10 += 1;
                mrr += 1.0 / (r + 1) as f64;
            }
            let found: HashSet<&str> = ids.iter().copied().filter(|id| q.gold.contains(*id)).collect();
            if found.len() == q.gold.len() {
                all10 += 1;
            }
        }
        let n = questions.len().max(1) as f64;
        let name = format!("{mode:?}").to_lowercase();
        out.insert(
            if scope { format!("{name} (company + year filter)") } else { name },
            json!({"recall@5": r5 as f64 / n, "recall@10": r10 as f64 / n, "all@10": all10 as f64 / n, "mrr@10": mrr / n}),
        );
    }
    Value::Object(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let home = PathBuf::from(arg(&args, "--home").expect("--home DIR (a BULLPEN_HOME with minilm-l6-v2)"));
    let model_dir = ModelStore::new(&home, vec![]).ensure("minilm-l6-v2").await.expect("model");
    let embedder: Arc<dyn Embedder> = Arc::new(
        CandleEmbedder::load_async(model_dir, "minilm-l6-v2".into(), 64, 256).await.expect("load MiniLM"),
    );
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut settings =
        IndexSettings { path: Some(scratch.path().join("unused")), ..IndexSettings::default() };
    if let Some(k) = arg(&args, "--rrf-k") {
        settings.retrieval.rrf_k = k.parse().expect("--rrf-k N");
    }
    if let Some(n) = arg(&args, "--prefetch") {
        settings.retrieval.prefetch = n.parse().expect("--prefetch N");
    }
    let keep = arg(&args, "--keep").map(PathBuf::from);
    let index = Index::open(&settings, &home, embedder).await.expect("index");
    let mut results = serde_json::Map::new();
    if let Some(files) = arg(&args, "--finqa") {
        let paths: Vec<PathBuf> = files.split(',').map(PathBuf::from).collect();
        let (docs, questions) = finqa(&paths);
        results.insert("finqa".into(), evaluate("finqa", &index, keep.as_deref(), docs, &questions).await);
    }
    if let Some(file) = arg(&args, "--tatqa") {
        let (docs, questions) = tatqa(Path::new(&file));
        results.insert("tatqa".into(), evaluate("tatqa", &index, keep.as_deref(), docs, &questions).await);
    }
    println!("{}", serde_json::to_string_pretty(&Value::Object(results)).expect("json"));
}
