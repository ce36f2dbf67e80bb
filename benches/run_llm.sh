#!/usr/bin/env bash
# Bullpen's llama.cpp provider vs the llama-cpp-python server: same GGUF, same threads,
# same prompts, one run. Starts the peer on PORT, runs benches/llm.rs, stops the peer.
#
#   benches/run_llm.sh                 # THREADS=2 PORT=8012
#
# Run on an otherwise idle machine. Built with the dev profile, whose dependencies
# (llama.cpp included) are compiled with full optimisation (see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
PORT=${PORT:-8012}
cargo bench --profile dev --bench llm --no-run >&2
model=$(cargo run -q -- models path smollm2-135m-instruct 2>/dev/null || true)
if [ -z "$model" ]; then cargo run -q -- models pull smollm2-135m-instruct >&2; model=$(cargo run -q -- models path smollm2-135m-instruct); fi
PEER_THREADS=$THREADS .ci/peer-server.sh start "$model" "$PORT" >&2
trap '.ci/peer-server.sh stop "$PORT" >&2' EXIT
cargo bench -q --profile dev --bench llm -- --peer-url "http://127.0.0.1:$PORT/v1" --model "$model" --threads "$THREADS" "$@"
