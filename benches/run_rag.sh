#!/usr/bin/env bash
# RAG benchmarks behind BENCHMARKS.md ("RAG" section):
#   quality  — recall@5/@10 and MRR of dense, sparse and hybrid retrieval on FinQA and TAT-QA
#              (../shared/data/eval), every record ingested through the real pipeline;
#   ingest   — chunks/s of the whole ingestion (chunk + embed + BM25 + upsert + optimize) on
#              the Items of demo filings vs a Python pipeline doing the same chunking and
#              embedding with tokenizers + sentence-transformers (benches/rag_ingest_peer.py);
#   latency  — qdrant-edge query latency p50/p99 at 10k and 100k chunks after optimize(),
#              and HNSW recall@10 against exact search.
#
#   benches/run_rag.sh [quality|ingest|latency]...   # default: all three
#   env: THREADS=2 FILINGS="data/filings/aapl-10-k-2024-11-01.html.gz,..." SIZES=10000,100000 PYTHON=python3
#
# Profile: dev (dependencies at opt-level 3, see Cargo.toml), like the other benches. The
# model comes from the test BULLPEN_HOME (pulled by scripts/test.sh). Run on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-2}
PYTHON=${PYTHON:-python3}
target=${CARGO_TARGET_DIR:-$PWD/target}
HOME_DIR=${BULLPEN_HOME:-$target/bullpen-test-home}
EVAL=${EVAL:-../shared/data/eval}
FILINGS=${FILINGS:-data/filings/aapl-10-k-2024-11-01.html.gz,data/filings/ko-10-k-2025-02-20.html.gz,data/filings/nflx-10-q-2025-07-18.html.gz}
SIZES=${SIZES:-10000,100000}
export RAYON_NUM_THREADS=$THREADS CANDLE_NUM_THREADS=$THREADS

what=("$@")
[[ ${#what[@]} -gt 0 ]] || what=(quality ingest latency)
cargo bench --profile dev --bench rag_quality --bench rag_speed --no-run >&2

for w in "${what[@]}"; do
    case $w in
    quality)
        cargo bench -q --profile dev --bench rag_quality -- --home "$HOME_DIR" \
            --finqa "$EVAL/finqa_dev_subset200.json,$EVAL/finqa_train_subset100.json" \
            --tatqa "$EVAL/tatqa_dataset_dev.json"
        ;;
    ingest)
        docs=$(mktemp --suffix .jsonl)
        ours=$(cargo bench -q --profile dev --bench rag_speed -- ingest --home "$HOME_DIR" --filings "$FILINGS" --docs-out "$docs")
        peer=$("$PYTHON" benches/rag_ingest_peer.py --model "$HOME_DIR/models/minilm-l6-v2" --docs "$docs" --threads "$THREADS")
        rm -f "$docs"
        echo "$ours"
        echo "$peer"
        "$PYTHON" - "$ours" "$peer" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("ingestion chunks/s: bullpen %.1f (%d chunks), python %.1f (%d chunks), ratio %.2fx; peak RSS %.0f MB vs %.0f MB"
      % (a["chunks_per_s"], a["chunks"], b["chunks_per_s"], b["chunks"], a["chunks_per_s"] / b["chunks_per_s"],
         a["peak_rss_mb"], b["peak_rss_mb"]))
PY
        ;;
    latency)
        cargo bench -q --profile dev --bench rag_speed -- latency --home "$HOME_DIR" \
            --tweets data/news/stocknet_tweets_2014_2015_20tickers.jsonl.gz --sizes "$SIZES"
        ;;
    *) echo "unknown benchmark $w (quality, ingest, latency)" >&2; exit 2 ;;
    esac
done
