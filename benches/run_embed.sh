#!/usr/bin/env bash
# Embeddings/s of Bullpen's candle MiniLM provider vs sentence-transformers (PyTorch, CPU):
# the same first N Financial PhraseBank sentences, the same model files (the model store's
# minilm-l6-v2), batch 64, truncation at 256 tokens, the same thread count. One timed pass
# each, after a short warm-up. Prints both JSON reports and the ratio.
#
#   benches/run_embed.sh        # env: THREADS=2 N=1000 BATCH=64 MAX_LENGTH=256 DATA=... PYTHON=python3
#
# The Rust side is a release build (`cargo bench`), with only the `candle` feature so that
# llama.cpp and the HTTP stack are not built in release for nothing. Needs
# `python3 -m pip install sentence-transformers`. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-2}
N=${N:-1000}
BATCH=${BATCH:-64}
MAX_LENGTH=${MAX_LENGTH:-256}
DATA=${DATA:-../shared/data/eval/financial_phrasebank_Sentences_50Agree.txt}
PYTHON=${PYTHON:-python3}
CARGO_ARGS=(--bench embed --no-default-features --features candle)

cargo bench "${CARGO_ARGS[@]}" --no-run >&2
# The same thread count for candle's matmuls (rayon) and element-wise kernels.
ours=$(RAYON_NUM_THREADS=$THREADS CANDLE_NUM_THREADS=$THREADS \
    cargo bench -q "${CARGO_ARGS[@]}" -- \
    --data "$DATA" --n "$N" --batch-size "$BATCH" --max-length "$MAX_LENGTH")
model_dir=$("$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["model_dir"])' "$ours")
peer=$("$PYTHON" benches/embed_peer.py --model "$model_dir" --data "$DATA" --n "$N" \
    --batch-size "$BATCH" --threads "$THREADS" --max-length "$MAX_LENGTH")

echo "candle:                $ours"
echo "sentence-transformers: $peer"
"$PYTHON" - "$ours" "$peer" <<'PY'
import json, sys
ours, peer = (json.loads(a) for a in sys.argv[1:3])
ratio = ours["sentences_per_s"] / peer["sentences_per_s"]
print(json.dumps({"ratio_sentences_per_s": round(ratio, 2), "target": 1.0, "meets_target": ratio >= 1.0}))
PY
