//! The RAG layer end to end with the real all-MiniLM-L6-v2 (pulled once into the test
//! `BULLPEN_HOME`) and the embedded qdrant-edge store: ingestion of a filing, news and
//! ratio cards from a small universe copied from the demo data, incremental re-runs,
//! pruning, and hybrid search whose citations point at the cited text.
#![cfg(feature = "candle")]

use std::path::{Path, PathBuf};

use bullpen::jobs::JobContext;
use bullpen::rag::sources::filing_documents;
use bullpen::rag::{DocType, Hit, IndexSettings};
use bullpen::settings::{IngestJob, JobSettings, SearchJob, Settings};

#[path = "common/home.rs"]
mod home;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const FILING: &str = "aapl-10-k-2024-11-01.html.gz";

fn tweets(lines: &[(&str, &str, &str, &str)]) -> String {
    lines
        .iter()
        .map(|(id, ticker, date, text)| {
            serde_json::json!({"id": id, "ticker": ticker, "date": date, "text": text}).to_string() + "\n"
        })
        .collect()
}

const NEWS: &[(&str, &str, &str, &str)] = &[
    ("1", "AAPL", "2024-01-03", "$AAPL iPhone shipments in China fell sharply this quarter"),
    ("2", "AAPL", "2024-02-10", "Apple services revenue hits a record on App Store growth"),
    ("3", "MSFT", "2024-02-11", "$MSFT Azure cloud growth accelerates on AI demand"),
    ("4", "TSLA", "2015-01-02", "$TSLA deliveries beat estimates for the fourth quarter"),
];

/// A universe with AAPL's 10-K, the SEC index files and a news file.
fn universe(dir: &Path) -> PathBuf {
    let root = dir.join("universe");
    std::fs::create_dir_all(root.join("filings")).expect("mkdir");
    std::fs::create_dir_all(root.join("news")).expect("mkdir");
    std::fs::copy(Path::new(REPO).join("data/filings").join(FILING), root.join("filings").join(FILING))
        .expect("copy filing");
    let sec = root.join("sec");
    std::fs::create_dir_all(&sec).expect("mkdir");
    for entry in std::fs::read_dir(Path::new(REPO).join("data/sec")).expect("list sec") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), sec.join(entry.file_name())).expect("copy sec");
    }
    std::fs::write(root.join("news/tweets.jsonl"), tweets(NEWS)).expect("news");
    root
}

fn context(dir: &Path) -> (JobContext, IndexSettings) {
    let settings = Settings::new(JobSettings::IngestJob(IngestJob::default()));
    let ctx = JobContext::with_home(&settings, home::test_home());
    let index = IndexSettings { path: Some(dir.join("index")), ..IndexSettings::default() };
    (ctx, index)
}

fn ingest_job(index: &IndexSettings, data: &Path, sources: &[&str]) -> IngestJob {
    IngestJob {
        index: index.clone(),
        data: Some(data.to_path_buf()),
        sources: sources.iter().map(|s| s.to_string()).collect(),
        ..IngestJob::default()
    }
}

async fn search(
    ctx: &JobContext,
    index: &IndexSettings,
    query: &str,
    edit: impl FnOnce(&mut SearchJob),
) -> Vec<Hit> {
    let mut job = SearchJob::new(query);
    job.index = index.clone();
    edit(&mut job);
    job.hits(ctx).await.expect("search")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_is_incremental_and_hits_cite_their_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = universe(dir.path());
    let (ctx, index) = context(dir.path());
    let job = ingest_job(&index, &data, &["filings", "news", "ratios"]);

    let first = job.ingest(&ctx, false).await.expect("first ingestion");
    // Item 6 of a 10-K is "[Reserved]": nothing to index, and said so.
    assert!(
        first
            .skipped
            .iter()
            .all(|s| s.reason == "no text left after cleaning" && s.location.ends_with("#item-6")),
        "{:?}",
        first.skipped
    );
    assert_eq!(first.added + first.skipped.len(), first.documents);
    assert!(first.documents > 20, "Items + 4 news + ratio cards: {first:?}");
    assert!(first.chunks_written > 100, "{first:?}");
    assert_eq!(first.chunks_total, first.chunks_written);

    // Nothing changed: no embedding work.
    let second = job.ingest(&ctx, false).await.expect("second ingestion");
    assert_eq!(
        (second.unchanged, second.chunks_written, second.chunks_total),
        (first.added, 0, first.chunks_total)
    );
    assert_eq!(second.embed_seconds, 0.0);

    // One item changed, one removed: the changed one is replaced — and so is the item after
    // the removed one, whose citation (`file:line`) moved up a line —, the removed one is
    // reported stale, then deleted with `prune`.
    let mut news = NEWS.to_vec();
    news[1].3 = "Apple services revenue hits a record on App Store and iCloud growth";
    news.remove(2);
    std::fs::write(data.join("news/tweets.jsonl"), tweets(&news)).expect("news");
    let third = job.ingest(&ctx, false).await.expect("third ingestion");
    assert_eq!((third.replaced, third.stale, third.added), (2, 1, 0), "{third:?}");
    assert_eq!(third.unchanged, first.added - 3);
    let pruned = IngestJob { prune: true, ..job.clone() }.ingest(&ctx, false).await.expect("prune");
    assert_eq!((pruned.deleted, pruned.chunks_written), (1, 0));
    assert_eq!(pruned.chunks_total, first.chunks_total - 1);

    // Search: filtered to AAPL's 10-K, every hit cites a section and the exact span.
    let hits = search(&ctx, &index, "iPhone net sales by geographic segment", |j| {
        j.filter.tickers = vec!["AAPL".into()];
        j.filter.forms = vec!["10-K".into()];
        j.k = 5;
    })
    .await;
    assert_eq!(hits.len(), 5);
    let filing =
        bullpen_connectors::sec::ixbrl::parse_filing_file(&data.join("filings").join(FILING)).expect("parse");
    let docs = filing_documents(&filing, "filings");
    for h in &hits {
        let c = &h.citation;
        assert_eq!(
            (c.ticker.as_deref(), c.form.as_deref(), c.doc_type),
            (Some("AAPL"), Some("10-K"), DocType::Filing)
        );
        assert!(c.section.as_deref().is_some_and(|s| s.starts_with("Item ")), "{c:?}");
        assert_eq!(c.fiscal_period.as_deref(), Some("FY2024"));
        let doc = docs.iter().find(|d| d.id == c.doc_id).expect("cited document exists");
        let cited: String =
            doc.render().text.chars().skip(c.char_start).take(c.char_end - c.char_start).collect();
        if h.text.starts_with('|') && !h.text.starts_with(&cited) {
            // A table part: its header row is repeated above the cited rows.
            assert!(h.text.ends_with(&cited), "{}", h.text);
        } else {
            assert_eq!(cited, h.text);
        }
    }
    assert!(hits.iter().any(|h| h.text.contains("iPhone")), "{hits:#?}");

    // Type and date filters.
    let news = search(&ctx, &index, "Apple services revenue record", |j| {
        j.filter.doc_types = vec![DocType::News];
        j.filter.from = Some("2024-01-01".parse().expect("date"));
    })
    .await;
    assert!(!news.is_empty());
    assert!(
        news.iter().all(|h| h.citation.doc_type == DocType::News
            && h.citation.date >= Some("2024-01-01".parse().expect("d")))
    );
    assert!(news[0].text.contains("iCloud"), "the replaced text is what is found: {news:#?}");
    assert!(news.iter().all(|h| !h.text.contains("Azure")), "the pruned item is gone");

    // Ratio cards: a company's metrics are retrievable, with the engine's numbers.
    let cards =
        search(&ctx, &index, "AAPL gross margin FY2024", |j| j.filter.doc_types = vec![DocType::RatioCard])
            .await;
    assert!(!cards.is_empty());
    assert!(cards.iter().any(|h| h.text.contains("Gross margin") && h.text.contains('%')), "{cards:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_reported_and_good_ones_indexed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).expect("mkdir");
    std::fs::write(files.join("empty.txt"), "").expect("w");
    std::fs::write(files.join("binary.txt"), b"\x00\x01\x02\x03garbage").expect("w");
    std::fs::write(files.join("latin1.txt"), b"Soci\xe9t\xe9 G\xe9n\xe9rale results\n").expect("w");
    std::fs::write(
        files.join("notes.md"),
        "Margins expanded on lower input costs.\n\nGuidance was raised for the year.\n",
    )
    .expect("w");
    // 50 MB: over the default 32 MiB limit, skipped without being read.
    let big = std::fs::File::create(files.join("big.txt")).expect("create");
    big.set_len(50 << 20).expect("grow");
    let (ctx, index) = context(dir.path());
    let job = IngestJob { index: index.clone(), paths: vec![files.clone()], ..IngestJob::default() };
    let report = job.ingest(&ctx, false).await.expect("ingestion");
    let reasons: Vec<String> =
        report.skipped.iter().map(|s| format!("{}: {}", s.location, s.reason)).collect();
    assert_eq!(report.skipped.len(), 4, "{reasons:#?}");
    for (file, reason) in [
        ("empty.txt", "empty file"),
        ("binary.txt", "binary"),
        ("latin1.txt", "not UTF-8"),
        ("big.txt", "larger than the limit"),
    ] {
        assert!(reasons.iter().any(|r| r.contains(file) && r.contains(reason)), "{file}: {reasons:#?}");
    }
    assert_eq!((report.documents, report.chunks_total), (1, 1));
    let hits = search(&ctx, &index, "guidance raised", |_| {}).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].citation.doc_type, DocType::Text);
    assert!(hits[0].citation.document.ends_with("notes.md"));
}
