#!/usr/bin/env bash
# Embeddings/s of Bullpen's candle MiniLM provider vs sentence-transformers (PyTorch, CPU):
# same 1,000 Financial PhraseBank sentences, same model files, batch 64, same threads.
#
#   benches/run_embed.sh            # THREADS=2 N=1000 BATCH=64 DATA=... PROFILE=dev
#
# The Rust side is built with the dev profile: its dependencies (candle, gemm, tokenizers)
# are already compiled at opt-level 3 there (see Cargo.toml), which is where the time goes,
# and it avoids a cold release + thin-LTO build of the whole dependency tree. PROFILE=release
# (or bench) gives the release build. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-2}
N=${N:-1000}
BATCH=${BATCH:-64}
MAX_LENGTH=${MAX_LENGTH:-256}
PROFILE=${PROFILE:-dev}
DATA=${DATA:-../shared/data/eval/financial_phrasebank_Sentences_50Agree.txt}
PYTHON=${PYTHON:-python3}

cargo bench --profile "$PROFILE" --bench embed --no-run >&2
# The same thread count for candle's matmuls (rayon) and element-wise kernels.
ours=$(RAYON_NUM_THREADS=$THREADS CANDLE_NUM_THREADS=$THREADS \
    cargo bench -q --profile "$PROFILE" --bench embed -- \
    --data "$DATA" --n "$N" --batch-size "$BATCH" --max-length "$MAX_LENGTH")
model_dir=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["model_dir"])' "$ours")
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
