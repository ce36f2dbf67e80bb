//! The shared test suite of the vector store seam: every backend must pass it. It runs
//! against the embedded qdrant-edge store always, and against a Qdrant server when
//! `QDRANT_URL` (gRPC, e.g. http://localhost:6334) is set.

use std::sync::Arc;

use bullpen::rag::chunker::ChunkKind;
use bullpen::rag::sparse::{Bm25, Bm25Settings};
use bullpen::rag::store::edge::EdgeStore;
use bullpen::rag::store::{ChunkPayload, Filter, Point, SearchMode, StoreQuery, VectorStore, date_num};
use bullpen::rag::{DocType, RagError};
use chrono::NaiveDate;

const DIM: usize = 8;

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

/// A unit vector along axis `i` plus a little of axis `j`.
fn vector(i: usize, j: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[i] = 1.0;
    v[j] += 0.3;
    v
}

/// Chunk `index` of document `doc`, about `ticker`, of `doc_type`, dated `date`.
fn point(
    bm25: &Bm25,
    (doc, index): (&str, usize),
    (ticker, doc_type, date): (&str, DocType, &str),
    text: &str,
    dense: Vec<f32>,
) -> Point {
    let date = day(date);
    Point {
        id: bullpen::rag::ingest::point_id(doc, index),
        dense,
        sparse: bm25.document(text),
        payload: ChunkPayload {
            doc_id: doc.into(),
            doc_hash: format!("hash-{doc}"),
            source: "test".into(),
            chunk_index: index,
            chunk_count: 2,
            doc_type,
            ticker: Some(ticker.into()),
            cik: None,
            form: (doc_type == DocType::Filing).then(|| "10-K".into()),
            fiscal_period: None,
            date: Some(date),
            date_num: Some(date_num(date)),
            section: (doc_type == DocType::Filing).then(|| "Item 1A. Risk Factors".into()),
            title: None,
            uri: format!("file://{doc}"),
            char_start: index * 100,
            char_end: index * 100 + text.chars().count(),
            content_hash: format!("{doc}-{index}"),
            kind: ChunkKind::Prose,
            text: text.into(),
        },
    }
}

fn query(bm25: &Bm25, text: &str, dense: Vec<f32>, mode: SearchMode, filter: Filter) -> StoreQuery {
    StoreQuery {
        dense,
        sparse: bm25.query(text),
        mode,
        filter,
        limit: 10,
        prefetch: 20,
        rrf_k: 60,
        exact: false,
        hnsw_ef: None,
    }
}

fn docs(hits: &[bullpen::rag::store::ScoredChunk]) -> Vec<String> {
    hits.iter().map(|h| format!("{}#{}", h.payload.doc_id, h.payload.chunk_index)).collect()
}

/// Every backend: empty queries, upsert, dense/sparse/hybrid ranking, filters, manifest,
/// deletes, counts.
async fn suite(store: Arc<dyn VectorStore>) {
    let bm25 = Bm25::new(Bm25Settings::default()).expect("bm25");
    let all = Filter::default();

    // An empty collection answers with nothing, not an error.
    assert_eq!(store.count(&all).await.expect("count"), 0);
    for mode in [SearchMode::Dense, SearchMode::Sparse, SearchMode::Hybrid] {
        let hits = store
            .search(&query(&bm25, "revenue", vector(0, 1), mode, all.clone()))
            .await
            .expect("search empty");
        assert!(hits.is_empty(), "{mode:?}");
    }
    assert!(store.manifest().await.expect("manifest").is_empty());

    let points = vec![
        point(
            &bm25,
            ("aapl-10k", 0),
            ("AAPL", DocType::Filing, "2024-11-01"),
            "Supply chain disruption could hurt iPhone production",
            vector(0, 1),
        ),
        point(
            &bm25,
            ("aapl-10k", 1),
            ("AAPL", DocType::Filing, "2024-11-01"),
            "Foreign exchange rates affect gross margin",
            vector(1, 2),
        ),
        point(
            &bm25,
            ("msft-news", 0),
            ("MSFT", DocType::News, "2024-03-05"),
            "Microsoft cloud revenue grows on Azure demand",
            vector(2, 3),
        ),
        point(
            &bm25,
            ("msft-news", 1),
            ("MSFT", DocType::News, "2024-06-05"),
            "Azure capacity constraints limit growth",
            vector(3, 4),
        ),
        point(
            &bm25,
            ("tsla-tweet", 0),
            ("TSLA", DocType::Tweet, "2015-01-02"),
            "$TSLA deliveries beat estimates",
            vector(4, 5),
        ),
    ];
    store.upsert(points.clone()).await.expect("upsert");
    // Upserting the same ids again replaces, never duplicates.
    store.upsert(points.clone()).await.expect("upsert again");
    store.flush().await.expect("flush");
    assert_eq!(store.count(&all).await.expect("count"), 5);

    // Dense: nearest vector first.
    let hits = store
        .search(&query(&bm25, "zzz", vector(2, 3), SearchMode::Dense, all.clone()))
        .await
        .expect("dense");
    assert_eq!(docs(&hits)[0], "msft-news#0");
    // Sparse: BM25 terms (stemmed: "grows" ~ "growth").
    let hits = store
        .search(&query(&bm25, "Azure growth", vector(0, 1), SearchMode::Sparse, all.clone()))
        .await
        .expect("sparse");
    let found = docs(&hits);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.contains(&"msft-news#1".to_string()) && found.contains(&"msft-news#0".to_string()));
    // Hybrid: a chunk good on both lists outranks one good on one.
    let hits = store
        .search(&query(&bm25, "Azure capacity", vector(3, 4), SearchMode::Hybrid, all.clone()))
        .await
        .expect("hybrid");
    assert_eq!(docs(&hits)[0], "msft-news#1");
    assert_eq!(hits[0].payload.text, "Azure capacity constraints limit growth");
    assert_eq!(hits[0].payload.section, None);
    // A query of stop words has no sparse terms: sparse finds nothing, hybrid falls back to dense.
    assert!(
        store
            .search(&query(&bm25, "the of and", vector(0, 1), SearchMode::Sparse, all.clone()))
            .await
            .expect("s")
            .is_empty()
    );
    assert_eq!(
        docs(
            &store
                .search(&query(&bm25, "the of", vector(0, 1), SearchMode::Hybrid, all.clone()))
                .await
                .expect("h")
        )[0],
        "aapl-10k#0"
    );

    // Filters: ticker, type, form, section, date range; combined with AND.
    let by = |f: Filter| {
        let store = store.clone();
        let q = query(&bm25, "revenue growth margin supply", vector(0, 1), SearchMode::Hybrid, f);
        async move { docs(&store.search(&q).await.expect("filtered search")) }
    };
    assert!(
        by(Filter { tickers: vec!["msft".into()], ..all.clone() })
            .await
            .iter()
            .all(|d| d.starts_with("msft"))
    );
    assert_eq!(by(Filter { doc_types: vec![DocType::Tweet], ..all.clone() }).await, ["tsla-tweet#0"]);
    assert_eq!(by(Filter { forms: vec!["10-K".into()], ..all.clone() }).await.len(), 2);
    assert_eq!(by(Filter { sections: vec!["Item 1A. Risk Factors".into()], ..all.clone() }).await.len(), 2);
    let range = Filter { from: Some(day("2024-03-01")), to: Some(day("2024-06-30")), ..all.clone() };
    let mut in_range = by(range.clone()).await;
    in_range.sort();
    assert_eq!(in_range, ["msft-news#0", "msft-news#1"]);
    assert_eq!(by(Filter { from: Some(day("2024-06-01")), ..range.clone() }).await, ["msft-news#1"]);
    assert_eq!(
        by(Filter {
            tickers: vec!["AAPL".into(), "TSLA".into()],
            doc_types: vec![DocType::Filing],
            ..all.clone()
        })
        .await
        .len(),
        2
    );
    assert_eq!(store.count(&Filter { tickers: vec!["AAPL".into()], ..all.clone() }).await.expect("count"), 2);

    // The manifest lists every chunk with its document.
    let mut manifest = store.manifest().await.expect("manifest");
    manifest.sort_by(|a, b| a.doc_id.cmp(&b.doc_id));
    assert_eq!(manifest.len(), 5);
    assert_eq!(
        (manifest[0].doc_id.as_str(), manifest[0].doc_hash.as_str(), manifest[0].chunk_count),
        ("aapl-10k", "hash-aapl-10k", 2)
    );

    // Deletes: by document, by id; an empty filter is refused.
    store.delete(&Filter { doc_ids: vec!["msft-news".into()], ..all.clone() }).await.expect("delete doc");
    store.delete_ids(&[points[4].id]).await.expect("delete id");
    assert!(matches!(store.delete(&all).await, Err(RagError::Store { .. })));
    assert_eq!(store.count(&all).await.expect("count"), 2);
    store.optimize().await.expect("optimize");
    assert_eq!(
        docs(
            &store
                .search(&query(&bm25, "iPhone", vector(0, 1), SearchMode::Hybrid, all.clone()))
                .await
                .expect("after delete")
        )[0],
        "aapl-10k#0"
    );
}

#[tokio::test]
async fn qdrant_edge_passes_the_suite_and_survives_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index");
    let store = Arc::new(EdgeStore::open(&path, DIM).await.expect("open"));
    suite(store.clone()).await;

    // One process per store: a second open is refused while the first is alive.
    assert!(matches!(EdgeStore::open(&path, DIM).await, Err(RagError::Busy { .. })));
    drop(store);

    let reopened = EdgeStore::open(&path, DIM).await.expect("reopen");
    assert_eq!(
        reopened.count(&Filter::default()).await.expect("count"),
        2,
        "the store survives close and reopen"
    );
    drop(reopened);
    let err = EdgeStore::open(&path, DIM + 1).await.expect_err("another dimension");
    assert!(err.to_string().contains("8-dimensional") && err.to_string().contains("9"), "{err}");
}

#[cfg(feature = "qdrant-remote")]
#[tokio::test]
async fn a_qdrant_server_passes_the_suite_when_qdrant_url_is_set() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        eprintln!("QDRANT_URL is not set: the Qdrant server run of the suite is skipped");
        return;
    };
    let collection = format!("bullpen-test-{}", uuid::Uuid::new_v4().simple());
    let settings = bullpen::rag::RemoteSettings::new(url);
    let store =
        bullpen::rag::store::remote::QdrantStore::open(&settings, &collection, DIM).await.expect("connect");
    suite(Arc::new(store)).await;
}
