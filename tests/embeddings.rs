//! The candle embedding provider against the real all-MiniLM-L6-v2, installed through the
//! model store (pulled once into `$BULLPEN_HOME`, default `<target dir>/bullpen-test-home`).
//!
//! The reference vectors in `tests/fixtures/minilm_reference.json` were computed with
//! sentence-transformers by `scripts/make_minilm_fixture.py`.
#![cfg(feature = "candle")]

use std::path::PathBuf;

use bullpen::llm::candle::CandleEmbedder;
use bullpen::llm::store::ModelStore;
use bullpen::llm::{Embedder, LlmError, cosine};
use serde::Deserialize;
use tokio::sync::OnceCell;

const MODEL: &str = "minilm-l6-v2";
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/minilm_reference.json");

#[derive(Deserialize)]
struct Reference {
    max_seq_length: usize,
    token_counts: Vec<usize>,
    sentences: Vec<String>,
    embeddings: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let text = std::fs::read_to_string(FIXTURE).expect("read the MiniLM fixture");
    let reference: Reference = serde_json::from_str(&text).expect("parse the MiniLM fixture");
    assert_eq!(reference.sentences.len(), reference.embeddings.len());
    assert_eq!(reference.sentences.len(), reference.token_counts.len());
    reference
}

#[path = "common/home.rs"]
mod home;
use home::test_home;

async fn model_dir() -> PathBuf {
    static DIR: OnceCell<PathBuf> = OnceCell::const_new();
    DIR.get_or_init(|| async {
        let home = test_home();
        ModelStore::new(&home, vec![])
            .ensure(MODEL)
            .await
            .unwrap_or_else(|e| panic!("install {MODEL} into {}: {e}", home.display()))
    })
    .await
    .clone()
}

/// The model as configured by the built-in `minilm` profile: batch 64, 256 tokens
/// (sentence-transformers' `max_seq_length` for this model).
async fn minilm() -> &'static CandleEmbedder {
    static MODEL_64: OnceCell<CandleEmbedder> = OnceCell::const_new();
    MODEL_64
        .get_or_init(|| async {
            let max_length = reference().max_seq_length;
            CandleEmbedder::load_async(model_dir().await, MODEL.to_string(), 64, max_length)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .await
}

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|s| s.to_string()).collect()
}

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: dimensions differ");
    let max_diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(max_diff < 1e-5, "{what}: max abs difference {max_diff}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matches_sentence_transformers_reference() {
    let reference = reference();
    let model = minilm().await;
    assert_eq!(model.name(), MODEL);
    assert_eq!(model.dimension(), 384);

    let out = model.embed(&reference.sentences).await.unwrap();
    assert_eq!(out.vectors.len(), reference.sentences.len());
    // Truncation at max_seq_length, special tokens included, as sentence-transformers does.
    let expected_tokens: usize =
        reference.token_counts.iter().map(|&n| n.min(reference.max_seq_length)).sum();
    assert_eq!(out.prompt_tokens as usize, expected_tokens);

    for ((sentence, want), got) in reference.sentences.iter().zip(&reference.embeddings).zip(&out.vectors) {
        assert_eq!(got.len(), 384);
        let norm = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not L2-normalised ({norm}): {sentence}");
        let cos = cosine(got, want);
        assert!(cos >= 0.9999, "cosine {cos} < 0.9999 against sentence-transformers for {sentence:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn related_finance_sentences_score_higher_than_unrelated() {
    let model = minilm().await;
    let texts = strings(&[
        "The company's quarterly revenue rose 12% on strong demand for its cloud services.",
        "Sales grew by twelve percent in the third quarter, driven by cloud computing.",
        "The recipe calls for two cups of flour and a pinch of salt.",
        "The bank raised its dividend after record annual profits.",
        "The lender increased its payout to shareholders following a year of record earnings.",
        "Our cat sleeps on the windowsill most afternoons.",
    ]);
    let v = model.embed(&texts).await.unwrap().vectors;
    for (related, unrelated) in [((0, 1), (0, 2)), ((0, 1), (1, 2)), ((3, 4), (3, 5)), ((3, 4), (4, 5))] {
        let r = cosine(&v[related.0], &v[related.1]);
        let u = cosine(&v[unrelated.0], &v[unrelated.1]);
        assert!(r > u + 0.2, "related {related:?} = {r} should clearly beat unrelated {unrelated:?} = {u}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_equal_one_by_one() {
    let reference = reference();
    let texts = &reference.sentences;
    // Batches of 3 after length sorting: several padded batches, results back in input order.
    let small_batches =
        CandleEmbedder::load_async(model_dir().await, MODEL.to_string(), 3, 256).await.unwrap();
    let big_batch = minilm().await;
    let all_at_once = big_batch.embed(texts).await.unwrap();
    let in_threes = small_batches.embed(texts).await.unwrap();
    assert_eq!(all_at_once.prompt_tokens, in_threes.prompt_tokens);
    for (i, text) in texts.iter().enumerate() {
        let single = big_batch.embed(std::slice::from_ref(text)).await.unwrap();
        assert_eq!(single.vectors.len(), 1);
        assert_close(
            &single.vectors[0],
            &all_at_once.vectors[i],
            &format!("single vs batch of 12, {text:?}"),
        );
        assert_close(&single.vectors[0], &in_threes.vectors[i], &format!("single vs batches of 3, {text:?}"));
    }
    // The blocking entry point gives the same vectors.
    let blocking = big_batch.embed_blocking(&texts[..2]).unwrap();
    assert_close(&blocking.vectors[1], &all_at_once.vectors[1], "embed_blocking");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_one_model() {
    let model = minilm().await;
    let texts = strings(&["Shares fell.", "Moody's downgraded the bank.", "Revenue beat estimates."]);
    let sequential = model.embed(&texts).await.unwrap();
    let calls = (0..4).map(|_| model.embed(&texts));
    for result in futures::future::join_all(calls).await {
        let out = result.unwrap();
        for (a, b) in out.vectors.iter().zip(&sequential.vectors) {
            assert_close(a, b, "concurrent call");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_batch_and_empty_text() {
    let model = minilm().await;
    let out = model.embed(&[]).await.unwrap();
    assert!(out.vectors.is_empty());
    assert_eq!(out.prompt_tokens, 0);
    assert!(model.embed_blocking::<&str>(&[]).unwrap().vectors.is_empty());

    // An empty string is [CLS] [SEP]: a valid, normalised vector.
    let out = model.embed(&strings(&[""])).await.unwrap();
    assert_eq!(out.prompt_tokens, 2);
    let norm = out.vectors[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "{norm}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_weights_give_a_clear_error() {
    let source = model_dir().await;
    let tmp = tempfile::tempdir().unwrap();
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(source.join(file), tmp.path().join(file)).unwrap();
    }
    let err = CandleEmbedder::load_async(tmp.path().to_path_buf(), "broken".to_string(), 64, 256)
        .await
        .expect_err("a directory without model.safetensors must not load");
    assert!(matches!(err, LlmError::Load { ref model, .. } if model == "broken"), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("missing model.safetensors"), "{msg}");
    assert!(msg.contains(&tmp.path().display().to_string()), "{msg}");

    // Truncated weights: named, not a panic.
    std::fs::write(tmp.path().join("model.safetensors"), b"not a safetensors file").unwrap();
    let err = CandleEmbedder::load(tmp.path(), "broken", 64, 256).unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    // max_length beyond the model's position embeddings.
    let err = CandleEmbedder::load(&source, MODEL, 64, 4096).unwrap_err();
    assert!(err.to_string().contains("max_position_embeddings (512)"), "{err}");
}
